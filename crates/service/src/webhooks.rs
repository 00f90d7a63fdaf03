//! Webhooks (contract §5.1) and their `/resthooks` view (§5.6): one set of rules, two scopes.

use herald_domain::signature::WebhookSecret;
use herald_domain::{topics, ApplicationId, WebhookId, SANDBOX_CUSTOMER};
use herald_store::{ApplicationRecord, Page, StoreError, WebhookFilter, WebhookRecord};
use serde::Deserialize;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::ToSchema;

use serde_json::{Map, Value};

use crate::filters::{filter_schema, read_filter};
use crate::input::{customer_id_list, or_null, topic_id, Errors, Field, StrList, NO_NUL};
use crate::models::{WebhookCreatedOut, WebhookOut};
use crate::paging::Paged;
use crate::*;

pub const URL_MAX: usize = 300;
pub const DESCRIPTION_MAX: usize = 500;

/// A webhook's settings beyond the seed's (contract §9), the same in every webhook body: create, update and
/// `/resthooks`, each of which flattens it in. A new webhook feature adds its field here, once, with its rules in
/// `read_webhook_fields`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookOptionsModel, rename_all = "camelCase")]
pub struct WebhookOptions {
    /// Default `false`. When `true`, each entity's deliveries are attempted one after the other, in the order
    /// Herald accepted its changes, each with a `herald-entity-sequence` header (1, 2, 3, … per entity); other
    /// entities keep flowing. Applies to deliveries created after the change.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub ordered: Field<bool>,
    /// A payload filter: a JSON Schema the event's payload must satisfy (contract §9.2).
    #[serde(default)]
    #[schema(schema_with = filter_schema)]
    pub filter: Field<Map<String, Value>>,
    /// At most this many attempts per second to the webhook, over all nodes (1 to 10,000); `null`: no limit (the
    /// default). Deliveries beyond it wait, spending no attempt (contract §9.3).
    #[serde(default)]
    #[schema(schema_with = rate_limit_schema)]
    pub rate_limit: Field<i64>,
}

/// `POST /webhooks/subscriptions` (`CreateWebhookModel` of Reapit's webhooks service).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreateWebhookModel, rename_all = "camelCase")]
pub struct WebhookIn {
    /// Herald's application id; an application key may name only its own application.
    #[serde(default)]
    #[schema(value_type = String, format = Uuid, required = true)]
    pub application_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = url_schema, required = true)]
    pub url: Field<String>,
    #[serde(default)]
    #[schema(schema_with = description_schema)]
    pub description: Field<String>,
    /// Known topics whose scope the application holds, each once.
    #[serde(default)]
    #[schema(schema_with = topic_ids, required = true)]
    pub topic_ids: StrList,
    /// `SBOX` or customers with a current installation of the application, each once. Absent or `[]`: every
    /// installed customer except the sandbox.
    #[serde(default)]
    #[schema(schema_with = customer_ids)]
    pub customer_ids: StrList,
    /// Default `true`.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub active: Field<bool>,
    /// Default `true`: modifications whose only changes are `_eTag` and `modified` are not sent.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub ignore_etag_only_changes: Field<bool>,
    /// The settings beyond the seed's, the same in every webhook body.
    #[serde(flatten)]
    pub options: WebhookOptions,
}

/// `PUT /webhooks/subscriptions/{id}` (`UpdateWebhookModel`): `url` and `topicIds` are required; an optional field
/// that is absent keeps its value (`description: null` clears the description).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UpdateWebhookModel, rename_all = "camelCase")]
pub struct WebhookPatch {
    #[serde(default)]
    #[schema(schema_with = url_schema, required = true)]
    pub url: Field<String>,
    #[serde(default)]
    #[schema(schema_with = description_schema)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(schema_with = topic_ids, required = true)]
    pub topic_ids: StrList,
    #[serde(default)]
    #[schema(schema_with = customer_ids)]
    pub customer_ids: StrList,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub active: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub ignore_etag_only_changes: Field<bool>,
    #[serde(flatten)]
    pub options: WebhookOptions,
}

/// `POST /resthooks`: the application is the key's, the customer the `reapit-customer` header's.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreateResthookModel, rename_all = "camelCase")]
pub struct ResthookIn {
    #[serde(default)]
    #[schema(schema_with = url_schema, required = true)]
    pub url: Field<String>,
    #[serde(default)]
    #[schema(schema_with = description_schema)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(schema_with = topic_ids, required = true)]
    pub topic_ids: StrList,
    /// Refused: the `reapit-customer` header names the customer.
    #[serde(default)]
    #[schema(ignore)]
    pub customer_ids: StrList,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub active: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub ignore_etag_only_changes: Field<bool>,
    #[serde(flatten)]
    pub options: WebhookOptions,
}

