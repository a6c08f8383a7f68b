//! The scheduled mailbox pull (issue 12): every configured mailbox is read over IMAP from its
//! per-folder cursor (UIDVALIDITY + last UID, in the meta table), each new message parsed with
//! `mail-parser`, and the messages go through the same matching, dedupe and timeline writes as the
//! ingest route (`meta::sync::ingest_entries`). The cursor moves after each batch is written, so a
//! run cut short resumes where it stopped; a mailbox that fails is recorded in the status and the
//! others go on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_imap::Client;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mail_parser::{Address, MessageParser};
use serde::Deserialize;
use shared::domain::email_sync::{SyncEntry, SyncStats, extract_addresses};
use shared::domain::normalize::{iso_millis, truncate_chars};
use shared::store::email_sync::MailboxRun;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Messages fetched, parsed and written per round trip.
const BATCH: usize = 50;
/// Characters of a message's text kept as its summary (the stored cut of §7.2).
const SUMMARY_CHARS: usize = 2500;
/// Connecting and each IMAP command give up after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// How a mailbox logs in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "auth", rename_all = "lowercase")]
pub enum MailboxAuth {
    /// `LOGIN` with a password (any IMAP server; app passwords).
    Password { password: String },
    /// `AUTHENTICATE XOAUTH2` (Google Workspace, Microsoft 365): an access token fetched at each
    /// run with the OAuth refresh-token grant, or given as is.
    Xoauth2(OAuthCredentials),
}

/// Where an XOAUTH2 mailbox's access token comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OAuthCredentials {
    /// A ready access token (short-lived: for a one-off run).
    pub access_token: Option<String>,
    /// The provider's token endpoint, e.g. `https://oauth2.googleapis.com/token` or
    /// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`.
    pub token_url: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    /// Microsoft needs it (`https://outlook.office.com/IMAP.AccessAsUser.All offline_access`).
    pub scope: Option<String>,
}

/// One mailbox to pull, as `PARTNERSHIPS_MAILBOXES` (a JSON list, from Secrets Manager on AWS)
/// describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxConfig {
    /// The exec whose mailbox it is: the actor of its messages.
    pub owner: String,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// Implicit TLS (port 993). Off only for a server on loopback (tests, `make run`).
    #[serde(default = "default_tls")]
    pub tls: bool,
    pub username: String,
    #[serde(flatten)]
    pub auth: MailboxAuth,
    /// Folders to read, e.g. `INBOX` and `[Gmail]/Sent Mail`.
    #[serde(default = "default_folders")]
    pub folders: Vec<String>,
}

fn default_port() -> u16 {
    993
}
fn default_tls() -> bool {
    true
}
fn default_folders() -> Vec<String> {
    vec!["INBOX".into()]
}

/// Reads `PARTNERSHIPS_MAILBOXES` (empty = no mailbox).
pub fn mailboxes_from_json(raw: &str) -> Result<Vec<MailboxConfig>, serde_json::Error> {
    if raw.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(raw)
}

/// The SASL XOAUTH2 initial response (Google's and Microsoft's documented format).
pub fn xoauth2_response(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

struct XOAuth2(String);

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        std::mem::take(&mut self.0)
    }
}

