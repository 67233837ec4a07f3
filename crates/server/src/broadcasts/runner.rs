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
//! A text with template syntax is rendered for each recipient with their variables
//! ([`Personal`], decision 0055), compiled once per broadcast; a recipient whose text does not
//! render (the template ran out of fuel, say) is counted `failed` with the reason, not sent.
//!
//! At its start the runner marks the recipients left `sending` by an earlier process `failed`
//! ([`Store::broadcasts_interrupted`](ferrogram_store::Store::broadcasts_interrupted)): they
//! were in flight at a crash and may have been delivered, so no one gets the message twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferrogram_engine::{BulkError, Engine};
use ferrogram_store::{Broadcast, Delivery};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::audience::{Audience, resolve};
use super::message::Message;
use super::personal::Personal;
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
    let mut texts = Texts::new();
    loop {
        if *stopped.borrow() {
            return;
        }
        let busy = match pass(&api, &engine, &config, &mut texts).await {
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

/// The compiled texts of the running broadcasts whose text is a template, by broadcast id (or
/// why it does not compile).
type Texts = HashMap<i64, Arc<Result<Personal, String>>>;

/// Starts what is due, then sends one batch of each running broadcast whose bot runs here.
/// Whether anything was sent.
async fn pass(
    api: &Api,
    engine: &Arc<Engine>,
    config: &RunnerConfig,
    texts: &mut Texts,
) -> Result<bool, ferrogram_store::Error> {
    for due in api.store.broadcasts_due(crate::api::versions::now()).await? {
        begin(api, &due).await?;
    }
    let mut busy = false;
    let running = api.store.broadcasts_running().await?;
    texts.retain(|id, _| running.iter().any(|b| b.id == *id));
    for broadcast in running {
        let Some(bot) = api.store.bot(broadcast.workspace, broadcast.bot).await? else { continue };
        let Some(telegram) = bot.telegram_id.filter(|id| engine.runs(*id)) else { continue };
        let message: Message = match serde_json::from_str(&broadcast.message) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(broadcast = broadcast.id, %error, "a stored broadcast's message does not read");
                continue;
            }
        };
        let personal = if Personal::varies(&message) {
            let compiled = match texts.get(&broadcast.id) {
                Some(compiled) => Arc::clone(compiled),
                None => {
                    let compiled = Arc::new(Personal::compile(api, &bot, &message).await);
                    texts.insert(broadcast.id, Arc::clone(&compiled));
                    compiled
                }
            };
            Some(compiled)
        } else {
            None
        };
        let chats = api.store.broadcast_claim(broadcast.id, config.batch).await?;
        if chats.is_empty() {
            if api.store.broadcast_finish(broadcast.id).await? {
                tracing::info!(broadcast = broadcast.id, "broadcast done");
            }
            continue;
        }
        let batch = Batch { id: broadcast.id, telegram, message: &message, personal: personal.as_deref() };
        busy |= send_batch(api, engine, &batch, chats).await?;
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

/// One broadcast's batch: what is sent, by which bot, and its text per recipient when it varies.
struct Batch<'a> {
    id: i64,
    telegram: u64,
    message: &'a Message,
    personal: Option<&'a Result<Personal, String>>,
}

/// The text of `batch` for `chat`, or why it does not render (the recipient then counts failed).
async fn text_for(api: &Api, batch: &Batch<'_>, chat: i64) -> Result<Result<String, String>, ferrogram_store::Error> {
    Ok(match batch.personal {
        None => Ok(batch.message.text.clone()),
        Some(Err(why)) => Err(format!("the text does not compile: {why}")),
        Some(Ok(personal)) => {
            let ctx = Personal::context(api, batch.telegram, chat).await?;
            personal.render(&ctx).map_err(|why| format!("the text does not render for this user: {why}"))
        }
    })
}

/// Sends the claimed `chats` at once (the scheduler paces them) and records each outcome as it
/// comes. Whether any call was made (or a recipient settled without one).
async fn send_batch(
    api: &Api,
    engine: &Arc<Engine>,
    batch: &Batch<'_>,
    chats: Vec<i64>,
) -> Result<bool, ferrogram_store::Error> {
    let (id, telegram) = (batch.id, batch.telegram);
    let mut sends = JoinSet::new();
    let mut made = false;
    let mut failure = None;
    for chat in chats {
        let text = match text_for(api, batch, chat).await {
            Ok(Ok(text)) => text,
            Ok(Err(why)) => {
                made = true;
                tracing::warn!(broadcast = id, chat, why, "a broadcast's text did not render");
                if let Err(error) = api.store.broadcast_settle(id, chat, Delivery::Failed, Some(&why)).await {
                    failure.get_or_insert(error);
                }
                continue;
            }
            Err(error) => {
                // Not sent: back to pending, tried at the next batch.
                failure.get_or_insert(error);
                let _ = api.store.broadcast_release(id, chat).await;
                continue;
            }
        };
        let (engine, (method, params)) = (Arc::clone(engine), batch.message.call_as(chat, &text));
        sends.spawn(async move { (chat, engine.send_bulk(telegram, method, &params).await) });
    }
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
