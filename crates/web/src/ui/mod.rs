//! Herald's web UI, served at `/` by the same binary: server-rendered HTML (maud, checked at compile time), one
//! stylesheet and one small script embedded in the binary, no build step. Every action calls the service layer
//! ([`herald_service::Herald`]) exactly as the JSON API does, so no rule is written twice here: validation errors
//! come back from the service and are shown next to their fields.
//!
//! Pages: `/signin`, `/ui/apps` (the admin: rotate an API key, delete an application), `/ui/webhooks` (manage, add,
//! edit, delete, ping, secret), `/ui/logs` (filters, attempt detail, payload download, redeliver, CSV export),
//! `/ui/about`. Pages need a session (else 303 to `/signin`); every POST needs the session's CSRF token (else a 403
//! page).

mod about;
mod actions;
mod apps;
mod chart;
mod error;
mod form;
mod layout;
mod limit;
mod log_detail;
mod logs;
mod manage;
mod session;
mod signin;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
use herald_domain::ApplicationId;
use herald_service::models::{AppOut, TopicOut};
use herald_service::Principal;
use herald_store::Page;

use crate::AppState;
use error::UiResult;
use layout::Ctx;
use session::Ui;

pub(crate) use limit::SigninLimiter;

const CSS_PATH: &str = "/ui/assets/app.css";
const JS_PATH: &str = "/ui/assets/app.js";
const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");

/// The UI's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/signin", get(signin::show).post(signin::submit))
        .route("/signout", post(signin::sign_out))
        .route("/ui/webhooks", get(manage::show))
        .route("/ui/webhooks/new", get(form::new_form).post(form::create))
        .route("/ui/webhooks/{id}/edit", get(form::edit_form).post(form::update))
        .route("/ui/webhooks/{id}/delete", get(actions::confirm_delete).post(actions::delete))
        .route("/ui/webhooks/{id}/ping", get(actions::ping_form).post(actions::ping))
        .route("/ui/webhooks/{id}/secret/rotate", post(actions::rotate_secret))
        .route("/ui/logs", get(logs::show))
        .route("/ui/logs/export.csv", get(logs::export_csv))
        .route("/ui/logs/attempt", get(log_detail::show))
        .route("/ui/logs/payload", get(log_detail::download_payload))
        .route("/ui/logs/redeliver", post(log_detail::redeliver))
        .route("/ui/apps", get(apps::show))
        .route("/ui/apps/{id}/api-key/rotate", post(apps::rotate_key))
        .route("/ui/apps/{id}/delete", get(apps::confirm_delete).post(apps::delete))
        .route("/ui/about", get(about::show))
        .route(CSS_PATH, get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route(JS_PATH, get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .layer(middleware::map_response(security_headers))
}

async fn root(ui: Option<Ui>) -> Response {
    match ui {
        Some(_) => Redirect::to("/ui/webhooks").into_response(),
        None => session::to_signin(),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

/// Pages are never cached (they show secrets and per-session tokens) and never framed; scripts and styles come
/// only from Herald itself.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

/// The page context: the applications the visitor may pick and the one shown (`requested` when given and visible,
/// else the one picked earlier, else the first).
async fn context(state: &AppState, ui: Ui, requested: Option<&str>) -> UiResult<Ctx> {
    let apps = state.herald.visible_apps(&ui.who).await?;
    let wanted: Option<ApplicationId> = requested.and_then(|r| r.parse().ok()).or(ui.picked_app);
    let app: Option<AppOut> =
        wanted.and_then(|w| apps.iter().find(|a| a.id == w.to_string())).or(apps.first()).cloned();
    if let Some(a) = &app {
        if let Ok(id) = a.id.parse() {
            if ui.picked_app != Some(id) {
                ui.remember_app(id).await;
            }
        }
    }
    let flash = ui.take_flash().await;
    let alerts = match app.as_ref().and_then(|a| a.id.parse::<ApplicationId>().ok()) {
        Some(id) => match state.herald.webhook_alerts(&ui.who, id).await {
            Ok(alerts) => alerts,
            // The banner is a courtesy: a page whose banner cannot be read is still shown, without it.
            Err(e) => {
                tracing::warn!(error = %e, "could not read the failing webhooks for the banner");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    Ok(Ctx { ui, apps, app, flash, alerts })
}

/// Every topic the application's scopes allow (the service filters them).
async fn app_topics(s: &AppState, who: &Principal, app: &AppOut) -> UiResult<Vec<TopicOut>> {
    let id: ApplicationId = app.id.parse().map_err(|_| error::UiError::not_found("application"))?;
    let mut out = Vec::new();
    for number in 1.. {
        let p = s.herald.list_topics(who, Some(id), Page { number, size: 100 }).await?;
        let done = p.items.is_empty() || out.len() + p.items.len() >= p.total as usize;
        out.extend(p.items);
        if done {
            break;
        }
    }
    Ok(out)
}

/// Minimal percent-encoding for query values in links.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
