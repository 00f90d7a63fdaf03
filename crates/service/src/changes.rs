//! `POST /changes` (contract §4.3): validate, derive topics, route, store every delivery durably, then answer.

use chrono::{DateTime, Utc};
use herald_domain::change::Entity;
use herald_domain::change::{MAX_CUSTOMER_ID_CHARS, MAX_ENTITY_ID_CHARS};
use herald_domain::field::{Object, ObjectList};
use herald_domain::ordering::entity_key;
use herald_domain::payload::{event_diff, EventBody, FirstAttempt};
use herald_domain::routing::{RouteEvent, RoutingTable};
use herald_domain::rules::derive_topics;
use herald_domain::time::{format_event_time, parse_rfc3339};
use herald_domain::{topics, Change, DeliveryId, EntityType, EventId, FieldError, Topic, SANDBOX_CUSTOMER};
use herald_store::{
    ApplicationRecord, DeliveryState, EntityWrite, Idempotency, InstallationRecord, NewDelivery, NewEvent, StoreError,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::input::{or_null, text_format, Field};
use crate::models::{ChangesOut, EventOut};
use crate::*;
use tracing::Instrument;

/// At most this many changes in one batch.
pub const MAX_BATCH: usize = 1_000;

/// One change of one entity (contract §4.3): the body of `POST /changes` with a single change, and each item of a
/// batch (where `eventId` is the batch's, given beside `changes`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeIn {
    #[serde(default)]
    pub customer_id: Field<String>,
    #[serde(default)]
    pub entity_type: Field<String>,
    #[serde(default)]
    pub entity_id: Field<String>,
    /// The entity before the change; absent or `null` for a creation. Opaque entity data.
    #[serde(default)]
    pub old: Field<Entity>,
    /// The entity after the change; absent or `null` for a deletion. Opaque entity data.
    #[serde(default)]
    pub new: Field<Entity>,
    #[serde(default)]
    pub event_id: Field<String>,
    #[serde(default)]
    pub event_time: Field<String>,
    /// Present: the body is a batch ([`ChangesIn::Batch`]).
    #[serde(default)]
    pub changes: ObjectList<ChangeIn>,
}

/// Several changes sharing one event id.
#[derive(Debug, Clone, Default, ToSchema)]
#[schema(as = ChangeBatchModel, rename_all = "camelCase")]
pub struct ChangeBatchIn {
    #[schema(schema_with = event_id, required = false)]
    pub event_id: Field<String>,
    #[schema(schema_with = batched_changes, required = true)]
    pub changes: ObjectList<ChangeIn>,
}

/// At least one and at most [`MAX_BATCH`] changes.
fn batched_changes() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(Ref::from_schema_name(BatchedChange::name()))
        .min_items(Some(1))
        .max_items(Some(MAX_BATCH))
}

/// The body of `POST /changes`: one change, or a batch (the body has `changes`).
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "ChangeIn")]
pub enum ChangesIn {
    One(Box<ChangeIn>),
    Batch(ChangeBatchIn),
}

impl From<ChangeIn> for ChangesIn {
    fn from(mut c: ChangeIn) -> Self {
        match std::mem::take(&mut c.changes) {
            Field::Absent => ChangesIn::One(Box::new(c)),
            changes => ChangesIn::Batch(ChangeBatchIn { event_id: c.event_id, changes }),
        }
    }
}

/// A request's `Idempotency-Key`, checked (1 to 255 visible ASCII characters), with the SHA-256 of the request's
/// bytes, kept beside the key: a key used again with other bytes is refused. Only a request that carries a key is
/// hashed; nothing would read the hash of another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey<'a> {
    key: &'a str,
    body_hash: String,
}

impl<'a> IdempotencyKey<'a> {
    /// The key of a request with `body`, when it carries one (`key`, the header as given); `422` on
    /// `Idempotency-Key` when it is not a valid key.
    pub fn of(key: Option<&'a str>, body: &[u8]) -> ServiceResult<Option<Self>> {
        Self::hashing(key, |h| h.update(body))
    }

