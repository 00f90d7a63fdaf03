//! The About page: what webhooks are, how to verify each signature Herald sends (with short receiver snippets),
//! and the retry policy.

use axum::extract::{Query, State};
use maud::{html, Markup};
use serde::Deserialize;

use super::context;
use super::error::UiResult;
use super::layout::{page, Nav};
use super::session::Ui;
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct AboutQuery {
    app: Option<String>,
}

const NODE_HMAC: &str = r#"import crypto from "node:crypto";

// secret: "whsec_..." from Herald; body: the raw request body (a Buffer)
function verify(secret, headers, body) {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const signed = `${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`;
  const mac = crypto.createHmac("sha256", key).update(signed).digest("base64");
  const expected = Buffer.from(`v1,${mac}`);
  return headers["webhook-signature"].split(" ").some((s) =>
    s.length === expected.length && crypto.timingSafeEqual(Buffer.from(s), expected));
}"#;

const PYTHON_HMAC: &str = r#"from standardwebhooks.webhooks import Webhook

# raises WebhookVerificationError unless a signature matches and the timestamp is recent
Webhook("whsec_...").verify(request_body, request_headers)"#;

const PYTHON_ED25519: &str = r#"import base64
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

def b64url(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

# x: the key's "x" from GET /webhooks/signing?applicationId=...
_, kid, timestamp, signature = headers["X-Signature"].split(":")
key = Ed25519PublicKey.from_public_bytes(b64url(x))
key.verify(b64url(signature), timestamp.encode() + request_body)  # raises InvalidSignature"#;

const NODE_REAPIT: &str = r#"const expected = Buffer.from(process.env.CLIENT_ID).toString("base64");
if (req.headers["reapit-webhook-signature"] !== expected) return res.sendStatus(401);"#;

pub async fn show(State(s): State<AppState>, ui: Ui, Query(q): Query<AboutQuery>) -> UiResult<Markup> {
    let ctx = context(&s, ui, q.app.as_deref()).await?;
    let content = html! {
        h1 { "About webhooks" }
        div.prose {
            p { "Webhooks let your application receive notifications as customers' data changes, rather than polling the API. "
                "When an event your webhook listens for happens (for example " code { "offers.created" } "), Herald sends an HTTP "
                code { "POST" } " with a JSON body describing it to your endpoint." }
            p { "Each webhook names its " strong { "topics" } " (the kinds of event, limited by your application's scopes) and its "
                strong { "customers" } ": particular customers who installed your application, " code { "SBOX" }
                " for the sandbox, or all installed customers (which excludes the sandbox). Use " strong { "Ping" }
                " to send a test event (customer " code { "webhook-test" } ") before you turn a webhook on." }
            h2 { "Verifying signatures" }
            p { "Every request carries three independent signatures. Check at least one before trusting a request." }
            h3 { "Standard Webhooks (" code { "webhook-signature" } ")" }
            p { "An HMAC-SHA256 of " code { "webhook-id.webhook-timestamp.body" } " with the webhook's signing secret (" code { "whsec_…" }
                ", shown under each webhook's details). During a rotation both the old and new secrets sign, space-separated. "
                "Any " a href="https://www.standardwebhooks.com" { "Standard Webhooks" } " library verifies it." }
            pre.code tabindex="0" { (PYTHON_HMAC) }
            pre.code tabindex="0" { (NODE_HMAC) }
            h3 { "Ed25519 (" code { "X-Signature" } ")" }
            p { code { "s:<kid>:<unix seconds>:<signature>" } ": an Ed25519 signature, base64url, of the unix seconds as text followed by the body, "
                "made with your application's key. Its public keys are at " code { "GET /webhooks/signing" } "." }
            pre.code tabindex="0" { (PYTHON_ED25519) }
            h3 { "Client id (" code { "Reapit-Webhook-Signature" } ")" }
            p { "The base64 of your application's client id, as Reapit Foundations sends it. It identifies the application but is not a secret." }
            pre.code tabindex="0" { (NODE_REAPIT) }
            p { "Run " code { "herald listen" } " for a local receiver that prints each webhook and checks its signatures." }
            h2 { "Retry policy" }
            p { "Any 2xx answer within the timeout (10 seconds by default) is a success. Redirects are not followed." }
            ul {
                li { "A 4xx answer fails for good: it is never retried (it points to a misconfigured endpoint)." }
                li { "Any other failure (5xx, timeout, connection error) is retried. By default the delays are 60 s, 120 s, 300 s, 600 s and 900 s, "
                    "each counted from the end of the previous attempt: 6 attempts in all. The operator may set another schedule." }
                li { "Sandbox (" code { "SBOX" } ") events and pings get one attempt only." }
                li { "The body's " code { "SendAttempts" } " is the number of the attempt; " code { "webhook-id" } " stays the same on every attempt of a delivery." }
                li { "Delivery is at least once and in no guaranteed order: use " code { "eventTime" } " and " code { "webhook-id" } " to order and de-duplicate." }
            }
            p { "Every attempt is in the " a href="/ui/logs" { "logs" } " with the exact payload sent and the response received; a delivery can be redelivered from there." }
        }
    };
    Ok(page(&ctx, Nav::About, "About", "/ui/about", content))
}
