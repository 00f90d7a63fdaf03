//! The webhook management API (contract §5): subscriptions, topics, ping, logs, signing keys and secrets.

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_service::paging::page;
use herald_service::{
    AnalyticsQuery, FilterTestIn, FilterTestOut, LogQuery, PingIn, ReplayIn, WebhookIn, WebhookListQuery, WebhookPatch,
    WebhookScope,
};

use herald_service::models::{LogOut, PingOut, SecretOut, SigningKeysOut, TopicOut, WebhookCreatedOut, WebhookOut};
use herald_service::RedeliverOut;
use herald_service::{CountOut, ReplayOut};

use super::params::{ApplicationParam, PageParams, WebhookListParams};
use super::{paged, PageModel};
use crate::error::ErrorModel;
use crate::error::{BadRequest, NotFound, PayloadTooLarge, ValidationFailed};
use crate::extract::{path_id, Auth, JsonIn, Params, PathParam};
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

/// Webhooks, oldest first unless `sortBy` says otherwise.
#[utoipa::path(
    get,
    path = "/webhooks/subscriptions",
    operation_id = "listWebhooks",
    tag = "webhooks",
    params(WebhookListParams, PageParams),
    responses(
        (status = 200, description = "A page of webhooks.", body = PageModel<WebhookOut>),
        (status = 400, response = BadRequest),
        (status = 404, body = ErrorModel, description = "An application key named another application."),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn list(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response> {
    let out = s.herald.list_webhooks(&who, &ALL, &list_query(&params)).await?;
    Ok(paged("/webhooks/subscriptions", &params, out).into_response())
}

/// Creates a webhook; the answer holds its signing secret.
#[utoipa::path(
    post,
    path = "/webhooks/subscriptions",
    operation_id = "createWebhook",
    tag = "webhooks",
    request_body = WebhookIn,
    responses(
        (status = 201, description = "The webhook, with its signing secret.", body = WebhookCreatedOut,
            headers(("Location" = String, description = "`/webhooks/subscriptions/{id}`"))),
        (status = 400, response = BadRequest),
        (status = 404, body = ErrorModel, description = "An application key named another application."),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn create(State(s): State<AppState>, Auth(who): Auth, JsonIn(input): JsonIn<WebhookIn>) -> Result<Response> {
    let out = s.herald.create_webhook(&who, &ALL, input).await?;
    let location = format!("/webhooks/subscriptions/{}", out.webhook.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(out)).into_response())
}

/// One webhook.
#[utoipa::path(
    get,
    path = "/webhooks/subscriptions/{id}",
    operation_id = "getWebhook",
    tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id.")),
    responses(
        (status = 200, description = "The webhook.", body = WebhookOut),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    )
)]
pub async fn get(State(s): State<AppState>, Auth(who): Auth, PathParam(id): PathParam) -> Result<Response> {
    Ok(Json(s.herald.get_webhook(&who, &ALL, path_id(&id, "webhook")?).await?).into_response())
}

