//! Telegram text formatting: the `parse_mode` parsers (HTML, MarkdownV2 and legacy Markdown) and
//! the automatic entities Telegram finds in plain text, as Bot API `MessageEntity` JSON objects
//! whose offsets and lengths count UTF-16 code units.
//!
//! The parsers follow TDLib's `parse_html`, `parse_markdown_v2` and `parse_markdown` (which the
//! Bot API server uses) closely, including their error texts and byte offsets; `detect` follows
//! TDLib's `find_entities`.

use serde_json::{Value, json};

/// Parses `text` under `parse_mode` ("HTML", "MarkdownV2", "Markdown", any letter case).
/// Ok((plain_text, entities)); Err(description) where description is the full Telegram text
/// after "Bad Request: ", e.g. "can't parse entities: Unsupported start tag \"foo\" at byte offset 0"
/// or "unsupported parse_mode" for an unknown mode.
pub fn parse(text: &str, parse_mode: &str) -> Result<(String, Vec<Value>), String> {
    let parsed = match parse_mode.to_ascii_lowercase().as_str() {
        "" | "none" => return Ok((text.to_owned(), Vec::new())),
        "html" => parse_html(text),
        "markdownv2" => parse_markdown_v2(text),
        "markdown" => parse_markdown(text),
        _ => return Err("unsupported parse_mode".to_owned()),
    };
    let (plain, mut entities) = parsed.map_err(|e| format!("can't parse entities: {e}"))?;
    sort_entities(&mut entities);
    // Pre and code entities can't contain other entities; Telegram drops the nested ones.
    let mut code_end = 0;
    entities.retain(|e| {
        let keep = e.length > 0 && e.offset >= code_end;
        if keep && matches!(e.kind, Kind::Code | Kind::Pre) {
            code_end = e.offset + e.length;
        }
        keep
    });
    Ok((plain, entities.iter().map(Entity::to_json).collect()))
}

