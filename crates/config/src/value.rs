//! Parsers from a value's text to its type, with the rules each option's value must follow. Surrounding spaces are
//! ignored everywhere but in the admin token, which is a secret taken exactly as written.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use herald_domain::retry::parse_duration;
use herald_domain::RetrySchedule;

use crate::database::DatabaseUrl;
use crate::error::InvalidValue;
use crate::serve::LogFormat;

/// The shortest admin token accepted: shorter ones are guessable.
pub(crate) const ADMIN_TOKEN_MIN_LEN: usize = 16;

/// The range a duration option must lie in, both ends included.
pub(crate) struct DurationRange {
    pub min: Duration,
    pub max: Duration,
    /// The range in words, for the error message.
    pub text: &'static str,
}

const DAY: u64 = 86_400;

/// A limit of zero would fail every attempt; over five minutes one slow target would hold a worker slot too long.
pub(crate) const DELIVERY_TIMEOUT_RANGE: DurationRange =
    DurationRange { min: Duration::from_nanos(1), max: Duration::from_secs(300), text: "more than 0 and at most 5m" };
pub(crate) const AUTO_DISABLE_AFTER_RANGE: DurationRange = DurationRange {
    min: Duration::from_nanos(1),
    max: Duration::from_secs(365 * DAY),
    text: "more than 0 and at most 365d",
};
pub(crate) const RETENTION_RANGE: DurationRange = DurationRange {
    min: Duration::from_nanos(1),
    max: Duration::from_secs(3650 * DAY),
    text: "more than 0 and at most 3650d",
};
/// Below a second, heartbeats could not keep up and nodes would take each other's deliveries; over an hour, the
/// deliveries of a node that died would wait that long.
pub(crate) const LEASE_RANGE: DurationRange =
    DurationRange { min: Duration::from_secs(1), max: Duration::from_secs(3600), text: "between 1s and 1h" };

/// Server read timeouts: under a second, a client on a slow link could not send its headers; over ten minutes, a
/// slow client would hold a connection that long.
pub(crate) const SERVER_TIMEOUT_RANGE: DurationRange =
    DurationRange { min: Duration::from_secs(1), max: Duration::from_secs(600), text: "between 1s and 10m" };

/// A key sealing secrets at rest: 32 bytes. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey(pub [u8; 32]);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(***)")
    }
}

impl std::str::FromStr for EncryptionKey {
    type Err = InvalidValue;

    /// 64 hexadecimal digits.
    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        let text = text.trim();
        let mut key = [0u8; 32];
        if text.len() != 64 || hex::decode_to_slice(text, &mut key).is_err() {
            return Err(InvalidValue::NotAnEncryptionKey);
        }
        Ok(EncryptionKey(key))
    }
}

/// One key or a comma-separated list of them (the first seals, all unseal).
pub(crate) fn encryption_keys(text: &str) -> Result<Vec<EncryptionKey>, InvalidValue> {
    text.split(',').map(str::parse).collect()
}

/// An `http://` or `https://` URL with a host (a collector's traces endpoint).
pub(crate) fn http_url(text: &str) -> Result<url::Url, InvalidValue> {
    let bad = || InvalidValue::NotAnHttpUrl { value: crate::database::redact(text.trim()) };
    let url = url::Url::parse(text.trim()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(url)
}

/// An `http://` or `https://` proxy URL with a host.
pub(crate) fn proxy_url(text: &str) -> Result<url::Url, InvalidValue> {
    let bad = || InvalidValue::NotAProxyUrl { value: crate::database::redact(text.trim()) };
    let url = url::Url::parse(text.trim()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(url)
}

pub(crate) fn socket_addr(text: &str) -> Result<SocketAddr, InvalidValue> {
    text.trim().parse().map_err(|_| InvalidValue::NotASocketAddr { value: text.to_string() })
}

pub(crate) fn path(text: &str) -> Result<PathBuf, InvalidValue> {
    match text.trim() {
        "" => Err(InvalidValue::Empty),
        path => Ok(PathBuf::from(path)),
    }
}

pub(crate) fn database_url(text: &str) -> Result<DatabaseUrl, InvalidValue> {
    text.trim().parse().map_err(InvalidValue::DatabaseUrl)
}

/// A bearer token: at least 16 characters, printable ASCII without spaces (it travels in an HTTP header).
pub(crate) fn admin_token(text: &str) -> Result<String, InvalidValue> {
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InvalidValue::TokenCharacters);
    }
    if text.len() < ADMIN_TOKEN_MIN_LEN {
        return Err(InvalidValue::TokenTooShort { len: text.len(), min: ADMIN_TOKEN_MIN_LEN });
    }
    Ok(text.to_string())
}

