//! The target guard (contract §7.2): a webhook must not make Herald call into the network it runs in.
//!
//! Host names are resolved by Herald's own resolver, which drops refused addresses and hands the rest to the HTTP
//! client, so the address that was checked is the address connected to (no second lookup an attacker could answer
//! differently). IP literals are checked before the request is made.
//!
//! What is refused is IANA's IPv4 and IPv6 special-purpose address registries (every block that is not globally
//! reachable, plus multicast and broadcast), and IPv6 forms that carry an IPv4 address (IPv4-mapped,
//! IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are checked as that IPv4 address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Refused IPv4 blocks: `(network, prefix length, why)`, from IANA's IPv4 special-purpose address registry.
const V4_REFUSED: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "unspecified address"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private address"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "private address"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback address"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local address"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private address"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "reserved address"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation address"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "reserved address"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private address"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking address"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation address"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation address"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast address"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, "broadcast address"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved address"),
];

/// Refused IPv6 blocks, from IANA's IPv6 special-purpose address registry. The forms that embed an IPv4 address
/// are not here: [`embedded_v4`] checks them as IPv4.
const V6_REFUSED: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128, "loopback address"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 128, "unspecified address"),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "private address"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "reserved address"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "reserved address"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation address"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation address"),
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, "reserved address"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "private address"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local address"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local address"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast address"),
];

/// Why an address is refused, or `None` when it may be called.
pub fn check_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => check_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => check_v4(v4),
            None => {
                let bits = u128::from(v6);
                V6_REFUSED.iter().find(|(net, len, _)| in_block(bits, u128::from(*net), *len, 128)).map(|r| r.2)
            }
        },
    }
}

fn check_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u128::from(u32::from(ip));
    V4_REFUSED.iter().find(|(net, len, _)| in_block(bits, u128::from(u32::from(*net)), *len, 32)).map(|r| r.2)
}

/// Whether `addr` lies in `net/len`, both `width` bits wide.
fn in_block(addr: u128, net: u128, len: u8, width: u32) -> bool {
    let shift = width - u32::from(len);
    len == 0 || (addr >> shift) == (net >> shift)
}

/// The IPv4 address an IPv6 address carries, for the forms that reach an IPv4 host: IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d` (not `::` or `::1`), NAT64 `64:ff9b::a.b.c.d`, and 6to4 `2002:aabb:ccdd::/48`.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0; 6] && u32::from(low) > 1 {
        return Some(low);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    None
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

    /// One address per refused block (its first, one inside and its last where it matters), and the reason given.
    #[test]
    fn refuses_every_special_purpose_block() {
        for (ip, why) in [
            ("0.0.0.0", "unspecified address"),
            ("0.255.255.255", "unspecified address"),
            ("10.0.0.1", "private address"),
            ("100.64.0.1", "private address"),
            ("100.127.255.254", "private address"),
            ("127.0.0.1", "loopback address"),
            ("127.255.255.255", "loopback address"),
            ("169.254.169.254", "link-local address"),
            ("172.16.5.4", "private address"),
            ("172.31.255.255", "private address"),
            ("192.0.0.8", "reserved address"),
            ("192.0.0.170", "reserved address"),
            ("192.0.2.1", "documentation address"),
            ("192.88.99.1", "reserved address"),
            ("192.168.1.1", "private address"),
            ("198.18.0.1", "benchmarking address"),
            ("198.19.255.255", "benchmarking address"),
            ("198.51.100.7", "documentation address"),
            ("203.0.113.9", "documentation address"),
            ("224.0.0.1", "multicast address"),
            ("239.255.255.255", "multicast address"),
            ("240.0.0.1", "reserved address"),
            ("255.255.255.254", "reserved address"),
            ("255.255.255.255", "broadcast address"),
            ("::1", "loopback address"),
            ("::", "unspecified address"),
            ("::ffff:127.0.0.1", "loopback address"),
            ("::ffff:10.1.2.3", "private address"),
            ("::127.0.0.1", "loopback address"),
            ("::7f00:1", "loopback address"),
            ("::192.168.0.1", "private address"),
            ("64:ff9b::127.0.0.1", "loopback address"),
            ("64:ff9b::a9fe:a9fe", "link-local address"),
            ("64:ff9b:1::1", "private address"),
            ("2002:7f00:1::1", "loopback address"),
            ("2002:c0a8:101::", "private address"),
            ("100::1", "reserved address"),
            ("2001::1", "reserved address"),
            ("2001:2::1", "reserved address"),
            ("2001:1ff:ffff::1", "reserved address"),
            ("2001:db8::1", "documentation address"),
            ("3fff::1", "documentation address"),
            ("5f00::1", "reserved address"),
            ("fc00::1", "private address"),
            ("fd00::1", "private address"),
            ("fe80::1", "link-local address"),
            ("febf::1", "link-local address"),
            ("fec0::1", "site-local address"),
            ("feff::1", "site-local address"),
            ("ff02::1", "multicast address"),
        ] {
            assert_eq!(check_ip(ip.parse().unwrap()), Some(why), "{ip}");
        }
    }

    #[test]
    fn allows_globally_reachable_addresses() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "11.0.0.1",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.3.1",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2001:200::1",
            "64:ff9b::808:808",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
            "2400:cb00::1",
        ] {
            assert_eq!(check_ip(ip.parse().unwrap()), None, "{ip} should be allowed");
        }
    }
}
