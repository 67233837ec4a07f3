//! Tenancy (workspaces, bots, versions, API tokens, audit log), export/import and backups, on
//! SQLite and PostgreSQL: each case runs on a fresh database of each backend (PostgreSQL is
//! skipped loudly when unreachable, unless `FERROGRAM_REQUIRE_POSTGRES=1`; see
//! `tests/common`). The round trips between the backends need both.

mod common;

use common::TestDb;

use ferrogram_core::{ChatState, CollectionSpec, CollectionStore, Outgoing, Query, Scope};
use ferrogram_store::{ImportOptions, Role, Store};
use serde_json::{Value, json};

crate::both!(
    workspaces_and_bots,
    versions_keep_history_and_roll_back_forward,
    workspaces_and_bots_are_found_by_name,
    the_current_version_is_the_newest,
    isolation_names_and_current_versions_stay_in_their_workspace,
    tokens_verify_until_revoked,
    tokens_are_stored_as_hashes_only,
    audit_log_reads_newest_first,
    subscriptions_round_trip,
    isolation_token_lists_and_revocation_stay_in_their_workspace,
    isolation_a_token_speaks_only_for_its_workspace,
    isolation_bots_are_invisible_to_other_workspaces,
    isolation_versions_cannot_be_read_saved_or_rolled_back_from_another_workspace,
    isolation_audit_entries_stay_in_their_workspace,
    isolation_nothing_is_created_in_a_missing_workspace,
    every_bot_table_is_exported,
    export_holds_only_its_bot,
    export_of_an_unknown_bot_is_refused,
    import_refuses_existing_data_unless_replacing,
    import_refuses_unknown_formats_and_tables,
    backup_is_postgres_refused_or_sqlite_snapshot,
    all_bots_export_and_import_in_one_transaction,
    audit_pages_filter_and_continue,
    publishing_needs_the_expected_current_version,
    concurrent_publishes_from_one_version_save_one,
    idempotency_keys_reserve_replay_and_refuse_another_request,
    tokens_keep_their_prefix_and_workspaces_rename,
);

/// Runs SQL on the test database directly (beside the store), returning text columns of the
/// first column of each row.
async fn raw(url: &str, sql: &str) -> Vec<String> {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        rows
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        rows
    }
}

async fn workspaces_and_bots(store: Store, _url: String) {
    let a = store.create_workspace("Acme").await.unwrap();
    let b = store.create_workspace("Борис & Co").await.unwrap();
    assert_ne!(a, b);
    assert_eq!(store.workspace(b).await.unwrap().unwrap().name, "Борис & Co");
    assert_eq!(store.workspace(b + 1000).await.unwrap(), None);
    let shop = store.create_bot(a, "shop", Some(7_000_000_001)).await.unwrap().unwrap();
    let help = store.create_bot(a, "help", None).await.unwrap().unwrap();
    let bots = store.bots(a).await.unwrap();
    assert_eq!(bots.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["shop", "help"]);
    assert_eq!(bots[0].telegram_id, Some(7_000_000_001));
    assert_eq!(bots[1].telegram_id, None);
    let record = store.bot(a, shop).await.unwrap().unwrap();
    assert_eq!((record.id, record.workspace), (shop, a));
    assert!(store.bot(a, help).await.unwrap().is_some());
    // Telegram ids are unique across workspaces.
    assert!(store.create_bot(b, "copy", Some(7_000_000_001)).await.is_err());
    // A bot's id follows its target (`serve`'s fleet): set, still unique, only in its workspace.
    assert!(store.set_bot_telegram(a, help, Some(7_000_000_002)).await.unwrap());
    assert_eq!(store.bot(a, help).await.unwrap().unwrap().telegram_id, Some(7_000_000_002));
    assert!(store.set_bot_telegram(a, help, Some(7_000_000_001)).await.is_err());
    assert!(!store.set_bot_telegram(b, help, None).await.unwrap());
    assert!(store.set_bot_telegram(a, help, None).await.unwrap());
    assert_eq!(store.bot(a, help).await.unwrap().unwrap().telegram_id, None);
}

async fn versions_keep_history_and_roll_back_forward(store: Store, _url: String) {
    let ws = store.create_workspace("w").await.unwrap();
    let bot = store.create_bot(ws, "bot", None).await.unwrap().unwrap();
    assert!(store.versions(ws, bot).await.unwrap().is_empty());
    for (i, source) in ["bot: {name: v1}", "bot: {name: v2} # ✓", "bot: {name: v3}"].iter().enumerate() {
        assert_eq!(store.save_version(ws, bot, source).await.unwrap(), Some(i as i64 + 1));
    }
    assert_eq!(store.rollback_version(ws, bot, 1).await.unwrap(), Some(4));
    let history = store.versions(ws, bot).await.unwrap();
    let listed: Vec<(i64, &str)> = history.iter().map(|v| (v.version, v.source.as_str())).collect();
    assert_eq!(
        listed,
        [(1, "bot: {name: v1}"), (2, "bot: {name: v2} # ✓"), (3, "bot: {name: v3}"), (4, "bot: {name: v1}")]
    );
    assert_eq!(store.rollback_version(ws, bot, 99).await.unwrap(), None, "no such version");
    assert_eq!(store.versions(ws, bot).await.unwrap().len(), 4);
    // Versions inside a transaction commit or vanish with it.
    let mut tx = store.transaction().await.unwrap();
    assert_eq!(tx.save_version(ws, bot, "draft").await.unwrap(), Some(5));
    tx.rollback().await.unwrap();
    assert_eq!(store.save_version(ws, bot, "final").await.unwrap(), Some(5));
}

