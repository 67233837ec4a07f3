//! The HTML parse mode, after TDLib's `parse_html`: the supported tags and attributes, character
//! entities (`&lt;`, `&#NN;`…), and TDLib's error texts with their byte offsets.

use super::links::{check_link, parse_emoji_id};
use super::scan::{is_space, lossy};
use super::utf16::units;
use super::{Entity, EntityKind};

const HTML_TAGS: &str = "a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote";

pub(super) fn parse_html(text: &str) -> Result<(String, Vec<Entity>), String> {
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
                    "b" | "strong" => EntityKind::Bold,
                    "i" | "em" => EntityKind::Italic,
                    "u" | "ins" => EntityKind::Underline,
                    "s" | "strike" | "del" => EntityKind::Strikethrough,
                    "tg-spoiler" | "span" => EntityKind::Spoiler,
                    "blockquote" if open.arg.is_empty() => EntityKind::Blockquote,
                    "blockquote" => EntityKind::ExpandableBlockquote,
                    "tg-emoji" => EntityKind::CustomEmoji,
                    "a" => EntityKind::TextLink,
                    "code" => EntityKind::Code,
                    _ => EntityKind::Pre,
                };
                match kind {
                    EntityKind::CustomEmoji => {
                        let id = parse_emoji_id(&open.arg).ok_or("Invalid custom emoji identifier specified")?;
                        entities.push(Entity::new(kind, offset, length, id));
                    }
                    EntityKind::TextLink => {
                        let url = if open.arg.is_empty() { lossy(&out[open.begin..]) } else { open.arg };
                        if let Some(url) = check_link(&url) {
                            entities.push(Entity::new(kind, offset, length, url));
                        }
                    }
                    // <code class="language-x"> directly inside <pre>: a pre with language.
                    EntityKind::Pre => match entities.last_mut() {
                        Some(last) if last.kind == EntityKind::Code && same_range(last) && !last.arg.is_empty() => {
                            last.kind = EntityKind::Pre;
                        }
                        _ => entities.push(Entity::new(kind, offset, length, String::new())),
                    },
                    // <pre> directly inside <code class="language-x">: the same.
                    EntityKind::Code => match entities.last_mut() {
                        Some(last)
                            if last.kind == EntityKind::Pre
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
    for e in entities.iter_mut().filter(|e| e.kind == EntityKind::Code) {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{err, ok, pair};

    fn html(text: &str) -> (String, Vec<String>) {
        ok(text, "HTML")
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
}
