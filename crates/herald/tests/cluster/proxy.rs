//! A TCP proxy between Herald and PostgreSQL that a test can cut and restore, so that a database outage is seen by
//! one Herald only while the shared server keeps serving every other test.
//!
//! Cut: the listening socket is closed (new connections are refused) and every open connection is dropped on both
//! sides. Restore: the proxy listens again on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

pub struct Proxy {
    pub addr: SocketAddr,
    /// What the test wants: `true` up, `false` cut.
    want_up: watch::Sender<bool>,
    /// What the proxy task has done: `true` listening, `false` closed with every connection dropped.
    is_up: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (want_up, want_rx) = watch::channel(true);
        let (up_tx, is_up) = watch::channel(true);
        let task = tokio::spawn(run(listener, addr, upstream, want_rx, up_tx));
        Proxy { addr, want_up, is_up, task }
    }

    /// Drops every connection and refuses new ones; returns once that is done.
    pub async fn cut(&mut self) {
        self.want_up.send_replace(false);
        self.is_up.wait_for(|up| !*up).await.expect("the proxy runs");
    }

    /// Accepts connections again; returns once the proxy listens.
    pub async fn restore(&mut self) {
        self.want_up.send_replace(true);
        self.is_up.wait_for(|up| *up).await.expect("the proxy runs");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut want_up: watch::Receiver<bool>,
    is_up: watch::Sender<bool>,
) {
    let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
    let mut listener = Some(listener);
    loop {
        let Some(l) = listener.take() else {
            // Cut: wait for the restore, then listen on the same port again.
            if want_up.wait_for(|up| *up).await.is_err() {
                return;
            }
            listener = Some(rebind(addr).await);
            is_up.send_replace(true);
            continue;
        };
        tokio::select! {
            accepted = l.accept() => {
                if let Ok((client, _)) = accepted {
                    let handle = tokio::spawn(forward(client, upstream)).abort_handle();
                    let mut open = conns.lock().unwrap();
                    open.retain(|h| !h.is_finished());
                    open.push(handle);
                }
                listener = Some(l);
            }
            changed = want_up.wait_for(|up| !*up) => {
                if changed.is_err() {
                    return;
                }
                drop(l);
                for h in conns.lock().unwrap().drain(..) {
                    h.abort();
                }
                is_up.send_replace(false);
            }
        }
    }
}

/// Binds `addr` again after a cut (the port was ours a moment ago; retry briefly in case the OS holds it).
async fn rebind(addr: SocketAddr) -> TcpListener {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(e) => last = Some(e),
        }
        // Real I/O: the port is released by the proxy that just closed it.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot listen on {addr} again: {last:?}");
}

async fn forward(mut client: TcpStream, upstream: SocketAddr) {
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    // Ends when either side closes; aborting the task drops (closes) both sockets.
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