async fn workspaces_and_bots_are_found_by_name(store: Store, _url: String) {
    assert!(store.workspaces().await.unwrap().is_empty());
    assert_eq!(store.workspace_named("default").await.unwrap(), None);
    let first = store.create_workspace("default").await.unwrap();
    let other = store.create_workspace("Борис & Co").await.unwrap();
    // Names are not unique: the oldest of the name is the one found.
    store.create_workspace("default").await.unwrap();
    assert_eq!(store.workspace_named("default").await.unwrap().unwrap().id, first);
    assert_eq!(store.workspace_named("Борис & Co").await.unwrap().unwrap().id, other);
    assert_eq!(store.workspace_named("DEFAULT").await.unwrap(), None, "names match exactly");
    let listed = ["default", "Борис & Co", "default"];
    let all = store.workspaces().await.unwrap();
    assert_eq!(all.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), listed, "oldest first");
    assert_eq!(all[0].id, first);

    assert_eq!(store.bot_named(first, "hello").await.unwrap(), None);
    let hello = store.create_bot(first, "hello", Some(5)).await.unwrap().unwrap();
    store.create_bot(first, "hello", None).await.unwrap().unwrap();
    let found = store.bot_named(first, "hello").await.unwrap().unwrap();
    assert_eq!((found.id, found.workspace, found.telegram_id), (hello, first, Some(5)));
    assert_eq!(store.bot_named(first, "Hello").await.unwrap(), None);
}

async fn the_current_version_is_the_newest(store: Store, _url: String) {
    let ws = store.create_workspace("w").await.unwrap();
    let bot = store.create_bot(ws, "bot", None).await.unwrap().unwrap();
    assert_eq!(store.current_version(ws, bot).await.unwrap(), None, "no version yet");
    for source in ["one", "two", "three"] {
        store.save_version(ws, bot, source).await.unwrap();
    }
    let current = store.current_version(ws, bot).await.unwrap().unwrap();
    assert_eq!((current.version, current.source.as_str()), (3, "three"));
    assert!(current.created_at > 1_600_000_000, "saved now, in Unix seconds");
    store.rollback_version(ws, bot, 1).await.unwrap();
    let current = store.current_version(ws, bot).await.unwrap().unwrap();
    assert_eq!((current.version, current.source.as_str()), (4, "one"));
    // Inside a transaction, the transaction's own save is seen.
    let mut tx = store.transaction().await.unwrap();
    tx.save_version(ws, bot, "draft").await.unwrap();
    assert_eq!(tx.current_version(ws, bot).await.unwrap().unwrap().source, "draft");
    tx.rollback().await.unwrap();
    assert_eq!(store.current_version(ws, bot).await.unwrap().unwrap().version, 4);
}

async fn isolation_names_and_current_versions_stay_in_their_workspace(store: Store, _url: String) {
    let (a, b) = (store.create_workspace("a").await.unwrap(), store.create_workspace("b").await.unwrap());
    let bot = store.create_bot(a, "shop", None).await.unwrap().unwrap();
    store.save_version(a, bot, "secret source").await.unwrap();
    assert_eq!(store.bot_named(b, "shop").await.unwrap(), None);
    assert_eq!(store.current_version(b, bot).await.unwrap(), None);
    assert_eq!(store.current_version(a, bot).await.unwrap().unwrap().source, "secret source");
}

async fn tokens_verify_until_revoked(store: Store, _url: String) {
    let ws = store.create_workspace("w").await.unwrap();
    let admin = store.issue_token(ws, "ci", Role::Admin).await.unwrap().unwrap();
    let viewer = store.issue_token(ws, "grafana", Role::Viewer).await.unwrap().unwrap();
    assert!(admin.secret.starts_with(ferrogram_store::TOKEN_PREFIX));
    assert_ne!(admin.secret, viewer.secret);
    let access = store.verify_token(&admin.secret).await.unwrap().unwrap();
    assert_eq!((access.token, access.workspace, access.role), (admin.id, ws, Role::Admin));
    assert_eq!(store.verify_token(&viewer.secret).await.unwrap().unwrap().role, Role::Viewer);
    // Near misses are not tokens.
    let mut tampered = admin.secret.clone();
    tampered.pop();
    tampered.push(if admin.secret.ends_with('A') { 'B' } else { 'A' });
    for wrong in [tampered.as_str(), "", "fg_", &admin.secret[3..], &admin.secret.to_uppercase()] {
        assert_eq!(store.verify_token(wrong).await.unwrap(), None, "{wrong:?}");
    }
    let listed = store.tokens(ws).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].last_used_at.is_some() && listed[0].revoked_at.is_none());
    assert_eq!((listed[1].name.as_str(), listed[1].role), ("grafana", Role::Viewer));
    assert!(store.revoke_token(ws, admin.id).await.unwrap());
    assert!(!store.revoke_token(ws, admin.id).await.unwrap(), "already revoked");
    assert_eq!(store.verify_token(&admin.secret).await.unwrap(), None);
    assert!(store.verify_token(&viewer.secret).await.unwrap().is_some(), "others still work");
    assert!(store.tokens(ws).await.unwrap()[0].revoked_at.is_some());
}

async fn tokens_are_stored_as_hashes_only(store: Store, url: String) {
    let ws = store.create_workspace("w").await.unwrap();
    let token = store.issue_token(ws, "deploy", Role::Editor).await.unwrap().unwrap();
    let secret_part = &token.secret[3..];
    let stored = raw(&url, "SELECT name || ' ' || role || ' ' || token_hash FROM api_tokens").await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(secret_part), "the secret is not stored: {stored:?}");
    let hash = stored[0].rsplit(' ').next().unwrap();
    assert_eq!(hash.len(), 64);
    assert!(hash.bytes().all(|c| c.is_ascii_hexdigit()));
}

