//! Downloads of the files bots send by HTTP URL (`sendPhoto` with `photo: "https://…"`), under
//! the server's one address rule ([`egress`]): a bot cannot make the sandbox fetch a loopback,
//! private or link-local address — in any spelling, through a name resolving to one, or by a
//! redirect — unless [`crate::Config::allow_private`] names that host and port. A refused URL
//! fails the call as any URL the sandbox cannot fetch does ("failed to get HTTP URL content",
//! Telegram's words), and the reason is logged for the operator.

use std::time::Duration;

use bytes::BytesMut;
use reqwest::Url;

use crate::params::Upload;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The guarded client of URL downloads.
pub struct Fetcher {
    client: reqwest::Client,
    guard: ferrogram_egress::Guard,
}

impl Fetcher {
    /// A fetcher allowing the private `(host, port)` pairs of `allow_private`; an entry that is
    /// not one host and one port is an error naming it.
    pub fn new(allow_private: &[(String, u16)]) -> Result<Fetcher, String> {
        let guard = ferrogram_egress::Guard::new(allow_private)?;
        let client = guard
            .client_builder()
            .redirect(guard.redirect_policy())
            .user_agent(concat!("ferrogram-sandbox/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Fetcher { client, guard })
    }

    /// Reads the body at `url` as it streams in, giving up past `max_bytes`, on a refused
    /// address or on any failure (`None`; the reason is logged).
    pub async fn fetch(&self, bot_id: i64, url: &str, max_bytes: usize) -> Option<Upload> {
        let parsed = Url::parse(url).ok()?;
        if let Err(refused) = self.guard.check_url(&parsed) {
            tracing::warn!(bot_id, reason = %refused, "a file by URL refused: the address rule");
            return None;
        }
        let sent = self.client.get(parsed).timeout(FETCH_TIMEOUT).send().await;
        let mut response = match sent.and_then(reqwest::Response::error_for_status) {
            Ok(response) => response,
            Err(error) => {
                match ferrogram_egress::refusal(&error) {
                    Some(refused) => {
                        tracing::warn!(bot_id, reason = %refused, "a file by URL refused: the address rule");
                    }
                    None => tracing::debug!(bot_id, %error, "a file by URL could not be fetched"),
                }
                return None;
            }
        };
        if response.content_length().is_some_and(|length| length > max_bytes as u64) {
            return None;
        }
        let mime_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        let file_name = url.rsplit('/').next().filter(|n| !n.is_empty() && n.contains('.')).map(str::to_string);
        let mut bytes = BytesMut::new();
        while let Some(chunk) = response.chunk().await.ok()? {
            if bytes.len() + chunk.len() > max_bytes {
                return None;
            }
            bytes.extend_from_slice(&chunk);
        }
        Some(Upload { file_name, mime_type, bytes: bytes.freeze() })
    }
}
