//! Webhook mode: the HTTP listener Telegram POSTs each update to, at `/webhook/{bot_id}`.
//! The engine stores the update before this answers 200; any other answer makes Telegram
//! deliver it again.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use ferrogram_engine::Engine;

/// Telegram's header carrying the secret token given to setWebhook.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// An update is a few kilobytes; refuse anything far bigger before reading it.
const MAX_UPDATE_BYTES: usize = 1 << 20;

/// The path a bot's webhook is served at, under the public base URL.
pub fn path(bot_id: u64) -> String {
    format!("/webhook/{bot_id}")
}

/// A fresh secret token: 32 random bytes from the OS, hex (setWebhook allows `A-Za-z0-9_-`).
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no secure random numbers: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn router(engine: Arc<Engine>) -> axum::Router {
    axum::Router::new()
        .route("/webhook/{bot_id}", axum::routing::post(update))
        .layer(DefaultBodyLimit::max(MAX_UPDATE_BYTES))
        .with_state(engine)
}

/// Binds `addr` and serves the webhook routes until the process ends.
pub async fn listen(addr: SocketAddr, engine: Arc<Engine>) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("listening on {addr}: {e}"))?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router(engine)).await {
            tracing::error!(%error, "the webhook listener stopped");
        }
    });
    Ok(())
}

async fn update(
    State(engine): State<Arc<Engine>>,
    Path(bot_id): Path<u64>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
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

    #[tokio::test]
    async fn requests_for_bots_not_here_are_refused() {
        let engine = Arc::new(Engine::new(ferrogram_engine::EngineConfig::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{}", listener.local_addr().unwrap(), path(42));
        tokio::spawn(async move { axum::serve(listener, router(engine)).await });
        let http = reqwest::Client::new();
        let status = http.post(&url).header(SECRET_HEADER, "x").body("{}").send().await.unwrap().status();
        assert_eq!(status, 404);
        let big = vec![b' '; MAX_UPDATE_BYTES + 1];
        let status = http.post(&url).body(big).send().await.unwrap().status();
        assert_eq!(status, 413, "an oversized body is refused before it is read");
    }
}
