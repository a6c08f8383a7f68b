//! The communications Lambda: a partner's communication timeline (contract §5.17). The flows are
//! shared with documents in `shared::record_routes`.

use lambda_http::{Body, Request, Response};
use shared::domain::records::Communication;
use shared::http::{idempotent, path_param, route_key, serve};
use shared::record_routes;
use shared::{ApiError, AppContext};

/// Serves one API Gateway request, exactly as Lambda calls it.
pub async fn handle(request: Request, ctx: &AppContext) -> Response<Body> {
    let route = route_key(&request);
    serve(&request, &route, async {
        let caller = shared::access::authorize(&request, ctx).await?;
        match route.as_str() {
            "GET /partnerships/partners/{partnerId}/communications" => {
                record_routes::list::<Communication>(&request, ctx, &path_param(&request, "partnerId")?).await
            }
            "POST /partnerships/partners/{partnerId}/communications" => {
                let partner_id = path_param(&request, "partnerId")?;
                let create = record_routes::create::<Communication>(&request, ctx, &partner_id, &caller.email);
                idempotent(&request, ctx, &caller.email, create).await
            }
            "PATCH /partnerships/partner-communications/{communicationId}" => {
                record_routes::update::<Communication>(
                    &request,
                    ctx,
                    &path_param(&request, "communicationId")?,
                    &caller.email,
                )
                .await
            }
            "DELETE /partnerships/partner-communications/{communicationId}" => {
                record_routes::delete::<Communication>(&request, ctx, &path_param(&request, "communicationId")?).await
            }
            _ => Err(ApiError::NoRoute(route.clone())),
        }
    })
    .await
}
