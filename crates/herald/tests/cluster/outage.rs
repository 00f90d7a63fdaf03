//! PostgreSQL unavailable: at start (a clear error and a non-zero exit), and while Herald runs (`POST /changes`
//! answers 503 at once, workers back off, and everything accepted before and after the outage is delivered).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use herald_testkit::pg::{self, TestDatabase};
use herald_testkit::{Behaviour, Receiver};
use reqwest::StatusCode;

use crate::proxy::Proxy;
use crate::support::*;

#[test]
fn an_unreachable_database_at_start_stops_serve_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            ADMIN,
            "--database-url",
            "postgres://127.0.0.1:1/x",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("run herald");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "gave up after {:?}", started.elapsed());
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("herald: "), "{stderr}");
    assert!(lines[0].contains("postgres://127.0.0.1:1/x"), "names the database: {stderr}");
    assert!(lines[0].contains("PostgreSQL"), "says what failed: {stderr}");
    assert!(out.stdout.is_empty(), "nothing claims to run: {}", String::from_utf8_lossy(&out.stdout));
}

/// The server address of the admin URL, and the URL of `db` with that address replaced by `via`.
async fn through(db: &TestDatabase, via: SocketAddr) -> (SocketAddr, String) {
    let url = db.url();
    let scheme_end = url.find("://").expect("a URL") + 3;
    let path_start = url[scheme_end..].find('/').map_or(url.len(), |i| scheme_end + i);
    let host_start = url[scheme_end..path_start].rfind('@').map_or(scheme_end, |i| scheme_end + i + 1);
    let mut server = url[host_start..path_start].to_string();
    if !server.contains(':') {
        server.push_str(":5432");
    }
    let upstream = tokio::net::lookup_host(&server).await.expect("resolve").next().expect("an address");
    (upstream, format!("{}{via}{}", &url[..host_start], &url[path_start..]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_while_running_answers_503_and_loses_nothing_accepted() {
    if pg::skipped() {
        return;
    }
    let db = TestDatabase::create().await;
    let (upstream, _) = through(&db, "127.0.0.1:1".parse().unwrap()).await;
    let mut proxy = Proxy::start(upstream).await;
    let (_, url) = through(&db, proxy.addr).await;
    let node = Node::start(&url, &NodeOpts { retry_schedule: "300ms,300ms,300ms,300ms", ..NodeOpts::default() }).await;
    // Slow answers: when the database goes, attempts are in flight and more are claimed and queued behind them. They
    // are made during the outage (the targets are cached) and recorded after it.
    let receiver = Receiver::start(Behaviour::Delay(Duration::from_secs(1))).await;
    let (app, _) = app_installed(&node.client).await;
    webhook(&node.client, &app, &receiver.url(), &[TOPIC]).await;

    let mut accepted = HashSet::new();
    for i in 0..64 {
        let entity = format!("BEFORE{i:03}");
        assert_eq!(publish(&node.client, modified(&entity), TOPIC).await, 1);
        accepted.insert(entity);
    }
    receiver.wait_for(1, Duration::from_secs(10)).await;

    proxy.cut().await;
    let outage = Instant::now();
    let received_before_outage = receiver.count();
    // Three changes at once during the outage: each answered 503 with the JSON error body, within seconds.
    let mut answers = tokio::task::JoinSet::new();
    for i in 0..3 {
        let client = node.client.clone();
        answers.spawn(async move {
            let t = Instant::now();
            let (status, body) = client.post("/changes", ADMIN, modified(&format!("DURING{i}"))).await;
            (status, body, t.elapsed())
        });
    }
    let mut slowest = Duration::ZERO;
    while let Some(answer) = answers.join_next().await {
        let (status, body, took) = answer.expect("a request");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["statusCode"], 503, "{body}");
        assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
        assert!(body["errors"].is_array(), "{body}");
        slowest = slowest.max(took);
    }
    assert!(slowest < Duration::from_secs(6), "503 took {slowest:?}");
    let (status, _) = node.client.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "not ready without the database");
    let outage_lasted = outage.elapsed();
    let received_during_outage = receiver.count() - received_before_outage;
    proxy.restore().await;
    let restored = Instant::now();

    // Accepted at once after the restore: the pool reconnects.
    for i in 0..40 {
        let entity = format!("AFTER{i:03}");
        assert_eq!(publish(&node.client, modified(&entity), TOPIC).await, 1);
        accepted.insert(entity);
    }
    receiver.set_behaviour(Behaviour::Status(200));
    wait_until("everything accepted is delivered", Duration::from_secs(60), || {
        let got: HashSet<String> =
            receiver.received().iter().filter_map(|r| r.json()["entityId"].as_str().map(str::to_string)).collect();
        let missing = accepted.iter().filter(|e| !got.contains(*e)).count();
        async move { missing == 0 }
    })
    .await;
    let caught_up = restored.elapsed();
    wait_settled(node.store(), Duration::from_secs(30)).await;
    let received = receiver.received();
    let ids: HashSet<_> = received.iter().filter_map(|r| r.header("webhook-id")).collect();
    println!(
        "outage: {outage_lasted:?} down, slowest 503 in {slowest:?}, {received_during_outage} requests sent during the \
         outage; all {} accepted changes delivered {caught_up:?} after the restore; requests {}, distinct deliveries \
         {}, duplicates {}",
        accepted.len(),
        received.len(),
        ids.len(),
        received.len() - ids.len()
    );
    assert!(
        received.iter().all(|r| !r.json()["entityId"].as_str().unwrap_or("").starts_with("DURING")),
        "a change answered 503 was not accepted, so it is not delivered"
    );
    node.stop().await;
    drop(proxy);
}

#[tokio::test]
async fn on_postgresql_serve_without_an_encryption_key_stops_with_one_line() {
    if herald_testkit::pg::skipped() {
        return;
    }
    let db = herald_testkit::pg::TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-token", ADMIN, "--database-url", db.url()])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("run herald");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("--encryption-key"), "{stderr}");
    assert!(!dir.path().join("encryption-key").exists(), "no key is generated for a shared database");
}
