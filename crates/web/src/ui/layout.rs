//! The page shell of the UI: head, header (navigation, application picker, sign-out), flash message, and small
//! pieces shared by pages (CSRF field, field errors, customer labels).

use herald_domain::SANDBOX_CUSTOMER;
use herald_service::models::AppOut;
use herald_service::{Principal, WebhookAlertOut};
use maud::{html, Markup, DOCTYPE};

use super::session::{Flash, Ui, CSRF_FIELD};

/// What every signed-in page shows around its content.
pub struct Ctx {
    pub ui: Ui,
    /// The applications the visitor may pick from (the admin: all; an application key: its own).
    pub apps: Vec<AppOut>,
    /// The application the pages show.
    pub app: Option<AppOut>,
    pub flash: Option<Flash>,
    /// The shown application's failing or disabled webhooks (contract §9.4), in a banner at the top of every page.
    pub alerts: Vec<WebhookAlertOut>,
}

impl Ctx {
    pub fn csrf(&self) -> Markup {
        html! { input type="hidden" name=(CSRF_FIELD) value=(self.ui.csrf); }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.ui.who, Principal::Admin)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Applications,
    Webhooks,
    Logs,
    About,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Herald" }
            link rel="stylesheet" href=(super::CSS_PATH);
            script src=(super::JS_PATH) defer {}
        }
    }
}

/// A signed-in page. `here` is the page's path, where the application picker sends its choice.
pub fn page(ctx: &Ctx, nav: Nav, title: &str, here: &str, content: Markup) -> Markup {
    let link = |n: Nav, href: &str, label: &str| {
        html! { a href=(href) aria-current=[(n == nav).then_some("page")] { (label) } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "Herald" }
                    nav aria-label="Main" {
                        (link(Nav::Webhooks, "/ui/webhooks", "Webhooks"))
                        (link(Nav::Logs, "/ui/logs", "Logs"))
                        @if ctx.is_admin() { (link(Nav::Applications, "/ui/apps", "Applications")) }
                        (link(Nav::About, "/ui/about", "About"))
                    }
                    div.who {
                        @if ctx.is_admin() {
                            @if !ctx.apps.is_empty() {
                                form.picker method="get" action=(here) {
                                    label for="app-picker" { "Application" }
                                    select #app-picker name="app" {
                                        @for a in &ctx.apps {
                                            option value=(a.id) selected[ctx.app.as_ref().is_some_and(|c| c.id == a.id)] {
                                                (a.name)
                                            }
                                        }
                                    }
                                    button.secondary type="submit" { "Switch" }
                                }
                            }
                            span.badge title="Signed in with the admin token" { "Admin" }
                        } @else if let Some(app) = &ctx.app {
                            span.app-name { (app.name) }
                        }
                        form.signout method="post" action="/signout" {
                            (ctx.csrf())
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    (alerts(ctx))
                    @if let Some(f) = &ctx.flash {
                        div.flash.ok[f.ok].fail[!f.ok] role="status" { (f.text) }
                    }
                    (content)
                }
            }
        }
    }
}

/// The banner of the application's failing or disabled webhooks: each with its latest error and a link to its logs,
/// until it recovers or is edited.
fn alerts(ctx: &Ctx) -> Markup {
    let Some(app) = ctx.app.as_ref().filter(|_| !ctx.alerts.is_empty()) else { return html! {} };
    html! {
        section #webhook-alerts.alerts role="alert" aria-label="Failing webhooks" {
            @for a in &ctx.alerts {
                p.alert data-webhook=(a.webhook_id) {
                    strong { @if a.disabled { "Disabled: " } @else { "Failing: " } }
                    code { (a.url) }
                    @if let Some(since) = &a.failing_since { " fails since " (show_time(since)) "." }
                    @if let Some(reason) = a.disabled_reason.as_ref().filter(|_| a.disabled) { " " (reason) }
                    @if let Some(error) = &a.last_error { " Last error: " span.last-error { (error) } "." }
                    " "
                    a href=(format!("/ui/logs?app={}&webhook={}", super::enc(&app.id), super::enc(&a.webhook_id))) {
                        "See its logs"
                    }
                }
            }
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main #main.narrow {
                    p.brand-line { a.brand href="/" { "Herald" } }
                    (content)
                }
            }
        }
    }
}

/// An error page.
pub fn bare_page(title: &str, message: &str) -> Markup {
    bare(
        title,
        html! {
            h1 { (title) }
            p #error-message { (message) }
            p { a href="/" { "Back to Herald" } }
        },
    )
}

/// The id of the element holding a field's errors (for `aria-describedby`).
pub fn error_id(field: &str) -> String {
    format!("{field}-error")
}

/// The errors of one field, next to it.
pub fn field_errors(field: &str, errors: &[String]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.field-error id=(error_id(field)) role="alert" {
                @for e in errors { p { (e) } }
            }
        }
    }
}

/// How a webhook's customer list reads: `[]` is every installed customer (never the sandbox).
pub fn customer_label(id: &str, name: Option<&str>) -> String {
    if id == SANDBOX_CUSTOMER {
        "Sandbox (SBOX)".to_string()
    } else {
        match name {
            Some(n) if !n.is_empty() => format!("{n} ({id})"),
            _ => id.to_string(),
        }
    }
}

pub const ALL_CUSTOMERS: &str = "All customers";

/// An RFC 3339 time as the UI shows it: `2026-01-01 12:00:00 UTC`.
pub fn show_time(rfc3339: &str) -> String {
    herald_domain::time::parse_rfc3339(rfc3339)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| rfc3339.to_string())
}

/// The outcome of one attempt as a short badge: `200`, `500`, `timeout`...
pub fn outcome_badge(outcome: &str, status: Option<u16>) -> Markup {
    let ok = outcome == "delivered";
    let text = match status {
        Some(s) => format!("{s} {outcome}"),
        None => outcome.to_string(),
    };
    html! {
        span.outcome.ok[ok].fail[!ok] { (if ok { "✓ " } else { "✗ " }) (text) }
    }
}
