//! PostgreSQL's side of the catalogue written once (`crate::dialect`): native `UUID` and `TEXT[]` columns, and row
//! locks, since several nodes write the same rows.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Arguments, Postgres, Row};
use uuid::Uuid;

use crate::dialect::Dialect;
use crate::{NewDelivery, StoreResult};

impl Dialect for Postgres {
    const NUMBERED: bool = true;
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const GREATEST: &'static str = "GREATEST";
    const SNAPSHOT: Option<&'static str> = Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    // Whole seconds (integer division), in UTC whatever the session's time zone: the day as SQLite computes it.
    const ATTEMPT_DAY: &'static str = "to_char(to_timestamp(a.started / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
    const ATTEMPT_WEBHOOK_TEXT: &'static str = "a.webhook_id::text";
    const BYTE_ORDER: &'static str = "\"C\"";

    fn rows_affected(done: &sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }
    fn add_id(args: &mut PgArguments, id: Option<Uuid>) -> Result<(), BoxDynError> {
        args.add(id)
    }
    fn add_list(args: &mut PgArguments, items: &[String]) -> Result<(), BoxDynError> {
        args.add(items)
    }
    fn insert_delivery_rows<'c>(
        conn: &'c mut sqlx::PgConnection,
        rows: &'c [(Uuid, &'c NewDelivery, DateTime<Utc>)],
    ) -> BoxFuture<'c, StoreResult<Vec<crate::Sequenced>>> {
        Box::pin(super::deliveries::insert_delivery_rows(conn, rows))
    }
    fn get_id(row: &PgRow, column: &str) -> StoreResult<Uuid> {
        Ok(row.try_get(column)?)
    }
    fn get_opt_id(row: &PgRow, column: &str) -> StoreResult<Option<Uuid>> {
        Ok(row.try_get(column)?)
    }
    fn get_list(row: &PgRow, column: &str) -> StoreResult<Vec<String>> {
        Ok(row.try_get(column)?)
    }
}