/// The timeline entry a raw RFC 5322 message becomes, from `owner`'s mailbox.
pub fn entry_from_message(index: usize, raw: &[u8], internal_date: Option<DateTime<Utc>>) -> Option<SyncEntry> {
    let message = MessageParser::default().parse(raw)?;
    let addresses = |address: Option<&Address<'_>>| -> Vec<String> {
        let list: Vec<serde_json::Value> = address
            .into_iter()
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address.as_deref().map(|s| serde_json::Value::String(s.to_string())))
            .collect();
        extract_addresses(Some(&serde_json::Value::Array(list)))
    };
    let message_id = message.message_id().map(|id| id.trim_matches(['<', '>']).to_string());
    // The thread is named by its first message: the first of References, else In-Reply-To.
    let thread_id = message
        .references()
        .as_text_list()
        .and_then(|l| l.first().map(|s| s.to_string()))
        .or_else(|| message.references().as_text().map(str::to_string))
        .or_else(|| message.in_reply_to().as_text().map(str::to_string))
        .or_else(|| message_id.clone());
    let text = message
        .body_text(0)
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let occurred_at = message
        .date()
        .and_then(|d| DateTime::<Utc>::from_timestamp(d.to_timestamp(), 0))
        .or(internal_date);
    Some(SyncEntry {
        index,
        subject: truncate_chars(message.subject().unwrap_or_default().trim(), 180).to_string(),
        summary: truncate_chars(&text, SUMMARY_CHARS).to_string(),
        from: addresses(message.from()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        bcc: addresses(message.bcc()),
        actor: None,
        message_id: message_id
            .filter(|id| !id.is_empty())
            .map(|id| truncate_chars(&id, 240).to_string()),
        thread_id: thread_id.map(|t| truncate_chars(t.trim_matches(['<', '>']), 240).to_string()),
        provider: "imap".into(),
        source_method: "imap_pull".into(),
        occurred_at,
        labelled_direction: None,
        event_id: None,
    })
}

/// Why a mailbox could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("could not connect to {0}: {1}")]
    Connect(String, String),
    #[error("login refused: {0}")]
    Login(String),
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out talking to the server")]
    Timeout,
    #[error("storing: {0}")]
    Store(String),
    #[error("OAuth token refresh failed: {0}")]
    OAuth(String),
}

async fn timed<T, E: Into<PullError>>(f: impl std::future::Future<Output = Result<T, E>>) -> Result<T, PullError> {
    match tokio::time::timeout(IO_TIMEOUT, f).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(PullError::Timeout),
    }
}

/// What pulling one mailbox did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullReport {
    pub stats: SyncStats,
    pub unmatched_emails: Vec<String>,
    pub errors: Vec<serde_json::Value>,
    /// Whether every folder was read to its end (false when the deadline came first).
    pub complete: bool,
}

async fn pull_session<T>(
    services: &meta::Services,
    config: &MailboxConfig,
    client: Client<T>,
    deadline: Instant,
) -> Result<PullReport, PullError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut session = match &config.auth {
        MailboxAuth::Password { password } => {
            timed(async {
                client
                    .login(&config.username, password)
                    .await
                    .map_err(|(e, _)| PullError::Login(e.to_string()))
            })
            .await?
        }
        MailboxAuth::Xoauth2(credentials) => {
            let token = access_token(credentials).await?;
            timed(async {
                client
                    .authenticate("XOAUTH2", XOAuth2(xoauth2_response(&config.username, &token)))
                    .await
                    .map_err(|(e, _)| PullError::Login(e.to_string()))
            })
            .await?
        }
    };
    let store = &services.ctx.store;
    let owner = config.owner.to_lowercase();
    let mut report = PullReport {
        complete: true,
        ..Default::default()
    };
    'folders: for folder in &config.folders {
        let selected = timed(session.select(folder)).await?;
        let validity = selected.uid_validity.unwrap_or(0);
        let cursor = store
            .imap_cursor(&owner, folder)
            .await
            .map_err(|e| PullError::Store(e.to_string()))?;
        // A renumbered folder (new UIDVALIDITY) is read again from the start.
        let mut last_uid = cursor.filter(|c| c.uid_validity == validity).map_or(0, |c| c.last_uid);
        // `n:*` always answers the last message, even when it is older than `n`.
        let found = timed(session.uid_search(format!("UID {}:*", last_uid.saturating_add(1)))).await?;
        let mut uids: Vec<u32> = found.into_iter().filter(|uid| *uid > last_uid).collect();
        uids.sort_unstable();
        for batch in uids.chunks(BATCH) {
            if Instant::now() >= deadline {
                report.complete = false;
                break 'folders;
            }
            let set = batch.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let fetched: Vec<async_imap::types::Fetch> = timed(async {
                session
                    .uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
            let mut messages: Vec<(u32, Vec<u8>, Option<DateTime<Utc>>)> = fetched
                .iter()
                .filter_map(|f| {
                    Some((
                        f.uid?,
                        f.body()?.to_vec(),
                        f.internal_date().map(|d| d.with_timezone(&Utc)),
                    ))
                })
                .collect();
            messages.sort_by_key(|(uid, _, _)| *uid);
            let entries: Vec<SyncEntry> = messages
                .iter()
                .enumerate()
                .filter_map(|(i, (_, raw, date))| entry_from_message(i, raw, *date))
                .collect();
            report.stats.skipped += (messages.len() - entries.len()) as u64;
            let outcome = meta::sync::ingest_entries(services, &owner, true, &entries)
                .await
                .map_err(|e| PullError::Store(e.to_string()))?;
            report.stats.add(&outcome.stats);
            for email in outcome.unmatched_emails {
                if !report.unmatched_emails.contains(&email) && report.unmatched_emails.len() < 25 {
                    report.unmatched_emails.push(email);
                }
            }
            let room = 15usize.saturating_sub(report.errors.len());
            report.errors.extend(outcome.errors.into_iter().take(room));
            last_uid = batch.last().copied().unwrap_or(last_uid);
            // The batch is written: a later run starts after it.
            store
                .save_imap_cursor(&owner, folder, validity, last_uid)
                .await
                .map_err(|e| PullError::Store(e.to_string()))?;
        }
    }
    let _ = timed(session.logout()).await;
    Ok(report)
}