pub(crate) fn retry_schedule(text: &str) -> Result<RetrySchedule, InvalidValue> {
    text.parse().map_err(|problem| InvalidValue::RetrySchedule { value: text.to_string(), problem })
}

pub(crate) fn duration(range: DurationRange) -> impl FnOnce(&str) -> Result<Duration, InvalidValue> {
    move |text| {
        let value = || text.to_string();
        let duration = parse_duration(text).ok_or_else(|| InvalidValue::NotADuration { value: value() })?;
        if duration < range.min || duration > range.max {
            return Err(InvalidValue::DurationOutOfRange { value: value(), range: range.text });
        }
        Ok(duration)
    }
}

/// `true`, `false`, `1` or `0`; the words in any case.
pub(crate) fn boolean(text: &str) -> Result<bool, InvalidValue> {
    match text.trim() {
        "1" => Ok(true),
        "0" => Ok(false),
        word if word.eq_ignore_ascii_case("true") => Ok(true),
        word if word.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(InvalidValue::NotABool { value: text.to_string() }),
    }
}

pub(crate) fn count(min: usize, max: usize) -> impl FnOnce(&str) -> Result<usize, InvalidValue> {
    move |text| {
        let trimmed = text.trim();
        if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue::NotANumber { value: text.to_string() });
        }
        match trimmed.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(InvalidValue::NumberOutOfRange { value: text.to_string(), min, max }),
        }
    }
}

pub(crate) fn log_format(text: &str) -> Result<LogFormat, InvalidValue> {
    match text.trim() {
        word if word.eq_ignore_ascii_case("pretty") => Ok(LogFormat::Pretty),
        word if word.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
        _ => Err(InvalidValue::NotALogFormat { value: text.to_string() }),
    }
}

/// Herald's public URL: `http://` or `https://` with a host, nothing after the path.
pub(crate) fn public_url(text: &str) -> Result<url::Url, InvalidValue> {
    let bad = || InvalidValue::NotAPublicUrl { value: text.to_string() };
    let url = url::Url::parse(text.trim()).map_err(|_| bad())?;
    let web = matches!(url.scheme(), "http" | "https");
    if !web || url.host_str().is_none_or(str::is_empty) || url.query().is_some() || url.fragment().is_some() {
        return Err(bad());
    }
    Ok(url)
}

