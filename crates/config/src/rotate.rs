//! `herald rotate-encryption-key`'s options: where the database is, the key(s) it is sealed with now (as for
//! `serve`), and the new key.

use std::fmt;
use std::path::PathBuf;

use crate::database::DatabaseUrl;
use crate::error::{ConfigError, Origin};
use crate::migrate::MigrateArgs;
use crate::options::{Opt, DATABASE_URL, DATA_DIR, ENCRYPTION_KEY};
use crate::serve::{hidden, resolve_storage};
use crate::sources::{process_env, Env, Sources};
use crate::value::{self, EncryptionKey};

/// The options of `herald rotate-encryption-key` as given on the command line.
#[derive(clap::Args, Clone, Default)]
#[command(about = "Reseal every stored secret with a new encryption key", long_about = None)]
pub struct RotateKeyArgs {
    /// Where the database is, read as for `herald migrate`.
    #[command(flatten)]
    pub storage: MigrateArgs,
    #[arg(long, value_name = "KEYS", help = ENCRYPTION_KEY.help())]
    pub encryption_key: Option<String>,
    /// The new key (64 hex digits); generated when absent.
    #[arg(long, value_name = "KEY")]
    pub new_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RotateKeyConfig {
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    /// The keys the secrets are sealed with now; `None`: the data dir's key file.
    pub encryption_keys: Option<Vec<EncryptionKey>>,
    /// `None`: generate one.
    pub new_key: Option<EncryptionKey>,
}

impl RotateKeyArgs {
    pub fn resolve(&self) -> Result<RotateKeyConfig, ConfigError> {
        let env = process_env()?;
        self.resolve_with_env(|name| env.get(name).cloned())
    }

    pub fn resolve_with_env(&self, env: impl Fn(&str) -> Option<String>) -> Result<RotateKeyConfig, ConfigError> {
        let env: Env = &env;
        let flags: [(&'static Opt, Option<&str>); 3] = [
            (&DATA_DIR, self.storage.data_dir.as_deref()),
            (&DATABASE_URL, self.storage.database_url.as_deref()),
            (&ENCRYPTION_KEY, self.encryption_key.as_deref()),
        ];
        let sources = Sources::gather(&flags, self.storage.config.as_deref(), env)?;
        let (data_dir, database) = resolve_storage(&sources)?;
        let new_key = match &self.new_key {
            None => None,
            Some(text) => Some(text.parse().map_err(|problem| ConfigError::Invalid {
                option: "--new-key",
                origin: Origin::Flag,
                problem,
            })?),
        };
        Ok(RotateKeyConfig {
            data_dir,
            database,
            encryption_keys: sources.optional(&ENCRYPTION_KEY, value::encryption_keys)?,
            new_key,
        })
    }
}

impl fmt::Debug for RotateKeyArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotateKeyArgs")
            .field("storage", &self.storage)
            .field("encryption_key", &hidden(&self.encryption_key))
            .field("new_key", &hidden(&self.new_key))
            .finish()
    }
}
