#!/usr/bin/env python3
"""A webhook receiver that verifies Herald's three signatures (docs/RECEIVERS.md).

    HERALD_SECRET=whsec_... HERALD_PUBLIC_KEY=<x> HERALD_CLIENT_ID=<client id> python receiver.py [PORT]

- HERALD_SECRET: the webhook's Standard Webhooks secret (returned when the webhook is created, or by
  GET /webhooks/subscriptions/{id}/secret).
- HERALD_PUBLIC_KEY: the `x` of the application's Ed25519 key (GET /webhooks/signing?applicationId=...).
- HERALD_CLIENT_ID: the application's client id (Reapit-Webhook-Signature is its base64).

The port is the first argument, else $PORT, else 8000; 0 picks a free one. The receiver listens on $HOST
(default 127.0.0.1), prints `listening on http://HOST:PORT`, then one line per POST:

    verified standard=ok x-signature=ok reapit=ok topic=contacts.modified attempt=1

and answers 204 when every check passes, 401 otherwise (Herald does not retry a 4xx).
"""

import base64
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks import Webhook, WebhookVerificationError

# Replay protection: a request signed more than 5 minutes ago (or ahead) is refused.
TOLERANCE_SECONDS = 5 * 60


def verify_standard(webhook: Webhook, body: bytes, headers: dict) -> bool:
    """webhook-id / webhook-timestamp / webhook-signature, with the webhook's whsec_ secret."""
    try:
        # Checks the HMAC of "id.timestamp.body" and that webhook-timestamp is within 5 minutes.
        webhook.verify(body, headers)
        return True
    except (WebhookVerificationError, ValueError):
        return False


def verify_x_signature(public_key: Ed25519PublicKey, header: str, body: bytes) -> bool:
    """X-Signature: s:<kid>:<unix seconds>:<base64url Ed25519 signature of (seconds as text + body)>."""
    parts = header.split(":")
    if len(parts) != 4 or parts[0] != "s" or not parts[2].isdigit():
        return False
    _, _kid, timestamp, signature = parts
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    try:
        public_key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
                          timestamp.encode() + body)
        return True
    except (InvalidSignature, ValueError):
        return False


def verify_reapit(client_id: str, header: str) -> bool:
    """Reapit-Webhook-Signature: the base64 of the application's client id (proves nothing cryptographically)."""
    expected = base64.b64encode(client_id.encode()).decode()
    return hmac.compare_digest(header.encode(), expected.encode())


def public_key_from_x(x: str) -> Ed25519PublicKey:
    """The key of a JWK {kty: "OKP", crv: "Ed25519", x} (x is base64url without padding)."""
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))


def summary(body: bytes) -> str:
    try:
        payload = json.loads(body)
        return f"topic={payload.get('topicId')} attempt={payload.get('SendAttempts')}"
    except (ValueError, AttributeError):
        return "topic=? attempt=?"


def make_handler(webhook: Webhook, public_key: Ed25519PublicKey, client_id: str):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = dict(self.headers.items())
            standard = verify_standard(webhook, body, headers)
            x_signature = verify_x_signature(public_key, self.headers.get("X-Signature", ""), body)
            reapit = verify_reapit(client_id, self.headers.get("Reapit-Webhook-Signature", ""))
            word = {True: "ok", False: "fail"}
            print(f"verified standard={word[standard]} x-signature={word[x_signature]} reapit={word[reapit]} "
                  f"{summary(body)}", flush=True)
            self.send_response(204 if standard and x_signature and reapit else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):  # keep stdout to one line per request
            pass

    return Handler


def main() -> None:
    try:
        webhook = Webhook(os.environ["HERALD_SECRET"])
        public_key = public_key_from_x(os.environ["HERALD_PUBLIC_KEY"])
        client_id = os.environ["HERALD_CLIENT_ID"]
    except KeyError as missing:
        sys.exit(f"receiver.py: set {missing.args[0]} (see the top of this file)")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer((host, port), make_handler(webhook, public_key, client_id))
    print(f"listening on http://{host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
