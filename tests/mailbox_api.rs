//! The scheduled mailbox pull (issue 12) against the real IMAP server `make test` starts
//! (Dovecot) and DynamoDB Local: real MIME messages in, timeline entries out, once each.

use std::time::Duration;

use futures::TryStreamExt;
use integration_tests::TestApi;
use mailbox::{MailboxAuth, MailboxConfig};
use serde_json::json;

const OWNER: &str = "exec@example.org";
const PASSWORD: &str = "test-imap-pass";

fn imap_port() -> u16 {
    std::env::var("PARTNERSHIPS_TEST_IMAP_PORT")
        .expect("`make test` starts Dovecot")
        .parse()
        .unwrap()
}

/// A folder of this test's own on the shared server.
fn folder() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

fn config(folder: &str, password: &str) -> MailboxConfig {
    MailboxConfig {
        owner: OWNER.into(),
        host: "127.0.0.1".into(),
        port: imap_port(),
        tls: false,
        username: OWNER.into(),
        auth: MailboxAuth::Password {
            password: password.into(),
        },
        folders: vec![folder.into()],
    }
}

async fn session() -> async_imap::Session<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", imap_port()))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    client.login(OWNER, PASSWORD).await.map_err(|(e, _)| e).unwrap()
}

/// Puts raw messages into `folder` (created if new), as a mail server delivering them would.
async fn deliver(folder: &str, messages: &[&str]) {
    let mut s = session().await;
    let _ = s.create(folder).await;
    for raw in messages {
        s.append(folder, None, None, raw.replace('\n', "\r\n")).await.unwrap();
    }
    s.logout().await.unwrap();
}

/// Deletes and recreates `folder` with `messages`: the server gives it a new UIDVALIDITY.
async fn recreate(folder: &str, messages: &[&str]) {
    let mut s = session().await;
    s.delete(folder).await.unwrap();
    s.logout().await.unwrap();
    deliver(folder, messages).await;
    let mut s = session().await;
    let selected = s.select(folder).await.unwrap();
    assert!(selected.uid_validity.is_some());
    let _: Vec<_> = s.uid_fetch("1:*", "UID").await.unwrap().try_collect().await.unwrap();
    s.logout().await.unwrap();
}

async fn pull(api: &TestApi, configs: &[MailboxConfig]) -> mailbox::RunReport {
    mailbox::run(
        api.functions.mail("mailbox-sync").unwrap(),
        configs,
        Duration::from_secs(60),
    )
    .await
}

const PLAIN: &str = "From: Jo Lee <jo@acme-imap.com>
To: Exec <exec@example.org>
Subject: Sponsorship for Blueprint
Message-ID: <plain-1@acme-imap.com>
Date: Mon, 30 Nov 2026 15:04:05 +0000
Content-Type: text/plain; charset=utf-8

Hi, we would like to sponsor Blueprint again.
";

const MULTIPART_ENCODED: &str = "From: =?utf-8?q?Ren=C3=A9e_M=C3=BCller?= <renee@beta-imap.io>
To: exec@example.org
Subject: =?utf-8?b?QW5nZWJvdCDigJMgR29sZCBwYWNrYWdl?=
Message-ID: <multi-1@beta-imap.io>
Date: Tue, 01 Dec 2026 09:00:00 -0800
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=\"b1\"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Gr=C3=BC=C3=9Fe! The Gold package works for us.
--b1
Content-Type: text/html; charset=utf-8

<p>Gr&uuml;&szlig;e! The <b>Gold</b> package works for us.</p>
--b1--
";

const REPLY: &str = "From: exec@example.org
To: Jo Lee <jo@acme-imap.com>
Subject: Re: Sponsorship for Blueprint
Message-ID: <reply-1@example.org>
In-Reply-To: <plain-1@acme-imap.com>
References: <plain-1@acme-imap.com>
Date: Mon, 30 Nov 2026 16:00:00 +0000
Content-Type: text/plain; charset=utf-8

Wonderful, I will send the contract.
";

