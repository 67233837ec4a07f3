//! The store's test suite, written once and run against every backend: each case is an async
//! function taking a `&Store` on a fresh, migrated database; `tests/sqlite.rs` and
//! `tests/postgres.rs` run them all through [`suite!`].

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;

use ferrogram_core::{
    ChatState, FormProgress, Frame, MemoryStore, Outgoing, PendingSend, Received, Resume, Scope, StateStore, StepsAt,
    StoredUpdate,
};
use ferrogram_store::Store;
use serde_json::{Map, Value, json};

/// A database made for one test, removed by [`TestDb::cleanup`].
pub struct TestDb {
    pub url: String,
    pub store: Store,
    cleanup: Cleanup,
}

enum Cleanup {
    Files(Vec<std::path::PathBuf>),
    Database { admin_url: String, name: String },
}

fn unique_name() -> String {
    format!("{}_{:016x}", std::process::id(), fastrand::u64(..))
}

/// A new SQLite file in the temporary directory.
pub async fn sqlite() -> Option<TestDb> {
    sqlite_with(&ferrogram_store::Options::default()).await
}

/// A new SQLite file in the temporary directory, opened with `options`.
pub async fn sqlite_with(options: &ferrogram_store::Options) -> Option<TestDb> {
    let path = std::env::temp_dir().join(format!("ferrogram-store-{}.db", unique_name()));
    let url = format!("sqlite://{}", path.display());
    let store = Store::open_with(&url, options).await.expect("open SQLite");
    let files = ["", "-wal", "-shm"].iter().map(|suffix| format!("{}{suffix}", path.display()).into()).collect();
    Some(TestDb { url, store, cleanup: Cleanup::Files(files) })
}

/// A new database `ferrogram_test_<pid>_<random>` on the local PostgreSQL, or `None` (after a
/// loud `SKIPPED postgres: …`) when it cannot be reached, unless `FERROGRAM_REQUIRE_POSTGRES=1`.
pub async fn postgres() -> Option<TestDb> {
    postgres_with(&ferrogram_store::Options { max_connections: 8, ..ferrogram_store::Options::default() }).await
}

/// [`postgres`], the store opened with `options`.
pub async fn postgres_with(options: &ferrogram_store::Options) -> Option<TestDb> {
    use sqlx::Connection;
    let candidates: Vec<String> = match std::env::var("FERROGRAM_TEST_POSTGRES_URL") {
        Ok(url) => vec![url],
        Err(_) => {
            vec!["postgres://postgres@127.0.0.1:5432/test".to_owned(), "postgres://root@127.0.0.1:5432/test".to_owned()]
        }
    };
    let mut why = Vec::new();
    for admin_url in candidates {
        let connect = tokio::time::timeout(std::time::Duration::from_secs(5), sqlx::PgConnection::connect(&admin_url));
        let mut admin = match connect.await {
            Ok(Ok(admin)) => admin,
            Ok(Err(error)) => {
                why.push(format!("{admin_url}: {error}"));
                continue;
            }
            Err(_) => {
                why.push(format!("{admin_url}: no answer in 5 s"));
                continue;
            }
        };
        let name = format!("ferrogram_test_{}", unique_name());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("CREATE DATABASE");
        admin.close().await.ok();
        let base = admin_url.rsplit_once('/').expect("a database in the URL").0;
        let url = format!("{base}/{name}");
        let store = ferrogram_store::Store::open_with(&url, options).await.expect("open PostgreSQL");
        return Some(TestDb { url, store, cleanup: Cleanup::Database { admin_url, name } });
    }
    let why = why.join("; ");
    if std::env::var("FERROGRAM_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("PostgreSQL is required (FERROGRAM_REQUIRE_POSTGRES=1) but unreachable: {why}");
    }
    // Straight to stderr: the test harness captures `eprintln!` of passing tests.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "\nSKIPPED postgres: {why} (FERROGRAM_REQUIRE_POSTGRES=1 fails instead)\n"
        );
    });
    None
}

impl TestDb {
    pub async fn cleanup(self) {
        use sqlx::Connection;
        self.store.close().await;
        match self.cleanup {
            Cleanup::Files(files) => {
                for file in files {
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::Database { admin_url, name } => {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("reconnect to drop");
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .expect("DROP DATABASE");
            }
        }
    }
}

/// Removes the database, then re-raises the case's panic if it failed (for [`both!`]).
pub async fn finish(db: TestDb, outcome: Result<(), tokio::task::JoinError>) {
    db.cleanup().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// One test per case and backend, `sqlite::case` and `postgres::case`, each case an async
/// function of the test file taking the `Store` and URL of a fresh database of its own (run in a
/// spawned task of a multi-threaded runtime; the database removed afterwards, also when the case
/// fails).
#[macro_export]
macro_rules! both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(db) = $crate::common::sqlite().await else { return };
                    let outcome = tokio::spawn(super::$case(db.store.clone(), db.url.clone())).await;
                    $crate::common::finish(db, outcome).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(db) = $crate::common::postgres().await else { return };
                    let outcome = tokio::spawn(super::$case(db.store.clone(), db.url.clone())).await;
                    $crate::common::finish(db, outcome).await;
                }
            )*
        }
    };
}

/// Defines one `#[tokio::test]` per case of this module, each on a fresh database from
/// `$harness` (removed afterwards, also when the case fails).
#[macro_export]
macro_rules! suite {
    ($harness:path) => {
        $crate::suite!($harness;
            migrations_are_idempotent,
            pending_migrations_name_what_migrate_would_apply,
            chat_state_round_trips,
            variables_round_trip,
            data_is_isolated,
            inbox_deduplicates_and_marks_handled,
            replays_count_attempts_and_dead_letters_are_kept_retried_and_discarded,
            a_batch_of_received_updates_is_stored_once_each,
            outbox_keeps_order_per_bot_and_forgets,
            group_commit_writes_all_or_nothing,
            a_batch_keeps_the_later_write_of_a_key,
            a_batch_larger_than_one_statement,
            an_unchanged_user_or_chat_is_not_rewritten,
            job_claim_is_won_once,
            concurrent_variable_writes_lose_nothing,
            transaction_commits_or_rolls_back_together,
            state_store_contract_on_store,
        );
    };
    ($harness:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(db) = $harness().await else { return };
                let (store, url) = (db.store.clone(), db.url.clone());
                let outcome = tokio::spawn(async move { common::$case(&store, &url).await }).await;
                db.cleanup().await;
                if let Err(error) = outcome {
                    std::panic::resume_unwind(error.into_panic());
                }
            }
        )*
    };
}

