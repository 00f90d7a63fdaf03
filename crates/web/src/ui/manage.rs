//! The Manage page: the application's webhooks in a table (URL, topics, customers, status, last delivery and a
//! 24-hour chart), each row expanding to its details and actions: edit, delete, ping, copy or rotate the secret.

use std::collections::HashMap;

use axum::extract::{Query, State};
use chrono::Duration;
use herald_domain::time::format_api_time;
use herald_service::models::{AppOut, LogOut, WebhookOut};
use herald_service::{LogQuery, WebhookListQuery, WebhookScope};
use maud::{html, Markup};
use serde::Deserialize;

use super::chart::{self, Buckets};
use super::error::UiResult;
use super::layout::{customer_label, outcome_badge, page, show_time, Ctx, Nav, ALL_CUSTOMERS};
use super::{context, enc};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct ManageQuery {
    app: Option<String>,
    page: Option<String>,
    /// A webhook whose row is shown expanded.
    open: Option<String>,
}

/// What a row shows besides the webhook itself.
struct RowData {
    hook: WebhookOut,
    secret: String,
    last: Option<LogOut>,
    buckets: Buckets,
}

pub async fn show(State(s): State<AppState>, ui: super::session::Ui, Query(q): Query<ManageQuery>) -> UiResult<Markup> {
    let ctx = context(&s, ui, q.app.as_deref()).await?;
    let Some(app) = ctx.app.clone() else { return Ok(no_app(&ctx)) };
    let who = &ctx.ui.who;
    let list = s
        .herald
        .list_webhooks(
            who,
            &WebhookScope::All,
            &WebhookListQuery {
                application_id: Some(app.id.clone()),
                page_number: q.page.clone(),
                page_size: Some("25".into()),
                sort_by: Some("-created".into()),
                active: None,
            },
        )
        .await?;
    let names: HashMap<String, Option<String>> = match app.id.parse() {
        Ok(id) => {
            s.herald.installed_customers(who, id).await?.into_iter().map(|i| (i.customer_id, i.customer_name)).collect()
        }
        Err(_) => HashMap::new(),
    };
    let now = s.herald.now();
    let mut rows = Vec::with_capacity(list.items.len());
    for hook in &list.items {
        let recent = s
            .herald
            .list_logs(
                who,
                &LogQuery {
                    application_id: Some(app.id.clone()),
                    webhook_id: Some(hook.id.clone()),
                    from: Some(format_api_time(now - Duration::hours(24))),
                    limit: Some("1000".into()),
                    ..LogQuery::default()
                },
            )
            .await?
            .records;
        let last = match recent.first() {
            Some(l) => Some(l.clone()),
            None => s
                .herald
                .list_logs(
                    who,
                    &LogQuery {
                        application_id: Some(app.id.clone()),
                        webhook_id: Some(hook.id.clone()),
                        limit: Some("1".into()),
                        ..LogQuery::default()
                    },
                )
                .await?
                .records
                .into_iter()
                .next(),
        };
        let secret = match hook.id.parse() {
            Ok(id) => s.herald.webhook_secret(who, &WebhookScope::All, id).await?.secret,
            Err(_) => String::new(),
        };
        rows.push(RowData { hook: hook.clone(), secret, last, buckets: Buckets::from_logs(&recent, now) });
    }
    let total_pages = list.total_pages();
    let number = list.page.number as u64;
    let content = html! {
        div.page-head {
            h1 { "Webhooks" span.sub { (app.name) } }
            a.button.primary #add-webhook href=(format!("/ui/webhooks/new?app={}", enc(&app.id))) { "Add webhook" }
        }
        @if rows.is_empty() {
            div.empty {
                p { "This application has no webhooks yet." }
                p { "We recommend registering a webhook inactive and using Ping to check your endpoint before turning it on." }
            }
        } @else {
            table.webhooks.responsive {
                caption.visually-hidden { "Webhooks of " (app.name) }
                thead { tr {
                    th scope="col" { "URL" } th scope="col" { "Topics" } th scope="col" { "Customers" }
                    th scope="col" { "Status" } th scope="col" { "Last delivery" } th scope="col" { "Last 24 hours" }
                    th scope="col" { span.visually-hidden { "Details" } }
                } }
                @for r in &rows {
                    (row(&ctx, &app, r, &names, q.open.as_deref() == Some(r.hook.id.as_str())))
                }
            }
            @if total_pages > 1 {
                nav.pager aria-label="Pages" {
                    @if number > 1 { a href=(format!("/ui/webhooks?app={}&page={}", enc(&app.id), number - 1)) { "← Previous" } }
                    span { "Page " (number) " of " (total_pages) }
                    @if number < total_pages { a href=(format!("/ui/webhooks?app={}&page={}", enc(&app.id), number + 1)) { "Next →" } }
                }
            }
        }
    };
    Ok(page(&ctx, Nav::Webhooks, "Webhooks", "/ui/webhooks", content))
}

fn customers_text(ids: &[String], names: &HashMap<String, Option<String>>) -> Vec<String> {
    if ids.is_empty() {
        return vec![ALL_CUSTOMERS.to_string()];
    }
    ids.iter().map(|c| customer_label(c, names.get(c).and_then(|n| n.as_deref()))).collect()
}