/// `PUT /resthooks/{id}`: as `PUT /webhooks/subscriptions/{id}`, without `customerIds`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UpdateResthookModel, rename_all = "camelCase")]
pub struct ResthookPatch {
    #[serde(default)]
    #[schema(schema_with = url_schema, required = true)]
    pub url: Field<String>,
    #[serde(default)]
    #[schema(schema_with = description_schema)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(schema_with = topic_ids, required = true)]
    pub topic_ids: StrList,
    /// Refused: the `reapit-customer` header names the customer.
    #[serde(default)]
    #[schema(ignore)]
    pub customer_ids: StrList,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub active: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub ignore_etag_only_changes: Field<bool>,
    #[serde(flatten)]
    pub options: WebhookOptions,
}

impl WebhookIn {
    /// A webhook of `application_id` with the settings of `patch`.
    pub fn from_patch(application_id: Field<String>, patch: WebhookPatch) -> Self {
        let WebhookPatch { url, description, topic_ids, customer_ids, active, ignore_etag_only_changes, options } =
            patch;
        WebhookIn {
            application_id,
            url,
            description,
            topic_ids,
            customer_ids,
            active,
            ignore_etag_only_changes,
            options,
        }
    }

    /// The settings, apart from the application.
    fn split(self) -> (Field<String>, WebhookPatch) {
        let WebhookIn {
            application_id,
            url,
            description,
            topic_ids,
            customer_ids,
            active,
            ignore_etag_only_changes,
            options,
        } = self;
        (
            application_id,
            WebhookPatch { url, description, topic_ids, customer_ids, active, ignore_etag_only_changes, options },
        )
    }
}

impl From<ResthookIn> for WebhookIn {
    fn from(r: ResthookIn) -> Self {
        let ResthookIn { url, description, topic_ids, customer_ids, active, ignore_etag_only_changes, options } = r;
        let patch =
            WebhookPatch { url, description, topic_ids, customer_ids, active, ignore_etag_only_changes, options };
        WebhookIn::from_patch(Field::Absent, patch)
    }
}

impl From<ResthookPatch> for WebhookPatch {
    fn from(r: ResthookPatch) -> Self {
        let ResthookPatch { url, description, topic_ids, customer_ids, active, ignore_etag_only_changes, options } = r;
        WebhookPatch { url, description, topic_ids, customer_ids, active, ignore_etag_only_changes, options }
    }
}

/// A webhook target: an absolute `https` URL (`http` too under `--allow-http-targets`) naming a DNS host or an IPv4
/// address, exactly the shape [`url_shape_error`] checks (IPv6 literals, user names and fragments are refused; a
/// unit test holds the two to the same URLs). Under the default configuration a host that is `localhost` or resolves
/// to a loopback, private or link-local address is refused (`--allow-private-targets` lifts that).
pub const URL_PATTERN: &str = concat!(
    r"^https?://",
    r"(([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?|[0-9]{1,3}(\.[0-9]{1,3}){3})",
    r"(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?",
    r"(/([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)*",
    r"(\?([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$",
);

fn url_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(URL_MAX))
        .pattern(Some(URL_PATTERN))
        .examples([serde_json::json!("https://example.com/hooks")])
        .description(Some(
            "An absolute URL, at most 300 characters: `https` (`http` too under `--allow-http-targets`); a host that is \
             `localhost` or a loopback, private or link-local address only under `--allow-private-targets`.",
        ))
}

fn description_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(DESCRIPTION_MAX))
        .pattern(Some(NO_NUL))
}

fn topic_ids() -> ArrayBuilder {
    ArrayBuilder::new().items(topic_id()).min_items(Some(1)).unique_items(true)
}

/// The bounds of `rateLimit` (contract §9.3).
pub const RATE_LIMIT_MAX: i64 = 10_000;

fn rate_limit_schema() -> Schema {
    or_null(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(RATE_LIMIT_MAX)).description(
        Some(
            "At most this many attempts per second to the webhook, over all nodes; `null` (the default): no limit. \
             Deliveries beyond it wait, spending no attempt. Absent on an update: unchanged.",
        ),
    ))
}

