use herald_domain::FieldError;
use herald_store::StoreError;
use thiserror::Error;

/// What a Herald operation can fail with. The HTTP layer maps each arm to a status (contract §3); nothing here knows
/// a status code.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// The request body is not JSON (or not the JSON shape at all).
    #[error("{0}")]
    Malformed(String),
    /// Valid JSON that breaks a rule; each error names its field.
    #[error("One or more validation failures have occurred.")]
    Validation(Vec<FieldError>),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The principal may not do this at all (an application key on the platform API).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// The store cannot be reached; the request may be retried.
    #[error("storage is unavailable; try again")]
    Unavailable(#[source] StoreError),
    /// Herald is handling as many publishing requests as it may (`--max-pending-publishes`); nothing was read
    /// or stored. The caller should try again after [`crate::RETRY_AFTER_SECS`].
    #[error("{pending} publishing requests are being handled, the most allowed; try again shortly")]
    Overloaded { pending: usize },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ServiceError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ServiceError::Internal(Box::new(e))
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound("resource"),
            StoreError::Conflict(c) => ServiceError::Conflict(c),
            e if e.is_unavailable() => ServiceError::Unavailable(e),
            other => ServiceError::internal(other),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
