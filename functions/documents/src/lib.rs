//! The documents Lambda: a partner's document references (contract §5.13–§5.16). The flows are
//! shared with communications in `shared::record_routes`.

use lambda_http::{Body, Request, Response};
use shared::domain::records::Document;
use shared::http::{idempotent, path_param, route_key, serve};
use shared::record_routes;
use shared::{ApiError, AppContext};

/// Serves one API Gateway request, exactly as Lambda calls it.
pub async fn handle(request: Request, ctx: &AppContext) -> Response<Body> {
    let route = route_key(&request);
    serve(&request, &route, async {
        let caller = shared::access::authorize(&request, ctx).await?;
        match route.as_str() {
            "GET /partnerships/partners/{partnerId}/documents" => {
                record_routes::list::<Document>(&request, ctx, &path_param(&request, "partnerId")?).await
            }
            "POST /partnerships/partners/{partnerId}/documents" => {
                let partner_id = path_param(&request, "partnerId")?;
                let create = record_routes::create::<Document>(&request, ctx, &partner_id, &caller.email);
                idempotent(&request, ctx, &caller.email, create).await
            }
            "PATCH /partnerships/partner-documents/{documentId}" => {
                record_routes::update::<Document>(&request, ctx, &path_param(&request, "documentId")?, &caller.email)
                    .await
            }
            "DELETE /partnerships/partner-documents/{documentId}" => {
                record_routes::delete::<Document>(&request, ctx, &path_param(&request, "documentId")?).await
            }
            _ => Err(ApiError::NoRoute(route.clone())),
        }
    })
    .await
}
