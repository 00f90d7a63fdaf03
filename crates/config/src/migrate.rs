//! `herald migrate`'s options: only where the database is. It reads the same config file as `serve` (whose other
//! keys it accepts and leaves alone) and the same environment variables.

use std::fmt;
use std::path::PathBuf;

use crate::database::{redact, DatabaseUrl};
use crate::error::ConfigError;
use crate::options::{Opt, CONFIG, DATABASE_URL, DATA_DIR};
use crate::serve::resolve_storage;
use crate::sources::{process_env, Env, Sources};

/// The options of `herald migrate` as given on the command line; see [`crate::ServeArgs`] for how they resolve.
#[derive(clap::Args, Clone, Default)]
#[command(about = "Apply the database migrations and exit", long_about = None)]
pub struct MigrateArgs {
    #[arg(long, value_name = "FILE", help = CONFIG.help())]
    pub config: Option<PathBuf>,
    #[arg(long, value_name = "DIR", help = DATA_DIR.help())]
    pub data_dir: Option<String>,
    #[arg(long, value_name = "URL", help = DATABASE_URL.help())]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateConfig {
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
}

impl MigrateArgs {
    /// Resolves the options against the process environment, the config file and the defaults.
    pub fn resolve(&self) -> Result<MigrateConfig, ConfigError> {
        let env = process_env()?;
        self.resolve_with_env(|name| env.get(name).cloned())
    }

    /// [`MigrateArgs::resolve`] with `env` in place of the process environment (for tests).
    pub fn resolve_with_env(&self, env: impl Fn(&str) -> Option<String>) -> Result<MigrateConfig, ConfigError> {
        let env: Env = &env;
        let flags: [(&'static Opt, Option<&str>); 2] =
            [(&DATA_DIR, self.data_dir.as_deref()), (&DATABASE_URL, self.database_url.as_deref())];
        let sources = Sources::gather(&flags, self.config.as_deref(), env)?;
        let (data_dir, database) = resolve_storage(&sources)?;
        Ok(MigrateConfig { data_dir, database })
    }
}

impl fmt::Debug for MigrateArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigrateArgs")
            .field("config", &self.config)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn migrate_defaults_to_herald_db_in_the_default_data_dir() {
        let config = MigrateArgs::default().resolve_with_env(no_env).unwrap();
        assert_eq!(config.data_dir, Path::new("./herald-data"));
        assert_eq!(config.database, DatabaseUrl::default_in(Path::new("./herald-data")));
    }

    #[test]
    fn migrate_reads_flags_over_env_over_the_shared_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("herald.toml");
        std::fs::write(&file, "data_dir = \"/from/file\"\nlisten = \"not checked by migrate\"\nlease = \"1y\"\n")
            .unwrap();
        let args = MigrateArgs { config: Some(file.clone()), ..MigrateArgs::default() };
        let config = args.resolve_with_env(no_env).unwrap();
        assert_eq!(config.database.to_string(), "sqlite:///from/file/herald.db");

        let env = |name: &str| (name == "HERALD_DATABASE_URL").then(|| "postgres://h/env".to_string());
        assert_eq!(args.resolve_with_env(env).unwrap().database.to_string(), "postgres://h/env");

        let args = MigrateArgs { database_url: Some("sqlite://flag.db".into()), ..args };
        assert_eq!(args.resolve_with_env(env).unwrap().database.to_string(), "sqlite://flag.db");
    }

    #[test]
    fn migrate_refuses_unknown_keys_and_bad_urls() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("herald.toml");
        std::fs::write(&file, "databse_url = \"sqlite://x.db\"\n").unwrap();
        let args = MigrateArgs { config: Some(file.clone()), ..MigrateArgs::default() };
        let err = args.resolve_with_env(no_env).unwrap_err().to_string();
        assert_eq!(err, format!("unknown key \"databse_url\" in config file {}", file.display()));

        let args = MigrateArgs { database_url: Some("mysql://u:pw@h/db".into()), ..MigrateArgs::default() };
        let err = args.resolve_with_env(no_env).unwrap_err().to_string();
        assert_eq!(err, "invalid --database-url: \"mysql://u:***@h/db\" is not a sqlite:// or postgres:// URL");
    }

    #[test]
    fn migrate_args_debug_hides_the_database_password() {
        let args = MigrateArgs { database_url: Some("postgres://u:pw@h/db".into()), ..MigrateArgs::default() };
        assert!(!format!("{args:?}").contains("pw@"), "{args:?}");
    }
}
