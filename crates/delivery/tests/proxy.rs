//! Proxies and the target guard: proxy environment variables are ignored (through them a private target's name
//! would reach the proxy unchecked), and an explicit `--delivery-proxy` gets only targets the guard let through.
//!
//! Its own test binary: the proxy variables it sets apply to this whole process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use herald_delivery::{AttemptOutcome, HttpSender};
use reqwest::header::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A stand-in proxy on loopback: records the first line of each request and answers `200` itself, so nothing
/// leaves the machine.
struct RecordingProxy {
    url: url::Url,
    lines: Arc<Mutex<Vec<String>>>,
}

impl RecordingProxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    seen.lock().unwrap().push(text.lines().next().unwrap_or_default().to_string());
                    let _ =
                        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                });
            }
        });
        Self { url, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

async fn send(sender: &HttpSender, url: &str) -> AttemptOutcome {
    sender.send(&url.into(), HeaderMap::new(), Bytes::from_static(b"{}")).await.outcome
}

#[tokio::test]
async fn proxy_variables_are_ignored_and_an_explicit_proxy_gets_only_what_the_guard_allows() {
    let env_proxy = RecordingProxy::start().await;
    for var in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        std::env::set_var(var, env_proxy.url.as_str());
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    // Direct sender: a name resolving to loopback is refused by the guard, and the environment's proxy sees nothing.
    let direct = HttpSender::new(Duration::from_secs(2), false, true).unwrap();
    match send(&direct, "http://localhost:9/hook").await {
        AttemptOutcome::Blocked { reason } => assert!(reason.contains("loopback"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(env_proxy.lines(), Vec::<String>::new(), "the environment's proxy was used");

    // Explicit proxy: the guard resolves the target first and refuses it; the proxy sees nothing.
    let proxy = RecordingProxy::start().await;
    let proxied = HttpSender::with_proxy(Duration::from_secs(2), false, true, Some(proxy.url.clone())).unwrap();
    match send(&proxied, "http://localhost:9/hook").await {
        AttemptOutcome::Blocked { reason } => assert!(reason.contains("localhost resolves to a loopback"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    match send(&proxied, "http://10.1.2.3/hook").await {
        AttemptOutcome::Blocked { reason } => assert!(reason.contains("private"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(proxy.lines(), Vec::<String>::new(), "a refused target reached the proxy");

    // A name that does not resolve now is a retried failure, not a refusal for good.
    match send(&proxied, "http://no-such-host.invalid/hook").await {
        AttemptOutcome::Connect { .. } | AttemptOutcome::Timeout => {}
        other => panic!("expected a retried failure, got {other:?}"),
    }

    // A public target goes through the explicit proxy (which answers itself).
    assert_eq!(send(&proxied, "http://93.184.216.34/hook").await, AttemptOutcome::Delivered { status: 200 });
    assert_eq!(proxy.lines(), vec!["POST http://93.184.216.34/hook HTTP/1.1".to_string()]);
    assert_eq!(env_proxy.lines(), Vec::<String>::new());
}
