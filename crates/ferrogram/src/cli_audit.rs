//! The audit log of the command line's own changes (decision 0040): `bot add`, `bot
//! enable|disable|remove` (on the store), `workspace create`, `token create` and `secrets
//! rotate` are written to their
//! workspace's audit log like the control API's actions, with the actor `cli:USER` (the
//! operating-system user running the command) instead of `token:ID`.

use ferrogram_store::Store;
use serde_json::Value;

/// `cli:USER`: the user of `$USER` (else `$LOGNAME`, `$USERNAME`); without one, on Linux, the
/// name `/etc/passwd` gives the process's user id (`cli:uid:N` when it has none); else
/// `cli:unknown`.
pub(crate) fn actor() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().map(|user| user.trim().to_owned()).filter(|user| !user.is_empty()));
    format!("cli:{}", user.or_else(os_user).unwrap_or_else(|| "unknown".to_owned()))
}

/// The process's user by its id (the owner of `/proc/self`), named by `/etc/passwd` if listed.
#[cfg(unix)]
fn os_user() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let named = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid.to_string()).then(|| name.to_owned())
    });
    Some(named.unwrap_or_else(|| format!("uid:{uid}")))
}

#[cfg(not(unix))]
fn os_user() -> Option<String> {
    None
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
        #[cfg(target_os = "linux")]
        assert!(os_user().is_some_and(|user| !user.is_empty()));
    }
}
