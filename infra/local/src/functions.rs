//! The function binaries the template names, called in-process exactly as Lambda would call them.

use lambda_http::{Body, Request, Response};
use shared::AppContext;

/// Binaries the local stack can serve; the gateway refuses to start if the template names another.
pub const KNOWN_BINARIES: &[&str] = &["partners", "events", "links", "documents", "communications", "reports"];

/// Calls the handler of `binary`; `None` for an unknown binary.
pub async fn dispatch(binary: &str, request: Request, ctx: &AppContext) -> Option<Response<Body>> {
    match binary {
        "partners" => Some(partners::handle(request, ctx).await),
        "events" => Some(events::handle(request, ctx).await),
        "links" => Some(links::handle(request, ctx).await),
        "documents" => Some(documents::handle(request, ctx).await),
        "communications" => Some(communications::handle(request, ctx).await),
        "reports" => Some(reports::handle(request, ctx).await),
        _ => None,
    }
}