pub async fn migrations_are_idempotent(store: &Store, url: &str) {
    assert!(store.migrate().await.unwrap().is_empty(), "a second run applies nothing");
    store.save_chat(1, 2, &ChatState { scene: Some("kept".into()), ..ChatState::default() }).await.unwrap();
    // Opening again (which migrates) keeps the data, twice over.
    for _ in 0..2 {
        let again = Store::open(url).await.unwrap();
        assert_eq!(again.load_chat(1, 2).await.unwrap().unwrap().scene.as_deref(), Some("kept"));
        assert!(again.migrate().await.unwrap().is_empty());
        again.close().await;
    }
    // Opening without migrating works on a migrated database too.
    let plain = Store::connect(url).await.unwrap();
    assert!(plain.load_chat(1, 2).await.unwrap().is_some());
    plain.close().await;
}

/// `pending_migrations` reads what `migrate` would apply, without applying it: nothing on a
/// migrated database, a migration whose record is gone once it is, nothing again when it is back.
pub async fn pending_migrations_name_what_migrate_would_apply(store: &Store, url: &str) {
    assert_eq!(store.pending_migrations().await.unwrap(), Vec::<i64>::new());
    raw_execute(url, "CREATE TABLE migration_kept AS SELECT * FROM _sqlx_migrations WHERE version = 6").await;
    raw_execute(url, "DELETE FROM _sqlx_migrations WHERE version = 6").await;
    assert_eq!(store.pending_migrations().await.unwrap(), [6]);
    raw_execute(url, "INSERT INTO _sqlx_migrations SELECT * FROM migration_kept").await;
    raw_execute(url, "DROP TABLE migration_kept").await;
    assert_eq!(store.pending_migrations().await.unwrap(), Vec::<i64>::new());
}

fn big_json() -> Value {
    let items: Vec<Value> =
        (0..20_000).map(|i| json!({"i": i, "title": format!("Сезон {i} — 進撃の巨人 🎌"), "ok": i % 2 == 0})).collect();
    json!({"items": items, "blob": "ё".repeat(300_000)})
}

pub async fn chat_state_round_trips(store: &Store, _url: &str) {
    assert_eq!(store.load_chat(10, 20).await.unwrap(), None);
    let mut answers = Map::new();
    answers.insert("имя".into(), json!("Аня 👩‍🚀 \"quoted\" \\ back\nslash"));
    answers.insert("big".into(), big_json());
    answers.insert("nul".into(), json!("a\u{0}b"));
    let state = ChatState {
        scene: Some("главная 🏠".into()),
        stack: vec![
            "menu".into(),
            Frame {
                scene: "設定".into(),
                resume: Some(Resume {
                    at: StepsAt::FormDone { scene: "адрес".into() },
                    path: vec![2, 1, 0],
                    fingerprint: u64::MAX,
                }),
            },
        ],
        form: Some(FormProgress { scene: "profile".into(), field: 3, answers }),
        generation: u64::MAX,
    };
    store.save_chat(10, 20, &state).await.unwrap();
    assert_eq!(store.load_chat(10, 20).await.unwrap(), Some(state.clone()));
    // Saving replaces.
    let next = ChatState { scene: Some("next".into()), generation: 2, ..ChatState::default() };
    store.save_chat(10, 20, &next).await.unwrap();
    assert_eq!(store.load_chat(10, 20).await.unwrap(), Some(next));
    // Negative (group) chat ids and extreme ids.
    for chat in [-1001234567890_i64, i64::MIN, i64::MAX, 0] {
        store.save_chat(10, chat, &state).await.unwrap();
        assert_eq!(store.load_chat(10, chat).await.unwrap(), Some(state.clone()), "chat {chat}");
    }
}

pub async fn variables_round_trip(store: &Store, _url: &str) {
    let scope = Scope::User(42);
    assert!(store.load_vars(1, scope).await.unwrap().is_empty());
    let values = [
        ("count", json!(3)),
        ("float", json!(1.5)),
        ("имя 🌸", json!("Ёжик в тумане")),
        ("null", Value::Null),
        ("list", json!([1, "два", {"три": [3]}])),
        ("big", big_json()),
        ("max", json!(u64::MAX)),
        ("min", json!(i64::MIN)),
    ];
    for (name, value) in &values {
        store.set_var(1, scope, name, Some(value)).await.unwrap();
    }
    let loaded = store.load_vars(1, scope).await.unwrap();
    assert_eq!(loaded.len(), values.len());
    for (name, value) in &values {
        assert_eq!(loaded.get(*name), Some(value), "{name}");
    }
    // Overwrite and forget one at a time; the others stay.
    store.set_var(1, scope, "count", Some(&json!(4))).await.unwrap();
    store.set_var(1, scope, "list", None).await.unwrap();
    store.set_var(1, scope, "never set", None).await.unwrap();
    let loaded = store.load_vars(1, scope).await.unwrap();
    assert_eq!(loaded.len(), values.len() - 1);
    assert_eq!(loaded["count"], json!(4));
    assert!(!loaded.contains_key("list"));
    // A JSON null is a value, not an absence.
    assert_eq!(loaded.get("null"), Some(&Value::Null));
}