fn customer_ids() -> Schema {
    or_null(customer_id_list())
}

/// Which webhooks a caller works with.
#[derive(Debug, Clone)]
pub enum WebhookScope {
    /// `/webhooks/subscriptions`: every webhook of the applications the principal may see.
    All,
    /// `/resthooks`: the webhooks of the key's application whose customer list is exactly this customer.
    Customer(String),
}

#[derive(Debug, Clone, Default)]
pub struct WebhookListQuery {
    pub application_id: Option<String>,
    pub active: Option<String>,
    pub page_number: Option<String>,
    pub page_size: Option<String>,
    /// `created`, `-created`, `modified`, `-modified`.
    pub sort_by: Option<String>,
}

/// The fields of a create or update body, validated against the application.
struct WebhookFields {
    url: String,
    description: Option<Option<String>>,
    topic_ids: Vec<String>,
    customer_ids: Option<Vec<String>>,
    active: Option<bool>,
    ignore_etag_only_changes: Option<bool>,
    ordered: Option<bool>,
    /// `Some(None)`: no limit.
    rate_limit: Option<Option<u32>>,
    /// `None`: keep; `Some(None)`: remove.
    filter: Option<Option<String>>,
}

impl Herald {
    /// Checks a `/resthooks` caller: an application key and a customer with a current installation (or `SBOX`).
    pub async fn resthook_customer(&self, who: &Principal, customer: Option<&str>) -> ServiceResult<String> {
        let Principal::App(app) = who else {
            return Err(ServiceError::Forbidden(
                "/resthooks needs an application API key, not the admin token.".into(),
            ));
        };
        let customer = customer.map(str::trim).filter(|c| !c.is_empty()).ok_or_else(|| {
            ServiceError::Forbidden("The reapit-customer header must name the customer the key acts for.".into())
        })?;
        if customer != SANDBOX_CUSTOMER && !self.inner.store.is_installed(app.id, customer).await? {
            return Err(ServiceError::Forbidden(format!(
                "Customer {customer} has no current installation of this application."
            )));
        }
        Ok(customer.to_string())
    }

