//! Errors of UI pages: a service error becomes a small HTML page with the status the API would answer.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_service::ServiceError;

use super::layout;

/// An error page.
#[derive(Debug)]
pub struct UiError {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
}

impl UiError {
    pub fn page(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, title: title.into(), message: message.into() }
    }

    pub fn csrf() -> Self {
        Self::page(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form was not sent from a current Herald session (its security token is missing or stale). \
             Reload the page and try again.",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::page(StatusCode::NOT_FOUND, "Not found", format!("The {what} was not found."))
    }
}

impl From<ServiceError> for UiError {
    fn from(e: ServiceError) -> Self {
        // The API's mapping decides the status and logs internals once; the page shows its description.
        let api = crate::ApiError::from(e);
        let mut message = api.description;
        for fe in &api.errors {
            message.push_str(&format!(" {}: {}.", fe.field, fe.message));
        }
        let title = match api.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            s if s.is_server_error() => "Something went wrong",
            _ => "The request was not accepted",
        };
        UiError::page(api.status, title, message)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        (self.status, layout::bare_page(&self.title, &self.message)).into_response()
    }
}

pub type UiResult<T> = Result<T, UiError>;
