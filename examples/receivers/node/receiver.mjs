// A webhook receiver that verifies Herald's three signatures (docs/RECEIVERS.md).
//
//     HERALD_SECRET=whsec_... HERALD_PUBLIC_KEY=<x> HERALD_CLIENT_ID=<client id> node receiver.mjs [PORT]
//
// - HERALD_SECRET: the webhook's Standard Webhooks secret (returned when the webhook is created, or by
//   GET /webhooks/subscriptions/{id}/secret).
// - HERALD_PUBLIC_KEY: the `x` of the application's Ed25519 key (GET /webhooks/signing?applicationId=...).
// - HERALD_CLIENT_ID: the application's client id (Reapit-Webhook-Signature is its base64).
//
// The port is the first argument, else $PORT, else 8000; 0 picks a free one. The receiver listens on $HOST
// (default 127.0.0.1), prints `listening on http://HOST:PORT`, then one line per POST:
//
//     verified standard=ok x-signature=ok reapit=ok topic=contacts.modified attempt=1
//
// and answers 204 when every check passes, 401 otherwise (Herald does not retry a 4xx).

import crypto from "node:crypto";
import http from "node:http";
import { Webhook } from "standardwebhooks";

// Replay protection: a request signed more than 5 minutes ago (or ahead) is refused.
const TOLERANCE_SECONDS = 5 * 60;

// webhook-id / webhook-timestamp / webhook-signature, with the webhook's whsec_ secret.
function verifyStandard(webhook, body, headers) {
  try {
    // Checks the HMAC of "id.timestamp.body" and that webhook-timestamp is within 5 minutes.
    webhook.verify(body, headers);
    return true;
  } catch {
    return false;
  }
}

// X-Signature: s:<kid>:<unix seconds>:<base64url Ed25519 signature of (seconds as text + body)>.
function verifyXSignature(publicKey, header, body) {
  const parts = (header ?? "").split(":");
  if (parts.length !== 4 || parts[0] !== "s" || !/^[0-9]+$/.test(parts[2])) return false;
  const [, , timestamp, signature] = parts;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const message = Buffer.concat([Buffer.from(timestamp), body]);
  try {
    return crypto.verify(null, message, publicKey, Buffer.from(signature, "base64url"));
  } catch {
    return false;
  }
}

// Reapit-Webhook-Signature: the base64 of the application's client id (proves nothing cryptographically).
function verifyReapit(clientId, header) {
  const expected = Buffer.from(Buffer.from(clientId).toString("base64"));
  const given = Buffer.from(header ?? "");
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

// The key of a JWK {kty: "OKP", crv: "Ed25519", x} (x is base64url without padding).
function publicKeyFromX(x) {
  return crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
}

function summary(body) {
  try {
    const payload = JSON.parse(body.toString("utf8"));
    return `topic=${payload.topicId} attempt=${payload.SendAttempts}`;
  } catch {
    return "topic=? attempt=?";
  }
}

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`receiver.mjs: set ${name} (see the top of this file)`);
    process.exit(1);
  }
  return value;
}

const webhook = new Webhook(env("HERALD_SECRET"));
const publicKey = publicKeyFromX(env("HERALD_PUBLIC_KEY"));
const clientId = env("HERALD_CLIENT_ID");
const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.argv[2] ?? process.env.PORT ?? 8000);

const server = http.createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(405).end();
    return;
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const standard = verifyStandard(webhook, body, req.headers);
    const xSignature = verifyXSignature(publicKey, req.headers["x-signature"], body);
    const reapit = verifyReapit(clientId, req.headers["reapit-webhook-signature"]);
    const word = (ok) => (ok ? "ok" : "fail");
    console.log(
      `verified standard=${word(standard)} x-signature=${word(xSignature)} reapit=${word(reapit)} ${summary(body)}`,
    );
    res.writeHead(standard && xSignature && reapit ? 204 : 401).end();
  });
});

server.listen(port, host, () => console.log(`listening on http://${host}:${server.address().port}`));