    fn webhook_url_errors(&self, url: &str) -> Option<String> {
        if let Some(why) = url_shape_error(url) {
            return Some(why.into());
        }
        let parsed = match url::Url::parse(url) {
            Ok(u) => u,
            Err(_) => return Some("must be an absolute URL".into()),
        };
        match parsed.scheme() {
            "https" => {}
            "http" if self.inner.cfg.allow_http_targets => {}
            "http" => return Some("must use the https scheme".into()),
            _ => return Some("must use the https scheme".into()),
        }
        let host = match parsed.host() {
            None => return Some("must name a host".into()),
            Some(h) => h,
        };
        if !self.inner.cfg.allow_private_targets {
            let ip: Option<std::net::IpAddr> = match host {
                url::Host::Ipv4(v) => Some(v.into()),
                url::Host::Ipv6(v) => Some(v.into()),
                url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") => {
                    return Some("must not point at a loopback address".into())
                }
                url::Host::Domain(_) => None,
            };
            if let Some(why) = ip.and_then(herald_delivery::check_ip) {
                return Some(format!("must not point at a {why}"));
            }
        }
        None
    }

    async fn read_webhook_fields(
        &self,
        input: &WebhookPatch,
        app: &ApplicationRecord,
        f: &mut Errors,
        customer_from_scope: bool,
    ) -> ServiceResult<Option<WebhookFields>> {
        let url = f.required_str("url", &input.url, URL_MAX).map(normalise_url);
        if let Some(u) = &url {
            if let Some(msg) = self.webhook_url_errors(u) {
                f.add("url", msg);
            }
        }
        let description = match &input.description {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Given(s) if s.chars().count() > DESCRIPTION_MAX => {
                f.add("description", format!("must be at most {DESCRIPTION_MAX} characters"));
                None
            }
            Field::Given(s) if s.contains('\0') => {
                f.add("description", "must not contain the NUL character");
                None
            }
            Field::Given(s) => Some(Some(s.clone())),
            Field::Invalid => {
                f.add("description", "must be a string");
                None
            }
        };
        let topic_ids = f.str_list("topicIds", &input.topic_ids, 100);
        match &topic_ids {
            None => f.add("topicIds", "is required: at least one topic"),
            Some(list) if list.is_empty() => f.add("topicIds", "must hold at least one topic"),
            Some(list) => {
                for (i, t) in list.iter().enumerate() {
                    match topics::find(t) {
                        None => f.add(format!("topicIds[{i}]"), format!("unknown topic {t:?}")),
                        Some(topic) if !crate::topics::allowed(topic, &app.scopes) => f.add(
                            format!("topicIds[{i}]"),
                            format!("the application does not hold the scope {}", topic.scope.unwrap_or_default()),
                        ),
                        Some(_) => {}
                    }
                    if list[..i].contains(t) {
                        f.add(format!("topicIds[{i}]"), format!("{t} is listed twice"));
                    }
                }
            }
        }
        let customer_ids = if customer_from_scope {
            if !input.customer_ids.is_missing() {
                f.add("customerIds", "is set by the reapit-customer header on /resthooks");
            }
            None
        } else {
            let list = f.str_list("customerIds", &input.customer_ids, 100);
            if let Some(list) = &list {
                for (i, c) in list.iter().enumerate() {
                    if list[..i].contains(c) {
                        f.add(format!("customerIds[{i}]"), format!("{c} is listed twice"));
                    } else if c != SANDBOX_CUSTOMER && !self.inner.store.is_installed(app.id, c).await? {
                        f.add(
                            format!("customerIds[{i}]"),
                            format!("customer {c} has no current installation of this application"),
                        );
                    }
                }
            }
            list
        };
        let active = f.optional_bool("active", &input.active);
        let ignore_etag_only_changes = f.optional_bool("ignoreEtagOnlyChanges", &input.ignore_etag_only_changes);
        let ordered = f.optional_bool("ordered", &input.options.ordered);
        let filter = read_filter(f, "filter", &input.options.filter);
        let rate_limit = match &input.options.rate_limit {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Given(n @ 1..=RATE_LIMIT_MAX) => Some(Some(*n as u32)),
            Field::Given(_) | Field::Invalid => {
                f.add("rateLimit", format!("must be null or an integer from 1 to {RATE_LIMIT_MAX}"));
                None
            }
        };
        Ok(match (url, topic_ids) {
            (Some(url), Some(topic_ids)) if f.is_empty() => Some(WebhookFields {
                url,
                description,
                topic_ids,
                customer_ids,
                active,
                ignore_etag_only_changes,
                ordered,
                rate_limit,
                filter,
            }),
            _ => None,
        })
    }

    pub async fn create_webhook(
        &self,
        who: &Principal,
        scope: &WebhookScope,
        input: WebhookIn,
    ) -> ServiceResult<WebhookCreatedOut> {
        let (application_id, input) = input.split();
        let mut f = Errors::default();
        let app = match scope {
            WebhookScope::Customer(_) => match who {
                Principal::App(app) => (**app).clone(),
                Principal::Admin => return Err(ServiceError::Forbidden("/resthooks needs an application key".into())),
            },
            WebhookScope::All => {
                let Some(app_text) = f.required_str("applicationId", &application_id, 100) else {
                    return Err(ServiceError::Validation(f.0));
                };
                let id: ApplicationId =
                    app_text.parse().map_err(|_| ServiceError::field("applicationId", "is not an application id"))?;
                match self.app_record(who, id).await {
                    Err(ServiceError::NotFound(_)) if matches!(who, Principal::Admin) => {
                        return Err(ServiceError::field("applicationId", "no such application"))
                    }
                    other => other?,
                }
            }
        };
        let fields = self.read_webhook_fields(&input, &app, &mut f, matches!(scope, WebhookScope::Customer(_))).await?;
        f.finish()?;
        let Some(fields) = fields else { unreachable!("fields are complete when there is no error") };
        let now = self.now();
        let secret = WebhookSecret::from_random(random_bytes::<24>()).to_string();
        let customer_ids = match scope {
            WebhookScope::Customer(c) => vec![c.clone()],
            WebhookScope::All => fields.customer_ids.unwrap_or_default(),
        };
        let hook = WebhookRecord {
            id: WebhookId(new_uuid_v7()),
            application_id: app.id,
            url: fields.url,
            description: fields.description.flatten(),
            topic_ids: fields.topic_ids,
            customer_ids,
            active: fields.active.unwrap_or(true),
            ignore_etag_only_changes: fields.ignore_etag_only_changes.unwrap_or(true),
            ordered: fields.ordered.unwrap_or(false),
            rate_limit: fields.rate_limit.flatten(),
            secret: secret.clone(),
            previous_secret: None,
            previous_secret_expires: None,
            disabled_reason: None,
            last_success: None,
            failing_since: None,
            failing_announced: None,
            created: now,
            modified: now,
            filter: fields.filter.flatten(),
        };
        self.inner.store.insert_webhook(&hook).await?;
        self.routing_changed();
        Ok(WebhookCreatedOut { webhook: WebhookOut::from(&hook), secret })
    }

    /// A webhook the principal may see within the scope, or `NotFound`.
    pub async fn webhook_record(
        &self,
        who: &Principal,
        scope: &WebhookScope,
        id: WebhookId,
    ) -> ServiceResult<WebhookRecord> {
        let hook = match self.inner.store.get_webhook(id).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound("webhook")),
            other => other?,
        };
        who.check_app(hook.application_id).map_err(|_| ServiceError::NotFound("webhook"))?;
        if let WebhookScope::Customer(c) = scope {
            if hook.customer_ids.len() != 1 || &hook.customer_ids[0] != c {
                return Err(ServiceError::NotFound("webhook"));
            }
        }
        Ok(hook)
    }

    pub async fn get_webhook(&self, who: &Principal, scope: &WebhookScope, id: WebhookId) -> ServiceResult<WebhookOut> {
        Ok(WebhookOut::from(&self.webhook_record(who, scope, id).await?))
    }

    /// Replaces a webhook's settings. `url` and `topicIds` are required; an optional field that is absent keeps its
    /// current value.
    pub async fn update_webhook(
        &self,
        who: &Principal,
        scope: &WebhookScope,
        id: WebhookId,
        input: WebhookPatch,
    ) -> ServiceResult<WebhookOut> {
        let mut hook = self.webhook_record(who, scope, id).await?;
        let mut f = Errors::default();
        let app = self.inner.store.get_application(hook.application_id).await?;
        let fields = self.read_webhook_fields(&input, &app, &mut f, matches!(scope, WebhookScope::Customer(_))).await?;
        f.finish()?;
        let Some(fields) = fields else { unreachable!("fields are complete when there is no error") };
        hook.url = fields.url;
        if let Some(d) = fields.description {
            hook.description = d;
        }
        hook.topic_ids = fields.topic_ids;
        if let Some(c) = fields.customer_ids {
            hook.customer_ids = c;
        }
        if let Some(a) = fields.active {
            if a && !hook.active {
                hook.disabled_reason = None;
            }
            hook.active = a;
        }
        if let Some(e) = fields.ignore_etag_only_changes {
            hook.ignore_etag_only_changes = e;
        }
        if let Some(o) = fields.ordered {
            hook.ordered = o;
        }
        if let Some(r) = fields.rate_limit {
            hook.rate_limit = r;
        }
        if let Some(filter) = fields.filter {
            hook.filter = filter;
        }
        hook.modified = self.now();
        match self.inner.store.update_webhook(&hook).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound("webhook")),
            other => other?,
        }
        self.routing_changed();
        Ok(WebhookOut::from(&hook))
    }

    pub async fn delete_webhook(&self, who: &Principal, scope: &WebhookScope, id: WebhookId) -> ServiceResult<()> {
        self.webhook_record(who, scope, id).await?;
        match self.inner.store.delete_webhook(id, self.now()).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound("webhook")),
            other => other?,
        }
        self.routing_changed();
        Ok(())
    }

    pub async fn list_webhooks(
        &self,
        who: &Principal,
        scope: &WebhookScope,
        q: &WebhookListQuery,
    ) -> ServiceResult<Paged<WebhookOut>> {
        let page: Page = paging::page(q.page_number.as_deref(), q.page_size.as_deref())?;
        let mut filter = WebhookFilter {
            active: input::query_param("active", q.active.as_deref(), parse_bool, "true or false")?,
            ..WebhookFilter::default()
        };
        match q.sort_by.as_deref().filter(|s| !s.is_empty()) {
            None | Some("created") => {}
            Some("-created") => filter.descending = true,
            Some("modified") => filter.by_modified = true,
            Some("-modified") => {
                filter.by_modified = true;
                filter.descending = true
            }
            Some(_) => return Err(ServiceError::field("sortBy", "must be created, -created, modified or -modified")),
        }
        let requested: Option<ApplicationId> =
            input::query_param("applicationId", q.application_id.as_deref(), |s| s.parse().ok(), "an application id")?;
        filter.application_id = match (who, requested) {
            (Principal::Admin, r) => r,
            (Principal::App(app), None) => Some(app.id),
            (Principal::App(app), Some(r)) => {
                who.check_app(r)?;
                Some(app.id)
            }
        };
        if let WebhookScope::Customer(c) = scope {
            filter.exact_customer = Some(c.clone());
        }
        let (items, total) = self.inner.store.list_webhooks(&filter, page).await?;
        Ok(Paged { items: items.iter().map(WebhookOut::from).collect(), page, total })
    }
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// A webhook URL with its scheme in lower case (`HTTPS://x` is `https://x`), so that the shape check below sees
/// every URL the way the URL parser and the delivery client will, and stores one spelling.
fn normalise_url(url: String) -> String {
    match url.find("://") {
        Some(i) if url[..i].eq_ignore_ascii_case("https") || url[..i].eq_ignore_ascii_case("http") => {
            format!("{}{}", url[..i].to_ascii_lowercase(), &url[i..])
        }
        _ => url,
    }
}

