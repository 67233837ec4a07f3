//! Long polling, one of the two update sources: getUpdates in a loop, each batch stored in the
//! [`Inbox`] before the next call's offset confirms it.

use std::sync::Arc;
use std::time::Duration;

use ferrogram_telegram::frankenstein::methods::GetUpdatesParams;
use ferrogram_telegram::{Backoff, Client};
use serde_json::{Value, json};

use crate::receive::Inbox;
use crate::receive::replay::catch_up;

/// Long polling: replays what the inbox holds unhandled, then fetches updates, stores each
/// one, dispatches the new ones and confirms them with the next call's offset. Errors back off
/// and retry; a stop ends the poll at once.
pub async fn poll(inbox: Arc<Inbox>, client: Client, timeout: u32) {
    let bot_id = inbox.context.bot_id;
    let backoff = Backoff::default();
    let Some(mut stop) = catch_up(&inbox, &backoff).await else { return };
    // A webhook left by an earlier run would make every getUpdates fail with a 409.
    if let Err(error) = client.call::<_, Value>("deleteWebhook", &json!({})).await {
        tracing::warn!(bot_id, %error, "deleteWebhook failed");
    }
    let mut offset: Option<i64> = None;
    let mut failures = 0u32;
    loop {
        let params = GetUpdatesParams::builder().maybe_offset(offset).timeout(timeout).build();
        // Raw JSON, so the inbox keeps each update as it came, whether it decodes or not.
        let batch = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            batch = client.call::<_, Vec<Value>>("getUpdates", &params) => batch,
        };
        let error = match batch {
            Ok(batch) => {
                let (fetched, before) = (batch.len(), offset);
                match crate::receive::receive(&inbox, batch, &mut offset).await {
                    // Nothing to confirm (no usable update_id, or the first one's id is held by an
                    // unhandled update): the same batch comes back at once.
                    Ok(()) if fetched > 0 && offset == before => {
                        format!("none of {fetched} updates can be confirmed yet (no usable update_id, or it is in use)")
                    }
                    Ok(()) => {
                        failures = 0;
                        continue;
                    }
                    Err(error) => format!("storing an update failed, it will be fetched again: {error}"),
                }
            }
            Err(error) => {
                inbox.note_refusal(&error);
                format!("getUpdates failed: {error}")
            }
        };
        failures = failures.saturating_add(1);
        let delay = backoff.delay(failures.min(10));
        tracing::warn!(bot_id, %error, ?delay, "receiving updates failed");
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            () = tokio::time::sleep(delay) => {}
        }
    }
    // Confirm what was stored, so a restart does not fetch it again (it would be dropped as a
    // redelivery anyway).
    if let Some(offset) = offset {
        let params = GetUpdatesParams::builder().offset(offset).timeout(0).limit(1).build();
        if let Ok(Err(error)) = tokio::time::timeout(Duration::from_secs(5), client.get_updates(&params)).await {
            tracing::warn!(bot_id, %error, "confirming the last updates failed");
        }
    }
}