/// The access token of an XOAUTH2 mailbox: the given one, or a fresh one from the provider's
/// token endpoint by the refresh-token grant (RFC 6749 §6, as Google and Microsoft document it).
pub async fn access_token(credentials: &OAuthCredentials) -> Result<String, PullError> {
    if let Some(token) = credentials.access_token.as_ref().filter(|t| !t.is_empty()) {
        return Ok(token.clone());
    }
    let url = credentials
        .token_url
        .as_deref()
        .ok_or_else(|| PullError::OAuth("no accessToken and no tokenUrl".into()))?;
    // Built before any await: the serializer is not Send.
    let form = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "refresh_token")
            .append_pair("client_id", &credentials.client_id)
            .append_pair("client_secret", &credentials.client_secret)
            .append_pair("refresh_token", &credentials.refresh_token);
        if let Some(scope) = &credentials.scope {
            form.append_pair("scope", scope);
        }
        form.finish()
    };
    let (status, body) = shared::https::request(
        http::Method::POST,
        url,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", "application/json"),
        ],
        form.into_bytes(),
    )
    .await
    .map_err(|e| PullError::OAuth(e.to_string()))?;
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    match answer["access_token"].as_str() {
        Some(token) if status.is_success() => Ok(token.to_string()),
        _ => Err(PullError::OAuth(
            answer["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}")),
        )),
    }
}

