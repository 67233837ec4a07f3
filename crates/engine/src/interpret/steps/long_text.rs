//! Texts longer than Telegram takes: a message text over [`MAX_TEXT`] characters, a caption over
//! [`MAX_CAPTION`]. Telegram refuses such a call for good, so the bot file's `long_text` decides
//! before the call is queued (see [`ferrogram_schema::LongText`]): split it into several messages, cut it,
//! or send it as it is and let the refusal reach the `errors` reply.
//!
//! Length is counted as Telegram counts it, on the visible text: with `parse_mode: HTML` a tag
//! counts nothing and an entity (`&amp;`) one character. Characters are counted in UTF-16 code
//! units, which is never less than Telegram's count. A break never falls inside a tag or an
//! entity: the HTML tags open at a break are closed at the end of one part and opened again at
//! the start of the next. A Markdown text is broken at the same boundaries but without knowing
//! its markup, so a formatted span crossing the break makes Telegram refuse that part (which
//! reaches the `errors` reply rather than vanishing).

use ferrogram_schema::LongText;
use serde_json::{Value, json};

use ferrogram_core::Outgoing;

/// Telegram's longest message text.
pub const MAX_TEXT: usize = 4096;
/// Telegram's longest media caption.
pub const MAX_CAPTION: usize = 1024;
/// What ends a cut text.
const ELLIPSIS: &str = "…";

/// The calls to queue for `outgoing` under `policy`: itself when its text fits (or the policy
/// is `error`), else the parts of its text, in order.
pub fn fit(policy: LongText, outgoing: Outgoing) -> Vec<Outgoing> {
    let Some((field, limit, tokens)) = too_long(&outgoing) else {
        return vec![outgoing];
    };
    match policy {
        LongText::Error => return vec![outgoing],
        LongText::Cut => return vec![cut_to(outgoing, field, limit, &tokens)],
        // An edit cannot become several messages.
        LongText::Split if outgoing.method.starts_with("edit") => {
            return vec![cut_to(outgoing, field, limit, &tokens)];
        }
        LongText::Split => {}
    }
    // Split: the first part stays in the call, the rest follow as messages of the same chat.
    let mut parts = Vec::new();
    let mut rest = tokens;
    // The first part may be a caption; the others are messages.
    let mut part_limit = limit;
    loop {
        if visible(&rest) <= part_limit {
            parts.push(render(&rest).trim_end().to_owned());
            break;
        }
        let (head, tail) = split_at(&rest, part_limit);
        if !head.trim().is_empty() {
            parts.push(head);
        }
        rest = tail;
        part_limit = MAX_TEXT;
    }
    let markup = outgoing.params.get("reply_markup").cloned();
    let mut calls = Vec::with_capacity(parts.len());
    let mut first = outgoing;
    let template = first.params.clone();
    first.params[field] = json!(parts[0]);
    if markup.is_some() && parts.len() > 1 {
        first.params.as_object_mut().map(|p| p.remove("reply_markup"));
    }
    calls.push(first);
    let count = parts.len();
    for (n, text) in parts.into_iter().enumerate().skip(1) {
        let mut params = json!({"chat_id": template["chat_id"], "text": text});
        if let Some(mode) = template.get("parse_mode") {
            params["parse_mode"] = mode.clone();
        }
        if n + 1 == count
            && let Some(markup) = &markup
        {
            params["reply_markup"] = markup.clone();
        }
        let (chat_id, bulk) = (calls[0].chat_id, calls[0].bulk);
        calls.push(Outgoing { chat_id, method: "sendMessage".into(), params, bulk });
    }
    calls
}

/// `outgoing` with its text cut to what Telegram takes (`long_text: cut`).
pub fn cut(outgoing: Outgoing) -> Outgoing {
    match too_long(&outgoing) {
        Some((field, limit, tokens)) => cut_to(outgoing, field, limit, &tokens),
        None => outgoing,
    }
}

/// The field of `outgoing` over Telegram's limit, the limit and the field's tokens; `None` when
/// the call has no such text or it fits.
fn too_long(outgoing: &Outgoing) -> Option<(&'static str, usize, Vec<Token>)> {
    let (field, limit) = match outgoing.method.as_str() {
        "sendMessage" | "editMessageText" => ("text", MAX_TEXT),
        "sendPhoto" | "sendVideo" | "sendAnimation" | "sendDocument" | "sendAudio" | "sendVoice"
        | "editMessageCaption" => ("caption", MAX_CAPTION),
        _ => return None,
    };
    let text = outgoing.params.get(field).and_then(Value::as_str)?;
    let html = outgoing.params.get("parse_mode").and_then(Value::as_str) == Some("HTML");
    let tokens = tokens(text, html);
    (visible(&tokens) > limit).then_some((field, limit, tokens))
}

fn cut_to(mut outgoing: Outgoing, field: &str, limit: usize, tokens: &[Token]) -> Outgoing {
    // The ellipsis is one character.
    let (head, _) = split_at(tokens, limit - 1);
    outgoing.params[field] = json!(close_after_ellipsis(&head));
    outgoing
}

