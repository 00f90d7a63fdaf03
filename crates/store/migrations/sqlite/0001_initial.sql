-- Herald's schema on SQLite. Instants are integer microseconds since the Unix epoch; ids are UUID text;
-- lists are JSON text. See docs/ARCHITECTURE.md for what each table holds.

CREATE TABLE applications (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    api_key_hash    TEXT NOT NULL UNIQUE,
    signing_seed    BLOB NOT NULL,
    created         INTEGER NOT NULL,
    modified        INTEGER NOT NULL
);

CREATE TABLE installations (
    id              TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications(id),
    customer_id     TEXT NOT NULL,
    customer_name   TEXT,
    customer_email  TEXT,
    created         INTEGER NOT NULL,
    terminated      INTEGER
);
CREATE INDEX installations_by_application ON installations(application_id, customer_id);
CREATE INDEX installations_by_customer ON installations(customer_id);

CREATE TABLE webhooks (
    id                       TEXT PRIMARY KEY,
    application_id           TEXT NOT NULL REFERENCES applications(id),
    url                      TEXT NOT NULL,
    description              TEXT,
    topic_ids                TEXT NOT NULL,
    customer_ids             TEXT NOT NULL,
    active                   INTEGER NOT NULL,
    ignore_etag_only_changes INTEGER NOT NULL,
    secret                   TEXT NOT NULL,
    previous_secret          TEXT,
    previous_secret_expires  INTEGER,
    disabled_reason          TEXT,
    last_success             INTEGER,
    failing_since            INTEGER,
    created                  INTEGER NOT NULL,
    modified                 INTEGER NOT NULL,
    deleted                  INTEGER
);
CREATE INDEX webhooks_by_application ON webhooks(application_id, created);

-- One row per event: one topic of one change. `event_id` is shared by every event of one request; `body` is the
-- payload without SendAttempts (see herald_domain::payload), stored once for every delivery of the event.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL,
    topic_id        TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    entity_id       TEXT,
    event_time      INTEGER NOT NULL,
    body            TEXT,
    created         INTEGER NOT NULL
);
CREATE INDEX events_by_event_id ON events(event_id);

-- One row per (event, webhook). state: 0 pending, 1 delivered, 2 failed for good, 3 dead (attempts exhausted),
-- 4 cancelled (webhook deleted). A pending delivery with an owner is held by that node's delivery worker.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    event           TEXT NOT NULL REFERENCES events(id),
    webhook_id      TEXT NOT NULL,
    application_id  TEXT NOT NULL,
    sandbox         INTEGER NOT NULL,
    state           INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    owner           TEXT,
    created         INTEGER NOT NULL,
    updated         INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 0;
CREATE INDEX deliveries_by_webhook ON deliveries(webhook_id, created);

-- One row per attempt, the transaction log of §5.4.
CREATE TABLE attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id     TEXT NOT NULL REFERENCES deliveries(id),
    event           TEXT NOT NULL REFERENCES events(id),
    webhook_id      TEXT NOT NULL,
    application_id  TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    started         INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    outcome         TEXT NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    response        TEXT,
    url             TEXT NOT NULL
);
CREATE INDEX attempts_by_application ON attempts(application_id, started);
CREATE INDEX attempts_by_webhook ON attempts(webhook_id, started);
CREATE INDEX attempts_by_delivery ON attempts(delivery_id);

CREATE TABLE idempotency_keys (
    key             TEXT PRIMARY KEY,
    response        TEXT NOT NULL,
    created         INTEGER NOT NULL
);

-- Bumped by every write that changes routing (applications, installations, webhooks), so that every node can tell
-- when its in-memory routing table is stale.
CREATE TABLE routing_version (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    version         INTEGER NOT NULL
);
INSERT INTO routing_version (id, version) VALUES (1, 0);
