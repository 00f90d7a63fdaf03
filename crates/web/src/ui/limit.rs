//! Failed sign-ins per client address, counted in this node's memory: after [`WebConfig::signin_failures_per_minute`]
//! failures within a minute, the address may not try again until that minute is over (the sign-in page answers
//! 429). Nodes count separately, so behind a load balancer an address gets that many tries per node.
//!
//! [`WebConfig::signin_failures_per_minute`]: crate::WebConfig::signin_failures_per_minute

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

use crate::WebConfig;

/// The window failures are counted in.
pub const SIGNIN_WINDOW: Duration = Duration::from_secs(60);
/// Past this many addresses, windows that are over are forgotten at the next failure (memory stays bounded by
/// the addresses seen within a minute).
const SWEEP_ABOVE: usize = 10_000;

pub struct SigninLimiter {
    limit: u32,
    /// Per address: when its window started, and the failures since.
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl SigninLimiter {
    pub fn new(failures_per_minute: u32) -> Self {
        Self { limit: failures_per_minute, windows: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, (Instant, u32)>> {
        // A panic while holding the lock leaves plain counts behind; the map stays usable.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `None` when `ip` may try to sign in at `now`, else how long until it may.
    pub fn blocked_for(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self.lock();
        let (start, failures) = windows.get(&ip)?;
        let left = SIGNIN_WINDOW.checked_sub(now.saturating_duration_since(*start))?;
        (*failures >= self.limit && !left.is_zero()).then_some(left)
    }

    /// Counts a failed sign-in of `ip` at `now`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut windows = self.lock();
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, (start, _)| now.saturating_duration_since(*start) < SIGNIN_WINDOW);
        }
        let entry = windows.entry(ip).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= SIGNIN_WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// The client's address: the peer's, or, behind a trusted proxy, the last `X-Forwarded-For` entry (the one the
/// proxy itself added). Without connection info (a router served without it), every client counts as one.
pub fn client_ip(cfg: &WebConfig, parts: &Parts) -> IpAddr {
    if cfg.trusted_proxy {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|a| a.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_failures_until_the_minute_is_over() {
        let limiter = SigninLimiter::new(3);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(limiter.blocked_for(ip, t0), None, "try {i}");
            limiter.failed(ip, t0 + Duration::from_secs(i));
        }
        assert_eq!(limiter.blocked_for(ip, t0 + Duration::from_secs(10)), Some(Duration::from_secs(50)));
        assert_eq!(limiter.blocked_for(other, t0 + Duration::from_secs(10)), None, "other addresses are not");
        assert_eq!(limiter.blocked_for(ip, t0 + SIGNIN_WINDOW), None, "a new minute, new tries");
        limiter.failed(ip, t0 + SIGNIN_WINDOW);
        assert_eq!(limiter.blocked_for(ip, t0 + SIGNIN_WINDOW), None, "the count started again");
    }
}
