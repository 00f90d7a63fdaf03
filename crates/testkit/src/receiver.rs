//! A receiver: an HTTP server on `127.0.0.1:0` recording every request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use tokio::sync::Notify;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Always this status.
    Status(u16),
    /// These statuses in turn, then the last one forever.
    Sequence(Vec<u16>),
    /// Waits this long, then answers 200.
    Delay(Duration),
    /// Never answers.
    Hang,
    /// Answers a redirect to this location.
    Redirect(String),
    /// Answers `500` to the first request of about `percent` % of deliveries (chosen by a hash of the
    /// `webhook-id`, so that a retry of the same delivery is answered `200`), `200` to everything else.
    FailFirstOf(u8),
    /// Never answers a request whose body contains this text; answers `200` to the others.
    HangIf(String),
    /// Answers the first `times` requests with `status` and this `Retry-After` header, then `200`.
    RetryAfter { status: u16, value: String, times: usize },
}

/// Whether a delivery is one of the `percent` % that [`Behaviour::FailFirstOf`] fails once.
fn chosen(webhook_id: &str, percent: u8) -> bool {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    webhook_id.hash(&mut h);
    h.finish() % 100 < u64::from(percent)
}

struct Shared {
    received: Mutex<Vec<Received>>,
    behaviour: Mutex<Behaviour>,
    notify: Notify,
    body: Mutex<String>,
    /// The `webhook-id`s seen so far.
    seen: Mutex<std::collections::HashSet<String>>,
}

/// A receiver running until dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(s): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let behaviour = s.behaviour.lock().unwrap().clone();
    let (n, first_of_delivery) = {
        let mut r = s.received.lock().unwrap();
        let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let first = s.seen.lock().unwrap().insert(id.clone());
        r.push(Received {
            path: uri.path().to_string(),
            headers: headers.clone(),
            body: body.clone(),
            at: Instant::now(),
        });
        (r.len(), first.then_some(id))
    };
    s.notify.notify_waiters();
    let text = s.body.lock().unwrap().clone();
    let status = |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match behaviour {
        Behaviour::Status(code) => (status(code), text).into_response(),
        Behaviour::Sequence(codes) => {
            let code = codes.get(n - 1).or(codes.last()).copied().unwrap_or(200);
            (status(code), text).into_response()
        }
        Behaviour::Delay(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, text).into_response()
        }
        Behaviour::Hang => {
            std::future::pending::<()>().await;
            StatusCode::OK.into_response()
        }
        Behaviour::Redirect(to) => (StatusCode::FOUND, [(axum::http::header::LOCATION, to)]).into_response(),
        Behaviour::FailFirstOf(percent) => match first_of_delivery {
            Some(id) if chosen(&id, percent) => (StatusCode::INTERNAL_SERVER_ERROR, text).into_response(),
            _ => (StatusCode::OK, text).into_response(),
        },
        Behaviour::RetryAfter { status: code, value, times } if n <= times => {
            (status(code), [(axum::http::header::RETRY_AFTER, value)], text).into_response()
        }
        Behaviour::RetryAfter { .. } => (StatusCode::OK, text).into_response(),
        Behaviour::HangIf(needle) => {
            if body.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                std::future::pending::<()>().await;
            }
            (StatusCode::OK, text).into_response()
        }
    }
}

impl Receiver {
    /// Starts a receiver answering `behaviour`.
    pub async fn start(behaviour: Behaviour) -> Receiver {
        Self::start_on("127.0.0.1:0", behaviour).await
    }

    /// Starts a receiver on a given address (to bring one back on the same port).
    pub async fn start_on(addr: &str, behaviour: Behaviour) -> Receiver {
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            behaviour: Mutex::new(behaviour),
            notify: Notify::new(),
            body: Mutex::new(String::new()),
            seen: Mutex::new(std::collections::HashSet::new()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT/hook`
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = b;
    }

    /// The body the receiver answers with.
    pub fn set_body(&self, text: &str) {
        *self.shared.body.lock().unwrap() = text.to_string();
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.received.lock().unwrap().len()
    }

    /// Waits until at least `n` requests arrived, or panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            if self.count() >= n {
                return self.received();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("expected {n} requests within {timeout:?}, got {}", self.count());
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), notified).await;
        }
    }

    /// Asserts that no more than `n` requests arrive during `window`.
    pub async fn expect_no_more_than(&self, n: usize, window: Duration) {
        tokio::time::sleep(window).await;
        assert!(self.count() <= n, "expected at most {n} requests, got {}", self.count());
    }
}
