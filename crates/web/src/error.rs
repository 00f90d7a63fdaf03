//! The one error body of the API (contract §3).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_domain::FieldError;
use herald_service::ServiceError;
use serde::Serialize;
use utoipa::ToResponse;

/// One field error of the error body (contract §3).
#[derive(utoipa::ToSchema)]
#[schema(as = FieldErrorModel)]
#[allow(dead_code)]
pub struct FieldErrorModel {
    /// The property, with an index for list items (`topicIds[2]`) or a dotted path (`changes[1].entityId`); empty
    /// for the body as a whole.
    #[schema(example = "url")]
    pub field: String,
    #[schema(example = "must use the https scheme")]
    pub message: String,
}

/// An error answer: a status, a description and the field errors.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub description: String,
    pub errors: Vec<FieldError>,
    /// Seconds for a `Retry-After` header (a shed publishing request).
    pub retry_after: Option<u64>,
}

/// The body of every 4xx and 5xx answer (contract §3).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorModel<'a> {
    /// The answer's HTTP status, repeated.
    #[schema(minimum = 400, maximum = 599, example = 422)]
    status_code: u16,
    /// When the error happened (RFC 3339, UTC).
    #[schema(format = DateTime, example = "2026-01-01T00:00:00Z")]
    date_time: String,
    #[schema(example = "One or more validation failures have occurred.")]
    description: &'a str,
    /// One entry per broken rule; may be empty.
    #[schema(value_type = Vec<FieldErrorModel>)]
    errors: &'a [FieldError],
}

impl ApiError {
    pub fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self { status, description: description.into(), errors: Vec::new(), retry_after: None }
    }

    /// The same answer with `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "A valid bearer token is required (Authorization: Bearer <token>).")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("The {what} was not found."))
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Malformed(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
            ServiceError::Validation(errors) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                description: "One or more validation failures have occurred.".into(),
                errors,
                retry_after: None,
            },
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, m),
            ServiceError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            ServiceError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Storage is unavailable; nothing was accepted. Try again.",
                )
            }
            ServiceError::Overloaded { pending } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "Herald is handling {pending} publishing requests, as many as it may; nothing was read or \
                     stored. Try again after Retry-After seconds."
                ),
            )
            .retry_after(herald_service::RETRY_AFTER_SECS),
            ServiceError::Internal(cause) => {
                let mut chain = cause.to_string();
                let mut source = cause.source();
                while let Some(s) = source {
                    chain.push_str(": ");
                    chain.push_str(&s.to_string());
                    source = s.source();
                }
                tracing::error!(error = %chain, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "An internal error occurred.")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorModel {
            status_code: self.status.as_u16(),
            date_time: herald_domain::time::format_api_time(chrono::Utc::now()),
            description: &self.description,
            errors: &self.errors,
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = (self.status, [(header::CONTENT_TYPE, "application/json")], json).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "No such endpoint.")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "This endpoint does not accept this method.")
}

// ---- the shared error responses of the OpenAPI document (contract §3), each with the error body ----

/// The request cannot be read: the body is not JSON, or the query string or the path is malformed.
#[derive(ToResponse)]
#[allow(dead_code)] // never built: it describes a response
#[response(content_type = "application/json")]
pub struct BadRequest(ErrorModel<'static>);

/// A missing or unknown bearer token.
#[derive(ToResponse)]
#[allow(dead_code)] // never built: it describes a response
#[response(content_type = "application/json", headers(("WWW-Authenticate" = String, description = "`Bearer`")))]
pub struct Unauthorized(ErrorModel<'static>);

/// The token may not do this: an application key on the platform API, or the admin token on `/resthooks`.
#[derive(ToResponse)]
#[allow(dead_code)] // never built: it describes a response
#[response(content_type = "application/json")]
pub struct Forbidden(ErrorModel<'static>);

/// No such resource, or one the token may not see (contract §2: no existence leak).
#[derive(ToResponse)]
#[allow(dead_code)] // never built: it describes a response
#[response(content_type = "application/json")]
pub struct NotFound(ErrorModel<'static>);

/// The body is larger than 1 MiB.
#[derive(ToResponse)]
#[allow(dead_code)] // never built: it describes a response
#[response(content_type = "application/json")]
pub struct PayloadTooLarge(ErrorModel<'static>);

/// Valid JSON that breaks a rule; `errors` names each field.
#[derive(ToResponse)]
#[allow(dead_code)] // never built: it describes a response
#[response(content_type = "application/json")]
pub struct ValidationFailed(ErrorModel<'static>);

/// The store is unreachable, or (publishing endpoints) Herald is handling as many publishing requests as it may;
/// nothing was done. Try again (after `Retry-After` seconds when given).
#[derive(ToResponse)]
#[allow(dead_code)] // never built: it describes a response
#[response(
    content_type = "application/json",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again: sent when load is shed"))
)]
pub struct Unavailable(ErrorModel<'static>);
