//! The stored secrets a bot of `serve` reads with `${NAME}` (decision 0044): its workspace's,
//! overridden by its own of the same name; its own token (`token`) is not among them. They are
//! read from the store when the bot starts and at each reload, so a secret changed with
//! `ferrogram secrets set|delete` takes effect at the bot's next start or reload.

use ferrogram_engine::BotSecrets;
use ferrogram_store::{BOT_TOKEN, Store};

/// The secrets of the bot `bot` (its dashboard id) of `workspace`, opened with the store's
/// key. The error says which could not be read and why, never a value.
pub(crate) async fn of_bot(store: &Store, workspace: i64, bot: i64) -> Result<BotSecrets, String> {
    let shared =
        store.secret_values(workspace, None).await.map_err(|error| format!("the workspace's secrets: {error}"))?;
    let own = store.secret_values(workspace, Some(bot)).await.map_err(|error| format!("its secrets: {error}"))?;
    let mut secrets = BotSecrets::default();
    for (name, value) in shared.into_iter().chain(own.into_iter().filter(|(name, _)| name != BOT_TOKEN)) {
        secrets.insert(name, value.as_str());
    }
    Ok(secrets)
}
