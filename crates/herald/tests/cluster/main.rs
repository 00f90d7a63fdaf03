//! Several Herald nodes sharing one PostgreSQL database (`HERALD_TEST_DATABASE_URL`, each test on a database of
//! its own, created and dropped): shared work without duplicates, caches kept fresh across nodes, a node killed
//! while it holds claims, and PostgreSQL going away at start and while running, and web UI sessions shared by the nodes.
//!
//! Every test here needs PostgreSQL; `HERALD_TEST_SKIP_POSTGRES=1` makes them return at once.

mod proxy;
mod support;

mod caches;
mod entities;
mod kill;
mod operational;
mod ordered;
mod outage;
mod rate_limit;
mod sessions;
mod steady;
