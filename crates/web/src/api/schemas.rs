//! What the OpenAPI document says that no serialized Rust type carries: the request bodies (the service reads them
//! field by field, see `herald_service::input`, so that a wrong type is a 422 naming the field), the query
//! parameters, and the shared error responses. These types are never built: they only describe, and each must say
//! what the service really accepts (`scripts/schemathesis` holds them to it).
#![allow(dead_code)]

use herald_domain::change::{MAX_CUSTOMER_ID_CHARS, MAX_ENTITY_ID_CHARS};
use herald_domain::{topics, EntityType};
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{IntoParams, PartialSchema, ToResponse, ToSchema};

use crate::error::ErrorModel;

/// Non-blank: at least one character that is not white space as Rust's `str::trim` reads it (Unicode
/// `White_Space`; ECMA's `\S` would differ on U+0085 and U+FEFF).
/// And no NUL anywhere (text columns refuse it on PostgreSQL).
const NON_BLANK: &str = concat!(
    r"^[^\u0000]*",
    r"[^\u0000\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\u0000]*$"
);

/// An id of a change (`customerId`, `entityId`): non-blank and without control characters (Unicode `Cc`, as Rust's
/// `char::is_control` reads them), as `herald_domain::change` reads one.
const ID_TEXT: &str = concat!(
    r"^[^\u0000-\u001F\u007F-\u009F]*",
    r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\u0000-\u001F\u007F-\u009F]*$"
);

/// A change's id of at most `max` characters.
fn id_text(max: usize) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(max)).pattern(Some(ID_TEXT))
}

/// A non-blank string of at most `max` characters, as `herald_service::input` reads one.
fn non_blank(max: usize) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(max)).pattern(Some(NON_BLANK))
}

fn app_name() -> ObjectBuilder {
    non_blank(200).examples([serde_json::json!("Example CRM")])
}

fn customer_id() -> ObjectBuilder {
    non_blank(100).examples([serde_json::json!("RPT")])
}

fn customer_name() -> Schema {
    or_null(non_blank(200))
}

fn customer_email() -> Schema {
    or_null(non_blank(320))
}

/// A webhook target: an absolute `https` URL (`http` too under `--allow-http-targets`) naming a DNS host or an IPv4
/// address, exactly the shape the API checks (`herald_service::webhooks::url_shape_error`; IPv6 literals, user names
/// and fragments are refused). Under the default configuration a host
/// that is `localhost` or resolves to a loopback, private or link-local address is refused
/// (`--allow-private-targets` lifts that).
const URL_PATTERN: &str = concat!(
    r"^https?://",
    r"(([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?|[0-9]{1,3}(\.[0-9]{1,3}){3})",
    r"(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?",
    r"(/([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)*",
    r"(\?([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$",
);

fn url() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(300))
        .pattern(Some(URL_PATTERN))
        .examples([serde_json::json!("https://example.com/hooks")])
        .description(Some(
            "An absolute URL, at most 300 characters: `https` (`http` too under `--allow-http-targets`); a host that is \
             `localhost` or a loopback, private or link-local address only under `--allow-private-targets`.",
        ))
}

/// One field error of the error body (contract §3).
#[derive(ToSchema)]
#[schema(as = FieldErrorModel)]
pub struct FieldErrorModel {
    /// The property, with an index for list items (`topicIds[2]`) or a dotted path (`changes[1].entityId`); empty
    /// for the body as a whole.
    #[schema(example = "url")]
    pub field: String,
    #[schema(example = "must use the https scheme")]
    pub message: String,
}

/// A topic id of the catalogue (`GET /webhooks/topics`).
pub fn topic_id() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(topics::all().iter().map(|t| t.id)))
        .description(Some("A topic id of the catalogue (`GET /webhooks/topics`)."))
}

fn topic_ids() -> ArrayBuilder {
    ArrayBuilder::new().items(topic_id()).min_items(Some(1)).unique_items(true)
}

/// `schema`, or `null` (which the service reads as absent).
fn or_null(schema: impl Into<RefOr<Schema>>) -> Schema {
    Schema::OneOf(OneOfBuilder::new().item(schema).item(ObjectBuilder::new().schema_type(Type::Null)).build())
}

fn customer_ids() -> Schema {
    or_null(customer_id_list())
}

