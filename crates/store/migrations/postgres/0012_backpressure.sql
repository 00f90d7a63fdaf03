-- Backpressure from receivers (contract §9.3).
-- hold_until: a Retry-After answered on a 429 or 503 holds every delivery of the webhook until then (micros).
-- rate_limit: at most this many attempts per second (NULL: no limit).
-- rate_tat: the rate limit's theoretical arrival time (GCRA, micros): the earliest instant of the next free send
--           slot; nodes reserve slots by moving it forward.
ALTER TABLE webhooks ADD COLUMN hold_until BIGINT;
ALTER TABLE webhooks ADD COLUMN rate_limit BIGINT;
ALTER TABLE webhooks ADD COLUMN rate_tat BIGINT;
-- The Retry-After header an attempt was answered with, as received.
ALTER TABLE attempts ADD COLUMN retry_after TEXT;
-- The webhooks each delivering node reads a few times a second (held or rate-limited): a small partial index.
CREATE INDEX webhooks_gated ON webhooks(id) WHERE hold_until IS NOT NULL OR rate_limit IS NOT NULL;
