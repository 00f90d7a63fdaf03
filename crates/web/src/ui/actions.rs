//! A webhook's actions besides editing: delete (after a confirmation page), ping (pick one of its topics, see the
//! outcome) and rotating its signing secret.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::WebhookId;
use herald_service::models::{AppOut, PingOut, WebhookOut};
use herald_service::{PingIn, ServiceError, WebhookScope};
use maud::{html, Markup};

use super::error::{UiError, UiResult};
use super::layout::{field_errors, page, Ctx, Nav};
use super::session::{Posted, Ui};
use super::{context, enc};
use crate::AppState;

const ALL: WebhookScope = WebhookScope::All;

fn webhook_id(id: &str) -> UiResult<WebhookId> {
    id.parse().map_err(|_| UiError::not_found("webhook"))
}

async fn load(s: &AppState, ui: Ui, id: &str) -> UiResult<(Ctx, AppOut, WebhookOut)> {
    let hook = s.herald.get_webhook(&ui.who, &ALL, webhook_id(id)?).await?;
    let ctx = context(s, ui, Some(&hook.application_id)).await?;
    let app = ctx.app.clone().filter(|a| a.id == hook.application_id).ok_or_else(|| UiError::not_found("webhook"))?;
    Ok((ctx, app, hook))
}

fn back(app: &AppOut, id: &str) -> Response {
    Redirect::to(&format!("/ui/webhooks?app={}&open={}#details-{}", enc(&app.id), enc(id), enc(id))).into_response()
}

pub async fn confirm_delete(State(s): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult<Markup> {
    let (ctx, _, hook) = load(&s, ui, &id).await?;
    let content = html! {
        h1 { "Delete webhook?" }
        div.card {
            p { "The webhook for " strong.url { (hook.url) } " will receive nothing more. Its delivery logs are kept." }
            form #delete-form method="post" action=(format!("/ui/webhooks/{}/delete", hook.id)) {
                (ctx.csrf())
                div.actions {
                    button.danger #confirm-delete type="submit" { "Delete webhook" }
                    a.button.secondary href=(format!("/ui/webhooks?open={}", enc(&hook.id))) { "Cancel" }
                }
            }
        }
    };
    Ok(page(&ctx, Nav::Webhooks, "Delete webhook", "/ui/webhooks", content))
}

pub async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Posted { ui, .. }: Posted,
) -> UiResult<Response> {
    let (ctx, app, hook) = load(&s, ui, &id).await?;
    s.herald.delete_webhook(&ctx.ui.who, &ALL, webhook_id(&hook.id)?).await?;
    ctx.ui.flash(true, format!("Webhook {} deleted.", hook.url)).await;
    Ok(Redirect::to(&format!("/ui/webhooks?app={}", enc(&app.id))).into_response())
}

pub async fn rotate_secret(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Posted { ui, .. }: Posted,
) -> UiResult<Response> {
    let (ctx, app, hook) = load(&s, ui, &id).await?;
    s.herald.rotate_secret(&ctx.ui.who, &ALL, webhook_id(&hook.id)?).await?;
    ctx.ui.flash(true, "New signing secret issued. The previous one keeps signing beside it for 24 hours.").await;
    Ok(back(&app, &hook.id))
}

/// What the ping page shows after sending.
enum Sent {
    Nothing,
    Result(String, PingOut),
    Invalid(Vec<String>),
}

fn ping_page(ctx: &Ctx, hook: &WebhookOut, chosen: Option<&str>, sent: Sent) -> Markup {
    let errors = match &sent {
        Sent::Invalid(e) => e.clone(),
        _ => Vec::new(),
    };
    let content = html! {
        h1 { "Ping" }
        p.lead { "Sends one signed test event with the topic's example payload to " strong.url { (hook.url) }
            " (customer " code { "webhook-test" } "). A ping is never retried, works on inactive webhooks, and appears in the logs." }
        @if let Sent::Result(topic, r) = &sent {
            div #ping-result.result.ok[r.success].fail[!r.success] role="status" {
                strong { (if r.success { "Success" } else { "Failure" }) }
                " — " (topic) ": "
                @match r.status_code { Some(code) => { "HTTP " (code) }, None => { "no HTTP answer" } }
                " in " (r.duration_ms) " ms"
                @if let Some(e) = &r.error { div.small { (e) } }
            }
        }
        form #ping-form.card method="post" action=(format!("/ui/webhooks/{}/ping", hook.id)) {
            (ctx.csrf())
            div.field.invalid[!errors.is_empty()] {
                label for="topicId" { "Topic" }
                select #topicId name="topicId" {
                    @for t in &hook.topic_ids { option value=(t) selected[chosen == Some(t.as_str())] { (t) } }
                }
                (field_errors("topicId", &errors))
            }
            div.actions {
                button.primary #send-ping type="submit" { "Send ping" }
                a.button.secondary href=(format!("/ui/webhooks?open={}#details-{}", enc(&hook.id), enc(&hook.id))) { "Back to webhooks" }
            }
        }
    };
    page(ctx, Nav::Webhooks, "Ping", "/ui/webhooks", content)
}

pub async fn ping_form(State(s): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult<Markup> {
    let (ctx, _, hook) = load(&s, ui, &id).await?;
    Ok(ping_page(&ctx, &hook, None, Sent::Nothing))
}

pub async fn ping(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Posted { ui, form }: Posted,
) -> UiResult<Response> {
    let (ctx, _, hook) = load(&s, ui, &id).await?;
    let topic = form.get("topicId").unwrap_or_default().to_string();
    let input = PingIn { topic_id: topic.clone().into() };
    match s.herald.ping(&ctx.ui.who, &ALL, webhook_id(&hook.id)?, input).await {
        Ok(out) => Ok(ping_page(&ctx, &hook, Some(&topic), Sent::Result(topic.clone(), out)).into_response()),
        Err(ServiceError::Validation(errors)) => {
            let msgs = errors.into_iter().map(|e| e.message).collect();
            Ok((StatusCode::UNPROCESSABLE_ENTITY, ping_page(&ctx, &hook, Some(&topic), Sent::Invalid(msgs)))
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}
