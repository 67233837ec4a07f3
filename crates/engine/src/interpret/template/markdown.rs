//! The Markdown that language models write, as Telegram HTML (`parse_mode: HTML`).
//!
//! Models answer in Markdown; Telegram would show its asterisks. Telegram's own MarkdownV2
//! refuses a whole message for one unescaped `.` or `!`, so the answer is converted to HTML,
//! which is well formed by construction: every text is escaped and every tag opened here is
//! closed here, also for a half-written answer being streamed (an open code block is closed, an
//! unclosed `**` stays two asterisks). Handled: fenced code blocks, headings (bold), `- `/`* `
//! list items (•), `> ` quotes, and inline `code`, **bold**, __bold__, *italic*, _italic_,
//! ~~strike~~ and [links](https://…).

/// `markdown` as Telegram HTML.
pub fn to_html(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 4);
    let mut in_code: Option<String> = None;
    let mut quote = false;
    for (i, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        if let Some(lang) = &in_code {
            if fence.is_some_and(|rest| rest.trim().is_empty()) {
                out.push_str(if lang.is_empty() { "</pre>" } else { "</code></pre>" });
                in_code = None;
            } else {
                if !out.ends_with('>') {
                    out.push('\n');
                }
                escape_html_into(&mut out, line);
            }
            continue;
        }
        let is_quote = line.starts_with('>');
        if quote && !is_quote {
            out.push_str("</blockquote>");
            quote = false;
        }
        if i > 0 && !out.ends_with("</pre>") && !out.ends_with("</blockquote>") {
            out.push('\n');
        }
        if let Some(rest) = fence {
            let lang: String = rest.trim().chars().filter(|c| c.is_alphanumeric() || "+-#_".contains(*c)).collect();
            if lang.is_empty() {
                out.push_str("<pre>");
            } else {
                out.push_str(&format!("<pre><code class=\"language-{lang}\">"));
            }
            in_code = Some(lang);
            continue;
        }
        if is_quote {
            // A quote's later lines keep their line break inside it.
            if !quote {
                out.push_str("<blockquote>");
                quote = true;
            }
            inline(&mut out, line.trim_start_matches('>').trim_start());
            continue;
        }
        let trimmed = line.trim_start();
        let heading = trimmed.trim_start_matches('#');
        let level = trimmed.len() - heading.len();
        if (1..=6).contains(&level) && heading.starts_with(' ') {
            out.push_str("<b>");
            inline(&mut out, heading.trim());
            out.push_str("</b>");
        } else if let Some(item) = trimmed.strip_prefix("- ").or_else(|| trimmed.strip_prefix("* ")) {
            out.push_str(&line[..line.len() - trimmed.len()]);
            out.push_str("• ");
            inline(&mut out, item);
        } else {
            inline(&mut out, line);
        }
    }
    if let Some(lang) = in_code {
        out.push_str(if lang.is_empty() { "</pre>" } else { "</code></pre>" });
    }
    if quote {
        out.push_str("</blockquote>");
    }
    out
}

/// One line's inline marks. A mark without its closing twin on the line stays as written.
fn inline(out: &mut String, line: &str) {
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if let Some(done) = span(out, rest) {
            rest = &rest[done..];
            continue;
        }
        escape_html_into(out, &rest[..c.len_utf8()]);
        rest = &rest[c.len_utf8()..];
    }
}

