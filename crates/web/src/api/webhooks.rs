//! The webhook management API (contract §5): subscriptions, topics, ping, logs, signing keys and secrets.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_service::paging::page;
use herald_service::{LogQuery, WebhookListQuery, WebhookScope};

use super::paged;
use crate::extract::{path_id, Auth, Body, Params};
use crate::{ApiError, AppState};

type Result<T> = std::result::Result<T, ApiError>;

const ALL: WebhookScope = WebhookScope::All;

pub fn list_query(params: &Params) -> WebhookListQuery {
    WebhookListQuery {
        application_id: params.get("applicationId"),
        active: params.get("active"),
        page_number: params.get("pageNumber"),
        page_size: params.get("pageSize"),
        sort_by: params.get("sortBy"),
    }
}

pub async fn list(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response> {
    let out = s.herald.list_webhooks(&who, &ALL, &list_query(&params)).await?;
    Ok(paged("/webhooks/subscriptions", &params, out).into_response())
}

pub async fn create(State(s): State<AppState>, Auth(who): Auth, Body(body): Body) -> Result<Response> {
    let out = s.herald.create_webhook(&who, &ALL, &body).await?;
    let location = format!("/webhooks/subscriptions/{}", out.webhook.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(out)).into_response())
}

pub async fn get(State(s): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(s.herald.get_webhook(&who, &ALL, path_id(&id, "webhook")?).await?).into_response())
}

pub async fn update(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<StatusCode> {
    s.herald.update_webhook(&who, &ALL, path_id(&id, "webhook")?, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(State(s): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    s.herald.delete_webhook(&who, &ALL, path_id(&id, "webhook")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn ping(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response> {
    Ok(Json(s.herald.ping(&who, &ALL, path_id(&id, "webhook")?, &body).await?).into_response())
}

pub async fn secret(State(s): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(s.herald.webhook_secret(&who, &ALL, path_id(&id, "webhook")?).await?).into_response())
}

pub async fn rotate_secret(State(s): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(s.herald.rotate_secret(&who, &ALL, path_id(&id, "webhook")?).await?).into_response())
}

pub async fn list_topics(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response> {
    let p = page(params.str("pageNumber"), params.str("pageSize"))?;
    let app = herald_service::input::query_param(
        "applicationId",
        params.str("applicationId"),
        |v| v.parse().ok(),
        "an application id",
    )?;
    Ok(paged("/webhooks/topics", &params, s.herald.list_topics(&who, app, p).await?).into_response())
}

pub async fn get_topic(State(s): State<AppState>, Auth(_who): Auth, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(s.herald.get_topic(&id)?).into_response())
}

pub async fn logs(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response> {
    let q = LogQuery {
        application_id: params.get("applicationId"),
        from: params.get("from"),
        to: params.get("to"),
        topic_id: params.get("topicId"),
        entity_id: params.get("entityId"),
        event_id: params.get("eventId"),
        webhook_id: params.get("webhookId"),
        customer_id: params.get("customerId"),
        delivery_id: params.get("deliveryId"),
        status: params.get("status"),
        limit: params.get("limit"),
    };
    Ok(Json(s.herald.list_logs(&who, &q).await?).into_response())
}

pub async fn signing_keys(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response> {
    let app = herald_service::input::query_param(
        "applicationId",
        params.str("applicationId"),
        |v| v.parse().ok(),
        "an application id",
    )?;
    Ok(Json(s.herald.signing_keys(&who, app).await?).into_response())
}

pub async fn redeliver(State(s): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> Result<Response> {
    let out = s.herald.redeliver(&who, path_id(&id, "delivery")?).await?;
    Ok((StatusCode::ACCEPTED, Json(out)).into_response())
}