/// Entities Telegram detects by itself in a plain text (bot_command, mention, hashtag, cashtag, url, email).
pub fn detect(text: &str) -> Vec<Value> {
    let cs: Vec<char> = text.chars().collect();
    let mut found: Vec<(usize, usize, Kind)> = Vec::new();
    found.extend(match_mentions(&cs).into_iter().map(|(b, e)| (b, e, Kind::Mention)));
    found.extend(match_bot_commands(&cs).into_iter().map(|(b, e)| (b, e, Kind::BotCommand)));
    found.extend(match_hashtags(&cs).into_iter().map(|(b, e)| (b, e, Kind::Hashtag)));
    found.extend(match_cashtags(&cs).into_iter().map(|(b, e)| (b, e, Kind::Cashtag)));
    found.extend(match_tg_urls(&cs).into_iter().map(|(b, e)| (b, e, Kind::Url)));
    for (b, e) in match_urls(&cs) {
        let url: String = cs[b..e].iter().collect();
        if is_email_address(&url) {
            found.push((b, e, Kind::Email));
        } else if url.starts_with("mailto:") && is_email_address(&url[7..]) {
            found.push((b + 7, e, Kind::Email));
        } else if let Some(len) = fix_url(&url) {
            found.push((b, b + url[..len].chars().count(), Kind::Url));
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

/// The length of a string in UTF-16 code units, as entity offsets count.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bold,
    Italic,
    Underline,
    Strikethrough,
    Spoiler,
    Code,
    /// `arg` holds the language; empty for a plain pre.
    Pre,
    /// `arg` holds the URL.
    TextLink,
    /// `arg` holds the custom emoji id.
    CustomEmoji,
    Blockquote,
    ExpandableBlockquote,
    Mention,
    Hashtag,
    Cashtag,
    BotCommand,
    Url,
    Email,
}

#[derive(Clone, Debug)]
struct Entity {
    kind: Kind,
    offset: usize,
    length: usize,
    arg: String,
}

impl Entity {
    fn new(kind: Kind, offset: usize, length: usize, arg: String) -> Self {
        Entity { kind, offset, length, arg }
    }

    fn api_type(&self) -> &'static str {
        match self.kind {
            Kind::Bold => "bold",
            Kind::Italic => "italic",
            Kind::Underline => "underline",
            Kind::Strikethrough => "strikethrough",
            Kind::Spoiler => "spoiler",
            Kind::Code => "code",
            Kind::Pre => "pre",
            Kind::TextLink => "text_link",
            Kind::CustomEmoji => "custom_emoji",
            Kind::Blockquote => "blockquote",
            Kind::ExpandableBlockquote => "expandable_blockquote",
            Kind::Mention => "mention",
            Kind::Hashtag => "hashtag",
            Kind::Cashtag => "cashtag",
            Kind::BotCommand => "bot_command",
            Kind::Url => "url",
            Kind::Email => "email",
        }
    }

    /// TDLib's type name, as MarkdownV2 error messages spell it.
    fn td_name(&self) -> &'static str {
        match self.kind {
            Kind::Pre if !self.arg.is_empty() => "PreCode",
            Kind::TextLink => "TextUrl",
            Kind::Blockquote => "BlockQuote",
            Kind::ExpandableBlockquote => "ExpandableBlockQuote",
            Kind::Bold => "Bold",
            Kind::Italic => "Italic",
            Kind::Underline => "Underline",
            Kind::Strikethrough => "Strikethrough",
            Kind::Spoiler => "Spoiler",
            Kind::Code => "Code",
            Kind::Pre => "Pre",
            Kind::CustomEmoji => "CustomEmoji",
            _ => "Unknown",
        }
    }

    /// TDLib's order for entities sharing offset and length.
    fn priority(&self) -> u8 {
        match self.kind {
            Kind::Blockquote | Kind::ExpandableBlockquote => 0,
            Kind::Pre if !self.arg.is_empty() => 10,
            Kind::Pre => 11,
            Kind::Code => 20,
            Kind::TextLink => 49,
            Kind::Bold => 90,
            Kind::Italic => 91,
            Kind::Underline => 92,
            Kind::Strikethrough => 93,
            Kind::Spoiler => 94,
            Kind::CustomEmoji => 99,
            _ => 50,
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({ "type": self.api_type(), "offset": self.offset, "length": self.length });
        match self.kind {
            Kind::TextLink => v["url"] = json!(self.arg),
            Kind::Pre if !self.arg.is_empty() => v["language"] = json!(self.arg),
            Kind::CustomEmoji => v["custom_emoji_id"] = json!(self.arg),
            _ => {}
        }
        v
    }
}

fn sort_entities(entities: &mut [Entity]) {
    entities.sort_by_key(|e| (e.offset, std::cmp::Reverse(e.length), e.priority()));
}

/// UTF-16 code units contributed by a UTF-8 byte (0 for continuation bytes).
fn units(c: u8) -> usize {
    match c {
        0x80..=0xbf => 0,
        0xf0..=0xff => 2,
        _ => 1,
    }
}

/// TDLib's `is_space`, which also counts the terminating NUL.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0 | 0x0b)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Length of the single line break skipped at the start of a pre block ("\n", "\r", "\r\n", "\n\r").
fn newline_skip(s: &[u8], i: usize) -> usize {
    let at = |k: usize| s.get(k).copied().unwrap_or(0);
    match at(i) {
        b'\n' | b'\r' if matches!(at(i + 1), b'\n' | b'\r') && at(i) != at(i + 1) => 2,
        b'\n' | b'\r' => 1,
        _ => 0,
    }
}

/// The language after "```": up to a space or backtick, and only if more text follows it.
fn pre_language(text: &str, i: usize) -> Option<&str> {
    let s = text.as_bytes();
    let mut end = i;
    while end < s.len() && !is_space(s[end]) && s[end] != b'`' {
        end += 1;
    }
    (end != i && end < s.len() && s[end] != b'`').then(|| &text[i..end])
}

// ---------------------------------------------------------------------------------------------
// HTML

const HTML_TAGS: &str = "a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote";

fn parse_html(text: &str) -> Result<(String, Vec<Entity>), String> {
    struct Open {
        tag: String,
        arg: String,
        offset: usize,
        begin: usize,
    }
    let s = text.as_bytes();
    let at = |k: usize| s.get(k).copied().unwrap_or(0);
    let mut out = Vec::with_capacity(s.len());
    let mut entities: Vec<Entity> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let (mut utf16, mut bad_surrogate, mut i) = (0, false, 0);
    while i < s.len() {
        let c = s[i];
        if c == b'&'
            && let Some((code, next)) = decode_html_entity(s, i)
        {
            utf16 += if code > 0xffff { 2 } else { 1 };
            bad_surrogate |= push_code(&mut out, code);
            i = next;
            continue;
        }
        if c != b'<' {
            utf16 += units(c);
            out.push(c);
            i += 1;
            continue;
        }
        let begin_pos = i;
        i += 1;
        if at(i) != b'/' {
            while !is_space(at(i)) && at(i) != b'>' {
                i += 1;
            }
            if at(i) == 0 {
                return Err(format!("Unclosed start tag at byte offset {begin_pos}"));
            }
            let tag = lossy(&s[begin_pos + 1..i]).to_ascii_lowercase();
            if !HTML_TAGS.split(' ').any(|t| t == tag) {
                return Err(format!("Unsupported start tag \"{tag}\" at byte offset {begin_pos}"));
            }
            let unclosed = || format!("Unclosed start tag \"{tag}\" at byte offset {begin_pos}");
            let mut arg = String::new();
            while at(i) != b'>' {
                while at(i) != 0 && is_space(at(i)) {
                    i += 1;
                }
                if at(i) == b'>' {
                    break;
                }
                let attr_begin = i;
                while !is_space(at(i)) && !b"=>/\"'".contains(&at(i)) {
                    i += 1;
                }
                let attr = &s[attr_begin..i];
                if attr.is_empty() {
                    return Err(format!("Empty attribute name in the tag \"{tag}\" at byte offset {begin_pos}"));
                }
                while at(i) != 0 && is_space(at(i)) {
                    i += 1;
                }
                if at(i) != b'=' {
                    if at(i) == 0 {
                        return Err(unclosed());
                    }
                    if tag == "blockquote" && attr == b"expandable" {
                        arg = "1".to_owned();
                    }
                    continue;
                }
                i += 1;
                while at(i) != 0 && is_space(at(i)) {
                    i += 1;
                }
                if at(i) == 0 {
                    return Err(unclosed());
                }
                let value = if at(i) != b'\'' && at(i) != b'"' {
                    // A name token: letters, digits, periods and hyphens, case-insensitive.
                    let token_begin = i;
                    while at(i).is_ascii_alphanumeric() || at(i) == b'.' || at(i) == b'-' {
                        i += 1;
                    }
                    if !is_space(at(i)) && at(i) != b'>' {
                        return Err(format!("Unexpected end of name token at byte offset {token_begin}"));
                    }
                    lossy(&s[token_begin..i]).to_ascii_lowercase()
                } else {
                    let quote = at(i);
                    i += 1;
                    let mut value = Vec::new();
                    while at(i) != quote && at(i) != 0 {
                        if at(i) == b'&'
                            && let Some((code, next)) = decode_html_entity(s, i)
                        {
                            push_code(&mut value, code);
                            i = next;
                            continue;
                        }
                        value.push(at(i));
                        i += 1;
                    }
                    if at(i) == quote {
                        i += 1;
                    }
                    lossy(&value)
                };
                if at(i) == 0 {
                    return Err(format!("Unclosed start tag at byte offset {begin_pos}"));
                }
                match (tag.as_str(), attr) {
                    ("a", b"href") | ("tg-emoji", b"emoji-id") => arg = value,
                    ("code", b"class") if value.starts_with("language-") => arg = value[9..].to_owned(),
                    ("span", b"class") if value.starts_with("tg-") => arg = value[3..].to_owned(),
                    ("blockquote", b"expandable") => arg = "1".to_owned(),
                    _ => {}
                }
            }
            if tag == "span" && arg != "spoiler" {
                return Err(format!("Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin_pos}"));
            }
            stack.push(Open { tag, arg, offset: utf16, begin: out.len() });
        } else {
            let Some(open) = stack.pop() else {
                return Err(format!("Unexpected end tag at byte offset {begin_pos}"));
            };
            while !is_space(at(i)) && at(i) != b'>' {
                i += 1;
            }
            let end_tag = lossy(&s[begin_pos + 2..i]).to_ascii_lowercase();
            while at(i) != 0 && is_space(at(i)) {
                i += 1;
            }
            if at(i) != b'>' {
                return Err(format!("Unclosed end tag at byte offset {begin_pos}"));
            }
            if !end_tag.is_empty() && end_tag != open.tag {
                return Err(format!(
                    "Unmatched end tag at byte offset {begin_pos}, expected \"</{}>\", found \"</{end_tag}>\"",
                    open.tag
                ));
            }
            if utf16 > open.offset {
                let (offset, length) = (open.offset, utf16 - open.offset);
                let same_range = |e: &Entity| e.offset == offset && e.length == length;
                let kind = match open.tag.as_str() {
                    "b" | "strong" => Kind::Bold,
                    "i" | "em" => Kind::Italic,
                    "u" | "ins" => Kind::Underline,
                    "s" | "strike" | "del" => Kind::Strikethrough,
                    "tg-spoiler" | "span" => Kind::Spoiler,
                    "blockquote" if open.arg.is_empty() => Kind::Blockquote,
                    "blockquote" => Kind::ExpandableBlockquote,
                    "tg-emoji" => Kind::CustomEmoji,
                    "a" => Kind::TextLink,
                    "code" => Kind::Code,
                    _ => Kind::Pre,
                };
                match kind {
                    Kind::CustomEmoji => {
                        let id = parse_emoji_id(&open.arg).ok_or("Invalid custom emoji identifier specified")?;
                        entities.push(Entity::new(kind, offset, length, id));
                    }
                    Kind::TextLink => {
                        let url = if open.arg.is_empty() { lossy(&out[open.begin..]) } else { open.arg };
                        if let Some(url) = check_link(&url) {
                            entities.push(Entity::new(kind, offset, length, url));
                        }
                    }
                    // <code class="language-x"> directly inside <pre>: a pre with language.
                    Kind::Pre => match entities.last_mut() {
                        Some(last) if last.kind == Kind::Code && same_range(last) && !last.arg.is_empty() => {
                            last.kind = Kind::Pre;
                        }
                        _ => entities.push(Entity::new(kind, offset, length, String::new())),
                    },
                    // <pre> directly inside <code class="language-x">: the same.
                    Kind::Code => match entities.last_mut() {
                        Some(last)
                            if last.kind == Kind::Pre
                                && last.arg.is_empty()
                                && same_range(last)
                                && !open.arg.is_empty() =>
                        {
                            last.arg = open.arg;
                        }
                        _ => entities.push(Entity::new(kind, offset, length, open.arg)),
                    },
                    _ => entities.push(Entity::new(kind, offset, length, String::new())),
                }
            }
        }
        i += 1;
    }
    if let Some(open) = stack.last() {
        return Err(format!("Can't find end tag corresponding to start tag \"{}\"", open.tag));
    }
    for e in entities.iter_mut().filter(|e| e.kind == Kind::Code) {
        e.arg.clear();
    }
    if bad_surrogate {
        return Err("Text contains invalid Unicode characters after decoding HTML entities, check for unmatched \
                    surrogate code units"
            .to_owned());
    }
    Ok((lossy(&out), entities))
}

/// Decodes `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&#NN;` and `&#xNN;` at `pos` (the ';' is optional).
/// Returns the code point and the position after the entity; None leaves the '&' literal.
fn decode_html_entity(s: &[u8], pos: usize) -> Option<(u32, usize)> {
    let at = |k: usize| s.get(k).copied().unwrap_or(0);
    let mut end = pos + 1;
    let code = if at(end) == b'#' {
        end += 1;
        let radix = if at(end) == b'x' {
            end += 1;
            16
        } else {
            10
        };
        let mut code: u32 = 0;
        while let Some(d) = char::from(at(end)).to_digit(radix) {
            code = code.saturating_mul(radix).saturating_add(d);
            end += 1;
        }
        if code == 0 || code >= 0x10ffff || end - pos >= 10 {
            return None;
        }
        code
    } else {
        while at(end).is_ascii_alphabetic() {
            end += 1;
        }
        match &s[pos + 1..end] {
            b"lt" => u32::from('<'),
            b"gt" => u32::from('>'),
            b"amp" => u32::from('&'),
            b"quot" => u32::from('"'),
            _ => return None,
        }
    };
    Some((code, if at(end) == b';' { end + 1 } else { end }))
}

/// Appends a decoded code point; returns true for a surrogate, which Telegram rejects.
fn push_code(out: &mut Vec<u8>, code: u32) -> bool {
    let ch = char::from_u32(code);
    out.extend_from_slice(ch.unwrap_or('\u{fffd}').encode_utf8(&mut [0; 4]).as_bytes());
    ch.is_none()
}

// ---------------------------------------------------------------------------------------------
// MarkdownV2

fn parse_markdown_v2(text: &str) -> Result<(String, Vec<Entity>), String> {
    struct Open {
        entity: Entity,
        byte_offset: usize,
        begin: usize,
    }
    let end_error =
        |o: &Open| format!("Can't find end of {} entity at byte offset {}", o.entity.td_name(), o.byte_offset);
    let reserved_error =
        |c: u8| format!("Character '{}' is reserved and must be escaped with the preceding '\\'", char::from(c));
    let s = text.as_bytes();
    let n = s.len();
    let at = |k: usize| s.get(k).copied().unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    let mut entities = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let (mut utf16, mut have_quote, mut can_start_quote, mut i) = (0, false, true, 0);
    while i < n {
        let c = s[i];
        if c == b'\\' && (1..=126).contains(&at(i + 1)) {
            out.push(s[i + 1]);
            utf16 += 1;
            if s[i + 1] != b'\r' {
                can_start_quote = s[i + 1] == b'\n';
            }
            i += 2;
            continue;
        }
        let in_code = stack.last().is_some_and(|o| matches!(o.entity.kind, Kind::Code | Kind::Pre));
        let reserved: &[u8] = if in_code { b"`" } else { b"_*[]()~`>#+-=|{}.!\n" };
        if !reserved.contains(&c) {
            if units(c) > 0 && c != b'\r' {
                can_start_quote = false;
            }
            utf16 += units(c);
            out.push(c);
            i += 1;
            continue;
        }
        let is_end = stack.last().is_some_and(|o| {
            (have_quote && c == b'\n' && at(i + 1) != b'>')
                || match o.entity.kind {
                    Kind::Bold => c == b'*',
                    Kind::Italic => c == b'_' && at(i + 1) != b'_',
                    Kind::Underline => c == b'_' && at(i + 1) == b'_',
                    Kind::Strikethrough => c == b'~',
                    Kind::Spoiler => c == b'|' && at(i + 1) == b'|',
                    Kind::Code => c == b'`',
                    Kind::Pre => c == b'`' && at(i + 1) == b'`' && at(i + 2) == b'`',
                    Kind::TextLink | Kind::CustomEmoji => c == b']',
                    _ => false,
                }
        });
        if !is_end {
            let byte_offset = i;
            let mut arg = String::new();
            let kind = match c {
                b'_' if at(i + 1) == b'_' => {
                    i += 1;
                    Kind::Underline
                }
                b'_' => Kind::Italic,
                b'*' => Kind::Bold,
                b'~' => Kind::Strikethrough,
                b'|' if at(i + 1) == b'|' => {
                    i += 1;
                    Kind::Spoiler
                }
                b'[' => Kind::TextLink,
                b'!' if at(i + 1) == b'[' => {
                    i += 1;
                    Kind::CustomEmoji
                }
                b'`' if at(i + 1) == b'`' && at(i + 2) == b'`' => {
                    i += 3;
                    if let Some(language) = pre_language(text, i) {
                        arg = language.to_owned();
                        i += language.len();
                    }
                    i += newline_skip(s, i);
                    i -= 1; // the content starts at i, after the increment below
                    Kind::Pre
                }
                b'`' => Kind::Code,
                b'\n' => {
                    out.push(b'\n');
                    utf16 += 1;
                    can_start_quote = true;
                    i += 1;
                    continue;
                }
                b'>' if can_start_quote => {
                    if !have_quote {
                        have_quote = true;
                        stack.push(Open {
                            entity: Entity::new(Kind::Blockquote, utf16, 0, String::new()),
                            byte_offset,
                            begin: out.len(),
                        });
                    }
                    i += 1;
                    continue;
                }
                _ => return Err(reserved_error(c)),
            };
            stack.push(Open { entity: Entity::new(kind, utf16, 0, arg), byte_offset, begin: out.len() });
            i += 1;
            continue;
        }

        // The end of the innermost entity.
        let Some(mut open) = stack.pop() else { break };
        if c == b'\n' && open.entity.kind != Kind::Blockquote {
            // "||" right before the end of a blockquote marks it expandable.
            let is_mark = open.entity.kind == Kind::Spoiler
                && (open.byte_offset + 2 == i || (open.byte_offset + 3 == i && out.last() == Some(&b'\r')));
            if !is_mark {
                return Err(end_error(&open));
            }
            match stack.pop() {
                Some(quote) if quote.entity.kind == Kind::Blockquote => {
                    open = quote;
                    open.entity.kind = Kind::ExpandableBlockquote;
                }
                Some(other) => return Err(end_error(&other)),
                None => return Err(end_error(&open)),
            }
        }
        let mut skip = utf16 == open.entity.offset;
        match open.entity.kind {
            Kind::Underline | Kind::Spoiler => i += 1,
            Kind::Pre => i += 2,
            Kind::TextLink => {
                let url = if at(i + 1) != b'(' {
                    lossy(&out[open.begin..])
                } else {
                    i += 2;
                    let url_begin = i;
                    let url = read_link_target(s, &mut i);
                    if at(i) != b')' {
                        return Err(format!("Can't find end of a URL at byte offset {url_begin}"));
                    }
                    url
                };
                match check_link(&url) {
                    Some(url) => open.entity.arg = url,
                    None => skip = true,
                }
            }
            Kind::CustomEmoji => {
                if at(i + 1) != b'(' {
                    return Err("Custom emoji entity must contain a tg://emoji URL".to_owned());
                }
                i += 2;
                let url_begin = i;
                let url = read_link_target(s, &mut i);
                if at(i) != b')' {
                    return Err(format!("Can't find end of a custom emoji URL at byte offset {url_begin}"));
                }
                open.entity.arg = custom_emoji_id(&url)?;
            }
            Kind::Blockquote | Kind::ExpandableBlockquote => {
                have_quote = false;
                can_start_quote = true;
                out.push(c);
                utf16 += 1;
                skip = false;
            }
            _ => {}
        }
        if !skip {
            open.entity.length = utf16 - open.entity.offset;
            entities.push(open.entity);
        }
        i += 1;
    }
    if have_quote {
        let mut kind = Kind::Blockquote;
        if stack.last().is_some_and(|o| o.entity.kind == Kind::Spoiler && o.byte_offset + 2 == n) {
            stack.pop();
            kind = Kind::ExpandableBlockquote;
        }
        if stack.last().is_some_and(|o| o.entity.kind == Kind::Blockquote)
            && let Some(open) = stack.pop()
            && utf16 > open.entity.offset
        {
            entities.push(Entity::new(kind, open.entity.offset, utf16 - open.entity.offset, String::new()));
        }
    }
    if let Some(open) = stack.last() {
        return Err(end_error(open));
    }
    Ok((lossy(&out), entities))
}

/// Reads the "(...)" part of a MarkdownV2 link up to the unescaped ')' (left at `*i`).
fn read_link_target(s: &[u8], i: &mut usize) -> String {
    let mut url = Vec::new();
    while *i < s.len() && s[*i] != b')' {
        if s[*i] == b'\\' && s.get(*i + 1).is_some_and(|c| (1..=126).contains(c)) {
            *i += 1;
        }
        url.push(s[*i]);
        *i += 1;
    }
    lossy(&url)
}

// ---------------------------------------------------------------------------------------------
// Legacy Markdown

fn parse_markdown(text: &str) -> Result<(String, Vec<Entity>), String> {
    let s = text.as_bytes();
    let n = s.len();
    let at = |k: usize| s.get(k).copied().unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    let mut entities = Vec::new();
    let (mut utf16, mut i) = (0, 0);
    while i < n {
        let c = s[i];
        if c == b'\\' && matches!(at(i + 1), b'_' | b'*' | b'`' | b'[') {
            out.push(s[i + 1]);
            utf16 += 1;
            i += 2;
            continue;
        }
        if !matches!(c, b'_' | b'*' | b'`' | b'[') {
            utf16 += units(c);
            out.push(c);
            i += 1;
            continue;
        }
        let begin_pos = i;
        let end_char = if c == b'[' { b']' } else { c };
        let mut language = String::new();
        let is_pre = c == b'`' && at(i + 1) == b'`' && at(i + 2) == b'`';
        i += 1;
        if is_pre {
            i += 2;
            if let Some(lang) = pre_language(text, i) {
                language = lang.to_owned();
                i += lang.len();
            }
            i += newline_skip(s, i);
        }
        let (offset, content_begin) = (utf16, out.len());
        while i < n && (s[i] != end_char || (is_pre && !(at(i + 1) == b'`' && at(i + 2) == b'`'))) {
            utf16 += units(s[i]);
            out.push(s[i]);
            i += 1;
        }
        if i == n {
            return Err(format!("Can't find end of the entity starting at byte offset {begin_pos}"));
        }
        if utf16 > offset {
            let length = utf16 - offset;
            match c {
                b'_' => entities.push(Entity::new(Kind::Italic, offset, length, String::new())),
                b'*' => entities.push(Entity::new(Kind::Bold, offset, length, String::new())),
                b'[' => {
                    let url = if at(i + 1) != b'(' {
                        lossy(&out[content_begin..])
                    } else {
                        i += 2;
                        let url_begin = i;
                        while i < n && s[i] != b')' {
                            i += 1;
                        }
                        lossy(&s[url_begin..i])
                    };
                    if let Some(url) = check_link(&url) {
                        entities.push(Entity::new(Kind::TextLink, offset, length, url));
                    }
                }
                _ if is_pre => entities.push(Entity::new(Kind::Pre, offset, length, language)),
                _ => entities.push(Entity::new(Kind::Code, offset, length, String::new())),
            }
        }
        i += if is_pre { 3 } else { 1 };
    }
    Ok((lossy(&out), entities))
}

// ---------------------------------------------------------------------------------------------
// Links

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
fn check_link(link: &str) -> Option<String> {
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
fn parse_emoji_id(value: &str) -> Option<String> {
    value.parse::<i64>().ok().filter(|&id| id != 0 && id.to_string() == value).map(|id| id.to_string())
}

/// The id of a `tg://emoji?id=...` link, with TDLib's error texts.
fn custom_emoji_id(url: &str) -> Result<String, String> {
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

// ---------------------------------------------------------------------------------------------
// Automatic entities (TDLib's matchers, on chars; they return [begin, end) char ranges)

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
    use super::*;

    /// Compact entity notation: "type@offset+length", plus ":arg" for url/language/custom_emoji_id.
    fn fmt(entities: &[Value]) -> Vec<String> {
        entities
            .iter()
            .map(|e| {
                let mut s = format!("{}@{}+{}", e["type"].as_str().unwrap(), e["offset"], e["length"]);
                for key in ["url", "language", "custom_emoji_id"] {
                    if let Some(v) = e.get(key) {
                        s.push(':');
                        s.push_str(v.as_str().unwrap());
                    }
                }
                s
            })
            .collect()
    }

    fn ok(text: &str, mode: &str) -> (String, Vec<String>) {
        let (plain, entities) = parse(text, mode).unwrap_or_else(|e| panic!("{text:?} failed: {e}"));
        (plain, fmt(&entities))
    }

    fn html(text: &str) -> (String, Vec<String>) {
        ok(text, "HTML")
    }

    fn md2(text: &str) -> (String, Vec<String>) {
        ok(text, "MarkdownV2")
    }

    fn md(text: &str) -> (String, Vec<String>) {
        ok(text, "Markdown")
    }

    fn err(text: &str, mode: &str) -> String {
        let e = parse(text, mode).expect_err(text);
        e.strip_prefix("can't parse entities: ").unwrap_or(&e).to_owned()
    }

    fn pair(plain: &str, entities: &[&str]) -> (String, Vec<String>) {
        (plain.to_owned(), entities.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn utf16_lengths() {
        assert_eq!(utf16_len(""), 0);
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("é"), 1);
        assert_eq!(utf16_len("😀"), 2);
        assert_eq!(utf16_len("➡️"), 2);
        assert_eq!(utf16_len("a😀b"), 4);
    }

    #[test]
    fn parse_modes() {
        assert_eq!(ok("*b*", "markdownv2"), pair("b", &["bold@0+1"]));
        assert_eq!(ok("*b*", "MARKDOWN"), pair("b", &["bold@0+1"]));
        assert_eq!(ok("<b>b</b>", "html"), pair("b", &["bold@0+1"]));
        assert_eq!(ok("<b>*x*</b>", ""), pair("<b>*x*</b>", &[]));
        assert_eq!(parse("x", "Markdown3").unwrap_err(), "unsupported parse_mode");
        assert_eq!(
            parse("<foo>", "HTML").unwrap_err(),
            "can't parse entities: Unsupported start tag \"foo\" at byte offset 0"
        );
    }

    #[test]
    fn html_simple_tags() {
        for (tag, kind) in [
            ("b", "bold"),
            ("strong", "bold"),
            ("i", "italic"),
            ("em", "italic"),
            ("u", "underline"),
            ("ins", "underline"),
            ("s", "strikethrough"),
            ("strike", "strikethrough"),
            ("del", "strikethrough"),
            ("tg-spoiler", "spoiler"),
            ("code", "code"),
            ("pre", "pre"),
            ("blockquote", "blockquote"),
        ] {
            let entity = format!("{kind}@3+2");
            assert_eq!(html(&format!("ab <{tag}>cd</{tag}> e")), pair("ab cd e", &[&entity]), "{tag}");
            let upper = tag.to_ascii_uppercase();
            assert_eq!(html(&format!("ab <{upper}>cd</{tag}> e")), pair("ab cd e", &[&entity]), "{upper}");
        }
        assert_eq!(html("<span class=\"tg-spoiler\">x</span>"), pair("x", &["spoiler@0+1"]));
        assert_eq!(html("<span class = 'tg-spoiler' >x</>"), pair("x", &["spoiler@0+1"]));
        assert_eq!(html("<i>a</i   >"), pair("a", &["italic@0+1"]));
        assert_eq!(html("<i>a</    >"), pair("a", &["italic@0+1"]));
    }

    #[test]
    fn html_nested_and_sorted() {
        assert_eq!(
            html("<b>bold <i>both <u>all</u></i></b> plain"),
            pair("bold both all plain", &["bold@0+13", "italic@5+8", "underline@10+3"])
        );
        // Same range: sorted by Telegram's type priority (bold before italic before spoiler).
        assert_eq!(
            html("<tg-spoiler><i><b>x</b></i></tg-spoiler>"),
            pair("x", &["bold@0+1", "italic@0+1", "spoiler@0+1"])
        );
        assert_eq!(html("<i><b> </b> <code> </code></i>"), pair("   ", &["italic@0+3", "bold@0+1", "code@2+1"]));
        assert_eq!(
            html("<a href=\"https://t.me\"><b>x</b></a>"),
            pair("x", &["text_link@0+1:https://t.me/", "bold@0+1"])
        );
    }

    #[test]
    fn html_utf16_offsets() {
        assert_eq!(html("😀<b>x</b>"), pair("😀x", &["bold@2+1"]));
        assert_eq!(html("➡️ ➡️<i>➡️ ➡️</i>"), pair("➡️ ➡️➡️ ➡️", &["italic@5+5"]));
        assert_eq!(html("🏟 🏟<i>🏟 &lt;🏟</i>"), pair("🏟 🏟🏟 <🏟", &["italic@5+6"]));
        assert_eq!(html("<b>&#x1F600;</b>x"), pair("😀x", &["bold@0+2"]));
        assert_eq!(html("é<u>ü</u>"), pair("éü", &["underline@1+1"]));
    }

    #[test]
    fn html_character_entities() {
        assert_eq!(html("&lt;&gt;&amp;&quot;"), pair("<>&\"", &[]));
        assert_eq!(html("&lt&gt x"), pair("<> x", &[]));
        assert_eq!(html("&#65;&#x42;&#x43"), pair("ABC", &[]));
        assert_eq!(html("&#128512;"), pair("😀", &[]));
        // Unknown named entities and out-of-range numbers stay literal.
        assert_eq!(html("&ge;&nbsp;&Or;&#12345678;&#0;&#;"), pair("&ge;&nbsp;&Or;&#12345678;&#0;&#;", &[]));
        assert_eq!(html("a & b"), pair("a & b", &[]));
        assert_eq!(html("AT&T"), pair("AT&T", &[]));
        assert_eq!(html("a > b"), pair("a > b", &[]));
    }

    #[test]
    fn html_links() {
        assert_eq!(html("<a href=\"https://example.com\">x</a>"), pair("x", &["text_link@0+1:https://example.com/"]));
        assert_eq!(
            html("<a href='https://Example.com/Path?q=1#f'>x</a>"),
            pair("x", &["text_link@0+1:https://example.com/Path?q=1#f"])
        );
        assert_eq!(html("<a href=telegram.org>x</a>"), pair("x", &["text_link@0+1:http://telegram.org/"]));
        assert_eq!(
            html("<a   href=  'telegram.org?&lt;'   > </a>"),
            pair(" ", &["text_link@0+1:http://telegram.org/?<"])
        );
        assert_eq!(html("<a href=\"tg://user?id=123\">Ann</a>"), pair("Ann", &["text_link@0+3:tg://user?id=123"]));
        assert_eq!(
            html("<a href=\"http://x.io:8080/a b\">x</a>"),
            pair("x", &["text_link@0+1:http://x.io:8080/a%20b"])
        );
        // Without href the text is the URL.
        assert_eq!(html("<a>telegram.org</a>"), pair("telegram.org", &["text_link@0+12:http://telegram.org/"]));
        assert_eq!(html("<a>telegram.org </a>"), pair("telegram.org ", &[]));
        // Invalid links are dropped silently.
        assert_eq!(html("<a href=\"nodot\">x</a>"), pair("x", &[]));
        assert_eq!(html("<a href=\"javascript:alert(1)\">x</a>"), pair("x", &[]));
        assert_eq!(html("<a href=\"ftp://x.com\">x</a>"), pair("x", &[]));
        assert_eq!(html("<a href=\"https://x.com:99999\">x</a>"), pair("x", &[]));
    }

    #[test]
    fn html_pre_and_code() {
        assert_eq!(
            html("<pre><code class=\"language-python\">print(1)</code></pre>"),
            pair("print(1)", &["pre@0+8:python"])
        );
        assert_eq!(html("<code class=\"language-rust\"><pre>x</pre></code>"), pair("x", &["pre@0+1:rust"]));
        assert_eq!(html("<pre>x</pre>"), pair("x", &["pre@0+1"]));
        // Code nested in pre without a language, or anything else nested in code, is dropped.
        assert_eq!(html("<pre><code>x</code></pre>"), pair("x", &["pre@0+1"]));
        assert_eq!(html("<code>a<b>b</b></code>"), pair("ab", &["code@0+2"]));
        assert_eq!(html("<pre><code class=\"language-c\">x</code> </pre>"), pair("x ", &["pre@0+2"]));
        // A language on code outside pre is ignored.
        assert_eq!(html("<code class=\"language-c\">x</code>"), pair("x", &["code@0+1"]));
        assert_eq!(html("<pre>a\n  b</pre>"), pair("a\n  b", &["pre@0+5"]));
    }

    #[test]
    fn html_custom_emoji_and_blockquotes() {
        assert_eq!(
            html("<tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji>"),
            pair("👍", &["custom_emoji@0+2:5368324170671202286"])
        );
        assert_eq!(html("<blockquote>q</blockquote>"), pair("q", &["blockquote@0+1"]));
        assert_eq!(html("<blockquote expandable>q</blockquote>"), pair("q", &["expandable_blockquote@0+1"]));
        assert_eq!(html("<blockquote expandable=false>q</blockquote>"), pair("q", &["expandable_blockquote@0+1"]));
        assert_eq!(html("<blockquote cite=\"\" x>a&lt;<pre>b;</pre></>"), pair("a<b;", &["blockquote@0+4", "pre@2+2"]));
    }

    #[test]
    fn html_zero_length_entities_are_dropped() {
        assert_eq!(html("a<b></b>c"), pair("ac", &[]));
        assert_eq!(html("<i><b></b></i>"), pair("", &[]));
        assert_eq!(html("<a href=\"https://x.com\"></a>"), pair("", &[]));
    }

    #[test]
    fn html_errors() {
        let h = |t: &str| err(t, "HTML");
        assert_eq!(h("<foo>x</foo>"), "Unsupported start tag \"foo\" at byte offset 0");
        assert_eq!(h("ab <br/>"), "Unsupported start tag \"br/\" at byte offset 3");
        assert_eq!(h("🏟 🏟&lt;<abac aba>"), "Unsupported start tag \"abac\" at byte offset 13");
        assert_eq!(h("<b>x"), "Can't find end tag corresponding to start tag \"b\"");
        assert_eq!(h("<b><i>x</i>"), "Can't find end tag corresponding to start tag \"b\"");
        assert_eq!(h("<b>x</i>"), "Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\"");
        assert_eq!(h("<b><i>x</b></i>"), "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\"");
        assert_eq!(h("x</b>"), "Unexpected end tag at byte offset 1");
        assert_eq!(h("🏟 🏟&lt;<b></b></"), "Unexpected end tag at byte offset 20");
        assert_eq!(h("🏟 🏟&lt;<i>a</i   "), "Unclosed end tag at byte offset 17");
        assert_eq!(h("a <b"), "Unclosed start tag at byte offset 2");
        assert_eq!(h("<i   =aba>"), "Empty attribute name in the tag \"i\" at byte offset 0");
        assert_eq!(h("<i aba  =  "), "Unclosed start tag \"i\" at byte offset 0");
        assert_eq!(h("<i aba"), "Unclosed start tag \"i\" at byte offset 0");
        assert_eq!(h("<i aba=\"x>"), "Unclosed start tag at byte offset 0");
        assert_eq!(h("🏟 🏟&lt;<i    aba  =  190azAz-.,"), "Unexpected end of name token at byte offset 27");
        assert_eq!(h("<span>x</span>"), "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0");
        assert_eq!(h("<span class=\"big\">x</span>"), "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0");
        assert_eq!(h("<tg-emoji emoji-id=\"x\">y</tg-emoji>"), "Invalid custom emoji identifier specified");
        assert_eq!(h("<tg-emoji>y</tg-emoji>"), "Invalid custom emoji identifier specified");
        assert_eq!(
            h("&#xDFDF;"),
            "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate \
             code units"
        );
    }

    #[test]
    fn markdown_v2_basic_styles() {
        assert_eq!(
            md2("*bold* _italic_ __underline__ ~strike~ ||spoiler|| `code`"),
            pair(
                "bold italic underline strike spoiler code",
                &["bold@0+4", "italic@5+6", "underline@12+9", "strikethrough@22+6", "spoiler@29+7", "code@37+4"]
            )
        );
        assert_eq!(md2("😀*x*"), pair("😀x", &["bold@2+1"]));
        assert_eq!(md2("🏟 🏟_abac \\* asd _"), pair("🏟 🏟abac * asd ", &["italic@5+11"]));
    }

    #[test]
    fn markdown_v2_nested() {
        assert_eq!(
            md2(
                "*bold _italic bold ~italic bold strikethrough ||italic bold strikethrough spoiler||~ __underline italic bold___ bold*"
            ),
            pair(
                "bold italic bold italic bold strikethrough italic bold strikethrough spoiler underline italic bold bold",
                &["bold@0+103", "italic@5+93", "strikethrough@17+59", "spoiler@43+33", "underline@77+21"]
            )
        );
        assert_eq!(md2("🏟 🏟_🏟 __🏟___"), pair("🏟 🏟🏟 🏟", &["italic@5+5", "underline@8+2"]));
        assert_eq!(md2("🏟 🏟__🏟 _🏟_ __"), pair("🏟 🏟🏟 🏟 ", &["underline@5+6", "italic@8+2"]));
    }

    #[test]
    fn markdown_v2_escapes() {
        assert_eq!(
            md2("\\_\\*\\[\\]\\(\\)\\~\\`\\>\\#\\+\\-\\=\\|\\{\\}\\.\\!\\\\"),
            pair("_*[]()~`>#+-=|{}.!\\", &[])
        );
        assert_eq!(md2("\\a\\1\\😀"), pair("a1\\😀", &[]));
        assert_eq!(md2("Price: 5\\.00\\!"), pair("Price: 5.00!", &[]));
        assert_eq!(md2("`a\\`b\\\\c`"), pair("a`b\\c", &["code@0+5"]));
        // Inside code only '`' is reserved.
        assert_eq!(md2("`x.y!*_`"), pair("x.y!*_", &["code@0+6"]));
        // Empty entities disappear.
        assert_eq!(md2("a**b____c``"), pair("abc", &[]));
    }

    #[test]
    fn markdown_v2_reserved_characters() {
        for c in "]()#+-=|{}.!>".chars() {
            let text = format!("a{c}");
            assert_eq!(
                err(&text, "MarkdownV2"),
                format!("Character '{c}' is reserved and must be escaped with the preceding '\\'"),
                "{text}"
            );
            assert_eq!(md2(&format!("a\\{c}")), pair(&text, &[]));
        }
        assert_eq!(
            parse("Hello.", "MarkdownV2").unwrap_err(),
            "can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'"
        );
        assert_eq!(
            err("*bold.*", "MarkdownV2"),
            "Character '.' is reserved and must be escaped with the preceding '\\'"
        );
    }

    #[test]
    fn markdown_v2_unclosed_entities() {
        let m = |t: &str| err(t, "MarkdownV2");
        assert_eq!(m("*abc"), "Can't find end of Bold entity at byte offset 0");
        assert_eq!(m("🏟 🏟_abacaba"), "Can't find end of Italic entity at byte offset 9");
        assert_eq!(m("🏟 🏟_abac * asd "), "Can't find end of Bold entity at byte offset 15");
        assert_eq!(m("🏟 🏟__"), "Can't find end of Underline entity at byte offset 9");
        assert_eq!(m("~x"), "Can't find end of Strikethrough entity at byte offset 0");
        assert_eq!(m("🏟 🏟||test\\|"), "Can't find end of Spoiler entity at byte offset 9");
        assert_eq!(m("🏟 🏟`"), "Can't find end of Code entity at byte offset 9");
        assert_eq!(m("🏟 🏟```a"), "Can't find end of Pre entity at byte offset 9");
        assert_eq!(m("🏟 🏟```a "), "Can't find end of PreCode entity at byte offset 9");
        assert_eq!(m("[link"), "Can't find end of TextUrl entity at byte offset 0");
        assert_eq!(m("[telegram\\.org](asd\\)"), "Can't find end of a URL at byte offset 16");
        assert_eq!(m("[telegram\\.org]("), "Can't find end of a URL at byte offset 16");
        assert_eq!(m("|x"), "Character '|' is reserved and must be escaped with the preceding '\\'");
    }

    #[test]
    fn markdown_v2_links() {
        assert_eq!(
            md2("[inline URL](http://www.example.com/)"),
            pair("inline URL", &["text_link@0+10:http://www.example.com/"])
        );
        assert_eq!(md2("[x](https://example.com)"), pair("x", &["text_link@0+1:https://example.com/"]));
        assert_eq!(md2("[x](tg://user?id=123456789)"), pair("x", &["text_link@0+1:tg://user?id=123456789"]));
        assert_eq!(md2("[telegram\\.org]"), pair("telegram.org", &["text_link@0+12:http://telegram.org/"]));
        assert_eq!(md2("[x](https://telegram.dog?\\\\\\()"), pair("x", &["text_link@0+1:https://telegram.dog/?\\("]));
        assert_eq!(md2("[x](https://e.com/a_(b\\))"), pair("x", &["text_link@0+1:https://e.com/a_(b)"]));
        assert_eq!(md2("[*bold link*](t.me)"), pair("bold link", &["text_link@0+9:http://t.me/", "bold@0+9"]));
        assert_eq!(md2("[ ](as)"), pair(" ", &[]));
        assert_eq!(md2("[](telegram.org)"), pair("", &[]));
        assert_eq!(md2("[x]()"), pair("x", &[]));
    }

    #[test]
    fn markdown_v2_custom_emoji() {
        assert_eq!(
            md2("![👍](tg://emoji?id=5368324170671202286)"),
            pair("👍", &["custom_emoji@0+2:5368324170671202286"])
        );
        assert_eq!(md2("🏟 🏟![👍](TG://EMoJI/?test=1231&id=25#id=32)a"), pair("🏟 🏟👍a", &["custom_emoji@5+2:25"]));
        let m = |t: &str| err(t, "MarkdownV2");
        assert_eq!(m("a!"), "Character '!' is reserved and must be escaped with the preceding '\\'");
        assert_eq!(m("🏟 🏟![👍"), "Can't find end of CustomEmoji entity at byte offset 9");
        assert_eq!(m("![👍]"), "Custom emoji entity must contain a tg://emoji URL");
        assert_eq!(m("🏟 🏟![👍](tg://emoji?id=1234"), "Can't find end of a custom emoji URL at byte offset 17");
        assert_eq!(m("![👍](t://emoji?id=1234)"), "Custom emoji URL must have scheme tg");
        assert_eq!(m("![👍](tg:emojis?id=1234)"), "Custom emoji URL must have host \"emoji\"");
        assert_eq!(m("![👍](tg://emoji#test)"), "Custom emoji URL must have an emoji identifier");
        assert_eq!(m("![👍](tg://emoji?test=1#&id=25)"), "Custom emoji URL must have an emoji identifier");
        assert_eq!(m("![👍](tg://emoji?test=1231&id=025)"), "Invalid custom emoji identifier specified");
    }

    #[test]
    fn markdown_v2_pre() {
        assert_eq!(md2("```\ncode\n```"), pair("code\n", &["pre@0+5"]));
        assert_eq!(md2("```python\nprint(1)\n```"), pair("print(1)\n", &["pre@0+9:python"]));
        assert_eq!(md2("```rust fn main() {}```"), pair(" fn main() {}", &["pre@0+13:rust"]));
        assert_eq!(md2("```x```"), pair("x", &["pre@0+1"]));
        assert_eq!(md2("🏟 🏟```🏟\r\n🏟```"), pair("🏟 🏟🏟", &["pre@5+2:🏟"]));
        assert_eq!(md2("🏟 🏟```🏟\n\n🏟```"), pair("🏟 🏟\n🏟", &["pre@5+3:🏟"]));
        assert_eq!(md2("```\na.b_c*d\\`e```"), pair("a.b_c*d`e", &["pre@0+9"]));
        assert_eq!(md2("🏟 🏟`🏟 🏟```"), pair("🏟 🏟🏟 🏟", &["code@5+5"]));
    }

    #[test]
    fn markdown_v2_blockquotes() {
        assert_eq!(md2(">quote\n>more\nafter"), pair("quote\nmore\nafter", &["blockquote@0+11"]));
        assert_eq!(md2(">a"), pair("a", &["blockquote@0+1"]));
        assert_eq!(md2(">"), pair("", &[]));
        assert_eq!(
            md2("abc\n>def\n>def\n\r>ghi2\njkl"),
            pair("abc\ndef\ndef\n\rghi2\njkl", &["blockquote@4+8", "blockquote@13+5"])
        );
        assert_eq!(md2(">*abcd*"), pair("abcd", &["blockquote@0+4", "bold@0+4"]));
        assert_eq!(md2(">*b\n>ld \n>bo\n>ld*\nasd"), pair("b\nld \nbo\nld\nasd", &["blockquote@0+12", "bold@0+11"]));
        assert_eq!(err(">*b\n>ld \n>bo\nld*\nasd", "MarkdownV2"), "Can't find end of Bold entity at byte offset 1");
        assert_eq!(err("a>b", "MarkdownV2"), "Character '>' is reserved and must be escaped with the preceding '\\'");
        // Expandable: "**>" starts it (an empty bold), "||" ends its last line.
        assert_eq!(
            md2("**>The expandable block quotation started\n>continued\n>the last line||\nafter"),
            pair(
                "The expandable block quotation started\ncontinued\nthe last line\nafter",
                &["expandable_blockquote@0+63"]
            )
        );
        assert_eq!(md2(">asd\n>q||e||w||"), pair("asd\nqew", &["expandable_blockquote@0+7", "spoiler@5+1"]));
        assert_eq!(md2(">asd\n>q||ew||\nasdad"), pair("asd\nqew\nasdad", &["blockquote@0+8", "spoiler@5+2"]));
        assert_eq!(md2(">||"), pair("", &[]));
        assert_eq!(err(">asd\n>q||ew\n||asdad", "MarkdownV2"), "Can't find end of Spoiler entity at byte offset 7");
    }

    #[test]
    fn legacy_markdown() {
        assert_eq!(
            md("*bold* _italic_ `code` [link](https://example.com) plain."),
            pair(
                "bold italic code link plain.",
                &["bold@0+4", "italic@5+6", "code@12+4", "text_link@17+4:https://example.com/"]
            )
        );
        assert_eq!(md("```python\nprint(1)```"), pair("print(1)", &["pre@0+8:python"]));
        assert_eq!(md("```\nraw *x*```"), pair("raw *x*", &["pre@0+7"]));
        assert_eq!(md("😀*x*"), pair("😀x", &["bold@2+1"]));
        // No MarkdownV2 reserved characters, no nesting, no underline.
        assert_eq!(md("1.5 - (ok)! #1 a|b ~c~ >q"), pair("1.5 - (ok)! #1 a|b ~c~ >q", &[]));
        assert_eq!(md("*a _b_ c*"), pair("a _b_ c", &["bold@0+7"]));
        assert_eq!(md("\\*not bold\\* \\_ \\` \\["), pair("*not bold* _ ` [", &[]));
        assert_eq!(md("a\\.b"), pair("a\\.b", &[]));
        assert_eq!(md("[x](tg://user?id=42)"), pair("x", &["text_link@0+1:tg://user?id=42"]));
        assert_eq!(md("**"), pair("", &[]));
        assert_eq!(err("*bold", "Markdown"), "Can't find end of the entity starting at byte offset 0");
        assert_eq!(err("a _b", "Markdown"), "Can't find end of the entity starting at byte offset 2");
        assert_eq!(err("😀 [x", "Markdown"), "Can't find end of the entity starting at byte offset 5");
        assert_eq!(err("```x", "Markdown"), "Can't find end of the entity starting at byte offset 0");
    }

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
