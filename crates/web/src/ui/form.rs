//! The Add and Edit webhook form. Validation is the service's: the form becomes the API's typed input
//! (`WebhookIn` / `WebhookPatch`) and is sent to `create_webhook` / `update_webhook`; field errors come back and are
//! shown next to their fields. The payload filter's "Test filter" button posts the same form without saving it: the
//! form comes back with the result of testing the filter against the chosen topic's example payload.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::{WebhookId, SANDBOX_CUSTOMER};
use herald_service::input::str_list;
use herald_service::models::{AppOut, InstallationOut, WebhookOut};
use herald_service::{
    Field, FilterTestIn, FilterTestOut, Principal, ServiceError, WebhookIn, WebhookOptions, WebhookPatch, WebhookScope,
};
use maud::html;
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::layout::{customer_label, error_id, field_errors, page, Ctx, Nav, ALL_CUSTOMERS};
use super::session::{FormData, Posted, Ui};
use super::{app_topics, context, enc, manage};
use crate::AppState;

/// The value of the "All customers" choice.
const ALL: &str = "*";

/// What the form shows: a webhook's settings as typed.
#[derive(Debug, Clone)]
struct Values {
    url: String,
    description: String,
    topics: Vec<String>,
    customers: Vec<String>,
    active: bool,
    ignore_etag: bool,
    ordered: bool,
    /// Attempts per second at most, as typed; empty: no limit.
    rate_limit: String,
    /// The payload filter as JSON text; empty for none.
    filter: String,
    /// What the "Test filter" button found, shown under the filter.
    tested: Option<Tested>,
}

impl Values {
    fn new_webhook() -> Self {
        Values {
            url: String::new(),
            description: String::new(),
            topics: Vec::new(),
            customers: Vec::new(),
            active: true,
            ignore_etag: true,
            ordered: false,
            rate_limit: String::new(),
            filter: String::new(),
            tested: None,
        }
    }

    fn of(h: &WebhookOut) -> Self {
        Values {
            url: h.url.clone(),
            description: h.description.clone().unwrap_or_default(),
            topics: h.topic_ids.clone(),
            customers: h.customer_ids.clone(),
            active: h.active,
            ignore_etag: h.ignore_etag_only_changes,
            ordered: h.ordered,
            rate_limit: h.rate_limit.map(|r| r.to_string()).unwrap_or_default(),
            filter: h.filter.as_ref().and_then(|f| serde_json::to_string_pretty(f).ok()).unwrap_or_default(),
            tested: None,
        }
    }

    fn from_form(f: &FormData) -> Self {
        Values {
            url: f.get("url").unwrap_or_default().trim().to_string(),
            description: f.get("description").unwrap_or_default().trim().to_string(),
            topics: f.all("topicIds"),
            customers: f.all("customerIds"),
            active: f.has("active"),
            ignore_etag: f.has("ignoreEtagOnlyChanges"),
            ordered: f.has("ordered"),
            rate_limit: f.get("rateLimit").unwrap_or_default().trim().to_string(),
            filter: f.get("filter").unwrap_or_default().trim().to_string(),
            tested: None,
        }
    }

    /// The settings as the API takes them (contract §5.1). "All customers", alone, is the empty list; an empty
    /// description is none.
    fn patch(&self) -> WebhookPatch {
        WebhookPatch {
            url: self.url.clone().into(),
            description: Some(self.description.clone()).filter(|d| !d.is_empty()).into(),
            topic_ids: str_list(self.topics.iter().cloned()),
            customer_ids: str_list(self.customers.iter().filter(|c| *c != ALL).cloned()),
            active: self.active.into(),
            ignore_etag_only_changes: self.ignore_etag.into(),
            options: WebhookOptions {
                ordered: self.ordered.into(),
                filter: self.filter_field(),
                // Empty: no limit; not a whole number: the API's own message for the field.
                rate_limit: match self.rate_limit.as_str() {
                    "" => Field::Null,
                    text => text.parse::<i64>().map_or(Field::Invalid, Field::Given),
                },
            },
        }
    }

