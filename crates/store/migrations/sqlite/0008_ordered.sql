-- Ordered delivery per entity (contract §9.1; see herald_domain::ordering).
-- A webhook with `ordered` gets each entity's deliveries one after the other. Its deliveries carry the entity key
-- (customer and entity) and their sequence; at most one per (webhook, entity key) is pending (the head), the later
-- ones are `waiting` (state 5) until the head ends.
ALTER TABLE webhooks ADD COLUMN ordered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN entity_key TEXT;
ALTER TABLE deliveries ADD COLUMN sequence INTEGER;

-- The last sequence given per (webhook, entity key). Kept for as long as the webhook exists, so that sequences
-- never start again at 1 for an entity.
CREATE TABLE entity_sequences (
    webhook_id  TEXT NOT NULL,
    entity_key  TEXT NOT NULL,
    last        INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, entity_key)
) WITHOUT ROWID;

-- The open (pending or waiting) ordered deliveries of an entity, lowest sequence first: whether a new one must
-- wait, and which one becomes the head when the head ends.
CREATE INDEX deliveries_open_by_entity ON deliveries(webhook_id, entity_key, sequence)
    WHERE state IN (0, 5) AND entity_key IS NOT NULL;

-- Retention keeps the payload of an event while a delivery of it is open: the waiting ones, like the pending ones
-- (deliveries_pending_by_event), are found through an index of their own.
CREATE INDEX deliveries_waiting_by_event ON deliveries(event) WHERE state = 5;
