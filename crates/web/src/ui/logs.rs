//! The Logs page: filters (date range, default the last 7 days; topic; entity id; event id; webhook; status), the
//! attempts that match, newest first, and the same list as CSV.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use herald_service::models::{AppOut, LogOut};
use herald_service::{LogQuery, ServiceError, WebhookListQuery, WebhookScope};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::UiResult;
use super::layout::{field_errors, outcome_badge, page, show_time, Ctx, Nav};
use super::session::Ui;
use super::{app_topics, context, enc, manage};
use crate::AppState;

/// How many attempts the page lists, and the CSV export holds at most.
const PAGE_LIMIT: usize = 200;
const CSV_LIMIT: usize = 1000;

/// The filters as the form sends them.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filters {
    app: Option<String>,
    from: Option<String>,
    to: Option<String>,
    topic: Option<String>,
    entity: Option<String>,
    event: Option<String>,
    webhook: Option<String>,
    status: Option<String>,
}

fn trimmed(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

impl Filters {
    /// The dates shown in the form: as given, else the last 7 days.
    fn dates(&self) -> (String, String) {
        let today = Utc::now().date_naive();
        (
            trimmed(&self.from).unwrap_or_else(|| (today - Duration::days(7)).to_string()),
            trimmed(&self.to).unwrap_or_else(|| today.to_string()),
        )
    }

    /// The service's query, or errors by form field for dates that are not dates.
    fn query(&self, app: &AppOut, limit: usize) -> Result<LogQuery, Vec<(String, String)>> {
        let (from, to) = self.dates();
        let mut errors = Vec::new();
        let mut day = |field: &str, text: &str, add: i64| match day_start(text, add) {
            Ok(start) => Some(start),
            Err(message) => {
                errors.push((field.to_string(), message.to_string()));
                None
            }
        };
        // `to` is inclusive: the whole of that day.
        let from = day("from", &from, 0);
        let to = day("to", &to, 1);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(LogQuery {
            application_id: Some(app.id.clone()),
            from,
            to,
            topic_id: trimmed(&self.topic),
            entity_id: trimmed(&self.entity),
            event_id: trimmed(&self.event),
            webhook_id: trimmed(&self.webhook),
            status: trimmed(&self.status),
            limit: Some(limit.to_string()),
            ..LogQuery::default()
        })
    }

    /// The query string of these filters (for the CSV link).
    fn query_string(&self, app: &AppOut) -> String {
        let (from, to) = self.dates();
        let mut pairs = vec![("app", app.id.clone()), ("from", from), ("to", to)];
        for (k, v) in [
            ("topic", &self.topic),
            ("entity", &self.entity),
            ("event", &self.event),
            ("webhook", &self.webhook),
            ("status", &self.status),
        ] {
            if let Some(v) = trimmed(v) {
                pairs.push((k, v));
            }
        }
        pairs.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&")
    }
}

/// `YYYY-MM-DD` plus `add` days, as the RFC 3339 start of that day; or why the text is not such a day. Only the
/// years 0001 to 9999 are taken (RFC 3339 writes four digits; chrono would parse years up to 262142, whose next day
/// does not exist). The day after 9999-12-31 is its last microsecond.
fn day_start(text: &str, add: i64) -> Result<String, &'static str> {
    let d = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| "must be a date (YYYY-MM-DD)")?;
    if !(1..=9999).contains(&d.year()) {
        return Err("must be a date from 0001-01-01 to 9999-12-31");
    }
    match d.checked_add_signed(Duration::days(add)).filter(|day| day.year() <= 9999) {
        Some(day) => Ok(format!("{}T00:00:00Z", day.format("%Y-%m-%d"))),
        None => Ok("9999-12-31T23:59:59.999999Z".to_string()),
    }
}

/// The form field of a service error's field.
fn form_field(service_field: &str) -> &'static str {
    match service_field {
        "from" => "from",
        "to" => "to",
        "topicId" => "topic",
        "entityId" => "entity",
        "eventId" => "event",
        "webhookId" => "webhook",
        "status" => "status",
        _ => "",
    }
}

