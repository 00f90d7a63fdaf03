//! The benchmark's scenarios, run one after the other against one Herald process.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use herald_delivery::{Endpoint, HttpSender};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use super::broker::{wait_acknowledged, BenchQueue};
use super::receiver::Receiver;
use super::stats::{cpu_time, percentile, rss, sqlite_cpu_time, RssPeak};
use super::{BenchOptions, Figure};

const TOKEN: &str = "bench-admin-token-0123456789";
/// Send times of every change, by sequence number (nanoseconds since the bench started).
const MAX_SEQ: usize = 1 << 23;

struct Clock {
    start: Instant,
    sent: Vec<AtomicU64>,
    /// When `POST /changes` answered 202, by sequence number (0: not recorded), for single-change requests.
    accepted: Vec<AtomicU64>,
    next: AtomicU64,
}

impl Clock {
    /// A clock for `capacity` sequence numbers.
    fn new(start: Instant, capacity: usize) -> Self {
        Clock {
            start,
            sent: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            accepted: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            next: AtomicU64::new(0),
        }
    }

    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
    fn accepted(&self, seq: u64) {
        if let Some(slot) = self.accepted.get(seq as usize) {
            slot.store(self.now_ns(), Ordering::Relaxed);
        }
    }

    fn take(&self) -> u64 {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(slot) = self.sent.get(seq as usize) {
            slot.store(self.now_ns(), Ordering::Relaxed);
        }
        seq
    }
}

/// The seed's contact before its change.
const SEED_OLD: &str = r#"{"id":"RPT20000029","created":"2020-05-13T09:32:24Z","modified":null,"title":"Mr","forename":"John","surname":"Smith","dateOfBirth":null,"active":true,"marketingConsent":"notAsked","identityCheck":"unchecked","source":null,"homePhone":null,"workPhone":null,"mobilePhone":null,"email":"john.smith@reapitestates.net","primaryAddress":{"type":"primary","buildingName":"","buildingNumber":"1","line1":"High Street","line2":"Clacton-On-Sea","line3":"Essex","line4":"","postcode":"CO15 1AE","countryId":"GB"},"secondaryAddress":null,"workAddress":null,"officeIds":["RPT"],"negotiatorIds":["RPT"],"_eTag":"\"65D680519E9762519D203891A694B85B\""}"#;
/// The seed's contact after its change.
const SEED_NEW: &str = r#"{"id":"RPT20000029","created":"2020-05-13T09:32:24Z","modified":"2020-05-13T09:33:10Z","title":"Mr","forename":"John","surname":"Smith","dateOfBirth":null,"active":true,"marketingConsent":"notAsked","identityCheck":"unchecked","source":null,"homePhone":null,"workPhone":null,"mobilePhone":"07123 456789","email":"john.smith@reapitestates.net","primaryAddress":{"type":"primary","buildingName":"","buildingNumber":"12","line1":"High Street","line2":"Clacton-On-Sea","line3":"Essex","line4":"","postcode":"CO15 1AE","countryId":"GB"},"secondaryAddress":null,"workAddress":null,"officeIds":["RPT"],"negotiatorIds":["RPT"],"_eTag":"\"4DF107A6EB05D792EEAFDF1432F6E275\""}"#;

/// A change like the seed's contact change, about 1.5 KB on the wire once Herald adds the diff.
fn change_json(customer: &str, seq: u64) -> String {
    format!(
        r#"{{"customerId":"{customer}","entityType":"contacts","entityId":"b{seq}","old":{SEED_OLD},"new":{SEED_NEW}}}"#
    )
}

/// A change of entity `o<entity>` (many changes per entity), carrying its sequence number in `new.benchSeq`.
fn entity_change_json(customer: &str, seq: u64, entity: u64) -> String {
    format!(
        r#"{{"customerId":"{customer}","entityType":"contacts","entityId":"o{entity}","old":{{"id":"o{entity}","surname":"Smith"}},"new":{{"id":"o{entity}","surname":"Smyth","benchSeq":{seq}}}}}"#
    )
}

