-- webhooks_failing again, with its condition as the queries write it (`active`, as on PostgreSQL): SQLite uses a
-- partial index only for a query that repeats its condition, and to it `active` is not `active = 1`, so the health
-- count of `stats` and `disable_failing_webhooks` read every webhook.
DROP INDEX webhooks_failing;
CREATE INDEX webhooks_failing ON webhooks(failing_since) WHERE active AND deleted IS NULL AND failing_since IS NOT NULL;