pub async fn data_is_isolated(store: &Store, _url: &str) {
    let state = |scene: &str| ChatState { scene: Some(scene.into()), ..ChatState::default() };
    store.save_chat(1, 100, &state("bot1 chat100")).await.unwrap();
    store.save_chat(2, 100, &state("bot2 chat100")).await.unwrap();
    store.save_chat(1, 101, &state("bot1 chat101")).await.unwrap();
    assert_eq!(store.load_chat(1, 100).await.unwrap(), Some(state("bot1 chat100")));
    assert_eq!(store.load_chat(2, 100).await.unwrap(), Some(state("bot2 chat100")));
    assert_eq!(store.load_chat(1, 101).await.unwrap(), Some(state("bot1 chat101")));
    assert_eq!(store.load_chat(3, 100).await.unwrap(), None);

    // The same id as user, as chat and the bot scope are three different places, per bot.
    let scopes = [Scope::User(7), Scope::Chat(7), Scope::Bot, Scope::User(8), Scope::Chat(0)];
    for bot in [1, 2] {
        for (i, scope) in scopes.iter().enumerate() {
            store.set_var(bot, *scope, "v", Some(&json!(format!("{bot}/{i}")))).await.unwrap();
        }
    }
    for bot in [1, 2] {
        for (i, scope) in scopes.iter().enumerate() {
            let vars = store.load_vars(bot, *scope).await.unwrap();
            assert_eq!(vars.len(), 1);
            assert_eq!(vars["v"], json!(format!("{bot}/{i}")), "bot {bot} scope {scope:?}");
        }
    }
    assert!(store.load_vars(3, Scope::User(7)).await.unwrap().is_empty());
    assert!(store.load_vars(1, Scope::User(9)).await.unwrap().is_empty());

    store.save_next_run(1, "digest", Some(100)).await.unwrap();
    store.save_next_run(2, "digest", Some(200)).await.unwrap();
    assert_eq!(store.load_next_run(1, "digest").await.unwrap(), Some(100));
    assert_eq!(store.load_next_run(2, "digest").await.unwrap(), Some(200));
    assert_eq!(store.load_next_run(1, "other").await.unwrap(), None);
    assert!(!store.claim_next_run(2, "digest", Some(100), Some(300)).await.unwrap());

    assert_eq!(store.inbox_put(1, 5, r#"{"update_id":5,"bot":1}"#).await.unwrap(), Received::New);
    assert_eq!(store.inbox_put(2, 5, r#"{"update_id":5,"bot":2}"#).await.unwrap(), Received::New, "other bot");
    let one = store.inbox_take_unhandled(1, 10).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].raw, r#"{"update_id":5,"bot":1}"#);
    assert!(store.inbox_mark_handled(1, 5).await.unwrap());
    assert_eq!(store.inbox_take_unhandled(2, 10).await.unwrap().len(), 1, "bot 2's update is not handled");
}

pub async fn inbox_deduplicates_and_marks_handled(store: &Store, _url: &str) {
    use Received::{Busy, New, Redelivered, Reused};
    let raw = |id: i64| format!(r#"{{"update_id":{id},"message":{{"text":"привет 👋 {id}"}}}}"#);
    // Out of order, with redeliveries.
    for (id, received) in [(3, New), (1, New), (2, New), (1, Redelivered), (3, Redelivered), (4, New)] {
        assert_eq!(store.inbox_put(9, id, &raw(id)).await.unwrap(), received, "update {id}");
    }
    // Other content under an id whose update is not handled yet does not replace it.
    assert_eq!(store.inbox_put(9, 2, "{\"update_id\":2,\"changed\":true}").await.unwrap(), Busy);
    let pending = store.inbox_take_unhandled(9, 100).await.unwrap();
    assert_eq!(pending.iter().map(|u| u.update_id).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(pending[1].raw, raw(2));
    assert!(pending.iter().all(|u| u.attempts == 1), "a stored update is dispatched at once: one attempt");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(pending.iter().all(|u| (now - 5..=now + 5).contains(&u.received_at)));
    // The limit takes the oldest.
    let first_two = store.inbox_take_unhandled(9, 2).await.unwrap();
    assert_eq!(first_two.iter().map(|u| u.update_id).collect::<Vec<_>>(), [1, 2]);

    assert!(store.inbox_mark_handled(9, 2).await.unwrap());
    assert!(!store.inbox_mark_handled(9, 2).await.unwrap(), "already handled");
    assert!(!store.inbox_mark_handled(9, 99).await.unwrap(), "never stored");
    assert_eq!(store.inbox_put(9, 2, &raw(2)).await.unwrap(), Redelivered, "a handled update is not stored again");
    let pending = store.inbox_take_unhandled(9, 100).await.unwrap();
    assert_eq!(pending.iter().map(|u| u.update_id).collect::<Vec<_>>(), [1, 3, 4]);

    // A big update survives byte for byte.
    let big = serde_json::to_string(&json!({"update_id": 1000, "payload": big_json()})).unwrap();
    assert_eq!(store.inbox_put(9, 1000, &big).await.unwrap(), New);
    let all = store.inbox_take_unhandled(9, 100).await.unwrap();
    assert_eq!(all.last().unwrap().raw, big);

    // Telegram restarted its ids: other content under a handled update's id is a new update.
    let restarted = "{\"update_id\":2,\"message\":{\"text\":\"after the restart\"}}";
    assert_eq!(store.inbox_put(9, 2, restarted).await.unwrap(), Reused);
    let pending = store.inbox_take_unhandled(9, 100).await.unwrap();
    assert_eq!(pending.iter().map(|u| u.update_id).collect::<Vec<_>>(), [1, 2, 3, 4, 1000]);
    assert_eq!((pending[1].raw.as_str(), pending[1].attempts), (restarted, 1));
    assert_eq!(store.inbox_put(9, 2, restarted).await.unwrap(), Redelivered, "and it is deduplicated in turn");

    // Counted per hour (the dashboard's sparkline): handled or not, this bot's only.
    let hour = now / 3600 * 3600;
    let counts = store.inbox_hourly(9, hour - 23 * 3600, 24).await.unwrap();
    assert_eq!((counts.len(), counts[23], counts.iter().sum::<i64>()), (24, 5, 5), "{counts:?}");
    assert_eq!(store.inbox_hourly(9, hour + 3600, 3).await.unwrap(), [0, 0, 0], "nothing after now");
}

pub async fn replays_count_attempts_and_dead_letters_are_kept_retried_and_discarded(store: &Store, _url: &str) {
    use ferrogram_core::{Commit, DeadLetter, StateStore};
    let raw = |id: i64| format!(r#"{{"update_id":{id},"message":{{"text":"spin {id}"}}}}"#);
    for id in [1, 2, 3] {
        assert_eq!(store.inbox_put(6, id, &raw(id)).await.unwrap(), Received::New);
    }
    assert_eq!(store.inbox_put(7, 1, &raw(1)).await.unwrap(), Received::New);
    store.inbox_count_attempts(6, &[1, 3]).await.unwrap();
    store.inbox_count_attempts(6, &[3]).await.unwrap();
    store.inbox_mark_handled(6, 2).await.unwrap();
    store.inbox_count_attempts(6, &[2]).await.unwrap();
    let attempts: Vec<(i64, u32)> =
        store.inbox_take_unhandled(6, 10).await.unwrap().iter().map(|u| (u.update_id, u.attempts)).collect();
    assert_eq!(attempts, [(1, 2), (3, 3)], "only the bot's unhandled updates count attempts");
    assert_eq!(store.inbox_take_unhandled(7, 10).await.unwrap()[0].attempts, 1, "another bot's are untouched");

    // The engine sets update 3 aside: handled, with a letter, in one commit.
    let letter = DeadLetter {
        update_id: 3,
        chat_id: Some(42),
        raw: raw(3),
        reason: "the handler took longer than its 30s budget".into(),
        attempts: 3,
    };
    let commit = Commit { bot: 6, handled: Some(3), dead_letter: Some(letter.clone()), ..Commit::default() };
    StateStore::commit(store, &[commit]).await.unwrap();
    let letters = store.dead_letters(Some(6), 10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].bot, &letters[0].letter), (6, &letter));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - 5..=now + 5).contains(&letters[0].failed_at));
    assert!(store.dead_letters(Some(7), 10).await.unwrap().is_empty(), "per bot");
    assert_eq!(store.dead_letters(None, 10).await.unwrap().len(), 1, "every bot's");
    assert_eq!(StateStore::dead_letters(store, 6, 10).await.unwrap(), letters, "the engine reads the same");
    let unhandled: Vec<i64> = store.inbox_take_unhandled(6, 10).await.unwrap().iter().map(|u| u.update_id).collect();
    assert_eq!(unhandled, [1], "a dead letter is not replayed");

    // Retried: back in the inbox, unhandled, with no attempts; the letter is gone.
    let id = letters[0].id;
    assert_eq!(store.dead_letter_retry(id).await.unwrap().letter, letter);
    let pending = store.inbox_take_unhandled(6, 10).await.unwrap();
    assert_eq!(pending.iter().map(|u| (u.update_id, u.attempts)).collect::<Vec<_>>(), [(1, 2), (3, 0)]);
    assert_eq!(pending[1].raw, raw(3));
    assert!(store.dead_letters(None, 10).await.unwrap().is_empty());
    assert!(store.dead_letter_retry(id).await.is_err(), "no such letter any more");

    // A retry does not overwrite another unhandled update holding the id: refused, nothing changes.
    let letter = DeadLetter { update_id: 1, raw: "{\"update_id\":1,\"other\":1}".into(), ..letter };
    StateStore::commit(store, &[Commit { bot: 6, dead_letter: Some(letter), ..Commit::default() }]).await.unwrap();
    let id = store.dead_letters(Some(6), 10).await.unwrap()[0].id;
    let refused = store.dead_letter_retry(id).await.unwrap_err().to_string();
    assert!(refused.contains("another unhandled update with id 1"), "{refused}");
    assert_eq!(store.inbox_take_unhandled(6, 10).await.unwrap()[0].raw, raw(1));
    assert_eq!(store.dead_letters(Some(6), 10).await.unwrap().len(), 1, "the letter stays");
    assert!(store.dead_letter_discard(id).await.unwrap());
    assert!(!store.dead_letter_discard(id).await.unwrap(), "already discarded");
    assert!(store.dead_letters(None, 10).await.unwrap().is_empty());
}

pub async fn a_batch_of_received_updates_is_stored_once_each(store: &Store, _url: &str) {
    use Received::{Busy, New, Redelivered, Reused};
    assert_eq!(store.inbox_put(9, 2, "old").await.unwrap(), New);
    assert_eq!(store.inbox_put(9, 5, "handled").await.unwrap(), New);
    assert!(store.inbox_mark_handled(9, 5).await.unwrap());
    // More than one statement's rows (1000), other content under a stored update's id (busy:
    // it is unhandled), under a handled one's (reused: the ids restarted), a redelivery, and an
    // update repeated within the batch.
    let mut batch: Vec<(i64, String)> = (3..=2500).filter(|id| *id != 5).map(|id| (id, format!("u{id}"))).collect();
    batch.insert(0, (2, "new".into()));
    batch.insert(1, (1, "first".into()));
    batch.insert(2, (5, "restarted".into()));
    batch.push((1, "first".into()));
    batch.push((1, "again".into()));
    let received = StateStore::inbox_put_batch(store, 9, batch).await.unwrap();
    assert_eq!(received.len(), 2502);
    assert_eq!(&received[..3], [Busy, New, Reused]);
    assert!(received[3..2500].iter().all(|r| *r == New), "every new update stored");
    assert_eq!(received[2500..], [Redelivered, Busy], "a repeat within the batch is not stored twice");
    let pending = store.inbox_take_unhandled(9, 10_000).await.unwrap();
    assert_eq!(pending.len(), 2500);
    assert_eq!((pending[0].raw.as_str(), pending[1].raw.as_str()), ("first", "old"), "the first copy is kept");
    assert_eq!(pending[4].raw, "restarted");
    assert_eq!(pending[2499].raw, "u2500");
    assert_eq!(StateStore::inbox_put_batch(store, 9, Vec::new()).await.unwrap(), Vec::<Received>::new());
    assert!(StateStore::inbox_put_batch(store, u64::MAX, vec![(1, "x".into())]).await.is_err());
}

fn message(chat_id: i64, text: &str) -> Outgoing {
    Outgoing { chat_id, method: "sendMessage".into(), params: json!({"chat_id": chat_id, "text": text}), bulk: false }
}

fn pending_ids(pending: &[PendingSend]) -> Vec<i64> {
    pending.iter().map(|p| p.id).collect()
}

pub async fn outbox_keeps_order_per_bot_and_forgets(store: &Store, _url: &str) {
    assert!(store.outbox_pending(1, 10).await.unwrap().is_empty());
    let mut ids = Vec::new();
    for i in 0..6_i64 {
        let bot = if i % 2 == 0 { 1 } else { 2 };
        let mut outgoing = message(-100 - i, &format!("сообщение {i} ✉️"));
        outgoing.bulk = i == 3;
        ids.push(store.outbox_push(bot, &outgoing).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    let bot2 = store.outbox_pending(2, 10).await.unwrap();
    assert_eq!(pending_ids(&bot2), [ids[1], ids[3], ids[5]], "only the bot's own calls");
    assert_eq!(bot2[1].outgoing.chat_id, -103);
    assert_eq!(bot2[1].outgoing.params, json!({"chat_id": -103, "text": "сообщение 3 ✉️"}));
    assert!(bot2[1].outgoing.bulk && !bot2[0].outgoing.bulk);
    assert_eq!(pending_ids(&store.outbox_pending(1, 2).await.unwrap()), [ids[0], ids[2]], "limit, oldest first");

    assert!(store.outbox_forget(1, ids[0]).await.unwrap());
    assert!(!store.outbox_forget(1, ids[0]).await.unwrap(), "already forgotten");
    assert!(!store.outbox_forget(1, ids[1]).await.unwrap(), "another bot's call is not forgotten");
    assert_eq!(pending_ids(&store.outbox_pending(1, 10).await.unwrap()), [ids[2], ids[4]]);

    // An id is never reused, even after the newest row is forgotten.
    assert!(store.outbox_forget(2, ids[5]).await.unwrap());
    let later = store.outbox_push(1, &message(1, "later")).await.unwrap();
    assert!(later > ids[5]);
}

pub async fn group_commit_writes_all_or_nothing(store: &Store, _url: &str) {
    use ferrogram_core::{Commit, StateStore};
    assert!(store.inbox_put(8, 1, "{}").await.unwrap().is_stored());
    assert!(store.inbox_put(8, 2, "{}").await.unwrap().is_stored());
    let state = ChatState { scene: Some("menu".into()), ..ChatState::default() };
    let first = Commit {
        bot: 8,
        chat: Some((80, state.clone())),
        vars: vec![(Scope::User(5), "n".into(), Some(json!(1))), (Scope::Bot, "gone".into(), None)],
        outbox: vec![message(80, "a"), message(80, "b")],
        handled: Some(1),
        seen_user: json!({"id": 5, "is_bot": false, "first_name": "Ann", "username": "ann", "language_code": "ru"}),
        seen_chat: json!({"id": 80, "type": "private", "first_name": "Ann"}),
        ..Commit::default()
    };
    let second = Commit { bot: 8, outbox: vec![message(81, "c")], handled: Some(2), ..Commit::default() };
    let ids = StateStore::commit(store, &[first, second]).await.unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0].len(), 2);
    assert!(ids[0][0] < ids[0][1] && ids[0][1] < ids[1][0], "in commit order: {ids:?}");
    assert_eq!(store.load_chat(8, 80).await.unwrap(), Some(state.clone()));
    assert_eq!(store.load_vars(8, Scope::User(5)).await.unwrap()["n"], json!(1));
    assert!(store.inbox_take_unhandled(8, 10).await.unwrap().is_empty(), "both updates handled");
    let pending = StateStore::outbox_pending(store, 8, 10).await.unwrap();
    assert_eq!(pending.iter().map(|p| p.outgoing.params["text"].clone()).collect::<Vec<_>>(), ["a", "b", "c"]);
    let users = store.known_users(8, 10).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!((users[0]["id"].clone(), users[0]["username"].clone()), (json!(5), json!("ann")));
    assert_eq!(users[0]["language_code"], json!("ru"));
    assert!(store.known_users(9, 10).await.unwrap().is_empty(), "another bot's directory is its own");
    // Seen again: refreshed, not duplicated.
    let again = Commit { bot: 8, seen_user: json!({"id": 5, "first_name": "Anna"}), ..Commit::default() };
    StateStore::commit(store, &[again]).await.unwrap();
    let users = store.known_users(8, 10).await.unwrap();
    assert_eq!((users.len(), users[0]["first_name"].clone()), (1, json!("Anna")));

    // A batch with one failing commit writes nothing of it: the update stays unhandled, no reply
    // is queued, the state is as it was.
    assert!(store.inbox_put(8, 3, "{}").await.unwrap().is_stored());
    let later = ChatState { scene: Some("later".into()), ..ChatState::default() };
    let good = Commit {
        bot: 8,
        chat: Some((80, later)),
        outbox: vec![message(80, "d")],
        handled: Some(3),
        delivered: vec![ids[0][0]],
        ..Commit::default()
    };
    let bad = Commit { bot: u64::MAX, outbox: vec![message(1, "x")], ..Commit::default() };
    assert!(StateStore::commit(store, &[good, bad]).await.is_err());
    assert_eq!(store.load_chat(8, 80).await.unwrap(), Some(state));
    assert_eq!(store.inbox_take_unhandled(8, 10).await.unwrap().len(), 1);
    assert_eq!(StateStore::outbox_pending(store, 8, 10).await.unwrap().len(), 3, "nothing forgotten or added");
}

pub async fn a_batch_keeps_the_later_write_of_a_key(store: &Store, url: &str) {
    use ferrogram_core::Commit;
    let scene = |name: &str| ChatState { scene: Some(name.into()), ..ChatState::default() };
    let var = |name: &str, value: Option<Value>| (Scope::User(5), name.to_owned(), value);
    store.set_var(8, Scope::User(5), "dropped", Some(&json!("old"))).await.unwrap();
    let first = Commit {
        bot: 8,
        chat: Some((80, scene("first"))),
        vars: vec![var("n", Some(json!(1))), var("dropped", Some(json!("kept"))), var("back", None)],
        seen_user: json!({"id": 5, "first_name": "Ann"}),
        seen_chat: json!({"id": 80, "type": "private"}),
        ..Commit::default()
    };
    let second = Commit {
        bot: 8,
        chat: Some((80, scene("second"))),
        // Within one commit too, the later write wins.
        vars: vec![
            var("n", Some(json!(2))),
            var("n", Some(json!(3))),
            var("dropped", None),
            var("back", Some(json!(true))),
        ],
        seen_user: json!({"id": 5, "first_name": "Anna"}),
        seen_chat: json!({"id": 80, "type": "group", "title": "Tea"}),
        ..Commit::default()
    };
    let other_bot =
        Commit { bot: 9, chat: Some((80, scene("other"))), vars: vec![var("n", Some(json!(9)))], ..Commit::default() };
    StateStore::commit(store, &[first, other_bot, second]).await.unwrap();
    assert_eq!(store.load_chat(8, 80).await.unwrap(), Some(scene("second")));
    assert_eq!(store.load_chat(9, 80).await.unwrap(), Some(scene("other")));
    let vars = store.load_vars(8, Scope::User(5)).await.unwrap();
    assert_eq!(Value::Object(vars), json!({"n": 3, "back": true}), "`dropped` forgotten, `back` set again");
    assert_eq!(store.load_vars(9, Scope::User(5)).await.unwrap()["n"], json!(9));
    let users = store.known_users(8, 10).await.unwrap();
    assert_eq!((users.len(), users[0]["first_name"].clone()), (1, json!("Anna")));
    assert_eq!(raw_text(url, "SELECT kind FROM bot_chats WHERE bot_id = 8 AND chat_id = 80").await, "group");
}

/// More rows of each kind than one statement writes (`ROWS_PER_STATEMENT`, 1000).
pub async fn a_batch_larger_than_one_statement(store: &Store, url: &str) {
    use ferrogram_core::Commit;
    const UPDATES: i64 = 2500;
    for update_id in 1..=UPDATES {
        store.inbox_put(8, update_id, "{}").await.unwrap();
    }
    let batch: Vec<Commit> = (1..=UPDATES)
        .map(|n| Commit {
            bot: 8,
            chat: Some((n, ChatState { scene: Some(format!("s{n}")), ..ChatState::default() })),
            vars: vec![(Scope::User(n), "n".into(), Some(json!(n)))],
            outbox: vec![message(n, &format!("{n}a")), message(n, &format!("{n}b"))],
            handled: Some(n),
            seen_user: json!({"id": n, "first_name": format!("user {n}")}),
            seen_chat: json!({"id": n, "type": "private"}),
            ..Commit::default()
        })
        .collect();
    let ids = StateStore::commit(store, &batch).await.unwrap();
    assert_eq!(ids.len(), UPDATES as usize);
    let flat: Vec<i64> = ids.iter().flatten().copied().collect();
    assert!(ids.iter().all(|ids| ids.len() == 2) && flat.windows(2).all(|w| w[0] < w[1]), "ids grow in commit order");
    let pending = StateStore::outbox_pending(store, 8, 10_000).await.unwrap();
    assert_eq!(pending_ids(&pending), flat);
    // Each id names its own call.
    assert!(pending.iter().enumerate().all(|(i, p)| {
        p.outgoing.params["text"] == json!(format!("{}{}", i / 2 + 1, if i % 2 == 0 { "a" } else { "b" }))
    }));
    assert!(store.inbox_take_unhandled(8, 10).await.unwrap().is_empty(), "every update handled");
    for n in [1, 1000, 1001, UPDATES] {
        assert_eq!(store.load_chat(8, n).await.unwrap().unwrap().scene, Some(format!("s{n}")));
        assert_eq!(store.load_vars(8, Scope::User(n)).await.unwrap()["n"], json!(n));
    }
    assert_eq!(store.known_users(8, 10_000).await.unwrap().len(), UPDATES as usize);
    assert_eq!(raw_text(url, "SELECT CAST(COUNT(*) AS TEXT) FROM bot_chats").await, UPDATES.to_string());
    // Acknowledged in one batch: all forgotten.
    let acks = Commit { bot: 8, delivered: flat, ..Commit::default() };
    StateStore::commit(store, &[acks]).await.unwrap();
    let left = StateStore::outbox_pending(store, 8, 10_000).await.unwrap();
    assert!(left.is_empty(), "{} left, first {:?}", left.len(), left.first().map(|p| p.id));
}

/// Runs `sql` on its own connection to the test's database (not through the store, whose
/// memory of what it wrote is what these tests look behind).
pub async fn raw_execute(url: &str, sql: &str) {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    }
}

/// The one text value `sql` selects, on its own connection.
pub async fn raw_text(url: &str, sql: &str) -> String {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    }
}