async fn audit_log_reads_newest_first(store: Store, _url: String) {
    let ws = store.create_workspace("w").await.unwrap();
    let detail = json!({"from": 1, "to": 2, "note": "откат ↩", "nested": {"ok": true}});
    let first = store.audit(ws, "token:1", "bot.create", "bot:1", &json!({})).await.unwrap().unwrap();
    let second = store.audit(ws, "user:ann", "bot.rollback", "bot:1", &detail).await.unwrap().unwrap();
    assert!(second > first);
    let log = store.audit_log(ws, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!((log[0].id, log[0].action.as_str(), &log[0].detail), (second, "bot.rollback", &detail));
    assert_eq!((log[1].actor.as_str(), log[1].target.as_str()), ("token:1", "bot:1"));
    assert_eq!(store.audit_log(ws, 1).await.unwrap().len(), 1);
}

async fn subscriptions_round_trip(store: Store, _url: String) {
    assert!(store.subscribe(5, 100, "news").await.unwrap());
    assert!(!store.subscribe(5, 100, "news").await.unwrap(), "once");
    assert!(store.subscribe(5, -200, "news").await.unwrap());
    assert!(store.subscribe(5, 100, "sales").await.unwrap());
    assert!(store.subscribe(6, 300, "news").await.unwrap());
    assert_eq!(store.subscribers(5, "news").await.unwrap(), [-200, 100]);
    assert!(store.unsubscribe(5, 100, "news").await.unwrap());
    assert!(!store.unsubscribe(5, 100, "news").await.unwrap());
    assert_eq!(store.subscribers(5, "news").await.unwrap(), [-200]);
    assert_eq!(store.subscribers(6, "news").await.unwrap(), [300]);
}

/// Two workspaces, each with a bot (one version), a token and an audit entry.
struct Two {
    a: i64,
    b: i64,
    a_bot: i64,
    b_bot: i64,
    a_token: ferrogram_store::IssuedToken,
    b_token: ferrogram_store::IssuedToken,
}

async fn two_workspaces(store: &Store) -> Two {
    let a = store.create_workspace("A").await.unwrap();
    let b = store.create_workspace("B").await.unwrap();
    let a_bot = store.create_bot(a, "same-name", None).await.unwrap().unwrap();
    let b_bot = store.create_bot(b, "same-name", None).await.unwrap().unwrap();
    store.save_version(a, a_bot, "a v1").await.unwrap().unwrap();
    store.save_version(b, b_bot, "b v1").await.unwrap().unwrap();
    let a_token = store.issue_token(a, "a", Role::Admin).await.unwrap().unwrap();
    let b_token = store.issue_token(b, "b", Role::Admin).await.unwrap().unwrap();
    store.audit(a, "a", "secret.a", "bot", &json!({"a": 1})).await.unwrap().unwrap();
    store.audit(b, "b", "secret.b", "bot", &json!({"b": 1})).await.unwrap().unwrap();
    Two { a, b, a_bot, b_bot, a_token, b_token }
}

async fn isolation_token_lists_and_revocation_stay_in_their_workspace(store: Store, _url: String) {
    let t = two_workspaces(&store).await;
    let listed = store.tokens(t.b).await.unwrap();
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), [t.b_token.id], "B lists only its token");
    assert!(!store.revoke_token(t.b, t.a_token.id).await.unwrap(), "B cannot revoke A's token");
    assert!(store.verify_token(&t.a_token.secret).await.unwrap().is_some(), "A's token still works");
    assert!(store.tokens(t.a).await.unwrap()[0].revoked_at.is_none());
}

async fn isolation_a_token_speaks_only_for_its_workspace(store: Store, _url: String) {
    let t = two_workspaces(&store).await;
    assert_eq!(store.verify_token(&t.a_token.secret).await.unwrap().unwrap().workspace, t.a);
    assert_eq!(store.verify_token(&t.b_token.secret).await.unwrap().unwrap().workspace, t.b);
    assert!(store.revoke_token(t.b, t.b_token.id).await.unwrap());
    assert_eq!(store.verify_token(&t.b_token.secret).await.unwrap(), None);
    assert_eq!(store.verify_token(&t.a_token.secret).await.unwrap().unwrap().workspace, t.a, "B's revocation");
}

async fn isolation_bots_are_invisible_to_other_workspaces(store: Store, _url: String) {
    let t = two_workspaces(&store).await;
    assert_eq!(store.bots(t.b).await.unwrap().iter().map(|b| b.id).collect::<Vec<_>>(), [t.b_bot]);
    assert_eq!(store.bot(t.b, t.a_bot).await.unwrap(), None);
    assert_eq!(store.bot(t.a, t.b_bot).await.unwrap(), None);
    assert!(store.bot(t.a, t.a_bot).await.unwrap().is_some());
}

async fn isolation_versions_cannot_be_read_saved_or_rolled_back_from_another_workspace(store: Store, _url: String) {
    let t = two_workspaces(&store).await;
    assert!(store.versions(t.b, t.a_bot).await.unwrap().is_empty(), "B cannot read A's history");
    assert_eq!(store.save_version(t.b, t.a_bot, "b's takeover").await.unwrap(), None, "nor save into it");
    assert_eq!(store.rollback_version(t.b, t.a_bot, 1).await.unwrap(), None, "nor roll it back");
    // B rolling back its own bot to a version number A's bot has takes B's source.
    assert_eq!(store.rollback_version(t.b, t.b_bot, 1).await.unwrap(), Some(2));
    let a_history = store.versions(t.a, t.a_bot).await.unwrap();
    assert_eq!(a_history.iter().map(|v| v.source.as_str()).collect::<Vec<_>>(), ["a v1"]);
    let b_history = store.versions(t.b, t.b_bot).await.unwrap();
    assert_eq!(b_history.iter().map(|v| v.source.as_str()).collect::<Vec<_>>(), ["b v1", "b v1"]);
}

