//! Entity state (contract §9.5): `PUT`, `DELETE` and `GET /entities/{customerId}/{entityType}/{entityId}` and the
//! batch `POST /entities`. Herald keeps each entity's last record and publishes the change from it: the stored
//! record is the change's `old`, and the change goes through the one ingestion path of `POST /changes`
//! ([`Herald::accept_changes`]: derivation, routing, group commit, idempotency, the `202` answer), which writes the
//! new state in the transaction of the events it causes.
//!
//! Writes of one entity take turns: on this node an in-process lock per entity ([`EntityLocks`]); across nodes the
//! store's compare-and-set on the entity's version, after which the request reads the state again and derives its
//! change anew. So each change diffs against the record before it, never against the same `old` as another.

use std::collections::HashMap;

use herald_domain::change::Entity;
use herald_domain::field::{Object, ObjectList};
use herald_domain::{Change, EventId, FieldError};
use herald_store::{EntityKey, EntityWrite};
use serde::Deserialize;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::Ref;
use utoipa::ToSchema;

use crate::changes::{entity_type as entity_type_schema, id_text as id_schema};
use crate::changes::{Accepted, ParsedChange, MAX_BATCH};
use crate::input::{or_null, Field};
use crate::*;

/// How many times a request reads the state again after another node changed one of its entities first.
const MAX_TRIES: usize = 200;

/// The entity a path names: `/entities/{customerId}/{entityType}/{entityId}`.
#[derive(Debug, Clone)]
pub struct EntityPath {
    pub customer_id: String,
    pub entity_type: String,
    pub entity_id: String,
}

/// `POST /entities`: records of entities, applied in order in one transaction.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EntitiesModel, rename_all = "camelCase")]
pub struct EntitiesIn {
    #[serde(default)]
    #[schema(schema_with = records, required = true)]
    pub records: ObjectList<EntityRecordIn>,
}

/// One entity's record now, as the platform would `PUT` it; `record: null` deletes it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EntityRecordModel, rename_all = "camelCase")]
pub struct EntityRecordIn {
    #[serde(default)]
    #[schema(schema_with = customer_id, required = true)]
    pub customer_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = entity_type_schema, required = true)]
    pub entity_type: Field<String>,
    #[serde(default)]
    #[schema(schema_with = entity_id, required = true)]
    pub entity_id: Field<String>,
    #[serde(default)]
    #[schema(schema_with = record, required = true)]
    pub record: Field<Entity>,
}

fn records() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(Ref::from_schema_name(EntityRecordIn::name()))
        .min_items(Some(1))
        .max_items(Some(MAX_BATCH))
}

fn customer_id() -> ObjectBuilder {
    id_schema(herald_domain::change::MAX_CUSTOMER_ID_CHARS).examples([serde_json::json!("RPT")])
}

fn entity_id() -> ObjectBuilder {
    id_schema(herald_domain::change::MAX_ENTITY_ID_CHARS)
}

fn record() -> Schema {
    let mut s = or_null(ObjectBuilder::new().schema_type(Type::Object));
    if let Schema::OneOf(o) = &mut s {
        o.description = Some("The entity's record now, as the platform's API returns it; `null` deletes it.".into());
    }
    s
}

/// One record to apply: which entity, and its record now (`None`: deleted).
struct Item {
    key: EntityKey,
    change: Change,
    record: Option<Entity>,
}

/// Validates an entity's key (`customerId`, `entityType`, `entityId`) as a change's; errors name those fields.
fn parse_key(
    customer_id: &Field<String>,
    entity_type: &Field<String>,
    entity_id: &Field<String>,
) -> Result<Change, Vec<FieldError>> {
    Change::parse(customer_id, entity_type, entity_id, Field::Absent, Field::Given(Entity::new()))
}

fn item(change: Change, record: Option<Entity>) -> Item {
    let key = EntityKey {
        customer_id: change.customer_id.clone(),
        entity_type: change.entity_type.as_str().to_string(),
        entity_id: change.entity_id.clone(),
    };
    Item { key, change, record }
}

