//! Group commit for the hot write of `POST /changes`, on both backends: concurrent callers' events and deliveries
//! are written in one transaction, so that one durable commit (SQLite's `fsync` at `synchronous = FULL`,
//! PostgreSQL's WAL flush) and one round of statements serve many requests. Each caller still gets its answer only
//! after the transaction holding its rows committed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::*;

/// At most this many events (with their deliveries) in one transaction.
const MAX_EVENTS_PER_COMMIT: usize = 4_000;

/// One caller's request.
pub(crate) struct Job {
    pub events: Vec<NewEvent>,
    pub idempotency: Option<StoredKey>,
    pub now: DateTime<Utc>,
    /// Entity state written with the events, each only if its entity did not move (`crate::entity_state`).
    pub entities: Vec<EntityWrite>,
    reply: oneshot::Sender<StoreResult<Vec<Sequenced>>>,
}

/// An idempotency key as a job carries it (see [`Idempotency`]).
pub(crate) struct StoredKey {
    pub key: String,
    pub body_hash: String,
    pub response: String,
    pub expired_before: DateTime<Utc>,
}

/// A backend's write of a group: one transaction for every job; a job whose idempotency key is already stored (and
/// not expired) is left out and answered `Conflict`; an expired key is replaced; a job whose entity writes find an
/// entity moved (`crate::entity_state::apply_entity_writes`) is left out and answered `Stale`. `Err` when the whole
/// transaction failed (nothing of it is stored).
#[async_trait]
pub(crate) trait Committer: Send + Sync + 'static {
    async fn commit(&self, jobs: &[Job]) -> StoreResult<Vec<StoreResult<Vec<Sequenced>>>>;
}

/// Each job's answer after a group's rows are written: `Conflict` for a job left out for its idempotency key
/// (`conflict[i]`), `Stale` for one left out because an entity it writes moved (`stale[i]`), else what the store
/// decided for its ordered deliveries. `sequenced` covers the kept jobs' ordered deliveries, in job order.
pub(crate) fn outcomes(
    jobs: &[Job],
    conflict: &[bool],
    stale: &[bool],
    sequenced: Vec<Sequenced>,
) -> Vec<StoreResult<Vec<Sequenced>>> {
    let mut rest = sequenced.into_iter();
    jobs.iter()
        .zip(conflict.iter().zip(stale))
        .map(|(job, (conflict, stale))| {
            if *conflict {
                return Err(StoreError::Conflict("a request with this idempotency key is stored".into()));
            }
            if *stale {
                return Err(crate::entity_state::moved());
            }
            let ordered = job.events.iter().flat_map(|e| &e.deliveries).filter(|d| d.entity_key.is_some()).count();
            Ok(rest.by_ref().take(ordered).collect())
        })
        .collect()
}

/// The handle callers submit to; the committing task runs until every handle is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the committing task: `parallel` groups in flight at most (1 for SQLite's single writer).
    pub(crate) fn start(committer: impl Committer, parallel: usize) -> Self {
        let (jobs, rx) = mpsc::channel(4_096);
        tokio::spawn(run(committer, rx, parallel));
        Self { jobs }
    }

    /// Stores `events` (and the idempotency key's answer) durably, grouped with whatever else is waiting.
    /// `Conflict` when the idempotency key is already stored. Returns what was decided for the ordered deliveries.
    pub async fn submit(
        &self,
        events: &[NewEvent],
        idempotency: Option<Idempotency<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Sequenced>> {
        self.submit_with_entities(events, &[], idempotency, now).await
    }

    /// As [`GroupCommit::submit`], with entity writes; `Stale` (and nothing stored) when an entity moved.
    pub async fn submit_with_entities(
        &self,
        events: &[NewEvent],
        entities: &[EntityWrite],
        idempotency: Option<Idempotency<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Sequenced>> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            events: events.to_vec(),
            idempotency: idempotency.map(|i| StoredKey {
                key: i.key.to_string(),
                body_hash: i.body_hash.to_string(),
                response: i.response.to_string(),
                expired_before: i.expired_before,
            }),
            now,
            entities: entities.to_vec(),
            reply,
        };
        self.jobs.send(job).await.map_err(|_| StoreError::Corrupt("the group committer stopped".into()))?;
        answer.await.map_err(|_| StoreError::Corrupt("the group committer dropped a request".into()))?
    }
}

/// Takes what is waiting as one group and commits it, with at most `parallel` groups in flight: a group forms while
/// the slots are busy, so that under load each transaction carries many requests, and a slow commit (a database
/// that went away) does not hold back the requests queued behind it for longer than one commit.
async fn run(committer: impl Committer, mut rx: mpsc::Receiver<Job>, parallel: usize) {
    let committer = std::sync::Arc::new(committer);
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() >= parallel.max(1) {
            running.join_next().await;
        }
        let first = tokio::select! {
            job = rx.recv() => match job {
                Some(job) => job,
                None => break,
            },
            // A slot freed meanwhile: reap it (the loop waits for new work again).
            Some(_) = running.join_next(), if !running.is_empty() => continue,
        };
        let mut events = first.events.len();
        let mut jobs = vec![first];
        while events < MAX_EVENTS_PER_COMMIT {
            match rx.try_recv() {
                Ok(job) => {
                    events += job.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let committer = committer.clone();
        running.spawn(async move { commit_group(committer.as_ref(), jobs).await });
    }
    while running.join_next().await.is_some() {}
}

async fn commit_group(committer: &dyn Committer, jobs: Vec<Job>) {
    match committer.commit(&jobs).await {
        // One request whose rows the database refuses (a constraint, an encoding) must not fail the others grouped
        // with it: each alone. A failure of the connection or the server is everybody's, and answered at once.
        Err(e @ (StoreError::Database(sqlx::Error::Database(_)) | StoreError::Conflict(_))) if jobs.len() > 1 => {
            tracing::warn!(error = %e, requests = jobs.len(), "a group commit failed; committing its requests one by one");
            for job in jobs {
                let outcome = committer.commit(std::slice::from_ref(&job)).await;
                answer(vec![job], outcome);
            }
        }
        outcome => answer(jobs, outcome),
    }
}

fn answer(jobs: Vec<Job>, outcome: StoreResult<Vec<StoreResult<Vec<Sequenced>>>>) {
    match outcome {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.reply.send(outcome);
            }
        }
        Err(e) => {
            // The whole transaction failed: nothing of it is stored; every caller learns why (the one failure, shared).
            if jobs.len() == 1 {
                if let Some(job) = jobs.into_iter().next() {
                    let _ = job.reply.send(Err(e));
                }
                return;
            }
            let shared = std::sync::Arc::new(e);
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::GroupCommit(shared.clone())));
            }
        }
    }
}
