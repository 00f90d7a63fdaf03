-- Deliveries nobody holds, per webhook by due time, as on SQLite (0005): a claim whose earliest due rows all belong
-- to webhooks it skips takes each other webhook's earliest rows through this index instead of walking those
-- backlogs (see docs/STORAGE.md, "Claims").
CREATE INDEX deliveries_free_by_webhook ON deliveries(webhook_id, next_attempt_at) WHERE state = 0 AND owner IS NULL;