async fn run(
    s: &AppState,
    ctx: &Ctx,
    app: &AppOut,
    f: &Filters,
    limit: usize,
) -> UiResult<Result<Vec<LogOut>, Vec<(String, String)>>> {
    let q = match f.query(app, limit) {
        Ok(q) => q,
        Err(errors) => return Ok(Err(errors)),
    };
    match s.herald.list_logs(&ctx.ui.who, &q).await {
        Ok(page) => Ok(Ok(page.records)),
        Err(ServiceError::Validation(e)) => {
            Ok(Err(e.into_iter().map(|e| (form_field(&e.field).to_string(), e.message)).collect()))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn show(State(s): State<AppState>, ui: Ui, Query(f): Query<Filters>) -> UiResult<Response> {
    let ctx = context(&s, ui, f.app.as_deref()).await?;
    let Some(app) = ctx.app.clone() else { return Ok(manage::no_app(&ctx).into_response()) };
    let result = run(&s, &ctx, &app, &f, PAGE_LIMIT).await?;
    let topics = app_topics(&s, &ctx.ui.who, &app).await?;
    let hooks = s
        .herald
        .list_webhooks(
            &ctx.ui.who,
            &WebhookScope::All,
            &WebhookListQuery {
                application_id: Some(app.id.clone()),
                page_size: Some("100".into()),
                ..Default::default()
            },
        )
        .await?
        .items;
    let (from, to) = f.dates();
    let errors: Vec<(String, String)> = result.as_ref().err().cloned().unwrap_or_default();
    let err =
        |field: &str| -> Vec<String> { errors.iter().filter(|(k, _)| k == field).map(|(_, m)| m.clone()).collect() };
    let text = |id: &str, label: &str, value: &Option<String>, kind: &str| {
        let e = err(id);
        html! {
            div.field.invalid[!e.is_empty()] {
                label for=(id) { (label) }
                input #(id) type=(kind) name=(id) value=[value.as_deref()] aria-invalid=[(!e.is_empty()).then_some("true")]
                    aria-describedby=[(!e.is_empty()).then(|| super::layout::error_id(id))];
                (field_errors(id, &e))
            }
        }
    };
    let status = trimmed(&f.status).unwrap_or_default();
    let topic = trimmed(&f.topic).unwrap_or_default();
    let webhook = trimmed(&f.webhook).unwrap_or_default();
    let content = html! {
        div.page-head {
            h1 { "Logs" span.sub { (app.name) } }
            a.button.secondary #export-csv href=(format!("/ui/logs/export.csv?{}", f.query_string(&app))) download { "Export CSV" }
        }
        form #log-filters.filters method="get" action="/ui/logs" {
            input type="hidden" name="app" value=(app.id);
            (text("from", "From (UTC)", &Some(from.clone()), "date"))
            (text("to", "To (UTC)", &Some(to.clone()), "date"))
            div.field {
                label for="topic" { "Topic" }
                select #topic name="topic" {
                    option value="" { "Any topic" }
                    @for t in &topics { option value=(t.id) selected[t.id == topic] { (t.id) } }
                }
                (field_errors("topic", &err("topic")))
            }
            (text("entity", "Entity id", &f.entity, "text"))
            (text("event", "Event id", &f.event, "text"))
            div.field.invalid[!err("webhook").is_empty()] {
                label for="webhook" { "Webhook" }
                select #webhook name="webhook" {
                    option value="" { "Any webhook" }
                    @for h in &hooks { option value=(h.id) selected[h.id == webhook] { (h.url) } }
                }
                (field_errors("webhook", &err("webhook")))
            }
            div.field {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="" { "Any status" }
                    option value="success" selected[status == "success"] { "Success" }
                    option value="failure" selected[status == "failure"] { "Failure" }
                }
                (field_errors("status", &err("status")))
            }
            div.actions {
                button.primary #apply-filters type="submit" { "Apply filters" }
                a.button.secondary href=(format!("/ui/logs?app={}", enc(&app.id))) { "Reset" }
            }
        }
        @match &result {
            Err(_) => { div.flash.fail role="alert" { "Correct the filters marked above." } }
            Ok(logs) if logs.is_empty() => { div.empty #no-logs { p { "No attempts match these filters." } } }
            Ok(logs) => {
                p.small { (logs.len()) " attempt(s), newest first"
                    @if logs.len() == PAGE_LIMIT { " (the newest " (PAGE_LIMIT) "; narrow the filters or export CSV for more)" } }
                (table(logs))
            }
        }
    };
    let status = if result.is_err() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, page(&ctx, Nav::Logs, "Logs", "/ui/logs", content)).into_response())
}

