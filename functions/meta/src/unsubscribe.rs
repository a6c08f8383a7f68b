//! The unsubscribe link every campaign email carries: a token that names the address and is
//! signed with HMAC-SHA256, so it cannot be guessed or forged for another address. Following
//! it shows a confirmation page (link scanners only GET); confirming, or a mail client's
//! one-click POST (RFC 8058), puts the address on the suppression list.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use hmac::{Hmac, Mac};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use sha2::Sha256;
use shared::domain::mass_email::text_to_html;
use shared::domain::normalize::iso_millis;
use shared::http::query_params;
use shared::{ApiError, ApiResult};

use crate::Services;

/// The route recipients follow.
pub const PATH: &str = "/partnerships/email/unsubscribe";

fn mac(secret: &[u8], email: &str) -> Hmac<Sha256> {
    // A key of any length is valid for HMAC.
    let mut mac = crate::hmac_sha256(secret);
    mac.update(b"partnerships-unsubscribe\n");
    mac.update(email.as_bytes());
    mac
}

/// The token for `email` (lower-cased): `<address>.<signature>`, both base64url.
pub fn token(secret: &[u8], email: &str) -> String {
    let email = email.trim().to_lowercase();
    let signature = mac(secret, &email).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(email.as_bytes()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// The address a token names, if its signature is valid (compared in constant time).
pub fn verify(secret: &[u8], token: &str) -> Option<String> {
    let (address, signature) = token.trim().split_once('.')?;
    let email = String::from_utf8(URL_SAFE_NO_PAD.decode(address).ok()?).ok()?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    mac(secret, &email).verify_slice(&signature).ok()?;
    Some(email)
}

/// The link for `email` under `base_url`.
pub fn link(base_url: &str, secret: &[u8], email: &str) -> String {
    format!("{base_url}{PATH}?token={}", token(secret, email))
}

fn html_page(status: StatusCode, title: &str, body_html: &str) -> Response<Body> {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head><body style=\"font-family:sans-serif;max-width:36em;margin:3em auto\"><h1>{title}</h1>{body_html}</body></html>"
    );
    let mut response = Response::new(Body::Text(page));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The address of the request's `token`, or a 400 for a link that is not ours.
fn address_of(request: &Request, services: &Services) -> ApiResult<(String, String)> {
    let secret = services
        .settings
        .signing_secret
        .as_deref()
        .ok_or_else(|| ApiError::NotConfigured("Unsubscribe links are not configured.".into()))?;
    let raw = query_params(request).get("token").cloned().unwrap_or_default();
    let email = verify(secret, &raw).ok_or_else(|| {
        ApiError::validation(
            "This unsubscribe link is invalid. Reply to the email to be removed instead.",
            serde_json::json!({}),
        )
    })?;
    Ok((email, raw))
}

/// GET: asks to confirm, so a link scanner following it unsubscribes no one.
pub fn page(request: &Request, services: &Services) -> ApiResult<Response<Body>> {
    let (email, raw) = address_of(request, services)?;
    let form = format!(
        "<p>Stop emails from our partnerships team to <strong>{}</strong>?</p><form method=\"post\" action=\"{PATH}?token={}\"><button type=\"submit\">Unsubscribe</button></form>",
        text_to_html(&email),
        text_to_html(&raw)
    );
    Ok(html_page(StatusCode::OK, "Unsubscribe", &form))
}

/// POST (the confirmation, or a one-click unsubscribe): suppresses the address.
pub async fn confirm(request: &Request, services: &Services) -> ApiResult<Response<Body>> {
    let (email, _) = address_of(request, services)?;
    services
        .ctx
        .store
        .suppress(&email, "unsubscribed", &iso_millis(Utc::now()))
        .await?;
    tracing::info!("an address unsubscribed");
    Ok(html_page(
        StatusCode::OK,
        "You are unsubscribed",
        &format!(
            "<p><strong>{}</strong> will not receive these emails again.</p>",
            text_to_html(&email)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_address_and_cannot_be_forged() {
        let t = token(b"secret", " Ann@Acme.com ");
        assert_eq!(verify(b"secret", &t).as_deref(), Some("ann@acme.com"));
        assert_eq!(verify(b"other", &t), None, "another key");
        let (_, signature) = t.split_once('.').unwrap();
        let forged = format!("{}.{signature}", URL_SAFE_NO_PAD.encode("bob@acme.com"));
        assert_eq!(verify(b"secret", &forged), None, "another address");
        assert_eq!(verify(b"secret", "garbage"), None);
        assert!(
            link("https://api.x", b"k", "a@b.co").starts_with("https://api.x/partnerships/email/unsubscribe?token=")
        );
    }
}