    /// The filter as the API takes it: none when the box is empty (on Edit, that removes it); text that is not a
    /// JSON object is `Invalid` (`form_errors` has said why already).
    fn filter_field(&self) -> Field<serde_json::Map<String, serde_json::Value>> {
        if self.filter.is_empty() {
            return Field::Null;
        }
        match serde_json::from_str(&self.filter) {
            Ok(serde_json::Value::Object(schema)) => Field::Given(schema),
            _ => Field::Invalid,
        }
    }

    /// A new webhook of the application.
    fn new_in(&self, application_id: &str) -> WebhookIn {
        WebhookIn::from_patch(Field::Given(application_id.to_string()), self.patch())
    }
}

/// Errors by form field (`topicIds[2]` belongs to `topicIds`); those of no field are under "".
type Errors = BTreeMap<String, Vec<String>>;

fn group(errors: Vec<herald_domain::FieldError>) -> Errors {
    let mut out = Errors::new();
    for e in errors {
        let field = e.field.split(['[', '.']).next().unwrap_or_default().to_string();
        let known = [
            "url",
            "description",
            "topicIds",
            "customerIds",
            "active",
            "ignoreEtagOnlyChanges",
            "ordered",
            "rateLimit",
            "filter",
        ];
        let key = if known.contains(&field.as_str()) { field } else { String::new() };
        let msg = if e.field.is_empty() || key.is_empty() { format!("{}: {}", e.field, e.message) } else { e.message };
        out.entry(key).or_default().push(msg);
    }
    out
}

/// A rule of the form itself (not of webhooks): "All customers" cannot be combined with named customers.
fn form_errors(v: &Values) -> Errors {
    let mut out = Errors::new();
    if v.customers.iter().any(|c| c == ALL) && v.customers.len() > 1 {
        out.entry("customerIds".into())
            .or_default()
            .push("choose either All customers or particular customers, not both".into());
    }
    if !v.filter.is_empty() {
        match serde_json::from_str::<serde_json::Value>(&v.filter) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => out.entry("filter".into()).or_default().push("must be a JSON object (a JSON Schema)".into()),
            Err(e) => out.entry("filter".into()).or_default().push(format!("is not valid JSON: {e}")),
        }
    }
    out
}

/// The outcome of the "Test filter" button: the topic whose example payload was tested, and the answer.
#[derive(Debug, Clone)]
struct Tested {
    topic: String,
    out: FilterTestOut,
}