    /// The same, for a request whose target matters beside its body (`PUT /entities/…`): one key, one request.
    pub fn of_request(key: Option<&'a str>, method: &str, path: &str, body: &[u8]) -> ServiceResult<Option<Self>> {
        Self::hashing(key, |h| {
            for part in [method.as_bytes(), b" ", path.as_bytes(), b"\n", body] {
                h.update(part);
            }
        })
    }

    fn hashing(key: Option<&'a str>, feed: impl FnOnce(&mut Sha256)) -> ServiceResult<Option<Self>> {
        let Some(key) = key else { return Ok(None) };
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ServiceError::field("Idempotency-Key", "must be 1 to 255 visible ASCII characters"));
        }
        let mut h = Sha256::new();
        feed(&mut h);
        Ok(Some(Self { key, body_hash: hex::encode(h.finalize()) }))
    }
}

// ---- the OpenAPI schemas of the change types ----

/// An id of a change (`customerId`, `entityId`): non-blank and without control characters (Unicode `Cc`, as Rust's
/// `char::is_control` reads them), as `herald_domain::change` reads one.
const ID_TEXT: &str = concat!(
    r"^[^\u0000-\u001F\u007F-\u009F]*",
    r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\u0000-\u001F\u007F-\u009F]*$"
);

/// A change's id of at most `max` characters.
pub(crate) fn id_text(max: usize) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(max)).pattern(Some(ID_TEXT))
}

pub(crate) fn entity_type() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(EntityType::ALL.iter().map(|t| t.as_str())))
}

/// The schemas of a change's `customerId`, `entityType` and `entityId` where they are path parameters
/// (`/entities/{customerId}/{entityType}/{entityId}`): `inline(CustomerIdText)` and so on in a handler's `params`.
pub struct CustomerIdText;
pub struct EntityTypeName;
pub struct EntityIdText;

impl utoipa::PartialSchema for CustomerIdText {
    fn schema() -> utoipa::openapi::RefOr<Schema> {
        id_text(MAX_CUSTOMER_ID_CHARS).into()
    }
}

impl utoipa::PartialSchema for EntityTypeName {
    fn schema() -> utoipa::openapi::RefOr<Schema> {
        entity_type().into()
    }
}

impl utoipa::PartialSchema for EntityIdText {
    fn schema() -> utoipa::openapi::RefOr<Schema> {
        id_text(MAX_ENTITY_ID_CHARS).into()
    }
}

/// The fields of one change. `old: null` (or absent) is a creation, `new: null` a deletion; at least one of them
/// is an object.
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

fn change_schema(with_event_id: bool) -> Schema {
    // At least one of `old` and `new` is an object.
    let present =
        |side: &str| ObjectBuilder::new().property(side, ObjectBuilder::new().schema_type(Type::Object)).required(side);
    let at_least_one = AnyOfBuilder::new().item(present("old")).item(present("new"));
    Schema::AllOf(AllOfBuilder::new().item(change_fields(with_event_id)).item(at_least_one).build())
}

impl PartialSchema for ChangeIn {
    fn schema() -> RefOr<Schema> {
        let mut s = change_schema(true);
        if let Schema::AllOf(a) = &mut s {
            a.description = Some("One change of one entity (contract §4.3).".into());
        }
        RefOr::T(s)
    }
}

impl ToSchema for ChangeIn {
    fn name() -> std::borrow::Cow<'static, str> {
        "ChangeModel".into()
    }
}

/// The schema of a [`ChangeIn`] in a batch: the batch's `eventId` is given beside `changes`, never in a change.
pub struct BatchedChange;

impl PartialSchema for BatchedChange {
    fn schema() -> RefOr<Schema> {
        RefOr::T(change_schema(false))
    }
}

impl ToSchema for BatchedChange {
    fn name() -> std::borrow::Cow<'static, str> {
        "BatchedChangeModel".into()
    }
}

