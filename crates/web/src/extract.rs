//! Extractors: the caller's principal, a body within the size limit, query parameters; each failing as an
//! [`ApiError`].

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use herald_service::Principal;

use crate::{ApiError, AppState};

/// The authenticated caller (contract §2). Missing or unknown token: 401.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        match state.herald.authenticate(token).await? {
            Some(p) => Ok(Auth(p)),
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// A publishing request admitted for handling (`POST /changes`, the entity writes): taken before anything else of
/// the request is read, so that past `--max-pending-publishes` (or the bodies' byte bound) a request is answered
/// `503` with `Retry-After` at once, unread (`herald_service::admission`). Held by the handler until it answers.
pub struct Publishing(#[allow(dead_code)] herald_service::Admitted);

impl FromRequestParts<AppState> for Publishing {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(crate::BODY_LIMIT, |n| n.min(crate::BODY_LIMIT));
        Ok(Publishing(state.herald.admit_publish(length)?))
    }
}

/// The raw body, at most `BODY_LIMIT` bytes (413 beyond).
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(Body(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than {} bytes.", crate::BODY_LIMIT),
            )),
            Err(e) if crate::body_timeout::is_body_timeout(&e) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "The request body was not received in time.".to_string(),
            )),
            Err(e) => Err(ApiError::new(e.status(), e.body_text())),
        }
    }
}

/// Query parameters as text; a malformed query string is a 400.
pub struct Params(pub HashMap<String, String>);

impl Params {
    pub fn get(&self, k: &str) -> Option<String> {
        self.0.get(k).cloned()
    }

    pub fn str(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<HashMap<String, String>>::from_request_parts(parts, state).await {
            // Query values reach the database as text, where PostgreSQL refuses NUL.
            Ok(Query(m)) if m.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Malformed query string: parameters must not contain the NUL character".to_string(),
            )),
            Ok(Query(m)) => Ok(Params(m)),
            Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, format!("Malformed query string: {}", e.body_text()))),
        }
    }
}

/// The one parameter of a path like `/apps/{id}`, percent-decoded; a segment that does not decode to UTF-8 is a
/// 400 with the error body (axum's own rejection would answer in plain text).
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(p)) if p.contains('\0') => {
                Err(ApiError::new(StatusCode::BAD_REQUEST, "Malformed path: it contains the NUL character".to_string()))
            }
            Ok(Path(p)) => Ok(PathParam(p)),
            Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, format!("Malformed path: {}", e.body_text()))),
        }
    }
}

/// Parses a path id; an id that cannot exist is simply not found.
pub fn path_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::not_found(what))
}

/// A request body of type `T` (one of the service's `…In` types), at most `BODY_LIMIT` bytes: 413 beyond, 400 when
/// it is not JSON, 422 when it is not an object (`herald_service::input::from_json`).
pub struct JsonIn<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonIn<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Body(body) = Body::from_request(req, state).await?;
        Ok(JsonIn(herald_service::input::from_json(&body)?))
    }
}

/// As [`JsonIn`]; an empty body is `T::default()`.
pub struct JsonOrEmpty<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Default> FromRequest<S> for JsonOrEmpty<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Body(body) = Body::from_request(req, state).await?;
        Ok(JsonOrEmpty(herald_service::input::from_json_or_default(&body)?))
    }
}
