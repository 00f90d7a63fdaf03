//! What differs between the two databases for the catalogue, and nothing else: how an id and a list of strings are
//! kept (UUID text and JSON text on SQLite, `UUID` and `TEXT[]` on PostgreSQL), row locks (PostgreSQL's nodes
//! share rows; SQLite's single writer serialises every write), and a few function names. Each backend implements
//! [`Dialect`] once (`sqlite/dialect.rs`, `postgres/dialect.rs`); [`Sql`] then gives generic code everything it
//! binds, reads and runs, so that the catalogue (`crate::catalogue`) is written once for both.
//!
//! Placeholders never appear in SQL text: a [`Stmt`] renders each value it binds as `?` or `$n` for the backend.

use std::fmt::Display;
use std::marker::PhantomData;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::{Arguments, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};
use uuid::Uuid;

use chrono::{DateTime, Utc};

use crate::{NewDelivery, StoreResult};

/// A backend's side of the catalogue: what its SQL spells differently, and how it keeps ids and lists.
pub trait Dialect: Database {
    /// Placeholders are numbered (`$1`, PostgreSQL) rather than all `?` (SQLite).
    const NUMBERED: bool;
    /// Appended to a `SELECT` whose rows the transaction then updates: ` FOR UPDATE` where several nodes write the
    /// same rows (PostgreSQL), nothing where one writer serialises all writes (SQLite).
    const FOR_UPDATE: &'static str;
    /// Appended to the `SELECT … LIMIT n` of a retention batch: ` FOR UPDATE SKIP LOCKED` on PostgreSQL, so that
    /// nodes pruning at once share the rows instead of waiting on each other; nothing on SQLite.
    const SKIP_LOCKED: &'static str;
    /// The larger of two values: `GREATEST` (PostgreSQL) or the two-argument scalar `MAX` (SQLite).
    const GREATEST: &'static str;
    /// Run first in a read transaction that must see one snapshot (PostgreSQL's default isolation gives each
    /// statement its own); `None` where a read transaction is a snapshot already (SQLite in WAL mode).
    const SNAPSHOT: Option<&'static str>;
    /// The UTC day (`YYYY-MM-DD`) of `a.started`, from whole seconds.
    const ATTEMPT_DAY: &'static str;
    /// `a.webhook_id` as text (the lowercase hyphenated UUID on both).
    const ATTEMPT_WEBHOOK_TEXT: &'static str;
    /// The collation that orders text byte by byte: `"C"` (PostgreSQL) or `BINARY` (SQLite).
    const BYTE_ORDER: &'static str;

    fn add_id<'q>(args: &mut Self::Arguments<'q>, id: Option<Uuid>) -> Result<(), BoxDynError>;
    fn add_list<'q>(args: &mut Self::Arguments<'q>, items: &'q [String]) -> Result<(), BoxDynError>;
    fn get_id(row: &Self::Row, column: &str) -> StoreResult<Uuid>;
    fn get_opt_id(row: &Self::Row, column: &str) -> StoreResult<Option<Uuid>>;
    fn get_list(row: &Self::Row, column: &str) -> StoreResult<Vec<String>>;
    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// Inserts deliveries of events already stored (`(event row id, delivery, created)`), in the caller's
    /// transaction, the backend's hot-path way: 1,000 rows per statement on SQLite, one `UNNEST` on PostgreSQL.
    /// Ordered deliveries are placed in their entities' order (see `Sequenced`).
    fn insert_delivery_rows<'c>(
        conn: &'c mut Self::Connection,
        rows: &'c [(Uuid, &'c NewDelivery, DateTime<Utc>)],
    ) -> BoxFuture<'c, StoreResult<Vec<crate::Sequenced>>>;
}

/// A value to bind. Ids and lists take the backend's own encoding ([`Dialect::push_id`], [`Dialect::push_list`]);
/// everything else binds as it is on both.
pub enum Arg<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Int4(i32),
    Text(&'a str),
    OptText(Option<&'a str>),
    Owned(String),
    OptOwned(Option<String>),
    Flag(bool),
    Bytes(Vec<u8>),
    Id(Uuid),
    OptId(Option<Uuid>),
    List(&'a [String]),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}
impl From<i32> for Arg<'_> {
    fn from(v: i32) -> Self {
        Arg::Int4(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::OptText(v)
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::OptText(v.as_deref())
    }
}
impl From<String> for Arg<'_> {
    fn from(v: String) -> Self {
        Arg::Owned(v)
    }
}
impl From<Option<String>> for Arg<'_> {
    fn from(v: Option<String>) -> Self {
        Arg::OptOwned(v)
    }
}
impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Flag(v)
    }
}
impl From<Vec<u8>> for Arg<'_> {
    fn from(v: Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}
