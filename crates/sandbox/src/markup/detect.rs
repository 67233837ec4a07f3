//! The entities Telegram finds by itself in plain text (bot commands, mentions, hashtags,
//! cashtags, URLs, email addresses), after TDLib's `find_entities`. The matchers are TDLib's and
//! work on chars; they return [begin, end) char ranges, turned into UTF-16 offsets at the end.

use super::{Entity, EntityKind, sort_entities};
use serde_json::Value;

/// Entities Telegram detects by itself in a plain text (bot_command, mention, hashtag, cashtag, url, email).
pub fn detect(text: &str) -> Vec<Value> {
    let cs: Vec<char> = text.chars().collect();
    let mut found: Vec<(usize, usize, EntityKind)> = Vec::new();
    found.extend(match_mentions(&cs).into_iter().map(|(b, e)| (b, e, EntityKind::Mention)));
    found.extend(match_bot_commands(&cs).into_iter().map(|(b, e)| (b, e, EntityKind::BotCommand)));
    found.extend(match_hashtags(&cs).into_iter().map(|(b, e)| (b, e, EntityKind::Hashtag)));
    found.extend(match_cashtags(&cs).into_iter().map(|(b, e)| (b, e, EntityKind::Cashtag)));
    found.extend(match_tg_urls(&cs).into_iter().map(|(b, e)| (b, e, EntityKind::Url)));
    for (b, e) in match_urls(&cs) {
        let url: String = cs[b..e].iter().collect();
        if is_email_address(&url) {
            found.push((b, e, EntityKind::Email));
        } else if url.starts_with("mailto:") && is_email_address(&url[7..]) {
            found.push((b + 7, e, EntityKind::Email));
        } else if let Some(len) = fix_url(&url) {
            found.push((b, b + url[..len].chars().count(), EntityKind::Url));
        }
    }
    // Char index -> UTF-16 offset.
    let mut pos16 = Vec::with_capacity(cs.len() + 1);
    pos16.push(0);
    for c in &cs {
        pos16.push(pos16[pos16.len() - 1] + c.len_utf16());
    }
    let mut entities: Vec<Entity> = found
        .into_iter()
        .map(|(b, e, kind)| Entity { kind, offset: pos16[b], length: pos16[e] - pos16[b], arg: String::new() })
        .collect();
    sort_entities(&mut entities);
    let mut last_end = 0;
    entities.retain(|e| {
        let keep = e.length > 0 && e.offset >= last_end;
        if keep {
            last_end = e.offset + e.length;
        }
        keep
    });
    entities.iter().map(Entity::to_json).collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_hashtag_letter(c: char) -> bool {
    matches!(c, '_' | '\u{200c}' | '\u{b7}' | '\u{d80}'..='\u{dff}') || c.is_alphanumeric()
}

/// A run of username characters starting at `i`; returns its end.
fn username_end(cs: &[char], mut i: usize) -> usize {
    while i < cs.len() && is_username_char(cs[i]) {
        i += 1;
    }
    i
}

fn match_mentions(cs: &[char]) -> Vec<(usize, usize)> {
    let mut result = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if cs[i] != '@' || (i > 0 && is_word_char(cs[i - 1])) {
            i += 1;
            continue;
        }
        let begin = i + 1;
        i = username_end(cs, begin);
        let name: String = cs[begin..i].iter().collect::<String>().to_ascii_lowercase();
        let valid_size = name.len() >= 4 || (name.len() >= 2 && ["gif", "vid", "pic"].contains(&name.as_str()));
        if valid_size && name.len() <= 32 && !cs.get(i).is_some_and(|&c| is_word_char(c)) {
            result.push((begin - 1, i));
        }
    }
    result
}