/// Tests the form's filter against the example payload of the topic chosen beside it (the first of the webhook's
/// topics by default), when the "Test filter" button sent the form; `Err` holds the errors to show instead.
fn test_filter(s: &AppState, who: &Principal, form: &FormData, v: &Values) -> Result<Option<Tested>, Errors> {
    if !form.has("testFilter") {
        return Ok(None);
    }
    let mut errors = form_errors(v);
    errors.retain(|k, _| k == "filter");
    if v.filter.is_empty() {
        errors.entry("filter".into()).or_default().push("is empty: write a JSON Schema to test".into());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let topic = form.text("filterTopic").filter(|t| !t.is_empty()).or_else(|| v.topics.first().cloned());
    let Some(topic) = topic else {
        return Err(Errors::from([("filter".to_string(), vec!["choose a topic to test the filter with".to_string()])]));
    };
    let input =
        FilterTestIn { filter: v.filter_field(), payload: Field::Absent, topic_id: Field::Given(topic.clone()) };
    match s.herald.test_filter(who, input) {
        Ok(out) => Ok(Some(Tested { topic, out })),
        Err(ServiceError::Validation(e)) => {
            // Every error of a test is about the filter (the topic comes from a list).
            Err(Errors::from([("filter".to_string(), e.into_iter().map(|e| e.message).collect())]))
        }
        Err(e) => Err(Errors::from([("".to_string(), vec![e.to_string()])])),
    }
}

async fn installed(s: &AppState, who: &Principal, app: &AppOut) -> UiResult<Vec<InstallationOut>> {
    let id = app.id.parse().map_err(|_| UiError::not_found("application"))?;
    Ok(s.herald.installed_customers(who, id).await?)
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    app: Option<String>,
}

pub async fn new_form(State(s): State<AppState>, ui: Ui, Query(q): Query<NewQuery>) -> UiResult<Response> {
    let ctx = context(&s, ui, q.app.as_deref()).await?;
    let Some(app) = ctx.app.clone() else { return Ok(manage::no_app(&ctx).into_response()) };
    render(&s, &ctx, &app, None, &Values::new_webhook(), &Errors::new(), StatusCode::OK).await
}

pub async fn create(State(s): State<AppState>, Posted { ui, form }: Posted) -> UiResult<Response> {
    let ctx = context(&s, ui, form.get("app")).await?;
    let Some(app) = ctx.app.clone() else { return Ok(manage::no_app(&ctx).into_response()) };
    let mut values = Values::from_form(&form);
    match test_filter(&s, &ctx.ui.who, &form, &values) {
        Ok(Some(t)) => {
            values.tested = Some(t);
            return render(&s, &ctx, &app, None, &values, &Errors::new(), StatusCode::OK).await;
        }
        Ok(None) => {}
        Err(e) => return render(&s, &ctx, &app, None, &values, &e, StatusCode::UNPROCESSABLE_ENTITY).await,
    }
    let mut errors = form_errors(&values);
    if errors.is_empty() {
        match s.herald.create_webhook(&ctx.ui.who, &WebhookScope::All, values.new_in(&app.id)).await {
            Ok(out) => {
                ctx.ui.flash(true, format!("Webhook created for {}.", out.webhook.url)).await;
                return Ok(redirect_open(&app, &out.webhook.id));
            }
            Err(ServiceError::Validation(e)) => errors = group(e),
            Err(e) => return Err(e.into()),
        }
    }
    render(&s, &ctx, &app, None, &values, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
}

async fn load(s: &AppState, ui: Ui, id: &str) -> UiResult<(Ctx, AppOut, WebhookOut)> {
    let id: WebhookId = id.parse().map_err(|_| UiError::not_found("webhook"))?;
    let hook = s.herald.get_webhook(&ui.who, &WebhookScope::All, id).await?;
    let ctx = context(s, ui, Some(&hook.application_id)).await?;
    let app = ctx.app.clone().filter(|a| a.id == hook.application_id).ok_or_else(|| UiError::not_found("webhook"))?;
    Ok((ctx, app, hook))
}

pub async fn edit_form(State(s): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult<Response> {
    let (ctx, app, hook) = load(&s, ui, &id).await?;
    render(&s, &ctx, &app, Some(&hook), &Values::of(&hook), &Errors::new(), StatusCode::OK).await
}

pub async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Posted { ui, form }: Posted,
) -> UiResult<Response> {
    let (ctx, app, hook) = load(&s, ui, &id).await?;
    let mut values = Values::from_form(&form);
    match test_filter(&s, &ctx.ui.who, &form, &values) {
        Ok(Some(t)) => {
            values.tested = Some(t);
            return render(&s, &ctx, &app, Some(&hook), &values, &Errors::new(), StatusCode::OK).await;
        }
        Ok(None) => {}
        Err(e) => return render(&s, &ctx, &app, Some(&hook), &values, &e, StatusCode::UNPROCESSABLE_ENTITY).await,
    }
    let mut errors = form_errors(&values);
    if errors.is_empty() {
        let wid: WebhookId = hook.id.parse().map_err(|_| UiError::not_found("webhook"))?;
        match s.herald.update_webhook(&ctx.ui.who, &WebhookScope::All, wid, values.patch()).await {
            Ok(out) => {
                ctx.ui.flash(true, format!("Webhook {} saved.", out.url)).await;
                return Ok(redirect_open(&app, &out.id));
            }
            Err(ServiceError::Validation(e)) => errors = group(e),
            Err(e) => return Err(e.into()),
        }
    }
    render(&s, &ctx, &app, Some(&hook), &values, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
}

fn redirect_open(app: &AppOut, id: &str) -> Response {
    Redirect::to(&format!("/ui/webhooks?app={}&open={}#details-{}", enc(&app.id), enc(id), enc(id))).into_response()
}

fn described(field: &str, errors: &Errors) -> Option<String> {
    errors.get(field).map(|_| error_id(field))
}

async fn render(
    s: &AppState,
    ctx: &Ctx,
    app: &AppOut,
    hook: Option<&WebhookOut>,
    v: &Values,
    errors: &Errors,
    status: StatusCode,
) -> UiResult<Response> {
    let topics = app_topics(s, &ctx.ui.who, app).await?;
    let installed = installed(s, &ctx.ui.who, app).await?;
    let none = Vec::new();
    let err = |f: &str| errors.get(f).unwrap_or(&none);
    // Customers the webhook lists that no longer have an installation stay visible, so that saving shows why.
    let mut customers: Vec<(String, String)> =
        vec![(SANDBOX_CUSTOMER.to_string(), customer_label(SANDBOX_CUSTOMER, None))];
    customers.extend(
        installed.iter().map(|i| (i.customer_id.clone(), customer_label(&i.customer_id, i.customer_name.as_deref()))),
    );
    for c in &v.customers {
        if c != ALL && !customers.iter().any(|(id, _)| id == c) {
            customers.push((c.clone(), format!("{c} (no current installation)")));
        }
    }
    let all_checked = v.customers.is_empty() || v.customers.iter().any(|c| c == ALL);
    let (title, action, submit) = match hook {
        None => ("Add webhook".to_string(), "/ui/webhooks/new".to_string(), "Create webhook"),
        Some(h) => ("Edit webhook".to_string(), format!("/ui/webhooks/{}/edit", h.id), "Save changes"),
    };
    let content = html! {
        div.page-head { h1 { (title) span.sub { (app.name) } } }
        @if let Some(general) = errors.get("") {
            div.flash.fail role="alert" { @for e in general { p { (e) } } }
        }
        form #webhook-form.stack method="post" action=(action) novalidate {
            (ctx.csrf())
            input type="hidden" name="app" value=(app.id);
            // Enter in a field submits with the form's first submit button: this one saves, as #submit does, and
            // the "Test filter" button further down is never the default.
            button.visually-hidden type="submit" tabindex="-1" aria-hidden="true" { (submit) }
            div.field.invalid[errors.contains_key("url")] {
                label for="url" { "URL" }
                input #url type="url" name="url" value=(v.url) inputmode="url" placeholder="https://example.com/webhooks"
                    required aria-invalid=[errors.get("url").map(|_| "true")] aria-describedby=[described("url", errors)];
                p.hint { "The endpoint that receives each event as an HTTP POST; it must use https." }
                (field_errors("url", err("url")))
            }
            div.field.invalid[errors.contains_key("description")] {
                label for="description" { "Description " span.small { "(optional)" } }
                input #description type="text" name="description" value=(v.description)
                    aria-describedby=[described("description", errors)];
                (field_errors("description", err("description")))
            }
            fieldset.field.picker-box.invalid[errors.contains_key("topicIds")] aria-describedby=[described("topicIds", errors)] {
                legend { "Topics" }
                p.hint { "Only topics your application's scopes allow are listed." }
                (field_errors("topicIds", err("topicIds")))
                label.visually-hidden for="topic-search" { "Search topics" }
                input #topic-search.search type="search" placeholder="Search topics" data-filter="topic-list" autocomplete="off";
                p.small aria-live="polite" data-count="topic-list" {}
                ul #topic-list.options {
                    @for t in &topics {
                        @let id = format!("topic-{}", t.id.replace('.', "-"));
                        li.option {
                            input #(id) type="checkbox" name="topicIds" value=(t.id) checked[v.topics.contains(&t.id)];
                            label for=(id) { code { (t.id) } span.desc { (t.description) } }
                        }
                    }
                }
            }
            fieldset.field.picker-box.invalid[errors.contains_key("customerIds")] aria-describedby=[described("customerIds", errors)] {
                legend { "Customers" }
                p.hint { "All customers means every customer with an installation of your application, now and later, but not the sandbox." }
                (field_errors("customerIds", err("customerIds")))
                ul #customer-list.options data-exclusive=(ALL) {
                    li.option {
                        input #customer-all type="checkbox" name="customerIds" value=(ALL) checked[all_checked];
                        label for="customer-all" { (ALL_CUSTOMERS) }
                    }
                    @for (i, (id, label)) in customers.iter().enumerate() {
                        @let input_id = format!("customer-{i}");
                        li.option {
                            input #(input_id) type="checkbox" name="customerIds" value=(id) checked[v.customers.contains(id)];
                            label for=(input_id) { (label) }
                        }
                    }
                }
            }
            div.field.check {
                input #active type="checkbox" name="active" value="true" checked[v.active] role="switch";
                label for="active" { "Active" }
                (field_errors("active", err("active")))
            }
            div.field.check {
                input #ignoreEtagOnlyChanges type="checkbox" name="ignoreEtagOnlyChanges" value="true" checked[v.ignore_etag];
                label for="ignoreEtagOnlyChanges" { "Ignore notifications where only the eTag has been modified" }
                (field_errors("ignoreEtagOnlyChanges", err("ignoreEtagOnlyChanges")))
            }
            div.field.check {
                input #ordered type="checkbox" name="ordered" value="true" checked[v.ordered];
                label for="ordered" { "Deliver each entity's events in order (one at a time per entity, with a herald-entity-sequence header)" }
                (field_errors("ordered", err("ordered")))
            }
            div.field.invalid[errors.contains_key("rateLimit")] {
                label for="rateLimit" { "Rate limit " span.small { "(attempts per second, 1 to 10,000; empty: no limit)" } }
                input #rateLimit type="number" min="1" max="10000" step="1" name="rateLimit" value=(v.rate_limit)
                    aria-describedby=[described("rateLimit", errors)];
                (field_errors("rateLimit", err("rateLimit")))
            }
            div.field.invalid[errors.contains_key("filter")] {
                label for="filter" { "Payload filter " span.small { "(optional)" } }
                p.hint #filter-hint {
                    "A JSON Schema (draft 2020-12) that an event's payload must satisfy for this webhook to receive it. "
                    "Leave it empty to receive every event of its topics. For example, only contacts whose mobile phone changed: "
                    code { r#"{"properties": {"diff": {"required": ["mobilePhone"]}}, "required": ["diff"]}"# }
                }
                textarea #filter.code name="filter" rows="8" spellcheck="false"
                    aria-invalid=[errors.get("filter").map(|_| "true")]
                    aria-describedby=(described("filter", errors).unwrap_or_else(|| "filter-hint".into())) { (v.filter) }
                (field_errors("filter", err("filter")))
                div #filter-test.filter-test {
                    label for="filterTopic" { "Test against the example payload of" }
                    @let chosen = v.tested.as_ref().map(|t| t.topic.as_str()).or(v.topics.first().map(String::as_str));
                    select #filterTopic name="filterTopic" {
                        @for t in &topics {
                            option value=(t.id) selected[chosen == Some(t.id.as_str())] { (t.id) }
                        }
                    }
                    button.secondary #test-filter type="submit" name="testFilter" value="1" formnovalidate
                        formaction=(format!("{action}#filter-test")) { "Test filter" }
                }
                @if let Some(t) = &v.tested {
                    @if t.out.matches {
                        p #filter-result.flash.ok role="status" {
                            strong { "Match" } ": the example payload of " code { (t.topic) } " satisfies the filter."
                        }
                    } @else {
                        div #filter-result.flash.fail role="status" {
                            p { strong { "No match" } ": the example payload of " code { (t.topic) } " does not satisfy the filter." }
                            @if let Some(first) = t.out.errors.first() {
                                p { @if !first.path.is_empty() { code { (first.path) } ": " } (first.message) }
                            }
                        }
                    }
                }
            }
            div.actions {
                button.primary #submit type="submit" { (submit) }
                a.button.secondary href="/ui/webhooks" { "Cancel" }
            }
        }
    };
    let here = match hook {
        None => "/ui/webhooks/new",
        Some(_) => "/ui/webhooks",
    };
    Ok((status, page(ctx, Nav::Webhooks, &title, here, content)).into_response())
}
