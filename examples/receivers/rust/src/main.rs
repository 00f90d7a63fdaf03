//! A webhook receiver that verifies Herald's three signatures (docs/RECEIVERS.md).
//!
//! ```text
//! HERALD_SECRET=whsec_... HERALD_PUBLIC_KEY=<x> HERALD_CLIENT_ID=<client id> cargo run -p herald-receiver-example [PORT]
//! ```
//!
//! The port is the first argument, else `$PORT`, else 8000; 0 picks a free one. The receiver listens on `$HOST`
//! (default 127.0.0.1), prints `listening on http://HOST:PORT`, then one line per POST, and answers 204 when every
//! check passes, 401 otherwise (Herald does not retry a 4xx).

use std::sync::Arc;

use herald_receiver_example::{serve, Verifier};

#[tokio::main]
async fn main() {
    let verifier = Verifier::from_env().unwrap_or_else(|e| {
        eprintln!("herald-receiver-example: {e}");
        std::process::exit(2)
    });
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::args().nth(1).or_else(|| std::env::var("PORT").ok()).unwrap_or_else(|| "8000".into());
    let listener = tokio::net::TcpListener::bind(format!("{host}:{port}")).await.expect("bind");
    println!("listening on http://{}", listener.local_addr().expect("local address"));
    serve(listener, verifier, Arc::new(|line| println!("{line}"))).await.expect("serve");
}