impl From<Uuid> for Arg<'_> {
    fn from(v: Uuid) -> Self {
        Arg::Id(v)
    }
}
impl From<Option<Uuid>> for Arg<'_> {
    fn from(v: Option<Uuid>) -> Self {
        Arg::OptId(v)
    }
}
impl<'a> From<&'a [String]> for Arg<'a> {
    fn from(v: &'a [String]) -> Self {
        Arg::List(v)
    }
}
impl<'a> From<&'a Vec<String>> for Arg<'a> {
    fn from(v: &'a Vec<String>) -> Self {
        Arg::List(v)
    }
}

/// Everything generic code binds, reads and runs, for any [`Dialect`] whose driver encodes and decodes the plain
/// column types (both do). Implemented once, below, for every such backend.
pub trait Sql: Dialect {
    fn add_arg<'q>(args: &mut Self::Arguments<'q>, arg: Arg<'q>) -> Result<(), BoxDynError>;
    fn text(row: &Self::Row, column: &str) -> StoreResult<String>;
    fn opt_text(row: &Self::Row, column: &str) -> StoreResult<Option<String>>;
    fn int(row: &Self::Row, column: &str) -> StoreResult<i64>;
    fn opt_int(row: &Self::Row, column: &str) -> StoreResult<Option<i64>>;
    /// An `INTEGER` column (32 bits on PostgreSQL): states, attempt numbers, status codes.
    fn int4(row: &Self::Row, column: &str) -> StoreResult<i32>;
    fn opt_int4(row: &Self::Row, column: &str) -> StoreResult<Option<i32>>;
    fn flag(row: &Self::Row, column: &str) -> StoreResult<bool>;
    fn bytes(row: &Self::Row, column: &str) -> StoreResult<Vec<u8>>;
    fn fetch_all<'e>(
        sql: &'e str,
        args: Vec<Arg<'e>>,
        conn: &'e mut Self::Connection,
    ) -> BoxFuture<'e, Result<Vec<Self::Row>, sqlx::Error>>;
    fn fetch_optional<'e>(
        sql: &'e str,
        args: Vec<Arg<'e>>,
        conn: &'e mut Self::Connection,
    ) -> BoxFuture<'e, Result<Option<Self::Row>, sqlx::Error>>;
    fn execute<'e>(sql: &'e str, args: Vec<Arg<'e>>, conn: &'e mut Self::Connection)
        -> BoxFuture<'e, StoreResult<u64>>;
}

