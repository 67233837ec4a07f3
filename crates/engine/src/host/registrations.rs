//! The start-up calls of bots that start asleep — their command menu, then their webhook — made
//! by a few workers from one queue, not by a task per bot: thousands of bots starting together
//! would otherwise each hold a task and open a connection, memory a process keeps after.

use std::sync::Arc;

use ferrogram_telegram::Client;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::commands::publish_menus;
use crate::receive::webhook;

/// How many bots make their start-up calls at once.
const WORKERS: usize = 32;

/// One asleep bot's start-up calls.
pub(crate) struct Registration {
    pub(crate) bot_id: u64,
    pub(crate) client: Client,
    /// setMyCommands' parameters (`commands::command_menus`), rendered when the bot was added.
    pub(crate) menus: Vec<Value>,
    pub(crate) url: String,
    pub(crate) secret: String,
    /// The bot's stop signal: a bot stopped before its turn makes no call, one stopped during its
    /// setWebhook retries ends them.
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) unauthorized: Arc<watch::Sender<Option<String>>>,
}

/// The queue and its workers, which end with it.
pub(crate) struct Registrations {
    queue: mpsc::UnboundedSender<Registration>,
    /// Registrations queued or being made.
    pending: Arc<watch::Sender<usize>>,
}

impl Registrations {
    /// Starts the workers (inside a Tokio runtime).
    pub(crate) fn start() -> Registrations {
        let (queue, taken) = mpsc::unbounded_channel::<Registration>();
        let taken = Arc::new(tokio::sync::Mutex::new(taken));
        let pending = Arc::new(watch::Sender::new(0usize));
        for _ in 0..WORKERS {
            let (taken, pending) = (Arc::clone(&taken), Arc::clone(&pending));
            tokio::spawn(async move {
                loop {
                    let next = taken.lock().await.recv().await;
                    let Some(registration) = next else { return };
                    registration.run().await;
                    pending.send_modify(|n| *n = n.saturating_sub(1));
                }
            });
        }
        Registrations { queue, pending }
    }

    /// Queues a bot's start-up calls.
    pub(crate) fn add(&self, registration: Registration) {
        self.pending.send_modify(|n| *n += 1);
        // The workers end only when this sender is dropped, so the queue is open.
        let _ = self.queue.send(registration);
    }

    /// Returns once no registration is queued or being made.
    pub(crate) async fn settled(&self) {
        let mut pending = self.pending.subscribe();
        // The sender lives in `self`, so it is not dropped while this waits.
        let _ = pending.wait_for(|n| *n == 0).await;
    }
}

impl Registration {
    async fn run(self) {
        if *self.stop.borrow() {
            return;
        }
        publish_menus(self.bot_id, &self.client, self.menus).await;
        webhook::set_webhook(self.bot_id, &self.client, &self.url, &self.secret, self.stop, &self.unauthorized).await;
    }
}
