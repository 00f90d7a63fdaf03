//! Herald's one typed configuration (contract §1, docs/CONFIG.md).
//!
//! Each option is read from four layers, the first that has it winning: a `--flag`, a `HERALD_*` environment
//! variable, the TOML file named by `--config` / `HERALD_CONFIG`, and the built-in defaults (`herald.default.toml`,
//! embedded: the one place defaults are written). The binary flattens [`ServeArgs`] or [`MigrateArgs`] into its
//! subcommands and calls `resolve()`, which parses and validates every value once and gives a typed config, or one
//! [`ConfigError`] whose message is a single line naming the option, where the bad value came from and why.
//!
//! This crate is the only place in Herald that reads the environment. It does not open databases or sockets, create
//! directories or generate secrets: it only says what was asked for.

mod broker;
mod database;
mod error;
mod migrate;
mod options;
mod rotate;
mod serve;
mod sources;
mod value;

pub use broker::{Broker, SourceConfig, DEFAULT_ACK_WAIT, DEFAULT_PREFETCH};
pub use database::{DatabaseUrl, DatabaseUrlError};
pub use error::{ConfigError, InvalidValue, Origin};
pub use migrate::{MigrateArgs, MigrateConfig};
pub use rotate::{RotateKeyArgs, RotateKeyConfig};
pub use serve::{LogFormat, ServeArgs, ServeConfig};
pub use value::EncryptionKey;

/// The built-in defaults, the lowest layer. Its keys are those of a config file.
pub const DEFAULTS_TOML: &str = include_str!("../herald.default.toml");