fn match_bot_commands(cs: &[char]) -> Vec<(usize, usize)> {
    let is_border = |c: char| is_word_char(c) || matches!(c, '/' | '<' | '>');
    let mut result = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if cs[i] != '/' || (i > 0 && is_border(cs[i - 1])) {
            i += 1;
            continue;
        }
        let begin = i;
        i = username_end(cs, begin + 1);
        if !(1..=64).contains(&(i - begin - 1)) {
            continue;
        }
        if cs.get(i) == Some(&'@') {
            let bot_begin = i + 1;
            i = username_end(cs, bot_begin);
            if !(3..=32).contains(&(i - bot_begin)) {
                continue;
            }
        }
        if !cs.get(i).is_some_and(|&c| is_border(c)) {
            result.push((begin, i));
        }
    }
    result
}

fn match_hashtags(cs: &[char]) -> Vec<(usize, usize)> {
    let mut result = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if cs[i] != '#' || (i > 0 && is_hashtag_letter(cs[i - 1])) {
            i += 1;
            continue;
        }
        let begin = i;
        i += 1;
        let mut has_letter = false;
        while i < cs.len() && is_hashtag_letter(cs[i]) {
            has_letter |= i - begin <= 256 && cs[i].is_alphabetic();
            i += 1;
        }
        let end = i.min(begin + 257);
        if end > begin + 1 && cs.get(i) != Some(&'#') && has_letter {
            result.push((begin, end));
        }
    }
    result
}

fn match_cashtags(cs: &[char]) -> Vec<(usize, usize)> {
    let mut result = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if cs[i] != '$' || (i > 0 && (is_hashtag_letter(cs[i - 1]) || cs[i - 1] == '$')) {
            i += 1;
            continue;
        }
        let begin = i;
        i += 1;
        if cs[i..].starts_with(&['1', 'I', 'N', 'C', 'H']) {
            i += 5;
        } else {
            while i < cs.len() && cs[i].is_ascii_uppercase() {
                i += 1;
            }
        }
        let size_ok = (2..=9).contains(&(i - begin));
        if size_ok && !cs.get(i).is_some_and(|&c| is_hashtag_letter(c) || c == '$') {
            result.push((begin, i));
        }
    }
    result
}

fn is_url_unicode_symbol(c: char) -> bool {
    if ('\u{2000}'..='\u{206f}').contains(&c) {
        return matches!(c, '\u{200c}' | '\u{200d}' | '\u{2010}'..='\u{2015}');
    }
    !c.is_whitespace()
}

fn is_url_path_symbol(c: char) -> bool {
    !matches!(c, '\n' | '<' | '>' | '"' | '«' | '»') && is_url_unicode_symbol(c)
}

fn is_user_data_symbol(c: char) -> bool {
    !matches!(c, '\n' | '/' | '[' | ']' | '{' | '}' | '(' | ')' | '\'' | '`' | '<' | '>' | '"' | '@' | '«' | '»')
        && is_url_unicode_symbol(c)
}

fn is_domain_symbol(c: char) -> bool {
    if u32::from(c) < 0xc0 {
        return c == '.' || c == '~' || c == '-' || is_username_char(c);
    }
    is_url_unicode_symbol(c)
}

fn is_protocol_symbol(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '+' || c == '-';
    }
    !c.is_whitespace()
}

const BAD_PATH_END: &str = ".:;,('?!`";

/// Extends a URL over its path ("/", "?" or "#" at `at`); returns the new end.
fn url_path_end(cs: &[char], at: usize) -> usize {
    if !cs.get(at).is_some_and(|c| matches!(c, '/' | '?' | '#')) {
        return at;
    }
    let mut end = at + 1;
    while end < cs.len() && is_url_path_symbol(cs[end]) {
        end += 1;
    }
    while end > at + 1 && BAD_PATH_END.contains(cs[end - 1]) {
        end -= 1;
    }
    if cs[at] == '/' || end > at + 1 { end } else { at }
}