impl PartialSchema for ChangesIn {
    fn schema() -> RefOr<Schema> {
        let to = |name: std::borrow::Cow<'static, str>| RefOr::Ref(Ref::from_schema_name(name));
        RefOr::T(Schema::OneOf(OneOfBuilder::new().item(to(ChangeIn::name())).item(to(ChangeBatchIn::name())).build()))
    }
}

impl ToSchema for ChangesIn {
    fn name() -> std::borrow::Cow<'static, str> {
        "ChangesRequest".into()
    }
}

/// The answer to `POST /changes`, as JSON text (a replay returns the very same text).
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    pub body: String,
    /// The answer was stored for this idempotency key by an earlier request.
    pub replayed: bool,
}

/// An idempotency key with what is stored beside it (see `herald_store::Idempotency`).
struct StoredKey {
    key: String,
    body_hash: String,
    response: String,
    expired_before: DateTime<Utc>,
}

/// A validated change with its event time.
pub(crate) struct ParsedChange {
    pub change: Change,
    pub event_time: DateTime<Utc>,
}

/// What [`Herald::accept_changes`] did.
pub(crate) enum Accepted {
    /// Stored (or answered from the idempotency key): the answer.
    Done(IngestOutcome),
    /// An entity changed since it was read; nothing was stored.
    Stale,
}

impl Herald {
    /// Accepts `POST /changes` (contract §4.3). Runs in an `ingest` span that records the event id; storing and the
    /// hand-over to the engine run in spans of their own inside it.
    #[tracing::instrument(name = "ingest", skip_all, fields(event_id = tracing::field::Empty, events = tracing::field::Empty))]
    pub async fn ingest_changes(
        &self,
        who: &Principal,
        input: ChangesIn,
        idempotency: Option<IdempotencyKey<'_>>,
    ) -> ServiceResult<IngestOutcome> {
        who.require_admin()?;
        let now = self.now();
        // The body is validated before a replay too: a retry resends the same valid request, and a malformed one
        // must not get a stored 202 just because it carries a known key.
        let (event_id, changes) = parse_request(input, now)?;
        tracing::Span::current().record("event_id", tracing::field::display(&event_id));
        if let Some(stored) = self.replayed(idempotency.as_ref(), now).await? {
            return Ok(stored);
        }
        match self.accept_changes(event_id, &changes, &[], idempotency.as_ref(), now).await? {
            Accepted::Done(outcome) => Ok(outcome),
            Accepted::Stale => Err(ServiceError::Internal("changes without entity state were found stale".into())),
        }
    }

    /// The stored answer of an earlier request with this idempotency key, if there is one.
    pub(crate) async fn replayed(
        &self,
        idempotency: Option<&IdempotencyKey<'_>>,
        now: DateTime<Utc>,
    ) -> ServiceResult<Option<IngestOutcome>> {
        let Some(k) = idempotency else { return Ok(None) };
        let stored = self.idempotent_answer(k.key, &k.body_hash, now).await?;
        Ok(stored.map(|body| IngestOutcome { body, replayed: true }))
    }

