//! Herald's end-to-end tests: the real app on 127.0.0.1:0 with a fresh SQLite file, real receivers on loopback.

mod support;

mod auth;
mod backpressure;
mod config_cli;
mod delivery;
mod durability;
mod entities;
mod events;
mod filters;
mod idempotency;
mod isolation;
mod listen;
mod logs;
mod memory;
mod operational;
mod ordered;
mod overload;
mod revoked;
mod signatures;
mod slow_clients;
mod traces;
mod upkeep;
mod validation;
