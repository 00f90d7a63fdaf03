//! SQLite's side of the catalogue written once (`crate::dialect`): ids as UUID text, lists as JSON text, no row
//! locks (the single writer serialises every write).

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, Row, Sqlite};
use uuid::Uuid;

use crate::codec::{list, list_json, uuid};
use crate::dialect::Dialect;
use crate::{NewDelivery, StoreResult};

impl Dialect for Sqlite {
    const NUMBERED: bool = false;
    const FOR_UPDATE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    const GREATEST: &'static str = "MAX";
    const SNAPSHOT: Option<&'static str> = None;
    const ATTEMPT_DAY: &'static str = "strftime('%Y-%m-%d', a.started / 1000000, 'unixepoch')";
    const ATTEMPT_WEBHOOK_TEXT: &'static str = "a.webhook_id";
    const BYTE_ORDER: &'static str = "BINARY";

    fn add_id<'q>(args: &mut SqliteArguments<'q>, id: Option<Uuid>) -> Result<(), BoxDynError> {
        args.add(id.map(|id| id.to_string()))
    }
    fn add_list<'q>(args: &mut SqliteArguments<'q>, items: &'q [String]) -> Result<(), BoxDynError> {
        args.add(list_json(items))
    }
    fn get_id(row: &SqliteRow, column: &str) -> StoreResult<Uuid> {
        uuid(row.try_get(column)?)
    }
    fn get_opt_id(row: &SqliteRow, column: &str) -> StoreResult<Option<Uuid>> {
        row.try_get::<Option<&str>, _>(column)?.map(uuid).transpose()
    }
    fn get_list(row: &SqliteRow, column: &str) -> StoreResult<Vec<String>> {
        list(row.try_get(column)?)
    }
    fn rows_affected(done: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        done.rows_affected()
    }
    fn insert_delivery_rows<'c>(
        conn: &'c mut sqlx::SqliteConnection,
        rows: &'c [(Uuid, &'c NewDelivery, DateTime<Utc>)],
    ) -> BoxFuture<'c, StoreResult<Vec<crate::Sequenced>>> {
        Box::pin(super::deliveries::insert_delivery_rows(conn, rows))
    }
}
