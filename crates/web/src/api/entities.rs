//! Entity state (contract §9.5): the platform sends an entity's record now, and Herald publishes the change from
//! the record it kept. Admin token only. The rules are the service's (`herald_service::entities`).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_service::models::ChangesOut;
use herald_service::{CustomerIdText, EntitiesIn, EntityIdText, EntityPath, EntityTypeName, IdempotencyKey};

use super::platform::{accepted, idempotency_key};
use crate::error::{BadRequest, ErrorModel, Forbidden, NotFound, PayloadTooLarge, ValidationFailed};
use crate::extract::{Auth, Body, Publishing};
use crate::{ApiError, AppState};

type Result<T> = std::result::Result<T, ApiError>;

/// The entity of a path `/entities/{customerId}/{entityType}/{entityId}`, percent-decoded; a segment with a NUL or
/// not UTF-8 is a 400 with the error body.
pub struct EntityParams(pub EntityPath);

impl<S: Send + Sync> FromRequestParts<S> for EntityParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> std::result::Result<Self, Self::Rejection> {
        match Path::<(String, String, String)>::from_request_parts(parts, state).await {
            Ok(Path((c, t, e))) if [&c, &t, &e].iter().any(|s| s.contains('\0')) => {
                Err(ApiError::new(StatusCode::BAD_REQUEST, "Malformed path: it contains the NUL character".to_string()))
            }
            Ok(Path((customer_id, entity_type, entity_id))) => {
                Ok(EntityParams(EntityPath { customer_id, entity_type, entity_id }))
            }
            Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, format!("Malformed path: {}", e.body_text()))),
        }
    }
}

/// The path a request's idempotency key is bound to, beside its body.
fn target(p: &EntityPath) -> String {
    format!("/entities/{}/{}/{}", p.customer_id, p.entity_type, p.entity_id)
}

/// Publishes an entity's record now: Herald diffs it against the record it kept (none: a creation), derives the
/// topics as for `POST /changes`, and keeps this record. The same record again emits nothing (`events: []`).
#[utoipa::path(
    put,
    path = "/entities/{customerId}/{entityType}/{entityId}",
    operation_id = "putEntity",
    tag = "platform",
    params(
        ("customerId" = inline(CustomerIdText), Path, description = "The customer."),
        ("entityType" = inline(EntityTypeName), Path, description = "One of the entity types of `POST /changes`."),
        ("entityId" = inline(EntityIdText), Path, description = "The entity."),
        (
            "Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$",
            description = "A retried request with the same key answers the first answer instead of publishing again."
        ),
    ),
    request_body(content = Object, description = "The entity's record now, as the platform's API returns it."),
    responses(
        (status = 202, description = "Every derived event, with its number of deliveries.", body = ChangesOut,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key."))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 409, body = ErrorModel, description = "A request with the same Idempotency-Key is in progress."),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn put_entity(
    _admitted: Publishing,
    State(s): State<AppState>,
    Auth(who): Auth,
    EntityParams(path): EntityParams,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    who.require_admin()?;
    let key = idempotency_key(&headers)?;
    let record: herald_domain::change::Entity = herald_service::input::from_json(&body)?;
    let key = IdempotencyKey::of_request(key, "PUT", &target(&path), &body)?;
    Ok(accepted(s.herald.put_entity(&who, &path, record, key).await?))
}

/// Publishes an entity's deletion: a `.modified` event with the record Herald kept as `old` and `new: null`.
#[utoipa::path(
    delete,
    path = "/entities/{customerId}/{entityType}/{entityId}",
    operation_id = "deleteEntity",
    tag = "platform",
    params(
        ("customerId" = inline(CustomerIdText), Path, description = "The customer."),
        ("entityType" = inline(EntityTypeName), Path, description = "One of the entity types of `POST /changes`."),
        ("entityId" = inline(EntityIdText), Path, description = "The entity."),
        (
            "Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$",
            description = "A retried request with the same key answers the first answer instead of publishing again."
        ),
    ),
    responses(
        (status = 202, description = "The deletion's events, with their number of deliveries.", body = ChangesOut,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key."))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorModel, description = "A request with the same Idempotency-Key is in progress."),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn delete_entity(
    _admitted: Publishing,
    State(s): State<AppState>,
    Auth(who): Auth,
    EntityParams(path): EntityParams,
    headers: HeaderMap,
) -> Result<Response> {
    who.require_admin()?;
    let key = idempotency_key(&headers)?;
    let key = IdempotencyKey::of_request(key, "DELETE", &target(&path), b"")?;
    Ok(accepted(s.herald.delete_entity(&who, &path, key).await?))
}

/// The last record Herald was given for an entity.
#[utoipa::path(
    get,
    path = "/entities/{customerId}/{entityType}/{entityId}",
    operation_id = "getEntity",
    tag = "platform",
    params(
        ("customerId" = inline(CustomerIdText), Path, description = "The customer."),
        ("entityType" = inline(EntityTypeName), Path, description = "One of the entity types of `POST /changes`."),
        ("entityId" = inline(EntityIdText), Path, description = "The entity."),
    ),
    responses(
        (status = 200, description = "The record, as it was last put.", body = Object),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn get_entity(
    State(s): State<AppState>,
    Auth(who): Auth,
    EntityParams(path): EntityParams,
) -> Result<Response> {
    who.require_admin()?;
    let record = s.herald.get_entity(&who, &path).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], record).into_response())
}

/// Publishes several entities' records (`record: null` deletes), applied in order as one request: one event id,
/// one transaction.
#[utoipa::path(
    post,
    path = "/entities",
    operation_id = "putEntities",
    tag = "platform",
    params((
        "Idempotency-Key" = Option<String>, Header, nullable = false, pattern = r"^[\x21-\x7E]{1,255}$",
        description = "A retried request with the same key answers the first answer instead of publishing again."
    )),
    request_body = EntitiesIn,
    responses(
        (status = 202, description = "Every derived event, with its number of deliveries.", body = ChangesOut,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer of an earlier request with the same key."))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 409, body = ErrorModel, description = "A request with the same Idempotency-Key is in progress."),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
pub async fn post_entities(
    _admitted: Publishing,
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response> {
    who.require_admin()?;
    let key = idempotency_key(&headers)?;
    let input: EntitiesIn = herald_service::input::from_json(&body)?;
    let key = IdempotencyKey::of_request(key, "POST", "/entities", &body)?;
    Ok(accepted(s.herald.put_entities(&who, input, key).await?))
}
