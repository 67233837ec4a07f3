//! The broadcast runner: one task in the server process that starts scheduled broadcasts at
//! their time (their audience resolved then, as recipient rows) and sends the running ones, a
//! batch of recipients at a time per broadcast, through the bot's flood scheduler as bulk
//! ([`Engine::send_bulk`]).
//!
//! Each batch is claimed in the store first (its recipients `sending`), then sent, and each
//! recipient's outcome recorded as it comes: `sent`; `blocked` for Telegram's 403 (the user
//! blocked the bot); `failed` for another refusal, or a failure after the call may have reached
//! Telegram (not repeated). A call that certainly did not go (the bot stopping, a 429 the
//! scheduler stopped waiting for) puts its recipient back to `pending`. Pausing or cancelling
//! stops the claims: the batch being sent finishes. A broadcast of a bot that does not run here
//! waits for it.
//!
//! At its start the runner marks the recipients left `sending` by an earlier process `failed`
//! ([`Store::broadcasts_interrupted`](ferrogram_store::Store::broadcasts_interrupted)): they
//! were in flight at a crash and may have been delivered, so no one gets the message twice.

use std::sync::Arc;
use std::time::Duration;

use ferrogram_engine::{BulkError, Engine};
use ferrogram_store::{Broadcast, Delivery};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::audience::{Audience, resolve};
use super::message::Message;
use crate::bots::Api;

/// How the runner works.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Recipients of one broadcast claimed and sent at once. Default 30 (the bot's steady rate
    /// per second: the scheduler paces them).
    pub batch: u32,
    /// How often the store is looked at for broadcasts due or running when there is nothing to
    /// send. Default 1 s.
    pub tick: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig { batch: 30, tick: Duration::from_secs(1) }
    }
}

/// The running runner; [`Runner::stop`] ends it between batches.
pub struct Runner {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Runner {
    /// Starts the runner on the store of `api` and the bots of `engine`.
    pub fn start(api: Api, engine: Arc<Engine>, config: RunnerConfig) -> Runner {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(api, engine, config, stopped));
        Runner { stop, task }
    }

    /// Stops it once the batch being sent is recorded; what is left is sent by the next start.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the broadcast runner ended abnormally");
        }
    }
}

async fn run(api: Api, engine: Arc<Engine>, config: RunnerConfig, mut stopped: watch::Receiver<bool>) {
    match api.store.broadcasts_interrupted().await {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!(recipients = n, "broadcast sends interrupted by the last stop: counted failed, not repeated")
        }
        Err(error) => tracing::error!(%error, "broadcasts: marking interrupted sends failed"),
    }
    loop {
        if *stopped.borrow() {
            return;
        }
        let busy = match pass(&api, &engine, &config).await {
            Ok(busy) => busy,
            Err(error) => {
                tracing::error!(%error, "broadcasts: reading the store failed; retried");
                false
            }
        };
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(config.tick) => {}
                _ = stopped.changed() => {}
            }
        }
    }
}

/// Starts what is due, then sends one batch of each running broadcast whose bot runs here.
/// Whether anything was sent.
async fn pass(api: &Api, engine: &Arc<Engine>, config: &RunnerConfig) -> Result<bool, ferrogram_store::Error> {
    for due in api.store.broadcasts_due(crate::api::versions::now()).await? {
        begin(api, &due).await?;
    }
    let mut busy = false;
    for broadcast in api.store.broadcasts_running().await? {
        let Some(bot) = api.store.bot(broadcast.workspace, broadcast.bot).await? else { continue };
        let Some(telegram) = bot.telegram_id.filter(|id| engine.runs(*id)) else { continue };
        let message: Message = match serde_json::from_str(&broadcast.message) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(broadcast = broadcast.id, %error, "a stored broadcast's message does not read");
                continue;
            }
        };
        let chats = api.store.broadcast_claim(broadcast.id, config.batch).await?;
        if chats.is_empty() {
            if api.store.broadcast_finish(broadcast.id).await? {
                tracing::info!(broadcast = broadcast.id, "broadcast done");
            }
            continue;
        }
        busy |= send_batch(api, engine, broadcast.id, telegram, &message, chats).await?;
        if api.store.broadcast_finish(broadcast.id).await? {
            tracing::info!(broadcast = broadcast.id, "broadcast done");
        }
    }
    Ok(busy)
}

/// Resolves a due broadcast's audience and starts it (its recipients and its start in one
/// transaction).
async fn begin(api: &Api, due: &Broadcast) -> Result<(), ferrogram_store::Error> {
    let resolved = match (serde_json::from_str::<Audience>(&due.audience), api.store.bot(due.workspace, due.bot).await?)
    {
        (Ok(audience), Some(bot)) => {
            resolve(api, due.workspace, &bot, &audience, "/audience").await.map_err(|problem| {
                match problem.errors.first() {
                    Some(error) => format!("{}: {}", problem.detail, error.detail),
                    None => problem.detail,
                }
            })
        }
        (Err(error), _) => Err(format!("the stored audience does not read: {error}")),
        (_, None) => Err("the bot is gone".to_owned()),
    };
    let mut tx = api.store.transaction().await?;
    let started = match &resolved {
        Ok(chats) => {
            tx.broadcast_add_recipients(due.id, chats).await?;
            tx.broadcast_begin(due.id, chats.len() as i64, None).await?
        }
        Err(why) => tx.broadcast_begin(due.id, 0, Some(why)).await?,
    };
    tx.commit().await?;
    if started {
        match resolved {
            Ok(chats) => tracing::info!(broadcast = due.id, recipients = chats.len(), "broadcast started"),
            Err(why) => tracing::warn!(broadcast = due.id, why, "broadcast ended at its start: no audience"),
        }
    }
    Ok(())
}

/// Sends the claimed `chats` at once (the scheduler paces them) and records each outcome as it
/// comes. Whether any call was made.
async fn send_batch(
    api: &Api,
    engine: &Arc<Engine>,
    id: i64,
    telegram: u64,
    message: &Message,
    chats: Vec<i64>,
) -> Result<bool, ferrogram_store::Error> {
    let mut sends = JoinSet::new();
    for chat in chats {
        let (engine, (method, params)) = (Arc::clone(engine), message.call(chat));
        sends.spawn(async move { (chat, engine.send_bulk(telegram, method, &params).await) });
    }
    let mut made = false;
    let mut failure = None;
    while let Some(joined) = sends.join_next().await {
        let Ok((chat, outcome)) = joined else { continue };
        let recorded = match outcome {
            Ok(_) => {
                made = true;
                api.store.broadcast_settle(id, chat, Delivery::Sent, None).await
            }
            Err(BulkError::Refused { code: Some(403), description }) => {
                made = true;
                api.store.broadcast_settle(id, chat, Delivery::Blocked, Some(&description)).await
            }
            Err(error @ (BulkError::Refused { .. } | BulkError::MaybeDelivered(_))) => {
                made = true;
                tracing::warn!(broadcast = id, chat, %error, "a broadcast send failed");
                api.store.broadcast_settle(id, chat, Delivery::Failed, Some(&error.to_string())).await
            }
            Err(error @ (BulkError::NotRunning | BulkError::NotSent(_))) => {
                tracing::info!(broadcast = id, chat, %error, "a broadcast send did not go: tried again later");
                api.store.broadcast_release(id, chat).await
            }
        };
        // Every outcome is recorded that can be; a store failure leaves the rest `sending`,
        // which the next start counts as failed (never sent twice).
        if let Err(error) = recorded {
            failure.get_or_insert(error);
        }
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(made),
    }
}
