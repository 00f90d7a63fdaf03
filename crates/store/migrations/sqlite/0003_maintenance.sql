-- Indexes for replay, webhook health, metrics, retention and analytics (`Store::prune`, `disable_failing_webhooks`,
-- `stats`, `attempt_counts`). See docs/STORAGE.md.

-- Retention: events whose body is still kept, by age. Pruned events leave the index, so pruning never walks them.
CREATE INDEX events_unpruned ON events(created) WHERE body IS NOT NULL;
-- Retention: whether an event still has a pending delivery (its body must stay). Only pending rows are indexed.
CREATE INDEX deliveries_pending_by_event ON deliveries(event) WHERE state = 0;
-- Retention: attempts whose response is still kept, by age.
CREATE INDEX attempts_unpruned ON attempts(started) WHERE response IS NOT NULL;
-- Counts over a time window of every application, and the unfiltered log (PostgreSQL has it since 0001).
CREATE INDEX attempts_by_started ON attempts(started);
-- Retention of idempotency keys, by age.
CREATE INDEX idempotency_keys_by_created ON idempotency_keys(created);
-- Health: live webhooks that are failing, by the start of their failures.
CREATE INDEX webhooks_failing ON webhooks(failing_since)
    WHERE active = 1 AND deleted IS NULL AND failing_since IS NOT NULL;
