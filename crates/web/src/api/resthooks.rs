//! `/resthooks` (contract §5.6): an application key acting for one customer (`reapit-customer` header).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_service::{Principal, WebhookScope};

use super::paged;
use super::webhooks::list_query;
use crate::extract::{path_id, Auth, Body, Params};
use crate::{ApiError, AppState};

type Result<T> = std::result::Result<T, ApiError>;

async fn scope(s: &AppState, who: &Principal, headers: &HeaderMap) -> Result<WebhookScope> {
    let customer = headers.get("reapit-customer").and_then(|v| v.to_str().ok());
    Ok(WebhookScope::Customer(s.herald.resthook_customer(who, customer).await?))
}

pub async fn list(State(s): State<AppState>, Auth(who): Auth, headers: HeaderMap, params: Params) -> Result<Response> {
    let scope = scope(&s, &who, &headers).await?;
    let out = s.herald.list_webhooks(&who, &scope, &list_query(&params)).await?;
    Ok(paged("/resthooks", &params, out).into_response())
}

pub async fn create(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    let scope = scope(&s, &who, &headers).await?;
    let out = s.herald.create_webhook(&who, &scope, &body).await?;
    let location = format!("/resthooks/{}", out.webhook.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(out)).into_response())
}

pub async fn get(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let scope = scope(&s, &who, &headers).await?;
    Ok(Json(s.herald.get_webhook(&who, &scope, path_id(&id, "webhook")?).await?).into_response())
}

pub async fn update(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<StatusCode> {
    let scope = scope(&s, &who, &headers).await?;
    s.herald.update_webhook(&who, &scope, path_id(&id, "webhook")?, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let scope = scope(&s, &who, &headers).await?;
    s.herald.delete_webhook(&who, &scope, path_id(&id, "webhook")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