/// Replaces a webhook's settings.
#[utoipa::path(
    put,
    path = "/webhooks/subscriptions/{id}",
    operation_id = "updateWebhook",
    tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id.")),
    request_body = WebhookPatch,
    responses(
        (status = 204, description = "Updated."),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn update(
    State(s): State<AppState>,
    Auth(who): Auth,
    PathParam(id): PathParam,
    JsonIn(input): JsonIn<WebhookPatch>,
) -> Result<StatusCode> {
    s.herald.update_webhook(&who, &ALL, path_id(&id, "webhook")?, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a webhook: it receives nothing more; the logs keep its records.
#[utoipa::path(
    delete,
    path = "/webhooks/subscriptions/{id}",
    operation_id = "deleteWebhook",
    tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete(State(s): State<AppState>, Auth(who): Auth, PathParam(id): PathParam) -> Result<StatusCode> {
    s.herald.delete_webhook(&who, &ALL, path_id(&id, "webhook")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends the topic's example payload to the webhook once, now, and tells what happened.
#[utoipa::path(
    post,
    path = "/webhooks/subscriptions/{id}/ping",
    operation_id = "pingWebhook",
    tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id.")),
    request_body = PingIn,
    responses(
        (status = 200, description = "The attempt's outcome.", body = PingOut),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn ping(
    State(s): State<AppState>,
    Auth(who): Auth,
    PathParam(id): PathParam,
    JsonIn(input): JsonIn<PingIn>,
) -> Result<Response> {
    Ok(Json(s.herald.ping(&who, &ALL, path_id(&id, "webhook")?, input).await?).into_response())
}

/// Tests a payload filter (contract §9.2) against a payload, or against a topic's example payload, without saving
/// anything: whether it matches, and if not, the validator's reasons.
#[utoipa::path(
    post,
    path = "/webhooks/filters/test",
    operation_id = "testWebhookFilter",
    tag = "webhooks",
    request_body = FilterTestIn,
    responses(
        (status = 200, description = "Whether the payload satisfies the filter.", body = FilterTestOut),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn test_filter(
    State(s): State<AppState>,
    Auth(who): Auth,
    JsonIn(input): JsonIn<FilterTestIn>,
) -> Result<Response> {
    Ok(Json(s.herald.test_filter(&who, input)?).into_response())
}

/// The webhook's signing secret.
#[utoipa::path(
    get,
    path = "/webhooks/subscriptions/{id}/secret",
    operation_id = "getWebhookSecret",
    tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id.")),
    responses(
        (status = 200, description = "The secret.", body = SecretOut),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    )
)]
pub async fn secret(State(s): State<AppState>, Auth(who): Auth, PathParam(id): PathParam) -> Result<Response> {
    Ok(Json(s.herald.webhook_secret(&who, &ALL, path_id(&id, "webhook")?).await?).into_response())
}

/// A new signing secret; the old one keeps signing beside it for 24 hours.
#[utoipa::path(
    post,
    path = "/webhooks/subscriptions/{id}/secret/rotate",
    operation_id = "rotateWebhookSecret",
    tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id.")),
    responses(
        (status = 200, description = "The new secret.", body = SecretOut),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    )
)]
pub async fn rotate_secret(State(s): State<AppState>, Auth(who): Auth, PathParam(id): PathParam) -> Result<Response> {
    Ok(Json(s.herald.rotate_secret(&who, &ALL, path_id(&id, "webhook")?).await?).into_response())
}

/// The topic catalogue; with `applicationId`, only the topics that application may receive.
#[utoipa::path(
    get,
    path = "/webhooks/topics",
    operation_id = "listTopics",
    tag = "webhooks",
    params(ApplicationParam, PageParams),
    responses(
        (status = 200, description = "A page of topics.", body = PageModel<TopicOut>),
        (status = 400, response = BadRequest),
        (status = 404, body = ErrorModel, description = "No such application, or another application's."),
        (status = 422, response = ValidationFailed),
    )
)]
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

/// One topic.
#[utoipa::path(
    get,
    path = "/webhooks/topics/{id}",
    operation_id = "getTopic",
    tag = "webhooks",
    params(("id" = String, Path, description = "The topic's id, e.g. `contacts.modified`.")),
    responses(
        (status = 200, description = "The topic.", body = TopicOut),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    )
)]
pub async fn get_topic(State(s): State<AppState>, Auth(_who): Auth, PathParam(id): PathParam) -> Result<Response> {
    Ok(Json(s.herald.get_topic(&id)?).into_response())
}