pub async fn an_unchanged_user_or_chat_is_not_rewritten(store: &Store, url: &str) {
    use ferrogram_core::Commit;
    let seen = |name: &str, title: &str| Commit {
        bot: 8,
        seen_user: json!({"id": 5, "first_name": name}),
        seen_chat: json!({"id": -80, "type": "group", "title": title}),
        ..Commit::default()
    };
    let last_seen = || async {
        let user =
            raw_text(url, "SELECT CAST(last_seen AS TEXT) FROM bot_users WHERE bot_id = 8 AND user_id = 5").await;
        let chat =
            raw_text(url, "SELECT CAST(last_seen AS TEXT) FROM bot_chats WHERE bot_id = 8 AND chat_id = -80").await;
        (user, chat)
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let recent = |at: &str| (now - 5..=now + 60).contains(&at.parse::<i64>().unwrap());
    StateStore::commit(store, &[seen("Ann", "Tea")]).await.unwrap();
    let (user, chat) = last_seen().await;
    assert!(recent(&user) && recent(&chat), "{user} {chat}");

    // Behind the store's back, so a rewrite would show.
    raw_execute(url, "UPDATE bot_users SET last_seen = 1").await;
    raw_execute(url, "UPDATE bot_chats SET last_seen = 1").await;
    StateStore::commit(store, &[seen("Ann", "Tea")]).await.unwrap();
    assert_eq!(last_seen().await, ("1".to_owned(), "1".to_owned()), "unchanged: not rewritten");
    // A changed name is written at once; the unchanged chat still is not.
    StateStore::commit(store, &[seen("Anna", "Tea")]).await.unwrap();
    let (user, chat) = last_seen().await;
    assert!(recent(&user) && chat == "1", "{user} {chat}");
    assert_eq!(store.known_users(8, 1).await.unwrap()[0]["first_name"], json!("Anna"));
    StateStore::commit(store, &[seen("Anna", "Coffee")]).await.unwrap();
    assert!(recent(&last_seen().await.1));
    assert_eq!(raw_text(url, "SELECT title FROM bot_chats WHERE chat_id = -80").await, "Coffee");

    // Once the refresh interval has passed (here: none), an unchanged record is written again.
    raw_execute(url, "UPDATE bot_users SET last_seen = 1").await;
    let options =
        ferrogram_store::Options { directory_refresh: std::time::Duration::ZERO, migrate: false, ..Default::default() };
    let eager = Store::open_with(url, &options).await.unwrap();
    StateStore::commit(&eager, &[seen("Anna", "Coffee")]).await.unwrap();
    StateStore::commit(&eager, &[seen("Anna", "Coffee")]).await.unwrap();
    raw_execute(url, "UPDATE bot_users SET last_seen = 1").await;
    StateStore::commit(&eager, &[seen("Anna", "Coffee")]).await.unwrap();
    assert!(recent(&last_seen().await.0), "refreshed");
    eager.close().await;

    // A batch that fails writes nothing, and the store does not count its users as written.
    let bob = Commit { bot: 8, seen_user: json!({"id": 6, "first_name": "Bob"}), ..Commit::default() };
    let bad = Commit {
        bot: 8,
        handled: Some(1),
        chat: Some((1, ChatState::default())),
        outbox: vec![message(1, "x")],
        ..Commit::default()
    };
    let bad = Commit { bot: u64::MAX, ..bad };
    assert!(StateStore::commit(store, &[bob.clone(), bad]).await.is_err());
    assert_eq!(store.known_users(8, 10).await.unwrap().len(), 1);
    StateStore::commit(store, &[bob]).await.unwrap();
    assert_eq!(store.known_users(8, 10).await.unwrap().len(), 2, "Bob written after the failed batch");
}

pub async fn job_claim_is_won_once(store: &Store, _url: &str) {
    // From unscheduled: exactly one of many creators wins.
    let winners =
        race(store, 16, |store| async move { store.claim_next_run(4, "digest", None, Some(1_000)).await.unwrap() });
    assert_eq!(winners.await, 1);
    assert_eq!(store.load_next_run(4, "digest").await.unwrap(), Some(1_000));

    // All saw 1000 due; exactly one moves it on and runs the job.
    for round in 0..5_u64 {
        let due = 1_000 + round * 60;
        let won = race(store, 16, move |store| async move {
            store.claim_next_run(4, "digest", Some(due), Some(due + 60)).await.unwrap()
        });
        assert_eq!(won.await, 1, "round {round}");
        assert_eq!(store.load_next_run(4, "digest").await.unwrap(), Some(due + 60));
    }
    // A stale view loses and changes nothing.
    assert!(!store.claim_next_run(4, "digest", Some(1_000), Some(5_000)).await.unwrap());
    assert_eq!(store.load_next_run(4, "digest").await.unwrap(), Some(1_300));
    // Unscheduling is a claim too.
    assert!(!store.claim_next_run(4, "digest", Some(1), None).await.unwrap());
    assert!(store.claim_next_run(4, "digest", Some(1_300), None).await.unwrap());
    assert_eq!(store.load_next_run(4, "digest").await.unwrap(), None);
    assert!(store.claim_next_run(4, "digest", None, None).await.unwrap(), "nothing scheduled, as expected");
    store.save_next_run(4, "digest", Some(7)).await.unwrap();
    assert!(!store.claim_next_run(4, "digest", None, None).await.unwrap());
    assert!(!store.claim_next_run(4, "digest", None, Some(9)).await.unwrap(), "already scheduled");
}

/// Runs `n` copies of `claim` at once (released together) and counts the `true`s.
async fn race<F, Fut>(store: &Store, n: usize, claim: F) -> usize
where
    F: Fn(Store) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let claim = Arc::new(claim);
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (store, claim, barrier) = (store.clone(), Arc::clone(&claim), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                claim(store).await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    won
}

pub async fn concurrent_variable_writes_lose_nothing(store: &Store, _url: &str) {
    const TASKS: usize = 32;
    const EACH: usize = 20;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let name = format!("t{t}-v{i}");
                    store.set_var(5, Scope::Bot, &name, Some(&json!({"t": t, "i": i}))).await.unwrap();
                    // Chats written in parallel as well: one per task.
                    let state = ChatState { scene: Some(name.clone()), ..ChatState::default() };
                    store.save_chat(5, t as i64, &state).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let vars = store.load_vars(5, Scope::Bot).await.unwrap();
    let expected: BTreeSet<String> = (0..TASKS).flat_map(|t| (0..EACH).map(move |i| format!("t{t}-v{i}"))).collect();
    assert_eq!(vars.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for t in 0..TASKS {
        let state = store.load_chat(5, t as i64).await.unwrap().unwrap();
        assert_eq!(state.scene, Some(format!("t{t}-v{}", EACH - 1)));
    }
}

pub async fn transaction_commits_or_rolls_back_together(store: &Store, _url: &str) {
    let state = ChatState { scene: Some("after".into()), ..ChatState::default() };
    // Rolled back: neither the state nor the reply is there.
    let mut tx = store.transaction().await.unwrap();
    tx.save_chat(6, 60, &state).await.unwrap();
    tx.set_var(6, Scope::Chat(60), "n", Some(&json!(1))).await.unwrap();
    tx.outbox_push(6, &message(60, "lost")).await.unwrap();
    assert!(tx.inbox_put(6, 1, "{}").await.unwrap().is_stored());
    assert_eq!(tx.load_chat(6, 60).await.unwrap(), Some(state.clone()), "a transaction sees its own writes");
    tx.rollback().await.unwrap();
    assert_eq!(store.load_chat(6, 60).await.unwrap(), None);
    assert!(store.load_vars(6, Scope::Chat(60)).await.unwrap().is_empty());
    assert!(store.outbox_pending(6, 100).await.unwrap().is_empty());
    assert!(store.inbox_take_unhandled(6, 10).await.unwrap().is_empty());

    // Dropped without commit: rolled back too.
    {
        let mut tx = store.transaction().await.unwrap();
        tx.save_chat(6, 60, &state).await.unwrap();
    }
    assert_eq!(store.load_chat(6, 60).await.unwrap(), None);

    // Committed: the update handled, the state and the reply, all at once.
    assert!(store.inbox_put(6, 1, "{}").await.unwrap().is_stored());
    let mut tx = store.transaction().await.unwrap();
    tx.save_chat(6, 60, &state).await.unwrap();
    let id = tx.outbox_push(6, &message(60, "kept")).await.unwrap();
    assert!(tx.inbox_mark_handled(6, 1).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.load_chat(6, 60).await.unwrap(), Some(state));
    assert_eq!(pending_ids(&store.outbox_pending(6, 100).await.unwrap()), [id]);
    assert!(store.inbox_take_unhandled(6, 10).await.unwrap().is_empty());

    // Transactions from many tasks at once all commit (SQLite serialises them).
    let tasks: Vec<_> = (0..8_i64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.transaction().await.unwrap();
                let n = tx.load_vars(6, Scope::Bot).await.unwrap().len();
                tx.set_var(6, Scope::Bot, &format!("v{i}"), Some(&json!(n))).await.unwrap();
                tx.outbox_push(6, &message(i, "many")).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.load_vars(6, Scope::Bot).await.unwrap().len(), 8);
    assert_eq!(store.outbox_pending(6, 100).await.unwrap().len(), 9);
}

pub async fn state_store_contract_on_store(store: &Store, _url: &str) {
    state_store_contract(Arc::new(store.clone())).await;
}

/// What the engine relies on from any [`StateStore`]; `tests/sqlite.rs` also runs it on the
/// [`MemoryStore`], so the database behaves as the in-memory store does.
pub async fn state_store_contract(store: Arc<dyn StateStore>) {
    assert_eq!(store.load_chat(1, 1).await.unwrap(), None);
    let state = ChatState {
        scene: Some("form".into()),
        stack: vec!["start".into()],
        form: Some(FormProgress {
            scene: "form".into(),
            field: 1,
            answers: Map::from_iter([("a".into(), json!("x"))]),
        }),
        generation: 3,
    };
    store.save_chat(1, 1, state.clone()).await.unwrap();
    assert_eq!(store.load_chat(1, 1).await.unwrap(), Some(state));
    assert_eq!(store.load_chat(1, 2).await.unwrap(), None);
    assert_eq!(store.load_chat(2, 1).await.unwrap(), None);

    assert!(store.load_vars(1, Scope::Bot).await.unwrap().is_empty());
    store.set_var(1, Scope::Bot, "a".into(), Some(json!(1))).await.unwrap();
    store.set_var(1, Scope::Bot, "b".into(), Some(json!({"x": [1]}))).await.unwrap();
    store.set_var(1, Scope::Bot, "a".into(), Some(json!(2))).await.unwrap();
    store.set_var(1, Scope::Bot, "b".into(), None).await.unwrap();
    store.set_var(1, Scope::Bot, "missing".into(), None).await.unwrap();
    let vars = store.load_vars(1, Scope::Bot).await.unwrap();
    assert_eq!(vars, Map::from_iter([("a".into(), json!(2))]));
    assert!(store.load_vars(1, Scope::User(1)).await.unwrap().is_empty());
    assert!(store.load_vars(2, Scope::Bot).await.unwrap().is_empty());

    assert_eq!(store.load_next_run(1, "tick").await.unwrap(), None);
    store.save_next_run(1, "tick", Some(1_010)).await.unwrap();
    store.save_next_run(1, "tick", Some(1_040)).await.unwrap();
    assert_eq!(store.load_next_run(1, "tick").await.unwrap(), Some(1_040));
    assert_eq!(store.load_next_run(2, "tick").await.unwrap(), None);
    store.save_next_run(1, "tick", None).await.unwrap();
    assert_eq!(store.load_next_run(1, "tick").await.unwrap(), None);
    store.save_next_run(1, "gone", None).await.unwrap();

    // The inbox: a redelivery (same id, same content) is stored once, unhandled updates come
    // back lowest id first; other content under a known id is a new update once the one there
    // was handled (the ids restarted), and waits until then.
    use Received::{Busy, New, Redelivered, Reused};
    let ids = |updates: Vec<StoredUpdate>| updates.into_iter().map(|u| u.update_id).collect::<Vec<_>>();
    assert_eq!(store.inbox_put(1, 11, r#"{"update_id":11}"#.into()).await.unwrap(), New);
    assert_eq!(store.inbox_put(1, 10, r#"{"update_id":10}"#.into()).await.unwrap(), New);
    assert_eq!(store.inbox_put(1, 11, r#"{"update_id":11}"#.into()).await.unwrap(), Redelivered);
    assert_eq!(store.inbox_put(1, 11, "other".into()).await.unwrap(), Busy);
    let unhandled = store.inbox_unhandled(1, 10).await.unwrap();
    assert_eq!(unhandled[1], StoredUpdate { update_id: 11, raw: r#"{"update_id":11}"#.into(), attempts: 1 });
    assert_eq!(ids(unhandled), [10, 11]);
    assert_eq!(ids(store.inbox_unhandled(1, 1).await.unwrap()), [10]);
    assert!(store.inbox_unhandled(2, 10).await.unwrap().is_empty());
    store.inbox_count_attempts(1, vec![11, 12]).await.unwrap();
    assert_eq!(store.inbox_unhandled(1, 10).await.unwrap()[1].attempts, 2);
    assert!(store.inbox_mark_handled(1, 10).await.unwrap());
    assert!(!store.inbox_mark_handled(1, 10).await.unwrap(), "already handled");
    assert!(!store.inbox_mark_handled(1, 12).await.unwrap(), "never stored");
    assert_eq!(store.inbox_put(1, 10, r#"{"update_id":10}"#.into()).await.unwrap(), Redelivered, "handled, known");
    assert_eq!(ids(store.inbox_unhandled(1, 10).await.unwrap()), [11]);
    assert_eq!(store.inbox_put_batch(1, vec![(10, "restarted".into())]).await.unwrap(), [Reused]);
    assert_eq!(ids(store.inbox_unhandled(1, 10).await.unwrap()), [10, 11]);

    // A dead letter: the update marked handled and the letter kept, in one commit.
    let letter = ferrogram_core::DeadLetter {
        update_id: 11,
        chat_id: None,
        raw: r#"{"update_id":11}"#.into(),
        reason: "panicked".into(),
        attempts: 2,
    };
    let commit =
        ferrogram_core::Commit { bot: 1, handled: Some(11), dead_letter: Some(letter.clone()), ..Default::default() };
    store.commit(&[commit]).await.unwrap();
    assert_eq!(ids(store.inbox_unhandled(1, 10).await.unwrap()), [10]);
    let letters = store.dead_letters(1, 10).await.unwrap();
    assert_eq!(letters.iter().map(|l| (l.bot, &l.letter)).collect::<Vec<_>>(), [(1, &letter)]);
    assert!(store.dead_letters(2, 10).await.unwrap().is_empty());

    // Which bots have work: an unhandled update or an undelivered call puts a bot in, handling
    // and delivering take it out.
    let (a, b, c) = (701, 702, 703);
    let with_work = |bots: Vec<u64>| bots.into_iter().filter(|bot| [a, b, c].contains(bot)).collect::<BTreeSet<_>>();
    assert!(with_work(store.bots_with_work().await.unwrap()).is_empty());
    store.inbox_put(a, 1, r#"{"update_id":1}"#.into()).await.unwrap();
    store.inbox_put(c, 1, r#"{"update_id":1}"#.into()).await.unwrap();
    assert!(store.inbox_mark_handled(c, 1).await.unwrap());
    let send = Outgoing { chat_id: 5, method: "sendMessage".into(), params: json!({"text": "hi"}), bulk: false };
    let sent = store.commit(&[ferrogram_core::Commit { bot: b, outbox: vec![send], ..Default::default() }]).await;
    let outbox_id = sent.unwrap()[0][0];
    assert_eq!(with_work(store.bots_with_work().await.unwrap()), BTreeSet::from([a, b]), "c handled its update");
    assert!(store.inbox_mark_handled(a, 1).await.unwrap());
    let delivered = ferrogram_core::Commit { bot: b, delivered: vec![outbox_id], ..Default::default() };
    store.commit(&[delivered]).await.unwrap();
    assert!(with_work(store.bots_with_work().await.unwrap()).is_empty(), "handled and delivered: no work left");
}

/// The contract on the in-memory store (the reference behaviour).
pub async fn state_store_contract_on_memory() {
    state_store_contract(Arc::new(MemoryStore::new())).await;
}
