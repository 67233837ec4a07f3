//! Idle bots cost almost nothing: a webhook bot without jobs, when the engine's `idle_after` is
//! set, keeps only its routing entry and its file while no update comes (`host/bot.rs`). It
//! starts asleep unless its last run left work (an unhandled update, an unsent call), is woken
//! by its next update (its stages built, the update taken), and is put back to sleep by
//! [`sweep`] once it has been idle for `idle_after`: nothing handled, queued, sent or held, and
//! nothing of it waiting in the store.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ferrogram_core::StateStore;
use parking_lot::Mutex;

use super::bot::{Asleep, Hosted, Slot};

/// The engine's bots by handle id.
pub(crate) type Bots = Mutex<HashMap<u64, Arc<Hosted>>>;

/// How often [`sweep`] looks for idle bots: a quarter of `idle_after`, within 50 ms and 30 s.
fn sweep_every(idle_after: Duration) -> Duration {
    (idle_after / 4).clamp(Duration::from_millis(50), Duration::from_secs(30))
}

/// Puts the idle bots to sleep, until the engine is dropped.
pub(crate) async fn sweep(bots: Weak<Bots>, store: Arc<dyn StateStore>, idle_after: Duration) {
    let mut ticks = tokio::time::interval(sweep_every(idle_after));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(bots) = bots.upgrade() else { return };
        let awake: Vec<Arc<Hosted>> = bots
            .lock()
            .values()
            .filter(|hosted| hosted.may_sleep && matches!(*hosted.slot.lock(), Slot::Awake(_)))
            .cloned()
            .collect();
        drop(bots);
        for hosted in awake {
            fall_asleep(&hosted, store.as_ref(), idle_after).await;
        }
    }
}

/// Drops the bot's runtime if it is awake and has been idle for `idle_after`.
async fn fall_asleep(hosted: &Hosted, store: &dyn StateStore, idle_after: Duration) {
    let looks_idle = idle(hosted, &hosted.slot.lock(), idle_after);
    if !looks_idle || has_work(store, hosted.bot_id).await {
        return;
    }
    let runtime = {
        let mut slot = hosted.slot.lock();
        // Checked again under the lock: an update may have come while the store was read.
        if !idle(hosted, &slot, idle_after) {
            return;
        }
        let Slot::Awake(runtime) = &*slot else { return };
        let runtime = Arc::clone(runtime);
        let (file, generation) = {
            let current = runtime.inbox.current.read();
            (Box::new(current.file.clone()), current.generation)
        };
        *slot = Slot::Asleep(Asleep { file, generation });
        runtime
    };
    // Ends its inbox maintenance; the rest ends as the last reference goes.
    runtime.inbox.stop.send_replace(true);
    tracing::debug!(bot_id = hosted.bot_id, "idle: runtime dropped until the next update");
}

/// Whether the bot, in `slot`, is awake, quiet, takes no update and took none for `idle_after`.
fn idle(hosted: &Hosted, slot: &Slot, idle_after: Duration) -> bool {
    let Slot::Awake(runtime) = slot else { return false };
    hosted.may_sleep
        && hosted.taking.load(std::sync::atomic::Ordering::SeqCst) == 0
        && hosted.last_active.lock().elapsed() >= idle_after
        && runtime.is_quiet()
}

/// Whether the store holds work of the bot's: an unhandled update or a call not yet delivered
/// (what a crash or a failed delivery left). A store that cannot say counts as work.
async fn has_work(store: &dyn StateStore, bot_id: u64) -> bool {
    match (store.inbox_unhandled(bot_id, 1).await, store.outbox_pending(bot_id, 1).await) {
        (Ok(updates), Ok(calls)) => !updates.is_empty() || !calls.is_empty(),
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(bot_id, %error, "reading the inbox or outbox failed: the bot stays awake");
            true
        }
    }
}
