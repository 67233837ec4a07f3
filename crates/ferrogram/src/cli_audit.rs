//! The audit log of the command line's own changes (decision 0040): `bot add`, `bot
//! enable|disable|remove` (on the store), `token issue` and `secrets rotate` are written to their
//! workspace's audit log like the control API's actions, with the actor `cli:USER` (the
//! operating-system user running the command) instead of `token:ID`.

use ferrogram_store::Store;
use serde_json::Value;

/// `cli:USER`: the user of `$USER` (else `$LOGNAME`, `$USERNAME`), `cli:unknown` without one.
pub(crate) fn actor() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().map(|user| user.trim().to_owned()).filter(|user| !user.is_empty()));
    format!("cli:{}", user.unwrap_or_else(|| "unknown".to_owned()))
}

/// Appends `action` on `target` to `workspace`'s audit log as [`actor`]. The change it records
/// is done already: a failed write is printed as a warning, not an error of the command.
pub(crate) async fn write(store: &Store, workspace: i64, action: &str, target: &str, detail: &Value) {
    if let Err(error) = store.audit(workspace, &actor(), action, target, detail).await {
        eprintln!("warning: {action} {target} was done but not written to the audit log: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actor_names_the_command_line() {
        assert!(actor().starts_with("cli:") && actor().len() > 4);
    }
}