fn match_tg_urls(cs: &[char]) -> Vec<(usize, usize)> {
    let lower = |k: usize| cs[k].to_ascii_lowercase();
    let mut result = Vec::new();
    let mut i = 0;
    while cs.len() - i > 5 {
        let Some(colon) = (i..cs.len()).find(|&k| cs[k] == ':') else { break };
        i = colon + 1;
        if !cs[colon..].starts_with(&[':', '/', '/']) {
            continue;
        }
        let begin = if colon >= 2 && lower(colon - 2) == 't' && lower(colon - 1) == 'g' {
            colon - 2
        } else if colon >= 3 && lower(colon - 3) == 't' && lower(colon - 2) == 'o' && lower(colon - 1) == 'n' {
            colon - 3
        } else {
            continue;
        };
        let domain_begin = colon + 3;
        i = domain_begin;
        while i < cs.len() && i - domain_begin != 253 && (is_username_char(cs[i]) || cs[i] == '-') {
            i += 1;
        }
        if i == domain_begin {
            continue;
        }
        i = url_path_end(cs, i);
        result.push((begin, i));
    }
    result
}

fn match_urls(cs: &[char]) -> Vec<(usize, usize)> {
    let n = cs.len();
    let mut result = Vec::new();
    let mut start = 0; // TDLib moves the text's beginning forward after each candidate
    while let Some(dot) = (start..n).find(|&k| cs[k] == '.') {
        if dot + 1 == n {
            break;
        }
        if cs[dot + 1] == ' ' {
            start = dot + 2;
            continue;
        }
        let mut domain_begin = dot;
        while domain_begin > start && is_domain_symbol(cs[domain_begin - 1]) {
            domain_begin -= 1;
        }
        let (mut domain_end, mut last_at) = (dot, None);
        while domain_end < n {
            if cs[domain_end] == '@' {
                last_at = Some(domain_end);
            } else if !is_domain_symbol(cs[domain_end]) {
                break;
            }
            domain_end += 1;
        }
        if last_at.is_some() {
            while domain_begin > start && is_user_data_symbol(cs[domain_begin - 1]) {
                domain_begin -= 1;
            }
        }
        let mut end = domain_end;
        if cs.get(end) == Some(&':') {
            let mut port_end = end + 1;
            while port_end < n && cs[port_end].is_ascii_digit() {
                port_end += 1;
            }
            let mut port_begin = end + 1;
            while port_begin < port_end && cs[port_begin] == '0' {
                port_begin += 1;
            }
            let port: String = cs[port_begin..port_end].iter().collect();
            if port_begin != port_end && port.len() <= 5 && port.parse::<u32>().is_ok_and(|p| p <= 65535) {
                end = port_end;
            }
        }
        end = url_path_end(cs, end);
        while end > dot + 1 && cs[end - 1] == '.' {
            end -= 1;
        }

        let mut bad = false;
        let mut begin = domain_begin;
        if begin != start && cs[begin - 1] == '@' {
            bad |= last_at.is_some();
            let mut user_begin = begin - 1;
            while user_begin > start && is_user_data_symbol(cs[user_begin - 1]) {
                user_begin -= 1;
            }
            bad |= user_begin == begin - 1;
            begin = user_begin;
        }
        if begin != start {
            let prefix = &cs[start..begin];
            let prefix_bytes: usize = prefix.iter().map(|c| c.len_utf8()).sum();
            if prefix_bytes >= 6 && prefix.ends_with(&[':', '/', '/']) {
                let mut proto_begin = begin - 3;
                while proto_begin > start && is_protocol_symbol(cs[proto_begin - 1]) {
                    proto_begin -= 1;
                }
                let proto = cs[proto_begin..begin - 3].iter().collect::<String>().to_ascii_lowercase();
                if proto.ends_with("http") && proto != "shttp" {
                    begin -= 7;
                } else if proto.ends_with("https") {
                    begin -= 8;
                } else if proto.ends_with("ftp") && proto != "tftp" && proto != "sftp" {
                    begin -= 6;
                } else {
                    bad = true;
                }
            } else {
                let c = cs[begin - 1];
                bad |= is_word_char(c) || matches!(c, '/' | '#' | '@');
            }
        }
        if !bad {
            if end > dot + 1 {
                result.push((begin, end));
            }
            while end < n && cs[end] == '.' {
                end += 1;
            }
        } else {
            while cs[end - 1] != '.' {
                end -= 1;
            }
        }
        start = end.max(dot + 1);
    }
    result
}

