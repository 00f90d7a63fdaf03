-- Claims read two small indexes instead of every pending row, as on SQLite (0004; see docs/STORAGE.md, "Claims"):
-- deliveries nobody holds, by due time (with the webhook, so that skipping a webhook's rows never reads the table),
-- and deliveries somebody holds, by when they were taken (only those held longer than a lease can change hands).
-- `deliveries_held` (by owner, since 0001) stays for releasing one node's claims.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_free ON deliveries(next_attempt_at, webhook_id) WHERE state = 0 AND owner IS NULL;
CREATE INDEX deliveries_held_since ON deliveries(updated) WHERE state = 0 AND owner IS NOT NULL;