    /// Derives the events of validated changes, routes them and stores them durably with the idempotency key's
    /// answer and, for `PUT /entities` (`entities.rs`), the entity state they move (`Stale` when an entity
    /// changed since it was read: nothing is stored). The one ingestion path of every way of publishing.
    pub(crate) async fn accept_changes(
        &self,
        event_id: EventId,
        changes: &[ParsedChange],
        entities: &[EntityWrite],
        idempotency: Option<&IdempotencyKey<'_>>,
        now: DateTime<Utc>,
    ) -> ServiceResult<Accepted> {
        let table = self.inner.routing.table().await?;
        let mut events = Vec::new();
        let mut out = Vec::new();
        for pc in changes {
            for topic in derive_topics(&pc.change) {
                let e = build_change_event(&table, event_id, pc, topic, now);
                out.push(EventOut {
                    topic_id: topic.id.to_string(),
                    entity_id: Some(pc.change.entity_id.clone()),
                    deliveries: e.deliveries.len(),
                });
                events.push(e);
            }
        }
        let answer = serde_json::to_string(&ChangesOut { event_id: event_id.to_string(), events: out })
            .map_err(ServiceError::internal)?;
        let stored_key = idempotency.map(|k| StoredKey {
            key: k.key.to_string(),
            body_hash: k.body_hash.clone(),
            response: answer.clone(),
            expired_before: now - self.idempotency_ttl(),
        });
        let (stored, events) = self.store_events(events, entities, stored_key, now).await?;
        match stored {
            Ok(()) => {}
            Err(StoreError::Stale(_)) => return Ok(Accepted::Stale),
            Err(StoreError::Conflict(e)) => {
                // The same key was stored by a concurrent request: its answer is the answer.
                let Some(k) = idempotency else { return Err(StoreError::Conflict(e).into()) };
                if let Some(stored) = self.idempotent_answer(k.key, &k.body_hash, now).await? {
                    return Ok(Accepted::Done(IngestOutcome { body: stored, replayed: true }));
                }
                return Err(ServiceError::Conflict("a request with this Idempotency-Key is in progress".into()));
            }
            Err(e) => return Err(e.into()),
        }
        let deliveries: usize = events.iter().map(|e| e.deliveries.len()).sum();
        tracing::Span::current().record("events", events.len());
        tracing::debug!(changes = changes.len(), deliveries, "changes accepted");
        let metrics = self.inner.engine.metrics();
        metrics.changes_received.inc_by(changes.len() as u64);
        for e in &events {
            metrics.event(&e.topic_id, e.deliveries.len());
        }
        Ok(Accepted::Done(IngestOutcome { body: answer, replayed: false }))
    }

    /// Stores events (with the idempotency key's answer) and hands the deliveries this node's engine has room for to
    /// it, stored already held by this node. Both happen in one spawned task: a request cancelled meanwhile (its
    /// client went away) cannot separate them, which would leave deliveries held by this node but not in its engine
    /// (until the engine takes them back, a lease later). Returns the store's answer and the events.
    async fn store_events(
        &self,
        mut events: Vec<NewEvent>,
        entities: &[EntityWrite],
        idempotency: Option<StoredKey>,
        now: DateTime<Utc>,
    ) -> ServiceResult<(Result<(), StoreError>, Vec<NewEvent>)> {
        let reservation = self.inner.engine.reserve(&mut events);
        let (store, engine) = (self.inner.store.clone(), self.inner.engine.clone());
        let entities = entities.to_vec();
        let span = tracing::info_span!("store", events = events.len());
        let task = tokio::spawn(
            async move {
                let key = idempotency.as_ref().map(|k| Idempotency {
                    key: &k.key,
                    body_hash: &k.body_hash,
                    response: &k.response,
                    expired_before: k.expired_before,
                });
                let started = std::time::Instant::now();
                let stored = match entities.is_empty() {
                    true => store.insert_events(&events, key, now).await,
                    false => store.insert_entity_events(&events, &entities, key, now).await,
                };
                engine.metrics().changes_store_duration.observe(started.elapsed().as_secs_f64());
                if let Ok(sequenced) = &stored {
                    if reservation.leaves_work_to_claim(&events) {
                        engine.wake();
                    }
                    tracing::info_span!("hand_over").in_scope(|| reservation.hand_over(&events, sequenced));
                }
                (stored.map(|_| ()), events)
            }
            .instrument(span),
        );
        task.await.map_err(ServiceError::internal)
    }

