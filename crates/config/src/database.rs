//! Which database Herald uses: an SQLite file or a PostgreSQL server. A PostgreSQL URL may carry a password, so its
//! `Display` and `Debug` forms hide it; only the `url` field itself holds it, for the store to connect with.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://relative/path.db` (relative to the working directory) or `sqlite:///absolute/path.db`.
    Sqlite { path: PathBuf },
    /// `postgres://…` or `postgresql://…`, kept as written.
    Postgres { url: String },
}

/// Why a text is not a [`DatabaseUrl`]. Each message shows the URL with any password hidden.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("{url:?} is not a sqlite:// or postgres:// URL")]
    Scheme { url: String },
    #[error("{url:?} names no file: write sqlite://relative/path.db or sqlite:///absolute/path.db")]
    NoSqlitePath { url: String },
    #[error("{url:?} has query parameters or a fragment, which a sqlite URL may not have")]
    SqliteQuery { url: String },
    #[error("{url:?} names no server or database")]
    NoPostgresTarget { url: String },
}

impl DatabaseUrl {
    /// The default database: the SQLite file `herald.db` in the data directory.
    pub fn default_in(data_dir: &Path) -> Self {
        DatabaseUrl::Sqlite { path: data_dir.join("herald.db") }
    }
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = || redact(s);
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DatabaseUrlError::NoSqlitePath { url: url() });
            }
            if path.contains(['?', '#']) {
                return Err(DatabaseUrlError::SqliteQuery { url: url() });
            }
            return Ok(DatabaseUrl::Sqlite { path: PathBuf::from(path) });
        }
        for scheme in ["postgres://", "postgresql://"] {
            if let Some(rest) = s.strip_prefix(scheme) {
                if rest.is_empty() {
                    return Err(DatabaseUrlError::NoPostgresTarget { url: url() });
                }
                return Ok(DatabaseUrl::Postgres { url: s.to_string() });
            }
        }
        Err(DatabaseUrlError::Scheme { url: url() })
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            DatabaseUrl::Postgres { url } => f.debug_struct("Postgres").field("url", &redact(url)).finish(),
        }
    }
}

/// The URL with the password of its user info and any `password=` query parameter replaced by `***`.
///
/// The user info ends at the last `@` before the query: a password holding an unescaped `/` is hidden too (along
/// with some of the host, which is harmless), rather than shown.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let query_start = rest.find(['?', '#']).unwrap_or(rest.len());
    let (head, query) = rest.split_at(query_start);
    let head = match head.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => head.to_string(),
        },
        None => head.to_string(),
    };
    let query: Vec<String> = query
        .split('&')
        .map(|param| {
            let (lead, name) = match param.strip_prefix('?') {
                Some(name) => ("?", name),
                None => ("", param),
            };
            match name.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{lead}{key}=***"),
                _ => param.to_string(),
            }
        })
        .collect();
    format!("{scheme}://{head}{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(path: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        Ok(DatabaseUrl::Sqlite { path: PathBuf::from(path) })
    }

    #[test]
    fn sqlite_urls_name_a_relative_or_absolute_file() {
        assert_eq!("sqlite://herald.db".parse(), sqlite("herald.db"));
        assert_eq!("sqlite://./data/herald.db".parse(), sqlite("./data/herald.db"));
        assert_eq!("sqlite:///var/lib/herald/herald.db".parse(), sqlite("/var/lib/herald/herald.db"));
    }

    #[test]
    fn postgres_urls_are_kept_as_written() {
        for url in ["postgres://herald:secret@db:5432/herald?sslmode=require", "postgresql://localhost/herald"] {
            assert_eq!(url.parse(), Ok(DatabaseUrl::Postgres { url: url.to_string() }));
        }
    }

    #[test]
    fn other_urls_are_refused_with_the_reason() {
        let table = [
            ("mysql://root:hunter2@db/herald", DatabaseUrlError::Scheme { url: "mysql://root:***@db/herald".into() }),
            ("herald.db", DatabaseUrlError::Scheme { url: "herald.db".into() }),
            ("sqlite:herald.db", DatabaseUrlError::Scheme { url: "sqlite:herald.db".into() }),
            ("SQLITE://herald.db", DatabaseUrlError::Scheme { url: "SQLITE://herald.db".into() }),
            ("sqlite://", DatabaseUrlError::NoSqlitePath { url: "sqlite://".into() }),
            ("sqlite://h.db?mode=rwc", DatabaseUrlError::SqliteQuery { url: "sqlite://h.db?mode=rwc".into() }),
            ("postgres://", DatabaseUrlError::NoPostgresTarget { url: "postgres://".into() }),
        ];
        for (text, expected) in table {
            assert_eq!(text.parse::<DatabaseUrl>(), Err(expected), "{text}");
        }
    }

    #[test]
    fn display_round_trips_sqlite_and_hides_postgres_passwords() {
        for text in ["sqlite://herald.db", "sqlite:///var/lib/herald.db", "postgres://localhost/herald"] {
            assert_eq!(text.parse::<DatabaseUrl>().unwrap().to_string(), text);
        }
        let url: DatabaseUrl = "postgres://herald:s3cr%2Ft@db:5432/herald?sslmode=require".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://herald:***@db:5432/herald?sslmode=require");
        assert!(!format!("{url:?}").contains("s3cr"), "{url:?}");
    }

    #[test]
    fn redact_hides_every_form_of_password() {
        let table = [
            ("postgres://u:p@h/db", "postgres://u:***@h/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h/db", "postgres://h/db"),
            ("postgres://u:pa/ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
            (
                "postgres://h/db?user=u&password=p&sslmode=verify-full",
                "postgres://h/db?user=u&password=***&sslmode=verify-full",
            ),
            ("postgres://h/db?password=p", "postgres://h/db?password=***"),
            ("not a url", "not a url"),
        ];
        for (url, expected) in table {
            assert_eq!(redact(url), expected, "{url}");
        }
    }

    #[test]
    fn the_default_database_is_herald_db_in_the_data_dir() {
        assert_eq!(
            DatabaseUrl::default_in(Path::new("./herald-data")),
            DatabaseUrl::Sqlite { path: PathBuf::from("./herald-data/herald.db") }
        );
        assert_eq!(DatabaseUrl::default_in(Path::new("/srv/h")).to_string(), "sqlite:///srv/h/herald.db");
    }
}