fn status(hook: &WebhookOut) -> Markup {
    html! {
        @if !hook.active {
            @if let Some(reason) = &hook.disabled_reason {
                span.status.off title=(reason) { "Disabled" }
                div.small { (reason) }
            } @else {
                span.status.off { "Inactive" }
            }
        } @else if let Some(since) = &hook.failing_since {
            span.status.warn { "Failing" }
            div.small { "since " (show_time(since)) }
        } @else {
            span.status.on { "Active" }
        }
    }
}

fn row(ctx: &Ctx, app: &AppOut, r: &RowData, names: &HashMap<String, Option<String>>, open: bool) -> Markup {
    let h = &r.hook;
    let details = format!("details-{}", h.id);
    let customers = customers_text(&h.customer_ids, names);
    const SHOWN: usize = 3;
    html! {
        tbody.webhook data-id=(h.id) data-url=(h.url) {
            tr.summary {
                td data-label="URL" {
                    span.url { (h.url) }
                    @if let Some(d) = h.description.as_deref().filter(|d| !d.is_empty()) { div.small { (d) } }
                    @if h.ordered { div.small { span.chip.ordered title="Each entity's events one at a time, in order" { "Ordered" } } }
                }
                td data-label="Topics" title=(h.topic_ids.join(", ")) {
                    @for t in h.topic_ids.iter().take(SHOWN) { code.chip { (t) } " " }
                    @if h.topic_ids.len() > SHOWN { span.more { "+" (h.topic_ids.len() - SHOWN) " more" } }
                }
                td.customers data-label="Customers" { (customers.join(", ")) }
                td data-label="Status" { (status(h)) }
                td.last data-label="Last delivery" {
                    @match &r.last {
                        Some(l) => {
                            (outcome_badge(&l.outcome, l.status_code))
                            div.small { (l.duration_ms) " ms · " (show_time(&l.time_stamp)) }
                        }
                        None => span.small { "Never" }
                    }
                }
                td data-label="Last 24 hours" { (chart::svg(&r.buckets)) }
                td.toggle-cell {
                    button.toggle.secondary type="button" aria-expanded=(open) aria-controls=(details)
                        data-toggle=(details) { "Details" span.visually-hidden { " of " (h.url) } }
                }
            }
            tr.details #(details) hidden[!open] {
                td colspan="7" { (details_panel(ctx, app, r, &customers)) }
            }
        }
    }
}

fn details_panel(ctx: &Ctx, app: &AppOut, r: &RowData, customers: &[String]) -> Markup {
    let h = &r.hook;
    let secret_id = format!("secret-{}", h.id);
    let ping_id = format!("ping-topic-{}", h.id);
    html! {
        div.detail-grid {
            section {
                h2.h3 { "Settings" }
                dl.props {
                    dt { "Id" } dd { code { (h.id) } }
                    dt { "Topics" } dd { (h.topic_ids.join(", ")) }
                    dt { "Customers" } dd { (customers.join(", ")) }
                    dt { "Active" } dd { (if h.active { "Yes" } else { "No" }) }
                    dt { "eTag-only changes" } dd { (if h.ignore_etag_only_changes { "Ignored" } else { "Sent" }) }
                    dt { "Order" } dd { (if h.ordered { "Per entity, in the order accepted" } else { "None (fastest)" }) }
                    dt { "Rate limit" } dd { (h.rate_limit.map_or("None".to_string(), |r| format!("{r} per second"))) }
                    dt { "Payload filter" } dd {
                        @match &h.filter {
                            None => "None",
                            Some(f) => pre.code.filter { (serde_json::to_string_pretty(f).unwrap_or_default()) },
                        }
                    }
                    dt { "Created" } dd { (show_time(&h.created)) }
                    dt { "Modified" } dd { (show_time(&h.modified)) }
                }
                div.actions {
                    a.button.secondary href=(format!("/ui/webhooks/{}/edit", h.id)) { "Edit" }
                    a.button.secondary href=(format!("/ui/logs?app={}&webhook={}", enc(&app.id), h.id)) { "Logs" }
                    a.button.danger href=(format!("/ui/webhooks/{}/delete", h.id)) { "Delete" }
                }
            }
            section {
                h2.h3 { "Ping" }
                form.inline method="post" action=(format!("/ui/webhooks/{}/ping", h.id)) {
                    (ctx.csrf())
                    label for=(ping_id) { "Topic" }
                    select #(ping_id) name="topicId" {
                        @for t in &h.topic_ids { option value=(t) { (t) } }
                    }
                    button.secondary type="submit" { "Send ping" }
                }
                h2.h3 { "Signing secret" }
                div.secret-row {
                    label.visually-hidden for=(secret_id) { "Signing secret" }
                    input.secret #(secret_id) type="password" readonly value=(r.secret) autocomplete="off";
                    button.secondary type="button" data-reveal=(secret_id) aria-pressed="false" { "Show" }
                    button.secondary type="button" data-copy=(secret_id) { "Copy" }
                }
                form.inline method="post" action=(format!("/ui/webhooks/{}/secret/rotate", h.id)) {
                    (ctx.csrf())
                    button.secondary type="submit" { "Rotate secret" }
                    span.small { "The old secret keeps signing beside the new one for 24 hours." }
                }
            }
        }
    }
}

/// The page shown when there is no application to show.
pub fn no_app(ctx: &Ctx) -> Markup {
    page(
        ctx,
        Nav::Webhooks,
        "Webhooks",
        "/ui/webhooks",
        html! {
            h1 { "Webhooks" }
            div.empty {
                p { "There is no application yet. Create one with " code { "POST /apps" } " (admin token), then come back." }
            }
        },
    )
}
