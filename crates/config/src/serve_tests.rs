//! Resolution of `herald serve`'s options. The environment is always a map passed in (`resolve_with_env`), never
//! the process environment, so these tests run in parallel without interfering.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use tempfile::TempDir;

use super::*;
use crate::options::FILE_OPTIONS;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

/// `ServeArgs` as clap parses `herald serve <argv>`.
fn parse(argv: &[&str]) -> ServeArgs {
    Cli::try_parse_from(std::iter::once("herald").chain(argv.iter().copied())).unwrap().args
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// An environment holding exactly `vars`.
fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// A config file holding `text`, in a directory that lives as long as the returned guard.
fn config_file(text: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn with_file(path: &Path, args: ServeArgs) -> ServeArgs {
    ServeArgs { config: Some(path.to_path_buf()), ..args }
}

fn error(args: &ServeArgs, env: impl Fn(&str) -> Option<String>) -> String {
    args.resolve_with_env(env).unwrap_err().to_string()
}

#[test]
fn without_any_option_the_documented_defaults_apply() {
    let config = ServeArgs::default().resolve_with_env(no_env).unwrap();
    assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(config.data_dir, Path::new("./herald-data"));
    assert_eq!(config.database, DatabaseUrl::Sqlite { path: PathBuf::from("./herald-data/herald.db") });
    assert_eq!(config.admin_token, None);
    assert_eq!(config.retry_schedule, RetrySchedule::default());
    assert_eq!(config.delivery_timeout, Duration::from_secs(10));
    assert!(!config.allow_http_targets);
    assert!(!config.allow_private_targets);
    assert_eq!(config.auto_disable_after, Duration::from_secs(5 * 86_400));
    assert_eq!(config.retention, Duration::from_secs(30 * 86_400));
    assert_eq!(config.max_in_flight, 512);
    assert_eq!(config.max_in_flight_per_webhook, 16);
    assert_eq!(config.lease, Duration::from_secs(30));
    assert_eq!(config.log_format, LogFormat::Pretty);
    assert_eq!(config.log_filter, "info");
}

/// One option seen through every layer: the value each layer gives and what the config then says.
struct Layered {
    flag: &'static str,
    env: &'static str,
    file_line: &'static str,
    env_value: &'static str,
    flag_value: &'static str,
    read: fn(&ServeConfig) -> String,
    /// What the config says with the defaults only, then with the file, the environment and the flag added in turn.
    expected: [&'static str; 4],
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_defaults() {
    let cases = [
        Layered {
            flag: "--listen",
            env: "HERALD_LISTEN",
            file_line: "listen = \"0.0.0.0:1\"",
            env_value: "0.0.0.0:2",
            flag_value: "0.0.0.0:3",
            read: |c| c.listen.to_string(),
            expected: ["127.0.0.1:8080", "0.0.0.0:1", "0.0.0.0:2", "0.0.0.0:3"],
        },
        Layered {
            flag: "--delivery-timeout",
            env: "HERALD_DELIVERY_TIMEOUT",
            file_line: "delivery_timeout = 20",
            env_value: "250ms",
            flag_value: "1m",
            read: |c| format!("{:?}", c.delivery_timeout),
            expected: ["10s", "20s", "250ms", "60s"],
        },
        Layered {
            flag: "--max-in-flight",
            env: "HERALD_MAX_IN_FLIGHT",
            file_line: "max_in_flight = 100",
            env_value: "200",
            flag_value: "300",
            read: |c| c.max_in_flight.to_string(),
            expected: ["512", "100", "200", "300"],
        },
        Layered {
            flag: "--allow-http-targets",
            env: "HERALD_ALLOW_HTTP_TARGETS",
            file_line: "allow_http_targets = true",
            env_value: "0",
            flag_value: "",
            read: |c| c.allow_http_targets.to_string(),
            expected: ["false", "true", "false", "true"],
        },
        Layered {
            flag: "--retry-schedule",
            env: "HERALD_RETRY_SCHEDULE",
            file_line: "retry_schedule = [\"1s\", \"2s\"]",
            env_value: "5s",
            flag_value: "",
            read: |c| c.retry_schedule.to_string(),
            expected: ["60s,120s,300s,600s,900s", "1s,2s", "5s", ""],
        },
        Layered {
            flag: "--log-format",
            env: "HERALD_LOG_FORMAT",
            file_line: "log_format = \"json\"",
            env_value: "pretty",
            flag_value: "json",
            read: |c| format!("{:?}", c.log_format),
            expected: ["Pretty", "Json", "Pretty", "Json"],
        },
        Layered {
            flag: "--log",
            env: "HERALD_LOG",
            file_line: "log = \"warn\"",
            env_value: "debug",
            flag_value: "herald=trace",
            read: |c| c.log_filter.clone(),
            expected: ["info", "warn", "debug", "herald=trace"],
        },
        Layered {
            flag: "--admin-token",
            env: "HERALD_ADMIN_TOKEN",
            file_line: "admin_token = \"file-token-0123456789\"",
            env_value: "env-token-0123456789",
            flag_value: "flag-token-0123456789",
            read: |c| format!("{:?}", c.admin_token),
            expected: [
                "None",
                "Some(\"file-token-0123456789\")",
                "Some(\"env-token-0123456789\")",
                "Some(\"flag-token-0123456789\")",
            ],
        },
    ];
    for case in cases {
        let (_dir, file) = config_file(case.file_line);
        let env = env_of(&[(case.env, case.env_value)]);
        // A boolean flag given alone means true; an empty list flag means no retries.
        let flag_arg = if case.flag == "--allow-http-targets" {
            case.flag.to_string()
        } else {
            format!("{}={}", case.flag, case.flag_value)
        };
        let with_flag = parse(&[&flag_arg]);
        let layers = [
            ServeArgs::default().resolve_with_env(no_env),
            with_file(&file, ServeArgs::default()).resolve_with_env(no_env),
            with_file(&file, ServeArgs::default()).resolve_with_env(&env),
            with_file(&file, with_flag).resolve_with_env(&env),
        ];
        let seen: Vec<String> = layers.iter().map(|config| (case.read)(config.as_ref().unwrap())).collect();
        assert_eq!(seen, case.expected, "{}", case.flag);
    }
}

#[test]
fn the_default_database_follows_the_data_dir_from_any_layer() {
    let database = |args: &ServeArgs, env: &dyn Fn(&str) -> Option<String>| {
        args.resolve_with_env(env).unwrap().database.to_string()
    };
    let (_dir, file) = config_file("data_dir = \"/srv/file\"");
    let from_file = with_file(&file, ServeArgs::default());
    assert_eq!(database(&from_file, &no_env), "sqlite:///srv/file/herald.db");
    let env = env_of(&[("HERALD_DATA_DIR", "env-dir")]);
    assert_eq!(database(&from_file, &env), "sqlite://env-dir/herald.db");
    let from_flag = with_file(&file, parse(&["--data-dir", "/srv/flag"]));
    assert_eq!(database(&from_flag, &env), "sqlite:///srv/flag/herald.db");
    assert_eq!(from_flag.resolve_with_env(&env).unwrap().data_dir, Path::new("/srv/flag"));

    // A database URL from any layer, even one below the data dir's, wins over the derived one.
    let (_dir, file) = config_file("database_url = \"postgres://db/herald\"");
    assert_eq!(database(&with_file(&file, parse(&["--data-dir", "/srv/flag"])), &no_env), "postgres://db/herald");
}

/// Every option with a bad value, and the reason the message must give.
const BAD_VALUES: [(&str, &str, &str, &str); 28] = [
    (
        "listen",
        "--listen",
        "localhost:80",
        "\"localhost:80\" is not an IP address and port such as 127.0.0.1:8080 or [::]:8080",
    ),
    ("data_dir", "--data-dir", " ", "the value is empty"),
    ("database_url", "--database-url", "mysql://h/db", "\"mysql://h/db\" is not a sqlite:// or postgres:// URL"),
    ("admin_token", "--admin-token", "tooshort", "the token has 8 characters, it must have at least 16"),
    (
        "retry_schedule",
        "--retry-schedule",
        "60s,soon",
        "\"60s,soon\": delay 2 (\"soon\") is not a duration such as 250ms, 2s, 5m or a number of seconds",
    ),
    ("delivery_timeout", "--delivery-timeout", "abc", "\"abc\" is not a duration such as 250ms, 2s or 5m"),
    ("allow_http_targets", "--allow-http-targets", "yes", "\"yes\" is not one of true, false, 1, 0"),
    ("allow_private_targets", "--allow-private-targets", "2", "\"2\" is not one of true, false, 1, 0"),
    ("deliver", "--deliver", "sometimes", "\"sometimes\" is not one of true, false, 1, 0"),
    (
        "auto_disable_after",
        "--auto-disable-after",
        "0s",
        "\"0s\" is out of range: it must be more than 0 and at most 365d",
    ),
    ("retention", "--retention", "forever", "\"forever\" is not a duration such as 250ms, 2s or 5m"),
    ("max_in_flight", "--max-in-flight", "0", "\"0\" is out of range: it must be between 1 and 100000"),
    ("max_in_flight_per_webhook", "--max-in-flight-per-webhook", "many", "\"many\" is not a whole number"),
    ("lease", "--lease", "2h", "\"2h\" is out of range: it must be between 1s and 1h"),
    ("log_format", "--log-format", "xml", "\"xml\" is not one of pretty, json"),
    ("log", "--log", "", "the value is empty"),
    ("integrity_check", "--integrity-check", "maybe", "\"maybe\" is not one of true, false, 1, 0"),
    ("header_read_timeout", "--header-read-timeout", "0s", "\"0s\" is out of range: it must be between 1s and 10m"),
    ("body_read_timeout", "--body-read-timeout", "1h", "\"1h\" is out of range: it must be between 1s and 10m"),
    ("max_connections", "--max-connections", "0", "\"0\" is out of range: it must be between 1 and 1000000"),
    (
        "max_pending_publishes",
        "--max-pending-publishes",
        "0",
        "\"0\" is out of range: it must be between 1 and 1000000",
    ),
    (
        "delivery_proxy",
        "--delivery-proxy",
        "socks5://p:1080",
        "\"socks5://p:1080\" is not an http:// or https:// proxy URL with a host",
    ),
    ("encryption_key", "--encryption-key", "abcd", "an encryption key is 32 bytes written as 64 hexadecimal digits"),
    (
        "public_url",
        "--public-url",
        "herald.example.com",
        "\"herald.example.com\" is not an http:// or https:// URL with a host, such as https://herald.example.com",
    ),
    ("trusted_proxy", "--trusted-proxy", "maybe", "\"maybe\" is not one of true, false, 1, 0"),
    (
        "logs_page_bytes",
        "--logs-page-bytes",
        "1000",
        "\"1000\" is out of range: it must be between 65536 and 268435456",
    ),
    (
        "otlp_endpoint",
        "--otlp-endpoint",
        "grpc://c:4317",
        "\"grpc://c:4317\" is not an http:// or https:// URL with a host",
    ),
    ("sources", "--source", "amqp://h/", "\"amqp://h/\" is not a broker source: queue=NAME is required"),
];

#[test]
fn sources_are_repeated_flags_a_comma_separated_variable_or_a_file_list() {
    let names = |config: ServeConfig| config.sources.into_iter().map(|s| s.name).collect::<Vec<_>>();
    let (a, b) = ("amqp://h/?queue=q", "redis://h/?stream=s&group=g");
    assert_eq!(names(parse(&["--source", a, "--source", b]).resolve_with_env(no_env).unwrap()), [a, b]);
    let env = env_of(&[("HERALD_SOURCES", &format!("{a},{b}"))]);
    assert_eq!(names(ServeArgs::default().resolve_with_env(env).unwrap()), [a, b]);
    let (_dir, file) = config_file(&format!("sources = [{a:?}, {b:?}]"));
    assert_eq!(names(with_file(&file, ServeArgs::default()).resolve_with_env(no_env).unwrap()), [a, b]);
    assert!(ServeArgs::default().resolve_with_env(no_env).unwrap().sources.is_empty());
}

#[test]
fn every_option_has_a_bad_value_test() {
    let keys: Vec<&str> = BAD_VALUES.iter().map(|(key, ..)| *key).collect();
    let all: Vec<&str> = FILE_OPTIONS.iter().map(|opt| opt.key).collect();
    assert_eq!(keys, all);
}

#[test]
fn a_bad_flag_is_named_by_its_flag() {
    for (_, flag, bad, reason) in BAD_VALUES {
        let args = parse(&[&format!("{flag}={bad}")]);
        assert_eq!(error(&args, no_env), format!("invalid {flag}: {reason}"));
    }
}

#[test]
fn a_bad_environment_variable_is_named_with_the_flag() {
    for (key, flag, bad, reason) in BAD_VALUES {
        let var = format!("HERALD_{}", key.to_uppercase());
        if bad.is_empty() {
            continue; // An empty variable means "not set": see the test about it.
        }
        assert_eq!(
            error(&ServeArgs::default(), env_of(&[(&var, bad)])),
            format!("invalid {flag} (from {var}): {reason}")
        );
    }
}

#[test]
fn a_bad_file_value_is_named_with_its_key_and_file() {
    for (key, flag, bad, reason) in BAD_VALUES {
        let (_dir, file) = config_file(&format!("{key} = {bad:?}"));
        let args = with_file(&file, ServeArgs::default());
        let expected = format!("invalid {flag} (from key {key} in config file {}): {reason}", file.display());
        assert_eq!(error(&args, no_env), expected);
    }
}

#[test]
fn a_file_value_of_the_wrong_toml_type_is_refused() {
    for (line, expected) in [
        ("listen = 1.5", "invalid --listen (from key listen in config file {}): the value may not be a float"),
        ("lease = [1, 2]", "invalid --lease (from key lease in config file {}): the value may not be an array"),
        ("log = { a = 1 }", "invalid --log (from key log in config file {}): the value may not be a table"),
        (
            "retry_schedule = [true]",
            "invalid --retry-schedule (from key retry_schedule in config file {}): the value may not be a boolean",
        ),
    ] {
        let (_dir, file) = config_file(line);
        let expected = expected.replace("{}", &file.display().to_string());
        assert_eq!(error(&with_file(&file, ServeArgs::default()), no_env), expected, "{line}");
    }
}

#[test]
fn only_the_winning_value_is_checked() {
    let (_dir, file) = config_file("lease = \"forever\"");
    let config = with_file(&file, ServeArgs::default()).resolve_with_env(env_of(&[("HERALD_LEASE", "10s")])).unwrap();
    assert_eq!(config.lease, Duration::from_secs(10));
}

#[test]
fn an_unknown_key_in_the_config_file_is_an_error() {
    let (_dir, file) = config_file("listen = \"0.0.0.0:0\"\nfoo = 1\n");
    let expected = format!("unknown key \"foo\" in config file {}", file.display());
    assert_eq!(error(&with_file(&file, ServeArgs::default()), no_env), expected);
    let (_dir, file) = config_file("[serve]\nlisten = \"0.0.0.0:0\"\n");
    let expected = format!("unknown key \"serve\" in config file {}", file.display());
    assert_eq!(error(&with_file(&file, ServeArgs::default()), no_env), expected);
}

#[test]
fn a_missing_config_file_is_an_error_naming_it() {
    let args = parse(&["--config", "/nonexistent/herald.toml"]);
    let message = error(&args, no_env);
    assert!(
        message.starts_with("cannot read config file /nonexistent/herald.toml: No such file or directory"),
        "{message}"
    );
}

#[test]
fn a_config_file_that_is_not_toml_is_an_error_with_its_position() {
    let (_dir, file) = config_file("listen = \"0.0.0.0:0\"\nlease = \n");
    let message = error(&with_file(&file, ServeArgs::default()), no_env);
    let prefix = format!("cannot parse config file {} at line 2, column 9: ", file.display());
    assert!(message.starts_with(&prefix), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn the_config_file_comes_from_the_flag_or_else_herald_config() {
    let (_dir, env_file) = config_file("listen = \"0.0.0.0:1\"");
    let (_dir2, flag_file) = config_file("listen = \"0.0.0.0:2\"");
    let env = env_of(&[("HERALD_CONFIG", env_file.to_str().unwrap())]);
    assert_eq!(ServeArgs::default().resolve_with_env(&env).unwrap().listen.port(), 1);
    let args = parse(&["--config", flag_file.to_str().unwrap()]);
    assert_eq!(args.resolve_with_env(&env).unwrap().listen.port(), 2);
}

#[test]
fn retry_schedule_comes_from_the_file_as_text_or_as_a_list() {
    for line in ["retry_schedule = \"250ms, 2s,5m\"", "retry_schedule = [\"250ms\", 2, \"5m\"]"] {
        let (_dir, file) = config_file(line);
        let config = with_file(&file, ServeArgs::default()).resolve_with_env(no_env).unwrap();
        let expected =
            RetrySchedule::new(vec![Duration::from_millis(250), Duration::from_secs(2), Duration::from_secs(300)]);
        assert_eq!(config.retry_schedule, expected, "{line}");
    }
    let (_dir, file) = config_file("retry_schedule = []");
    let config = with_file(&file, ServeArgs::default()).resolve_with_env(no_env).unwrap();
    assert_eq!(config.retry_schedule.max_attempts(false), 1);
}

#[test]
fn booleans_take_a_bare_flag_an_explicit_flag_value_env_words_and_toml_booleans() {
    let http = |args: ServeArgs, env: &[(&str, &str)]| args.resolve_with_env(env_of(env)).unwrap().allow_http_targets;
    assert!(http(parse(&["--allow-http-targets"]), &[]));
    assert!(!http(parse(&["--allow-http-targets=false"]), &[("HERALD_ALLOW_HTTP_TARGETS", "true")]));
    assert!(http(parse(&["--allow-http-targets=1"]), &[]));
    for (value, expected) in [("true", true), ("1", true), ("false", false), ("0", false)] {
        assert_eq!(http(ServeArgs::default(), &[("HERALD_ALLOW_HTTP_TARGETS", value)]), expected, "{value}");
    }
    for (line, expected) in [("true", true), ("\"1\"", true), ("0", false), ("\"false\"", false)] {
        let (_dir, file) = config_file(&format!("allow_private_targets = {line}"));
        let config = with_file(&file, ServeArgs::default()).resolve_with_env(no_env).unwrap();
        assert_eq!(config.allow_private_targets, expected, "{line}");
    }
    // A bare boolean flag takes no separate value, so it cannot swallow the next argument.
    let args = parse(&["--allow-private-targets", "--listen", "0.0.0.0:0"]);
    assert_eq!(args.allow_private_targets.as_deref(), Some("true"));
    assert_eq!(args.listen.as_deref(), Some("0.0.0.0:0"));
    assert!(Cli::try_parse_from(["herald", "--allow-private-targets", "true"]).is_err());
}

#[test]
fn an_empty_environment_variable_counts_as_unset() {
    let env = env_of(&[("HERALD_LISTEN", ""), ("HERALD_CONFIG", ""), ("HERALD_ADMIN_TOKEN", "")]);
    let config = ServeArgs::default().resolve_with_env(env).unwrap();
    assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(config.admin_token, None);
}

#[test]
fn help_shows_each_options_variable_and_default_from_the_defaults_file() {
    Cli::command().debug_assert();
    let help = Cli::command().render_long_help().to_string();
    for opt in FILE_OPTIONS.iter().chain([&&crate::options::CONFIG]) {
        assert!(help.contains(opt.flag), "{} missing from help:\n{help}", opt.flag);
        assert!(help.contains(&format!("[env: {}]", opt.env)), "{} missing from help:\n{help}", opt.env);
    }
    for default in
        ["[default: 127.0.0.1:8080]", "[default: 60s,120s,300s,600s,900s]", "[default: false]", "[default: 512]"]
    {
        assert!(help.contains(default), "{default} missing from help:\n{help}");
    }
}

#[test]
fn config_md_documents_every_option() {
    let doc = include_str!("../../../docs/CONFIG.md");
    for opt in FILE_OPTIONS.iter().chain([&&crate::options::CONFIG]) {
        for spelling in [opt.flag, opt.env] {
            assert!(doc.contains(&format!("`{spelling}`")), "docs/CONFIG.md does not mention `{spelling}`");
        }
        if opt.key != "config" {
            assert!(doc.contains(&format!("`{}`", opt.key)), "docs/CONFIG.md does not mention `{}`", opt.key);
        }
    }
}

#[test]
fn debug_forms_hide_the_admin_token_and_the_database_password() {
    let args = parse(&["--admin-token", "secret-token-0123456789", "--database-url", "postgres://u:pw@db/herald"]);
    let config = args.resolve_with_env(no_env).unwrap();
    for debug in [format!("{args:?}"), format!("{config:?}")] {
        assert!(!debug.contains("secret-token"), "{debug}");
        assert!(!debug.contains("pw@"), "{debug}");
        assert!(debug.contains("admin_token: Some(\"***\")"), "{debug}");
    }
    assert_eq!(config.database, DatabaseUrl::Postgres { url: "postgres://u:pw@db/herald".into() });
}

#[test]
fn a_bad_admin_token_is_not_repeated_in_the_error() {
    let message = error(&ServeArgs::default(), env_of(&[("HERALD_ADMIN_TOKEN", "hunter2 hunter2 hunter2")]));
    assert_eq!(
        message,
        concat!(
            "invalid --admin-token (from HERALD_ADMIN_TOKEN): ",
            "the token may hold only printable ASCII characters, without spaces"
        )
    );
}
