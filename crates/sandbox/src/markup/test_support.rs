//! What the markup unit tests share: the compact notation they compare entities in, and
//! `parse` wrapped for a result or an error.

use super::parse;
use serde_json::Value;

/// Compact entity notation: "type@offset+length", plus ":arg" for url/language/custom_emoji_id.
pub(super) fn fmt(entities: &[Value]) -> Vec<String> {
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

pub(super) fn ok(text: &str, mode: &str) -> (String, Vec<String>) {
    let (plain, entities) = parse(text, mode).unwrap_or_else(|e| panic!("{text:?} failed: {e}"));
    (plain, fmt(&entities))
}

pub(super) fn err(text: &str, mode: &str) -> String {
    let e = parse(text, mode).expect_err(text);
    e.strip_prefix("can't parse entities: ").unwrap_or(&e).to_owned()
}

pub(super) fn pair(plain: &str, entities: &[&str]) -> (String, Vec<String>) {
    (plain.to_owned(), entities.iter().map(|s| s.to_string()).collect())
}
