//! Why a configuration was refused. Each message is one line that a person can act on: the option by its flag, the
//! layer the bad value came from, and what is wrong with it. Secrets are never repeated in a message.
//!
//! The messages already contain their causes, so these errors expose no `source()`: printing the chain would say
//! everything twice.

use std::fmt;
use std::io;
use std::path::PathBuf;

use herald_domain::retry::RetryScheduleError;

use crate::database::DatabaseUrlError;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// A key of the config file.
    File { key: &'static str, path: PathBuf },
    /// The built-in defaults.
    Default,
}

impl Origin {
    /// The part of a message after the flag: nothing for a flag, which names itself.
    fn suffix(&self) -> String {
        match self {
            Origin::Flag => String::new(),
            Origin::Env(var) => format!(" (from {var})"),
            Origin::File { key, path } => format!(" (from key {key} in config file {})", path.display()),
            Origin::Default => String::from(" (from the built-in defaults)"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("invalid {option}{}: {problem}", origin.suffix())]
    Invalid { option: &'static str, origin: Origin, problem: InvalidValue },
    #[error("cannot read config file {}: {cause}", path.display())]
    ReadFile { path: PathBuf, cause: io::Error },
    #[error("cannot parse config file {} at line {line}, column {column}: {message}", path.display())]
    ParseFile { path: PathBuf, line: usize, column: usize, message: String },
    #[error("unknown key {key:?} in config file {}", path.display())]
    UnknownKey { key: String, path: PathBuf },
    #[error("environment variable {var} is not valid UTF-8")]
    NotUnicode { var: &'static str },
    /// A fault of the build, not of the user: every test checks that the defaults give every option a value.
    #[error("the built-in defaults give no value for {option}")]
    NoDefault { option: &'static str },
}

/// What is wrong with a value. The value itself is quoted unless it is a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    #[error("the value is empty")]
    Empty,
    #[error("the value may not be {found}")]
    WrongType { found: &'static str },
    #[error("{value:?} is not a duration such as 250ms, 2s or 5m")]
    NotADuration { value: String },
    #[error("{value:?} is out of range: it must be {range}")]
    DurationOutOfRange { value: String, range: &'static str },
    #[error("{value:?} is not one of true, false, 1, 0")]
    NotABool { value: String },
    #[error("{value:?} is not a whole number")]
    NotANumber { value: String },
    #[error("{value:?} is out of range: it must be between {min} and {max}")]
    NumberOutOfRange { value: String, min: usize, max: usize },
    #[error("{value:?} is not an IP address and port such as 127.0.0.1:8080 or [::]:8080")]
    NotASocketAddr { value: String },
    #[error("{value:?}: {problem}")]
    RetrySchedule { value: String, problem: RetryScheduleError },
    #[error("{0}")]
    DatabaseUrl(DatabaseUrlError),
    #[error("the token has {len} characters, it must have at least {min}")]
    TokenTooShort { len: usize, min: usize },
    #[error("the token may hold only printable ASCII characters, without spaces")]
    TokenCharacters,
    #[error("{value:?} is not one of pretty, json")]
    NotALogFormat { value: String },
    #[error("an encryption key is 32 bytes written as 64 hexadecimal digits")]
    NotAnEncryptionKey,
    #[error("{value:?} is not an http:// or https:// proxy URL with a host")]
    NotAProxyUrl { value: String },
    #[error("{value:?} is not an http:// or https:// URL with a host")]
    NotAnHttpUrl { value: String },
    #[error("{value:?} is not an http:// or https:// URL with a host, such as https://herald.example.com")]
    NotAPublicUrl { value: String },
    #[error("{value:?} is not a broker source: {problem}")]
    NotASource { value: String, problem: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag => f.write_str("the command line"),
            Origin::Env(var) => f.write_str(var),
            Origin::File { key, path } => write!(f, "key {key} in config file {}", path.display()),
            Origin::Default => f.write_str("the built-in defaults"),
        }
    }
}
