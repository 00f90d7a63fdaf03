//! The JSON API: routes, the paging envelope and the OpenAPI document (`GET /openapi.json`).

mod entities;
mod openapi;
pub(crate) mod params;
mod platform;
mod resthooks;
mod sources;
mod webhooks;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use herald_service::Paged;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::method_not_allowed;
use crate::extract::Params;
use crate::AppState;
use entities::{delete_entity, get_entity, put_entity};

pub fn routes() -> Router<AppState> {
    let r = Router::new()
        .route("/apps", post(platform::create_app).get(platform::list_apps))
        .route("/apps/{id}", get(platform::get_app).put(platform::update_app).delete(platform::delete_app))
        .route("/apps/{id}/api-key/rotate", post(platform::rotate_api_key))
        .route("/installations", post(platform::create_installation).get(platform::list_installations))
        .route("/installations/{id}", get(platform::get_installation).delete(platform::terminate_installation))
        .route("/changes", post(platform::post_changes))
        .route("/entities", post(entities::post_entities))
        .route("/entities/{customerId}/{entityType}/{entityId}", get(get_entity).put(put_entity).delete(delete_entity))
        .route("/sources/dead-letters", get(sources::dead_letters))
        .route("/webhooks/topics", get(webhooks::list_topics))
        .route("/webhooks/topics/{id}", get(webhooks::get_topic))
        .route("/webhooks/subscriptions", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/subscriptions/{id}", get(webhooks::get).put(webhooks::update).delete(webhooks::delete))
        .route("/webhooks/subscriptions/{id}/ping", post(webhooks::ping))
        .route("/webhooks/subscriptions/{id}/replay", post(webhooks::replay))
        .route("/webhooks/subscriptions/{id}/secret", get(webhooks::secret))
        .route("/webhooks/subscriptions/{id}/secret/rotate", post(webhooks::rotate_secret))
        .route("/webhooks/filters/test", post(webhooks::test_filter))
        .route("/webhooks/logs", get(webhooks::logs))
        .route("/webhooks/deliveries/{id}/redeliver", post(webhooks::redeliver))
        .route("/webhooks/signing", get(webhooks::signing_keys))
        .route("/resthooks", get(resthooks::list).post(resthooks::create))
        .route("/resthooks/{id}", get(resthooks::get).put(resthooks::update).delete(resthooks::delete))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/analytics/deliveries", get(webhooks::analytics))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    r.method_not_allowed_fallback(method_not_allowed)
}

/// The answer of the health checks.
#[derive(Serialize, ToSchema)]
pub struct StatusModel {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `/readyz`: the broker sources (`--source`) not connected now, by their URL without credentials. The node
    /// still serves the API meanwhile, so it stays ready.
    #[serde(rename = "sourcesDown", skip_serializing_if = "Vec::is_empty")]
    pub sources_down: Vec<String>,
}

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "The metrics.", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 503, response = crate::error::Unavailable),
    )
)]
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.herald.render_metrics().await {
        Ok(text) => {
            ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
        }
        Err(e) => crate::ApiError::from(e).into_response(),
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations", responses((status = 200, body = StatusModel)))]
async fn healthz() -> Json<StatusModel> {
    Json(StatusModel { status: "ok", sources_down: Vec::new() })
}

/// Readiness: the store answers. Broker sources that are down are named, but do not make the node unready.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, body = StatusModel, example = json!({ "status": "ready" })),
        (status = 503, response = crate::error::Unavailable),
    )
)]
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.herald.not_ready().await {
        None => {
            Json(StatusModel { status: "ready", sources_down: state.herald.source_states().down() }).into_response()
        }
        Some(why) => crate::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
    }
}

/// The paging envelope of contract §6.1.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageModel<T> {
    /// This page's items.
    #[serde(rename = "_embedded")]
    pub embedded: Vec<T>,
    /// From 1.
    #[schema(minimum = 1)]
    pub page_number: u32,
    /// 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    pub page_size: u32,
    /// The number of items on this page.
    pub page_count: usize,
    /// The number of items on all pages.
    pub total_count: u64,
    pub total_page_count: u64,
    #[serde(rename = "_links")]
    pub links: PageLinks,
}

/// Links to this page and its neighbours, keeping the request's other parameters.
#[derive(Serialize, ToSchema)]
pub struct PageLinks {
    #[serde(rename = "self")]
    pub this: Link,
    pub first: Link,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next: Option<Link>,
    /// Absent on the first page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub prev: Option<Link>,
    pub last: Link,
}

#[derive(Serialize, ToSchema)]
pub struct Link {
    /// A path with its query string.
    #[schema(example = "/apps?pageNumber=1&pageSize=25")]
    pub href: String,
}

/// The paging envelope of contract §6.1 around `p`, links keeping the request's other parameters.
pub fn paged<T: Serialize>(path: &str, params: &Params, p: Paged<T>) -> Json<PageModel<T>> {
    let total_pages = p.total_pages();
    let href = |number: u64| {
        let mut pairs: Vec<(String, String)> = params
            .0
            .iter()
            .filter(|(k, _)| *k != "pageNumber" && *k != "pageSize")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        pairs.push(("pageNumber".into(), number.to_string()));
        pairs.push(("pageSize".into(), p.page.size.to_string()));
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        Link { href: format!("{path}?{}", query.join("&")) }
    };
    let number = p.page.number as u64;
    let links = PageLinks {
        this: href(number),
        first: href(1),
        next: (number < total_pages).then(|| href(number + 1)),
        prev: (number > 1).then(|| href((number - 1).min(total_pages.max(1)))),
        last: href(total_pages.max(1)),
    };
    Json(PageModel {
        page_number: p.page.number,
        page_size: p.page.size,
        page_count: p.items.len(),
        total_count: p.total,
        total_page_count: total_pages,
        links,
        embedded: p.items,
    })
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
