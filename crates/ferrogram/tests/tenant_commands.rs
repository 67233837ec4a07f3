//! `ferrogram workspace create|list` and `ferrogram token create` (and its old name `token
//! issue`) through the built binary on a SQLite file: what they print, what they refuse, and
//! that the printed token is one the store verifies with the role asked for.

#[allow(dead_code)]
mod binary;

use binary::{TempFolder, ferrogram};
use ferrogram_store::Role;

fn out(output: &std::process::Output) -> (String, String) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn a_fresh_install_is_scripted_from_the_shell() {
    let folder = TempFolder::new("tenants");
    let url = format!("sqlite://{}", folder.0.join("db.sqlite").display());

    let created = ferrogram(&["workspace", "create", "acme", "--database", &url]);
    let (stdout, stderr) = out(&created);
    assert!(created.status.success(), "{stderr}");
    let (id, name) = stdout.trim().split_once(' ').unwrap();
    assert_eq!(name, "acme");
    let again = ferrogram(&["workspace", "create", "acme", "--database", &url]);
    assert!(!again.status.success());
    assert!(out(&again).1.contains("already a workspace named acme"), "{}", out(&again).1);

    let token =
        ferrogram(&["token", "create", "--workspace", "acme", "--role", "admin", "--name", "ci", "--database", &url]);
    let (secret, told) = out(&token);
    assert!(token.status.success(), "{told}");
    let secret = secret.trim();
    assert!(secret.starts_with("fg_") && secret.len() == 46, "only the secret on stdout: {secret}");
    assert!(told.contains("`ci` (admin) of workspace acme") && told.contains(&secret[..9]), "{told}");
    assert!(!told.contains(secret), "the secret is not on stderr: {told}");

    let missing = ferrogram(&["token", "create", "--workspace", "nope", "--database", &url]);
    assert!(!missing.status.success());
    assert!(out(&missing).1.contains("ferrogram workspace create nope"), "{}", out(&missing).1);
    let legacy = ferrogram(&["token", "issue", "ops", "--role", "viewer", "--database", &url]);
    assert!(legacy.status.success(), "{}", out(&legacy).1);

    let listed = ferrogram(&["workspace", "list", "--database", &url]);
    assert_eq!(out(&listed).0, format!("{id} acme\n2 default\n"));

    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let access = store.verify_token(secret).await.unwrap().expect("the printed token verifies");
    assert_eq!((access.workspace.to_string(), access.role), (id.to_owned(), Role::Admin));
    let legacy = store.verify_token(out(&legacy).0.trim()).await.unwrap().unwrap();
    assert_eq!(legacy.role, Role::Viewer);
    let audit = store.audit_log(access.workspace, 10).await.unwrap();
    let actions: Vec<(&str, bool)> =
        audit.iter().rev().map(|e| (e.action.as_str(), e.actor.starts_with("cli:"))).collect();
    assert_eq!(actions, [("workspace.create", true), ("token.create", true)]);
    store.close().await;
}