fn is_email_address(s: &str) -> bool {
    let is_part_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let Some((user, domain)) = s.split_once('@') else { return false };
    let user_parts: Vec<&str> = user.split(['.', '+']).collect();
    let (last_user, other_user) = user_parts.split_last().unwrap_or((&"", &[]));
    let user_ok = user_parts.len() < 12
        && other_user.iter().all(|p| p.len() < 27)
        && (1..36).contains(&last_user.len())
        && user.bytes().all(|b| is_part_byte(b) || b == b'.' || b == b'+');
    let parts: Vec<&str> = domain.split('.').collect();
    let Some((tld, labels)) = parts.split_last() else { return false };
    user_ok
        && (2..=7).contains(&parts.len())
        && (2..9).contains(&tld.len())
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && labels.iter().all(|p| {
            let b = p.as_bytes();
            (1..31).contains(&b.len())
                && b.iter().all(|&c| is_part_byte(c))
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
        })
}

/// A subset of the top-level domains TDLib recognizes in URLs written without a protocol.
const COMMON_TLDS: &str = "ac ad ae af ag ai al am app ar art at au az ba be bg biz blog br by ca cc cf ch cl \
    click cloud club cn co com cy cz de dev dk ee eg es eu fi fm fr fun ga gay ge gg gl gov gr hk hr hu id ie il in \
    info int io ir is it jp ke kg kr kz la li life link live lk lt lu lv ly ma md me mil mn mobi moscow ms mx my name \
    net news nl no nu nz one online org page ph pk pl pro pt pw ro rs ru sa sb sc se sg sh shop si site sk so space \
    store su tech th tj tk tm to top tr tv tw ua uk us uz vc vip vn wiki world ws xyz za бел дети ком москва онлайн \
    орг рус рф сайт срб укр";

fn is_common_tld(tld: &str) -> bool {
    let lower = tld.to_lowercase();
    // "Com" is not a domain, but "COM" and "com" are
    if lower != tld && lower.chars().skip(1).eq(tld.chars().skip(1)) {
        return false;
    }
    COMMON_TLDS.split_whitespace().any(|t| t == lower)
}

