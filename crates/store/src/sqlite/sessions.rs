//! Web UI sessions on SQLite: writes through the single writer, reads through the reader pool.

use chrono::{DateTime, Utc};
use herald_domain::ApplicationId;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::Row;

use crate::codec::{id, micros, time};
use crate::*;

fn session(row: &SqliteRow) -> StoreResult<SessionRecord> {
    let picked: Option<String> = row.try_get("picked_app")?;
    Ok(SessionRecord {
        token_hash: row.try_get("token_hash")?,
        principal: row.try_get("principal")?,
        csrf: row.try_get("csrf")?,
        picked_app: picked.as_deref().map(id).transpose()?,
        flash: row.try_get("flash")?,
        created: time(row.try_get("created")?),
        last_seen: time(row.try_get("last_seen")?),
    })
}

pub async fn insert(writer: &SqlitePool, s: &SessionRecord, keep: u32) -> StoreResult<()> {
    let mut tx = writer.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, principal, csrf, picked_app, flash, created, last_seen) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&s.token_hash)
    .bind(&s.principal)
    .bind(&s.csrf)
    .bind(s.picked_app.map(|a| a.to_string()))
    .bind(&s.flash)
    .bind(micros(s.created))
    .bind(micros(s.last_seen))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM sessions WHERE principal = ?1 AND token_hash NOT IN \
         (SELECT token_hash FROM sessions WHERE principal = ?1 ORDER BY created DESC, token_hash DESC LIMIT ?2)",
    )
    .bind(&s.principal)
    .bind(keep as i64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(reader: &SqlitePool, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
    let row =
        sqlx::query("SELECT * FROM sessions WHERE token_hash = ?").bind(token_hash).fetch_optional(reader).await?;
    row.as_ref().map(session).transpose()
}

pub async fn touch(writer: &SqlitePool, token_hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE sessions SET last_seen = MAX(last_seen, ?) WHERE token_hash = ?")
        .bind(micros(now))
        .bind(token_hash)
        .execute(writer)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn set_app(writer: &SqlitePool, token_hash: &str, app: ApplicationId) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET picked_app = ? WHERE token_hash = ?")
        .bind(app.to_string())
        .bind(token_hash)
        .execute(writer)
        .await?;
    Ok(())
}

pub async fn set_flash(writer: &SqlitePool, token_hash: &str, flash: Option<&str>) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET flash = ? WHERE token_hash = ?")
        .bind(flash)
        .bind(token_hash)
        .execute(writer)
        .await?;
    Ok(())
}

pub async fn clear_flash(writer: &SqlitePool, token_hash: &str, shown: &str) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET flash = NULL WHERE token_hash = ? AND flash = ?")
        .bind(token_hash)
        .bind(shown)
        .execute(writer)
        .await?;
    Ok(())
}

pub async fn delete(writer: &SqlitePool, token_hash: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE token_hash = ?").bind(token_hash).execute(writer).await?;
    Ok(done.rows_affected() > 0)
}

pub async fn delete_expired(
    writer: &SqlitePool,
    idle_before: DateTime<Utc>,
    created_before: DateTime<Utc>,
) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE last_seen < ? OR created < ?")
        .bind(micros(idle_before))
        .bind(micros(created_before))
        .execute(writer)
        .await?;
    Ok(done.rows_affected())
}
