//! The JSON API: routes and the paging envelope.

mod platform;
mod resthooks;
mod webhooks;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use herald_service::Paged;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::method_not_allowed;
use crate::extract::Params;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    let r = Router::new()
        .route("/apps", post(platform::create_app).get(platform::list_apps))
        .route("/apps/{id}", get(platform::get_app).put(platform::update_app))
        .route("/installations", post(platform::create_installation).get(platform::list_installations))
        .route("/installations/{id}", get(platform::get_installation).delete(platform::terminate_installation))
        .route("/changes", post(platform::post_changes))
        .route("/webhooks/topics", get(webhooks::list_topics))
        .route("/webhooks/topics/{id}", get(webhooks::get_topic))
        .route("/webhooks/subscriptions", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/subscriptions/{id}", get(webhooks::get).put(webhooks::update).delete(webhooks::delete))
        .route("/webhooks/subscriptions/{id}/ping", post(webhooks::ping))
        .route("/webhooks/subscriptions/{id}/secret", get(webhooks::secret))
        .route("/webhooks/subscriptions/{id}/secret/rotate", post(webhooks::rotate_secret))
        .route("/webhooks/logs", get(webhooks::logs))
        .route("/webhooks/deliveries/{id}/redeliver", post(webhooks::redeliver))
        .route("/webhooks/signing", get(webhooks::signing_keys))
        .route("/resthooks", get(resthooks::list).post(resthooks::create))
        .route("/resthooks/{id}", get(resthooks::get).put(resthooks::update).delete(resthooks::delete))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    r.method_not_allowed_fallback(method_not_allowed)
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.herald.store().routing_version().await {
        Ok(_) => Json(json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            crate::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "The store is unreachable.").into_response()
        }
    }
}

/// The paging envelope of contract §6.1, links keeping the request's other parameters.
pub fn paged<T: Serialize>(path: &str, params: &Params, p: Paged<T>) -> Json<Value> {
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
        json!({ "href": format!("{path}?{}", query.join("&")) })
    };
    let number = p.page.number as u64;
    let mut links = serde_json::Map::new();
    links.insert("self".into(), href(number));
    links.insert("first".into(), href(1));
    if number < total_pages {
        links.insert("next".into(), href(number + 1));
    }
    if number > 1 {
        links.insert("prev".into(), href((number - 1).min(total_pages.max(1))));
    }
    links.insert("last".into(), href(total_pages.max(1)));
    Json(json!({
        "_embedded": p.items,
        "pageNumber": p.page.number,
        "pageSize": p.page.size,
        "pageCount": p.items.len(),
        "totalCount": p.total,
        "totalPageCount": total_pages,
        "_links": links,
    }))
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
