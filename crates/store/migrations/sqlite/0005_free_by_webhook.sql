-- Deliveries nobody holds, per webhook by due time: a claim whose earliest due rows all belong to webhooks it skips
-- (their queues in the engine are full) takes each other webhook's earliest rows through this index, one seek per
-- webhook, instead of walking those backlogs (see docs/STORAGE.md, "Claims"). Fresh deliveries, stored held by the
-- node that accepted them, are in neither free index.
CREATE INDEX deliveries_free_by_webhook ON deliveries(webhook_id, next_attempt_at) WHERE state = 0 AND owner IS NULL;
