//! Size caps (issue 10, defect 6): a bot cannot grow a variable, a record or a rendered text past
//! the engine's caps, on the memory store, SQLite and PostgreSQL alike, and `ferrogram validate`
//! refuses a bot file over its size cap at once and with little memory, whatever the file.
//!
//! The bots run in the engine's test world (`engine/tests/common`: an in-process sandbox played
//! through its control API) on the store's test databases (`store/tests/common`: a fresh
//! SQLite file, or a fresh PostgreSQL database that is skipped loudly when unreachable).

// Not every helper of the module is used here.
#[allow(dead_code)]
mod binary;
#[path = "../../engine/tests/common/mod.rs"]
mod common;
#[path = "../../store/tests/common/mod.rs"]
mod store_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use binary::TempFolder;
use common::{Bot, World, test_config};
use ferrogram_engine::{EngineConfig, Scope, SizeCaps, StateStore};
use serde_json::json;

/// Caps small enough to reach in a few messages; the render cap is above the others so that
/// each check is reached on its own.
const CAPS: SizeCaps = SizeCaps { template_output: 2000, variable: 1000, record: 1000 };

const BOT: &str = r#"
ferrogram: 1
bot: {name: caps}
errors: {reply: "Too big"}
variables:
  user:
    v: {type: string, default: "xxxxxxxxxxxxxxxx"}
    n: {type: number, default: 0}
collections:
  notes:
    scope: user
    fields:
      text: {type: string}
on:
  - command: double
    do:
      - set: {user.v: "{{ user.v }}{{ user.v }}"}
      - reply: "{{ user.v | length }}"
  - command: len
    do: [{reply: "{{ user.v | length }}"}]
  - text: "/^render (\\d+)$/"
    do:
      - set: {user.n: "{{ match.1 }}"}
      - reply: "{{ 'ab' * (match.1 | int) }}"
  - command: n
    do: [{reply: "{{ user.n }}"}]
  - text: "/^add (\\d+)$/"
    do:
      - insert: {collection: notes, values: {text: "{{ 'x' * (match.1 | int) }}"}, as: note}
      - reply: "added {{ note.text | length }}"
  - text: "/^grow (\\d+)$/"
    do:
      - query: {collection: notes, first: true, as: note}
      - update: {collection: notes, id: "{{ note.id }}", set: {text: "{{ 'y' * (match.1 | int) }}"}}
      - reply: "grown"
  - command: notes
    do:
      - query: {collection: notes, as: notes}
      - reply: "{{ notes | length }}:{% for n in notes %} {{ n.text | length }}{% endfor %}"
"#;

/// Sends `text` as `user` and returns the bot's answer.
async fn say(world: &World, bot: Bot, user: i64, text: &str, after: &mut u64) -> String {
    world.act(bot, "text", user, json!({"text": text})).await;
    let (sent, last) = world.wait_sent(bot, user, *after, 1).await;
    *after = last;
    sent.join(" / ")
}

/// Runs the bot on `store` (conversation state, variables and records) and checks every cap.
async fn caps_hold(store: Arc<dyn StateStore>, collections: Arc<dyn ferrogram_engine::CollectionStore>) {
    let config = EngineConfig { store: Arc::clone(&store), collections, caps: CAPS, ..test_config() };
    let mut world = World::start(config).await;
    let bot = world.bot(BOT).await;
    let ann = world.user("Ann", "en").await;
    let mut seq = 0;

    // A variable that doubles itself on every message stops at the cap: the user hears the
    // error reply, and the stored value is the last one that fit.
    for expected in ["32", "64", "128", "256", "512", "Too big"] {
        assert_eq!(say(&world, bot, ann, "/double", &mut seq).await, expected);
    }
    assert_eq!(say(&world, bot, ann, "/len", &mut seq).await, "512");
    let vars = store.load_vars(bot.id, Scope::User(ann)).await.expect("variables load");
    assert_eq!(vars.get("v").and_then(|v| v.as_str()).map(str::len), Some(512), "the stored value is unchanged");

    // A render over the output cap fails the handler: nothing it set is committed.
    assert_eq!(say(&world, bot, ann, "render 100", &mut seq).await, "ab".repeat(100));
    assert_eq!(say(&world, bot, ann, "render 1001", &mut seq).await, "Too big");
    assert_eq!(say(&world, bot, ann, "/n", &mut seq).await, "100");

    // A record over the cap is neither inserted nor made by an update.
    assert_eq!(say(&world, bot, ann, "add 100", &mut seq).await, "added 100");
    assert_eq!(say(&world, bot, ann, "add 1200", &mut seq).await, "Too big");
    assert_eq!(say(&world, bot, ann, "grow 1200", &mut seq).await, "Too big");
    assert_eq!(say(&world, bot, ann, "/notes", &mut seq).await, "1: 100");
    assert_eq!(say(&world, bot, ann, "grow 500", &mut seq).await, "grown");
    assert_eq!(say(&world, bot, ann, "/notes", &mut seq).await, "1: 500");
    world.engine.stop(bot.handle).await.expect("bot stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_hold_on_the_memory_store() {
    caps_hold(Arc::new(ferrogram_engine::MemoryStore::new()), Arc::new(ferrogram_engine::MemoryCollections::new()))
        .await;
}

/// Runs [`caps_hold`] on a fresh database from `harness`, removed afterwards.
async fn caps_hold_on(db: Option<store_common::TestDb>) {
    let Some(db) = db else { return };
    let store = Arc::new(db.store.clone());
    let outcome = tokio::spawn(caps_hold(store.clone(), store)).await;
    db.cleanup().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_hold_on_sqlite() {
    caps_hold_on(store_common::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_hold_on_postgres() {
    caps_hold_on(store_common::postgres().await).await;
}

/// Runs `ferrogram validate FILE` with its address space limited to 1 GiB (so an unbounded
/// read dies of it instead of filling the machine) and at most 60 s: its output, and how long
/// it took.
fn validate_bounded(file: &str) -> (bool, String, Duration) {
    let started = Instant::now();
    let output = binary::Run::new(&["validate", file])
        .under_shell("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .within(Duration::from_secs(60))
        .output();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text, started.elapsed())
}

#[test]
fn validate_refuses_an_endless_file_at_once_with_little_memory() {
    let (ok, output, took) = validate_bounded("/dev/zero");
    assert!(!ok, "{output}");
    assert!(output.contains("/dev/zero: error: the bot file is larger than 8 MiB (the bot file size cap)"), "{output}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_large_file_without_aliases_gets_the_size_message() {
    let folder = TempFolder::new("caps-large");
    let path = folder.0.join("large.yaml");
    let mut text = String::from("ferrogram: 1\nbot: {name: large}\nlist:\n");
    while text.len() < 50 << 20 {
        text.push_str("- 1\n");
    }
    std::fs::write(&path, text).expect("written");
    let (ok, output, _) = validate_bounded(path.to_str().expect("UTF-8 path"));
    assert!(!ok, "{output}");
    assert!(output.contains("error: the bot file is larger than 8 MiB (the bot file size cap)"), "{output}");
    assert!(!output.contains("aliases"), "{output}");
}
