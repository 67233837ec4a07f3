//! The regular expressions of bot files (text triggers, form `regex` fields), compiled once per
//! pattern: compiling on every update would cost more than matching.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use regex::Regex;

/// Patterns kept at most; past it the cache starts over (only reloads with new patterns get
/// there).
const MAX_CACHED: usize = 4096;

/// `pattern` compiled (Unicode-aware: `\w` matches `ё`), from the cache when it was seen.
pub fn compiled(pattern: &str) -> Result<Arc<Regex>, regex::Error> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(regex) = cache.lock().get(pattern) {
        return Ok(Arc::clone(regex));
    }
    let regex = Arc::new(Regex::new(pattern)?);
    let mut cache = cache.lock();
    if cache.len() >= MAX_CACHED {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), Arc::clone(&regex));
    Ok(regex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_unicode_and_compiled_once() {
        let first = compiled(r"^\w+$").unwrap();
        assert!(first.is_match("ёжик") && first.is_match("naïve") && !first.is_match("two words"));
        assert!(Arc::ptr_eq(&first, &compiled(r"^\w+$").unwrap()), "the second use is the cached one");
        assert!(compiled("(unclosed").is_err());
    }
}
