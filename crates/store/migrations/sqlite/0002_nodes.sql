-- Node leases. A node's delivery worker writes its last sign of life here (every claim and every heartbeat); a
-- pending delivery held by a node silent for longer than the lease may be claimed by another. SQLite serves one node,
-- whose start-up releases every claim anyway, but keeps the same rules as PostgreSQL. See docs/STORAGE.md.
CREATE TABLE nodes (
    id              TEXT PRIMARY KEY,
    heartbeat       INTEGER NOT NULL
);
