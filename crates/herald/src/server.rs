//! The HTTP server loop: hyper's HTTP/1 connections around the axum router, with the limits that keep slow or idle
//! clients from holding Herald's resources (docs/OPERATIONS.md, "Slow clients"):
//!
//! - at most `max_connections` connections at once; beyond that, new connections wait in the listen backlog until
//!   one closes (an idle one closes within `header_read_timeout`, so health checks get through);
//! - `header_read_timeout` to receive a request's headers, counted from when the connection is ready for the next
//!   request, so it is also how long an idle keep-alive connection stays open;
//! - `body_read_timeout` to receive a whole request body (`408` after it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// The server's limits (options `--header-read-timeout`, `--body-read-timeout`, `--max-connections`).
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_connections: usize,
}

/// How long shutdown waits for requests in flight before it closes their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `stop` turns true, then lets requests in flight finish (up to
/// [`SHUTDOWN_GRACE`]). Each request carries `ConnectInfo<SocketAddr>`, the client's address.
pub async fn serve(listener: TcpListener, app: Router, limits: HttpLimits, mut stop: watch::Receiver<bool>) {
    let body_limit = limits.body_read_timeout;
    let app = app.layer(axum::middleware::from_fn(move |req, next| {
        herald_web::body_timeout::limit_body_time(body_limit, req, next)
    }));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break, // Never closed; stop rather than spin if it were.
            },
            _ = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted: wait a little and go
                    // on, rather than spin or stop serving.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true); // Latency only; a socket that refuses it still works.
                                          // The client's address rides in each request's extensions (cheaper than layering the router per connection).
        let router = app.clone();
        let service = TowerToHyperService::new(tower::service_fn(move |mut req: axum::extract::Request<_>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            tower::ServiceExt::oneshot(router.clone(), req)
        }));
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        while connections.try_join_next().is_some() {} // Forget connections that ended.
        connections.spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in flight after {SHUTDOWN_GRACE:?}; closing their connections");
        connections.abort_all();
    }
    while connections.join_next().await.is_some() {}
}

/// File descriptors a process needs besides its HTTP server's connections: the database, deliveries' connections
/// (up to `--max-in-flight`, kept alive), the listener, logs.
pub const OTHER_FILES: u64 = 1024;

/// Raises the soft open-file limit to `max_connections + OTHER_FILES` when it is lower and the hard limit allows;
/// logs a warning when it cannot, since connections beyond the limit would fail to be accepted.
pub fn raise_open_file_limit(max_connections: usize) {
    #[cfg(unix)]
    {
        let needed = (max_connections as u64 + OTHER_FILES) as libc::rlim_t;
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes the struct it is given, which lives on this stack frame.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 || lim.rlim_cur >= needed {
            return;
        }
        let target = needed.min(lim.rlim_max);
        let new = libc::rlimit { rlim_cur: target, rlim_max: lim.rlim_max };
        // SAFETY: setrlimit reads the struct it is given.
        let raised = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } == 0;
        if !raised || target < needed {
            tracing::warn!(
                open_file_limit = if raised { target } else { lim.rlim_cur },
                max_connections,
                "the open-file limit is below --max-connections plus what deliveries need: lower --max-connections \
                 or raise ulimit -n"
            );
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await; // An error means the sender is gone: stop as well.
}
