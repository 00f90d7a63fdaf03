//! The HTTP side of an attempt: one `POST`, classified into an [`AttemptOutcome`].

use std::error::Error as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;

use crate::guard::{check_ip, Refused, TargetGuard};
use crate::AttemptOutcome;

/// At most this much of a response body is kept (contract §5.4).
pub const RESPONSE_KEEP_BYTES: usize = 4096;

/// The result of one `POST`.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub outcome: AttemptOutcome,
    pub duration: Duration,
    /// The first 4 KiB of the answer's body, when there was an answer.
    pub response: Option<String>,
    /// The `Retry-After` of a `429` or `503` answer (contract §9.3).
    pub retry_after: Option<RetryAfter>,
}

/// A `Retry-After` header received with a `429` or `503`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// The header's value as received (shown in the logs).
    pub raw: String,
    /// How long from its receipt it asks to wait: delta-seconds, or an HTTP date minus the time of receipt (zero
    /// for a date in the past); `None` when the value is neither.
    pub delay: Option<Duration>,
}

impl RetryAfter {
    /// Reads the header's value, `now` being the time of receipt.
    pub fn parse(raw: &str, now: std::time::SystemTime) -> RetryAfter {
        let value = raw.trim();
        let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // Delta-seconds; a number too large for u64 is as good as "very long" (the caller caps it).
            Some(Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX / 4)))
        } else {
            httpdate::parse_http_date(value).ok().map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
        };
        RetryAfter { raw: raw.chars().take(128).collect(), delay }
    }
}

/// Where attempts go: a webhook's URL, parsed once (when its target is read) rather than on every attempt.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// As stored: what an attempt record says it was sent to.
    raw: String,
    parsed: Result<url::Url, url::ParseError>,
}

impl Endpoint {
    pub fn new(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        let parsed = url::Url::parse(&raw);
        Self { raw, parsed }
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl From<&str> for Endpoint {
    fn from(raw: &str) -> Self {
        Self::new(raw)
    }
}

/// Sends attempts. One client (one keep-alive connection pool per host) for every attempt of the process.
///
/// Proxy environment variables (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`) are ignored: through a proxy, the target's
/// name would be resolved by the proxy, out of the guard's sight. An explicit proxy may be given; then the guard
/// resolves each target itself before the attempt and refuses it when any of its addresses is refused (the proxy
/// may connect to any of them).
#[derive(Clone, Debug)]
pub struct HttpSender {
    client: reqwest::Client,
    timeout: Duration,
    allow_private: bool,
    allow_http: bool,
    proxied: bool,
}

impl HttpSender {
    /// A sender that connects directly.
    pub fn new(timeout: Duration, allow_private: bool, allow_http: bool) -> Result<Self, reqwest::Error> {
        Self::with_proxy(timeout, allow_private, allow_http, None)
    }

    /// A sender whose attempts go through `proxy` when given (`--delivery-proxy`), directly otherwise.
    pub fn with_proxy(
        timeout: Duration,
        allow_private: bool,
        allow_http: bool,
        proxy: Option<url::Url>,
    ) -> Result<Self, reqwest::Error> {
        let builder = reqwest::Client::builder().no_proxy();
        let builder = match &proxy {
            // The proxy's own address is the operator's choice: it is resolved without the guard.
            Some(url) => builder.proxy(reqwest::Proxy::all(url.as_str())?),
            None => builder.dns_resolver(std::sync::Arc::new(TargetGuard { allow_private })),
        };
        let client = builder
            .redirect(Policy::none())
            // Herald's own schedule retries a delivery, and records every attempt; the client retries nothing by
            // itself (its default replays a request the server refused at the protocol level, cloning every
            // request's headers beforehand in case it has to).
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .user_agent(concat!("Herald/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { client, timeout, allow_private, allow_http, proxied: proxy.is_some() })
    }

    /// `POST`s `body` to `to` with `headers`, within the delivery timeout (the whole exchange, body included).
    pub async fn send(&self, to: &Endpoint, headers: HeaderMap, body: Bytes) -> SendResult {
        let start = Instant::now();
        let refused = match self.refuse(to) {
            Ok(parsed) if self.proxied && !self.allow_private => match self.refuse_resolved(parsed).await {
                Some(outcome) => Err(outcome),
                None => Ok(parsed),
            },
            Ok(parsed) => Ok(parsed),
            Err(reason) => Err(AttemptOutcome::Blocked { reason }),
        };
        let parsed = match refused {
            Ok(parsed) => parsed.clone(),
            Err(outcome) => {
                return SendResult { outcome, duration: start.elapsed(), response: None, retry_after: None };
            }
        };
        // The request built whole, from the URL parsed once (with its target) and the attempt's own header map,
        // rather than through the builder, which would parse the URL again and copy the headers into a map of its own.
        let mut request = reqwest::Request::new(reqwest::Method::POST, parsed);
        *request.headers_mut() = headers;
        *request.body_mut() = Some(body.into());
        let exchange = async {
            let mut resp = self.client.execute(request).await?;
            let status = resp.status().as_u16();
            let retry_after = match status {
                429 | 503 => resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .map(|v| RetryAfter::parse(&String::from_utf8_lossy(v.as_bytes()), std::time::SystemTime::now())),
                _ => None,
            };
            let mut kept = Vec::new();
            // The status line arrived; a body cut short (an error here) still tells the outcome.
            while let Ok(Some(chunk)) = resp.chunk().await {
                let room = RESPONSE_KEEP_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if kept.len() >= RESPONSE_KEEP_BYTES {
                    break;
                }
            }
            Ok::<_, reqwest::Error>((status, kept, retry_after))
        };
        let (outcome, response, retry_after) = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => (AttemptOutcome::Timeout, None, None),
            Ok(Err(e)) => (classify_error(&e), None, None),
            Ok(Ok((status, kept, retry_after))) => {
                (AttemptOutcome::of_status(status), Some(String::from_utf8_lossy(&kept).into_owned()), retry_after)
            }
        };
        SendResult { outcome, duration: start.elapsed(), response, retry_after }
    }

    /// The URL, parsed, or why it may not be called at all, before any connection.
    fn refuse<'a>(&self, to: &'a Endpoint) -> Result<&'a url::Url, String> {
        let parsed = to.parsed.as_ref().map_err(|e| format!("invalid URL: {e}"))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            s => return Err(format!("the {s} scheme is not allowed")),
        }
        if self.allow_private {
            return Ok(parsed);
        }
        let ip: Option<IpAddr> = match parsed.host() {
            Some(url::Host::Ipv4(v4)) => Some(v4.into()),
            Some(url::Host::Ipv6(v6)) => Some(v6.into()),
            _ => None,
        };
        match ip.and_then(|ip| check_ip(ip).map(|why| format!("{ip} is a {why}"))) {
            Some(reason) => Err(reason),
            None => Ok(parsed),
        }
    }
}

