//! The operator's allow-list: `HOST:PORT` entries naming one private, loopback or link-local
//! service the server may call for bots anyway (`--allow-private-http`). An entry names exactly
//! one host and one port: wildcards (`*:80`), address ranges (`10.0.0.0/8:80`, `0.0.0.0/0:80`),
//! the unspecified address (`0.0.0.0`, `::`, which stand for "any") and port 0 are refused, so a
//! typo cannot open every private address.

use std::net::IpAddr;

use reqwest::Url;

/// Parses `HOST:PORT` as `--allow-private-http` takes it (an IPv6 address in brackets,
/// `[::1]:9000`) into a checked entry, see [`allowed_entry`].
pub fn parse_allowed(text: &str) -> Result<(String, u16), String> {
    let (host, port) = text.rsplit_once(':').ok_or_else(|| format!("{text:?}: expected HOST:PORT"))?;
    let port: u16 = port.parse().map_err(|_| format!("{text:?}: {port:?} is not a port"))?;
    allowed_entry(host, port).map_err(|e| format!("{text:?}: {e}"))
}

/// Checks one allow-list entry and writes its host as a URL's host reads after parsing
/// (lowercase, IPv6 without brackets, `127.1` as `127.0.0.1`), which is how it is matched.
pub fn allowed_entry(host: &str, port: u16) -> Result<(String, u16), String> {
    let host = host.trim();
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if bare.is_empty() {
        return Err("expected HOST:PORT".into());
    }
    if bare.contains('*') {
        return Err("wildcards are not allowed: name the one host to allow".into());
    }
    if bare.contains('/') {
        return Err("address ranges are not allowed: name the one host to allow".into());
    }
    if port == 0 {
        return Err("0 is not a port: name the one port to allow".into());
    }
    let spelled = if bare.contains(':') { format!("http://[{bare}]/") } else { format!("http://{bare}/") };
    let url = Url::parse(&spelled).map_err(|e| format!("{bare:?} is not a host name or IP address: {e}"))?;
    let normal = crate::host_of(&url);
    if normal.is_empty() || url.path() != "/" || url.username() != "" || url.port().is_some() {
        return Err(format!("{bare:?} is not a host name or IP address"));
    }
    if let Ok(ip) = normal.parse::<IpAddr>()
        && ip.is_unspecified()
    {
        return Err(format!("{normal} stands for any address: name the one address to allow"));
    }
    Ok((normal, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_host_and_one_port() {
        assert_eq!(parse_allowed("10.0.0.5:8080"), Ok(("10.0.0.5".into(), 8080)));
        assert_eq!(parse_allowed("[::1]:9000"), Ok(("::1".into(), 9000)));
        assert_eq!(parse_allowed("LocalHost.:9000"), Ok(("localhost".into(), 9000)));
        assert_eq!(parse_allowed("127.1:80"), Ok(("127.0.0.1".into(), 80)));
        assert_eq!(parse_allowed("[::ffff:127.0.0.1]:80"), Ok(("::ffff:7f00:1".into(), 80)));
        for bad in ["nohost", ":80", "h:port", "h:70000", "[]:80"] {
            assert!(parse_allowed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_ranges_and_any_address_are_refused() {
        for (entry, reason) in [
            ("*:80", "wildcards are not allowed"),
            ("*.internal:80", "wildcards are not allowed"),
            ("0.0.0.0/0:80", "address ranges are not allowed"),
            ("10.0.0.0/8:80", "address ranges are not allowed"),
            ("[::/0]:80", "address ranges are not allowed"),
            ("0.0.0.0:80", "0.0.0.0 stands for any address"),
            ("0:80", "0.0.0.0 stands for any address"),
            ("[::]:80", ":: stands for any address"),
            ("localhost:0", "0 is not a port"),
            ("user@host:80", "is not a host name or IP address"),
        ] {
            let error = parse_allowed(entry).expect_err(entry);
            assert!(error.contains(reason), "{entry}: {error}");
        }
    }
}
