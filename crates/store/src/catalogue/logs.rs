//! Reading the logs: pages of attempts, newest first by (`started`, row id), cut by a count and a byte budget.

use super::Catalogue;
use crate::codec::{micros, time};
use crate::dialect::{sql, Sql, Stmt};
use crate::*;

/// The filter's conditions, after `WHERE TRUE`.
pub(super) fn push_attempt_filter<'a, DB: Sql>(q: &mut Stmt<'a, DB>, f: &'a AttemptFilter) {
    if let Some(v) = f.application_id {
        q.push(" AND a.application_id = ").arg(v.0);
    }
    if let Some(v) = f.from {
        q.push(" AND a.started >= ").arg(micros(v));
    }
    if let Some(v) = f.to {
        q.push(" AND a.started <= ").arg(micros(v));
    }
    if let Some(v) = &f.topic_id {
        q.push(" AND e.topic_id = ").arg(v);
    }
    if let Some(v) = &f.entity_id {
        q.push(" AND e.entity_id = ").arg(v);
    }
    if let Some(v) = f.event_id {
        q.push(" AND e.event_id = ").arg(v.0);
    }
    if let Some(v) = f.webhook_id {
        q.push(" AND a.webhook_id = ").arg(v.0);
    }
    if let Some(v) = &f.customer_id {
        q.push(" AND e.customer_id = ").arg(v);
    }
    if let Some(v) = f.delivery_id {
        q.push(" AND a.delivery_id = ").arg(v.0);
    }
    match f.success {
        Some(true) => q.push(" AND a.outcome = 'delivered'"),
        Some(false) => q.push(" AND a.outcome <> 'delivered'"),
        None => q,
    };
    if let Some(c) = f.cursor {
        q.push(" AND (a.started < ").arg(micros(c.started));
        q.push(" OR (a.started = ").arg(micros(c.started));
        q.push(" AND a.id < ").arg(c.id).push("))");
    }
}

/// The columns of a log record; without bodies, NULL in place of the payload and the response.
fn attempt_columns(bodies: bool) -> &'static str {
    if bodies {
        "SELECT a.id, a.delivery_id, a.started, a.application_id, a.webhook_id, a.url, e.topic_id, e.customer_id, \
         e.entity_id, e.event_id, a.attempt, a.outcome, a.status_code, a.duration_ms, a.error, a.retry_after, e.body, a.response \
         FROM attempts a JOIN events e ON e.id = a.event WHERE TRUE"
    } else {
        "SELECT a.id, a.delivery_id, a.started, a.application_id, a.webhook_id, a.url, e.topic_id, e.customer_id, \
         e.entity_id, e.event_id, a.attempt, a.outcome, a.status_code, a.duration_ms, a.error, a.retry_after, NULL AS body, \
         NULL AS response FROM attempts a JOIN events e ON e.id = a.event WHERE TRUE"
    }
}

const NEWEST_FIRST: &str = " ORDER BY a.started DESC, a.id DESC";

fn attempt_log<DB: Sql>(row: &DB::Row) -> StoreResult<AttemptLogRecord> {
    Ok(AttemptLogRecord {
        id: DB::int(row, "id")?,
        delivery_id: DB::get_id(row, "delivery_id")?.into(),
        started: time(DB::int(row, "started")?),
        application_id: DB::get_id(row, "application_id")?.into(),
        webhook_id: DB::get_id(row, "webhook_id")?.into(),
        url: DB::text(row, "url")?,
        topic_id: DB::text(row, "topic_id")?,
        customer_id: DB::text(row, "customer_id")?,
        entity_id: DB::opt_text(row, "entity_id")?,
        event_id: DB::get_id(row, "event_id")?.into(),
        attempt: DB::int4(row, "attempt")? as u32,
        outcome: DB::text(row, "outcome")?,
        status_code: DB::opt_int4(row, "status_code")?.map(|s| s as u16),
        duration_ms: DB::int(row, "duration_ms")? as u64,
        error: DB::opt_text(row, "error")?,
        retry_after: DB::opt_text(row, "retry_after")?,
        body: DB::opt_text(row, "body")?,
        response: DB::opt_text(row, "response")?,
    })
}

impl<DB: Sql> Catalogue<'_, DB> {
    pub async fn list_attempt_page(&self, f: &AttemptFilter) -> StoreResult<AttemptPage> {
        let limit = f.limit.max(1) as usize;
        let mut conn = self.reader.acquire().await?;
        let Some(budget) = f.byte_budget.filter(|_| f.bodies) else {
            let mut q = sql::<DB>(attempt_columns(f.bodies));
            push_attempt_filter(&mut q, f);
            q.push(NEWEST_FIRST).push(" LIMIT ").arg(limit as i64 + 1);
            let rows = q.all(&mut *conn).await?;
            let mut records = rows.iter().map(attempt_log::<DB>).collect::<StoreResult<Vec<_>>>()?;
            let more = records.len() > limit;
            records.truncate(limit);
            return Ok(AttemptPage { records, more });
        };
        // First the sizes (octet_length reads a value's length, from SQLite's record header or a TOASTed value's
        // header, not the value), then only the page's records whole.
        let mut q = sql::<DB>(
            "SELECT a.id, CAST(COALESCE(octet_length(e.body), 0) AS BIGINT) + COALESCE(octet_length(a.response), 0) \
             AS bytes FROM attempts a JOIN events e ON e.id = a.event WHERE TRUE",
        );
        push_attempt_filter(&mut q, f);
        q.push(NEWEST_FIRST).push(" LIMIT ").arg(limit as i64 + 1);
        let sized = q.all(&mut *conn).await?;
        let mut ids = Vec::with_capacity(sized.len());
        let mut sizes = Vec::with_capacity(sized.len());
        for row in sized.iter().take(limit) {
            ids.push(DB::int(row, "id")?);
            sizes.push(DB::int(row, "bytes")?.max(0) as u64);
        }
        let take = within_budget(&sizes, Some(budget));
        let more = sized.len() > take;
        ids.truncate(take);
        if ids.is_empty() {
            return Ok(AttemptPage { records: Vec::new(), more });
        }
        let mut q = sql::<DB>(attempt_columns(true));
        q.push(" AND a.id IN (").args(ids).push(")").push(NEWEST_FIRST);
        let rows = q.all(&mut *conn).await?;
        let records = rows.iter().map(attempt_log::<DB>).collect::<StoreResult<Vec<_>>>()?;
        Ok(AttemptPage { records, more })
    }
}
