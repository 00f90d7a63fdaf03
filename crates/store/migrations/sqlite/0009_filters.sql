-- Payload filters (contract §9.2): a webhook's JSON Schema, as its compact JSON text (at most 16 KiB); NULL when the
-- webhook has none. The service checks it before it is stored; the routing table compiles it.
ALTER TABLE webhooks ADD COLUMN filter TEXT;