/// A piece of a text: one character, an HTML entity, or an HTML tag.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    Char(char),
    Entity(String),
    Open { name: String, raw: String },
    Close { name: String, raw: String },
}

impl Token {
    /// What it counts towards Telegram's limit.
    fn width(&self) -> usize {
        match self {
            Token::Char(c) => c.len_utf16(),
            Token::Entity(_) => 1,
            Token::Open { .. } | Token::Close { .. } => 0,
        }
    }

    fn raw(&self) -> String {
        match self {
            Token::Char(c) => c.to_string(),
            Token::Entity(raw) | Token::Open { raw, .. } | Token::Close { raw, .. } => raw.clone(),
        }
    }
}

/// The text as tokens; only an HTML text has tags and entities.
fn tokens(text: &str, html: bool) -> Vec<Token> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if html {
            if c == '<'
                && let Some(end) = rest.find('>')
            {
                let raw = &rest[..=end];
                let inner = raw[1..raw.len() - 1].trim_start();
                let closing = inner.starts_with('/');
                let name: String = inner
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect::<String>()
                    .to_ascii_lowercase();
                let raw = raw.to_owned();
                out.push(if closing { Token::Close { name, raw } } else { Token::Open { name, raw } });
                rest = &rest[end + 1..];
                continue;
            }
            if c == '&'
                && let Some(end) = rest[..rest.len().min(12)].find(';')
                && end > 1
                && rest[1..end].chars().all(|c| c.is_ascii_alphanumeric() || c == '#')
            {
                out.push(Token::Entity(rest[..=end].to_owned()));
                rest = &rest[end + 1..];
                continue;
            }
        }
        out.push(Token::Char(c));
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn visible(tokens: &[Token]) -> usize {
    tokens.iter().map(Token::width).sum()
}

fn render(tokens: &[Token]) -> String {
    tokens.iter().map(Token::raw).collect()
}

/// The first part of `tokens` that fits in `limit`, as text with its open tags closed, and the
/// rest, with those tags opened again in front. The break is the last paragraph break, else
/// line break, else space in the second half of what fits, else where the limit falls; the
/// whitespace at the break is dropped.
fn split_at(tokens: &[Token], limit: usize) -> (String, Vec<Token>) {
    // `fits`: how many tokens fit.
    let mut width = 0;
    let mut fits = tokens.len();
    for (i, token) in tokens.iter().enumerate() {
        width += token.width();
        if width > limit {
            fits = i;
            break;
        }
    }
    let is_char = |i: usize, c: char| matches!(tokens.get(i), Some(Token::Char(x)) if *x == c);
    let is_space = |i: usize| matches!(tokens.get(i), Some(Token::Char(x)) if x.is_whitespace());
    let half = {
        let mut w = 0;
        tokens[..fits].iter().position(|t| {
            w += t.width();
            w * 2 >= limit
        })
    }
    .unwrap_or(0);
    let paragraph = (half..fits).rev().find(|&i| is_char(i, '\n') && i > 0 && is_char(i - 1, '\n'));
    let line = (half..=fits).rev().find(|&i| is_char(i, '\n'));
    let space = (half..=fits).rev().find(|&i| is_space(i));
    let (end, resume) = match (paragraph, line, space) {
        (Some(i), _, _) => (i - 1, i + 1),
        (None, Some(i), _) => (i, i + 1),
        (None, None, Some(i)) => (i, i + 1),
        (None, None, None) => (fits.max(1), fits.max(1)),
    };
    let mut end = end.min(tokens.len());
    // Whitespace before the break is dropped too.
    while end > 0 && is_space(end - 1) {
        end -= 1;
    }
    let mut resume = resume.min(tokens.len());
    while resume < tokens.len() && is_space(resume) {
        resume += 1;
    }
    let open = open_tags(&tokens[..end]);
    let mut head = render(&tokens[..end]);
    for (name, _) in open.iter().rev() {
        head.push_str(&format!("</{name}>"));
    }
    let mut rest: Vec<Token> = open.into_iter().map(|(name, raw)| Token::Open { name, raw }).collect();
    rest.extend_from_slice(&tokens[resume..]);
    (head, rest)
}

/// The tags still open after `tokens`, outermost first, as (name, opening tag).
fn open_tags(tokens: &[Token]) -> Vec<(String, String)> {
    let mut open: Vec<(String, String)> = Vec::new();
    for token in tokens {
        match token {
            Token::Open { name, raw } => open.push((name.clone(), raw.clone())),
            Token::Close { name, .. } => {
                if let Some(at) = open.iter().rposition(|(n, _)| n == name) {
                    open.truncate(at);
                }
            }
            _ => {}
        }
    }
    open
}

