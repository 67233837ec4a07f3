//! Telegram text formatting: the `parse_mode` parsers (HTML, MarkdownV2 and legacy Markdown) and
//! the automatic entities Telegram finds in plain text, as Bot API `MessageEntity` JSON objects
//! whose offsets and lengths count UTF-16 code units.
//!
//! The parsers follow TDLib's `parse_html`, `parse_markdown_v2` and `parse_markdown` (which the
//! Bot API server uses) closely, including their error texts and byte offsets; `detect` follows
//! TDLib's `find_entities`.
//!
//! One file per job: `html`, `markdown_v2` and `legacy_markdown` are the three parse modes,
//! `links` checks the links they carry, `detect` finds the automatic entities, `utf16` and
//! `scan` hold the offset arithmetic and byte helpers the parsers share. This file has the
//! entry points and the entity type they all build.

mod detect;
mod html;
mod legacy_markdown;
mod links;
mod markdown_v2;
mod scan;
#[cfg(test)]
mod test_support;
mod utf16;

pub use detect::detect;
pub use utf16::utf16_len;

use serde_json::{Value, json};

/// Parses `text` under `parse_mode` ("HTML", "MarkdownV2", "Markdown", any letter case).
/// Ok((plain_text, entities)); Err(description) where description is the full Telegram text
/// after "Bad Request: ", e.g. "can't parse entities: Unsupported start tag \"foo\" at byte offset 0"
/// or "unsupported parse_mode" for an unknown mode.
pub fn parse(text: &str, parse_mode: &str) -> Result<(String, Vec<Value>), String> {
    let parsed = match parse_mode.to_ascii_lowercase().as_str() {
        "" | "none" => return Ok((text.to_owned(), Vec::new())),
        "html" => html::parse_html(text),
        "markdownv2" => markdown_v2::parse_markdown_v2(text),
        "markdown" => legacy_markdown::parse_markdown(text),
        _ => return Err("unsupported parse_mode".to_owned()),
    };
    let (plain, mut entities) = parsed.map_err(|e| format!("can't parse entities: {e}"))?;
    sort_entities(&mut entities);
    // Pre and code entities can't contain other entities; Telegram drops the nested ones.
    let mut code_end = 0;
    entities.retain(|e| {
        let keep = e.length > 0 && e.offset >= code_end;
        if keep && matches!(e.kind, EntityKind::Code | EntityKind::Pre) {
            code_end = e.offset + e.length;
        }
        keep
    });
    Ok((plain, entities.iter().map(Entity::to_json).collect()))
}

/// The type of a `MessageEntity`, as the parsers and `detect` build it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntityKind {
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
    kind: EntityKind,
    offset: usize,
    length: usize,
    arg: String,
}

impl Entity {
    fn new(kind: EntityKind, offset: usize, length: usize, arg: String) -> Self {
        Entity { kind, offset, length, arg }
    }

    fn api_type(&self) -> &'static str {
        match self.kind {
            EntityKind::Bold => "bold",
            EntityKind::Italic => "italic",
            EntityKind::Underline => "underline",
            EntityKind::Strikethrough => "strikethrough",
            EntityKind::Spoiler => "spoiler",
            EntityKind::Code => "code",
            EntityKind::Pre => "pre",
            EntityKind::TextLink => "text_link",
            EntityKind::CustomEmoji => "custom_emoji",
            EntityKind::Blockquote => "blockquote",
            EntityKind::ExpandableBlockquote => "expandable_blockquote",
            EntityKind::Mention => "mention",
            EntityKind::Hashtag => "hashtag",
            EntityKind::Cashtag => "cashtag",
            EntityKind::BotCommand => "bot_command",
            EntityKind::Url => "url",
            EntityKind::Email => "email",
        }
    }

    /// TDLib's type name, as MarkdownV2 error messages spell it.
    fn td_name(&self) -> &'static str {
        match self.kind {
            EntityKind::Pre if !self.arg.is_empty() => "PreCode",
            EntityKind::TextLink => "TextUrl",
            EntityKind::Blockquote => "BlockQuote",
            EntityKind::ExpandableBlockquote => "ExpandableBlockQuote",
            EntityKind::Bold => "Bold",
            EntityKind::Italic => "Italic",
            EntityKind::Underline => "Underline",
            EntityKind::Strikethrough => "Strikethrough",
            EntityKind::Spoiler => "Spoiler",
            EntityKind::Code => "Code",
            EntityKind::Pre => "Pre",
            EntityKind::CustomEmoji => "CustomEmoji",
            _ => "Unknown",
        }
    }

    /// TDLib's order for entities sharing offset and length.
    fn priority(&self) -> u8 {
        match self.kind {
            EntityKind::Blockquote | EntityKind::ExpandableBlockquote => 0,
            EntityKind::Pre if !self.arg.is_empty() => 10,
            EntityKind::Pre => 11,
            EntityKind::Code => 20,
            EntityKind::TextLink => 49,
            EntityKind::Bold => 90,
            EntityKind::Italic => 91,
            EntityKind::Underline => 92,
            EntityKind::Strikethrough => 93,
            EntityKind::Spoiler => 94,
            EntityKind::CustomEmoji => 99,
            _ => 50,
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({ "type": self.api_type(), "offset": self.offset, "length": self.length });
        match self.kind {
            EntityKind::TextLink => v["url"] = json!(self.arg),
            EntityKind::Pre if !self.arg.is_empty() => v["language"] = json!(self.arg),
            EntityKind::CustomEmoji => v["custom_emoji_id"] = json!(self.arg),
            _ => {}
        }
        v
    }
}

fn sort_entities(entities: &mut [Entity]) {
    entities.sort_by_key(|e| (e.offset, std::cmp::Reverse(e.length), e.priority()));
}

#[cfg(test)]
mod tests {
    use super::parse;
    use super::test_support::{ok, pair};

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
}
