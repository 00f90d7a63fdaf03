-- Web UI sessions, shared by every process on the database (docs/STORAGE.md). Only the SHA-256 of a session's token
-- is kept. `principal` is the session's holder: "admin:<tag of the admin token>" or an application id. `flash` is a
-- one-shot message for the next page. Instants in microseconds since the Unix epoch, as everywhere.
CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    principal       TEXT NOT NULL,
    csrf            TEXT NOT NULL,
    picked_app      TEXT,
    flash           TEXT,
    created         INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL
);
-- The cap on live sessions per principal drops the oldest first.
CREATE INDEX sessions_by_principal ON sessions(principal, created);
-- Upkeep deletes idle sessions by last sign of use.
CREATE INDEX sessions_by_last_seen ON sessions(last_seen);
-- Upkeep deletes sessions past their absolute lifetime.
CREATE INDEX sessions_by_created ON sessions(created);
