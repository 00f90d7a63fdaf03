//! The four layers a value may come from, and the lookup through them: flag, environment, config file, defaults.
//!
//! Every layer is reduced to text per option (with where it came from), so one parser per option serves all four
//! layers and reports the same message wherever a bad value was written. A config file's TOML values become text
//! too: a boolean `true` is `"true"`, an integer `512` is `"512"`, and a list of delays is joined with commas.

use std::collections::HashMap;
use std::env::VarError;
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, InvalidValue, Origin};
use crate::options::{self, Opt, CONFIG, FILE_OPTIONS};
use crate::DEFAULTS_TOML;

/// A value as written, before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Raw {
    pub text: String,
    pub origin: Origin,
}

/// One layer: option key → value.
type Layer = HashMap<&'static str, Result<Raw, (Origin, InvalidValue)>>;

/// The environment as a function from a variable's name to its value. `resolve()` reads the process environment
/// into one; tests pass their own, so they never touch the real environment.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads every `HERALD_*` variable this crate knows from the process environment, once.
pub(crate) fn process_env() -> Result<HashMap<&'static str, String>, ConfigError> {
    read_env(std::env::var)
}

fn read_env(
    var: impl Fn(&'static str) -> Result<String, VarError>,
) -> Result<HashMap<&'static str, String>, ConfigError> {
    let mut found = HashMap::new();
    for name in FILE_OPTIONS.iter().chain([&&CONFIG]).map(|opt| opt.env) {
        match var(name) {
            Ok(value) => {
                found.insert(name, value);
            }
            Err(VarError::NotPresent) => {}
            Err(VarError::NotUnicode(_)) => return Err(ConfigError::NotUnicode { var: name }),
        }
    }
    Ok(found)
}

/// The layers of one resolution, highest first.
pub(crate) struct Sources {
    layers: [Layer; 4],
}

impl Sources {
    /// Gathers the layers: `flags` as parsed by clap (`None` where a flag was not given), then the environment, the
    /// config file named by `--config` or `HERALD_CONFIG`, and the defaults. Only the config file is read here; no
    /// value is parsed yet, but a file that cannot be read or parsed, or has an unknown key, is an error at once.
    pub fn gather(
        flags: &[(&'static Opt, Option<&str>)],
        config: Option<&Path>,
        env: Env,
    ) -> Result<Self, ConfigError> {
        let flag_layer = flags
            .iter()
            .filter_map(|(opt, value)| Some((opt.key, Ok(Raw { text: (*value)?.to_string(), origin: Origin::Flag }))))
            .collect();
        let env_layer = FILE_OPTIONS
            .iter()
            .filter_map(|opt| {
                let text = non_empty(env(opt.env))?;
                Some((opt.key, Ok(Raw { text, origin: Origin::Env(opt.env) })))
            })
            .collect();
        let config = config.map(Path::to_path_buf).or_else(|| non_empty(env(CONFIG.env)).map(PathBuf::from));
        let file_layer = match config {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|cause| ConfigError::ReadFile { path: path.clone(), cause })?;
                parse_file(&text, &path, |key| Origin::File { key, path: path.clone() })?
            }
            None => Layer::new(),
        };
        let defaults = parse_file(DEFAULTS_TOML, Path::new("<built-in defaults>"), |_| Origin::Default)?;
        Ok(Self { layers: [flag_layer, env_layer, file_layer, defaults] })
    }

    /// The value of the highest layer that has one.
    fn raw(&self, opt: &Opt) -> Option<Result<&Raw, ConfigError>> {
        let found = self.layers.iter().find_map(|layer| layer.get(opt.key))?;
        Some(found.as_ref().map_err(|(origin, problem)| invalid(opt, origin.clone(), problem.clone())))
    }

