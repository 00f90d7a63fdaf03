use thiserror::Error;

/// What a storage operation can fail with, the same for every backend.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a state rule was broken (a duplicate client id, an installation already terminated).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is overloaded; the operation may succeed later.
    #[error("storage unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Stored data could not be read back (corruption or a schema mismatch).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("storage error")]
    Database(#[source] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                StoreError::Unavailable(e)
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("unique").to_string())
            }
            _ => StoreError::Database(e),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}
