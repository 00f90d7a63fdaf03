//! `/resthooks` (contract §5.6): an application key acting for one customer (`reapit-customer` header).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_service::{Principal, ResthookIn, ResthookPatch, WebhookScope};

use herald_service::models::{WebhookCreatedOut, WebhookOut};

use super::params::{PageParams, ResthookListParams};
use super::webhooks::list_query;
use super::{paged, PageModel};
use crate::error::ErrorModel;
use crate::error::{BadRequest, NotFound, PayloadTooLarge, ValidationFailed};
use crate::extract::{path_id, Auth, JsonIn, Params, PathParam};
use crate::{ApiError, AppState};

type Result<T> = std::result::Result<T, ApiError>;

async fn scope(s: &AppState, who: &Principal, headers: &HeaderMap) -> Result<WebhookScope> {
    let customer = headers.get("reapit-customer").and_then(|v| v.to_str().ok());
    Ok(WebhookScope::Customer(s.herald.resthook_customer(who, customer).await?))
}

/// The application's webhooks for this customer alone (`customerIds` exactly `[customer]`).
#[utoipa::path(
    get,
    path = "/resthooks",
    operation_id = "listResthooks",
    tag = "resthooks",
    params(("reapit-customer" = String, Header, description = "The customer the key acts for: `SBOX` or a customer with a current installation of the application."), ResthookListParams, PageParams),
    responses(
        (status = 200, description = "A page of webhooks.", body = PageModel<WebhookOut>),
        (status = 400, response = BadRequest),
        (status = 403, body = ErrorModel, description = "The admin token, no `reapit-customer`, or a customer without a current installation."),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn list(State(s): State<AppState>, Auth(who): Auth, headers: HeaderMap, params: Params) -> Result<Response> {
    let scope = scope(&s, &who, &headers).await?;
    let out = s.herald.list_webhooks(&who, &scope, &list_query(&params)).await?;
    Ok(paged("/resthooks", &params, out).into_response())
}

/// Creates a webhook of the key's application for this customer.
#[utoipa::path(
    post,
    path = "/resthooks",
    operation_id = "createResthook",
    tag = "resthooks",
    params(("reapit-customer" = String, Header, description = "The customer the key acts for: `SBOX` or a customer with a current installation of the application.")),
    request_body = ResthookIn,
    responses(
        (status = 201, description = "The webhook, with its signing secret.", body = WebhookCreatedOut,
            headers(("Location" = String, description = "`/resthooks/{id}`"))),
        (status = 400, response = BadRequest),
        (status = 403, body = ErrorModel, description = "The admin token, no `reapit-customer`, or a customer without a current installation."),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn create(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    JsonIn(input): JsonIn<ResthookIn>,
) -> Result<Response> {
    let scope = scope(&s, &who, &headers).await?;
    let out = s.herald.create_webhook(&who, &scope, input.into()).await?;
    let location = format!("/resthooks/{}", out.webhook.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(out)).into_response())
}

/// One webhook of this customer.
#[utoipa::path(
    get,
    path = "/resthooks/{id}",
    operation_id = "getResthook",
    tag = "resthooks",
    params(("reapit-customer" = String, Header, description = "The customer the key acts for: `SBOX` or a customer with a current installation of the application."), ("id" = String, Path, description = "The webhook's id.")),
    responses(
        (status = 200, description = "The webhook.", body = WebhookOut),
        (status = 400, response = BadRequest),
        (status = 403, body = ErrorModel, description = "The admin token, no `reapit-customer`, or a customer without a current installation."),
        (status = 404, response = NotFound),
    )
)]
pub async fn get(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    PathParam(id): PathParam,
) -> Result<Response> {
    let scope = scope(&s, &who, &headers).await?;
    Ok(Json(s.herald.get_webhook(&who, &scope, path_id(&id, "webhook")?).await?).into_response())
}

/// Replaces the settings of a webhook of this customer.
#[utoipa::path(
    put,
    path = "/resthooks/{id}",
    operation_id = "updateResthook",
    tag = "resthooks",
    params(("reapit-customer" = String, Header, description = "The customer the key acts for: `SBOX` or a customer with a current installation of the application."), ("id" = String, Path, description = "The webhook's id.")),
    request_body = ResthookPatch,
    responses(
        (status = 204, description = "Updated."),
        (status = 400, response = BadRequest),
        (status = 403, body = ErrorModel, description = "The admin token, no `reapit-customer`, or a customer without a current installation."),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn update(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    PathParam(id): PathParam,
    JsonIn(input): JsonIn<ResthookPatch>,
) -> Result<StatusCode> {
    let scope = scope(&s, &who, &headers).await?;
    s.herald.update_webhook(&who, &scope, path_id(&id, "webhook")?, input.into()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a webhook of this customer.
#[utoipa::path(
    delete,
    path = "/resthooks/{id}",
    operation_id = "deleteResthook",
    tag = "resthooks",
    params(("reapit-customer" = String, Header, description = "The customer the key acts for: `SBOX` or a customer with a current installation of the application."), ("id" = String, Path, description = "The webhook's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = BadRequest),
        (status = 403, body = ErrorModel, description = "The admin token, no `reapit-customer`, or a customer without a current installation."),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    PathParam(id): PathParam,
) -> Result<StatusCode> {
    let scope = scope(&s, &who, &headers).await?;
    s.herald.delete_webhook(&who, &scope, path_id(&id, "webhook")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
