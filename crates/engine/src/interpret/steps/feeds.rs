//! The `feed` step: an RSS or Atom feed fetched through the engine's guarded HTTP client
//! ([`crate::interpret::http`]: SSRF guard, timeouts, retries, circuit breaker) and parsed with `feed-rs`.
//!
//! One malformed entry never fails the whole feed. A feed that parses is kept entry by entry,
//! leaving out entries without a title; a feed that does not parse as a whole (one entry with
//! broken XML) is parsed again entry by entry, each inside the feed's own envelope (what comes
//! before the first entry and after the last), keeping those that parse. Every entry left out
//! is counted in `skipped` and logged. A body that is not a feed at all is a step error.

use serde_json::{Value, json};

use crate::error::EngineError;
use crate::interpret::steps::run::Run;

/// The longest `summary` kept, in characters.
const MAX_SUMMARY_CHARS: usize = 1000;
/// How much of an entry's text a log line about it quotes.
const LOG_EXCERPT_CHARS: usize = 120;

/// A parsed feed: its title, link, entries and how many entries were left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub title: String,
    pub link: String,
    pub items: Vec<Value>,
    pub skipped: usize,
}

impl Parsed {
    pub fn to_value(&self) -> Value {
        json!({"title": self.title, "link": self.link, "items": self.items, "skipped": self.skipped})
    }
}

/// Runs a `feed` step: fetches, parses, and sets `result` (and the `as` name).
pub async fn step(run: &mut Run<'_>, feed: &ferrogram_schema::Feed) -> Result<(), EngineError> {
    let url = run.render(&feed.url)?;
    let host = crate::interpret::http::host_or_url(&url);
    let fail = |reason: String| EngineError::Http(format!("feed {host}: {reason}"));
    let accept = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5";
    let prepared = crate::interpret::http::Prepared {
        bot_id: run.bot.bot_id,
        method: ferrogram_schema::HttpMethod::Get,
        url,
        headers: vec![("Accept".into(), accept.into())],
        query: Vec::new(),
        json: None,
        form: Vec::new(),
        timeout: std::time::Duration::from_millis(u64::from(
            feed.timeout_ms.clamp(1, ferrogram_schema::MAX_HTTP_TIMEOUT_MS),
        )),
        retries: feed.retries.min(ferrogram_schema::MAX_HTTP_RETRIES),
    };
    let answer = run.bot.http.call(prepared).await.map_err(fail)?;
    if answer["ok"] != json!(true) {
        return Err(fail(format!("answered HTTP {}", answer["status"])));
    }
    let body = answer["text"].as_str().unwrap_or_default();
    let limit =
        feed.limit.unwrap_or(ferrogram_schema::DEFAULT_FEED_LIMIT).clamp(1, ferrogram_schema::MAX_FEED_LIMIT) as usize;
    let parsed = parse(body.as_bytes(), limit).map_err(fail)?;
    if parsed.skipped > 0 {
        tracing::warn!(bot_id = run.bot.bot_id, %host, skipped = parsed.skipped, kept = parsed.items.len(), "feed entries skipped");
    }
    let value = parsed.to_value();
    if let Some(name) = &feed.save_as {
        run.set_ctx(name, value.clone());
    }
    run.set_ctx("result", value);
    Ok(())
}

/// Parses an RSS, Atom or JSON feed; at most `limit` entries are kept.
pub fn parse(body: &[u8], limit: usize) -> Result<Parsed, String> {
    match feed_rs::parser::parse(body) {
        Ok(feed) => Ok(from_feed(feed, 0, limit)),
        Err(whole) => salvage(body, limit).ok_or_else(|| format!("the answer is not a feed ({whole})")),
    }
}

fn from_feed(feed: feed_rs::model::Feed, skipped: usize, limit: usize) -> Parsed {
    let mut parsed = Parsed {
        title: feed.title.map(|t| t.content.trim().to_owned()).unwrap_or_default(),
        link: feed.links.first().map(|l| l.href.clone()).unwrap_or_default(),
        items: Vec::new(),
        skipped,
    };
    for entry in feed.entries {
        if parsed.items.len() == limit {
            break;
        }
        match item(entry) {
            Some(item) => parsed.items.push(item),
            None => parsed.skipped += 1,
        }
    }
    parsed
}

/// An entry as templates see it, or `None` (logged) when it has no title.
fn item(entry: feed_rs::model::Entry) -> Option<Value> {
    let title = entry.title.as_ref().map(|t| t.content.trim().to_owned()).unwrap_or_default();
    let link = entry.links.first().map(|l| l.href.trim().to_owned()).unwrap_or_default();
    if title.is_empty() {
        tracing::warn!(id = %entry.id, link = %excerpt(&link), "feed entry without a title skipped");
        return None;
    }
    let id = if entry.id.trim().is_empty() { link.clone() } else { entry.id.trim().to_owned() };
    let published = entry.published.or(entry.updated).map(|t| t.timestamp());
    let summary = entry
        .summary
        .map(|s| s.content)
        .or_else(|| entry.content.and_then(|c| c.body))
        .map(|s| s.trim().chars().take(MAX_SUMMARY_CHARS).collect::<String>())
        .unwrap_or_default();
    Some(json!({"id": id, "title": title, "link": link, "published": published, "summary": summary}))
}

