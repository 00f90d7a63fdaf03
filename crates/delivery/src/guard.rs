//! The target guard (contract §7.2): a webhook must not make Herald call into the network it runs in.
//!
//! Host names are resolved by Herald's own resolver, which drops refused addresses and hands the rest to the HTTP
//! client, so the address that was checked is the address connected to (no second lookup an attacker could answer
//! differently). IP literals are checked before the request is made.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is refused, or `None` when it may be called.
pub fn check_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => check_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return check_v4(v4);
            }
            let seg0 = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback address")
            } else if v6.is_unspecified() {
                Some("unspecified address")
            } else if v6.is_multicast() {
                Some("multicast address")
            } else if seg0 & 0xffc0 == 0xfe80 {
                Some("link-local address")
            } else if seg0 & 0xfe00 == 0xfc00 {
                Some("private address")
            } else {
                None
            }
        }
    }
}

fn check_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback address")
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        Some("private address")
    } else if ip.is_link_local() {
        Some("link-local address")
    } else if ip.is_multicast() {
        Some("multicast address")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified address")
    } else if ip.is_broadcast() {
        Some("broadcast address")
    } else {
        None
    }
}

/// Resolves host names for the HTTP client, refusing private targets unless allowed.
#[derive(Clone, Debug)]
pub struct TargetGuard {
    pub allow_private: bool,
}

/// The resolver's error when every address of a host is refused; its text reaches the attempt's error.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "herald-target-guard: {}", self.0)
    }
}

impl std::error::Error for Refused {}

impl Resolve for TargetGuard {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if allow_private {
                return Ok(Box::new(addrs.into_iter()) as Addrs);
            }
            let mut reason = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match check_ip(a.ip()) {
                    Some(r) => {
                        reason = Some(r);
                        false
                    }
                    None => true,
                })
                .collect();
            if allowed.is_empty() {
                let why = reason.unwrap_or("no address");
                return Err(Box::new(Refused(format!("{host} resolves to a {why}"))) as Box<_>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "ff02::1",
        ] {
            assert!(check_ip(ip.parse().unwrap()).is_some(), "{ip} should be refused");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert_eq!(check_ip(ip.parse().unwrap()), None, "{ip} should be allowed");
        }
    }
}
