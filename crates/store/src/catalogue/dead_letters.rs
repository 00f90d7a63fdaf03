//! Dead letters of the broker sources: messages that were not a valid change, kept with their error. Written once
//! for both databases.

use super::Catalogue;
use crate::codec::{micros, time};
use crate::dialect::{sql, Arg, Sql};
use crate::*;

fn dead_letter<DB: Sql>(row: &DB::Row) -> StoreResult<DeadLetterRecord> {
    Ok(DeadLetterRecord {
        id: DB::get_id(row, "id")?,
        source: DB::text(row, "source")?,
        message_id: DB::opt_text(row, "message_id")?,
        status: u16::try_from(DB::int4(row, "status")?).unwrap_or_default(),
        description: DB::text(row, "description")?,
        errors: DB::text(row, "errors")?,
        body: DB::text(row, "body")?,
        received: time(DB::int(row, "received")?),
    })
}

impl<DB: Sql> Catalogue<'_, DB> {
    pub async fn insert_dead_letter(&self, d: &DeadLetterRecord) -> StoreResult<bool> {
        let mut conn = self.writer.acquire().await?;
        let done = sql::<DB>("INSERT INTO source_dead_letters (id, source, message_id, status, description, errors, ")
            .push("body, received) VALUES (")
            .arg(d.id)
            .push(", ")
            .args([Arg::from(&d.source), (&d.message_id).into(), i32::from(d.status).into()])
            .push(", ")
            .args([Arg::from(&d.description), (&d.errors).into(), (&d.body).into(), micros(d.received).into()])
            .push(") ON CONFLICT DO NOTHING")
            .run(&mut *conn)
            .await?;
        Ok(done > 0)
    }

    pub async fn list_dead_letters(&self, page: Page) -> StoreResult<(Vec<DeadLetterRecord>, u64)> {
        let (rows, total) = self.page_of("source_dead_letters", |_| {}, "received DESC, id DESC", page).await?;
        Ok((rows.iter().map(dead_letter::<DB>).collect::<StoreResult<_>>()?, total))
    }
}
