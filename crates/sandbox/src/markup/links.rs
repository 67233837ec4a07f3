//! The links inside formatted text: TDLib's URL parsing and the normalized form of a text link
//! (or its refusal), and custom emoji ids with their `tg://emoji` links.

use super::scan::is_space;

struct HttpUrl {
    https: bool,
    userinfo: String,
    host: String,
    ipv6: bool,
    port: u32,
    query: String,
}

/// TDLib's `parse_url`: `[http[s]://][userinfo@]host[:port][/path?query#fragment]`.
fn parse_url(url: &str) -> Option<HttpUrl> {
    let proto_end = url.find([':', '/', '?', '#', '@', '[', ']']).unwrap_or(url.len());
    let (https, rest) = match url[proto_end..].strip_prefix("://") {
        Some(rest) => match url[..proto_end].to_ascii_lowercase().as_str() {
            "http" => (false, rest),
            "https" => (true, rest),
            _ => return None,
        },
        None => (false, url),
    };
    let (userinfo_host_port, query) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (userinfo_host, port) = match userinfo_host_port.rfind([':', ']', '@']) {
        Some(k) if k > 0 && userinfo_host_port.as_bytes()[k] == b':' => {
            let mut digits = &userinfo_host_port[k + 1..];
            while digits.len() > 1 && digits.starts_with('0') {
                digits = &digits[1..];
            }
            let port = digits.parse::<u32>().ok().filter(|p| (1..=65535).contains(p) && p.to_string() == digits)?;
            (&userinfo_host_port[..k], port)
        }
        _ => (userinfo_host_port, 0),
    };
    let (userinfo, host) = match userinfo_host.rfind('@') {
        Some(k) => (&userinfo_host[..k], &userinfo_host[k + 1..]),
        None => ("", userinfo_host),
    };
    let ipv6 = host.len() > 2 && host.starts_with('[') && host.ends_with(']');
    if host.is_empty() || host == "." {
        return None;
    }
    let query = query.trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8));
    let query = if query.is_empty() { "/" } else { query };
    let mut encoded = String::with_capacity(query.len() + 1);
    if !query.starts_with('/') {
        encoded.push('/');
    }
    for ch in query.chars() {
        if u32::from(ch) <= 0x20 {
            encoded.push_str(&format!("%{:02X}", u32::from(ch)));
        } else {
            encoded.push(ch);
        }
    }
    let host = host.to_ascii_lowercase();
    let hb = host.as_bytes();
    let mut k = 0;
    while k < hb.len() {
        let c = hb[k];
        let ok = if ipv6 {
            k == 0 || k + 1 == hb.len() || c == b':' || c == b'.' || c.is_ascii_hexdigit()
        } else if c == b'%' {
            let hex = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
            k += 2;
            hex(hb.get(k - 1)) && hex(hb.get(k))
        } else {
            c >= 0x80 || c.is_ascii_lowercase() || c.is_ascii_digit() || b".-_!$,~*'();&+=".contains(&c)
        };
        if !ok {
            return None;
        }
        k += 1;
    }
    Some(HttpUrl { https, userinfo: userinfo.to_owned(), host, ipv6, port, query: encoded })
}

/// TDLib's `get_checked_link`: the normalized URL of a text link, or None if Telegram drops it.
pub(super) fn check_link(link: &str) -> Option<String> {
    let lower = link.to_ascii_lowercase();
    let scheme = ["tg", "ton", "tonsite"].into_iter().find(|s| lower.starts_with(&format!("{s}:")));
    let rest = match scheme {
        Some(scheme) => {
            let rest = &link[scheme.len() + 1..];
            rest.strip_prefix("//").unwrap_or(rest)
        }
        None => link,
    };
    let url = parse_url(rest)?;
    if let Some(scheme) = scheme {
        if rest.to_ascii_lowercase().starts_with("http://") || url.https || !url.userinfo.is_empty() || url.port != 0 {
            return None;
        }
        if url.ipv6 {
            return None;
        }
        let query = if url.query.starts_with("/?") { &url.query[1..] } else { &url.query };
        let host_ok = url
            .host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (scheme == "tonsite" && b == b'.'));
        return host_ok.then(|| format!("{scheme}://{}{query}", url.host));
    }
    if !url.host.contains('.') && !url.ipv6 {
        return None;
    }
    let mut result = String::from(if url.https { "https://" } else { "http://" });
    if !url.userinfo.is_empty() {
        result.push_str(&url.userinfo);
        result.push('@');
    }
    result.push_str(&url.host);
    if url.port > 0 {
        result.push_str(&format!(":{}", url.port));
    }
    result.push_str(&url.query);
    Some(result)
}

/// A custom emoji id: a non-zero 64-bit integer written canonically.
pub(super) fn parse_emoji_id(value: &str) -> Option<String> {
    value.parse::<i64>().ok().filter(|&id| id != 0 && id.to_string() == value).map(|id| id.to_string())
}

/// The id of a `tg://emoji?id=...` link, with TDLib's error texts.
pub(super) fn custom_emoji_id(url: &str) -> Result<String, String> {
    let no_id = "Custom emoji URL must have an emoji identifier";
    let url = url.to_ascii_lowercase();
    let rest = url.strip_prefix("tg:").ok_or("Custom emoji URL must have scheme tg")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let rest = rest
        .strip_prefix("emoji")
        .filter(|r| r.is_empty() || r.starts_with(['/', '?', '#']))
        .ok_or("Custom emoji URL must have host \"emoji\"")?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let query = rest.strip_prefix('?').ok_or(no_id)?;
    let query = query.split('#').next().unwrap_or_default();
    let value = query
        .split('&')
        .find_map(|param| {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            (key == "id").then_some(value)
        })
        .ok_or(no_id)?;
    parse_emoji_id(value).ok_or_else(|| "Invalid custom emoji identifier specified".to_owned())
}