/// A feed that did not parse as a whole, entry by entry: `None` when even its envelope is not
/// a feed.
fn salvage(body: &[u8], limit: usize) -> Option<Parsed> {
    let text = String::from_utf8_lossy(body);
    let chunks = entry_spans(&text, "item").or_else(|| entry_spans(&text, "entry"))?;
    let first = chunks.first()?.0;
    let last = chunks.last()?.1;
    let (head, tail) = (&text[..first], &text[last..]);
    let envelope = feed_rs::parser::parse(format!("{head}{tail}").as_bytes()).ok()?;
    let mut parsed = from_feed(envelope, 0, limit);
    for (start, end) in chunks {
        if parsed.items.len() == limit {
            break;
        }
        let chunk = &text[start..end];
        let one = feed_rs::parser::parse(format!("{head}{chunk}{tail}").as_bytes());
        match one.ok().and_then(|feed| feed.entries.into_iter().next()) {
            Some(entry) => match item(entry) {
                Some(item) => parsed.items.push(item),
                None => parsed.skipped += 1,
            },
            None => {
                tracing::warn!(entry = %excerpt(chunk), "malformed feed entry skipped");
                parsed.skipped += 1;
            }
        }
    }
    Some(parsed)
}

/// The byte spans of each `<tag …>…</tag>` in `text`, or `None` when there is none.
fn entry_spans(text: &str, tag: &str) -> Option<Vec<(usize, usize)>> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find(&open) {
        let start = from + found;
        let after = text[start + open.len()..].chars().next();
        if !matches!(after, Some('>' | ' ' | '\t' | '\r' | '\n' | '/')) {
            from = start + open.len();
            continue;
        }
        let Some(end) = text[start..].find(&close).map(|i| start + i + close.len()) else { break };
        spans.push((start, end));
        from = end;
    }
    (!spans.is_empty()).then_some(spans)
}

fn excerpt(text: &str) -> String {
    text.chars().take(LOG_EXCERPT_CHARS).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>Releases</title><link>https://example.org/</link>
<item><title>[SubsPlease] Sousou no Frieren - 05 (1080p) [ABCD1234].mkv</title><link>https://example.org/5</link>
<guid isPermaLink="false">r5</guid><pubDate>Fri, 29 Sep 2023 16:00:00 +0000</pubDate></item>
<item><title>[SubsPlease] Broken & unescaped - 01 (1080p).mkv</title><guid>bad</guid></item>
<item><title>[SubsPlease] Dandadan - 02 (1080p) [00000000].mkv</title><guid>d2</guid></item>
</channel></rss>"#;

    #[test]
    fn a_broken_entry_is_skipped_and_the_rest_kept() {
        let parsed = parse(RSS.as_bytes(), 100).expect("a feed");
        assert_eq!(parsed.title, "Releases");
        assert_eq!(parsed.skipped, 1);
        let ids: Vec<&str> = parsed.items.iter().filter_map(|i| i["id"].as_str()).collect();
        assert_eq!(ids, ["r5", "d2"]);
        assert_eq!(parsed.items[0]["published"], json!(1_696_003_200));
        assert_eq!(parsed.items[0]["link"], json!("https://example.org/5"));
    }

    #[test]
    fn entries_without_a_title_are_skipped() {
        let rss = r#"<rss version="2.0"><channel><title>T</title>
<item><guid>a</guid></item><item><title>One - 01</title><guid>b</guid></item></channel></rss>"#;
        let parsed = parse(rss.as_bytes(), 100).expect("a feed");
        assert_eq!(parsed.skipped, 1);
        assert_eq!(parsed.items.len(), 1);
    }

    #[test]
    fn atom_is_read_and_the_limit_applies() {
        let atom = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2024-01-01T00:00:00Z</updated>
<entry><title>First</title><id>urn:1</id><updated>2024-01-02T00:00:00Z</updated><link href="https://e.org/1"/><summary>s</summary></entry>
<entry><title>Second</title><id>urn:2</id><updated>2024-01-03T00:00:00Z</updated></entry>
</feed>"#;
        let parsed = parse(atom.as_bytes(), 1).expect("a feed");
        assert_eq!(parsed.items.len(), 1);
        assert_eq!(parsed.items[0]["id"], json!("urn:1"));
        assert_eq!(parsed.items[0]["summary"], json!("s"));
        assert_eq!(parsed.items[0]["published"], json!(1_704_153_600));
    }

    #[test]
    fn a_body_that_is_not_a_feed_is_an_error() {
        assert!(parse(b"<html><body>Not here</body></html>", 10).is_err());
        assert!(parse(b"{\"data\": 1}", 10).is_err());
        assert!(parse(b"", 10).is_err());
    }

    /// The recorded feeds of `../shared/data/anime` (nyaa, AnimeTosho, Doki, Fanzub; they are
    /// GPL-3.0 test files of Sonarr, so they are read from beside the repository rather than
    /// copied into it). `None`, with a visible line, where that folder is not there.
    pub(crate) fn recorded_feeds() -> Option<Vec<(std::path::PathBuf, Vec<u8>)>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/anime");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("SKIPPED: {} not found, the recorded feeds are not checked", dir.display());
            return None;
        };
        let mut feeds: Vec<_> = entries
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "xml"))
            .map(|path| {
                let body = std::fs::read(&path).expect("readable");
                (path, body)
            })
            .collect();
        feeds.sort();
        Some(feeds)
    }

    #[test]
    fn the_recorded_feeds_parse() {
        let Some(feeds) = recorded_feeds() else { return };
        for (path, body) in &feeds {
            let parsed = parse(body, 100).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!parsed.items.is_empty(), "{}: no items", path.display());
        }
        assert!(feeds.len() >= 6, "only {} feeds read", feeds.len());
    }
}
