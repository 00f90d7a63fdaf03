-- Payload filters (contract §9.2), as on SQLite (0009): the webhook's JSON Schema as compact JSON text, or NULL.
-- Text, not jsonb: the store hands back the very text the service checked, and no query looks inside it.
ALTER TABLE webhooks ADD COLUMN filter TEXT;
