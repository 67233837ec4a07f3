//! Telegram's webhooks: `POST /telegram/{bot_id}`, each request one update for one bot. The
//! engine checks the secret token (in constant time) and stores the update before this answers
//! 200; any other answer makes Telegram deliver it again:
//!
//! | answer | when |
//! |---|---|
//! | 200 | the update is stored (or was already: a redelivery) |
//! | 400 | the body is not JSON, or not an update (no integer `update_id`); nothing is stored |
//! | 401 | the `X-Telegram-Bot-Api-Secret-Token` header is missing or wrong |
//! | 404 | no bot receiving by webhook with this id runs here |
//! | 413 | the body is over 1 MiB (refused before it is read) |
//! | 500 | storing the update failed |
//! | 503 | the bot is still starting, or an unhandled update holds the same id |

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use ferrogram_engine::Engine;

/// Telegram's header carrying the secret token given to setWebhook.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// An update is a few kilobytes; refuse anything far bigger before reading it.
pub const MAX_UPDATE_BYTES: usize = 1 << 20;

/// The path a bot's webhook is served at, under the public base URL.
pub fn path(bot_id: u64) -> String {
    format!("/telegram/{bot_id}")
}

/// A fresh secret token: 32 random bytes from the OS, hex (setWebhook allows `A-Za-z0-9_-`).
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no secure random numbers: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The webhook route, with its body limit, for [`crate::router`].
pub(crate) fn routes() -> axum::Router<Arc<Engine>> {
    axum::Router::new()
        .route("/telegram/{bot_id}", axum::routing::post(update))
        .layer(DefaultBodyLimit::max(MAX_UPDATE_BYTES))
}

async fn update(
    State(engine): State<Arc<Engine>>,
    Path(bot_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    // An id that is not a number is no bot's: 404 as for any other unknown bot.
    let Ok(bot_id) = bot_id.parse::<u64>() else { return StatusCode::NOT_FOUND };
    let secret = headers.get(SECRET_HEADER).and_then(|v| v.to_str().ok());
    match engine.webhook_update(bot_id, secret, &body).await {
        Ok(()) => StatusCode::OK,
        Err(error) => {
            tracing::debug!(bot_id, %error, "webhook update refused");
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_allowed_by_set_webhook() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
