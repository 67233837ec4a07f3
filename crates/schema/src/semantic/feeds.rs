//! Checks of the `feed` step: its URL, limits and the name it gives its result.

use super::Checker;
use super::util::is_http_url;
use crate::feed::{Feed, MAX_FEED_LIMIT};
use crate::source::push_key;
use crate::templates;
use crate::{MAX_HTTP_RETRIES, MAX_HTTP_TIMEOUT_MS};

impl<'a> Checker<'a> {
    pub(super) fn feed(&mut self, feed: &'a Feed, path: &str) {
        let url_path = push_key(path, "url");
        self.template(&feed.url, &url_path);
        if templates::is_static(&feed.url) && !is_http_url(&feed.url) {
            self.error(
                &url_path,
                format!("`{}` is not an absolute http(s) URL", feed.url),
                Some("write it whole: `https://nyaa.si/?page=rss`".into()),
            );
        }
        if let Some(limit) = feed.limit
            && !(1..=MAX_FEED_LIMIT).contains(&limit)
        {
            self.error(&push_key(path, "limit"), format!("`limit` is {limit}; it can be 1 to {MAX_FEED_LIMIT}"), None);
        }
        if !(1..=MAX_HTTP_TIMEOUT_MS).contains(&feed.timeout_ms) {
            self.error(
                &push_key(path, "timeout_ms"),
                format!("`timeout_ms` is {}; it can be 1 to {MAX_HTTP_TIMEOUT_MS}", feed.timeout_ms),
                None,
            );
        }
        if feed.retries > MAX_HTTP_RETRIES {
            self.error(
                &push_key(path, "retries"),
                format!("`retries` is {}; it can be at most {MAX_HTTP_RETRIES}", feed.retries),
                None,
            );
        }
        self.save_as(feed.save_as.as_deref(), path);
    }
}
