//! Web UI sessions on PostgreSQL: one statement each on the shared pool (the cap, in one transaction with the insert).

use chrono::{DateTime, Utc};
use herald_domain::ApplicationId;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::Row;
use uuid::Uuid;

use crate::codec::{micros, time};
use crate::*;

fn session(row: &PgRow) -> StoreResult<SessionRecord> {
    let picked: Option<Uuid> = row.try_get("picked_app")?;
    Ok(SessionRecord {
        token_hash: row.try_get("token_hash")?,
        principal: row.try_get("principal")?,
        csrf: row.try_get("csrf")?,
        picked_app: picked.map(ApplicationId::from),
        flash: row.try_get("flash")?,
        created: time(row.try_get("created")?),
        last_seen: time(row.try_get("last_seen")?),
    })
}

pub async fn insert(pool: &PgPool, s: &SessionRecord, keep: u32) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, principal, csrf, picked_app, flash, created, last_seen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&s.token_hash)
    .bind(&s.principal)
    .bind(&s.csrf)
    .bind(s.picked_app.map(|a| a.0))
    .bind(&s.flash)
    .bind(micros(s.created))
    .bind(micros(s.last_seen))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM sessions WHERE principal = $1 AND token_hash NOT IN \
         (SELECT token_hash FROM sessions WHERE principal = $1 ORDER BY created DESC, token_hash DESC LIMIT $2)",
    )
    .bind(&s.principal)
    .bind(keep as i64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(pool: &PgPool, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
    let row = sqlx::query("SELECT * FROM sessions WHERE token_hash = $1").bind(token_hash).fetch_optional(pool).await?;
    row.as_ref().map(session).transpose()
}

pub async fn touch(pool: &PgPool, token_hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE sessions SET last_seen = GREATEST(last_seen, $1) WHERE token_hash = $2")
        .bind(micros(now))
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn set_app(pool: &PgPool, token_hash: &str, app: ApplicationId) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET picked_app = $1 WHERE token_hash = $2")
        .bind(app.0)
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_flash(pool: &PgPool, token_hash: &str, flash: Option<&str>) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET flash = $1 WHERE token_hash = $2")
        .bind(flash)
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn clear_flash(pool: &PgPool, token_hash: &str, shown: &str) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET flash = NULL WHERE token_hash = $1 AND flash = $2")
        .bind(token_hash)
        .bind(shown)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete(pool: &PgPool, token_hash: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(pool).await?;
    Ok(done.rows_affected() > 0)
}

pub async fn delete_expired(
    pool: &PgPool,
    idle_before: DateTime<Utc>,
    created_before: DateTime<Utc>,
) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE last_seen < $1 OR created < $2")
        .bind(micros(idle_before))
        .bind(micros(created_before))
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