/// A cut text: `head` (which ends with its open tags closed) with the ellipsis placed before
/// those closing tags.
fn close_after_ellipsis(head: &str) -> String {
    let mut body = head;
    let mut closing = String::new();
    while body.ends_with('>')
        && let Some(start) = body.rfind("</")
        && !body[start..].contains(' ')
        && body[start..].matches('<').count() == 1
    {
        closing.insert_str(0, &body[start..]);
        body = &body[..start];
    }
    format!("{}{ELLIPSIS}{closing}", body.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str, html: bool) -> Outgoing {
        let mut params = json!({"chat_id": 5, "text": text});
        if html {
            params["parse_mode"] = json!("HTML");
        }
        Outgoing { chat_id: 5, method: "sendMessage".into(), params, bulk: false }
    }

    fn texts(calls: &[Outgoing]) -> Vec<String> {
        calls.iter().map(|c| c.params["text"].as_str().unwrap().to_owned()).collect()
    }

    #[test]
    fn a_text_that_fits_is_left_alone() {
        let calls = fit(LongText::Split, message(&"a".repeat(MAX_TEXT), false));
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].params["text"].as_str().unwrap().len(), MAX_TEXT);
    }

    #[test]
    fn a_long_text_is_split_at_a_paragraph_then_a_line_then_a_word() {
        let para = format!("{}\n\n{}", "a".repeat(3000), "b".repeat(3000));
        assert_eq!(texts(&fit(LongText::Split, message(&para, false))), ["a".repeat(3000), "b".repeat(3000)]);
        let line = format!("{}\n{}", "a".repeat(3000), "b".repeat(3000));
        assert_eq!(texts(&fit(LongText::Split, message(&line, false))), ["a".repeat(3000), "b".repeat(3000)]);
        let words = "word ".repeat(1000);
        let parts = texts(&fit(LongText::Split, message(&words, false)));
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.len() <= MAX_TEXT && p.starts_with("word") && p.ends_with("word")));
        assert_eq!(parts.join(" "), words.trim_end());
        let one_word = "x".repeat(MAX_TEXT * 2 + 10);
        let parts = texts(&fit(LongText::Split, message(&one_word, false)));
        assert_eq!(parts.iter().map(String::len).collect::<Vec<_>>(), [MAX_TEXT, MAX_TEXT, 10]);
    }

    #[test]
    fn html_is_split_outside_tags_and_entities_and_its_tags_reopened() {
        let text = format!("<b>{}</b> <a href=\"https://x.example\">{}</a>", "&amp; ".repeat(1000), "y ".repeat(3000));
        let calls = fit(LongText::Split, message(&text, true));
        let parts = texts(&calls);
        assert!(parts.len() >= 2, "{parts:?}");
        for part in &parts {
            let tokens = tokens(part, true);
            assert!(visible(&tokens) <= MAX_TEXT);
            assert!(open_tags(&tokens).is_empty(), "every part closes its tags: {part}");
            assert!(!part.contains("&amp</") && !part.ends_with('&'));
            assert_eq!(calls[0].params["parse_mode"], "HTML");
        }
        assert!(parts[1].starts_with("<a href=\"https://x.example\">"), "{}", &parts[1][..40]);
        // What is visible is kept, but for the whitespace at the breaks.
        let seen: String = parts.iter().map(|p| strip(p)).collect::<Vec<_>>().join(" ");
        assert_eq!(seen.split_whitespace().count(), strip(&text).split_whitespace().count());
    }

    fn strip(html: &str) -> String {
        tokens(html, true).iter().filter(|t| t.width() > 0).map(Token::raw).collect()
    }

    #[test]
    fn cut_keeps_what_fits_and_ends_with_an_ellipsis() {
        let text = format!("<i>{}</i>", "word ".repeat(1000));
        let calls = fit(LongText::Cut, message(&text, true));
        assert_eq!(calls.len(), 1);
        let cut = calls[0].params["text"].as_str().unwrap();
        assert!(cut.ends_with("word…</i>"), "{}", &cut[cut.len() - 20..]);
        assert!(visible(&tokens(cut, true)) <= MAX_TEXT);
    }

    #[test]
    fn error_sends_it_as_it_is() {
        let text = "z".repeat(MAX_TEXT + 1);
        assert_eq!(texts(&fit(LongText::Error, message(&text, false))), [text]);
    }

    #[test]
    fn a_long_caption_keeps_what_fits_and_the_rest_follows_with_the_buttons() {
        let buttons = json!({"inline_keyboard": [[{"text": "ok", "callback_data": "ok"}]]});
        let params = json!({"chat_id": 5, "photo": "id", "caption": "c ".repeat(800), "reply_markup": buttons});
        let calls = fit(LongText::Split, Outgoing { chat_id: 5, method: "sendPhoto".into(), params, bulk: true });
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].method, "sendPhoto");
        assert!(calls[0].params["caption"].as_str().unwrap().len() <= MAX_CAPTION);
        assert!(calls[0].params.get("reply_markup").is_none());
        assert_eq!(calls[1].method, "sendMessage");
        assert_eq!(calls[1].params["reply_markup"], buttons);
        assert!(calls[1].bulk, "the parts keep the call's lane");
    }

    #[test]
    fn an_edit_is_cut_not_split() {
        let params = json!({"chat_id": 5, "message_id": 9, "text": "e ".repeat(3000)});
        let calls =
            fit(LongText::Split, Outgoing { chat_id: 5, method: "editMessageText".into(), params, bulk: false });
        assert_eq!(calls.len(), 1);
        assert!(calls[0].params["text"].as_str().unwrap().ends_with('…'));
    }
}