    fn idempotency_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.inner.cfg.idempotency_ttl).unwrap_or(chrono::Duration::days(1))
    }

    /// The stored answer for `key` within its time to live; `422` on `Idempotency-Key` when the key was first used
    /// with another body (a key stored before Herald kept the body's hash is taken as the same request).
    async fn idempotent_answer(&self, key: &str, body_hash: &str, now: DateTime<Utc>) -> ServiceResult<Option<String>> {
        let Some(stored) = self.inner.store.get_idempotent_response(key, now - self.idempotency_ttl()).await? else {
            return Ok(None);
        };
        if stored.body_hash.as_deref().is_some_and(|h| h != body_hash) {
            return Err(ServiceError::field(
                "Idempotency-Key",
                "was used with a different request body; use a new key for a new request",
            ));
        }
        Ok(Some(stored.response))
    }

    /// The `application.install` or `application.uninstall` event (contract §8.4) for the application concerned,
    /// with its deliveries, to be stored with the installation's change in one transaction.
    pub(crate) async fn install_event(
        &self,
        app: &ApplicationRecord,
        inst: &InstallationRecord,
        install: bool,
        now: DateTime<Utc>,
    ) -> ServiceResult<NewEvent> {
        let topic_id = if install { "application.install" } else { "application.uninstall" };
        let Some(topic) = topics::find(topic_id) else {
            return Err(ServiceError::Internal(format!("topic {topic_id} missing from the catalogue").into()));
        };
        let event_id = EventId(new_uuid_v7());
        let new = install_payload(app, inst);
        let event_time = format_event_time(now);
        let event_id_text = event_id.to_string();
        let body = EventBody {
            event_id: &event_id_text,
            entity_id: None,
            customer_id: &inst.customer_id,
            event_time: &event_time,
            topic_id,
            new: Some(&new),
            old: None,
            diff: None,
        }
        .render_tail();
        let table = self.inner.routing.table().await?;
        let route = RouteEvent { topic, customer_id: &inst.customer_id, etag_only: false, application: Some(app.id) };
        // An application's installs and uninstalls of one customer keep their order: the installation is the entity.
        let entity = entity_key(&inst.customer_id, &inst.id.to_string());
        let deliveries = deliveries_for(&table, &route, &entity, &body, now);
        Ok(NewEvent {
            id: new_uuid_v7(),
            event_id,
            topic_id: topic_id.to_string(),
            customer_id: inst.customer_id.clone(),
            entity_id: None,
            event_time: now,
            body,
            deliveries,
        })
    }
}

/// The `new` side of an install or uninstall event (contract §8.4).
pub(crate) fn install_payload(app: &ApplicationRecord, inst: &InstallationRecord) -> Entity {
    let v = json!({
        "customerId": inst.customer_id,
        "customerName": inst.customer_name,
        "customerEmail": inst.customer_email,
        "applicationId": app.client_id,
        "internalAppId": app.id.to_string(),
        "applicationName": app.name,
    });
    match v {
        Value::Object(m) => m.into(),
        _ => Entity::new(),
    }
}

/// The deliveries of an event about `entity` (its [`entity_key`]) whose payload tail is `tail`: one per webhook
/// that receives it, filters included. Those to an ordered webhook carry the key, so that the store places them in
/// the entity's order.
fn deliveries_for(
    table: &RoutingTable,
    route: &RouteEvent<'_>,
    entity: &str,
    tail: &str,
    now: DateTime<Utc>,
) -> Vec<NewDelivery> {
    let sandbox = route.customer_id == SANDBOX_CUSTOMER;
    table
        .route(route, &FirstAttempt::new(tail))
        .iter()
        .map(|w| NewDelivery {
            id: DeliveryId(new_uuid_v7()),
            webhook_id: w.id,
            application_id: w.application_id,
            sandbox,
            state: DeliveryState::Pending,
            next_attempt_at: Some(now),
            owner: None,
            entity_key: w.ordered.then(|| entity.to_string()),
        })
        .collect()
}