impl HttpSender {
    /// Through a proxy: the outcome when the target's host name may not be called, after resolving it here (every
    /// address must pass, since the proxy picks one): `Blocked` for a refused address (final), a connection failure
    /// or a timeout when the name does not resolve now (retried, as without a proxy). IP literals were checked by
    /// `refuse` already.
    async fn refuse_resolved(&self, parsed: &url::Url) -> Option<AttemptOutcome> {
        let Some(url::Host::Domain(host)) = parsed.host() else { return None };
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addrs = match tokio::time::timeout(self.timeout, tokio::net::lookup_host((host, port))).await {
            Err(_) => return Some(AttemptOutcome::Timeout),
            Ok(Err(e)) => return Some(AttemptOutcome::Connect { reason: format!("{host} does not resolve: {e}") }),
            Ok(Ok(addrs)) => addrs,
        };
        let mut any = false;
        for addr in addrs {
            any = true;
            if let Some(why) = check_ip(addr.ip()) {
                return Some(AttemptOutcome::Blocked { reason: format!("{host} resolves to a {why}") });
            }
        }
        (!any).then(|| AttemptOutcome::Connect { reason: format!("{host} has no address") })
    }
}

fn classify_error(e: &reqwest::Error) -> AttemptOutcome {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return AttemptOutcome::Blocked { reason: refused.0.clone() };
        }
        source = s.source();
    }
    if e.is_timeout() {
        return AttemptOutcome::Timeout;
    }
    let mut reason = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    AttemptOutcome::Connect { reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(RetryAfter::parse("2", now).delay, Some(Duration::from_secs(2)));
        assert_eq!(RetryAfter::parse(" 120 ", now).delay, Some(Duration::from_secs(120)));
        let date = RetryAfter::parse("Wed, 21 Oct 2015 07:28:30 GMT", now);
        assert_eq!(date.delay, Some(Duration::from_secs(30)));
        assert_eq!(date.raw, "Wed, 21 Oct 2015 07:28:30 GMT");
        assert_eq!(RetryAfter::parse("Wed, 21 Oct 2015 07:00:00 GMT", now).delay, Some(Duration::ZERO), "past");
        assert_eq!(RetryAfter::parse("soon", now).delay, None);
        assert_eq!(RetryAfter::parse("-5", now).delay, None);
        assert_eq!(RetryAfter::parse("", now).delay, None);
        assert!(RetryAfter::parse("99999999999999999999999", now).delay.unwrap() > Duration::from_secs(86_400));
    }
}