/// A record for `PUT /entities`: the seed's contact after its change (`changed`) or before, with the sequence
/// number the receiver pairs receipts by (`benchSeq`). Put in turns, each is a modification with the seed's diff.
fn record_json(seq: u64, changed: bool) -> String {
    let base = if changed { SEED_NEW } else { SEED_OLD };
    format!(r#"{},"benchSeq":{seq}}}"#, &base[..base.len() - 1])
}

/// A delivery body of the size Herald sends for `change_json` (for the loopback limit).
fn delivery_sized_body() -> Bytes {
    let change: Value = serde_json::from_str(&change_json("RPT", 0)).unwrap_or(Value::Null);
    let body = json!({"SendAttempts": 1, "eventId": "01a22823-43ef-70e6-b314-cc5958b07c77", "entityId": "b0",
        "customerId": "RPT", "eventTime": "2026-11-29T16:28:49.5190667Z", "topicId": "contacts.modified",
        "new": change["new"], "old": change["old"],
        "diff": {"modified": [null, "2020-05-13T09:33:10Z"], "mobilePhone": [null, "07123 456789"],
                 "primaryAddress": {"buildingNumber": ["1", "12"]}, "_eTag": ["\"65D680519E9762519D203891A694B85B\"", "\"4DF107A6EB05D792EEAFDF1432F6E275\""]}});
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

pub(super) fn progress(text: &str) {
    eprintln!("[bench] {text}");
}

/// Herald as a child process.
struct HeraldChild {
    child: Child,
    base: String,
}

/// The encryption key of a PostgreSQL bench run (a throw-away database).
const BENCH_ENCRYPTION_KEY: &str = "be9c4be9c4be9c4be9c4be9c4be9c4be9c4be9c4be9c4be9c4be9c4be9c4be9c";

impl HeraldChild {
    async fn start(
        opts: &BenchOptions,
        data_dir: &std::path::Path,
        deliver: bool,
        sources: &[String],
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let exe = std::env::current_exe().context("cannot find the herald binary")?;
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--admin-token", TOKEN, "--allow-http-targets", "--allow-private-targets", "--log", "warn"])
            .arg(format!("--deliver={deliver}"))
            .args(sources.iter().flat_map(|s| ["--source", s.as_str()]))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(url) = &opts.database_url {
            // Every node of a PostgreSQL run shares one key (none is generated there).
            cmd.args(["--database-url", url, "--encryption-key", BENCH_ENCRYPTION_KEY]);
        }
        let child = cmd.spawn().context("cannot start herald serve")?;
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(format!("{base}/healthz")).await.is_err() {
            anyhow::ensure!(Instant::now() < deadline, "herald did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { child, base })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HeraldChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// `POST /changes` with this JSON body.
    async fn publish(&self, body: String) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}/changes", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let resp = self.http.post(format!("{}{path}", self.base)).bearer_auth(TOKEN).json(&body).send().await?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "{path} answered {status}: {v}");
        Ok(v)
    }

    /// `DELETE` of this path.
    async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let resp = self.http.delete(format!("{}{path}", self.base)).bearer_auth(TOKEN).send().await?;
        let status = resp.status();
        anyhow::ensure!(status.is_success(), "DELETE {path} answered {status}");
        Ok(())
    }

    /// An application installed by `customer`, with webhooks at these URLs; their ids.
    async fn setup(&self, customer: &str, urls: &[String]) -> anyhow::Result<Vec<String>> {
        self.setup_with(customer, urls, json!({})).await
    }

    /// As [`Api::setup`], each webhook also given the fields of `extra` (`{"ordered": true}`).
    async fn setup_with(&self, customer: &str, urls: &[String], extra: Value) -> anyhow::Result<Vec<String>> {
        let app = self.post("/apps", json!({"name": format!("bench {customer}"), "scopes": ["contacts.read"]})).await?;
        let app_id = app["id"].as_str().unwrap_or_default().to_string();
        self.post("/installations", json!({"applicationId": app_id, "customerId": customer})).await?;
        let mut ids = Vec::with_capacity(urls.len());
        for url in urls {
            let mut body = json!({"applicationId": app_id, "url": url, "topicIds": ["contacts.modified"], "customerIds": [customer]});
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                body.extend(extra.clone());
            }
            let hook = self.post("/webhooks/subscriptions", body).await?;
            ids.push(hook["id"].as_str().context("a created webhook's answer has no id")?.to_string());
        }
        Ok(ids)
    }
}

/// The body of `POST /changes` (or of a broker message) with `batch` changes for `customer` (one: a single change).
fn changes_body(clock: &Clock, customer: &str, batch: usize) -> String {
    changes_body_of(clock, customer, batch, change_json)
}

/// [`changes_body`] with the changes that `one(customer, sequence)` writes.
fn changes_body_of(clock: &Clock, customer: &str, batch: usize, one: impl Fn(&str, u64) -> String) -> String {
    if batch <= 1 {
        one(customer, clock.take())
    } else {
        let changes: Vec<String> = (0..batch).map(|_| one(customer, clock.take())).collect();
        format!(r#"{{"changes":[{}]}}"#, changes.join(","))
    }
}

/// Publishes changes for `customer` from `concurrency` tasks for `duration` (closed loop), `batch` changes per
/// request; returns how many changes were accepted.
async fn publish_closed(
    api: &Arc<Api>,
    clock: &Arc<Clock>,
    customer: &str,
    concurrency: usize,
    duration: Duration,
    batch: usize,
) -> u64 {
    publish_closed_about(api, clock, customer, concurrency, duration, batch, None).await
}

/// [`publish_closed`], every change about one of `entities` entities (in turn) when given, else each about its own.
async fn publish_closed_about(
    api: &Arc<Api>,
    clock: &Arc<Clock>,
    customer: &str,
    concurrency: usize,
    duration: Duration,
    batch: usize,
    entities: Option<u64>,
) -> u64 {
    let one = move |customer: &str, seq: u64| match entities {
        Some(n) => entity_change_json(customer, seq, seq % n),
        None => change_json(customer, seq),
    };
    let sent = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (api, clock, sent, customer) = (api.clone(), clock.clone(), sent.clone(), customer.to_string());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let body = changes_body_of(&clock, &customer, batch, one);
                let ok = api.publish(body).await.map(|r| r.status().as_u16() == 202).unwrap_or(false);
                if ok {
                    sent.fetch_add(batch.max(1), Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    sent.load(Ordering::Relaxed) as u64
}

/// Publishes through `PUT /entities` from `concurrency` tasks for `duration` (closed loop): each task puts the
/// record of an entity of its own (created by [`create_entities`]), old and new in turns, so that each request is
/// one modification, as in [`publish_closed`]. Returns how many were accepted.
async fn publish_puts(
    api: &Arc<Api>,
    clock: &Arc<Clock>,
    customer: &str,
    concurrency: usize,
    duration: Duration,
) -> u64 {
    let sent = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for task in 0..concurrency {
        let (api, clock, sent) = (api.clone(), clock.clone(), sent.clone());
        let url = format!("{}/entities/{customer}/contacts/p{task}", api.base);
        tasks.push(tokio::spawn(async move {
            let mut changed = true;
            while Instant::now() < deadline {
                let ok = api
                    .http
                    .put(&url)
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/json")
                    .body(record_json(clock.take(), changed))
                    .send()
                    .await
                    .map(|r| r.status().as_u16() == 202)
                    .unwrap_or(false);
                if ok {
                    sent.fetch_add(1, Ordering::Relaxed);
                    changed = !changed;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    sent.load(Ordering::Relaxed) as u64
}

/// Creates the entities [`publish_puts`] puts (their creation goes to no webhook).
async fn create_entities(api: &Api, clock: &Clock, customer: &str, count: usize) -> anyhow::Result<()> {
    for task in 0..count {
        let url = format!("{}/entities/{customer}/contacts/p{task}", api.base);
        let resp = api.http.put(url).bearer_auth(TOKEN).body(record_json(clock.take(), false)).send().await?;
        anyhow::ensure!(resp.status().as_u16() == 202, "PUT /entities answered {}", resp.status());
    }
    Ok(())
}

/// How one request of the open-loop publisher ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Herald answered with this status (`retry_after`: the answer had a `Retry-After` header).
    Answered { status: u16, retry_after: bool },
    /// The connection failed, or the request or answer could not be written or read.
    Transport,
    /// No answer by the publisher's deadline (the phase's end plus its grace).
    Unanswered,
    /// Not sent: the bench already had [`in_flight_cap`] requests in flight (so that it keeps file descriptors for
    /// its receiver).
    NotSent,
}

/// One request of the open-loop publisher: how it ended and, when answered, after how long (sent → status).
#[derive(Debug, Clone, Copy)]
struct Sent {
    outcome: Outcome,
    latency: Duration,
}

/// What the open-loop publisher sent and how each request was answered.
struct OpenLoop {
    sent: Vec<Sent>,
    /// How long requests were issued for.
    secs: f64,
}

impl OpenLoop {
    fn count(&self, pred: impl Fn(Outcome) -> bool) -> usize {
        self.sent.iter().filter(|s| pred(s.outcome)).count()
    }

    fn accepted(&self) -> u64 {
        self.count(|o| matches!(o, Outcome::Answered { status: 202, .. })) as u64
    }

    /// Sent → status, sorted, of every answered request (whatever its status).
    fn answer_latencies(&self) -> Vec<Duration> {
        let mut v: Vec<Duration> =
            self.sent.iter().filter(|s| matches!(s.outcome, Outcome::Answered { .. })).map(|s| s.latency).collect();
        v.sort();
        v
    }
}

/// Requests the open-loop publisher keeps in flight at most: the open-file limit less what the receiver, Herald's
/// connections to it and the rest of the bench need. Beyond it a request is counted as [`Outcome::NotSent`].
fn in_flight_cap() -> usize {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given, which lives on this stack frame.
    let files =
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 { lim.rlim_cur as usize } else { 1024 };
    files.saturating_sub(4096).max(256)
}

/// Publishes one change per request at a fixed rate (open loop: a request is sent when due, whether or not earlier
/// ones were answered) for `duration`, and records how each was answered. With `grace`, a request not answered
/// `grace` after the end of `duration` is given up (counted as unanswered); without, every one is waited for.
async fn publish_open(
    api: &Arc<Api>,
    clock: &Arc<Clock>,
    customer: &str,
    rate: f64,
    duration: Duration,
    grace: Option<Duration>,
) -> OpenLoop {
    let start = Instant::now();
    let give_up = grace.map(|g| tokio::time::Instant::from_std(start + duration + g));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let cap = in_flight_cap();
    let mut issued = 0u64;
    let mut sent = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut tasks = tokio::task::JoinSet::new();
    while start.elapsed() < duration {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while issued < due {
            issued += 1;
            if in_flight.load(Ordering::Relaxed) >= cap {
                sent.push(Sent { outcome: Outcome::NotSent, latency: Duration::ZERO });
                continue;
            }
            in_flight.fetch_add(1, Ordering::Relaxed);
            let (api, clock, in_flight, customer) =
                (api.clone(), clock.clone(), in_flight.clone(), customer.to_string());
            tasks.spawn(async move {
                let seq = clock.take();
                let started = Instant::now();
                let request = async {
                    let resp = api.publish(change_json(&customer, seq)).await;
                    let latency = started.elapsed();
                    match resp {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            if status == 202 {
                                clock.accepted(seq);
                            }
                            let retry_after = resp.headers().contains_key(reqwest::header::RETRY_AFTER);
                            // Read to the end, so that the connection can carry the next request.
                            let _ = resp.bytes().await;
                            Sent { outcome: Outcome::Answered { status, retry_after }, latency }
                        }
                        Err(_) => Sent { outcome: Outcome::Transport, latency },
                    }
                };
                let result = match give_up {
                    Some(at) => tokio::time::timeout_at(at, request)
                        .await
                        .unwrap_or(Sent { outcome: Outcome::Unanswered, latency: started.elapsed() }),
                    None => request.await,
                };
                in_flight.fetch_sub(1, Ordering::Relaxed);
                result
            });
        }
        // Collect what has finished, so that finished tasks do not pile up.
        while let Some(done) = tasks.try_join_next() {
            sent.push(done.unwrap_or(Sent { outcome: Outcome::Transport, latency: Duration::ZERO }));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    while let Some(done) = tasks.join_next().await {
        sent.push(done.unwrap_or(Sent { outcome: Outcome::Transport, latency: Duration::ZERO }));
    }
    OpenLoop { sent, secs }
}

/// Publishes at a fixed rate (open loop) for `duration`; returns how many were accepted.
async fn publish_rate(api: &Arc<Api>, clock: &Arc<Clock>, customer: &str, rate: f64, duration: Duration) -> u64 {
    publish_open(api, clock, customer, rate, duration, None).await.accepted()
}

/// Waits until the receiver has `expected` deliveries, or no progress for `stall`.
async fn drain(receiver: &Receiver, expected: usize, stall: Duration) -> bool {
    let mut last = (receiver.state.ok_count(), Instant::now());
    loop {
        let n = receiver.state.ok_count();
        if n >= expected {
            return true;
        }
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > stall {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Measured {
    /// From sending `POST /changes` to its 202, where recorded (open-loop phases).
    accept_latencies: Vec<Duration>,
    changes: u64,
    deliveries: usize,
    publish_secs: f64,
    delivery_secs: f64,
    latencies: Vec<Duration>,
    cores: f64,
    /// Herald's CPU time over the phase (publishing and draining), in seconds.
    cpu_secs: f64,
    /// The part of it SQLite's connection threads used (zero on PostgreSQL), in seconds.
    sqlite_cpu_secs: f64,
    /// Requests the receiver got in the phase, whatever it answered (`/ok`, `/spare`, `/busy`, `/fail`).
    received: usize,
    peak_rss: u64,
}

async fn measure<F, Fut>(receiver: &Receiver, clock: &Clock, pid: u32, fanout: usize, publish: F) -> Measured
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    measure_expecting(receiver, clock, pid, fanout as f64, publish).await
}

/// As `measure`, when each change makes `per_change` deliveries on average (filters); waits for no more than that.
async fn measure_expecting<F, Fut>(
    receiver: &Receiver,
    clock: &Clock,
    pid: u32,
    per_change: f64,
    publish: F,
) -> Measured
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    receiver.state.reset();
    let (cpu0, sqlite_cpu0) = (cpu_time(pid), sqlite_cpu_time(pid));
    let memory = RssPeak::start(pid);
    let t0 = clock.now_ns();
    let first_seq = clock.next.load(Ordering::Relaxed);
    let started = Instant::now();
    let changes = publish().await;
    let publish_secs = started.elapsed().as_secs_f64();
    let expected = (changes as f64 * per_change).floor() as usize;
    if !drain(receiver, expected, Duration::from_secs(20)).await {
        progress(&format!("  only {} of {expected} deliveries arrived", receiver.state.ok_count()));
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_time(pid).saturating_sub(cpu0).as_secs_f64();
    let sqlite_cpu = sqlite_cpu_time(pid).saturating_sub(sqlite_cpu0).as_secs_f64();
    let received = receiver.state.received();
    let receipts = receiver.state.take_receipts();
    let last = receipts.iter().map(|r| r.1).max().unwrap_or(t0);
    let last_seq = clock.next.load(Ordering::Relaxed);
    let latencies = delivery_latencies(clock, &receipts, first_seq..last_seq);
    let accept_latencies = accept_latencies(clock, first_seq..last_seq);
    Measured {
        accept_latencies,
        changes,
        deliveries: receipts.len(),
        publish_secs,
        delivery_secs: (last.saturating_sub(t0)) as f64 / 1e9,
        latencies,
        cores: cpu / wall.max(1e-9),
        cpu_secs: cpu,
        sqlite_cpu_secs: sqlite_cpu,
        received,
        peak_rss: memory.stop(pid),
    }
}

/// Sent → receipt, sorted, of the receipts of changes with sequence numbers in `seqs`.
fn delivery_latencies(clock: &Clock, receipts: &[(u64, u64)], seqs: std::ops::Range<u64>) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = receipts
        .iter()
        .filter(|(seq, _)| seqs.contains(seq))
        .filter_map(|(seq, at)| {
            let sent = clock.sent.get(*seq as usize)?.load(Ordering::Relaxed);
            Some(Duration::from_nanos(at.saturating_sub(sent)))
        })
        .collect();
    latencies.sort();
    latencies
}

/// `POST /changes` sent → 202, sorted, of the single-change requests with sequence numbers in `seqs` that were
/// answered 202 (recorded by the open-loop publisher).
fn accept_latencies(clock: &Clock, seqs: std::ops::Range<u64>) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = seqs
        .filter_map(|seq| {
            let sent = clock.sent.get(seq as usize)?.load(Ordering::Relaxed);
            let accepted = clock.accepted.get(seq as usize)?.load(Ordering::Relaxed);
            (accepted > 0).then(|| Duration::from_nanos(accepted.saturating_sub(sent)))
        })
        .collect();
    latencies.sort();
    latencies
}

/// Herald's CPU time per request the receiver got, in µs (`None` when it got none).
fn cpu_per_delivery(cpu_secs: f64, deliveries: usize) -> Option<f64> {
    (deliveries > 0).then(|| cpu_secs * 1e6 / deliveries as f64)
}

/// The loopback limit: Herald's own HTTP client posting a delivery-sized body to the receiver, closed loop. Returns
/// the rate and this process's CPU time per exchange, in µs: both ends of one `POST` (client, server and the
/// kernel between them), since the receiver runs here too.
async fn loopback_limit(receiver: &Receiver, concurrency: usize, phase: Duration) -> anyhow::Result<(f64, f64)> {
    let sender = HttpSender::new(Duration::from_secs(10), true, true)?;
    let body = delivery_sized_body();
    receiver.state.reset();
    let deadline = Instant::now() + phase;
    let cpu_before = cpu_time(std::process::id());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (sender, body, url) = (sender.clone(), body.clone(), Endpoint::new(receiver.url("/ok")));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                sender.send(&url, HeaderMap::new(), body.clone()).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let posts = receiver.state.ok_count();
    let rate = posts as f64 / started.elapsed().as_secs_f64();
    let cpu = cpu_time(std::process::id()).saturating_sub(cpu_before);
    receiver.state.reset();
    Ok((rate, cpu_per_delivery(cpu.as_secs_f64(), posts).unwrap_or(0.0)))
}

/// The time to sign one attempt of the bench's delivery payload as the engine does: the three signature
/// headers of contract §7.1 (one webhook secret), work that no attempt can skip.
fn signing_cost() -> Duration {
    let target = herald_delivery::Target {
        url: "".into(),
        secrets: vec![herald_domain::signature::WebhookSecret::from_random([7; 24])],
        client_id: "bench".into(),
        signing_key: Arc::new(herald_domain::signature::AppSigningKey::from_seed([9; 32])),
    };
    let body = delivery_sized_body();
    let delivery = herald_domain::DeliveryId(uuid::Uuid::now_v7());
    // The best of several rounds: a floor, which other work on the machine can only make look higher.
    const ROUNDS: u32 = 10;
    const N: u32 = 200;
    (0..ROUNDS)
        .map(|round| {
            let started = Instant::now();
            for i in 0..N {
                let at = 1_700_000_000 + i64::from(round * N + i);
                std::hint::black_box(herald_delivery::signed_headers(&target, delivery, at, &body));
            }
            started.elapsed() / N
        })
        .min()
        .unwrap_or_default()
}

/// The time Herald's own rules take for one change of the bench's kind (the seed's contact, 1.4 KB), from the request's
/// bytes to the payload's: parse and validate as `POST /changes` does, derive its topics, diff it and render the
/// payload of each event. Per change, whatever the fan-out; the best of several rounds, as for signing.
fn change_cost() -> anyhow::Result<Duration> {
    use herald_domain::payload::{event_diff, EventBody};
    let body = change_json("RPT", 1).into_bytes();
    let one = || -> Option<usize> {
        let herald_service::ChangesIn::One(c) = herald_service::input::from_json(&body).ok()? else { return None };
        let change = herald_domain::Change::parse(&c.customer_id, &c.entity_type, &c.entity_id, c.old, c.new).ok()?;
        let mut bytes = 0;
        for topic in herald_domain::rules::derive_topics(&change) {
            let diff = event_diff(topic, change.old.as_ref(), change.new.as_ref());
            let tail = EventBody {
                event_id: "01a22823-43ef-70e6-b314-cc5958b07c77",
                entity_id: Some(&change.entity_id),
                customer_id: &change.customer_id,
                event_time: "2026-11-29T16:28:49.5190667Z",
                topic_id: topic.id,
                new: change.new.as_ref(),
                old: change.old.as_ref(),
                diff: diff.as_ref(),
            }
            .render_tail();
            bytes += tail.len();
        }
        Some(bytes)
    };
    anyhow::ensure!(one().is_some_and(|bytes| bytes > body.len()), "the bench's change did not make a payload");
    const ROUNDS: u32 = 10;
    const N: u32 = 500;
    Ok((0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..N {
                std::hint::black_box(one());
            }
            started.elapsed() / N
        })
        .min()
        .unwrap_or_default())
}

struct Table {
    figures: Vec<Figure>,
    limit: f64,
}

impl Table {
    fn rate(&mut self, scenario: &str, metric: &str, value: f64) {
        let ratio = if self.limit > 0.0 { Some(value / self.limit) } else { None };
        self.figures.push(Figure { scenario: scenario.into(), metric: metric.into(), value, unit: "/s".into(), ratio });
    }
    fn value(&mut self, scenario: &str, metric: &str, value: f64, unit: &str) {
        self.figures.push(Figure {
            scenario: scenario.into(),
            metric: metric.into(),
            value,
            unit: unit.into(),
            ratio: None,
        });
    }
    fn ms(&mut self, scenario: &str, metric: &str, d: Duration) {
        self.value(scenario, metric, d.as_secs_f64() * 1000.0, "ms");
    }
    fn measured(&mut self, scenario: &str, m: &Measured) {
        self.rate(scenario, "changes accepted", m.changes as f64 / m.publish_secs.max(1e-9));
        self.rate(scenario, "deliveries", m.deliveries as f64 / m.delivery_secs.max(1e-9));
        self.ms(scenario, "latency p50", percentile(&m.latencies, 50.0));
        self.ms(scenario, "latency p99", percentile(&m.latencies, 99.0));
        self.ms(scenario, "latency max", percentile(&m.latencies, 100.0));
        if !m.accept_latencies.is_empty() {
            self.ms(scenario, "202 latency p50", percentile(&m.accept_latencies, 50.0));
            self.ms(scenario, "202 latency p99", percentile(&m.accept_latencies, 99.0));
        }
        self.value(scenario, "herald CPU", m.cores, "cores");
        if let Some(us) = cpu_per_delivery(m.cpu_secs, m.received) {
            self.value(scenario, "herald CPU per delivery", us, "µs");
        }
        // Where the CPU goes, coarsely: SQLite's threads (its writer above all) against the rest (the runtime's).
        if let Some(us) = cpu_per_delivery(m.sqlite_cpu_secs, m.received).filter(|_| m.sqlite_cpu_secs > 0.0) {
            self.value(scenario, "  of which SQLite threads", us, "µs");
        }
        self.value(scenario, "herald peak RSS", m.peak_rss as f64 / 1e6, "MB");
    }
    fn print(&self) {
        println!();
        println!("{:<28} {:<28} {:>14} {:<6} {:>9}", "scenario", "metric", "value", "unit", "÷ limit");
        println!("{}", "-".repeat(90));
        for f in &self.figures {
            let ratio = f.ratio.map(|r| format!("{:.1} %", r * 100.0)).unwrap_or_default();
            println!("{:<28} {:<28} {:>14.2} {:<6} {:>9}", f.scenario, f.metric, f.value, f.unit, ratio);
        }
    }
}

/// Runs every scenario and prints the table; returns the figures.
pub async fn run(opts: BenchOptions) -> anyhow::Result<Vec<Figure>> {
    let start = Instant::now();
    let clock = Arc::new(Clock::new(start, MAX_SEQ));
    let receiver = Receiver::start(start).await?;
    let phase = opts.phase();
    progress(&format!("loopback limit: {} connections for {phase:?}", opts.concurrency));
    let (limit, exchange) = loopback_limit(&receiver, opts.concurrency, phase).await?;
    let mut table = Table { figures: Vec::new(), limit };
    table.value("loopback limit", "POSTs", limit, "/s");
    // What every delivery costs at least, whoever sends it: the floor under "herald CPU per delivery".
    table.value("loopback limit", "CPU per POST (both ends)", exchange, "µs");
    table.value("loopback limit", "signing one attempt", signing_cost().as_secs_f64() * 1e6, "µs");
    table.value("loopback limit", "reading one change", change_cost()?.as_secs_f64() * 1e6, "µs");

    if !opts.backlog_only {
        main_scenarios(&opts, &receiver, &clock, &mut table).await?;
    }
    if !opts.skip_backlog {
        backlog(&opts, &receiver, &clock, &mut table).await?;
    }

    table.print();
    if let Some(path) = &opts.json {
        let doc = json!({ "loopbackLimit": limit, "quick": opts.quick, "database": if opts.database_url.is_some() { "postgres" } else { "sqlite" }, "figures": table.figures });
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        progress(&format!("figures written to {}", path.display()));
    }
    Ok(table.figures)
}

/// The scenarios that share one Herald process: everything but the backlog.
async fn main_scenarios(
    opts: &BenchOptions,
    receiver: &Receiver,
    clock: &Arc<Clock>,
    table: &mut Table,
) -> anyhow::Result<()> {
    let phase = opts.phase();
    // The broker scenario's queue exists before Herald starts consuming it.
    let queue = match &opts.amqp_url {
        None => None,
        Some(url) => match BenchQueue::declare(url).await {
            Ok(queue) => Some((queue, url)),
            Err(why) => {
                progress(&format!("RabbitMQ at {url} unreachable ({why}): the broker scenario is skipped"));
                None
            }
        },
    };
    let sources: Vec<String> = queue.iter().map(|(q, url)| q.source_url(url)).collect();
    let dir = tempfile::tempdir()?;
    let (main_opts, database) = super::database::fresh(opts).await?;
    let herald = HeraldChild::start(&main_opts, dir.path(), true, &sources).await?;
    let pid = herald.pid();
    let http = reqwest::Client::builder().pool_max_idle_per_host(1024).build()?;
    let api = Arc::new(Api { http, base: herald.base.clone() });
    let ok = receiver.url("/ok");

    progress("one webhook, closed loop, one change per request");
    api.setup("S1", std::slice::from_ref(&ok)).await?;
    let m = measure(receiver, clock, pid, 1, || publish_closed(&api, clock, "S1", opts.concurrency, phase, 1)).await;
    table.measured("1 webhook (max, 1/req)", &m);
    let unordered = m.deliveries as f64 / m.delivery_secs.max(1e-9);
    let changes_rate = m.changes as f64 / m.publish_secs.max(1e-9);
    let all = !opts.throughput_only;
    if all {
        ordered(opts, &api, receiver, clock, pid, unordered, table).await?;
        progress("one webhook, closed loop, one record per PUT /entities");
        api.setup("E1", std::slice::from_ref(&ok)).await?;
        create_entities(&api, clock, "E1", opts.concurrency).await?;
        let m = measure(receiver, clock, pid, 1, || publish_puts(&api, clock, "E1", opts.concurrency, phase)).await;
        table.measured("1 webhook (PUT /entities)", &m);
        let puts_rate = m.changes as f64 / m.publish_secs.max(1e-9);
        table.value("1 webhook (PUT /entities)", "÷ POST /changes", 100.0 * puts_rate / changes_rate.max(1e-9), "%");
    }

    // Batches cost the publisher (and Herald's HTTP front) less per change, so that delivery is what is measured.
    let batch = opts.batch;
    let conc = (opts.concurrency / 8).max(1);
    progress(&format!("one webhook, closed loop, {batch} changes per request, {conc} requests in flight"));
    let m = measure(receiver, clock, pid, 1, || publish_closed(&api, clock, "S1", conc, phase, batch)).await;
    table.measured(&format!("1 webhook (max, {batch}/req)"), &m);
    let max_rate = m.deliveries as f64 / m.delivery_secs.max(1e-9);
    let batched_accepted = m.changes as f64 / m.publish_secs.max(1e-9);

    let half = (max_rate / 2.0).max(10.0);
    if all {
        progress(&format!("one webhook at half that rate ({half:.0}/s)"));
        let m = measure(receiver, clock, pid, 1, || publish_rate(&api, clock, "S1", half, phase)).await;
        table.measured("1 webhook (half rate)", &m);
        overload(&api, receiver, clock, pid, opts, changes_rate, table).await?;
    }

    for fanout in [10usize, 100] {
        progress(&format!("fan-out to {fanout}"));
        let customer = format!("F{fanout}");
        api.setup(&customer, &vec![ok.clone(); fanout]).await?;
        let conc = (opts.concurrency / fanout).max(2);
        let m = measure(receiver, clock, pid, fanout, || publish_closed(&api, clock, &customer, conc, phase, 1)).await;
        table.measured(&format!("fan-out {fanout}"), &m);
        if fanout == 100 && all {
            filtered_fanout(&api, receiver, clock, pid, conc, phase, &m, table).await?;
        }
    }

    if all {
        // Half of ten webhooks dead: the healthy half's latency against the all-healthy run, at the same rate: ten
        // webhooks at a tenth of the half rate, so that the all-healthy run delivers at half the maximum.
        let rate = (half / 10.0).max(10.0);
        progress(&format!("10 healthy webhooks at {rate:.0} changes/s"));
        api.setup("H10", &vec![ok.clone(); 10]).await?;
        let healthy = measure(receiver, clock, pid, 10, || publish_rate(&api, clock, "H10", rate, phase)).await;
        table.measured("10 healthy", &healthy);
        for dead in ["/fail", "/hang"] {
            progress(&format!("5 healthy + 5 answering {dead} at {rate:.0} changes/s"));
            let customer = format!("D{}", &dead[1..]);
            let mut urls = vec![ok.clone(); 5];
            urls.extend(std::iter::repeat_n(receiver.url(dead), 5));
            api.setup(&customer, &urls).await?;
            let m = measure(receiver, clock, pid, 5, || publish_rate(&api, clock, &customer, rate, phase)).await;
            let name = format!("5 healthy + 5 {}", if dead == "/fail" { "500" } else { "hanging" });
            table.measured(&name, &m);
            let ratio = percentile(&m.latencies, 99.0).as_secs_f64()
                / percentile(&healthy.latencies, 99.0).as_secs_f64().max(1e-9);
            table.value(&name, "healthy p99 ÷ all-healthy", ratio, "×");
        }
        saturated_dead_half(&api, receiver, clock, pid, opts, table).await?;
    }
    // Last, so that what it leaves undelivered cannot slow the scenarios above.
    if let Some((queue, _)) = &queue {
        progress(&format!("one webhook, changes from RabbitMQ, {batch} changes per message"));
        let m = measure(receiver, clock, pid, 1, || async {
            let messages = match queue.publish_for(phase, 256, || changes_body(clock, "S1", batch)).await {
                Ok(n) => n,
                Err(e) => {
                    progress(&format!("  publishing to RabbitMQ failed: {e}"));
                    0
                }
            };
            if !wait_acknowledged(&api.http, &api.base, messages, Duration::from_secs(20)).await {
                progress("  Herald did not acknowledge every message");
            }
            messages * batch as u64
        })
        .await;
        let scenario = format!("1 webhook (RabbitMQ, {batch}/msg)");
        table.measured(&scenario, &m);
        let ingested = m.changes as f64 / m.publish_secs.max(1e-9);
        table.value(&scenario, "÷ POST batched", ingested / batched_accepted.max(1e-9) * 100.0, "%");
    }
    herald.stop();
    if let Some((queue, _)) = queue {
        queue.delete().await;
    }
    if let Some(database) = database {
        database.remove().await;
    }

    Ok(())
}

/// Half of ten webhooks dead, at saturation (contract §9.3): the healthy half's delivery rate when the other half
/// answers `500` or never answers, against the same five webhooks' rate when the other half is healthy too (the
/// control, in the same run). Closed loop with batches, so that delivery, not accepting, is the bottleneck.
async fn saturated_dead_half(
    api: &Arc<Api>,
    receiver: &Receiver,
    clock: &Arc<Clock>,
    pid: u32,
    opts: &BenchOptions,
    table: &mut Table,
) -> anyhow::Result<()> {
    let phase = opts.phase();
    let (batch, conc) = (opts.batch, (opts.concurrency / 8).max(1));
    let mut control = None;
    for other in ["/spare", "/fail", "/hang"] {
        let name = match other {
            "/spare" => "10 healthy (max)",
            "/fail" => "5 healthy + 5 500 (max)",
            _ => "5 healthy + 5 hanging (max)",
        };
        progress(&format!("{name}: closed loop, {batch} changes per request, {conc} requests in flight"));
        let customer = format!("M{}", &other[1..]);
        let mut urls = vec![receiver.url("/ok"); 5];
        urls.extend(std::iter::repeat_n(receiver.url(other), 5));
        api.setup(&customer, &urls).await?;
        let m = measure(receiver, clock, pid, 5, || publish_closed(api, clock, &customer, conc, phase, batch)).await;
        table.measured(name, &m);
        // The healthy half's deliveries per second (only `/ok` is counted; `/spare` is the control's other half).
        let rate = m.deliveries as f64 / m.delivery_secs.max(1e-9);
        match control {
            None => control = Some(rate),
            Some(c) => table.value(name, "healthy rate ÷ control", rate / c.max(1e-9), "×"),
        }
    }
    Ok(())
}

/// How long after an open-loop phase of the overload scenario its requests may still be answered; later, they count
/// as not answered.
const OVERLOAD_GRACE: Duration = Duration::from_secs(5);

/// One webhook, open loop, one change per request, at 150 % of the closed-loop one-change-per-request maximum
/// (`max`, changes accepted per second earlier in the run) for one phase, then at half of it for one phase: how
/// Herald answers when it is offered more than it can take (`202`, or `503` with `Retry-After` once it sheds load),
/// how fast it answers, whether it keeps delivering at its maximum meanwhile, its memory, and whether latency comes
/// back once the load falls.
async fn overload(
    api: &Arc<Api>,
    receiver: &Receiver,
    clock: &Arc<Clock>,
    pid: u32,
    opts: &BenchOptions,
    max: f64,
    table: &mut Table,
) -> anyhow::Result<()> {
    let phase = opts.phase();
    api.setup("V1", &[receiver.url("/ok")]).await?;
    // Herald's peak RSS over both phases.
    let memory = RssPeak::start(pid);

    let over = (max * 1.5).max(10.0);
    let name = "1 webhook overload 150 %";
    progress(&format!("one webhook, open loop at 150 % of the closed-loop maximum ({over:.0} changes/s)"));
    receiver.state.reset();
    let cpu0 = cpu_time(pid);
    // Deliveries and CPU are read when the phase ends; the publisher then waits up to the grace for answers.
    let (run, (cpu, delivered)) =
        tokio::join!(publish_open(api, clock, "V1", over, phase, Some(OVERLOAD_GRACE)), async {
            tokio::time::sleep(phase).await;
            (cpu_time(pid).saturating_sub(cpu0).as_secs_f64(), receiver.state.ok_count())
        });
    table.value(name, "offered", over, "/s");
    answer_figures(table, name, &run);
    let rate = delivered as f64 / phase.as_secs_f64();
    table.rate(name, "deliveries", rate);
    table.value(name, "deliveries ÷ closed-loop max", rate / max.max(1e-9), "×");
    if let Some(us) = cpu_per_delivery(cpu, delivered) {
        table.value(name, "herald CPU per delivery", us, "µs");
    }

    let half = (max / 2.0).max(10.0);
    let name = "1 webhook overload, 50 %";
    progress(&format!("  then at half the closed-loop maximum ({half:.0} changes/s)"));
    let (cpu0, received0) = (cpu_time(pid), receiver.state.received());
    let first = clock.next.load(Ordering::Relaxed);
    let run = publish_open(api, clock, "V1", half, phase, Some(OVERLOAD_GRACE)).await;
    let seqs = first..clock.next.load(Ordering::Relaxed);
    // Wait for the deliveries of this phase's accepted changes (the overload phase's may still be arriving).
    let expected = run.accepted() as usize;
    let mut receipts: Vec<(u64, u64)> = Vec::new();
    let (mut arrived, mut last_progress) = (0usize, Instant::now());
    let give_up = Instant::now() + if opts.quick { Duration::from_secs(30) } else { Duration::from_secs(120) };
    while arrived < expected {
        let new = receiver.state.take_receipts();
        if !new.is_empty() {
            last_progress = Instant::now();
        }
        arrived += new.iter().filter(|(seq, _)| seqs.contains(seq)).count();
        receipts.extend(new);
        if last_progress.elapsed() > Duration::from_secs(20) || Instant::now() > give_up {
            progress(&format!("  only {arrived} of {expected} deliveries arrived"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu = cpu_time(pid).saturating_sub(cpu0).as_secs_f64();
    let received = receiver.state.received().saturating_sub(received0);
    receipts.extend(receiver.state.take_receipts());
    table.value(name, "offered", half, "/s");
    answer_figures(table, name, &run);
    let latencies = delivery_latencies(clock, &receipts, seqs.clone());
    table.ms(name, "latency p50", percentile(&latencies, 50.0));
    table.ms(name, "latency p99", percentile(&latencies, 99.0));
    table.ms(name, "202 latency p99", percentile(&accept_latencies(clock, seqs), 99.0));
    if let Some(us) = cpu_per_delivery(cpu, received) {
        table.value(name, "herald CPU per delivery", us, "µs");
    }
    table.value("1 webhook overload 150 %", "herald peak RSS", memory.stop(pid) as f64 / 1e6, "MB");
    Ok(())
}

/// How an open-loop phase's requests were answered: counts by answer, answer latency (sent → status, for every
/// answer), the share answered within a second (of all requests due), and the changes accepted per second.
fn answer_figures(table: &mut Table, scenario: &str, run: &OpenLoop) {
    let due = run.sent.len();
    let count = |pred: &dyn Fn(Outcome) -> bool| run.count(pred) as f64;
    table.value(scenario, "requests", due as f64, "");
    table.value(scenario, "answered 202", count(&|o| matches!(o, Outcome::Answered { status: 202, .. })), "");
    table.value(
        scenario,
        "503 with Retry-After",
        count(&|o| matches!(o, Outcome::Answered { status: 503, retry_after: true })),
        "",
    );
    table.value(
        scenario,
        "503 without Retry-After",
        count(&|o| matches!(o, Outcome::Answered { status: 503, retry_after: false })),
        "",
    );
    table.value(
        scenario,
        "other statuses",
        count(&|o| matches!(o, Outcome::Answered { status, .. } if status != 202 && status != 503)),
        "",
    );
    table.value(scenario, "transport errors", count(&|o| o == Outcome::Transport), "");
    table.value(scenario, "not answered (end + 5 s)", count(&|o| o == Outcome::Unanswered), "");
    let not_sent = count(&|o| o == Outcome::NotSent);
    if not_sent > 0.0 {
        table.value(scenario, "not sent (bench cap)", not_sent, "");
    }
    let latencies = run.answer_latencies();
    table.ms(scenario, "answer latency p50", percentile(&latencies, 50.0));
    table.ms(scenario, "answer latency p99", percentile(&latencies, 99.0));
    table.ms(scenario, "answer latency max", percentile(&latencies, 100.0));
    let within = latencies.iter().filter(|l| **l <= Duration::from_secs(1)).count();
    table.value(scenario, "answered within 1 s", 100.0 * within as f64 / due.max(1) as f64, "%");
    table.rate(scenario, "changes accepted", run.accepted() as f64 / run.secs.max(1e-9));
}

/// Entities of the ordered scenario: each change is about one of them, in turn.
const ORDERED_ENTITIES: u64 = 1_000;

/// One ordered webhook, [`ORDERED_ENTITIES`] entities, one change per request (contract §9.1): its delivery rate
/// against the unordered single webhook's, then again with many other entities waiting behind heads answered 429
/// (scheduled a minute later) on another ordered webhook, to show that waiting entities cost claims nothing.
async fn ordered(
    opts: &BenchOptions,
    api: &Arc<Api>,
    receiver: &Receiver,
    clock: &Arc<Clock>,
    pid: u32,
    unordered: f64,
    table: &mut Table,
) -> anyhow::Result<()> {
    let phase = opts.phase();
    let ok = receiver.url("/ok");
    api.setup_with("O1", std::slice::from_ref(&ok), json!({"ordered": true})).await?;
    let run = |label: String| async move {
        progress(&format!("one ordered webhook, {ORDERED_ENTITIES} entities, one change per request{label}"));
        measure(receiver, clock, pid, 1, || {
            publish_closed_about(api, clock, "O1", opts.concurrency, phase, 1, Some(ORDERED_ENTITIES))
        })
        .await
    };
    let m = run(String::new()).await;
    let name = format!("1 ordered webhook ({ORDERED_ENTITIES} entities)");
    table.measured(&name, &m);
    let rate = m.deliveries as f64 / m.delivery_secs.max(1e-9);
    table.value(&name, "rate ÷ unordered 1/req", rate / unordered.max(1e-9), "×");

    let sizes: &[u64] = if opts.quick { &[1_000, 10_000] } else { &[1_000, 100_000] };
    for &n in sizes {
        progress(&format!("  {n} entities waiting on another ordered webhook (heads answered 429)"));
        let customer = format!("W{n}");
        // 429 without Retry-After: retried a minute later, and no failure of the endpoint (a 500 would open its
        // circuit after five, and the heads would then be probed one at a time).
        let waiting = api.setup_with(&customer, &[receiver.url("/busy")], json!({"ordered": true})).await?;
        receiver.state.reset();
        let batch = 250u64;
        for first in (0..n).step_by(batch as usize) {
            // Two changes per entity: the first is the head, the second waits behind it.
            let changes: Vec<String> = (first..(first + batch).min(n))
                .flat_map(|e| [0, 1].map(|_| entity_change_json(&customer, clock.take(), e)))
                .collect();
            let body = format!(r#"{{"changes":[{}]}}"#, changes.join(","));
            let resp = api.publish(body).await?;
            anyhow::ensure!(resp.status().as_u16() == 202, "a batch answered {}", resp.status());
        }
        let deadline = Instant::now() + Duration::from_secs(600);
        while receiver.state.other.load(Ordering::Relaxed) < n as usize && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let m = run(format!(", {n} entities waiting")).await;
        let name = format!("1 ordered webhook, {n} entities waiting");
        table.measured(&name, &m);
        let with_waiting = m.deliveries as f64 / m.delivery_secs.max(1e-9);
        table.value(&name, "rate ÷ no entities waiting", with_waiting / rate.max(1e-9), "×");
        // Deleted (its open deliveries cancelled) so that its heads, due again a minute later, are not attempted
        // during the scenarios after this one: n retries at once took the CPU from whichever ran then.
        for id in waiting {
            api.delete(&format!("/webhooks/subscriptions/{id}")).await?;
        }
    }
    Ok(())
}

/// The payload filter of the filtered fan-out: the seed's mobile phone change (every change of the bench has it) of
/// entities whose id ends in an even digit, so half of the changes (`b0`, `b2`, …) match.
fn half_filter() -> Value {
    json!({"required": ["diff", "entityId"],
           "properties": {"diff": {"type": "object", "required": ["mobilePhone"]},
                          "entityId": {"type": "string", "pattern": "[02468]$"}}})
}

/// Fan-out to 100 webhooks that each filter out half of the changes, right after the same fan-out without filters:
/// changes accepted per second against that run, and the cost of one filter evaluation and of the payload parse
/// that filters need, measured in this process on the bench's own payload.
#[allow(clippy::too_many_arguments)]
async fn filtered_fanout(
    api: &Arc<Api>,
    receiver: &Receiver,
    clock: &Arc<Clock>,
    pid: u32,
    conc: usize,
    phase: Duration,
    unfiltered: &Measured,
    table: &mut Table,
) -> anyhow::Result<()> {
    progress("fan-out to 100 webhooks with filters that half of the changes match");
    let filter = half_filter();
    api.setup_with("G100", &vec![receiver.url("/ok"); 100], json!({ "filter": filter })).await?;
    // Half of the changes reach all 100: 50 deliveries per change (49.5 leaves room for an odd count).
    let m = measure_expecting(receiver, clock, pid, 49.5, || publish_closed(api, clock, "G100", conc, phase, 1)).await;
    let name = "fan-out 100, filtered ½";
    table.measured(name, &m);
    let rate = |m: &Measured| m.changes as f64 / m.publish_secs.max(1e-9);
    table.value(name, "accepted ÷ unfiltered", rate(&m) / rate(unfiltered).max(1e-9), "×");
    let (evaluation, parse) = filter_costs(&filter)?;
    table.value(name, "filter evaluation", evaluation.as_secs_f64() * 1e6, "µs");
    table.value(name, "payload parse (1/event)", parse.as_secs_f64() * 1e6, "µs");
    Ok(())
}

/// The mean time of one evaluation of `filter` against the bench's delivery payload (alternately matching and not),
/// and of one parse of that payload from its bytes, as routing does once per event that reaches a filtered webhook.
fn filter_costs(filter: &Value) -> anyhow::Result<(Duration, Duration)> {
    use herald_domain::filter::Filter;
    let schema = filter.as_object().context("a filter is an object")?;
    let compiled = Filter::compile(schema).map_err(|e| anyhow::anyhow!("the bench's filter: {e}"))?;
    let body = delivery_sized_body();
    let even: Value = serde_json::from_slice(&body)?;
    let mut odd = even.clone();
    odd["entityId"] = json!("b1");
    const N: u32 = 20_000;
    let started = Instant::now();
    let mut matched = 0u32;
    for i in 0..N {
        matched += u32::from(compiled.matches(if i % 2 == 0 { &even } else { &odd }));
    }
    let evaluation = started.elapsed() / N;
    anyhow::ensure!(matched == N / 2, "the bench's filter matched {matched} of {N}");
    let started = Instant::now();
    for _ in 0..N {
        std::hint::black_box(serde_json::from_slice::<Value>(std::hint::black_box(&body))?);
    }
    Ok((evaluation, started.elapsed() / N))
}

/// A backlog built while no worker runs, then drained: the drain rate and RSS as the backlog shrinks.
async fn backlog(
    opts: &BenchOptions,
    receiver: &Receiver,
    clock: &Arc<Clock>,
    table: &mut Table,
) -> anyhow::Result<()> {
    let n = opts.backlog;
    let dir = tempfile::tempdir()?;
    let (opts, database) = super::database::fresh(opts).await?;
    let opts = &opts;
    let herald = HeraldChild::start(opts, dir.path(), false, &[]).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let api = Arc::new(Api { http, base: herald.base.clone() });
    api.setup("B1", &[receiver.url("/ok")]).await?;
    progress(&format!("building a backlog of {n} deliveries (no worker running)"));
    let started = Instant::now();
    let batch = 500usize;
    let batches = n.div_ceil(batch);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (api, clock, next) = (api.clone(), clock.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    return Ok::<(), anyhow::Error>(());
                }
                let count = batch.min(n - b * batch);
                let changes: Vec<String> = (0..count).map(|_| change_json("B1", clock.take())).collect();
                let body = format!(r#"{{"changes":[{}]}}"#, changes.join(","));
                let resp = api.publish(body).await?;
                anyhow::ensure!(resp.status().as_u16() == 202, "batch answered {}", resp.status());
                if b % 200 == 0 {
                    progress(&format!("  {} of {n}", (b + 1) * batch));
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    table.rate("backlog build (batches)", "changes accepted", n as f64 / started.elapsed().as_secs_f64());
    herald.stop();

    progress("draining with the worker on");
    receiver.state.reset();
    let herald = HeraldChild::start(opts, dir.path(), true, &[]).await?;
    let pid = herald.pid();
    let (cpu0, sqlite_cpu0) = (cpu_time(pid), sqlite_cpu_time(pid));
    let marks: Vec<usize> = [n, n / 10, n / 100].into_iter().filter(|m| *m >= 100).collect();
    let started = Instant::now();
    let mut samples: Vec<(f64, usize, u64)> = Vec::new();
    let mut last_progress = Instant::now();
    loop {
        let done = receiver.state.ok_count();
        samples.push((started.elapsed().as_secs_f64(), n.saturating_sub(done), rss(pid).0));
        if done >= n || started.elapsed() > Duration::from_secs(1800) {
            break;
        }
        if last_progress.elapsed() > Duration::from_secs(5) {
            progress(&format!("  {} pending", n - done));
            last_progress = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total = started.elapsed().as_secs_f64();
    let cpu = cpu_time(pid).saturating_sub(cpu0).as_secs_f64();
    let sqlite_cpu = sqlite_cpu_time(pid).saturating_sub(sqlite_cpu0).as_secs_f64();
    table.rate("backlog drain", "deliveries (overall)", n as f64 / total);
    if let Some(us) = cpu_per_delivery(cpu, receiver.state.received()) {
        table.value("backlog drain", "herald CPU per delivery", us, "µs");
    }
    if let Some(us) = cpu_per_delivery(sqlite_cpu, receiver.state.received()).filter(|_| sqlite_cpu > 0.0) {
        table.value("backlog drain", "  of which SQLite threads", us, "µs");
    }
    for mark in marks {
        // the rate while pending fell from 110 % to 90 % of the mark (from the mark to 80 % at the top)
        let (hi, lo) = if mark == n { (n, n * 8 / 10) } else { (mark * 11 / 10, mark * 9 / 10) };
        let t_hi = samples.iter().find(|s| s.1 <= hi).map(|s| s.0);
        let t_lo = samples.iter().find(|s| s.1 <= lo).map(|s| s.0);
        let rss_at = samples.iter().find(|s| s.1 <= mark).map(|s| s.2).unwrap_or(0);
        if let (Some(a), Some(b)) = (t_hi, t_lo) {
            table.rate(&format!("drain at {mark} pending"), "deliveries", (hi - lo) as f64 / (b - a).max(0.05));
        }
        table.value(&format!("drain at {mark} pending"), "herald RSS", rss_at as f64 / 1e6, "MB");
    }
    table.value("backlog drain", "herald peak RSS", rss(pid).1 as f64 / 1e6, "MB");
    herald.stop();
    if let Some(database) = database {
        database.remove().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for Herald's `POST /changes` that answers its requests in turn `202`, `503` with `Retry-After`,
    /// `503` without, `500`, and never; returns its address and how many requests it got.
    async fn answering_in_turn() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        let app = axum::Router::new().route(
            "/changes",
            axum::routing::post(move || {
                let n = seen.fetch_add(1, Ordering::Relaxed);
                async move {
                    use axum::http::StatusCode;
                    use axum::response::IntoResponse;
                    match n % 5 {
                        0 => StatusCode::ACCEPTED.into_response(),
                        1 => (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], "{}").into_response(),
                        2 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                        3 => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                        _ => std::future::pending().await,
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, count)
    }

    #[tokio::test]
    async fn the_open_loop_publisher_records_how_each_request_was_answered() {
        let (base, count) = answering_in_turn().await;
        let api = Arc::new(Api { http: reqwest::Client::new(), base });
        let clock = Arc::new(Clock::new(Instant::now(), 10_000));
        let run =
            publish_open(&api, &clock, "C", 200.0, Duration::from_millis(500), Some(Duration::from_millis(500))).await;
        let got = count.load(Ordering::Relaxed);
        assert!(got >= 10, "only {got} requests were sent");
        assert_eq!(run.sent.len(), got, "every request due is sent and recorded once");
        let by = |o: Outcome| run.count(|x| x == o);
        let answered = |status, retry_after| by(Outcome::Answered { status, retry_after });
        // The server's turn for each request is the order it got them in, so count what each turn must give.
        let turn = |t: usize| (0..got).filter(|n| n % 5 == t).count();
        assert_eq!(answered(202, false), turn(0));
        assert_eq!(answered(503, true), turn(1));
        assert_eq!(answered(503, false), turn(2));
        assert_eq!(answered(500, false), turn(3));
        assert_eq!(by(Outcome::Unanswered), turn(4));
        assert_eq!(run.accepted() as usize, turn(0));
        assert_eq!(run.answer_latencies().len(), got - turn(4));
        // The accepted ones have their 202 time; no other does.
        let seqs = 0..clock.next.load(Ordering::Relaxed);
        assert_eq!(accept_latencies(&clock, seqs).len(), turn(0));
    }

    #[tokio::test]
    async fn connections_refused_are_transport_errors() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let api = Arc::new(Api { http: reqwest::Client::new(), base: format!("http://127.0.0.1:{port}") });
        let clock = Arc::new(Clock::new(Instant::now(), 1_000));
        let run =
            publish_open(&api, &clock, "C", 100.0, Duration::from_millis(200), Some(Duration::from_secs(5))).await;
        assert!(!run.sent.is_empty());
        assert_eq!(run.count(|o| o == Outcome::Transport), run.sent.len());
        assert_eq!(run.accepted(), 0);
    }

    #[test]
    fn cpu_per_delivery_is_in_microseconds() {
        assert_eq!(cpu_per_delivery(2.0, 1_000), Some(2_000.0));
        assert_eq!(cpu_per_delivery(1.0, 0), None);
    }
}
