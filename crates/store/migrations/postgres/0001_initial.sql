-- Herald's schema on PostgreSQL: the same tables and meanings as on SQLite (migrations/sqlite), for several nodes
-- sharing one database. Instants are BIGINT microseconds since the Unix epoch (as on SQLite, so that both backends
-- compare and sort them alike); ids are native UUID (16 bytes; they sort like their lowercase text form, so orders
-- match SQLite's); lists are TEXT[] (order kept; `exact_customer` compares whole arrays). See docs/STORAGE.md.

CREATE TABLE applications (
    id              UUID PRIMARY KEY,
    client_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    scopes          TEXT[] NOT NULL,
    api_key_hash    TEXT NOT NULL,
    signing_seed    BYTEA NOT NULL,
    created         BIGINT NOT NULL,
    modified        BIGINT NOT NULL,
    CONSTRAINT applications_client_id_key UNIQUE (client_id),
    CONSTRAINT applications_api_key_hash_key UNIQUE (api_key_hash)
);
CREATE INDEX applications_by_created ON applications(created, id);

CREATE TABLE installations (
    id              UUID PRIMARY KEY,
    application_id  UUID NOT NULL REFERENCES applications(id),
    customer_id     TEXT NOT NULL,
    customer_name   TEXT,
    customer_email  TEXT,
    created         BIGINT NOT NULL,
    terminated      BIGINT
);
CREATE INDEX installations_by_application ON installations(application_id, customer_id);
CREATE INDEX installations_by_customer ON installations(customer_id);

CREATE TABLE webhooks (
    id                       UUID PRIMARY KEY,
    application_id           UUID NOT NULL REFERENCES applications(id),
    url                      TEXT NOT NULL,
    description              TEXT,
    topic_ids                TEXT[] NOT NULL,
    customer_ids             TEXT[] NOT NULL,
    active                   BOOLEAN NOT NULL,
    ignore_etag_only_changes BOOLEAN NOT NULL,
    secret                   TEXT NOT NULL,
    previous_secret          TEXT,
    previous_secret_expires  BIGINT,
    disabled_reason          TEXT,
    last_success             BIGINT,
    failing_since            BIGINT,
    created                  BIGINT NOT NULL,
    modified                 BIGINT NOT NULL,
    deleted                  BIGINT
);
CREATE INDEX webhooks_by_application ON webhooks(application_id, created);

-- One row per event: one topic of one change. `event_id` is shared by every event of one request; `body` is the
-- payload without SendAttempts (see herald_domain::payload), stored once for every delivery of the event.
CREATE TABLE events (
    id              UUID PRIMARY KEY,
    event_id        UUID NOT NULL,
    topic_id        TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    entity_id       TEXT,
    event_time      BIGINT NOT NULL,
    body            TEXT,
    created         BIGINT NOT NULL
);
CREATE INDEX events_by_event_id ON events(event_id);

-- One row per (event, webhook). state: 0 pending, 1 delivered, 2 failed for good, 3 dead (attempts exhausted),
-- 4 cancelled (webhook deleted). A pending delivery with an owner is held by that node's delivery worker, claimed at
-- `updated`; it stays held while the owner's row in `nodes` is fresh (see `Store::claim_due_with_lease`).
CREATE TABLE deliveries (
    id              UUID PRIMARY KEY,
    event           UUID NOT NULL REFERENCES events(id),
    webhook_id      UUID NOT NULL,
    application_id  UUID NOT NULL,
    sandbox         BOOLEAN NOT NULL,
    state           INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT,
    owner           TEXT,
    created         BIGINT NOT NULL,
    updated         BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 0;
CREATE INDEX deliveries_held ON deliveries(owner) WHERE state = 0 AND owner IS NOT NULL;
CREATE INDEX deliveries_by_webhook ON deliveries(webhook_id, created);

-- One row per attempt, the transaction log of contract §5.4.
CREATE TABLE attempts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id     UUID NOT NULL REFERENCES deliveries(id),
    event           UUID NOT NULL REFERENCES events(id),
    webhook_id      UUID NOT NULL,
    application_id  UUID NOT NULL,
    attempt         INTEGER NOT NULL,
    started         BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    response        TEXT,
    url             TEXT NOT NULL
);
CREATE INDEX attempts_by_application ON attempts(application_id, started);
CREATE INDEX attempts_by_webhook ON attempts(webhook_id, started);
CREATE INDEX attempts_by_delivery ON attempts(delivery_id);
CREATE INDEX attempts_by_started ON attempts(started);

CREATE TABLE idempotency_keys (
    key             TEXT PRIMARY KEY,
    response        TEXT NOT NULL,
    created         BIGINT NOT NULL
);

-- Bumped by every write that changes routing (applications, installations, webhooks), so that every node can tell
-- when its in-memory routing table is stale.
CREATE TABLE routing_version (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    version         BIGINT NOT NULL
);
INSERT INTO routing_version (id, version) VALUES (1, 0);

-- Node leases: each node's last sign of life (every claim and every heartbeat), in microseconds.
CREATE TABLE nodes (
    id              TEXT PRIMARY KEY,
    heartbeat       BIGINT NOT NULL
);