/// Converts the span `rest` starts with, if it is one; returns the bytes it took.
fn span(out: &mut String, rest: &str) -> Option<usize> {
    if let Some(code) = rest.strip_prefix('`') {
        let end = code.find('`').filter(|&end| end > 0)?;
        out.push_str("<code>");
        escape_html_into(out, &code[..end]);
        out.push_str("</code>");
        return Some(end + 2);
    }
    if let Some(label) = rest.strip_prefix('[') {
        let close = label.find("](")?;
        let target = &label[close + 2..];
        let end = target.find(')')?;
        let url = &target[..end];
        let safe = ["https://", "http://", "tg://", "mailto:"].iter().any(|s| url.starts_with(s));
        if !safe || url.contains(char::is_whitespace) {
            return None;
        }
        out.push_str("<a href=\"");
        escape_html_into(out, url);
        out.push_str("\">");
        inline(out, &label[..close]);
        out.push_str("</a>");
        return Some(1 + close + 2 + end + 1);
    }
    for (mark, tag) in [("**", "b"), ("__", "b"), ("~~", "s"), ("*", "i"), ("_", "i")] {
        let Some(inner) = rest.strip_prefix(mark) else { continue };
        // `snake_case` and `2 * 3 * 4` are not emphasis: the text must hug the marks.
        if inner.starts_with(char::is_whitespace) || inner.starts_with(mark) {
            continue;
        }
        let Some(end) = inner.find(mark).filter(|&end| end > 0) else { continue };
        let body = &inner[..end];
        let after = inner[end + mark.len()..].chars().next();
        if body.ends_with(char::is_whitespace) || (mark == "_" && after.is_some_and(char::is_alphanumeric)) {
            continue;
        }
        out.push_str(&format!("<{tag}>"));
        inline(out, body);
        out.push_str(&format!("</{tag}>"));
        return Some(mark.len() + end + mark.len());
    }
    None
}

/// Appends `text` to `out` with the characters HTML gives a meaning (`& < > "`) escaped: what
/// Telegram's HTML parse mode shows as written.
pub(crate) fn escape_html_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_marks() {
        assert_eq!(
            to_html("**Bold** and *it* and _it_ and ~~gone~~"),
            "<b>Bold</b> and <i>it</i> and <i>it</i> and <s>gone</s>"
        );
        assert_eq!(to_html("run `cargo test` now"), "run <code>cargo test</code> now");
        assert_eq!(
            to_html("see [the docs](https://example.org/a?b=1&c=2)"),
            "see <a href=\"https://example.org/a?b=1&amp;c=2\">the docs</a>"
        );
        assert_eq!(to_html("**bold with *italic* inside**"), "<b>bold with <i>italic</i> inside</b>");
    }

    #[test]
    fn what_is_not_markdown_stays_as_written() {
        assert_eq!(to_html("snake_case_name and 2 * 3 * 4"), "snake_case_name and 2 * 3 * 4");
        assert_eq!(to_html("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
        assert_eq!(to_html("half **written"), "half **written");
        assert_eq!(to_html("[click](javascript:alert(1))"), "[click](javascript:alert(1))");
        assert_eq!(to_html("<b>not a tag</b>"), "&lt;b&gt;not a tag&lt;/b&gt;");
    }

    #[test]
    fn blocks() {
        assert_eq!(to_html("# Title\n- one\n- two"), "<b>Title</b>\n• one\n• two");
        assert_eq!(
            to_html("Code:\n```rust\nfn main() {\n    x < 1\n}\n```\nDone"),
            "Code:\n<pre><code class=\"language-rust\">fn main() {\n    x &lt; 1\n}</code></pre>Done"
        );
        assert_eq!(to_html("> quoted\n> more\nafter"), "<blockquote>quoted\nmore</blockquote>after");
    }

    #[test]
    fn a_half_written_answer_is_well_formed() {
        assert_eq!(to_html("Here:\n```\nlet x = 1"), "Here:\n<pre>let x = 1</pre>");
        assert_eq!(to_html("> half a quote"), "<blockquote>half a quote</blockquote>");
        for cut in 0..40 {
            let text = "**a** `b` [c](https://d.e) ```\ncode\n``` > q";
            let head: String = text.chars().take(cut).collect();
            let html = to_html(&head);
            let opened = html.matches("<b>").count() + html.matches("<pre>").count() + html.matches("<code>").count();
            let closed =
                html.matches("</b>").count() + html.matches("</pre>").count() + html.matches("</code>").count();
            assert_eq!(opened, closed, "{head:?} → {html:?}");
        }
    }
}
