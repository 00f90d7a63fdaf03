//! The Applications page (admin only): every application with its client id and scopes, and two actions each:
//! rotate its API key (the new key is shown once, the old one may keep working for a grace period) and delete it
//! (after a confirmation page). Both are forms carrying the session's CSRF token, like every UI form.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::ApplicationId;
use herald_service::{ApiKeyRotateIn, ServiceError};
use maud::{html, Markup};

use super::context;
use super::error::{UiError, UiResult};
use super::layout::{page, show_time, Ctx, Nav};
use super::session::{Posted, Ui};
use crate::AppState;

/// The grace periods the rotate form offers (the API takes any from `0s` to `30d`).
const GRACE_CHOICES: &[(&str, &str)] =
    &[("0s", "Old key stops at once"), ("1h", "Old key works 1 more hour"), ("24h", "Old key works 24 more hours")];

fn app_id(id: &str) -> UiResult<ApplicationId> {
    id.parse().map_err(|_| UiError::not_found("application"))
}

/// The admin's context; an application key gets the "Not allowed" page.
async fn admin_context(s: &AppState, ui: Ui) -> UiResult<Ctx> {
    ui.who.require_admin()?;
    context(s, ui, None).await
}

pub async fn show(State(s): State<AppState>, ui: Ui) -> UiResult<Markup> {
    let ctx = admin_context(&s, ui).await?;
    let content = html! {
        div.page-head { h1 { "Applications" } }
        @if ctx.apps.is_empty() {
            div.empty { p { "There are no applications yet. Create one with " code { "POST /apps" } "." } }
        } @else {
            table.applications.responsive {
                caption.visually-hidden { "Applications" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Client id" } th scope="col" { "Scopes" }
                    th scope="col" { "Created" } th scope="col" { "API key" } th scope="col" { span.visually-hidden { "Delete" } }
                } }
                @for a in &ctx.apps {
                    tr id=(format!("app-{}", a.id)) {
                        td data-label="Name" { (a.name) }
                        td data-label="Client id" { code { (a.client_id) } }
                        td data-label="Scopes" { (a.scopes.join(", ")) }
                        td data-label="Created" { (show_time(&a.created)) }
                        td data-label="API key" {
                            form.rotate-key method="post" action=(format!("/ui/apps/{}/api-key/rotate", a.id)) {
                                (ctx.csrf())
                                label.visually-hidden for=(format!("grace-{}", a.id)) { "Grace period for the old key" }
                                select id=(format!("grace-{}", a.id)) name="gracePeriod" {
                                    @for (value, label) in GRACE_CHOICES { option value=(value) { (label) } }
                                }
                                button.secondary type="submit" { "Rotate API key" }
                            }
                        }
                        td { a.button.danger href=(format!("/ui/apps/{}/delete", a.id)) { "Delete…" } }
                    }
                }
            }
        }
    };
    Ok(page(&ctx, Nav::Applications, "Applications", "/ui/apps", content))
}

pub async fn rotate_key(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Posted { ui, form }: Posted,
) -> UiResult<Response> {
    let id = app_id(&id)?;
    let grace = form.get("gracePeriod").unwrap_or("0s").to_string();
    let out = s.herald.rotate_api_key(&ui.who, id, ApiKeyRotateIn { grace_period: grace.into() }).await?;
    let app = s.herald.get_app(&ui.who, id).await?;
    let ctx = admin_context(&s, ui).await?;
    let content = html! {
        h1 { "New API key" }
        div.card {
            p { "The new API key of " strong { (app.name) } ". Copy it now: Herald keeps only its hash and shows it this once." }
            p { code #new-api-key { (out.api_key) } }
            @match &out.previous_key_expires {
                Some(t) => p #previous-key { "The previous key keeps working until " (show_time(t)) "." },
                None => p #previous-key { "The previous key no longer works." },
            }
            div.actions { a.button.secondary href="/ui/apps" { "Back to applications" } }
        }
    };
    Ok(page(&ctx, Nav::Applications, "New API key", "/ui/apps", content).into_response())
}

pub async fn confirm_delete(State(s): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult<Markup> {
    let id = app_id(&id)?;
    let app = s.herald.get_app(&ui.who, id).await?;
    let ctx = admin_context(&s, ui).await?;
    let content = html! {
        h1 { "Delete application?" }
        div.card {
            p { strong { (app.name) } " will be deleted: its webhooks receive nothing more (pending deliveries are \
                cancelled), its installations end and its API keys stop working. Its delivery logs are kept." }
            form #delete-app-form method="post" action=(format!("/ui/apps/{}/delete", app.id)) {
                (ctx.csrf())
                div.actions {
                    button.danger #confirm-delete-app type="submit" { "Delete application" }
                    a.button.secondary href="/ui/apps" { "Cancel" }
                }
            }
        }
    };
    Ok(page(&ctx, Nav::Applications, "Delete application", "/ui/apps", content))
}

pub async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Posted { ui, .. }: Posted,
) -> UiResult<Response> {
    let id = app_id(&id)?;
    let app = s.herald.get_app(&ui.who, id).await?;
    match s.herald.delete_app(&ui.who, id).await {
        Ok(()) => ui.flash(true, format!("Application {} deleted.", app.name)).await,
        Err(ServiceError::NotFound(_)) => {
            ui.flash(false, format!("Application {} was already deleted.", app.name)).await
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to("/ui/apps").into_response())
}
