//! A bot's lifecycle in the store (decision 0040), on SQLite and PostgreSQL: the enabled flag,
//! the supervisor's last status, and removal with what it deletes (or keeps) and the mark it
//! leaves for the folder import. Each case runs on a fresh database of each backend
//! (PostgreSQL is skipped loudly when unreachable, unless `FERROGRAM_REQUIRE_POSTGRES=1`).

mod common;

use ferrogram_core::{ChatState, Scope};
use ferrogram_store::{SecretKey, Store, StoredStatus};
use serde_json::json;

crate::both!(
    bots_are_enabled_until_disabled_in_their_workspace_only,
    a_status_is_written_replaced_and_read_back,
    removal_deletes_the_record_versions_secrets_status_and_data,
    removal_can_keep_the_data_and_is_refused_across_workspaces,
    a_removed_source_is_remembered_until_forgotten,
);

async fn bots_are_enabled_until_disabled_in_their_workspace_only(store: Store, _url: String) {
    let (a, b) = (store.create_workspace("a").await.unwrap(), store.create_workspace("b").await.unwrap());
    let shop = store.create_bot(a, "shop", Some(1_001)).await.unwrap().unwrap();
    assert!(store.bot(a, shop).await.unwrap().unwrap().enabled, "a new bot is enabled");
    assert!(!store.set_bot_enabled(b, shop, false).await.unwrap(), "not b's bot");
    assert!(store.bot(a, shop).await.unwrap().unwrap().enabled);
    assert!(store.set_bot_enabled(a, shop, false).await.unwrap());
    assert!(!store.bot_named(a, "shop").await.unwrap().unwrap().enabled);
    assert!(!store.bots(a).await.unwrap()[0].enabled);
    assert!(store.set_bot_enabled(a, shop, true).await.unwrap());
    assert!(store.bot(a, shop).await.unwrap().unwrap().enabled);
}

async fn a_status_is_written_replaced_and_read_back(store: Store, _url: String) {
    let (a, b) = (store.create_workspace("a").await.unwrap(), store.create_workspace("b").await.unwrap());
    let shop = store.create_bot(a, "shop", Some(1_002)).await.unwrap().unwrap();
    assert_eq!(store.bot_status(a, shop).await.unwrap(), None);
    let failing = StoredStatus {
        status: "failing".into(),
        since: 1_700_000_000,
        version: Some(3),
        attempts: 2,
        errors: vec![(1_700_000_000, "getMe: boom".into()), (1_700_000_001, "«ошибка» 🚫".into())],
    };
    assert!(store.save_bot_status(a, shop, &failing).await.unwrap());
    assert_eq!(store.bot_status(a, shop).await.unwrap(), Some(failing.clone()));
    let unauthorized = StoredStatus {
        status: "unauthorized".into(),
        since: 1_700_000_100,
        version: None,
        attempts: 0,
        errors: vec![],
    };
    assert!(store.save_bot_status(a, shop, &unauthorized).await.unwrap());
    assert_eq!(store.bot_status(a, shop).await.unwrap(), Some(unauthorized.clone()), "replaced");
    // Another workspace neither writes nor reads it.
    assert!(!store.save_bot_status(b, shop, &failing).await.unwrap());
    assert_eq!(store.bot_status(b, shop).await.unwrap(), None);
    assert_eq!(store.bot_status(a, shop).await.unwrap(), Some(unauthorized));
}

/// A bot with a version, a token, a status and a row in several data tables under `telegram`.
async fn populated(store: &Store, workspace: i64, name: &str, telegram: u64) -> i64 {
    let bot = store.create_bot(workspace, name, Some(telegram)).await.unwrap().unwrap();
    store.save_version(workspace, bot, &format!("bot: {{name: {name}}} # 1")).await.unwrap().unwrap();
    store.save_version(workspace, bot, &format!("bot: {{name: {name}}} # 2")).await.unwrap().unwrap();
    assert!(store.put_secret(workspace, Some(bot), "token", "7:secret").await.unwrap());
    let status = StoredStatus { status: "running".into(), since: 1, version: Some(2), attempts: 0, errors: Vec::new() };
    assert!(store.save_bot_status(workspace, bot, &status).await.unwrap());
    store.save_chat(telegram, 42, &ChatState::default()).await.unwrap();
    store.set_var(telegram, Scope::User(42), "name", Some(&json!("Ann"))).await.unwrap();
    store.set_var(telegram, Scope::Bot, "count", Some(&json!(3))).await.unwrap();
    assert!(store.subscribe(telegram, 42, "news").await.unwrap());
    bot
}

