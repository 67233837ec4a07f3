//! Checks of `webhooks`: an absolute URL, a secret not written in the file, event names.

use super::Checker;
use super::util::is_http_url;
use crate::source::{push_index, push_key};

impl<'a> Checker<'a> {
    pub(super) fn check_webhooks(&mut self) {
        for (i, hook) in self.bot.webhooks.iter().enumerate() {
            let path = push_index("webhooks", i);
            if !hook.url.contains("${") && !is_http_url(&hook.url) {
                self.error(
                    &push_key(&path, "url"),
                    format!("`{}` is not an absolute http(s) URL", hook.url),
                    Some("write it whole: `https://example.com/hooks/ferrogram`".into()),
                );
            }
            if let Some(secret) = &hook.secret {
                if secret.is_empty() {
                    self.error(&push_key(&path, "secret"), "the secret is empty".into(), None);
                } else if !secret.contains("${") {
                    self.warning(
                        &push_key(&path, "secret"),
                        "the webhook's secret is written in the file".into(),
                        Some("use an environment variable: `secret: ${WEBHOOK_SECRET}`".into()),
                    );
                }
            }
            for (j, event) in hook.events.iter().enumerate() {
                if event.trim().is_empty() {
                    self.error(&push_index(&push_key(&path, "events"), j), "the event name is empty".into(), None);
                }
            }
        }
    }
}