fn path_item(path: &EntityPath, record: Option<Entity>) -> ServiceResult<Item> {
    let given = |s: &str| Field::Given(s.to_string());
    let change = parse_key(&given(&path.customer_id), &given(&path.entity_type), &given(&path.entity_id))
        .map_err(ServiceError::Validation)?;
    Ok(item(change, record))
}

/// What the request does when an entity has no record (never stored, or deleted) and the request deletes it.
#[derive(Clone, Copy, PartialEq)]
enum Missing {
    /// `DELETE /entities/…`: 404.
    NotFound,
    /// In a batch: nothing to do, like a record sent again.
    Nothing,
}

impl Herald {
    /// `PUT /entities/{customerId}/{entityType}/{entityId}`: the entity's record now. Emits its creation (nothing was
    /// stored, or it was deleted) or its modification; nothing when the record is the stored one.
    pub async fn put_entity(
        &self,
        who: &Principal,
        path: &EntityPath,
        record: Entity,
        idempotency: Option<IdempotencyKey<'_>>,
    ) -> ServiceResult<IngestOutcome> {
        who.require_admin()?;
        let items = vec![path_item(path, Some(record))?];
        self.publish_entities(items, Missing::NotFound, idempotency).await
    }

    /// `DELETE /entities/{customerId}/{entityType}/{entityId}`: emits the deletion (`new: null`); `NotFound` when
    /// the entity has no record.
    pub async fn delete_entity(
        &self,
        who: &Principal,
        path: &EntityPath,
        idempotency: Option<IdempotencyKey<'_>>,
    ) -> ServiceResult<IngestOutcome> {
        who.require_admin()?;
        let items = vec![path_item(path, None)?];
        self.publish_entities(items, Missing::NotFound, idempotency).await
    }

