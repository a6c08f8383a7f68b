//! One campaign email as SES gets it: a multipart text + HTML message with a `List-Unsubscribe`
//! header and footer link, sent with SendRawEmail at the account's send rate, throttled sends
//! retried with capped, jittered backoff.

use std::time::Duration;

use aws_sdk_ses::error::ProvideErrorMetadata;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::RawMessage;
use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::url::URL;
use shared::domain::mass_email::{RenderedEmail, Sender, text_to_html};
use shared::retry::Backoff;

/// Attempts of one send while SES throttles it.
const SEND_ATTEMPTS: u32 = 6;

/// One email to build.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub sender: &'a Sender,
    pub to: &'a str,
    pub email: &'a RenderedEmail,
    pub unsubscribe_url: &'a str,
    pub campaign_id: &'a str,
}

/// The footer every campaign email ends with.
fn footer(unsubscribe_url: &str) -> String {
    format!(
        "\n\n--\nYou received this email from our partnerships team. To stop receiving these emails, unsubscribe: {unsubscribe_url}"
    )
}

/// The MIME message (RFC 5322) of `outgoing`: the HTML part is the text part escaped, so a
/// template can never inject markup.
pub fn build_message(outgoing: &Outgoing<'_>) -> Result<Vec<u8>, std::io::Error> {
    let text = format!("{}{}", outgoing.email.body, footer(outgoing.unsubscribe_url));
    let html = format!(
        "<!doctype html><html><body><div style=\"font-family:sans-serif;white-space:normal\">{}</div><hr><p style=\"font-size:12px;color:#666\">You received this email from our partnerships team. <a href=\"{}\">Unsubscribe</a></p></body></html>",
        text_to_html(&outgoing.email.body),
        text_to_html(outgoing.unsubscribe_url),
    );
    let from = if outgoing.sender.full_name.is_empty() {
        mail_builder::headers::address::Address::new_address(None::<&str>, outgoing.sender.email.as_str())
    } else {
        mail_builder::headers::address::Address::new_address(
            Some(outgoing.sender.full_name.as_str()),
            outgoing.sender.email.as_str(),
        )
    };
    MessageBuilder::new()
        .from(from)
        .reply_to(outgoing.sender.email.as_str())
        .to(outgoing.to)
        .subject(outgoing.email.subject.as_str())
        .header("List-Unsubscribe", URL::new(outgoing.unsubscribe_url))
        .header("List-Unsubscribe-Post", Raw::new("List-Unsubscribe=One-Click"))
        .header("X-Partnerships-Campaign", Raw::new(outgoing.campaign_id))
        .text_body(text)
        .html_body(html)
        .write_to_vec()
}

/// Why a send failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// SES's message, shown to the user on the recipient's line.
    pub message: String,
}

/// Whether SES refused for rate (retry) rather than for the message or the daily quota.
fn is_rate_throttle<E: ProvideErrorMetadata>(err: &E) -> bool {
    matches!(
        err.code(),
        Some("Throttling" | "ThrottlingException" | "TooManyRequestsException")
    ) && !err.message().unwrap_or_default().to_ascii_lowercase().contains("daily")
}

/// Sends `raw` from `source`, retrying throttled attempts with [`Backoff::SENDS`]; the SES
/// message id on success.
pub async fn send_raw(ses: &aws_sdk_ses::Client, source: &str, raw: Vec<u8>) -> Result<String, SendFailure> {
    let message = RawMessage::builder()
        .data(Blob::new(raw))
        .build()
        .map_err(|e| SendFailure { message: e.to_string() })?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match ses
            .send_raw_email()
            .source(source)
            .raw_message(message.clone())
            .send()
            .await
        {
            Ok(out) => return Ok(out.message_id().to_string()),
            Err(err) => {
                let service = err.as_service_error();
                if attempt < SEND_ATTEMPTS && service.is_some_and(is_rate_throttle) {
                    tracing::info!(attempt, "SES throttled a send; backing off");
                    Backoff::SENDS.wait(attempt).await;
                    continue;
                }
                let message = service
                    .and_then(|e| e.message().map(str::to_string))
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "SES rejected this recipient send attempt.".to_string());
                tracing::warn!(error = %shared::error::error_chain(&err), "SES send failed");
                return Err(SendFailure { message });
            }
        }
    }
}

/// The gap between two sends at the account's maximum send rate (GetSendQuota); one second
/// (the sandbox rate) when the quota cannot be read.
pub async fn send_interval(ses: &aws_sdk_ses::Client) -> Duration {
    let rate = match ses.get_send_quota().send().await {
        Ok(quota) => quota.max_send_rate(),
        Err(err) => {
            tracing::warn!(error = %shared::error::error_chain(&err), "GetSendQuota failed; pacing at 1 email/s");
            1.0
        }
    };
    if rate.is_finite() && rate > 0.0 {
        Duration::from_secs_f64(1.0 / rate)
    } else {
        Duration::from_secs(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_multipart_with_an_unsubscribe_header_and_escaped_html() {
        let sender = Sender {
            email: "mary@example.org".into(),
            first_name: "Mary".into(),
            last_name: "Smith".into(),
            full_name: "Mary Smith".into(),
        };
        let email = RenderedEmail {
            subject: "Hello Acme".into(),
            body: "Hi <Jo> & team".into(),
        };
        let raw = build_message(&Outgoing {
            sender: &sender,
            to: "jo@acme.com",
            email: &email,
            unsubscribe_url: "https://api.x/partnerships/email/unsubscribe?token=a.b",
            campaign_id: "c1",
        })
        .unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(
            text.contains("List-Unsubscribe: <https://api.x/partnerships/email/unsubscribe?token=a.b>"),
            "{text}"
        );
        assert!(text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(text.contains("multipart/alternative"));
        assert!(text.contains("Hi &lt;Jo&gt; &amp; team"));
        assert!(text.contains("Reply-To: <mary@example.org>"));
    }
}