async fn isolation_audit_entries_stay_in_their_workspace(store: Store, _url: String) {
    let t = two_workspaces(&store).await;
    let b_log = store.audit_log(t.b, 100).await.unwrap();
    assert_eq!(b_log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["secret.b"]);
    assert!(b_log.iter().all(|e| e.workspace == t.b));
    let a_log = store.audit_log(t.a, 100).await.unwrap();
    assert_eq!(a_log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["secret.a"]);
}

async fn isolation_nothing_is_created_in_a_missing_workspace(store: Store, _url: String) {
    let t = two_workspaces(&store).await;
    let missing = t.a.max(t.b) + 1000;
    assert_eq!(store.create_bot(missing, "x", None).await.unwrap(), None);
    assert_eq!(store.issue_token(missing, "x", Role::Admin).await.unwrap(), None);
    assert_eq!(store.audit(missing, "x", "x", "x", &json!(null)).await.unwrap(), None);
    assert!(store.bots(missing).await.unwrap().is_empty());
    assert!(store.tokens(missing).await.unwrap().is_empty());
}

/// The bot every export test uses, and a neighbour whose rows must stay out of its exports.
const BOT: u64 = 5_550_001;
const OTHER: u64 = 5_550_002;

/// Fills every kind of row for `bot` (a dashboard record named `name`, three versions, state,
/// variables, jobs, inbox, outbox, subscriptions, dead letters, collection records).
async fn populate(store: &Store, bot: u64, name: &str) {
    let ws = store.create_workspace("Exports 📦").await.unwrap();
    let record = store.create_bot(ws, name, Some(bot)).await.unwrap().unwrap();
    for source in ["bot:\n  name: one\n", "bot:\n  name: два\n", "bot:\n  name: \"three\\u0000\"\n"] {
        store.save_version(ws, record, source).await.unwrap().unwrap();
    }
    let state =
        ChatState { scene: Some("главная 🏠".into()), stack: vec!["menu".into()], ..ChatState::default() };
    for chat in [-1_001_234_567_890_i64, 1, i64::MAX] {
        store.save_chat(bot, chat, &state).await.unwrap();
    }
    let values = [json!(3), json!(1.5), json!("Ёжик \"в\" тумане\n\u{0}"), json!(null), json!([1, {"a": u64::MAX}])];
    for (i, value) in values.iter().enumerate() {
        store.set_var(bot, Scope::User(42), &format!("v{i}"), Some(value)).await.unwrap();
        store.set_var(bot, Scope::Bot, &format!("b{i}"), Some(value)).await.unwrap();
    }
    store.save_next_run(bot, "daily", Some(1_800_000_000)).await.unwrap();
    store.inbox_put(bot, 10, r#"{"update_id":10,"message":{"text":"hi"}}"#).await.unwrap();
    store.inbox_put(bot, 11, r#"{"update_id":11}"#).await.unwrap();
    store.inbox_mark_handled(bot, 10).await.unwrap();
    let letter = ferrogram_core::DeadLetter {
        update_id: 9,
        chat_id: Some(1),
        raw: r#"{"update_id":9,"message":{"text":"/spin"}}"#.into(),
        reason: "the handler panicked: boom".into(),
        attempts: 3,
    };
    // Counted in the day's statistics as an error of user 42 (bot_daily_stats, bot_active_users).
    let tally = ferrogram_core::Tally {
        at: 1_750_000_000,
        user_id: Some(42),
        outcome: ferrogram_core::TallyOutcome::Error,
        latency_ms: Some(7),
    };
    let set_aside = ferrogram_core::Commit {
        bot,
        dead_letter: Some(letter),
        tally: Some(tally),
        ..ferrogram_core::Commit::default()
    };
    ferrogram_core::StateStore::commit(store, &[set_aside]).await.unwrap();
    store.subscribe(bot, 100, "news").await.unwrap();
    store.subscribe(bot, -100, "news").await.unwrap();
    for (text, bulk) in [("b", true), ("a", false)] {
        let outgoing = Outgoing { chat_id: 1, method: "sendMessage".into(), params: json!({"text": text}), bulk };
        store.outbox_push(bot, &outgoing).await.unwrap();
    }
    store.remember_user(bot, &json!({"id": 42, "first_name": "Ann", "username": "ann"})).await.unwrap();
    store.block_user(bot, 42, "token:1").await.unwrap();
    store.remember_chat(bot, &json!({"id": -100, "type": "group", "title": "Tea club"})).await.unwrap();
    let tea = json!({"title": "Чай с лимоном", "price": 1.25});
    let big = json!({"title": "tea", "price": 1e300});
    CollectionStore::create(store, bot, &orders(), Scope::User(42), tea.as_object().unwrap().clone()).await.unwrap();
    CollectionStore::create(store, bot, &orders(), Scope::Bot, big.as_object().unwrap().clone()).await.unwrap();
}

fn orders() -> CollectionSpec {
    CollectionSpec { name: "orders".into(), searchable: vec!["title".into()], indexed: vec!["price".into()] }
}

/// Rows of the neighbour bot, which no export of [`BOT`] may contain.
async fn populate_other(store: &Store) {
    store.save_chat(OTHER, 1, &ChatState::default()).await.unwrap();
    store.set_var(OTHER, Scope::Bot, "theirs", Some(&json!("not yours"))).await.unwrap();
    store.subscribe(OTHER, 100, "news").await.unwrap();
    store.remember_user(OTHER, &json!({"id": 7, "first_name": "not yours"})).await.unwrap();
}

fn rows(document: &Value, table: &str) -> usize {
    document["tables"][table].as_array().map_or(0, Vec::len)
}

async fn every_bot_table_is_exported(store: Store, _url: String) {
    let unlisted = store.unlisted_bot_tables().await.unwrap();
    assert!(unlisted.is_empty(), "tables keyed by bot_id missing from ferrogram_store::BOT_TABLES: {unlisted:?}");
}

async fn export_holds_only_its_bot(store: Store, _url: String) {
    populate(&store, BOT, "exported").await;
    populate_other(&store).await;
    let by_id = store.export_bot(&BOT.to_string()).await.unwrap();
    let by_name = store.export_bot("exported").await.unwrap();
    assert_eq!(by_id, by_name);
    assert_eq!(by_id["ferrogram_export"], 1);
    assert_eq!(by_id["bot"]["id"], BOT);
    assert_eq!(by_id["bot"]["record"]["name"], "exported");
    assert_eq!(by_id["bot"]["record"]["workspace"], "Exports 📦");
    assert_eq!(by_id["versions"].as_array().unwrap().len(), 3);
    let expected =
        [("chat_states", 3), ("variables", 10), ("job_runs", 1), ("inbox", 2), ("outbox", 2), ("subscriptions", 2)];
    for (table, count) in expected {
        assert_eq!(rows(&by_id, table), count, "{table}");
    }
    // The collections' tables as the collections module fills them: at least the records.
    assert_eq!(rows(&by_id, "records"), 2);
    for &(table, _) in ferrogram_store::BOT_TABLES {
        assert!(rows(&by_id, table) > 0, "{table} has rows to export");
    }
    let text = by_id.to_string();
    assert!(!text.contains("not yours") && !text.contains("bot_id"), "{text}");
    // The outbox keeps its order but not its ids (renumbered on import).
    let outbox = by_id["tables"]["outbox"].as_array().unwrap();
    assert_eq!(outbox[0]["params"], r#"{"text":"b"}"#);
    assert_eq!(outbox[0]["bulk"], true);
    assert!(outbox[0].get("id").is_none());
    // A sandbox bot without a record is found by the id its name gives.
    let sandbox = ferrogram_core::sandbox_bot_id("from-file");
    store.set_var(sandbox, Scope::Bot, "x", Some(&json!(1))).await.unwrap();
    let document = store.export_bot("from-file").await.unwrap();
    assert_eq!((document["bot"]["id"].as_u64(), rows(&document, "variables")), (Some(sandbox), 1));
    assert!(document["bot"]["record"].is_null());
    // A record without a Telegram id: its id is its name's, by name or by id alike.
    let ws = store.create_workspace("w").await.unwrap();
    let record = store.create_bot(ws, "dashboard-only", None).await.unwrap().unwrap();
    store.save_version(ws, record, "bot: {name: dashboard-only}").await.unwrap();
    let id = ferrogram_core::sandbox_bot_id("dashboard-only");
    store.set_var(id, Scope::Bot, "y", Some(&json!(2))).await.unwrap();
    let by_name = store.export_bot("dashboard-only").await.unwrap();
    assert_eq!(by_name["versions"].as_array().unwrap().len(), 1);
    assert_eq!(by_name["bot"]["record"]["telegram_id"], Value::Null);
    assert_eq!(store.export_bot(&id.to_string()).await.unwrap(), by_name);
}

async fn export_of_an_unknown_bot_is_refused(store: Store, _url: String) {
    populate_other(&store).await;
    let error = store.export_bot("nobody").await.unwrap_err().to_string();
    assert!(error.contains("no bot \"nobody\""), "{error}");
    assert!(store.export_bot("123").await.is_err());
    // Two records of one name: ambiguous, by id instead.
    let ws = store.create_workspace("w").await.unwrap();
    store.create_bot(ws, "twin", Some(1)).await.unwrap();
    store.create_bot(ws, "twin", Some(2)).await.unwrap();
    let error = store.export_bot("twin").await.unwrap_err().to_string();
    assert!(error.contains("export by id"), "{error}");
    assert!(store.export_bot("2").await.is_ok());
}

async fn import_refuses_existing_data_unless_replacing(store: Store, _url: String) {
    populate(&store, BOT, "exported").await;
    populate_other(&store).await;
    let document = store.export_bot("exported").await.unwrap();
    // Changed data here, then an import without --replace: refused, nothing changed.
    store.set_var(BOT, Scope::Bot, "b0", Some(&json!("changed"))).await.unwrap();
    let changed = store.export_bot("exported").await.unwrap();
    let error = store.import_bot(&document, ImportOptions::default()).await.unwrap_err().to_string();
    assert!(error.contains("already has data") && error.contains("--replace"), "{error}");
    assert_eq!(store.export_bot("exported").await.unwrap(), changed, "nothing changed");
    // With --replace the export comes back exactly; the neighbour is untouched.
    let summary = store.import_bot(&document, ImportOptions { replace: true, workspace: None }).await.unwrap();
    assert!(summary.replaced);
    assert_eq!(summary.versions, 3);
    assert_eq!(store.export_bot("exported").await.unwrap(), document);
    assert_eq!(store.load_vars(OTHER, Scope::Bot).await.unwrap()["theirs"], "not yours");
    // The record went back into the workspace it replaced.
    let ws = store.bots(1).await.unwrap();
    assert_eq!(ws.len(), 1, "one record, in its old workspace");
}

/// The all-bots document (PostgreSQL's backup): every bot, and an import that is all or nothing.
async fn all_bots_export_and_import_in_one_transaction(store: Store, _url: String) {
    assert_eq!(store.bot_count().await.unwrap(), 0);
    populate(&store, BOT, "exported").await;
    populate_other(&store).await;
    assert_eq!(store.bot_count().await.unwrap(), 2);
    let document = store.export_all_bots().await.unwrap();
    assert_eq!(document["ferrogram_backup"], ferrogram_store::ALL_BOTS_FORMAT);
    let bots = document["bots"].as_array().unwrap();
    let mut ids: Vec<u64> = bots.iter().map(|bot| bot["bot"]["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    let mut expected = vec![BOT, OTHER];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert!(bots.contains(&store.export_bot("exported").await.unwrap()));

    // Over bots with data, refused without replace; nothing changed.
    store.set_var(BOT, Scope::Bot, "b0", Some(&json!("changed"))).await.unwrap();
    let changed = store.export_all_bots().await.unwrap();
    let error = store.import_all_bots(&document, false).await.unwrap_err().to_string();
    assert!(error.contains("of the backup") && error.contains("already has data"), "{error}");
    assert_eq!(store.export_all_bots().await.unwrap(), changed);
    // One bad bot undoes the bots replaced before it.
    let mut broken = document.clone();
    let last = broken["bots"].as_array().unwrap().len() - 1;
    broken["bots"][last]["ferrogram_export"] = json!(99);
    let error = store.import_all_bots(&broken, true).await.unwrap_err().to_string();
    assert!(error.contains("format 99"), "{error}");
    assert_eq!(store.export_all_bots().await.unwrap(), changed, "all or nothing");
    // Replacing brings the document back exactly.
    assert_eq!(store.import_all_bots(&document, true).await.unwrap().len(), 2);
    assert_eq!(store.export_all_bots().await.unwrap(), document);
    for bad in [json!({"bots": []}), json!({"ferrogram_backup": 2, "bots": []}), json!({"ferrogram_backup": 1})] {
        assert!(store.import_all_bots(&bad, true).await.is_err(), "{bad}");
    }
}

async fn import_refuses_unknown_formats_and_tables(store: Store, _url: String) {
    let newer = json!({"ferrogram_export": 2, "bot": {"id": 1}, "tables": {}});
    let error = store.import_bot(&newer, ImportOptions::default()).await.unwrap_err().to_string();
    assert!(error.contains("format 2"), "{error}");
    let unknown = json!({"ferrogram_export": 1, "bot": {"id": 1}, "tables": {"chat_states": [], "future": []}});
    let error = store.import_bot(&unknown, ImportOptions::default()).await.unwrap_err().to_string();
    assert!(error.contains("`future`"), "{error}");
    // A bad row fails the whole import: the first table's rows are not left behind.
    let bad = json!({"ferrogram_export": 1, "bot": {"id": 9}, "tables": {
        "chat_states": [{"chat_id": 1, "state": "{}", "updated_at": 1}],
        "variables": [{"scope": "bot", "owner_id": 0, "name": "x", "value": "1", "updated_at": "not a time"}],
    }});
    assert!(store.import_bot(&bad, ImportOptions::default()).await.is_err());
    assert_eq!(store.load_chat(9, 1).await.unwrap(), None);
    assert!(store.export_bot("9").await.is_err(), "nothing imported");
    // --workspace: it must exist, and the record goes there.
    let document = json!({"ferrogram_export": 1, "bot": {"id": 77, "record": {"name": "n", "telegram_id": 77,
        "workspace": "elsewhere", "created_at": 5}}, "versions": [{"version": 3, "source": "s", "created_at": 6}]});
    let missing = ImportOptions { replace: false, workspace: Some(4242) };
    let error = store.import_bot(&document, missing).await.unwrap_err().to_string();
    assert!(error.contains("no workspace 4242"), "{error}");
    let ws = store.create_workspace("chosen").await.unwrap();
    store.import_bot(&document, ImportOptions { replace: false, workspace: Some(ws) }).await.unwrap();
    let bots = store.bots(ws).await.unwrap();
    assert_eq!((bots.len(), bots[0].telegram_id, bots[0].created_at), (1, Some(77), 5));
    assert_eq!(store.versions(ws, bots[0].id).await.unwrap()[0].version, 3);
    let exported = store.export_bot("77").await.unwrap();
    assert_eq!(exported["bot"]["record"]["workspace"], "chosen");
}

async fn backup_is_postgres_refused_or_sqlite_snapshot(store: Store, url: String) {
    let target = std::env::temp_dir().join(format!("ferrogram-backup-{}.db", fastrand::u64(..)));
    if url.starts_with("postgres") {
        let error = store.backup_to(&target).await.unwrap_err().to_string();
        assert!(error.contains("pg_dump"), "{error}");
        let error = ferrogram_store::backup(&url, &target).await.unwrap_err().to_string();
        assert!(error.contains("pg_dump"), "{error}");
        assert!(!target.exists());
        return;
    }
    store.set_var(1, Scope::Bot, "kept", Some(&json!("yes"))).await.unwrap();
    store.backup_to(&target).await.unwrap();
    let error = store.backup_to(&target).await.unwrap_err().to_string();
    assert!(error.contains("already exists"), "{error}");
    let copy = Store::open(&format!("sqlite://{}", target.display())).await.unwrap();
    assert_eq!(copy.load_vars(1, Scope::Bot).await.unwrap()["kept"], "yes");
    assert!(copy.migrate().await.unwrap().is_empty(), "the copy has the migrations recorded");
    copy.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", target.display()));
    }
}

/// Export from `from`, import into `to`, export again: the same document.
async fn round_trip(from: &TestDb, to: &TestDb) {
    populate(&from.store, BOT, "travelling").await;
    populate_other(&from.store).await;
    let exported = from.store.export_bot("travelling").await.unwrap();
    // Through text, as the CLI does.
    let document: Value = serde_json::from_str(&serde_json::to_string_pretty(&exported).unwrap()).unwrap();
    let summary = to.store.import_bot(&document, ImportOptions::default()).await.unwrap();
    assert!(!summary.replaced);
    let total: usize = ferrogram_store::BOT_TABLES.iter().map(|(table, _)| rows(&exported, table)).sum();
    assert_eq!(summary.rows.iter().map(|(_, n)| n).sum::<usize>(), total);
    let again = to.store.export_bot("travelling").await.unwrap();
    assert_eq!(again, exported);
    assert_eq!(to.store.export_bot(&BOT.to_string()).await.unwrap(), exported);
    // The imported state works through the store's own operations.
    let vars = to.store.load_vars(BOT, Scope::User(42)).await.unwrap();
    assert_eq!(vars["v2"], json!("Ёжик \"в\" тумане\n\u{0}"));
    assert_eq!(vars["v4"], json!([1, {"a": u64::MAX}]));
    assert_eq!(to.store.load_next_run(BOT, "daily").await.unwrap(), Some(1_800_000_000));
    assert_eq!(to.store.inbox_take_unhandled(BOT, 10).await.unwrap().len(), 1);
    assert_eq!(to.store.subscribers(BOT, "news").await.unwrap(), [-100, 100]);
    let outbox = to.store.outbox_pending(BOT, 10).await.unwrap();
    let texts: Vec<&Value> = outbox.iter().map(|p| &p.outgoing.params["text"]).collect();
    assert_eq!(texts, [&json!("b"), &json!("a")], "in their order");
    assert!(outbox[0].outgoing.bulk);
    let hits = CollectionStore::search(&to.store, BOT, &orders(), Scope::User(42), "чай", 10).await.unwrap();
    assert_eq!(hits.len(), 1, "the search index came along");
    assert_eq!(hits[0].record.fields["price"], 1.25);
    let found = CollectionStore::query(&to.store, BOT, &orders(), Scope::Bot, Query { limit: 10, ..Query::default() });
    assert_eq!(found.await.unwrap()[0].fields["price"], 1e300);
    let ws = to.store.bots(1).await.unwrap();
    let record = ws.iter().find(|b| b.name == "travelling").unwrap();
    assert_eq!(to.store.versions(1, record.id).await.unwrap().len(), 3);
    assert_eq!(to.store.save_version(1, record.id, "next").await.unwrap(), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn round_trip_sqlite_to_postgres_to_sqlite() {
    let Some(postgres) = common::postgres().await else { return };
    let (a, b) = (common::sqlite().await.unwrap(), common::sqlite().await.unwrap());
    let outcome = tokio::spawn(async move {
        round_trip(&a, &postgres).await;
        // And on, from PostgreSQL into a second SQLite file.
        let document = postgres.store.export_bot("travelling").await.unwrap();
        b.store.import_bot(&document, ImportOptions::default()).await.unwrap();
        assert_eq!(b.store.export_bot("travelling").await.unwrap(), document);
        (a, postgres, b)
    })
    .await;
    match outcome {
        Ok((a, postgres, b)) => {
            a.cleanup().await;
            postgres.cleanup().await;
            b.cleanup().await;
        }
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn round_trip_postgres_to_sqlite() {
    let Some(postgres) = common::postgres().await else { return };
    let sqlite = common::sqlite().await.unwrap();
    round_trip(&postgres, &sqlite).await;
    postgres.cleanup().await;
    sqlite.cleanup().await;
}

/// A backup taken while a writer commits pairs of rows holds every row committed before it
/// started, and only whole pairs (one transaction each), numbered without gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_backup_while_writing_is_consistent_and_complete() {
    let db = common::sqlite().await.unwrap();
    const BEFORE: u64 = 200;
    async fn write_pair(store: &Store, i: u64) {
        let mut tx = store.transaction().await.unwrap();
        tx.set_var(1, Scope::Bot, &format!("a{i:06}"), Some(&json!(i))).await.unwrap();
        tx.set_var(2, Scope::Bot, &format!("b{i:06}"), Some(&json!(i))).await.unwrap();
        tx.commit().await.unwrap();
    }
    for i in 0..BEFORE {
        write_pair(&db.store, i).await;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, stop) = (db.store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = BEFORE;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                write_pair(&store, i).await;
                i += 1;
            }
            i
        })
    };
    // Let the writer get going, then snapshot mid-stream.
    while db.store.load_vars(1, Scope::Bot).await.unwrap().len() < BEFORE as usize + 20 {
        tokio::task::yield_now().await;
    }
    let target = std::env::temp_dir().join(format!("ferrogram-live-backup-{}.db", fastrand::u64(..)));
    ferrogram_store::backup(&db.url, &target).await.unwrap();
    let at_backup_end = db.store.load_vars(1, Scope::Bot).await.unwrap().len() as u64;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written >= at_backup_end);

    let copy = Store::open(&format!("sqlite://{}", target.display())).await.unwrap();
    let a = copy.load_vars(1, Scope::Bot).await.unwrap();
    let b = copy.load_vars(2, Scope::Bot).await.unwrap();
    let n = a.len() as u64;
    assert!(n >= BEFORE + 20, "everything committed before the backup is in it ({n})");
    assert!(n <= at_backup_end, "nothing after it ({n} > {at_backup_end})");
    assert_eq!(b.len() as u64, n, "whole transactions only");
    for i in 0..n {
        assert_eq!(a[&format!("a{i:06}")], json!(i));
        assert_eq!(b[&format!("b{i:06}")], json!(i));
    }
    {
        use sqlx::Connection;
        let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", target.display())).await.unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut raw).await.unwrap();
        assert_eq!(check, "ok");
        raw.close().await.unwrap();
    }
    copy.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", target.display()));
    }
    db.cleanup().await;
}

async fn audit_pages_filter_and_continue(store: Store, _url: String) {
    let (home, away) = (store.create_workspace("home").await.unwrap(), store.create_workspace("away").await.unwrap());
    for (i, action) in ["bot.create", "bot.publish", "bot.publish", "token.create", "bot.publish"].iter().enumerate() {
        let actor = if i % 2 == 0 { "token:1" } else { "token:2" };
        store.audit(home, actor, action, "echo", &json!({"i": i})).await.unwrap().unwrap();
    }
    store.audit(away, "token:1", "bot.publish", "echo", &json!({})).await.unwrap().unwrap();
    let query =
        |action: Option<&str>, actor: Option<&str>, before: Option<i64>, limit: u32| ferrogram_store::AuditQuery {
            action: action.map(str::to_owned),
            actor: actor.map(str::to_owned),
            before,
            limit,
            ..Default::default()
        };
    let publishes = store.audit_page(home, &query(Some("bot.publish"), None, None, 10)).await.unwrap();
    let numbers: Vec<i64> = publishes.iter().map(|e| e.detail["i"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [4, 2, 1], "newest first, only this workspace's");
    let first = store.audit_page(home, &query(None, Some("token:1"), None, 2)).await.unwrap();
    let rest = store.audit_page(home, &query(None, Some("token:1"), Some(first[1].id), 2)).await.unwrap();
    let numbers: Vec<i64> = first.iter().chain(&rest).map(|e| e.detail["i"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [4, 2, 0]);
    let at = first[0].at;
    let window = ferrogram_store::AuditQuery { since: Some(at + 1), limit: 10, ..Default::default() };
    assert!(store.audit_page(home, &window).await.unwrap().is_empty());
    let window = ferrogram_store::AuditQuery { until: Some(at + 1), limit: 10, ..Default::default() };
    assert_eq!(store.audit_page(home, &window).await.unwrap().len(), 5);
}

async fn publishing_needs_the_expected_current_version(store: Store, _url: String) {
    let (home, away) = (store.create_workspace("home").await.unwrap(), store.create_workspace("away").await.unwrap());
    let bot = store.create_bot(home, "echo", None).await.unwrap().unwrap();
    assert_eq!(store.publish_version(home, bot, 0, "one").await.unwrap(), Some(1));
    assert_eq!(store.publish_version(home, bot, 0, "stale").await.unwrap(), None, "the newest is 1 now");
    assert_eq!(store.publish_version(away, bot, 1, "theirs").await.unwrap(), None, "another workspace's bot");
    assert_eq!(store.publish_version(home, bot, 1, "two").await.unwrap(), Some(2));
    assert_eq!(store.rollback_version_if(home, bot, 1, 1).await.unwrap(), None, "stale rollback");
    assert_eq!(store.rollback_version_if(home, bot, 2, 9).await.unwrap(), None, "no version 9");
    assert_eq!(store.rollback_version_if(away, bot, 2, 1).await.unwrap(), None);
    assert_eq!(store.rollback_version_if(home, bot, 2, 1).await.unwrap(), Some(3));
    let sources: Vec<String> = store.versions(home, bot).await.unwrap().into_iter().map(|v| v.source).collect();
    assert_eq!(sources, ["one", "two", "one"]);
}

async fn concurrent_publishes_from_one_version_save_one(store: Store, _url: String) {
    let home = store.create_workspace("home").await.unwrap();
    let bot = store.create_bot(home, "echo", None).await.unwrap().unwrap();
    store.publish_version(home, bot, 0, "one").await.unwrap().unwrap();
    let store = std::sync::Arc::new(store);
    let editors: Vec<_> = (0..6)
        .map(|i| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move { store.publish_version(home, bot, 1, &format!("edit {i}")).await })
        })
        .collect();
    let mut saved = Vec::new();
    for editor in editors {
        saved.extend(editor.await.unwrap().expect("a lost race is None, not an error"));
    }
    assert_eq!(saved, [2], "exactly one of the editors who read version 1 saved");
    assert_eq!(store.versions(home, bot).await.unwrap().len(), 2);
}

async fn idempotency_keys_reserve_replay_and_refuse_another_request(store: Store, _url: String) {
    use ferrogram_store::Idempotency;
    let home = store.create_workspace("home").await.unwrap();
    let (a, b) = (
        store.issue_token(home, "a", Role::Admin).await.unwrap().unwrap().id,
        store.issue_token(home, "b", Role::Admin).await.unwrap().unwrap().id,
    );
    assert_eq!(store.idempotency_begin(a, "k", "h1").await.unwrap(), Idempotency::New);
    assert_eq!(store.idempotency_begin(a, "k", "h1").await.unwrap(), Idempotency::InFlight);
    assert_eq!(store.idempotency_begin(a, "k", "h2").await.unwrap(), Idempotency::Mismatch);
    assert_eq!(store.idempotency_begin(b, "k", "h2").await.unwrap(), Idempotency::New, "keys are per token");
    store.idempotency_finish(a, "k", 201, "{}").await.unwrap();
    let replay = Idempotency::Replay { status: 201, body: "{}".into() };
    assert_eq!(store.idempotency_begin(a, "k", "h1").await.unwrap(), replay);
    store.idempotency_abandon(a, "k").await.unwrap();
    assert_eq!(store.idempotency_begin(a, "k", "h1").await.unwrap(), replay, "a finished key is not abandoned");
    store.idempotency_abandon(b, "k").await.unwrap();
    assert_eq!(store.idempotency_begin(b, "k", "h3").await.unwrap(), Idempotency::New, "an abandoned key is free");
}

async fn tokens_keep_their_prefix_and_workspaces_rename(store: Store, _url: String) {
    let home = store.create_workspace("home").await.unwrap();
    let issued = store.issue_token(home, "ops", Role::Editor).await.unwrap().unwrap();
    let listed = store.tokens(home).await.unwrap();
    assert_eq!(listed[0].prefix.as_deref(), Some(&issued.secret[..ferrogram_store::TOKEN_PREFIX_LEN]));
    assert!(store.rename_workspace(home, "house").await.unwrap());
    assert_eq!(store.workspace(home).await.unwrap().unwrap().name, "house");
    assert!(!store.rename_workspace(home + 100, "x").await.unwrap());
}
