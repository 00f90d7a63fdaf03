-- Messages from a broker (`herald serve --source`) that were not a valid change (400 or 422 by contract §3): they
-- are acknowledged at the broker and kept here with their error, listed by GET /sources/dead-letters. `source` names
-- the source (its URL without credentials); `message_id` is the message's idempotency key (its `idempotency-key`
-- header or field, else the broker's message id), unique per source so that a redelivered message is kept once.
-- `errors` is the JSON list of {field, message}; `body` the message as text (invalid UTF-8 replaced), at most 64 KiB.
-- Instants in microseconds since the Unix epoch, as everywhere.
CREATE TABLE source_dead_letters (
    id              UUID PRIMARY KEY,
    source          TEXT NOT NULL,
    message_id      TEXT,
    status          INTEGER NOT NULL,
    description     TEXT NOT NULL,
    errors          TEXT NOT NULL,
    body            TEXT NOT NULL,
    received        BIGINT NOT NULL,
    UNIQUE (source, message_id)
);
-- The list is read newest first.
CREATE INDEX source_dead_letters_by_received ON source_dead_letters(received, id);
