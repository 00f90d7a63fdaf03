//! The delivery loop: claim, dispatch fairly, attempt, record.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use herald_domain::payload::{tail_event_id, with_attempt};
use herald_domain::{DeliveryId, RetrySchedule, WebhookId};
use herald_store::{AttemptRecord, ClaimedDelivery, DeliveryState, NewEvent, Store, StoreError, WebhookGate};
use reqwest::header::HeaderValue;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::clock::Clock;
use crate::gate::{self, Admit, Flow, Health};
use crate::intake::{Intake, Reservation, QUEUE_PER_WEBHOOK};
use crate::pacing::{ClaimPacer, IDLE_POLL};
use crate::sender::{HttpSender, SendResult};
use crate::target::{signed_headers, Target, ENTITY_SEQUENCE};
use crate::{AttemptOutcome, Metrics};

/// The engine's part of the configuration.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub retry_schedule: RetrySchedule,
    pub timeout: Duration,
    pub allow_private_targets: bool,
    pub allow_http_targets: bool,
    /// Attempts in flight at once, over all webhooks.
    pub max_in_flight: usize,
    /// Attempts in flight at once to one webhook.
    pub max_in_flight_per_webhook: usize,
    /// This node's name on the deliveries it claims.
    pub node_id: String,
    /// How long this node's claims outlive its last heartbeat (other nodes take them over after).
    pub lease: Duration,
    /// The proxy attempts go through (`--delivery-proxy`); `None`: direct, whatever the environment says.
    pub proxy: Option<url::Url>,
}

/// How long a cached target is used at most before it is read again from the store.
const TARGET_TTL: Duration = Duration::from_secs(30);
/// How long the recorder waits for more attempt records before writing what it has.
const RECORD_LINGER: Duration = Duration::from_millis(5);
/// Attempt records written in one transaction at most.
const RECORD_BATCH: usize = 512;
/// The longest an attempt whose webhook cannot be read (the store is unavailable) waits before asking again.
const STORE_RETRY_MAX: Duration = Duration::from_secs(2);
/// How often each delivering node reads the webhooks' holds and rate limits from the store (other nodes' holds, and
/// rate limits changed on other nodes, apply within this long; this node's own at once).
const GATES_REFRESH: Duration = Duration::from_millis(250);

struct Inner {
    store: Arc<dyn Store>,
    cfg: DeliveryConfig,
    /// Every instant the engine uses (claims, attempts, heartbeats) comes from here.
    clock: Clock,
    sender: HttpSender,
    wake: Notify,
    targets: Mutex<TargetCache>,
    metrics: Arc<Metrics>,
    /// Set when `run` is shutting down: attempts still waiting for the store give up (unattempted).
    stopping: watch::Sender<bool>,
    /// Fresh deliveries handed over by `POST /changes`, and the engine's room for them.
    intake: Arc<Intake>,
    /// The receiving end of the intake, taken by `run`.
    fresh: Mutex<Option<mpsc::UnboundedReceiver<Vec<ClaimedDelivery>>>>,
    /// Bumped when a webhook changed on this node: the loop dispatches nothing until it has read the holds and rate
    /// limits again (a rate limit just set applies to the very next delivery).
    gates_wanted: AtomicU64,
    gates_notify: Notify,
}

/// An attempt's result for the loop: its record, what it told of the endpoint, and the hold it asked for.
struct Attempted {
    webhook: WebhookId,
    record: Option<AttemptRecord>,
    health: Health,
    hold_until: Option<DateTime<Utc>>,
    /// Not attempted: its send slot passed before it could start (see [`gate::SLOT_START_LATE`]); it waits for
    /// another.
    late: Option<ClaimedDelivery>,
}

/// Why an attempt has no target.
enum NoTarget {
    /// Final: the webhook or its application is gone, or its target may not be used.
    Gone(Gone),
    /// The store could not be read; the same read may succeed later.
    Unavailable(StoreError),
}

