//! Webhooks, the other update source: Telegram POSTs each update to the server (crates/server),
//! which hands its body here ([`take`]); the bot registers its webhook once it caught up.

use std::sync::Arc;
use std::time::Duration;

use ferrogram_telegram::{Backoff, Client};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::receive::replay::catch_up;
use crate::receive::{Inbox, accept, notice};
use ferrogram_core::{Received, StoreError};

/// Why a webhook update was not taken; each maps to the HTTP status Telegram is answered.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No webhook bot with this id runs here (404).
    #[error("no webhook bot with this id")]
    UnknownBot,
    /// The secret header is missing or wrong (401).
    #[error("wrong or missing secret token")]
    WrongSecret,
    /// The body is not JSON, or not an update (no integer `update_id`): 400, nothing stored (a
    /// retry would not fix it).
    #[error("the body is not an update: {0}")]
    Malformed(String),
    /// The bot is still starting (503: Telegram delivers it again).
    #[error("the bot is starting, try again")]
    NotReady,
    /// The update could not be stored (500: Telegram delivers it again).
    #[error("storing the update failed: {0}")]
    Store(StoreError),
    /// An unhandled update holds the same id (the ids restarted): 503, Telegram delivers it
    /// again, and it is stored once that one is handled.
    #[error("an unhandled update has the same id, try again")]
    Busy,
}

impl WebhookError {
    /// The HTTP status to answer Telegram with.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::UnknownBot => 404,
            WebhookError::WrongSecret => 401,
            WebhookError::Malformed(_) => 400,
            WebhookError::NotReady | WebhookError::Busy => 503,
            WebhookError::Store(_) => 500,
        }
    }
}

/// How long a webhook update waits for its bot to finish starting.
const WEBHOOK_READY_WAIT: Duration = Duration::from_secs(10);

/// Webhook mode: delivers the outbox, replays the inbox, takes new updates, then registers the
/// webhook ([`set_webhook`]).
pub async fn register(inbox: Arc<Inbox>, client: Client, url: String, secret: String) {
    let Some(stop) = catch_up(&inbox, &Backoff::default()).await else { return };
    set_webhook(inbox.context.bot_id, &client, &url, &secret, stop, &inbox.unauthorized).await;
}

/// A woken bot (its runtime dropped while idle, built again for an update): delivers the outbox
/// and replays the inbox, then takes the update. Its webhook is set already.
pub async fn wake(inbox: Arc<Inbox>) {
    catch_up(&inbox, &Backoff::default()).await;
}

/// Sets the bot's webhook, retrying with backoff until it is set or `stop` is raised; a 401 is
/// noted in `unauthorized` (its token was revoked) and retried like the rest.
pub async fn set_webhook(
    bot_id: u64,
    client: &Client,
    url: &str,
    secret: &str,
    mut stop: watch::Receiver<bool>,
    unauthorized: &watch::Sender<Option<String>>,
) {
    let backoff = Backoff::default();
    let params = json!({"url": url, "secret_token": secret});
    let mut failures = 0u32;
    loop {
        let outcome = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            outcome = client.call::<_, Value>("setWebhook", &params) => outcome,
        };
        let Err(error) = outcome else {
            tracing::info!(bot_id, "webhook set");
            return;
        };
        if error.code() == Some(401) {
            unauthorized.send_replace(Some(error.to_string()));
        }
        failures = failures.saturating_add(1);
        let delay = backoff.delay(failures.min(10));
        tracing::warn!(bot_id, %error, ?delay, "setWebhook failed");
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// The update a POSTed body holds, with its id, or why it is not one (nothing is stored then).
pub fn parse(bot_id: u64, body: &[u8]) -> Result<(i64, Value), WebhookError> {
    let update: Value = serde_json::from_slice(body).map_err(|error| {
        tracing::warn!(bot_id, %error, "webhook body is not JSON: refused (400), nothing stored");
        WebhookError::Malformed(format!("not JSON: {error}"))
    })?;
    let Some(update_id) = update.get("update_id").and_then(Value::as_i64) else {
        tracing::warn!(bot_id, "webhook body is not an update (no integer update_id): refused (400), nothing stored");
        return Err(WebhookError::Malformed("no integer update_id".into()));
    };
    Ok((update_id, update))
}

/// Takes one update POSTed to a webhook bot whose secret was checked, as [`parse`] read it:
/// stores its text, then dispatches it if it is new. `Ok` only once it is stored (see
/// [`crate::Engine::webhook_update`]).
pub async fn take(inbox: &Inbox, update_id: i64, update: Value) -> Result<(), WebhookError> {
    let bot_id = inbox.context.bot_id;
    // Until the bot replayed what its last run left, new updates wait (the chat's order).
    let mut ready = inbox.ready.subscribe();
    match tokio::time::timeout(WEBHOOK_READY_WAIT, ready.wait_for(|ready| *ready)).await {
        Ok(Ok(_)) => {}
        _ => return Err(WebhookError::NotReady),
    }
    let text = update.to_string();
    let received = inbox.context.store.inbox_put(bot_id, update_id, text.clone()).await.map_err(WebhookError::Store)?;
    notice(inbox, update_id, received);
    match received {
        Received::Busy => Err(WebhookError::Busy),
        Received::Redelivered => Ok(()),
        Received::New | Received::Reused => {
            accept(inbox, update_id, &update, text, 1).await;
            Ok(())
        }
    }
}
