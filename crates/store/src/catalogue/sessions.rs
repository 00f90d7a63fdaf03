//! Web UI sessions. The store keeps them; when one has expired, and how many a principal may hold, are the
//! service's rules, passed in as instants and counts.

use chrono::{DateTime, Utc};
use herald_domain::ApplicationId;

use super::Catalogue;
use crate::codec::{micros, time};
use crate::dialect::{sql, Arg, Sql};
use crate::*;

fn session<DB: Sql>(row: &DB::Row) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        token_hash: DB::text(row, "token_hash")?,
        principal: DB::text(row, "principal")?,
        csrf: DB::text(row, "csrf")?,
        picked_app: DB::get_opt_id(row, "picked_app")?.map(ApplicationId::from),
        flash: DB::opt_text(row, "flash")?,
        created: time(DB::int(row, "created")?),
        last_seen: time(DB::int(row, "last_seen")?),
    })
}

impl<DB: Sql> Catalogue<'_, DB> {
    pub async fn insert_session(&self, s: &SessionRecord, keep: u32) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sql::<DB>("INSERT INTO sessions (token_hash, principal, csrf, picked_app, flash, created, last_seen) VALUES (")
            .args([Arg::from(&s.token_hash), (&s.principal).into(), (&s.csrf).into()])
            .push(", ")
            .arg(s.picked_app.map(|a| a.0))
            .push(", ")
            .args([Arg::from(&s.flash), micros(s.created).into(), micros(s.last_seen).into()])
            .push(")")
            .run(&mut *tx)
            .await?;
        sql::<DB>("DELETE FROM sessions WHERE principal = ")
            .arg(&s.principal)
            .push(" AND token_hash NOT IN (SELECT token_hash FROM sessions WHERE principal = ")
            .arg(&s.principal)
            .push(" ORDER BY created DESC, token_hash DESC LIMIT ")
            .arg(i64::from(keep))
            .push(")")
            .run(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let mut conn = self.reader.acquire().await?;
        let row = sql::<DB>("SELECT * FROM sessions WHERE token_hash = ").arg(token_hash).optional(&mut *conn).await?;
        row.as_ref().map(session::<DB>).transpose()
    }

    pub async fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut conn = self.writer.acquire().await?;
        let done = sql::<DB>(format!("UPDATE sessions SET last_seen = {}(last_seen, ", DB::GREATEST))
            .arg(micros(now))
            .push(") WHERE token_hash = ")
            .arg(token_hash)
            .run(&mut *conn)
            .await?;
        Ok(done > 0)
    }

    pub async fn set_session_app(&self, token_hash: &str, app: ApplicationId) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        let mut q = sql::<DB>("UPDATE sessions SET picked_app = ");
        q.arg(app.0).push(" WHERE token_hash = ").arg(token_hash).run(&mut *conn).await?;
        Ok(())
    }

    pub async fn set_session_flash(&self, token_hash: &str, flash: Option<&str>) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        let mut q = sql::<DB>("UPDATE sessions SET flash = ");
        q.arg(flash).push(" WHERE token_hash = ").arg(token_hash).run(&mut *conn).await?;
        Ok(())
    }

    pub async fn clear_session_flash(&self, token_hash: &str, shown: &str) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        let mut q = sql::<DB>("UPDATE sessions SET flash = NULL WHERE token_hash = ");
        q.arg(token_hash).push(" AND flash = ").arg(shown).run(&mut *conn).await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
        let mut conn = self.writer.acquire().await?;
        let done = sql::<DB>("DELETE FROM sessions WHERE token_hash = ").arg(token_hash).run(&mut *conn).await?;
        Ok(done > 0)
    }

    pub async fn delete_expired_sessions(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut conn = self.writer.acquire().await?;
        let mut q = sql::<DB>("DELETE FROM sessions WHERE last_seen < ");
        q.arg(micros(idle_before)).push(" OR created < ").arg(micros(created_before)).run(&mut *conn).await
    }
}
