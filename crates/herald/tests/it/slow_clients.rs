//! Slow and idle clients cannot hold Herald's HTTP server: header and body read timeouts, and a cap on connections
//! that idle ones cannot keep health checks away from (docs/CONFIG.md: `--header-read-timeout`,
//! `--body-read-timeout`, `--max-connections`).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Opts, TestApp, ADMIN};

async fn app(tune: fn(&mut herald_config::ServeArgs)) -> TestApp {
    TestApp::with(Opts { tune: Some(tune), ..Opts::default() }).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.running().addr).await.expect("connect")
}

/// Everything the server sends until it closes the connection (real I/O, bounded by `limit`).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> String {
    let mut got = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut got))
        .await
        .expect("the server closes the connection in time")
        .expect("read");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_client_that_stops_sending_its_headers_is_disconnected_after_the_header_read_timeout() {
    let app = app(|a| a.header_read_timeout = Some("1s".into())).await;
    let mut stream = connect(&app).await;
    stream.write_all(b"POST /changes HTTP/1.1\r\nHost: herald\r\nContent-Type: appl").await.unwrap();
    let started = Instant::now();
    read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "closed after {waited:?}, before the timeout");
}

#[tokio::test]
async fn a_body_that_stops_arriving_answers_408_with_the_error_body_after_the_body_read_timeout() {
    let app = app(|a| a.body_read_timeout = Some("1s".into())).await;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /changes HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\nConnection: close\r\n\r\n{{\"customerId\": "
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(started.elapsed() >= Duration::from_millis(900), "answered before the timeout: {answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON error body: {answer}"));
    assert_eq!(json["statusCode"], 408, "{json}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_an_idle_one_closes_and_health_checks_get_through() {
    let app = app(|a| {
        a.max_connections = Some("4".into());
        a.header_read_timeout = Some("1s".into());
    })
    .await;
    // Four idle connections take every slot; each is answered, so the server has surely accepted them.
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut s = connect(&app).await;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        idle.push(s);
    }
    // Twenty more idle ones, then a health check: it waits for a slot, and gets one once idle connections time out.
    let mut more = Vec::new();
    for _ in 0..20 {
        more.push(connect(&app).await);
    }
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        app.client.http.get(format!("{}/healthz", app.client.base)).send(),
    )
    .await
    .expect("the health check is answered while idle connections pile up")
    .expect("health check");
    assert!(r.status().is_success());
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "answered after {waited:?}: the cap of 4 did not hold");
    drop((idle, more));
}