/// Why a delivery's target is gone for good; its text is the attempt's recorded reason.
#[derive(Debug, thiserror::Error)]
enum Gone {
    #[error("the {0} was deleted")]
    Deleted(&'static str),
    #[error(transparent)]
    Unusable(#[from] crate::target::UnusableTarget),
    #[error("the {what} cannot be read")]
    Unreadable { what: &'static str, source: StoreError },
}

#[derive(Default)]
struct TargetCache {
    version: i64,
    checked: Option<std::time::Instant>,
    /// When the map was last emptied: targets are rebuilt at least every `TARGET_TTL` (a rotated-out secret
    /// stops signing when its overlap ends even if nothing else changes).
    filled: Option<std::time::Instant>,
    map: HashMap<WebhookId, Arc<Target>>,
}

/// The delivery engine. Cheap to clone; `run` drives it until shutdown.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// What the rest of Herald holds of the engine: wake it, and send one signed request now (Ping).
#[derive(Clone)]
pub struct EngineHandle {
    inner: Arc<Inner>,
}

impl EngineHandle {
    /// New deliveries are due: look for them now rather than at the next poll.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Webhooks or applications changed on this node: forget cached targets now (other nodes notice the routing
    /// version within a fraction of a second).
    pub fn invalidate_targets(&self) {
        let mut cache = self.inner.targets.lock().unwrap_or_else(|p| p.into_inner());
        cache.map.clear();
        cache.checked = None;
        drop(cache);
        self.inner.gates_wanted.fetch_add(1, Ordering::SeqCst);
        self.inner.gates_notify.notify_one();
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The engine's clock, which the service shares.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Room in this node's running engine for the pending deliveries of `events`, which are about to be stored:
    /// each delivery given room is marked held by this node (`owner`), to be stored so and then handed over with
    /// [`Reservation::hand_over`], with no claim through the store. Deliveries without room (or every delivery,
    /// when no engine runs here) stay unheld, for a claim.
    pub fn reserve(&self, events: &mut [NewEvent]) -> Reservation {
        self.inner.intake.reserve(events)
    }

    /// One signed attempt, made now and not recorded (the caller records it).
    pub async fn send_now(&self, target: &Target, delivery: herald_domain::DeliveryId, body: Bytes) -> SendResult {
        let headers = signed_headers(target, delivery, self.inner.clock.now().timestamp(), &body);
        self.inner.sender.send(&target.url, headers, body).await
    }
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, cfg: DeliveryConfig) -> Result<Self, reqwest::Error> {
        let sender =
            HttpSender::with_proxy(cfg.timeout, cfg.allow_private_targets, cfg.allow_http_targets, cfg.proxy.clone())?;
        let (intake, fresh) = Intake::new(cfg.node_id.clone(), cfg.max_in_flight, cfg.max_in_flight_per_webhook);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                cfg,
                clock: Clock::default(),
                sender,
                wake: Notify::new(),
                targets: Mutex::new(TargetCache::default()),
                metrics: Arc::new(Metrics::new()),
                stopping: watch::channel(false).0,
                intake: Arc::new(intake),
                fresh: Mutex::new(Some(fresh)),
                gates_wanted: AtomicU64::new(0),
                gates_notify: Notify::new(),
            }),
        })
    }

    /// The engine with `clock` in place of the system clock (tests move it forward instead of sleeping).
    pub fn with_clock(store: Arc<dyn Store>, cfg: DeliveryConfig, clock: Clock) -> Result<Self, reqwest::Error> {
        let engine = Self::new(store, cfg)?;
        match Arc::try_unwrap(engine.inner) {
            Ok(mut inner) => {
                inner.clock = clock;
                Ok(Self { inner: Arc::new(inner) })
            }
            Err(inner) => Ok(Self { inner }), // Unreachable: the engine was just made and is not shared yet.
        }
    }

    pub fn handle(&self) -> EngineHandle {
        EngineHandle { inner: self.inner.clone() }
    }

    /// Claims every delivery due now, attempts them all and records the attempts; returns how many were attempted.
    /// For tests and tools that want delivery without a background loop. Held webhooks (a `Retry-After`) are left
    /// alone; rate limits and circuits are the loop's (`run`).
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let now = self.inner.clock.now();
            let held: Vec<WebhookId> = self
                .inner
                .store
                .webhook_gates(now)
                .await?
                .into_iter()
                .filter(|g| g.hold_until.is_some())
                .map(|g| g.webhook_id)
                .collect();
            let claimed = self.inner.claim(256, &held).await?;
            if claimed.is_empty() {
                return Ok(total);
            }
            total += claimed.len();
            let mut set = JoinSet::new();
            for d in claimed {
                let inner = self.inner.clone();
                set.spawn(async move { inner.attempt(d, None).await });
            }
            let mut records = Vec::new();
            while let Some(r) = set.join_next().await {
                if let Ok(Attempted { record: Some(rec), .. }) = r {
                    records.push(rec);
                }
            }
            self.inner.store.record_attempts(&records).await?;
        }
    }

    /// Runs the loop until `shutdown` resolves; then stops claiming, lets attempts in flight finish, records them,
    /// and releases what it held but had not started.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let inner = self.inner;
        let Some(mut fresh) = inner.fresh.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            tracing::error!("the delivery engine is already running");
            return;
        };
        inner.intake.set_open(true);
        let (rec_tx, rec_rx) = mpsc::channel::<AttemptRecord>(RECORD_BATCH * 8);
        let recorder = tokio::spawn(record_loop(inner.clone(), rec_rx));
        let heartbeat = tokio::spawn(heartbeat_loop(inner.clone()));
        let (gates_tx, mut gates_rx) = mpsc::channel::<(u64, Option<Vec<WebhookGate>>)>(4);
        let gates = tokio::spawn(gates_loop(inner.clone(), gates_tx));
        // The holds and rate limits read last, and for which `gates_wanted`: nothing is dispatched before the first.
        let mut gates_seen: Option<u64> = None;
        let (slots_tx, mut slots_rx) = mpsc::unbounded_channel::<Slots>();
        let mut sched = Scheduler::new(inner.cfg.max_in_flight, inner.cfg.max_in_flight_per_webhook);
        let mut tasks: JoinSet<Attempted> = JoinSet::new();
        // What each attempt task holds, so that even a task that panicked gives its delivery back.
        let mut running: HashMap<tokio::task::Id, (WebhookId, DeliveryId)> = HashMap::new();
        let mut stopping = false;
        let mut pacer = ClaimPacer::new(tokio::time::Instant::now());
        // The claim in progress: it runs beside the loop, so that attempts go on being dispatched and recorded while
        // it waits for the store (whose writer it shares with accepting changes).
        let mut claiming: Option<tokio::task::JoinHandle<Claim>> = None;
        tokio::pin!(shutdown);
        loop {
            let now = tokio::time::Instant::now();
            sched.release(now);
            let current = gates_seen.is_some_and(|seen| seen >= inner.gates_wanted.load(Ordering::SeqCst));
            while let Some((d, send_by)) = if current { sched.next_to_send(now) } else { None } {
                let inner = inner.clone();
                let held = (d.webhook_id, d.id);
                let task = tasks.spawn(async move { inner.attempt(d, send_by).await });
                running.insert(task.id(), held);
            }
            for (webhook, n, rate) in sched.slot_requests() {
                let (inner, tx) = (inner.clone(), slots_tx.clone());
                tokio::spawn(async move {
                    let interval = gate::slot_interval(rate);
                    let first = inner.store.reserve_send_slots(webhook, n, interval, inner.clock.now()).await;
                    let first = first.map(|at| at_instant(&inner.clock, at));
                    let _ = tx.send(Slots { webhook, n, interval, first });
                });
            }
            if stopping && tasks.is_empty() && claiming.is_none() {
                break;
            }
            if sched.take_unsaturated() {
                pacer.queue_freed(now);
            }
            if !stopping && claiming.is_none() && sched.wants_work() && pacer.may_claim(now) {
                let (inner, room, exclude) = (inner.clone(), sched.room() as u32, sched.saturated(now));
                pacer.claim_started(now);
                claiming = Some(tokio::spawn(async move { inner.claim_or_next_due(room, exclude).await }));
            }
            let wait = if claiming.is_some() || !sched.wants_work() { IDLE_POLL } else { pacer.wait(now) };
            let wait = match sched.next_gate() {
                Some(gate) => wait.min(gate.saturating_duration_since(now)),
                None => wait,
            };
            tokio::select! {
                Some((wanted, read)) = gates_rx.recv() => {
                    if let Some(read) = read {
                        sched.set_gates(&read, |at| at_instant(&inner.clock, at));
                    }
                    gates_seen = Some(wanted);
                }
                Some(slots) = slots_rx.recv() => {
                    match slots.first {
                        Ok(first) => sched.add_slots(slots.webhook, first, slots.n, slots.interval),
                        Err(e) => {
                            tracing::warn!(error = %e, webhook = %slots.webhook, "could not reserve send slots");
                            sched.slots_failed(slots.webhook, tokio::time::Instant::now() + Duration::from_millis(100));
                        }
                    }
                }
                Some(batch) = fresh.recv(), if !stopping => {
                    // Stored already held by this node (see `Intake`): straight to the queues.
                    for d in batch {
                        let w = d.webhook_id;
                        if !sched.push(d) {
                            inner.intake.done(w);
                        }
                    }
                }
                claim = async { claiming.as_mut().expect("a claim in progress").await }, if claiming.is_some() => {
                    claiming = None;
                    let claim = claim.unwrap_or_else(|e| Claim::Failed(ClaimError::Task(e)));
                    let now = tokio::time::Instant::now();
                    match claim {
                        Claim::Claimed { claimed, full } => {
                            // Claimed while stopping: released with the node's other claims below. A delivery this
                            // node holds already (re-claimed after a lease: see `Store::claim_due_with_lease`) is
                            // not taken twice.
                            let taken: Vec<WebhookId> = claimed
                                .into_iter()
                                .filter(|_| !stopping)
                                .filter_map(|d| {
                                    let w = d.webhook_id;
                                    sched.push(d).then_some(w)
                                })
                                .collect();
                            inner.intake.claimed(&taken);
                            pacer.claimed(now, full);
                        }
                        Claim::Empty(next) => {
                            // Due work nobody may claim now belongs to saturated webhooks: wait for a slot, the next
                            // due time or a wake-up, not for every attempt that finishes (each claim is a write).
                            let next_due = next.map(|next| (next - inner.clock.now()).to_std().unwrap_or(Duration::ZERO));
                            pacer.empty(now, next_due);
                        }
                        Claim::Failed(e) => {
                            let cause = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
                            tracing::warn!(error = %e, %cause, "claiming due deliveries failed; backing off");
                            pacer.failed(now);
                        }
                    }
                }
                _ = inner.wake.notified() => {
                    // New deliveries were stored unheld: claim them soon (see `ClaimPacer::woken`).
                    pacer.woken(tokio::time::Instant::now(), claiming.is_some());
                }
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    let (id, record, health, late) = match done {
                        Ok((id, attempted)) => {
                            if let Some(until) = attempted.hold_until {
                                // Every delivery of the webhook waits, at once on this node (the store has it too).
                                sched.hold(attempted.webhook, at_instant(&inner.clock, until));
                            }
                            (id, attempted.record, attempted.health, attempted.late)
                        }
                        Err(e) => {
                            // Not recorded: the delivery stays held by this node until it re-claims it after a lease.
                            tracing::error!(error = %e, "a delivery attempt failed unexpectedly");
                            (e.id(), None, Health::Unknown, None)
                        }
                    };
                    if let Some((webhook, delivery)) = running.remove(&id) {
                        sched.finished(webhook, delivery, health, tokio::time::Instant::now());
                        if let Some(d) = late.filter(|_| !stopping) {
                            // Its send slot passed before it started: first in its webhook's queue for the next one.
                            sched.requeue(d);
                            continue;
                        }
                        inner.intake.done(webhook);
                        // No record: not attempted (shutting down while the store was away); the claim is released
                        // below. The recorder outlives this loop; a send fails only if it died, and then the
                        // delivery is attempted again after its claim is released.
                        if let Some(record) = record {
                            let _ = rec_tx.send(record).await;
                        }
                    }
                }
                _ = tokio::time::sleep(wait) => {}
                _ = &mut shutdown, if !stopping => {
                    stopping = true;
                    inner.stopping.send_replace(true);
                    inner.intake.set_open(false);
                    sched.drop_queued().into_iter().for_each(|w| inner.intake.done(w));
                }
            }
        }
        // Handed over after the queues were dropped: held by this node, released with its other claims below.
        fresh.close();
        while let Ok(batch) = fresh.try_recv() {
            batch.iter().for_each(|d| inner.intake.done(d.webhook_id));
        }
        drop(rec_tx);
        let _ = recorder.await;
        heartbeat.abort();
        gates.abort();
        if let Err(e) = inner.store.release_claims(&inner.cfg.node_id).await {
            tracing::warn!(error = %e, "could not release claims at shutdown; they expire with the node's lease");
        }
    }
}

