//! One bulk call made for the host (a broadcast, decision 0048) through a running bot's flood
//! scheduler, in its [`Priority::Bulk`] lane: paced to the bot's and the chat's steady rates and
//! behind the bot's replies, so a broadcast never starves interactive traffic. Unlike an outbox
//! entry, its outcome is the caller's to record (sent, blocked, failed), so the call is made at
//! once and classified here; the caller records it before and after (its own durable rows).

use ferrogram_telegram::flood::{Priority, Scheduler};
use serde_json::Value;

/// Why a bulk call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkError {
    /// The bot does not run in this engine, or is stopping: nothing was sent.
    NotRunning,
    /// Not sent, worth trying later: Telegram asked to wait longer than the scheduler waits
    /// (429), or refused the bot's token (401, the bot is then marked unauthorized), or the
    /// connection could not be made.
    NotSent(String),
    /// Telegram refused the call for good: its code (403: the user blocked the bot) and why.
    Refused { code: Option<u16>, description: String },
    /// Failed after it may have reached Telegram (no answer, a 5xx): not to be repeated.
    MaybeDelivered(String),
}

impl std::fmt::Display for BulkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BulkError::NotRunning => f.write_str("the bot is not running"),
            BulkError::NotSent(why) | BulkError::MaybeDelivered(why) => f.write_str(why),
            BulkError::Refused { description, .. } => f.write_str(description),
        }
    }
}

/// Makes `method` with `params` through `scheduler` as a bulk call; a 401 is reported through
/// `unauthorized`, as the outbox does.
pub(crate) async fn call(
    bot_id: u64,
    scheduler: &Scheduler,
    unauthorized: &tokio::sync::watch::Sender<Option<String>>,
    method: &str,
    params: &Value,
) -> Result<Value, BulkError> {
    let span = crate::traces::telegram(bot_id, params["chat_id"].as_i64().unwrap_or(0), method);
    let outcome =
        tracing::Instrument::instrument(scheduler.call::<_, Value>(Priority::Bulk, method, params), span).await;
    match outcome {
        Ok(value) => Ok(value),
        // The call went through; only its answer could not be read.
        Err(ferrogram_telegram::Error::Decode { .. } | ferrogram_telegram::Error::TooLarge { .. }) => Ok(Value::Null),
        Err(ferrogram_telegram::Error::Closed | ferrogram_telegram::Error::QueueFull) => Err(BulkError::NotRunning),
        Err(error) if error.code() == Some(401) => {
            unauthorized.send_replace(Some(error.to_string()));
            Err(BulkError::NotSent(error.to_string()))
        }
        Err(error) if error.is_rate_limited() || matches!(error, ferrogram_telegram::Error::Connect(_)) => {
            ferrogram_telegram::telemetry::api_retry(bot_id, method, &error);
            Err(BulkError::NotSent(error.to_string()))
        }
        Err(error) if error.may_have_been_delivered() => Err(BulkError::MaybeDelivered(error.to_string())),
        Err(error) => {
            let description = match &error {
                ferrogram_telegram::Error::Api { description, .. } => description.clone(),
                other => other.to_string(),
            };
            Err(BulkError::Refused { code: error.code(), description })
        }
    }
}
