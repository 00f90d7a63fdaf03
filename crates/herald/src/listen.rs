//! `herald listen`: a local receiver for developers. It prints each webhook as it arrives (topic, customer, entity,
//! attempt and the diff), verifies every signature it can (Standard Webhooks with `--secret`, Ed25519 `X-Signature`
//! with a public key, the seed's `Reapit-Webhook-Signature` with `--client-id`), answers with `--status`, and can
//! forward each request unchanged to a local app.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use base64::Engine as _;
use herald_domain::signature::{verify_standard, verify_x_signature, WebhookSecret};
use serde_json::Value;
use tokio::net::TcpListener;

/// What `herald listen` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ListenOptions {
    pub secret: Option<WebhookSecret>,
    /// Ed25519 public keys as (kid, x).
    pub public_keys: Vec<(String, String)>,
    pub client_id: Option<String>,
    pub forward_to: Option<String>,
    pub status: u16,
    pub color: bool,
}

/// Where each report goes (stdout in the binary; a buffer in tests).
pub type Output = Arc<dyn Fn(String) + Send + Sync>;

struct Ctx {
    opts: ListenOptions,
    out: Output,
    http: reqwest::Client,
}

/// Serves on `listener` until the future completes.
pub async fn run(
    opts: ListenOptions,
    listener: TcpListener,
    out: Output,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let ctx = Arc::new(Ctx { opts, out, http });
    let app = Router::new().fallback(receive).with_state(ctx);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// Fetches `{ keys: [{kid, x}] }` from a Herald's `/webhooks/signing` (or any URL serving that shape).
pub async fn fetch_public_keys(url: &str, token: Option<&str>) -> anyhow::Result<Vec<(String, String)>> {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    anyhow::ensure!(resp.status().is_success(), "{url} answered {}", resp.status());
    let v: Value = resp.json().await?;
    let keys = v["keys"]
        .as_array()
        .map(|ks| {
            ks.iter()
                .filter_map(|k| Some((k["kid"].as_str()?.to_string(), k["x"].as_str()?.to_string())))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    anyhow::ensure!(!keys.is_empty(), "{url} lists no keys");
    Ok(keys)
}

async fn receive(
    State(ctx): State<Arc<Ctx>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut report = describe(&ctx.opts, &headers, &body);
    if let Some(target) = &ctx.opts.forward_to {
        let url = format!("{}{}", target.trim_end_matches('/'), uri.path_and_query().map(|p| p.as_str()).unwrap_or(""));
        let mut fwd = headers.clone();
        fwd.remove(axum::http::header::HOST);
        fwd.remove(axum::http::header::CONTENT_LENGTH);
        match ctx.http.post(&url).headers(fwd).body(body.clone()).send().await {
            Ok(r) => report.push_str(&format!("\n  forwarded to {url}: {}", r.status())),
            Err(e) => report.push_str(&format!("\n  forwarded to {url}: failed: {e}")),
        }
    }
    (ctx.out)(report);
    StatusCode::from_u16(ctx.opts.status).unwrap_or(StatusCode::OK)
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The report printed for one request.
pub fn describe(opts: &ListenOptions, headers: &HeaderMap, body: &[u8]) -> String {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let payload: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let s = |k: &str| payload.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_string();
    let mut out = format!(
        "{} {} customer={} entity={} attempt={} event={}",
        paint(opts.color, "1;36", "▶"),
        paint(opts.color, "1", &s("topicId")),
        s("customerId"),
        s("entityId"),
        payload.get("SendAttempts").map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        s("eventId"),
    );
    let mark = |ok: bool| if ok { paint(opts.color, "32", "valid") } else { paint(opts.color, "31", "INVALID") };
    // Standard Webhooks
    match (&opts.secret, h("webhook-id"), h("webhook-timestamp").parse::<i64>()) {
        (Some(secret), id, Ok(ts)) if !id.is_empty() => {
            let ok = verify_standard(secret, &id, ts, body, &h("webhook-signature"));
            out.push_str(&format!("\n  webhook-signature: {}", mark(ok)));
        }
        (Some(_), _, _) => out.push_str(&format!("\n  webhook-signature: {}", mark(false))),
        (None, _, _) => out.push_str("\n  webhook-signature: not checked (no --secret)"),
    }
    // Ed25519
    let x_sig = h("x-signature");
    if opts.public_keys.is_empty() {
        out.push_str("\n  x-signature: not checked (no --public-key-url)");
    } else {
        let ok = opts.public_keys.iter().any(|(_, x)| verify_x_signature(&x_sig, x, body).is_ok());
        out.push_str(&format!("\n  x-signature: {}", mark(ok)));
    }
    // The seed's check
    match &opts.client_id {
        Some(c) => {
            let expected = base64::engine::general_purpose::STANDARD.encode(c.as_bytes());
            out.push_str(&format!("\n  reapit-webhook-signature: {}", mark(h("reapit-webhook-signature") == expected)));
        }
        None => out.push_str("\n  reapit-webhook-signature: not checked (no --client-id)"),
    }
    if let Some(diff) = payload.get("diff").and_then(|d| d.as_object()) {
        out.push_str("\n  diff:");
        diff_lines(opts.color, diff, "    ", &mut out);
    }
    out
}

fn diff_lines(color: bool, diff: &serde_json::Map<String, Value>, indent: &str, out: &mut String) {
    for (k, v) in diff {
        match v {
            Value::Array(pair) if pair.len() == 2 => out.push_str(&format!(
                "\n{indent}{k}: {} → {}",
                paint(color, "31", &pair[0].to_string()),
                paint(color, "32", &pair[1].to_string())
            )),
            Value::Object(nested) => {
                out.push_str(&format!("\n{indent}{k}:"));
                diff_lines(color, nested, &format!("{indent}  "), out);
            }
            other => out.push_str(&format!("\n{indent}{k}: {other}")),
        }
    }
}