fn customer_id_list() -> ArrayBuilder {
    ArrayBuilder::new().items(non_blank(100)).unique_items(true)
}

fn entity_type() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(EntityType::ALL.iter().map(|t| t.as_str())))
}

/// The fields of one change (contract §4.3). `old: null` (or absent) is a creation, `new: null` a deletion; at
/// least one of them is an object.
fn change_fields(with_event_id: bool) -> ObjectBuilder {
    let side = |what: &str| {
        let mut s = or_null(ObjectBuilder::new().schema_type(Type::Object));
        if let Schema::OneOf(o) = &mut s {
            o.description = Some(format!("The entity {what} the change, as the platform's API returns it."));
        }
        s
    };
    let mut b = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("customerId", id_text(MAX_CUSTOMER_ID_CHARS).examples([serde_json::json!("RPT")]))
        .required("customerId")
        .property("entityType", entity_type())
        .required("entityType")
        .property("entityId", id_text(MAX_ENTITY_ID_CHARS))
        .required("entityId")
        .property("old", side("before"))
        .property("new", side("after"));
    if with_event_id {
        b = b.property("eventId", event_id());
    }
    b.property("eventTime", event_time())
}

/// A UUID or `null`; generated when absent.
fn event_id() -> Schema {
    or_null(text_format(KnownFormat::Uuid).description(Some("Generated when absent.")))
}

/// An RFC 3339 time or `null`; default: when Herald received the change.
fn event_time() -> Schema {
    or_null(
        text_format(KnownFormat::DateTime)
            .description(Some("When the change happened; default: when Herald received it.")),
    )
}

/// An RFC 3339 time (as the service reads it: at most 64 characters) or `null`.
fn optional_time() -> Schema {
    or_null(text_format(KnownFormat::DateTime).max_length(Some(64)))
}

fn text_format(format: KnownFormat) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(format)))
}

fn change(with_event_id: bool) -> Schema {
    // At least one of `old` and `new` is an object.
    let present =
        |side: &str| ObjectBuilder::new().property(side, ObjectBuilder::new().schema_type(Type::Object)).required(side);
    let at_least_one = AnyOfBuilder::new().item(present("old")).item(present("new"));
    Schema::AllOf(AllOfBuilder::new().item(change_fields(with_event_id)).item(at_least_one).build())
}

/// One change: `POST /changes` with a single change.
pub struct ChangeModel;

impl PartialSchema for ChangeModel {
    fn schema() -> RefOr<Schema> {
        let mut s = change(true);
        if let Schema::AllOf(a) = &mut s {
            a.description = Some("One change of one entity (contract §4.3).".into());
        }
        RefOr::T(s)
    }
}

impl ToSchema for ChangeModel {}

/// A change in a batch: the batch's `eventId` is given beside `changes`, never in a change.
pub struct BatchedChangeModel;

impl PartialSchema for BatchedChangeModel {
    fn schema() -> RefOr<Schema> {
        RefOr::T(change(false))
    }
}

impl ToSchema for BatchedChangeModel {}

/// Several changes sharing one event id.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ChangeBatchModel {
    #[schema(schema_with = event_id)]
    pub event_id: Option<String>,
    #[schema(min_items = 1, max_items = 1000)]
    pub changes: Vec<BatchedChangeModel>,
}

/// The body of `POST /changes`: one change, or a batch.
pub struct ChangesRequest;

impl PartialSchema for ChangesRequest {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::OneOf(
            OneOfBuilder::new().item(ChangeModel::schema_ref()).item(ChangeBatchModel::schema_ref()).build(),
        ))
    }
}

impl ToSchema for ChangesRequest {}

trait SchemaRef {
    fn schema_ref() -> RefOr<Schema>;
}

impl<T: ToSchema> SchemaRef for T {
    fn schema_ref() -> RefOr<Schema> {
        RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
    }
}

// ---- query parameters ----

/// Paging (contract §6.1). A page past the last is an empty page.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct PageParams {
    /// The page, from 1 (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page_number: Option<u32>,
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
}

fn text_enum(values: &'static [&'static str]) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.iter().copied()))
}

fn bool_text() -> ObjectBuilder {
    text_enum(&["true", "false", "1", "0"])
}