/// TDLib's `fix_url`: validates a URL candidate and returns the byte length to keep.
fn fix_url(url: &str) -> Option<usize> {
    let head = url.chars().take(8).collect::<String>().to_ascii_lowercase();
    let has_protocol = ["http://", "https://", "ftp://"].iter().any(|p| head.starts_with(p));
    let rest = if has_protocol { &url[url.find(':').unwrap_or(0) + 3..] } else { url };
    let (mut domain, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    if let Some(k) = domain.find('@') {
        domain = &domain[k + 1..];
    }
    if let Some(k) = domain.rfind(':') {
        domain = &domain[..k];
    }
    if domain.eq_ignore_ascii_case("teiegram.org") {
        return None;
    }

    // Cut the path at the first unbalanced closing bracket and trailing punctuation.
    let path = path.as_bytes();
    let mut balance = [0i32; 3];
    let mut keep = 0;
    while keep < path.len() {
        match path[keep] {
            b'(' => balance[0] += 1,
            b'[' => balance[1] += 1,
            b'{' => balance[2] += 1,
            b')' => balance[0] -= 1,
            b']' => balance[1] -= 1,
            b'}' => balance[2] -= 1,
            _ => {}
        }
        if balance.iter().any(|&b| b < 0) {
            break;
        }
        keep += 1;
    }
    while keep > 0 && BAD_PATH_END.as_bytes().contains(&path[keep - 1]) {
        keep -= 1;
    }
    let full_len = url.len() - (path.len() - keep);

    let labels: Vec<&str> = domain.split('.').collect();
    if labels.iter().any(|l| l.is_empty() || l.len() >= 64 || l.ends_with('-')) || labels.len() == 1 {
        return None;
    }
    let is_ipv4 = labels.len() == 4
        && labels
            .iter()
            .all(|l| l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()) && !(l.len() > 1 && l.starts_with('0')))
        && labels.iter().all(|l| l.parse::<u32>().is_ok_and(|v| v <= 255));
    if is_ipv4 {
        return Some(full_len);
    }
    if domain.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let tld = labels[labels.len() - 1];
    if tld.chars().count() <= 1 {
        return None;
    }
    if let Some(punycode) = tld.strip_prefix("xn--") {
        if tld.len() <= 5 || !punycode.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
    } else if tld.contains(['_', '-']) || (!has_protocol && !is_common_tld(tld)) {
        return None;
    }
    if labels[labels.len() - 2].contains('_') {
        return None;
    }
    Some(full_len)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::fmt;
    use super::detect;

    fn detected(text: &str) -> Vec<String> {
        fmt(&detect(text))
    }

    #[test]
    fn detect_bot_commands() {
        assert_eq!(detected("/start@my_bot payload"), ["bot_command@0+13"]);
        assert_eq!(detected("/start"), ["bot_command@0+6"]);
        assert_eq!(detected("hi /help me"), ["bot_command@3+5"]);
        assert_eq!(detected("(/help)"), ["bot_command@1+5"]);
        assert!(detected("a/b and and/or /x/y").is_empty());
        assert!(detected("/start@ab").is_empty()); // a bot username needs 3+ chars
        assert!(detected("/").is_empty());
        assert_eq!(detected(&format!("/{}", "a".repeat(64))), ["bot_command@0+65"]);
        assert!(detected(&format!("/{}", "a".repeat(65))).is_empty());
    }

    #[test]
    fn detect_mixed_text() {
        assert_eq!(detected("hi @anna see https://example.com #tag"), ["mention@3+5", "url@13+19", "hashtag@33+4"]);
        // Telegram ignores mentions shorter than 4 characters, except @gif, @vid and @pic.
        assert_eq!(detected("hi @ann see https://example.com #tag"), ["url@12+19", "hashtag@32+4"]);
        assert_eq!(detected("@gif cat"), ["mention@0+4"]);
        assert!(detected("mail@anna_k").is_empty());
    }

    #[test]
    fn detect_hashtags_and_cashtags() {
        assert_eq!(detected("#tag #тег #a_1 #123 a#b"), ["hashtag@0+4", "hashtag@5+4", "hashtag@10+4"]);
        assert!(detected("#a#b").is_empty());
        assert_eq!(detected("$USD and $1INCH, $usd $TOOLONGXX"), ["cashtag@0+4", "cashtag@9+6"]);
    }

    #[test]
    fn detect_urls_and_emails() {
        assert_eq!(detected("see example.com."), ["url@4+11"]);
        assert_eq!(detected("http://x.io:8080/a?b=1#c, ok"), ["url@0+24"]);
        assert_eq!(detected("(https://en.wikipedia.org/wiki/Rust_(language))"), ["url@1+45"]);
        assert_eq!(detected("mail me: ann.lee@mail.example.org, ann@example.com"), ["email@9+24", "email@35+15"]);
        assert_eq!(detected("mailto:ann@example.com"), ["email@7+15"]);
        assert_eq!(detected("tg://resolve?domain=x"), ["url@0+21"]);
        assert_eq!(detected("192.168.0.1/x"), ["url@0+13"]);
        assert!(detected("file.txt notes.docx 1.5 e.g. v1.2.3").is_empty());
        assert!(detected("teiegram.org").is_empty());
        assert!(detected("ftp2://x.com").is_empty());
        assert_eq!(detected("😀 t.me/ferrogram"), ["url@3+14"]);
    }
}
