//! The storage error, the same for every backend, and the mapping of each backend's failures onto it.

use sqlx::error::DatabaseError;
use thiserror::Error;

/// What a storage operation can fail with, the same for every backend.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a state rule was broken (a duplicate client id, an installation already terminated).
    /// The text says which in words a user may read; it never names a constraint.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A compare-and-set write found the row changed since it was read (entity state, contract §9.5): read again
    /// and retry.
    #[error("stale: {0}")]
    Stale(String),
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
    /// The transaction of a group commit failed: every request in it gets this same failure.
    #[error("the transaction of a group commit failed")]
    GroupCommit(#[source] std::sync::Arc<StoreError>),
    /// One failure handed to several callers that waited on the same operation (a routing table reload).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(unique_rule(db.as_ref())),
            _ if is_unavailable(&e) => StoreError::Unavailable(e),
            _ => StoreError::Database(e),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(inner) if is_unavailable(&inner) => StoreError::Unavailable(inner),
            e => StoreError::Migrate(e),
        }
    }
}

impl StoreError {
    /// Whether the database is away for now (also when a group commit failed for that reason): the operation may
    /// succeed later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::GroupCommit(inner) | StoreError::Shared(inner) => inner.is_unavailable(),
            _ => false,
        }
    }

    /// A broken foreign key as `NotFound`, for writes that name the rows they hang on (an event row id): the
    /// caller referred to something that is not stored.
    pub(crate) fn missing_reference_as_not_found(self) -> Self {
        match &self {
            StoreError::Database(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => StoreError::NotFound,
            _ => self,
        }
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => is_transient(db.as_ref()),
        _ => false,
    }
}

/// Failures after which the same operation may succeed: the server going away or refusing work for now.
///
/// PostgreSQL SQLSTATEs: class 08 (connection exception), 53 (insufficient resources: too many connections, out of
/// memory or disk), 57P01..57P03 (admin or crash shutdown, cannot connect now), 40001 and 40P01 (serialization
/// failure, deadlock: the transaction was rolled back and may simply be run again). SQLite: `SQLITE_BUSY` and
/// `SQLITE_LOCKED` (and their extended codes), left after the busy timeout.
fn is_transient(db: &dyn DatabaseError) -> bool {
    let Some(code) = db.code() else { return false };
    if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
        code.starts_with("08")
            || code.starts_with("53")
            || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "40001" | "40P01")
    } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
    } else {
        false
    }
}

/// Which uniqueness rule a duplicate broke, in words. PostgreSQL names the constraint (`applications_client_id_key`);
/// SQLite names the column in its message (`UNIQUE constraint failed: applications.client_id`).
fn unique_rule(db: &dyn DatabaseError) -> String {
    let what = db.constraint().map(str::to_owned).unwrap_or_else(|| db.message().replace('.', "_"));
    let rule = if what.contains("applications_client_id") {
        "an application with this client id exists"
    } else if what.contains("applications_api_key_hash") {
        "an application with this API key exists"
    } else if what.contains("idempotency_keys") {
        "this idempotency key was used already"
    } else {
        "a record with this id exists"
    };
    rule.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_timeout_is_unavailable() {
        assert!(matches!(StoreError::from(sqlx::Error::PoolTimedOut), StoreError::Unavailable(_)));
        assert!(matches!(StoreError::from(sqlx::Error::PoolClosed), StoreError::Unavailable(_)));
    }

    #[test]
    fn a_missing_row_is_not_found() {
        assert!(matches!(StoreError::from(sqlx::Error::RowNotFound), StoreError::NotFound));
    }
}
