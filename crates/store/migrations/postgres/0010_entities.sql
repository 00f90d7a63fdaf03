-- Entity state (contract §9.5): the last record Herald was given for each entity by `PUT /entities/...`, as JSON
-- text; NULL once deleted (the row stays, so that the version keeps counting and a record put again is a creation).
-- `version` counts the writes of the entity: a write says which version it read, and the group commit applies it
-- only if that is still the stored one (compare-and-set), so that concurrent writers, on any node, each diff
-- against the record before theirs. Retention never removes these rows. Instants in microseconds since the Unix
-- epoch, as everywhere.
CREATE TABLE entities (
    customer_id     TEXT NOT NULL,
    entity_type     TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    record          TEXT,
    version         BIGINT NOT NULL,
    updated         BIGINT NOT NULL,
    PRIMARY KEY (customer_id, entity_type, entity_id)
);