fn build_change_event(
    table: &RoutingTable,
    event_id: EventId,
    pc: &ParsedChange,
    topic: &'static Topic,
    now: DateTime<Utc>,
) -> NewEvent {
    let c = &pc.change;
    let d = event_diff(topic, c.old.as_ref(), c.new.as_ref());
    let event_time = format_event_time(pc.event_time);
    let event_id_text = event_id.to_string();
    let body = EventBody {
        event_id: &event_id_text,
        entity_id: Some(&c.entity_id),
        customer_id: &c.customer_id,
        event_time: &event_time,
        topic_id: topic.id,
        new: c.new.as_ref(),
        old: c.old.as_ref(),
        diff: d.as_ref(),
    }
    .render_tail();
    let route = RouteEvent {
        topic,
        customer_id: &c.customer_id,
        etag_only: d.is_some() && c.is_etag_only(),
        application: None,
    };
    let deliveries = deliveries_for(table, &route, &entity_key(&c.customer_id, &c.entity_id), &body, now);
    NewEvent {
        id: new_uuid_v7(),
        event_id,
        topic_id: topic.id.to_string(),
        customer_id: c.customer_id.clone(),
        entity_id: Some(c.entity_id.clone()),
        event_time: pc.event_time,
        body,
        deliveries,
    }
}

fn parse_event_id(v: &Field<String>, field: &str, errors: &mut Vec<FieldError>) -> Option<EventId> {
    match v {
        Field::Absent | Field::Null => None,
        Field::Given(s) => match s.parse::<EventId>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new(field, "must be a UUID"));
                None
            }
        },
        Field::Invalid => {
            errors.push(FieldError::new(field, "must be a UUID string"));
            None
        }
    }
}

fn parse_event_time(v: &Field<String>, field: &str, now: DateTime<Utc>, errors: &mut Vec<FieldError>) -> DateTime<Utc> {
    match v {
        Field::Absent | Field::Null => now,
        Field::Given(s) => parse_rfc3339(s).unwrap_or_else(|| {
            errors.push(FieldError::new(field, "must be an RFC 3339 date and time"));
            now
        }),
        Field::Invalid => {
            errors.push(FieldError::new(field, "must be an RFC 3339 date and time string"));
            now
        }
    }
}

fn parse_change(c: ChangeIn) -> Result<Change, Vec<FieldError>> {
    Change::parse(&c.customer_id, &c.entity_type, &c.entity_id, c.old, c.new)
}

/// The single form `{ change }` or the batch form `{ eventId?, changes: [...] }`.
fn parse_request(input: ChangesIn, now: DateTime<Utc>) -> ServiceResult<(EventId, Vec<ParsedChange>)> {
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    let event_id = match input {
        ChangesIn::Batch(batch) => {
            let event_id = parse_event_id(&batch.event_id, "eventId", &mut errors);
            match batch.changes {
                Field::Given(items) => {
                    if items.is_empty() {
                        errors.push(FieldError::new("changes", "must hold at least one change"));
                    }
                    if items.len() > MAX_BATCH {
                        errors.push(FieldError::new("changes", format!("must hold at most {MAX_BATCH} changes")));
                    }
                    for (i, item) in items.into_iter().enumerate().take(MAX_BATCH) {
                        let prefix = format!("changes[{i}]");
                        let Field::Given(Object(item)) = item else {
                            errors.push(FieldError::new(prefix, "must be a JSON object"));
                            continue;
                        };
                        if !item.event_id.is_missing() {
                            errors.push(FieldError::new(
                                format!("{prefix}.eventId"),
                                "a batch has one eventId, given beside `changes`",
                            ));
                        }
                        let event_time =
                            parse_event_time(&item.event_time, &format!("{prefix}.eventTime"), now, &mut errors);
                        match parse_change(item) {
                            Ok(change) => parsed.push(ParsedChange { change, event_time }),
                            Err(errs) => errors.extend(errs.into_iter().map(|e| e.under(&prefix))),
                        }
                    }
                }
                _ => errors.push(FieldError::new("changes", "must be an array of changes")),
            }
            event_id
        }
        ChangesIn::One(change) => {
            let event_id = parse_event_id(&change.event_id, "eventId", &mut errors);
            let event_time = parse_event_time(&change.event_time, "eventTime", now, &mut errors);
            match parse_change(*change) {
                Ok(change) => parsed.push(ParsedChange { change, event_time }),
                Err(errs) => errors.extend(errs),
            }
            event_id
        }
    };
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    Ok((event_id.unwrap_or_else(|| EventId(new_uuid_v7())), parsed))
}
