-- Claims read two small indexes instead of every pending row (see docs/STORAGE.md, "Claims"):
-- deliveries nobody holds, by due time (with the webhook, so that skipping a webhook's rows never reads the table),
-- and deliveries somebody holds, by when they were taken (only those held longer than a lease can change hands).
-- A delivery held by the node that stored it (handed to its engine in memory) is in the second index only, so
-- claims and wake-ups never walk past work already in flight.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_free ON deliveries(next_attempt_at, webhook_id) WHERE state = 0 AND owner IS NULL;
CREATE INDEX deliveries_held ON deliveries(updated) WHERE state = 0 AND owner IS NOT NULL;