fn true_false() -> ObjectBuilder {
    text_enum(&["true", "false"])
}

fn sort_by() -> ObjectBuilder {
    text_enum(&["created", "-created", "modified", "-modified"])
}

fn attempt_status() -> ObjectBuilder {
    text_enum(&["success", "failure"])
}

/// `applicationId` alone: an application key may name only its own application (another answers 404).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ApplicationParam {
    /// Herald's application id.
    #[param(format = Uuid)]
    pub application_id: Option<String>,
}

/// Filters of `GET /webhooks/subscriptions`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct WebhookListParams {
    /// Only this application's webhooks. An application key sees only its own.
    #[param(format = Uuid)]
    pub application_id: Option<String>,
    /// Only active (`true`, `1`) or inactive (`false`, `0`) webhooks.
    #[param(schema_with = bool_text)]
    pub active: Option<String>,
    /// The order (default `created`, oldest first).
    #[param(schema_with = sort_by)]
    pub sort_by: Option<String>,
}

/// Filters of `GET /resthooks`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ResthookListParams {
    #[param(schema_with = bool_text)]
    pub active: Option<String>,
    #[param(schema_with = sort_by)]
    pub sort_by: Option<String>,
}

/// Filters of `GET /installations`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct InstallationListParams {
    #[param(format = Uuid)]
    pub application_id: Option<String>,
    #[param(pattern = r"^[^\u0000]*$")]
    pub customer_id: Option<String>,
    /// `true`: current installations only; `false`: terminated ones only.
    #[param(schema_with = true_false)]
    pub is_installed: Option<String>,
}

/// Filters of `GET /webhooks/logs`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct LogParams {
    /// Only this application's attempts. An application key sees only its own.
    #[param(format = Uuid)]
    pub application_id: Option<String>,
    /// Attempts started at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Attempts started before this time (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    #[param(pattern = r"^[^\u0000]*$")]
    pub topic_id: Option<String>,
    #[param(pattern = r"^[^\u0000]*$")]
    pub entity_id: Option<String>,
    #[param(format = Uuid)]
    pub event_id: Option<String>,
    #[param(format = Uuid)]
    pub webhook_id: Option<String>,
    #[param(pattern = r"^[^\u0000]*$")]
    pub customer_id: Option<String>,
    #[param(format = Uuid)]
    pub delivery_id: Option<String>,
    /// Only successful or only failed attempts.
    #[param(schema_with = attempt_status)]
    pub status: Option<String>,
    /// At most this many records, 1 to 1000 (default 100). A page also stops before 8 MiB of records by default
    /// (the first record always comes); the `Link` header then leads to the rest.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Where the previous page ended: copy it from that page's `Link: <…>; rel="next"` header (opaque).
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// Filters of `GET /analytics/deliveries`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AnalyticsParams {
    /// Only this application's attempts. An application key sees only its own.
    #[param(format = Uuid)]
    pub application_id: Option<String>,
    /// Attempts started at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Attempts started before this time (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// How rows are grouped (default `day`).
    #[param(schema_with = group_by)]
    pub group_by: Option<String>,
}

fn group_by() -> ObjectBuilder {
    text_enum(&["day", "customer", "topic", "webhook"])
}

// ---- shared error responses (contract §3), each with the error body ----

/// The request cannot be read: the body is not JSON, or the query string or the path is malformed.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct BadRequest(ErrorModel<'static>);

/// A missing or unknown bearer token.
#[derive(ToResponse)]
#[response(content_type = "application/json", headers(("WWW-Authenticate" = String, description = "`Bearer`")))]
pub struct Unauthorized(ErrorModel<'static>);

/// The token may not do this: an application key on the platform API, or the admin token on `/resthooks`.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct Forbidden(ErrorModel<'static>);

/// No such resource, or one the token may not see (contract §2: no existence leak).
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct NotFound(ErrorModel<'static>);

/// The body is larger than 1 MiB.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct PayloadTooLarge(ErrorModel<'static>);

/// Valid JSON that breaks a rule; `errors` names each field.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct ValidationFailed(ErrorModel<'static>);

/// The store is unreachable; nothing was done. Try again.
#[derive(ToResponse)]
#[response(content_type = "application/json")]
pub struct Unavailable(ErrorModel<'static>);