fn table(logs: &[LogOut]) -> Markup {
    html! {
        table #log-table.logs.responsive {
            caption.visually-hidden { "Delivery attempts" }
            thead { tr {
                th scope="col" { "Time" } th scope="col" { "URL" } th scope="col" { "Topic" } th scope="col" { "Entity" }
                th scope="col" { "Customer" } th scope="col" { "Attempt" } th scope="col" { "Status" } th scope="col" { "Duration" }
            } }
            tbody {
                @for l in logs {
                    @let href = format!("/ui/logs/attempt?delivery={}&attempt={}", enc(&l.delivery_id), l.attempt);
                    tr.log-row data-href=(href) data-delivery=(l.delivery_id) data-event=(l.event_id) {
                        td data-label="Time" { a href=(href) { (show_time(&l.time_stamp)) } }
                        td.url data-label="URL" { (l.url) }
                        td data-label="Topic" { code { (l.topic_id) } }
                        td data-label="Entity" { (l.entity_id.as_deref().unwrap_or("—")) }
                        td data-label="Customer" { (l.customer_id) }
                        td data-label="Attempt" { (l.attempt) }
                        td data-label="Status" { (outcome_badge(&l.outcome, l.status_code)) }
                        td data-label="Duration" { (l.duration_ms) " ms" }
                    }
                }
            }
        }
    }
}

/// One CSV field: quoted when needed; a leading formula character is neutralised for spreadsheets.
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_string() };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

pub fn csv(logs: &[LogOut]) -> String {
    let mut out = String::from(
        "timeStamp,webhookId,deliveryId,url,topicId,customerId,entityId,eventId,attempt,statusCode,outcome,durationMs,error\r\n",
    );
    for l in logs {
        let row = [
            l.time_stamp.clone(),
            l.webhook_id.clone(),
            l.delivery_id.clone(),
            l.url.clone(),
            l.topic_id.clone(),
            l.customer_id.clone(),
            l.entity_id.clone().unwrap_or_default(),
            l.event_id.clone(),
            l.attempt.to_string(),
            l.status_code.map(|c| c.to_string()).unwrap_or_default(),
            l.outcome.clone(),
            l.duration_ms.to_string(),
            l.error.clone().unwrap_or_default(),
        ];
        out.push_str(&row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

pub async fn export_csv(State(s): State<AppState>, ui: Ui, Query(f): Query<Filters>) -> UiResult<Response> {
    let ctx = context(&s, ui, f.app.as_deref()).await?;
    let Some(app) = ctx.app.clone() else { return Ok(manage::no_app(&ctx).into_response()) };
    match run(&s, &ctx, &app, &f, CSV_LIMIT).await? {
        Ok(logs) => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"herald-logs.csv\"".to_string()),
            ],
            csv(&logs),
        )
            .into_response()),
        Err(errors) => {
            let msg: Vec<String> = errors.iter().map(|(k, m)| format!("{k}: {m}")).collect();
            Err(super::error::UiError::page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The filters are not valid",
                msg.join("; "),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{csv_field, day_start, Filters, PAGE_LIMIT};
    use herald_service::models::AppOut;

    fn app() -> AppOut {
        AppOut {
            id: "0190a0e0-0000-7000-8000-000000000000".into(),
            client_id: "c".into(),
            name: "n".into(),
            scopes: vec![],
            created: "2026-01-01T00:00:00Z".into(),
            modified: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn days_outside_the_four_digit_years_are_a_field_error_not_a_panic() {
        assert_eq!(day_start("2026-01-31", 1), Ok("2026-02-01T00:00:00Z".into()));
        assert_eq!(day_start("9999-12-31", 1), Ok("9999-12-31T23:59:59.999999Z".into()));
        for text in ["+262142-12-31", "-262143-01-01", "0000-01-01", "+10000-01-01"] {
            assert_eq!(day_start(text, 1), Err("must be a date from 0001-01-01 to 9999-12-31"), "{text}");
        }
        assert_eq!(day_start("2026-02-30", 0), Err("must be a date (YYYY-MM-DD)"));
        let f = Filters { to: Some("+262142-12-31".into()), ..Filters::default() };
        let errors = f.query(&app(), PAGE_LIMIT).unwrap_err();
        assert_eq!(errors, vec![("to".to_string(), "must be a date from 0001-01-01 to 9999-12-31".to_string())]);
    }

    proptest! {
        #[test]
        fn any_text_in_any_filter_never_panics(
            values in proptest::collection::vec(proptest::option::of(any::<String>()), 8),
            dates in proptest::collection::vec(proptest::option::of("[-+]?[0-9]{1,7}-[0-9]{1,2}-[0-9]{1,2}"), 2),
        ) {
            let v = |i: usize| values[i].clone();
            for (from, to) in [(v(1), v(2)), (dates[0].clone(), dates[1].clone())] {
                let f = Filters {
                    app: v(0), from, to, topic: v(3), entity: v(4), event: v(5), webhook: v(6), status: v(7),
                };
                let _ = f.dates();
                let _ = f.query(&app(), PAGE_LIMIT);
                let _ = f.query_string(&app());
            }
        }
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
    }
}
