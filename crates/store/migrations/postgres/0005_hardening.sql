-- Hardening (issue 20), as on SQLite (0006).
-- An Idempotency-Key remembers a SHA-256 (hex) of the request body it was first used with, so that a reuse with
-- another body is refused instead of answered with the first answer. Keys stored before this migration have none.
ALTER TABLE idempotency_keys ADD COLUMN body_hash TEXT;

-- API key rotation: the key before the last rotation keeps authenticating until `previous_key_expires`.
ALTER TABLE applications ADD COLUMN previous_api_key_hash TEXT;
ALTER TABLE applications ADD COLUMN previous_key_expires BIGINT;
-- Deleting an application: set, the application is gone for every read but the logs (its rows stay for them).
ALTER TABLE applications ADD COLUMN deleted BIGINT;
CREATE INDEX applications_by_previous_key ON applications(previous_api_key_hash)
    WHERE previous_api_key_hash IS NOT NULL;
