//! Group commit for the hot write of `POST /changes`: concurrent callers' events and deliveries are written in one
//! transaction, so that one `fsync` (SQLite's `synchronous = FULL`) serves many requests. Each caller still gets
//! its answer only after the transaction holding its rows committed.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqlitePool;
use sqlx::{QueryBuilder, Sqlite};
use tokio::sync::{mpsc, oneshot};

use crate::codec::micros;
use crate::*;

/// At most this many events (with their deliveries) in one transaction.
const MAX_EVENTS_PER_COMMIT: usize = 4_000;
/// SQLite allows 32,766 bound variables per statement; events have 8 columns.
const EVENT_ROWS_PER_INSERT: usize = 2_000;

struct Job {
    events: Vec<NewEvent>,
    idempotency: Option<(String, String)>,
    now: DateTime<Utc>,
    reply: oneshot::Sender<StoreResult<()>>,
}

/// The handle callers submit to; the committing task runs until every handle is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    pub fn start(writer: SqlitePool) -> Self {
        let (jobs, rx) = mpsc::channel(4_096);
        tokio::spawn(run(writer, rx));
        Self { jobs }
    }

    /// Stores `events` (and the idempotency key's answer) durably, grouped with whatever else is waiting.
    /// `Conflict` when the idempotency key is already stored.
    pub async fn submit(
        &self,
        events: &[NewEvent],
        idempotency: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            events: events.to_vec(),
            idempotency: idempotency.map(|(k, r)| (k.to_string(), r.to_string())),
            now,
            reply,
        };
        self.jobs.send(job).await.map_err(|_| StoreError::Corrupt("the group committer stopped".into()))?;
        answer.await.map_err(|_| StoreError::Corrupt("the group committer dropped a request".into()))?
    }
}

async fn run(writer: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut events = first.events.len();
        jobs.push(first);
        while events < MAX_EVENTS_PER_COMMIT {
            match rx.try_recv() {
                Ok(job) => {
                    events += job.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        match commit(&writer, &jobs).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.drain(..).zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
            }
            Err(e) => {
                // The whole transaction failed: nothing of it is stored; every caller learns why.
                let text = e.to_string();
                let unavailable = matches!(e, StoreError::Unavailable(_));
                for job in jobs.drain(..) {
                    let err = if unavailable {
                        StoreError::Unavailable(sqlx::Error::Protocol(text.clone()))
                    } else {
                        StoreError::Corrupt(format!("group commit failed: {text}"))
                    };
                    let _ = job.reply.send(Err(err));
                }
            }
        }
    }
}

/// One transaction for every job; a job whose idempotency key exists is left out and answered `Conflict`.
async fn commit(writer: &SqlitePool, jobs: &[Job]) -> StoreResult<Vec<StoreResult<()>>> {
    let mut conn = writer.acquire().await?;
    // Accepting changes is synced to disk before the callers hear of it, whatever the connection was left at.
    sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let mut outcomes: Vec<StoreResult<()>> = Vec::with_capacity(jobs.len());
    let mut kept: Vec<&Job> = Vec::with_capacity(jobs.len());
    for job in jobs {
        if let Some((key, response)) = &job.idempotency {
            let done = sqlx::query(
                "INSERT INTO idempotency_keys (key, response, created) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(response)
            .bind(micros(job.now))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                outcomes.push(Err(StoreError::Conflict("a request with this idempotency key is stored".into())));
                continue;
            }
        }
        outcomes.push(Ok(()));
        kept.push(job);
    }
    let events: Vec<(&NewEvent, DateTime<Utc>)> =
        kept.iter().flat_map(|j| j.events.iter().map(move |e| (e, j.now))).collect();
    for chunk in events.chunks(EVENT_ROWS_PER_INSERT) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO events (id, event_id, topic_id, customer_id, entity_id, event_time, body, created) ",
        );
        q.push_values(chunk, |mut b, (e, now)| {
            b.push_bind(e.id.to_string())
                .push_bind(e.event_id.to_string())
                .push_bind(e.topic_id.as_str())
                .push_bind(e.customer_id.as_str())
                .push_bind(e.entity_id.as_deref())
                .push_bind(micros(e.event_time))
                .push_bind(e.body.as_str())
                .push_bind(micros(*now));
        });
        q.build().execute(&mut *tx).await?;
    }
    let rows: Vec<(uuid::Uuid, &NewDelivery, DateTime<Utc>)> = kept
        .iter()
        .flat_map(|j| j.events.iter().flat_map(move |e| e.deliveries.iter().map(move |d| (e.id, d, j.now))))
        .collect();
    super::deliveries::insert_delivery_rows(&mut tx, &rows).await?;
    tx.commit().await?;
    Ok(outcomes)
}