#[tokio::test]
async fn real_messages_are_pulled_onto_the_timelines_once() {
    let api = TestApi::new().await;
    let acme = api
        .create_partner_id(json!({"company": "Acme", "email": "jo@acme-imap.com"}))
        .await;
    let beta = api
        .create_partner_id(json!({"company": "Beta", "email": "renee@beta-imap.io"}))
        .await;
    let folder = folder();
    deliver(&folder, &[PLAIN, MULTIPART_ENCODED, REPLY]).await;
    let report = pull(&api, &[config(&folder, PASSWORD)]).await;
    let pulled = report.mailboxes[0].1.as_ref().expect("the mailbox was read");
    assert_eq!(pulled.stats.received, 3);
    assert_eq!(pulled.stats.imported, 3);
    assert!(pulled.complete);

    let acme_rows = api.timeline(&acme).await;
    assert_eq!(acme_rows.len(), 2);
    let inbound = acme_rows
        .iter()
        .find(|r| r["externalMessageId"] == "plain-1@acme-imap.com")
        .unwrap();
    assert_eq!(inbound["direction"], "inbound");
    assert_eq!(inbound["subject"], "Sponsorship for Blueprint");
    assert_eq!(inbound["summary"], "Hi, we would like to sponsor Blueprint again.");
    assert_eq!(inbound["recipientEmail"], OWNER);
    assert_eq!(inbound["sourceProvider"], "imap");
    assert_eq!(inbound["occurredAt"], "2026-11-30T15:04:05.000Z");
    let reply = acme_rows
        .iter()
        .find(|r| r["externalMessageId"] == "reply-1@example.org")
        .unwrap();
    assert_eq!(reply["direction"], "outbound", "the exec's own reply");
    assert_eq!(
        reply["externalThreadId"], "plain-1@acme-imap.com",
        "a reply joins its thread"
    );
    let beta_rows = api.timeline(&beta).await;
    assert_eq!(
        beta_rows[0]["subject"], "Angebot – Gold package",
        "encoded words decoded"
    );
    assert_eq!(
        beta_rows[0]["summary"], "Grüße! The Gold package works for us.",
        "the text part of a multipart message"
    );
    assert_eq!(beta_rows[0]["occurredAt"], "2026-12-01T17:00:00.000Z");

    // Nothing new: the cursor is past every message.
    let again = pull(&api, &[config(&folder, PASSWORD)]).await;
    assert_eq!(again.mailboxes[0].1.as_ref().unwrap().stats.received, 0);
    // The same message delivered a second time (a new UID) is one row still.
    deliver(&folder, &[PLAIN]).await;
    let twice = pull(&api, &[config(&folder, PASSWORD)]).await;
    let stats = twice.mailboxes[0].1.as_ref().unwrap().stats;
    assert_eq!((stats.received, stats.duplicates, stats.imported), (1, 1, 0));
    assert_eq!(api.timeline(&acme).await.len(), 2);

    let status = api.call("GET", "/partnerships/email/sync/status", None).await;
    let mailbox = status.body["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "imap")
        .unwrap()
        .clone();
    assert_eq!(mailbox["mailbox"], OWNER);
    assert_eq!(mailbox["stats"]["imported"], 3);
    assert_eq!(mailbox["lastStatusCode"], 200);
}

#[tokio::test]
async fn a_folder_renumbered_by_the_server_is_read_again_without_duplicates() {
    let api = TestApi::new().await;
    let acme = api
        .create_partner_id(json!({"company": "Acme", "email": "jo@acme-imap.com"}))
        .await;
    let folder = folder();
    deliver(&folder, &[PLAIN, REPLY]).await;
    pull(&api, &[config(&folder, PASSWORD)]).await;
    recreate(&folder, &[PLAIN, REPLY]).await;
    let report = pull(&api, &[config(&folder, PASSWORD)]).await;
    let stats = report.mailboxes[0].1.as_ref().unwrap().stats;
    assert_eq!(
        (stats.received, stats.duplicates, stats.imported),
        (2, 2, 0),
        "the new UIDVALIDITY resets the cursor"
    );
    assert_eq!(api.timeline(&acme).await.len(), 2);
}

#[tokio::test]
async fn a_failing_mailbox_is_recorded_and_never_stops_the_others() {
    let api = TestApi::new().await;
    let acme = api
        .create_partner_id(json!({"company": "Acme", "email": "jo@acme-imap.com"}))
        .await;
    let folder = folder();
    deliver(&folder, &[PLAIN]).await;
    let mut broken = config(&folder, "wrong-password");
    broken.owner = "someone@example.org".into();
    let report = pull(&api, &[broken, config(&folder, PASSWORD)]).await;
    assert!(report.mailboxes[0].1.is_err());
    assert!(report.mailboxes[1].1.is_ok());
    assert_eq!(api.timeline(&acme).await.len(), 1);
    let status = api.call("GET", "/partnerships/email/sync/status", None).await;
    let failed = status.body["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mailbox"] == "someone@example.org")
        .unwrap()
        .clone();
    assert_eq!(failed["lastStatusCode"], 502);
    assert!(
        failed["lastError"].as_str().unwrap().starts_with("login refused"),
        "{failed}"
    );
}