    /// The option's value parsed, or `None` when no layer has one.
    pub fn optional<T>(
        &self,
        opt: &Opt,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Result<Option<T>, ConfigError> {
        match self.raw(opt) {
            None => Ok(None),
            Some(raw) => {
                let raw = raw?;
                parse(&raw.text).map(Some).map_err(|problem| invalid(opt, raw.origin.clone(), problem))
            }
        }
    }

    /// The option's value parsed; the defaults give every such option a value.
    pub fn required<T>(
        &self,
        opt: &Opt,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Result<T, ConfigError> {
        self.optional(opt, parse)?.ok_or(ConfigError::NoDefault { option: opt.flag })
    }
}

fn invalid(opt: &Opt, origin: Origin, problem: InvalidValue) -> ConfigError {
    ConfigError::Invalid { option: opt.flag, origin, problem }
}

/// An unset and an empty environment variable mean the same: no value (as with `HERALD_X= herald serve`).
fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Parses a config file (or the defaults) into a layer. A value of the wrong TOML type is kept as an error in the
/// layer, reported only if that value is the one that wins.
fn parse_file(text: &str, path: &Path, origin: impl Fn(&'static str) -> Origin) -> Result<Layer, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|span| line_and_column(text, span.start)).unwrap_or((1, 1));
        let message = e.message().replace('\n', " ");
        ConfigError::ParseFile { path: path.to_path_buf(), line, column, message }
    })?;
    let mut layer = Layer::new();
    for (key, value) in table {
        let opt = options::by_key(&key).ok_or_else(|| ConfigError::UnknownKey { key, path: path.to_path_buf() })?;
        let origin = origin(opt.key);
        let entry = match text_of(&value, opt.list) {
            Ok(text) => Ok(Raw { text, origin }),
            Err(problem) => Err((origin, problem)),
        };
        layer.insert(opt.key, entry);
    }
    Ok(layer)
}

/// A TOML value as the text a flag would give. Arrays are accepted only for list options.
fn text_of(value: &toml::Value, list: bool) -> Result<String, InvalidValue> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Array(items) if list => {
            let items: Result<Vec<String>, InvalidValue> = items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s.clone()),
                    toml::Value::Integer(i) => Ok(i.to_string()),
                    other => Err(InvalidValue::WrongType { found: type_name(other) }),
                })
                .collect();
            Ok(items?.join(","))
        }
        other => Err(InvalidValue::WrongType { found: type_name(other) }),
    }
}

fn type_name(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// The default of an option as the defaults file writes it, for `--help`.
pub(crate) fn default_text(key: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(DEFAULTS_TOML).ok()?;
    text_of(table.get(key)?, true).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_but_database_url_and_admin_token_has_a_default() {
        let defaults = parse_file(DEFAULTS_TOML, Path::new("defaults"), |_| Origin::Default).unwrap();
        for opt in FILE_OPTIONS {
            let has_default = defaults.contains_key(opt.key);
            assert_eq!(has_default, opt.no_default.is_none(), "{}", opt.key);
        }
    }

    #[test]
    fn toml_values_become_the_text_a_flag_would_give() {
        let table: toml::Table =
            toml::from_str("a = \"x\"\nb = 512\nc = true\nd = [\"60s\", 120]\ne = 1.5\nf = [true]\n").unwrap();
        assert_eq!(text_of(&table["a"], false), Ok("x".into()));
        assert_eq!(text_of(&table["b"], false), Ok("512".into()));
        assert_eq!(text_of(&table["c"], false), Ok("true".into()));
        assert_eq!(text_of(&table["d"], true), Ok("60s,120".into()));
        assert_eq!(text_of(&table["d"], false), Err(InvalidValue::WrongType { found: "an array" }));
        assert_eq!(text_of(&table["e"], false), Err(InvalidValue::WrongType { found: "a float" }));
        assert_eq!(text_of(&table["f"], true), Err(InvalidValue::WrongType { found: "a boolean" }));
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_and_column("ab\ncd\n", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd\n", 4), (2, 2));
        assert_eq!(line_and_column("é\nx", 3), (2, 1));
    }

    #[test]
    fn a_variable_that_is_not_unicode_is_named() {
        let err = read_env(|name| {
            if name == "HERALD_LOG" {
                Err(VarError::NotUnicode("\u{fffd}".into()))
            } else {
                Err(VarError::NotPresent)
            }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "environment variable HERALD_LOG is not valid UTF-8");
    }

    #[test]
    fn the_process_environment_is_read_only_for_known_variables() {
        let seen = std::cell::RefCell::new(Vec::new());
        read_env(|name| {
            seen.borrow_mut().push(name);
            Err(VarError::NotPresent)
        })
        .unwrap();
        let seen = seen.into_inner();
        assert_eq!(seen.len(), FILE_OPTIONS.len() + 1);
        assert!(seen.iter().all(|name| name.starts_with("HERALD_")));
    }
}
