//! One attempt of the logs: the exact payload sent and the response received, "Download payload" (the exact bytes,
//! as JSON) and "Redeliver" (a new delivery of the same event to the same webhook, made by the service).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::DeliveryId;
use herald_service::models::LogOut;
use herald_service::{LogQuery, Principal, ServiceError};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::layout::{outcome_badge, page, show_time, Nav};
use super::session::{Posted, Ui};
use super::{context, enc};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct AttemptQuery {
    delivery: Option<String>,
    attempt: Option<String>,
}

/// Every attempt of a delivery the principal may see, oldest first, without payloads.
async fn attempts(s: &AppState, who: &Principal, delivery: &str) -> UiResult<Vec<LogOut>> {
    let q = LogQuery { delivery_id: Some(delivery.to_string()), limit: Some("1000".into()), ..LogQuery::default() };
    let mut logs = match s.herald.list_logs(who, &q).await {
        Err(ServiceError::Validation(_)) => return Err(UiError::not_found("delivery")),
        other => other?.records,
    };
    if logs.is_empty() {
        return Err(UiError::not_found("delivery"));
    }
    logs.sort_by_key(|l| l.attempt);
    Ok(logs)
}

fn pick(logs: &[LogOut], attempt: Option<&str>) -> UiResult<LogOut> {
    let wanted = attempt.and_then(|a| a.parse::<u32>().ok());
    match wanted {
        Some(n) => logs.iter().find(|l| l.attempt == n).cloned().ok_or_else(|| UiError::not_found("attempt")),
        None => logs.last().cloned().ok_or_else(|| UiError::not_found("attempt")),
    }
}

/// The attempt picked, read again with its payload and response (only this one's).
async fn with_payload(s: &AppState, who: &Principal, l: LogOut) -> UiResult<LogOut> {
    s.herald.log_attempt(who, &l.delivery_id, l.attempt).await?.ok_or_else(|| UiError::not_found("attempt"))
}

/// The payload pretty-printed when it is JSON (the exact bytes are shown beside it).
fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

pub async fn show(State(s): State<AppState>, ui: Ui, Query(q): Query<AttemptQuery>) -> UiResult<Markup> {
    let delivery = q.delivery.unwrap_or_default();
    let logs = attempts(&s, &ui.who, &delivery).await?;
    let l = with_payload(&s, &ui.who, pick(&logs, q.attempt.as_deref())?).await?;
    let ctx = context(&s, ui, Some(&l.application_id)).await?;
    let back = format!("/ui/logs?app={}&event={}", enc(&l.application_id), enc(&l.event_id));
    let content = html! {
        p { a href=(back) { "← Logs of this event" } }
        div.page-head {
            h1 { "Attempt " (l.attempt) }
            div.actions {
                a.button.secondary #download-payload download
                    href=(format!("/ui/logs/payload?delivery={}&attempt={}", enc(&l.delivery_id), l.attempt)) { "Download payload" }
                form #redeliver-form method="post" action="/ui/logs/redeliver" {
                    (ctx.csrf())
                    input type="hidden" name="delivery" value=(l.delivery_id);
                    button.primary #redeliver type="submit" { "Redeliver" }
                }
            }
        }
        dl.props.card {
            dt { "Time" } dd { (show_time(&l.time_stamp)) }
            dt { "URL" } dd.url { (l.url) }
            dt { "Topic" } dd { code { (l.topic_id) } }
            dt { "Entity" } dd { (l.entity_id.as_deref().unwrap_or("—")) }
            dt { "Customer" } dd { (l.customer_id) }
            dt { "Event id" } dd { code { (l.event_id) } }
            dt { "Delivery id" } dd { code { (l.delivery_id) } }
            dt { "Status" } dd #attempt-status { (outcome_badge(&l.outcome, l.status_code)) }
            dt { "Duration" } dd { (l.duration_ms) " ms" }
            @if let Some(e) = &l.error { dt { "Error" } dd { (e) } }
        }
        @if logs.len() > 1 {
            nav.attempts aria-label="Attempts of this delivery" {
                "Attempts: "
                @for a in &logs {
                    @let href = format!("/ui/logs/attempt?delivery={}&attempt={}", enc(&a.delivery_id), a.attempt);
                    a href=(href) aria-current=[(a.attempt == l.attempt).then_some("page")] { (a.attempt) } " "
                }
            }
        }
        section {
            h2 { "Payload sent" }
            @match &l.payload {
                Some(p) => {
                    pre #payload.code tabindex="0" { (pretty(p)) }
                    details { summary { "Exact bytes as sent" } pre #payload-exact.code tabindex="0" { (p) } }
                }
                None => p.small { "The payload is no longer kept (log retention)." }
            }
        }
        section {
            h2 { "Response received" }
            @match l.response.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => pre #response.code tabindex="0" { (r) },
                None => p #response.small { "No response body." }
            }
        }
    };
    Ok(page(&ctx, Nav::Logs, "Attempt", "/ui/logs", content))
}

pub async fn download_payload(State(s): State<AppState>, ui: Ui, Query(q): Query<AttemptQuery>) -> UiResult<Response> {
    let delivery = q.delivery.unwrap_or_default();
    let l = pick(&attempts(&s, &ui.who, &delivery).await?, q.attempt.as_deref())?;
    let l = with_payload(&s, &ui.who, l).await?;
    let payload = l.payload.ok_or_else(|| UiError::not_found("payload"))?;
    let name = format!("attachment; filename=\"payload-{}-{}.json\"", l.delivery_id, l.attempt);
    Ok(([(header::CONTENT_TYPE, "application/json".to_string()), (header::CONTENT_DISPOSITION, name)], payload)
        .into_response())
}

pub async fn redeliver(State(s): State<AppState>, Posted { ui, form }: Posted) -> UiResult<Response> {
    let delivery = form.text("delivery").unwrap_or_default();
    let original = attempts(&s, &ui.who, &delivery).await?;
    let first = pick(&original, None)?;
    let id: DeliveryId = delivery.parse().map_err(|_| UiError::not_found("delivery"))?;
    let out = s.herald.redeliver(&ui.who, id).await?;
    let new_id = format!(" as delivery {}", out.delivery_id);
    ui.flash(true, format!("Redelivered{new_id}: a new delivery of event {} to {}.", first.event_id, first.url)).await;
    Ok(Redirect::to(&format!(
        "/ui/logs?app={}&event={}&webhook={}",
        enc(&first.application_id),
        enc(&first.event_id),
        enc(&first.webhook_id)
    ))
    .into_response())
}
