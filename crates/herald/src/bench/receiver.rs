//! The benchmark's receiver: hyper, HTTP/1.1, answers at once, records when each delivery arrived.
//!
//! Each change the load generator publishes carries its sequence number in `entityId` (`b<seq>`), or, where many
//! changes are about one entity (the ordered scenario, records put to `PUT /entities`), in `new.benchSeq`; the
//! receiver reads it back from the body to pair a receipt with the moment its change was sent.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// How the receiver answers a path: `/ok` 204, `/spare` 204 (counted apart), `/busy` 429 (no `Retry-After`), `/fail`
/// 500, `/hang` never.
pub struct Receiver {
    pub addr: SocketAddr,
    pub state: Arc<ReceiverState>,
}

pub struct ReceiverState {
    start: Instant,
    /// Receipts on `/ok`: (sequence, nanoseconds since start).
    receipts: Mutex<Vec<(u64, u64)>>,
    pub ok: AtomicUsize,
    pub other: AtomicUsize,
    /// Requests to `/spare`: answered `204` like `/ok` but counted apart (the webhooks of a control run that are not
    /// measured).
    pub spare: AtomicUsize,
    /// While down, every request is answered 503 (a backlog builds).
    pub down: AtomicBool,
    last_ns: AtomicU64,
}

impl ReceiverState {
    pub fn take_receipts(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut *self.receipts.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn ok_count(&self) -> usize {
        self.ok.load(Ordering::Relaxed)
    }

    /// Every request answered since the last reset, whatever the answer (`/hang` is never answered).
    pub fn received(&self) -> usize {
        self.ok_count() + self.other.load(Ordering::Relaxed) + self.spare.load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        self.take_receipts();
        self.ok.store(0, Ordering::Relaxed);
        self.other.store(0, Ordering::Relaxed);
        self.spare.store(0, Ordering::Relaxed);
    }

    /// Nanoseconds since the bench started.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    pub fn last_receipt(&self) -> Duration {
        Duration::from_nanos(self.last_ns.load(Ordering::Relaxed))
    }
}

/// The sequence number in `"entityId":"b<digits>"`, else the first `"benchSeq":<digits>` (the payload's `new`
/// comes before its `old`), if any.
pub fn sequence_of(body: &[u8]) -> Option<u64> {
    number_after(body, b"\"entityId\":\"b").or_else(|| number_after(body, b"\"benchSeq\":"))
}

fn number_after(body: &[u8], key: &[u8]) -> Option<u64> {
    let at = body.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&body[at..at + digits]).ok()?.parse().ok()
}

impl Receiver {
    pub async fn start(start: Instant) -> std::io::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ReceiverState {
            start,
            receipts: Mutex::new(Vec::with_capacity(1 << 20)),
            ok: AtomicUsize::new(0),
            other: AtomicUsize::new(0),
            spare: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            last_ns: AtomicU64::new(0),
        });
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of file descriptors (the open-loop publisher holds many): wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Ok(Receiver { addr, state })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn handle(state: Arc<ReceiverState>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let status = match path.as_str() {
        "/hang" => {
            std::future::pending::<()>().await;
            StatusCode::OK
        }
        "/spare" => {
            state.spare.fetch_add(1, Ordering::Relaxed);
            StatusCode::NO_CONTENT
        }
        "/busy" => {
            state.other.fetch_add(1, Ordering::Relaxed);
            StatusCode::TOO_MANY_REQUESTS
        }
        "/fail" => {
            state.other.fetch_add(1, Ordering::Relaxed);
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ if state.down.load(Ordering::Relaxed) => {
            state.other.fetch_add(1, Ordering::Relaxed);
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => {
            let now = state.now_ns();
            if let Some(seq) = sequence_of(&body) {
                state.receipts.lock().unwrap_or_else(|p| p.into_inner()).push((seq, now));
            }
            state.ok.fetch_add(1, Ordering::Relaxed);
            state.last_ns.store(now, Ordering::Relaxed);
            StatusCode::NO_CONTENT
        }
    };
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sequence_from_the_entity_id() {
        assert_eq!(sequence_of(br#"{"SendAttempts":1,"entityId":"b12345","x":1}"#), Some(12345));
        assert_eq!(sequence_of(br#"{"entityId":"RPT1"}"#), None);
        assert_eq!(sequence_of(br#"{"entityId":"o7","new":{"id":"o7","benchSeq":99}}"#), Some(99));
        assert_eq!(sequence_of(br#"{"entityId":"p1","new":{"benchSeq":7},"old":{"benchSeq":6}}"#), Some(7));
    }

    #[tokio::test]
    async fn counts_every_request_and_pairs_it_with_its_sequence() {
        let r = Receiver::start(Instant::now()).await.unwrap();
        let client = reqwest::Client::new();
        for i in 0..25u64 {
            let resp = client.post(r.url("/ok")).body(format!(r#"{{"entityId":"b{i}"}}"#)).send().await.unwrap();
            assert_eq!(resp.status(), 204);
        }
        let resp = client.post(r.url("/fail")).body("{}").send().await.unwrap();
        assert_eq!(resp.status(), 500);
        assert_eq!(r.state.ok_count(), 25);
        assert_eq!(r.state.other.load(Ordering::Relaxed), 1);
        let mut seqs: Vec<u64> = r.state.take_receipts().into_iter().map(|(s, _)| s).collect();
        seqs.sort();
        assert_eq!(seqs, (0..25).collect::<Vec<_>>());
    }
}