/// A log filter is checked only for being there: its syntax is the logging library's to judge, at start-up.
pub(crate) fn log_filter(text: &str) -> Result<String, InvalidValue> {
    match text.trim() {
        "" => Err(InvalidValue::Empty),
        filter => Ok(filter.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_bare_seconds_within_their_range() {
        let parse = |text| duration(DELIVERY_TIMEOUT_RANGE)(text);
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse(" 2s "), Ok(Duration::from_secs(2)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("7"), Ok(Duration::from_secs(7)));
        assert_eq!(duration(RETENTION_RANGE)("30d"), Ok(Duration::from_secs(30 * DAY)));
        let out_of_range =
            |value: &str| InvalidValue::DurationOutOfRange { value: value.into(), range: DELIVERY_TIMEOUT_RANGE.text };
        assert_eq!(parse("0s"), Err(out_of_range("0s")));
        assert_eq!(parse("301s"), Err(out_of_range("301s")));
        assert_eq!(parse("abc"), Err(InvalidValue::NotADuration { value: "abc".into() }));
        assert_eq!(parse("-1s"), Err(InvalidValue::NotADuration { value: "-1s".into() }));
        assert_eq!(
            duration(LEASE_RANGE)("500ms").unwrap_err().to_string(),
            "\"500ms\" is out of range: it must be between 1s and 1h"
        );
    }

    #[test]
    fn booleans_are_true_false_1_or_0() {
        for (text, expected) in [("true", true), ("FALSE", false), ("1", true), ("0", false), (" true ", true)] {
            assert_eq!(boolean(text), Ok(expected), "{text}");
        }
        for text in ["yes", "no", "on", "2", "", "t"] {
            assert_eq!(boolean(text), Err(InvalidValue::NotABool { value: text.into() }), "{text}");
        }
    }

    #[test]
    fn counts_are_whole_numbers_within_their_range() {
        assert_eq!(count(1, 10)("10"), Ok(10));
        assert_eq!(count(1, 10)("1"), Ok(1));
        assert_eq!(count(1, 10)("0"), Err(InvalidValue::NumberOutOfRange { value: "0".into(), min: 1, max: 10 }));
        assert_eq!(
            count(1, 10)("99999999999999999999999").unwrap_err().to_string(),
            "\"99999999999999999999999\" is out of range: it must be between 1 and 10"
        );
        for text in ["-1", "1.5", "ten", "", "+3"] {
            assert_eq!(count(1, 10)(text), Err(InvalidValue::NotANumber { value: text.into() }), "{text}");
        }
    }

    #[test]
    fn admin_tokens_are_long_printable_ascii_and_never_echoed() {
        assert_eq!(admin_token("0123456789abcdef"), Ok("0123456789abcdef".into()));
        assert_eq!(admin_token("short"), Err(InvalidValue::TokenTooShort { len: 5, min: 16 }));
        assert_eq!(admin_token("0123456789 abcdef"), Err(InvalidValue::TokenCharacters));
        assert_eq!(admin_token("0123456789abcdef\n"), Err(InvalidValue::TokenCharacters));
        assert_eq!(admin_token("0123456789abcdeé"), Err(InvalidValue::TokenCharacters));
        assert!(!admin_token("hunter2").unwrap_err().to_string().contains("hunter2"));
    }

    #[test]
    fn socket_addresses_need_an_ip_and_a_port() {
        assert_eq!(socket_addr("0.0.0.0:0"), Ok("0.0.0.0:0".parse().unwrap()));
        assert_eq!(socket_addr("[::1]:8080"), Ok("[::1]:8080".parse().unwrap()));
        for text in ["localhost:8080", "127.0.0.1", ":8080", ""] {
            assert_eq!(socket_addr(text), Err(InvalidValue::NotASocketAddr { value: text.into() }), "{text}");
        }
    }

    #[test]
    fn public_urls_are_http_or_https_with_a_host() {
        assert_eq!(public_url(" https://herald.example.com ").unwrap().as_str(), "https://herald.example.com/");
        assert_eq!(public_url("http://10.0.0.1:8080/herald").unwrap().scheme(), "http");
        for text in ["herald.example.com", "ftp://h", "https://", "https://h/?a=1", "https://h/#x", "", "mailto:a@b"] {
            assert_eq!(public_url(text), Err(InvalidValue::NotAPublicUrl { value: text.into() }), "{text}");
        }
    }

    #[test]
    fn log_formats_and_filters() {
        assert_eq!(log_format("json"), Ok(LogFormat::Json));
        assert_eq!(log_format("Pretty"), Ok(LogFormat::Pretty));
        assert_eq!(log_format("xml"), Err(InvalidValue::NotALogFormat { value: "xml".into() }));
        assert_eq!(log_filter(" info,herald=debug "), Ok("info,herald=debug".into()));
        assert_eq!(log_filter("  "), Err(InvalidValue::Empty));
        assert_eq!(path(""), Err(InvalidValue::Empty));
    }
}