    /// `POST /entities`: each record in order, as one request (one event id, one transaction). Deleting an entity
    /// that has no record emits nothing.
    pub async fn put_entities(
        &self,
        who: &Principal,
        input: EntitiesIn,
        idempotency: Option<IdempotencyKey<'_>>,
    ) -> ServiceResult<IngestOutcome> {
        who.require_admin()?;
        let mut errors = Vec::new();
        let mut items = Vec::new();
        match input.records {
            Field::Given(list) => {
                if list.is_empty() {
                    errors.push(FieldError::new("records", "must hold at least one record"));
                }
                if list.len() > MAX_BATCH {
                    errors.push(FieldError::new("records", format!("must hold at most {MAX_BATCH} records")));
                }
                for (i, r) in list.into_iter().enumerate().take(MAX_BATCH) {
                    let prefix = format!("records[{i}]");
                    let Field::Given(Object(r)) = r else {
                        errors.push(FieldError::new(prefix, "must be a JSON object"));
                        continue;
                    };
                    let record = match r.record {
                        Field::Given(m) => Some(m),
                        Field::Null => None,
                        Field::Absent => {
                            errors.push(FieldError::new(format!("{prefix}.record"), "is required; null deletes"));
                            None
                        }
                        Field::Invalid => {
                            errors.push(FieldError::new(format!("{prefix}.record"), "must be a JSON object or null"));
                            None
                        }
                    };
                    match parse_key(&r.customer_id, &r.entity_type, &r.entity_id) {
                        Ok(change) => items.push(item(change, record)),
                        Err(errs) => errors.extend(errs.into_iter().map(|e| e.under(&prefix))),
                    }
                }
            }
            _ => errors.push(FieldError::new("records", "must be an array of records")),
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        self.publish_entities(items, Missing::Nothing, idempotency).await
    }

    /// `GET /entities/{customerId}/{entityType}/{entityId}`: the last record, as JSON text; `NotFound` when there is
    /// none (never stored, or deleted).
    pub async fn get_entity(&self, who: &Principal, path: &EntityPath) -> ServiceResult<String> {
        who.require_admin()?;
        let item = path_item(path, None)?;
        let state = self.inner.store.get_entities(std::slice::from_ref(&item.key)).await?;
        state.into_iter().next().flatten().and_then(|s| s.record).ok_or(ServiceError::NotFound("entity"))
    }

    /// Applies `items` in order against the stored state and publishes the changes they make, with the new state,
    /// through [`Herald::accept_changes`]; reads again and starts over when another node changed an entity first.
    #[tracing::instrument(name = "ingest", skip_all, fields(event_id = tracing::field::Empty, events = tracing::field::Empty))]
    async fn publish_entities(
        &self,
        items: Vec<Item>,
        missing: Missing,
        idempotency: Option<IdempotencyKey<'_>>,
    ) -> ServiceResult<IngestOutcome> {
        let now = self.now();
        if let Some(stored) = self.replayed(idempotency.as_ref(), now).await? {
            return Ok(stored);
        }
        let event_id = EventId(new_uuid_v7());
        tracing::Span::current().record("event_id", tracing::field::display(&event_id));
        let mut keys: Vec<EntityKey> = items.iter().map(|i| i.key.clone()).collect();
        keys.sort();
        keys.dedup();
        let _held = self.inner.entity_locks.lock_all(&keys).await;
        let cache = &self.inner.entity_cache;
        for _ in 0..MAX_TRIES {
            let (changes, writes, records) = self.changes_of(&items, &keys, missing, now).await?;
            match self.accept_changes(event_id, &changes, &writes, idempotency.as_ref(), now).await? {
                Accepted::Done(outcome) => {
                    if !outcome.replayed {
                        for (w, record) in writes.into_iter().zip(records) {
                            cache.put(w.key, (record, w.read_version + 1));
                        }
                    }
                    return Ok(outcome);
                }
                Accepted::Stale => {
                    tracing::debug!("an entity changed on another node meanwhile; reading it again");
                    cache.forget(&keys);
                }
            }
        }
        Err(ServiceError::Conflict("the entity kept changing while this request was applied; try again".into()))
    }

    /// Reads the state of `keys` (from this node's memory of it when there, else from the store) and applies
    /// `items` to it in order: the changes they make (a record equal to the current one makes none), and the state
    /// to write, one write per entity that changed, with its record.
    async fn changes_of(
        &self,
        items: &[Item],
        keys: &[EntityKey],
        missing: Missing,
        now: chrono::DateTime<chrono::Utc>,
    ) -> ServiceResult<(Vec<ParsedChange>, Vec<EntityWrite>, Vec<Option<Entity>>)> {
        let cache = &self.inner.entity_cache;
        // Per entity: the record now, the version read, whether this request changed it.
        let mut current: HashMap<&EntityKey, (Option<Entity>, i64, bool)> = HashMap::with_capacity(keys.len());
        let mut unknown = Vec::new();
        for key in keys {
            match cache.get(key) {
                Some((record, version)) => {
                    current.insert(key, (record, version, false));
                }
                None => unknown.push(key),
            }
        }
        if !unknown.is_empty() {
            let asked: Vec<EntityKey> = unknown.iter().map(|k| (*k).clone()).collect();
            let states = self.inner.store.get_entities(&asked).await?;
            for (key, state) in unknown.into_iter().zip(states) {
                let (record, version) = match state {
                    Some(s) => (s.record.as_deref().map(parse_record).transpose()?, s.version),
                    None => (None, 0),
                };
                cache.put(key.clone(), (record.clone(), version));
                current.insert(key, (record, version, false));
            }
        }
        let mut changes = Vec::new();
        for item in items {
            let Some(entry) = current.get_mut(&item.key) else { continue };
            if entry.0 == item.record {
                if item.record.is_none() && missing == Missing::NotFound {
                    return Err(ServiceError::NotFound("entity"));
                }
                continue;
            }
            let mut change = item.change.clone();
            change.old = entry.0.take();
            change.new = item.record.clone();
            entry.0 = item.record.clone();
            entry.2 = true;
            changes.push(ParsedChange { change, event_time: now });
        }
        let (mut writes, mut records) = (Vec::new(), Vec::new());
        for key in keys {
            if let Some((record, version, true)) = current.remove(key) {
                let text = record.as_ref().map(serde_json::to_string).transpose().map_err(ServiceError::internal)?;
                writes.push(EntityWrite { key: key.clone(), read_version: version, record: text });
                records.push(record);
            }
        }
        Ok((changes, writes, records))
    }
}

/// A stored record, read back.
fn parse_record(text: &str) -> ServiceResult<Entity> {
    serde_json::from_str(text).map_err(ServiceError::internal)
}