fn tls_config() -> Arc<tokio_rustls::rustls::ClientConfig> {
    let roots = tokio_rustls::rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Arc::new(
        tokio_rustls::rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Reads one mailbox until `deadline`.
pub async fn pull_mailbox(
    services: &meta::Services,
    config: &MailboxConfig,
    deadline: Instant,
) -> Result<PullReport, PullError> {
    let address = format!("{}:{}", config.host, config.port);
    let tcp = timed(async {
        TcpStream::connect(&address)
            .await
            .map_err(|e| PullError::Connect(address.clone(), e.to_string()))
    })
    .await?;
    if !config.tls {
        let mut client = Client::new(tcp);
        timed(async { client.read_response().await.map_err(PullError::from) }).await?;
        return pull_session(services, config, client, deadline).await;
    }
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(config.host.clone())
        .map_err(|e| PullError::Connect(address.clone(), e.to_string()))?;
    let tls = timed(async {
        tokio_rustls::TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await
            .map_err(|e| PullError::Connect(address.clone(), e.to_string()))
    })
    .await?;
    let mut client = Client::new(tls);
    timed(async { client.read_response().await.map_err(PullError::from) }).await?;
    pull_session(services, config, client, deadline).await
}

/// What a scheduled run did, per mailbox.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    pub mailboxes: Vec<(String, Result<PullReport, String>)>,
}

/// Pulls every mailbox within `budget`, one after the other; each outcome (a failure too) goes
/// to the mailbox's status row, and a failing mailbox never stops the others.
pub async fn run(services: &meta::Services, mailboxes: &[MailboxConfig], budget: Duration) -> RunReport {
    let deadline = Instant::now() + budget;
    let mut report = RunReport::default();
    for config in mailboxes {
        let result = pull_mailbox(services, config, deadline).await;
        let run = match &result {
            Ok(pulled) => MailboxRun {
                mailbox: config.owner.to_lowercase(),
                kind: "imap".into(),
                at_iso: iso_millis(Utc::now()),
                status_code: if pulled.stats.errors > 0 { 207 } else { 200 },
                stats: pulled.stats,
                unmatched_emails: pulled.unmatched_emails.clone(),
                errors: pulled.errors.clone(),
                failure: None,
            },
            Err(e) => {
                tracing::error!(mailbox = %config.owner, error = %e, "mailbox pull failed");
                MailboxRun {
                    mailbox: config.owner.to_lowercase(),
                    kind: "imap".into(),
                    at_iso: iso_millis(Utc::now()),
                    status_code: 502,
                    stats: SyncStats::default(),
                    unmatched_emails: Vec::new(),
                    errors: Vec::new(),
                    failure: Some(e.to_string()),
                }
            }
        };
        if let Err(e) = services.ctx.store.record_mailbox_run(&run).await {
            tracing::error!(mailbox = %config.owner, error = %shared::error::error_chain(&e), "could not record the mailbox's status");
        }
        report
            .mailboxes
            .push((config.owner.clone(), result.map_err(|e| e.to_string())));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_configs_parse_with_defaults() {
        let list = mailboxes_from_json(
            r#"[{"owner": "me@x.org", "host": "imap.gmail.com", "username": "me@x.org", "auth": "xoauth2", "accessToken": "t", "folders": ["INBOX", "[Gmail]/Sent Mail"]},
                {"owner": "you@x.org", "host": "127.0.0.1", "port": 1143, "tls": false, "username": "you", "auth": "password", "password": "p"}]"#,
        )
        .unwrap();
        assert_eq!(list[0].port, 993);
        assert!(list[0].tls);
        assert_eq!(
            list[0].auth,
            MailboxAuth::Xoauth2(OAuthCredentials {
                access_token: Some("t".into()),
                ..Default::default()
            })
        );
        assert_eq!(list[1].folders, vec!["INBOX"]);
        assert!(mailboxes_from_json(" ").unwrap().is_empty());
    }

    #[test]
    fn xoauth2_follows_the_documented_format() {
        assert_eq!(
            xoauth2_response("a@b.co", "tok"),
            "user=a@b.co\x01auth=Bearer tok\x01\x01"
        );
    }

    #[test]
    fn a_message_becomes_an_entry() {
        let raw = b"From: =?utf-8?q?J=C3=B6_Lee?= <Jo@Acme.com>\r\nTo: Me <me@example.org>, b@beta.com\r\nCc: c@gamma.com\r\nSubject: =?utf-8?b?UmU6IFNwb25zb3JzaGlw?=\r\nMessage-ID: <m1@acme.com>\r\nReferences: <t0@example.org> <m0@acme.com>\r\nDate: Mon, 30 Nov 2026 15:04:05 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHappy  to\r\nsponsor.\r\n";
        let e = entry_from_message(0, raw, None).unwrap();
        assert_eq!(e.from, vec!["jo@acme.com"]);
        assert_eq!(e.to, vec!["me@example.org", "b@beta.com"]);
        assert_eq!(e.cc, vec!["c@gamma.com"]);
        assert_eq!(e.subject, "Re: Sponsorship");
        assert_eq!(e.message_id.as_deref(), Some("m1@acme.com"));
        assert_eq!(e.thread_id.as_deref(), Some("t0@example.org"));
        assert_eq!(e.summary, "Happy to sponsor.");
        assert_eq!(
            e.occurred_at.map(iso_millis).as_deref(),
            Some("2026-11-30T15:04:05.000Z")
        );
    }
}