/// Send slots reserved for a rate-limited webhook (or why not).
struct Slots {
    webhook: WebhookId,
    n: u32,
    interval: Duration,
    first: Result<tokio::time::Instant, StoreError>,
}

/// The monotonic instant of a wall-clock time read from `clock`, in the past too: send slots reserved in the store
/// may arrive after their first instants (a slow round trip), and taking a past slot as now would put this node's
/// slots later than the store's, into the next reservation's (another node's), so that both send at once. A past
/// slot is dropped instead (`gate::SLOT_LATE`), and a past hold is over.
fn at_instant(clock: &Clock, at: DateTime<Utc>) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let ahead = at - clock.now();
    match ahead.to_std() {
        Ok(ahead) => now + ahead,
        Err(_) => (-ahead).to_std().ok().and_then(|ago| now.checked_sub(ago)).unwrap_or(now),
    }
}

/// What a claim found.
enum Claim {
    /// `full`: as many as asked for, so more may be due.
    Claimed {
        claimed: Vec<ClaimedDelivery>,
        full: bool,
    },
    /// Nothing claimable now; the earliest due time of what is not excluded, if known.
    Empty(Option<DateTime<Utc>>),
    Failed(ClaimError),
}

/// Why a claim failed.
#[derive(Debug, thiserror::Error)]
enum ClaimError {
    #[error("the store failed")]
    Store(#[from] StoreError),
    #[error("the claim task failed")]
    Task(#[from] tokio::task::JoinError),
}

impl Inner {
    /// Claims up to `room` due deliveries but those of `exclude`; when there are none, finds when the next is due.
    async fn claim_or_next_due(&self, room: u32, exclude: Vec<WebhookId>) -> Claim {
        match self.claim(room, &exclude).await {
            Ok(claimed) if !claimed.is_empty() => Claim::Claimed { full: claimed.len() >= room as usize, claimed },
            // With webhooks excluded, finding the next due time may walk their whole backlog: the loop waits for a
            // queue to fall below its cap, a wake-up or the idle poll instead.
            Ok(_) if !exclude.is_empty() => Claim::Empty(None),
            Ok(_) => Claim::Empty(self.store.next_due_at(&exclude).await.ok().flatten()),
            Err(e) => Claim::Failed(ClaimError::Store(e)),
        }
    }

    async fn claim(&self, limit: u32, exclude: &[WebhookId]) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.store.claim_due_with_lease(&self.cfg.node_id, self.clock.now(), limit, exclude, self.cfg.lease).await
    }

    async fn target(&self, webhook: WebhookId) -> Result<Arc<Target>, NoTarget> {
        let stale = {
            let cache = self.targets.lock().unwrap_or_else(|p| p.into_inner());
            cache.checked.is_none_or(|t| t.elapsed() > Duration::from_millis(200))
        };
        if stale {
            match self.store.routing_version().await {
                Ok(version) => {
                    let mut cache = self.targets.lock().unwrap_or_else(|p| p.into_inner());
                    let expired = cache.filled.is_none_or(|t| t.elapsed() > TARGET_TTL);
                    if version != cache.version || expired {
                        cache.map.clear();
                        cache.version = version;
                        cache.filled = Some(std::time::Instant::now());
                    }
                    cache.checked = Some(std::time::Instant::now());
                }
                // The store cannot be asked: a cached target is the best knowledge there is (and, with the database
                // away, nobody can change the webhook meanwhile). Without one, the caller waits for the store.
                Err(e) => {
                    let cache = self.targets.lock().unwrap_or_else(|p| p.into_inner());
                    return cache.map.get(&webhook).cloned().ok_or_else(|| store_failure(e, "webhook"));
                }
            }
        }
        if let Some(t) = self.targets.lock().unwrap_or_else(|p| p.into_inner()).map.get(&webhook) {
            return Ok(t.clone());
        }
        let hook = self.store.get_webhook(webhook).await.map_err(|e| store_failure(e, "webhook"))?;
        let app = self.store.get_application(hook.application_id).await.map_err(|e| store_failure(e, "application"))?;
        let target =
            Arc::new(Target::from_records(&hook, &app, self.clock.now()).map_err(|e| NoTarget::Gone(e.into()))?);
        self.targets.lock().unwrap_or_else(|p| p.into_inner()).map.insert(webhook, target.clone());
        Ok(target)
    }

    /// The target, waiting (with back-off) while the store is unavailable: a delivery is not given up because the
    /// database is away for a while. `Ok(None)` when the engine stops meanwhile (the delivery is not attempted).
    async fn target_when_available(&self, webhook: WebhookId) -> Result<Option<Arc<Target>>, String> {
        let mut stopping = self.stopping.subscribe();
        let mut delay = Duration::from_millis(100);
        loop {
            match self.target(webhook).await {
                Ok(target) => return Ok(Some(target)),
                Err(NoTarget::Gone(why)) => return Err(error_chain(&why)),
                Err(NoTarget::Unavailable(e)) => {
                    if matches!(e, StoreError::Corrupt(_)) {
                        tracing::warn!(error = %e, %webhook, "cannot read the webhook of a delivery; it waits");
                    } else {
                        tracing::debug!(error = %e, %webhook, "cannot read the webhook of a delivery; waiting for storage");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stopping.wait_for(|s| *s) => return Ok(None),
                    }
                    delay = (delay * 2).min(STORE_RETRY_MAX);
                }
            }
        }
    }

    /// Attempts one delivery; `None` when it was not attempted because the engine stopped while waiting for the store.
    /// Runs in an `attempt` span carrying the event, delivery and webhook ids, so that a change can be followed from
    /// its request (whose `ingest` span carries the same event id) to each of its attempts.
    /// Attempts `d` and says how it went; with `send_by` (its send slot's deadline), not at all if it could not start
    /// by then.
    async fn attempt(&self, d: ClaimedDelivery, send_by: Option<tokio::time::Instant>) -> Attempted {
        let span = tracing::info_span!(
            "attempt",
            event_id = tail_event_id(d.body.as_bytes()).unwrap_or_default(),
            delivery_id = %d.id,
            webhook_id = %d.webhook_id,
            attempt = d.attempts + 1,
        );
        self.attempt_in_span(d, send_by).instrument(span).await
    }

    async fn attempt_in_span(&self, d: ClaimedDelivery, send_by: Option<tokio::time::Instant>) -> Attempted {
        let attempt = d.attempts + 1;
        let unattempted =
            Attempted { webhook: d.webhook_id, record: None, health: Health::Unknown, hold_until: None, late: None };
        let body = Bytes::from(with_attempt(d.body.as_bytes(), attempt));
        let target = if d.body.is_empty() {
            // Retention pruned the event's payload (a replay or redelivery of an old event): nothing to send.
            Err("the event's payload was pruned by retention".to_string())
        } else {
            match self.target_when_available(d.webhook_id).await {
                Ok(Some(target)) => Ok(target),
                Ok(None) => return unattempted,
                Err(reason) => Err(reason),
            }
        };
        if target.is_ok() && send_by.is_some_and(|by| tokio::time::Instant::now() > by) {
            tracing::debug!("the send slot passed before the attempt could start; it waits for another");
            return Attempted { late: Some(d), ..unattempted };
        }
        let started = self.clock.now();
        let (url, result) = match target {
            Ok(target) => {
                let mut headers = signed_headers(&target, d.id, started.timestamp(), &body);
                if let Some(order) = &d.order {
                    headers.insert(ENTITY_SEQUENCE, HeaderValue::from(order.sequence));
                }
                (target.url.as_str().to_owned(), self.sender.send(&target.url, headers, body).await)
            }
            Err(reason) => (
                String::new(),
                SendResult {
                    outcome: AttemptOutcome::Blocked { reason },
                    duration: Duration::ZERO,
                    response: None,
                    retry_after: None,
                },
            ),
        };
        self.metrics.attempt(result.outcome.kind(), result.duration.as_secs_f64());
        let health = match &result.outcome {
            AttemptOutcome::Blocked { .. } => Health::Unknown,
            o if o.is_endpoint_failure() => Health::Down,
            _ => Health::Up,
        };
        let hold_until = hold_until(&result, started + result.duration);
        if let Some(until) = hold_until {
            // Other nodes read it within a fraction of a second; it survives restarts.
            tracing::info!(retry_after = ?result.retry_after.as_ref().map(|r| &r.raw), %until, "webhook held");
            if let Err(e) = self.store.hold_webhook(d.webhook_id, until).await {
                tracing::warn!(error = %e, "could not store a webhook's hold; it applies on this node only");
            }
        }
        let record = attempt_record(&self.cfg.retry_schedule, &d, attempt, started, url, result);
        tracing::debug!(outcome = %record.outcome, status = ?record.status_code, ms = record.duration_ms, "attempted");
        Attempted { webhook: d.webhook_id, record: Some(record), health, hold_until, late: None }
    }
}

/// An error and its causes on one line: the reason an attempt records.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A failed read of a delivery's webhook or application: gone for good, or the store away for now.
fn store_failure(e: StoreError, what: &'static str) -> NoTarget {
    match e {
        StoreError::NotFound => NoTarget::Gone(Gone::Deleted(what)),
        StoreError::Unavailable(_) => NoTarget::Unavailable(e),
        // A secret this node cannot open (its encryption keys are not those the secret was sealed with) or a row it
        // cannot read: an operator fixes that, so the delivery waits instead of failing for good.
        StoreError::Corrupt(_) => NoTarget::Unavailable(e),
        source => NoTarget::Gone(Gone::Unreadable { what, source }),
    }
}

/// Until when a `Retry-After` received at `ended` holds the webhook (contract §9.3): at most [`gate::HOLD_MAX`].
fn hold_until(result: &SendResult, ended: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let delay = result.retry_after.as_ref()?.delay?.min(gate::HOLD_MAX);
    Some(ended + delay)
}

/// The record of an attempt, with the delivery's next state under the retry schedule (contract §7.2); after a
/// `Retry-After`, the retry is at the later of the schedule's delay and the hold (contract §9.3).
pub(crate) fn attempt_record(
    schedule: &RetrySchedule,
    d: &ClaimedDelivery,
    attempt: u32,
    started: DateTime<Utc>,
    url: String,
    result: SendResult,
) -> AttemptRecord {
    let ended = started + result.duration;
    let hold = hold_until(&result, ended);
    let (new_state, next_attempt_at) = if result.outcome.is_success() {
        (DeliveryState::Delivered, None)
    } else if result.outcome.is_retryable() {
        match schedule.delay_after(attempt, d.sandbox) {
            Some(delay) => (DeliveryState::Pending, Some((ended + delay).max(hold.unwrap_or(ended)))),
            None => (DeliveryState::Dead, None),
        }
    } else {
        (DeliveryState::Failed, None)
    };
    AttemptRecord {
        delivery_id: d.id,
        event: d.event,
        webhook_id: d.webhook_id,
        application_id: d.application_id,
        attempt,
        started,
        duration_ms: result.duration.as_millis() as u64,
        outcome: result.outcome.kind().to_string(),
        status_code: result.outcome.status_code(),
        error: result.outcome.error(),
        response: result.response,
        url,
        new_state,
        next_attempt_at,
        success: result.outcome.is_success(),
        entity_key: d.order.as_ref().map(|o| o.key.clone()),
        retry_after: result.retry_after.map(|r| r.raw),
    }
}

/// Reads the webhooks' holds and rate limits every [`GATES_REFRESH`], or at once when a webhook changed on this node,
/// and hands them to the loop with the `gates_wanted` they answer (`None` when the store could not be read).
async fn gates_loop(inner: Arc<Inner>, tx: mpsc::Sender<(u64, Option<Vec<WebhookGate>>)>) {
    loop {
        let wanted = inner.gates_wanted.load(Ordering::SeqCst);
        let read = match inner.store.webhook_gates(inner.clock.now()).await {
            Ok(gates) => Some(gates),
            Err(e) => {
                tracing::debug!(error = %e, "could not read the webhooks' holds and rate limits");
                None
            }
        };
        if tx.send((wanted, read)).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(GATES_REFRESH) => {}
            _ = inner.gates_notify.notified() => {}
        }
    }
}