async fn removal_deletes_the_record_versions_secrets_status_and_data(store: Store, _url: String) {
    let store = store.with_secret_key(SecretKey::generate().unwrap());
    let a = store.create_workspace("a").await.unwrap();
    let shop = populated(&store, a, "shop", 2_001).await;
    let other = populated(&store, a, "other", 2_002).await;

    let removed = store.remove_bot(a, shop, false).await.unwrap().expect("removed");
    assert_eq!((removed.telegram_id, removed.versions, removed.secrets), (Some(2_001), 2, 1));
    assert!(!removed.kept_data);
    assert_eq!(
        removed.rows,
        [("chat_states".to_owned(), 1), ("variables".to_owned(), 2), ("subscriptions".to_owned(), 1)]
    );
    assert_eq!(store.bot(a, shop).await.unwrap(), None);
    assert_eq!(store.bot_named(a, "shop").await.unwrap(), None);
    assert_eq!(store.versions(a, shop).await.unwrap(), []);
    assert_eq!(store.bot_status(a, shop).await.unwrap(), None);
    assert_eq!(store.load_chat(2_001, 42).await.unwrap(), None);
    assert!(store.load_vars(2_001, Scope::Bot).await.unwrap().is_empty());
    assert_eq!(store.subscribers(2_001, "news").await.unwrap(), Vec::<i64>::new());
    assert!(store.secrets(a).await.unwrap().iter().all(|s| s.bot != Some(shop)));
    // The other bot is untouched.
    assert_eq!(store.versions(a, other).await.unwrap().len(), 2);
    assert_eq!(store.secret(a, Some(other), "token").await.unwrap().as_deref(), Some("7:secret"));
    assert!(store.bot_status(a, other).await.unwrap().is_some());
    assert!(store.load_chat(2_002, 42).await.unwrap().is_some());
    assert_eq!(store.subscribers(2_002, "news").await.unwrap(), [42]);
    // Removing it again finds nothing; its name and id are free for a new bot.
    assert_eq!(store.remove_bot(a, shop, false).await.unwrap(), None);
    assert!(store.create_bot(a, "shop", Some(2_001)).await.unwrap().is_some());
}

async fn removal_can_keep_the_data_and_is_refused_across_workspaces(store: Store, _url: String) {
    let store = store.with_secret_key(SecretKey::generate().unwrap());
    let (a, b) = (store.create_workspace("a").await.unwrap(), store.create_workspace("b").await.unwrap());
    let shop = populated(&store, a, "shop", 3_001).await;
    assert_eq!(store.remove_bot(b, shop, false).await.unwrap(), None, "not b's bot");
    assert_eq!(store.versions(a, shop).await.unwrap().len(), 2, "nothing changed");
    assert!(store.load_chat(3_001, 42).await.unwrap().is_some());

    let removed = store.remove_bot(a, shop, true).await.unwrap().expect("removed");
    assert!(removed.kept_data && removed.rows.is_empty(), "{removed:?}");
    assert_eq!((removed.versions, removed.secrets), (2, 1));
    assert_eq!(store.bot(a, shop).await.unwrap(), None);
    // The data stays under its id: a bot of that id finds it again.
    assert!(store.load_chat(3_001, 42).await.unwrap().is_some());
    assert_eq!(store.load_vars(3_001, Scope::Bot).await.unwrap().get("count"), Some(&json!(3)));
}

async fn a_removed_source_is_remembered_until_forgotten(store: Store, _url: String) {
    let (a, b) = (store.create_workspace("a").await.unwrap(), store.create_workspace("b").await.unwrap());
    let bot = store.create_bot(a, "shop", Some(4_001)).await.unwrap().unwrap();
    store.save_version(a, bot, "first").await.unwrap();
    store.save_version(a, bot, "last").await.unwrap();
    assert_eq!(store.removed_with(a, "shop", "last").await.unwrap(), None, "not removed yet");
    store.remove_bot(a, bot, false).await.unwrap().expect("removed");
    let at = store.removed_with(a, "shop", "last").await.unwrap().expect("marked with its last version");
    assert!(at > 1_700_000_000, "{at}");
    assert_eq!(store.removed_with(a, "shop", "first").await.unwrap(), None, "another source");
    assert_eq!(store.removed_with(a, "shop ", "last").await.unwrap(), None);
    assert_eq!(store.removed_with(b, "shop", "last").await.unwrap(), None, "another workspace");
    assert!(!store.forget_removed(b, "shop").await.unwrap());
    assert!(store.forget_removed(a, "shop").await.unwrap());
    assert_eq!(store.removed_with(a, "shop", "last").await.unwrap(), None);
    assert!(!store.forget_removed(a, "shop").await.unwrap());
}