/// The shape the API documents for a webhook URL (`docs/openapi.json`): `http(s)://host[:port][/path][?query]`, the
/// host a name of letters, digits and hyphens (its last label starting with a letter) or a dotted IPv4 address, the
/// rest plain URL characters or `%XX`; no user name, no fragment. The URL parser alone accepts more (and rewrites
/// it), which the document and the receivers' expectations do not.
fn url_shape_error(url: &str) -> Option<&'static str> {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return Some("must be an absolute URL starting with https://");
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Some("must have a port of digits after the host");
    }
    let labels: Vec<&str> = host.split('.').collect();
    let ldh = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let ipv4 =
        labels.len() == 4 && labels.iter().all(|l| (1..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_digit()));
    let name = labels.iter().all(|l| ldh(l))
        && labels.last().is_some_and(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()));
    if !ipv4 && !name {
        return Some("must name a host of letters, digits, hyphens and dots, or an IPv4 address");
    }
    let bytes = tail.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if bytes.len() > i + 2 && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit() => {
                i += 3
            }
            b if b.is_ascii_alphanumeric() || b"._~!$&'()*+,;=:@/?-".contains(&b) => i += 1,
            _ => return Some("must be made of plain URL characters (others percent-encoded), without a fragment"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{normalise_url, url_shape_error};

    #[test]
    fn the_scheme_is_normalised_before_the_shape_is_checked() {
        assert_eq!(normalise_url("HTTPS://Example.com/A".into()), "https://Example.com/A");
        assert_eq!(normalise_url("Http://example.com".into()), "http://example.com");
        for bad in [
            "HTTPS://[::7f00:1]/",
            "HTTPS://user:pw@vm/x",
            "https:vm/x",
            "https:/vm/x",
            "HTTPS://vm/x#frag",
            "ftp://example.com/",
            "//example.com/",
            "example.com/hook",
        ] {
            assert!(url_shape_error(&normalise_url(bad.into())).is_some(), "{bad}");
        }
        assert_eq!(url_shape_error(&normalise_url("HTTPS://example.com/hook".into())), None);
    }

    const GOOD: &[&str] = &[
        "https://example.com/hooks",
        "https://api.example-1.io:8443/a/b?x=1&y=%2F",
        "http://127.0.0.1:9000/hook",
        "https://localhost",
        "https://a.b.c/~user/(x);p=1:@",
    ];

    const BAD: &[&str] = &[
        "http://A*",
        "https://exa_mple.com/",
        "https://example.com./",
        "https://-example.com/",
        "https://example.1/",
        "https://0x7f.1/",
        "https://1.2.3/",
        "https://user@example.com/",
        "https://example.com/#frag",
        "https://example.com/a b",
        "https://example.com/%zz",
        "https://example.com:/",
        "https://example.com:123456/",
        "https://[::1]/hook",
        "https://example.com/é",
    ];

    #[test]
    fn webhook_urls_have_the_documented_shape() {
        for ok in GOOD {
            assert_eq!(url_shape_error(ok), None, "{ok}");
        }
        for bad in BAD {
            assert!(url_shape_error(bad).is_some(), "{bad}");
        }
    }

    /// The OpenAPI document's pattern and the check are one grammar.
    #[test]
    fn the_documented_pattern_accepts_what_the_check_accepts() {
        let re = regex_automata::meta::Regex::new(super::URL_PATTERN).expect("URL_PATTERN is a regex");
        for url in GOOD.iter().chain(BAD) {
            assert_eq!(re.is_match(*url), url_shape_error(url).is_none(), "{url}");
        }
    }
}
