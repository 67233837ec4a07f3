//! Which IP addresses are closed to the server's calls for a bot: loopback, private networks,
//! link-local (cloud metadata at 169.254.169.254), CGNAT, multicast, unspecified and reserved
//! addresses — in every spelling, IPv4-mapped and -embedding IPv6 included.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` may not be called (`a loopback`, `a private`…), or `None` for a public address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified")
    } else if ip.is_loopback() {
        Some("a loopback")
    } else if ip.is_private() {
        Some("a private")
    } else if ip.is_link_local() {
        Some("a link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (CGNAT)")
    } else if ip.is_multicast() {
        Some("a multicast")
    } else if a >= 240 {
        Some("a reserved")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96)
    // and 6to4 (2002:AABB:CCDD::/48) reach the IPv4 address; judge that one.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    if ip.is_unspecified() {
        return Some("an unspecified");
    }
    if ip.is_loopback() {
        return Some("a loopback");
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if segments[..6] == [0; 6] {
        return forbidden_v4(embedded(segments[6], segments[7]));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return forbidden_v4(embedded(segments[1], segments[2]));
    }
    match segments[0] {
        s if s & 0xfe00 == 0xfc00 => Some("a private (unique local)"),
        s if s & 0xffc0 == 0xfe80 => Some("a link-local"),
        s if s & 0xffc0 == 0xfec0 => Some("a private (site-local)"),
        s if s & 0xff00 == 0xff00 => Some("a multicast"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(s: &str) -> Option<&'static str> {
        forbidden(s.parse().expect("an IP"))
    }

    #[test]
    fn classifies_ipv4() {
        for (ip, reason) in [
            ("127.0.0.1", "a loopback"),
            ("127.255.0.9", "a loopback"),
            ("10.1.2.3", "a private"),
            ("172.16.0.1", "a private"),
            ("172.31.255.255", "a private"),
            ("192.168.1.1", "a private"),
            ("169.254.169.254", "a link-local"),
            ("0.0.0.0", "an unspecified"),
            ("0.1.2.3", "an unspecified"),
            ("100.64.0.1", "a shared (CGNAT)"),
            ("100.127.255.254", "a shared (CGNAT)"),
            ("224.0.0.1", "a multicast"),
            ("255.255.255.255", "a reserved"),
        ] {
            assert_eq!(why(ip), Some(reason), "{ip}");
        }
        for ip in ["8.8.8.8", "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "193.0.0.1"] {
            assert_eq!(why(ip), None, "{ip}");
        }
    }

    #[test]
    fn classifies_ipv6_and_embedded_ipv4() {
        for (ip, reason) in [
            ("::1", "a loopback"),
            ("::", "an unspecified"),
            ("fc00::1", "a private (unique local)"),
            ("fd12:3456::1", "a private (unique local)"),
            ("fe80::1", "a link-local"),
            ("febf::1", "a link-local"),
            ("fec0::1", "a private (site-local)"),
            ("ff02::1", "a multicast"),
            ("::ffff:127.0.0.1", "a loopback"),
            ("::ffff:10.0.0.1", "a private"),
            ("::ffff:169.254.169.254", "a link-local"),
            ("::ffff:0:0", "an unspecified"),
            ("::127.0.0.1", "a loopback"),
            ("64:ff9b::a9fe:a9fe", "a link-local"),
            ("2002:c0a8:0101::1", "a private"),
        ] {
            assert_eq!(why(ip), Some(reason), "{ip}");
        }
        for ip in ["2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:0808:0808::1", "fe00::1"] {
            assert_eq!(why(ip), None, "{ip}");
        }
    }
}