/// The bound values of a statement, encoded for `DB`.
fn arguments<'q, DB: Sql>(args: Vec<Arg<'q>>) -> Result<DB::Arguments<'q>, sqlx::Error> {
    let mut out = DB::Arguments::<'q>::default();
    for arg in args {
        DB::add_arg(&mut out, arg).map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

impl<DB> Sql for DB
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
{
    fn add_arg<'q>(args: &mut Self::Arguments<'q>, arg: Arg<'q>) -> Result<(), BoxDynError> {
        match arg {
            Arg::Int(v) => args.add(v),
            Arg::OptInt(v) => args.add(v),
            Arg::Int4(v) => args.add(v),
            Arg::Text(v) => args.add(v),
            Arg::OptText(v) => args.add(v),
            Arg::Owned(v) => args.add(v),
            Arg::OptOwned(v) => args.add(v),
            Arg::Flag(v) => args.add(v),
            Arg::Bytes(v) => args.add(v),
            Arg::Id(v) => DB::add_id(args, Some(v)),
            Arg::OptId(v) => DB::add_id(args, v),
            Arg::List(v) => DB::add_list(args, v),
        }
    }
    fn text(row: &Self::Row, column: &str) -> StoreResult<String> {
        Ok(row.try_get(column)?)
    }
    fn opt_text(row: &Self::Row, column: &str) -> StoreResult<Option<String>> {
        Ok(row.try_get(column)?)
    }
    fn int(row: &Self::Row, column: &str) -> StoreResult<i64> {
        Ok(row.try_get(column)?)
    }
    fn opt_int(row: &Self::Row, column: &str) -> StoreResult<Option<i64>> {
        Ok(row.try_get(column)?)
    }
    fn int4(row: &Self::Row, column: &str) -> StoreResult<i32> {
        Ok(row.try_get(column)?)
    }
    fn opt_int4(row: &Self::Row, column: &str) -> StoreResult<Option<i32>> {
        Ok(row.try_get(column)?)
    }
    fn flag(row: &Self::Row, column: &str) -> StoreResult<bool> {
        Ok(row.try_get(column)?)
    }
    fn bytes(row: &Self::Row, column: &str) -> StoreResult<Vec<u8>> {
        Ok(row.try_get(column)?)
    }
    fn fetch_all<'e>(
        sql: &'e str,
        args: Vec<Arg<'e>>,
        conn: &'e mut Self::Connection,
    ) -> BoxFuture<'e, Result<Vec<Self::Row>, sqlx::Error>> {
        match arguments::<DB>(args) {
            Ok(args) => conn.fetch_all(sqlx::query_with(sql, args)),
            Err(e) => Box::pin(futures::future::ready(Err(e))),
        }
    }
    fn fetch_optional<'e>(
        sql: &'e str,
        args: Vec<Arg<'e>>,
        conn: &'e mut Self::Connection,
    ) -> BoxFuture<'e, Result<Option<Self::Row>, sqlx::Error>> {
        match arguments::<DB>(args) {
            Ok(args) => conn.fetch_optional(sqlx::query_with(sql, args)),
            Err(e) => Box::pin(futures::future::ready(Err(e))),
        }
    }
    fn execute<'e>(
        sql: &'e str,
        args: Vec<Arg<'e>>,
        conn: &'e mut Self::Connection,
    ) -> BoxFuture<'e, StoreResult<u64>> {
        let args = arguments::<DB>(args);
        Box::pin(async move { Ok(DB::rows_affected(&conn.execute(sqlx::query_with(sql, args?)).await?)) })
    }
}

/// A statement being written: SQL text, and the values it binds ([`Stmt::arg`]), each rendered as the backend's
/// placeholder. Run once on a connection ([`Stmt::all`], [`Stmt::optional`], [`Stmt::run`]).
pub struct Stmt<'a, DB> {
    sql: String,
    args: Vec<Arg<'a>>,
    db: PhantomData<DB>,
}

/// A statement starting with `sql`.
pub fn sql<'a, DB: Sql>(sql: impl Into<String>) -> Stmt<'a, DB> {
    Stmt { sql: sql.into(), args: Vec::new(), db: PhantomData }
}

impl<'a, DB: Sql> Stmt<'a, DB> {
    /// Appends SQL text.
    pub fn push(&mut self, sql: impl Display) -> &mut Self {
        use std::fmt::Write;
        let _ = write!(self.sql, "{sql}"); // Writing to a String cannot fail.
        self
    }

    /// The statement as `EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (PostgreSQL) reads it: its plan, not its rows.
    #[cfg(test)]
    pub fn explained(mut self, explain: &str) -> Self {
        self.sql.insert_str(0, explain);
        self
    }

    /// Binds `value`, rendered `?` or `$n`.
    pub fn arg(&mut self, value: impl Into<Arg<'a>>) -> &mut Self {
        self.args.push(value.into());
        if DB::NUMBERED {
            let n = self.args.len();
            self.push(format_args!("${n}"))
        } else {
            self.push("?")
        }
    }

    /// Binds each of `values`, separated by commas (for `IN (…)` and `VALUES (…)`).
    pub fn args<V: Into<Arg<'a>>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(v);
        }
        self
    }

    pub fn all<'e>(&'e mut self, conn: &'e mut DB::Connection) -> BoxFuture<'e, Result<Vec<DB::Row>, sqlx::Error>> {
        DB::fetch_all(&self.sql, std::mem::take(&mut self.args), conn)
    }

    pub fn optional<'e>(
        &'e mut self,
        conn: &'e mut DB::Connection,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>> {
        DB::fetch_optional(&self.sql, std::mem::take(&mut self.args), conn)
    }

    /// Runs the statement; how many rows it changed.
    pub fn run<'e>(&'e mut self, conn: &'e mut DB::Connection) -> BoxFuture<'e, StoreResult<u64>> {
        DB::execute(&self.sql, std::mem::take(&mut self.args), conn)
    }
}