/// One record per delivery attempt, newest first; an empty list when nothing matches.
#[utoipa::path(
    get,
    path = "/webhooks/logs",
    operation_id = "listLogs",
    tag = "webhooks",
    params(LogQuery),
    responses(
        (status = 200, description = "The attempts of this page.", body = Vec<LogOut>,
            headers(("Link" = String, description = "When more records match: `</webhooks/logs?…&cursor=…>; rel=\"next\"`, the same query with the cursor of the next page."))),
        (status = 400, response = BadRequest),
        (status = 404, body = ErrorModel, description = "An application key named another application."),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn logs(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawQuery(raw): RawQuery,
    params: Params,
) -> Result<Response> {
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
        cursor: params.get("cursor"),
        payloads: true,
    };
    let page = s.herald.list_logs(&who, &q).await?;
    let mut resp = Json(page.records).into_response();
    if let Some(cursor) = page.next {
        if let Ok(link) = header::HeaderValue::from_str(&next_link(raw.as_deref().unwrap_or(""), &cursor)) {
            resp.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(resp)
}

/// `Link` to the next page of the logs: the request's own query, its `cursor` replaced.
fn next_link(query: &str, cursor: &str) -> String {
    let mut pairs: Vec<&str> =
        query.split('&').filter(|p| !p.is_empty() && p.split('=').next() != Some("cursor")).collect();
    let last = format!("cursor={cursor}");
    pairs.push(&last);
    format!("</webhooks/logs?{}>; rel=\"next\"", pairs.join("&"))
}

/// The application's Ed25519 public keys, for verifying `X-Signature`.
#[utoipa::path(
    get,
    path = "/webhooks/signing",
    operation_id = "getSigningKeys",
    tag = "webhooks",
    params(ApplicationParam),
    responses(
        (status = 200, description = "The keys.", body = SigningKeysOut),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 422, body = ErrorModel, description = "The admin token must name the application."),
    )
)]
pub async fn signing_keys(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response> {
    let app = herald_service::input::query_param(
        "applicationId",
        params.str("applicationId"),
        |v| v.parse().ok(),
        "an application id",
    )?;
    Ok(Json(s.herald.signing_keys(&who, app).await?).into_response())
}

/// Sends a delivery's event to its webhook again, as a new delivery attempted at once.
#[utoipa::path(
    post,
    path = "/webhooks/deliveries/{id}/redeliver",
    operation_id = "redeliverDelivery",
    tag = "webhooks",
    params(("id" = String, Path, description = "The delivery's id (`deliveryId` in the logs).")),
    responses(
        (status = 202, description = "The new delivery.", body = RedeliverOut),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorModel, description = "The webhook was deleted, the delivery was never attempted, or its payload was pruned."),
    )
)]
pub async fn redeliver(State(s): State<AppState>, Auth(who): Auth, PathParam(id): PathParam) -> Result<Response> {
    let out = s.herald.redeliver(&who, path_id(&id, "delivery")?).await?;
    Ok((StatusCode::ACCEPTED, Json(out)).into_response())
}

/// Sends a webhook the events it failed to get (or every event of a time window) again, as new deliveries.
#[utoipa::path(
    post,
    path = "/webhooks/subscriptions/{id}/replay",
    operation_id = "replayWebhook",
    tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id.")),
    request_body = ReplayIn,
    responses(
        (status = 200, description = "How many events were (or, on a dry run, would be) sent again.", body = ReplayOut),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn replay(
    State(s): State<AppState>,
    Auth(who): Auth,
    PathParam(id): PathParam,
    JsonIn(input): JsonIn<ReplayIn>,
) -> Result<Response> {
    Ok(Json(s.herald.replay(&who, &ALL, path_id(&id, "webhook")?, input).await?).into_response())
}

/// Attempt counts per day, customer, topic or webhook, for analytics and billing.
#[utoipa::path(
    get,
    path = "/analytics/deliveries",
    operation_id = "countDeliveries",
    tag = "webhooks",
    params(AnalyticsQuery),
    responses(
        (status = 200, description = "One row per group.", body = Vec<CountOut>),
        (status = 400, response = BadRequest),
        (status = 404, body = ErrorModel, description = "No such application, or another application's."),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn analytics(State(s): State<AppState>, Auth(who): Auth, params: Params) -> Result<Response> {
    let q = AnalyticsQuery {
        application_id: params.get("applicationId"),
        from: params.get("from"),
        to: params.get("to"),
        group_by: params.get("groupBy"),
    };
    let out = s.herald.delivery_counts(&who, &q).await?;
    Ok(Json(out).into_response())
}
