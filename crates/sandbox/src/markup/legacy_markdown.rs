//! The legacy Markdown parse mode, after TDLib's `parse_markdown`: bold, italic, code, pre and
//! links, without nesting and without MarkdownV2's reserved characters.

use super::links::check_link;
use super::scan::{lossy, newline_skip, pre_language};
use super::utf16::units;
use super::{Entity, EntityKind};

pub(super) fn parse_markdown(text: &str) -> Result<(String, Vec<Entity>), String> {
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
                b'_' => entities.push(Entity::new(EntityKind::Italic, offset, length, String::new())),
                b'*' => entities.push(Entity::new(EntityKind::Bold, offset, length, String::new())),
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
                        entities.push(Entity::new(EntityKind::TextLink, offset, length, url));
                    }
                }
                _ if is_pre => entities.push(Entity::new(EntityKind::Pre, offset, length, language)),
                _ => entities.push(Entity::new(EntityKind::Code, offset, length, String::new())),
            }
        }
        i += if is_pre { 3 } else { 1 };
    }
    Ok((lossy(&out), entities))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{err, ok, pair};

    fn md(text: &str) -> (String, Vec<String>) {
        ok(text, "Markdown")
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
}
