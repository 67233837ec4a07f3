//! The MarkdownV2 parse mode, after TDLib's `parse_markdown_v2`: nested styles, escapes and
//! reserved characters, links and custom emoji, pre blocks and (expandable) block quotes.

use super::links::{check_link, custom_emoji_id};
use super::scan::{lossy, newline_skip, pre_language};
use super::utf16::units;
use super::{Entity, EntityKind};

pub(super) fn parse_markdown_v2(text: &str) -> Result<(String, Vec<Entity>), String> {
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
        let in_code = stack.last().is_some_and(|o| matches!(o.entity.kind, EntityKind::Code | EntityKind::Pre));
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
                    EntityKind::Bold => c == b'*',
                    EntityKind::Italic => c == b'_' && at(i + 1) != b'_',
                    EntityKind::Underline => c == b'_' && at(i + 1) == b'_',
                    EntityKind::Strikethrough => c == b'~',
                    EntityKind::Spoiler => c == b'|' && at(i + 1) == b'|',
                    EntityKind::Code => c == b'`',
                    EntityKind::Pre => c == b'`' && at(i + 1) == b'`' && at(i + 2) == b'`',
                    EntityKind::TextLink | EntityKind::CustomEmoji => c == b']',
                    _ => false,
                }
        });
        if !is_end {
            let byte_offset = i;
            let mut arg = String::new();
            let kind = match c {
                b'_' if at(i + 1) == b'_' => {
                    i += 1;
                    EntityKind::Underline
                }
                b'_' => EntityKind::Italic,
                b'*' => EntityKind::Bold,
                b'~' => EntityKind::Strikethrough,
                b'|' if at(i + 1) == b'|' => {
                    i += 1;
                    EntityKind::Spoiler
                }
                b'[' => EntityKind::TextLink,
                b'!' if at(i + 1) == b'[' => {
                    i += 1;
                    EntityKind::CustomEmoji
                }
                b'`' if at(i + 1) == b'`' && at(i + 2) == b'`' => {
                    i += 3;
                    if let Some(language) = pre_language(text, i) {
                        arg = language.to_owned();
                        i += language.len();
                    }
                    i += newline_skip(s, i);
                    i -= 1; // the content starts at i, after the increment below
                    EntityKind::Pre
                }
                b'`' => EntityKind::Code,
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
                            entity: Entity::new(EntityKind::Blockquote, utf16, 0, String::new()),
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
        if c == b'\n' && open.entity.kind != EntityKind::Blockquote {
            // "||" right before the end of a blockquote marks it expandable.
            let is_mark = open.entity.kind == EntityKind::Spoiler
                && (open.byte_offset + 2 == i || (open.byte_offset + 3 == i && out.last() == Some(&b'\r')));
            if !is_mark {
                return Err(end_error(&open));
            }
            match stack.pop() {
                Some(quote) if quote.entity.kind == EntityKind::Blockquote => {
                    open = quote;
                    open.entity.kind = EntityKind::ExpandableBlockquote;
                }
                Some(other) => return Err(end_error(&other)),
                None => return Err(end_error(&open)),
            }
        }
        let mut skip = utf16 == open.entity.offset;
        match open.entity.kind {
            EntityKind::Underline | EntityKind::Spoiler => i += 1,
            EntityKind::Pre => i += 2,
            EntityKind::TextLink => {
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
            EntityKind::CustomEmoji => {
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
            EntityKind::Blockquote | EntityKind::ExpandableBlockquote => {
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
        let mut kind = EntityKind::Blockquote;
        if stack.last().is_some_and(|o| o.entity.kind == EntityKind::Spoiler && o.byte_offset + 2 == n) {
            stack.pop();
            kind = EntityKind::ExpandableBlockquote;
        }
        if stack.last().is_some_and(|o| o.entity.kind == EntityKind::Blockquote)
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

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::test_support::{err, ok, pair};

    fn md2(text: &str) -> (String, Vec<String>) {
        ok(text, "MarkdownV2")
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
}