/// Tells the store this node is alive, three times per lease, so that its claims are not taken over while it is
/// busy attempting them (claiming is a heartbeat too, but a saturated node does not claim).
async fn heartbeat_loop(inner: Arc<Inner>) {
    let every = (inner.cfg.lease / 3).max(Duration::from_millis(100));
    loop {
        if let Err(e) = inner.store.heartbeat(&inner.cfg.node_id, inner.clock.now()).await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
        tokio::time::sleep(every).await;
    }
}

/// Writes attempt records in batches until the channel closes. A failed write is retried: the records describe
/// attempts already made, and losing them would make deliveries look unattempted. When an ordered delivery ended,
/// the next one of its entity is due now: the engine is woken to claim it.
async fn record_loop(inner: Arc<Inner>, mut rx: mpsc::Receiver<AttemptRecord>) {
    let store = &inner.store;
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        // Gather a little longer: a transaction per few records costs the store (and every statement a thread
        // hand-off) far more than the milliseconds a record waits; nobody waits on a record to be written.
        let linger = tokio::time::Instant::now() + RECORD_LINGER;
        while batch.len() < RECORD_BATCH {
            let room = RECORD_BATCH - batch.len();
            match tokio::time::timeout_at(linger, rx.recv_many(&mut batch, room)).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        let mut delay = Duration::from_millis(50);
        let mut tries = 0;
        while let Err(e) = store.record_attempts(&batch).await {
            tries += 1;
            tracing::warn!(error = %e, records = batch.len(), tries, "recording attempts failed; retrying");
            if rx.is_closed() && tries >= 20 {
                tracing::error!(
                    records = batch.len(),
                    "giving up recording attempts at shutdown; those deliveries will be attempted again"
                );
                break;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        if batch.iter().any(|a| a.entity_key.is_some() && a.new_state != DeliveryState::Pending) {
            inner.wake.notify_one();
        }
        batch.clear();
    }
}

/// Held deliveries, queued per webhook, handed out round-robin within the concurrency bounds, each webhook behind its
/// gates (a hold, a rate limit's send slots, an open circuit: see [`crate::gate`]).
struct Scheduler {
    queues: HashMap<WebhookId, VecDeque<ClaimedDelivery>>,
    /// Every delivery held, queued or in flight.
    ids: HashSet<DeliveryId>,
    in_flight: HashMap<WebhookId, usize>,
    ready: VecDeque<WebhookId>,
    /// Webhooks with queued work held back by a gate, out of `ready`: until an instant, or (`None`) until something
    /// happens (send slots arrive, the probe in flight finishes, the gates are read again).
    gated: HashMap<WebhookId, Option<tokio::time::Instant>>,
    /// The gates of webhooks that have any (most have none: no entry, nothing to check).
    flows: HashMap<WebhookId, Flow>,
    /// Rate-limited webhooks that need send slots reserved.
    want_slots: Vec<WebhookId>,
    total_in_flight: usize,
    held: usize,
    max_in_flight: usize,
    per_webhook: usize,
    /// A webhook's queue fell below the saturation cap since the last `take_unsaturated`: a claim that excluded it
    /// may now find its work.
    unsaturated: bool,
}

impl Scheduler {
    fn new(max_in_flight: usize, per_webhook: usize) -> Self {
        Self {
            queues: HashMap::new(),
            ids: HashSet::new(),
            in_flight: HashMap::new(),
            ready: VecDeque::new(),
            gated: HashMap::new(),
            flows: HashMap::new(),
            want_slots: Vec::new(),
            total_in_flight: 0,
            held: 0,
            max_in_flight: max_in_flight.max(1),
            per_webhook: per_webhook.max(1),
            unsaturated: false,
        }
    }

    /// How many more deliveries may be claimed: queued work is bounded to twice the concurrency.
    fn room(&self) -> usize {
        (self.max_in_flight * 2).saturating_sub(self.active())
    }

    /// Whether to claim now: when at most `max_in_flight` deliveries are held that can make progress, so that claims
    /// come in batches rather than one per finished attempt (each claim is a write to the store).
    fn wants_work(&self) -> bool {
        self.active() <= self.max_in_flight
    }

    /// Held deliveries but those queued behind a webhook already at its in-flight bound or behind a gate (a hanging
    /// or held endpoint's queue must not stop the claims that feed healthy webhooks; it is bounded by `saturated`).
    fn active(&self) -> usize {
        let parked: usize = self
            .queues
            .iter()
            .filter(|(w, _)| {
                self.gated.contains_key(*w) || self.in_flight.get(*w).copied().unwrap_or(0) >= self.per_webhook
            })
            .map(|(_, q)| q.len())
            .sum();
        self.held.saturating_sub(parked)
    }

    /// Webhooks that claims skip: those with enough queued work already, so that their backlog cannot fill the room,
    /// and those held or with an open circuit, whose deliveries could not go anyway.
    fn saturated(&self, now: tokio::time::Instant) -> Vec<WebhookId> {
        let cap = self.per_webhook * QUEUE_PER_WEBHOOK;
        let mut out: Vec<WebhookId> = self.queues.iter().filter(|(_, q)| q.len() >= cap).map(|(w, _)| *w).collect();
        for (w, flow) in &self.flows {
            if flow.closed(now) && self.queues.get(w).is_none_or(|q| q.len() < cap) {
                out.push(*w);
            }
        }
        out
    }

    /// Queues a delivery; `false` (and nothing queued) when it is held already.
    fn push(&mut self, d: ClaimedDelivery) -> bool {
        if !self.ids.insert(d.id) {
            return false;
        }
        let w = d.webhook_id;
        let q = self.queues.entry(w).or_default();
        if q.is_empty() && !self.gated.contains_key(&w) {
            self.ready.push_back(w);
        }
        q.push_back(d);
        self.held += 1;
        true
    }

    /// A delivery handed out whose send slot passed before it started (after `finished`): first in its queue again.
    fn requeue(&mut self, d: ClaimedDelivery) {
        if !self.ids.insert(d.id) {
            return;
        }
        let w = d.webhook_id;
        let q = self.queues.entry(w).or_default();
        if q.is_empty() && !self.gated.contains_key(&w) && !self.ready.contains(&w) {
            self.ready.push_back(w);
        }
        q.push_front(d);
        self.held += 1;
    }

    /// Gated webhooks whose instant came: back in turn.
    fn release(&mut self, now: tokio::time::Instant) {
        if self.gated.is_empty() {
            return;
        }
        let due: Vec<WebhookId> =
            self.gated.iter().filter(|(_, at)| at.is_some_and(|at| at <= now)).map(|(w, _)| *w).collect();
        for w in due {
            self.ungate(w);
        }
    }

    fn ungate(&mut self, w: WebhookId) {
        if self.gated.remove(&w).is_some() && self.queues.contains_key(&w) && !self.ready.contains(&w) {
            self.ready.push_back(w);
        }
    }

    /// The earliest instant a gated webhook may go again.
    fn next_gate(&self) -> Option<tokio::time::Instant> {
        self.gated.values().flatten().min().copied()
    }

    /// The next delivery to attempt at `now`, if the bounds and gates allow one.
    #[cfg(test)]
    fn next(&mut self, now: tokio::time::Instant) -> Option<ClaimedDelivery> {
        self.next_to_send(now).map(|(d, _)| d)
    }

    /// The next delivery to attempt at `now`, if the bounds and gates allow one, and the instant its attempt must
    /// start by (when it takes a rate limit's send slot).
    fn next_to_send(&mut self, now: tokio::time::Instant) -> Option<(ClaimedDelivery, Option<tokio::time::Instant>)> {
        if self.total_in_flight >= self.max_in_flight {
            return None;
        }
        for _ in 0..self.ready.len() {
            let w = self.ready.pop_front()?;
            let busy = self.in_flight.get(&w).copied().unwrap_or(0);
            if busy >= self.per_webhook {
                // Parked until one of its attempts finishes (see `finished`).
                continue;
            }
            if !self.queues.contains_key(&w) {
                continue;
            }
            let mut send_by = None;
            if let Some(flow) = self.flows.get_mut(&w) {
                match flow.admit(now) {
                    Admit::Go => {}
                    Admit::Slot(slot) => send_by = Some(slot + gate::SLOT_START_LATE),
                    Admit::Until(at) => {
                        self.gated.insert(w, Some(at));
                        continue;
                    }
                    Admit::Slots => {
                        if !flow.reserving {
                            self.want_slots.push(w);
                        }
                        self.gated.insert(w, None);
                        continue;
                    }
                    Admit::Probing => {
                        self.gated.insert(w, None);
                        continue;
                    }
                }
            }
            let q = self.queues.get_mut(&w)?;
            let d = q.pop_front()?;
            if q.len() + 1 == self.per_webhook * QUEUE_PER_WEBHOOK {
                self.unsaturated = true;
            }
            if q.is_empty() {
                self.queues.remove(&w);
            } else {
                self.ready.push_back(w);
            }
            if let Some(flow) = self.flows.get_mut(&w) {
                flow.dispatched(d.id);
            }
            *self.in_flight.entry(w).or_default() += 1;
            self.total_in_flight += 1;
            return Some((d, send_by));
        }
        None
    }

    /// Rate-limited webhooks that need send slots: (webhook, how many to reserve, rate). Each is asked once until
    /// `add_slots` or `slots_failed`.
    fn slot_requests(&mut self) -> Vec<(WebhookId, u32, u32)> {
        let mut out = Vec::new();
        for w in std::mem::take(&mut self.want_slots) {
            let queued = self.queues.get(&w).map_or(0, VecDeque::len);
            if let Some(flow) = self.flows.get_mut(&w) {
                if let (Some(rate), false, true) = (flow.rate, flow.reserving, queued > 0) {
                    flow.reserving = true;
                    out.push((w, gate::slot_batch(rate, queued), rate));
                }
            }
        }
        out
    }

    fn add_slots(&mut self, w: WebhookId, first: tokio::time::Instant, n: u32, interval: Duration) {
        if let Some(flow) = self.flows.get_mut(&w) {
            flow.add_slots(first, n, interval);
        }
        self.ungate(w);
    }

    fn slots_failed(&mut self, w: WebhookId, again: tokio::time::Instant) {
        if let Some(flow) = self.flows.get_mut(&w) {
            flow.reserving = false;
        }
        if self.gated.contains_key(&w) {
            self.gated.insert(w, Some(again));
        }
    }

    /// A `Retry-After` received: every delivery of `w` waits until `until`.
    fn hold(&mut self, w: WebhookId, until: tokio::time::Instant) {
        let flow = self.flows.entry(w).or_default();
        flow.hold = Some(flow.hold.map_or(until, |h| h.max(until)));
    }

    /// The holds and rate limits read from the store (`at` turns their wall-clock times into instants). A webhook
    /// missing from `gates` has no rate limit; a hold only ever grows (this node's may be newer than the store's).
    fn set_gates(&mut self, gates: &[WebhookGate], at: impl Fn(DateTime<Utc>) -> tokio::time::Instant) {
        let read: HashMap<WebhookId, &WebhookGate> = gates.iter().map(|g| (g.webhook_id, g)).collect();
        for (w, flow) in &mut self.flows {
            if !read.contains_key(w) {
                flow.set_rate(None);
            }
        }
        for g in gates {
            let flow = self.flows.entry(g.webhook_id).or_default();
            flow.set_rate(g.rate_limit);
            if let Some(until) = g.hold_until.map(&at) {
                flow.hold = Some(flow.hold.map_or(until, |h| h.max(until)));
            }
        }
        self.flows.retain(|_, f| !f.is_idle());
        // Look at every gated webhook again under what was read.
        let gated: Vec<WebhookId> = self.gated.keys().copied().collect();
        for w in gated {
            self.ungate(w);
        }
    }

    /// Whether a webhook's queue fell below the saturation cap since the last call.
    fn take_unsaturated(&mut self) -> bool {
        std::mem::take(&mut self.unsaturated)
    }

    fn finished(&mut self, w: WebhookId, delivery: DeliveryId, health: Health, now: tokio::time::Instant) {
        self.ids.remove(&delivery);
        self.total_in_flight = self.total_in_flight.saturating_sub(1);
        self.held = self.held.saturating_sub(1);
        if let Some(n) = self.in_flight.get_mut(&w) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(&w);
            }
        }
        // The hot path: a healthy webhook with no gates has no flow, and an answer changes nothing.
        match (self.flows.get_mut(&w), health) {
            (Some(flow), _) => {
                let was_open = flow.is_open();
                flow.finished(delivery, health, now);
                let again = was_open || flow.is_open();
                if flow.is_idle() {
                    self.flows.remove(&w);
                }
                if again {
                    // The probe finished (or the circuit just opened): the webhook's turn is decided again.
                    self.ungate(w);
                }
            }
            (None, Health::Down) => {
                let mut flow = Flow::default();
                flow.finished(delivery, health, now);
                self.flows.insert(w, flow);
            }
            (None, _) => {}
        }
        if self.queues.contains_key(&w) && !self.ready.contains(&w) && !self.gated.contains_key(&w) {
            self.ready.push_back(w);
        }
    }

    /// At shutdown: forget what was held but not started (its claims are released by the caller); returns the
    /// webhook of each delivery forgotten.
    fn drop_queued(&mut self) -> Vec<WebhookId> {
        let dropped: Vec<(WebhookId, DeliveryId)> =
            self.queues.drain().flat_map(|(w, q)| q.into_iter().map(move |d| (w, d.id))).collect();
        let dropped: Vec<WebhookId> = dropped
            .into_iter()
            .map(|(w, id)| {
                self.ids.remove(&id);
                w
            })
            .collect();
        self.held -= dropped.len();
        self.ready.clear();
        self.gated.clear();
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{ApplicationId, DeliveryId};
    use uuid::Uuid;

    /// Wall-clock times become instants as far in the past or future as they are: a slot reserved 100 ms ago is not
    /// a slot now (which would overlap the next reservation's).
    #[tokio::test]
    async fn wall_clock_times_past_and_future_keep_their_distance_from_now() {
        let clock = Clock::default();
        let before = tokio::time::Instant::now();
        let past = at_instant(&clock, clock.now() - chrono::Duration::milliseconds(100));
        let future = at_instant(&clock, clock.now() + chrono::Duration::milliseconds(100));
        let after = tokio::time::Instant::now();
        assert!(past + Duration::from_millis(100) <= after + Duration::from_millis(5), "{past:?} is not 100 ms ago");
        assert!(past + Duration::from_millis(100) >= before - Duration::from_millis(5), "{past:?} is too early");
        assert!(future >= before + Duration::from_millis(95) && future <= after + Duration::from_millis(105));
    }

    fn delivery(webhook: u128, n: u128) -> ClaimedDelivery {
        ClaimedDelivery {
            id: DeliveryId(Uuid::from_u128(n)),
            event: Uuid::from_u128(n),
            webhook_id: WebhookId(Uuid::from_u128(webhook)),
            application_id: ApplicationId(Uuid::from_u128(1)),
            sandbox: false,
            attempts: 0,
            order: None,
            body: "}".into(),
        }
    }

    fn now() -> tokio::time::Instant {
        tokio::time::Instant::now()
    }

    fn hook(n: u128) -> WebhookId {
        WebhookId(Uuid::from_u128(n))
    }

    #[test]
    fn scheduler_opens_a_failing_webhooks_circuit_and_keeps_serving_the_others() {
        let mut s = Scheduler::new(10, 10);
        for n in 0..20 {
            s.push(delivery(1, n));
        }
        for n in 100..110 {
            s.push(delivery(2, n));
        }
        let t0 = now();
        // Five attempts to webhook 1 fail: its circuit opens, its queue waits without attempts and claims skip it.
        let first: Vec<ClaimedDelivery> = std::iter::from_fn(|| s.next(t0)).collect();
        assert_eq!(first.len(), 10);
        for d in first.iter().filter(|d| d.webhook_id == hook(1)) {
            s.finished(hook(1), d.id, Health::Down, t0);
        }
        for d in first.iter().filter(|d| d.webhook_id == hook(2)) {
            s.finished(hook(2), d.id, Health::Up, t0);
        }
        assert_eq!(s.saturated(t0), vec![hook(1)], "an open circuit is not claimed for");
        let next: Vec<u128> = std::iter::from_fn(|| s.next(t0)).map(|d| d.webhook_id.0.as_u128()).collect();
        assert!(next.iter().all(|w| *w == 2), "webhook 1 waits, webhook 2 goes on: {next:?}");
        assert_eq!(next.len(), 5);
        assert_eq!(s.active(), 5, "the waiting queue does not count against claiming");
        assert_eq!(s.next_gate(), Some(t0 + gate::PROBE_FIRST));
        // After the spacing, one probe, and only one.
        let t1 = t0 + gate::PROBE_FIRST;
        s.release(t1);
        let probe = s.next(t1).expect("a probe");
        assert_eq!(probe.webhook_id, hook(1));
        assert!(s.next(t1).is_none(), "one probe at a time");
        s.finished(hook(1), probe.id, Health::Down, t1);
        assert!(s.next(t1).is_none());
        assert_eq!(s.next_gate(), Some(t1 + gate::PROBE_FIRST * 2), "the spacing doubled");
        let t2 = t1 + gate::PROBE_FIRST * 2;
        s.release(t2);
        let probe = s.next(t2).expect("a second probe");
        s.finished(hook(1), probe.id, Health::Up, t2);
        assert!(s.saturated(t2).is_empty(), "closed: claimed for again");
        let rest: Vec<ClaimedDelivery> = std::iter::from_fn(|| s.next(t2)).collect();
        assert_eq!(rest.len(), 5, "the probe answered: the queue flows again (beside webhook 2's five in flight)");
        assert!(rest.iter().all(|d| d.webhook_id == hook(1)));
        // Each delivery kept its own attempts count: waiting spent none.
        assert!(rest.iter().all(|d| d.attempts == 0));
    }

    #[test]
    fn scheduler_4xx_answers_do_not_open_a_circuit() {
        let mut s = Scheduler::new(10, 10);
        for n in 0..30 {
            s.push(delivery(1, n));
        }
        for _ in 0..3 {
            let batch: Vec<ClaimedDelivery> = std::iter::from_fn(|| s.next(now())).collect();
            for d in batch {
                s.finished(hook(1), d.id, Health::Up, now());
            }
        }
        assert!(s.flows.is_empty(), "nothing remembered for a healthy webhook");
        assert!(s.saturated(now()).is_empty());
    }

    #[test]
    fn scheduler_holds_a_webhook_and_meters_a_rate_limited_one() {
        let mut s = Scheduler::new(10, 10);
        for n in 0..5 {
            s.push(delivery(1, n));
            s.push(delivery(2, 100 + n));
        }
        let t0 = now();
        s.hold(hook(1), t0 + Duration::from_secs(2));
        s.set_gates(&[WebhookGate { webhook_id: hook(2), hold_until: None, rate_limit: Some(20) }], |_| t0);
        assert!(s.next(t0).is_none(), "webhook 1 held, webhook 2 has no slots yet");
        assert_eq!(s.saturated(t0), vec![hook(1)]);
        assert_eq!(s.slot_requests(), vec![(hook(2), 2, 20)]);
        assert!(s.slot_requests().is_empty(), "asked once");
        let every = gate::slot_interval(20);
        s.add_slots(hook(2), t0, 2, every);
        assert_eq!(s.next(t0).map(|d| d.webhook_id), Some(hook(2)));
        assert!(s.next(t0).is_none(), "the second slot is later");
        assert_eq!(s.next_gate(), Some(t0 + every));
        s.release(t0 + every);
        assert_eq!(s.next(t0 + every).map(|d| d.webhook_id), Some(hook(2)));
        let t2 = t0 + Duration::from_secs(2);
        s.release(t2);
        let held: Vec<u128> = std::iter::from_fn(|| s.next(t2)).map(|d| d.webhook_id.0.as_u128()).collect();
        assert_eq!(held, vec![1; 5], "the hold is over: all of webhook 1's deliveries");
        assert_eq!(s.slot_requests(), vec![(hook(2), 2, 20)], "webhook 2 needs slots again");
    }

    #[test]
    fn a_delivery_sent_in_a_slot_must_start_soon_after_it_or_waits_first_in_line_for_another() {
        let mut s = Scheduler::new(10, 10);
        for n in 0..3 {
            s.push(delivery(2, n));
        }
        s.push(delivery(1, 100));
        let t0 = now();
        s.set_gates(&[WebhookGate { webhook_id: hook(2), hold_until: None, rate_limit: Some(20) }], |_| t0);
        assert_eq!(s.next_to_send(t0).map(|(d, by)| (d.webhook_id, by)), Some((hook(1), None)), "no slot, no deadline");
        assert!(s.next_to_send(t0).is_none());
        assert_eq!(s.slot_requests(), vec![(hook(2), 2, 20)]);
        s.add_slots(hook(2), t0, 2, gate::slot_interval(20));
        let (first, by) = s.next_to_send(t0).expect("the first slot");
        assert_eq!((first.id, by), (delivery(2, 0).id, Some(t0 + gate::SLOT_START_LATE)));
        // It could not start in time: back at the head of its webhook's queue, held still, sent in the next slot.
        s.finished(hook(2), first.id, Health::Unknown, t0);
        s.requeue(first.clone());
        assert!(!s.push(first.clone()), "held by this node");
        let t1 = t0 + gate::slot_interval(20);
        s.release(t1);
        let (again, by) = s.next_to_send(t1).expect("the second slot");
        assert_eq!((again.id, by), (first.id, Some(t1 + gate::SLOT_START_LATE)));
    }

    #[test]
    fn scheduler_takes_webhooks_in_turn_and_bounds_each() {
        let mut s = Scheduler::new(10, 2);
        for n in 0..5 {
            s.push(delivery(1, n));
        }
        s.push(delivery(2, 100));
        let started: Vec<ClaimedDelivery> = std::iter::from_fn(|| s.next(now())).collect();
        let order: Vec<u128> = started.iter().map(|d| d.webhook_id.0.as_u128()).collect();
        // webhook 1 is bounded to two in flight; webhook 2 is not starved behind it
        assert_eq!(order, vec![1, 2, 1]);
        // A delivery held already (queued or in flight) is not taken twice.
        assert!(!s.push(delivery(1, 4)), "queued");
        assert!(!s.push(started[0].clone()), "in flight");
        s.finished(WebhookId(Uuid::from_u128(1)), started[0].id, Health::Up, now());
        assert_eq!(s.next(now()).map(|d| d.webhook_id.0.as_u128()), Some(1));
        assert!(s.next(now()).is_none());
        assert!(s.push(started[0].clone()), "finished: it may come back (a retry)");
    }

    #[test]
    fn scheduler_reports_webhooks_with_a_full_queue() {
        // One in flight per webhook: a webhook's queue is full at QUEUE_PER_WEBHOOK; the engine holds twice its
        // in-flight bound, which is set to that cap.
        let cap = QUEUE_PER_WEBHOOK;
        let mut s = Scheduler::new(cap, 1);
        for n in 0..cap - 1 {
            s.push(delivery(7, n as u128));
        }
        assert!(s.saturated(now()).is_empty(), "below QUEUE_PER_WEBHOOK times the per-webhook bound");
        s.push(delivery(7, cap as u128 - 1));
        assert_eq!(s.saturated(now()), vec![WebhookId(Uuid::from_u128(7))]);
        for n in cap..2 * cap {
            s.push(delivery(8, n as u128));
        }
        assert_eq!(s.room(), 0);
        assert!(!s.wants_work(), "more than max_in_flight held: no claim until it drains");
        // webhook 7 at its in-flight bound: its queue no longer counts against claiming
        assert_eq!(s.next(now()).map(|d| d.webhook_id.0.as_u128()), Some(7));
        assert!(s.take_unsaturated(), "webhook 7's queue fell below the cap: a claim may find its work again");
        assert!(!s.take_unsaturated());
        assert_eq!(s.active(), 2 * cap - (cap - 1));
        assert!(!s.wants_work());
        assert_eq!(s.next(now()).map(|d| d.webhook_id.0.as_u128()), Some(8));
        assert_eq!(s.active(), 2, "both webhooks at their bound: only their attempts in flight count");
        assert!(s.wants_work());
    }

    fn result(outcome: AttemptOutcome) -> SendResult {
        SendResult { outcome, duration: Duration::from_millis(5), response: None, retry_after: None }
    }

    #[test]
    fn next_state_follows_the_retry_schedule() {
        let schedule: RetrySchedule = "1s,2s".parse().unwrap();
        let t0 = Utc::now();
        let d = delivery(1, 1);
        let r = attempt_record(&schedule, &d, 1, t0, "u".into(), result(AttemptOutcome::Failed { status: 500 }));
        assert_eq!(r.new_state, DeliveryState::Pending);
        assert_eq!(r.next_attempt_at, Some(t0 + Duration::from_millis(5) + Duration::from_secs(1)));
        let r = attempt_record(&schedule, &d, 3, t0, "u".into(), result(AttemptOutcome::Timeout));
        assert_eq!(r.new_state, DeliveryState::Dead);
        let r = attempt_record(&schedule, &d, 1, t0, "u".into(), result(AttemptOutcome::Rejected { status: 404 }));
        assert_eq!(r.new_state, DeliveryState::Failed);
        let r = attempt_record(&schedule, &d, 1, t0, "u".into(), result(AttemptOutcome::Delivered { status: 204 }));
        assert_eq!(r.new_state, DeliveryState::Delivered);
        let mut sandbox = delivery(1, 2);
        sandbox.sandbox = true;
        let r = attempt_record(&schedule, &sandbox, 1, t0, "u".into(), result(AttemptOutcome::Failed { status: 500 }));
        assert_eq!(r.new_state, DeliveryState::Dead);
    }
}