#[tokio::test]
async fn a_run_out_of_time_resumes_where_it_stopped() {
    let api = TestApi::new().await;
    api.create_partner(json!({"company": "Acme", "email": "jo@acme-imap.com"}))
        .await;
    let folder = folder();
    deliver(&folder, &[PLAIN, REPLY]).await;
    let services = api.functions.mail("mailbox-sync").unwrap();
    let cut = mailbox::run(services, &[config(&folder, PASSWORD)], Duration::ZERO).await;
    let first = cut.mailboxes[0].1.as_ref().unwrap();
    assert!(!first.complete);
    assert_eq!(first.stats.received, 0);
    let resumed = pull(&api, &[config(&folder, PASSWORD)]).await;
    assert_eq!(resumed.mailboxes[0].1.as_ref().unwrap().stats.imported, 2);
}

/// A fake OAuth provider on the port Dovecot introspects: the refresh-token grant at `/token`
/// (Google's documented request and answer) and token introspection at `/introspect`. It
/// accepts refresh token `good-refresh` only; the access tokens it issues are active for the
/// mailbox's owner. Answers every form it receives on the returned channel.
async fn fake_oauth_provider() -> tokio::sync::mpsc::UnboundedReceiver<(String, String)> {
    use http_body_util::BodyExt;
    let port: u16 = std::env::var("PARTNERSHIPS_TEST_OAUTH_PORT")
        .expect("`make test` names it")
        .parse()
        .unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the OAuth port is free");
    let (seen, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let path = request.uri().path().to_string();
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let form: std::collections::HashMap<String, String> =
                            form_urlencoded_pairs(&String::from_utf8_lossy(&body));
                        let _ = seen.send((path.clone(), String::from_utf8_lossy(&body).to_string()));
                        let (status, answer) = match path.as_str() {
                            "/token"
                                if form.get("grant_type").map(String::as_str) == Some("refresh_token")
                                    && form.get("refresh_token").map(String::as_str) == Some("good-refresh") =>
                            {
                                (
                                    200,
                                    json!({"access_token": "access-1", "expires_in": 3599, "scope": "https://mail.google.com/", "token_type": "Bearer"}),
                                )
                            }
                            "/token" => (
                                400,
                                json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
                            ),
                            _ => (
                                200,
                                json!({"active": form.get("token").map(String::as_str) == Some("access-1"), "email": OWNER}),
                            ),
                        };
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .header("content-type", "application/json")
                                .body(http_body_util::Full::new(hyper::body::Bytes::from(answer.to_string())))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    received
}

fn form_urlencoded_pairs(text: &str) -> std::collections::HashMap<String, String> {
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace('+', " ").replace("%40", "@")))
        .collect()
}

#[tokio::test]
async fn an_xoauth2_mailbox_gets_a_fresh_token_and_a_revoked_one_is_recorded() {
    let mut provider = fake_oauth_provider().await;
    let api = TestApi::new().await;
    let acme = api
        .create_partner_id(json!({"company": "Acme", "email": "jo@acme-imap.com"}))
        .await;
    let folder = folder();
    deliver(&folder, &[PLAIN]).await;
    let port = std::env::var("PARTNERSHIPS_TEST_OAUTH_PORT").unwrap();
    let oauth = |refresh: &str| MailboxConfig {
        auth: MailboxAuth::Xoauth2(mailbox::OAuthCredentials {
            token_url: Some(format!("http://127.0.0.1:{port}/token")),
            client_id: "client-1".into(),
            client_secret: "secret-1".into(),
            refresh_token: refresh.into(),
            ..Default::default()
        }),
        ..config(&folder, "unused")
    };
    let report = pull(&api, &[oauth("good-refresh")]).await;
    assert_eq!(report.mailboxes[0].1.as_ref().expect("XOAUTH2 login").stats.imported, 1);
    assert_eq!(api.timeline(&acme).await.len(), 1);
    let (path, form) = provider.recv().await.unwrap();
    assert_eq!(path, "/token");
    assert!(
        form.contains("grant_type=refresh_token")
            && form.contains("client_id=client-1")
            && form.contains("refresh_token=good-refresh"),
        "{form}"
    );
    let (path, form) = provider.recv().await.unwrap();
    assert_eq!(
        (path.as_str(), form.starts_with("token=access-1")),
        ("/introspect", true),
        "the server checked the fresh token"
    );

    let revoked = pull(&api, &[oauth("revoked-refresh")]).await;
    assert_eq!(
        revoked.mailboxes[0].1.as_ref().unwrap_err(),
        "OAuth token refresh failed: invalid_grant"
    );
}
