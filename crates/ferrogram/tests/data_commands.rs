//! `ferrogram export`, `import`, `backup` and `restore` through the built binary, on SQLite files in a
//! temporary folder (the store's own tests cover PostgreSQL and the round trips between the
//! two; here it is the command line: arguments, output, exit codes and messages).

// Not every helper of the module is used here.
#[allow(dead_code)]
mod binary;

use binary::ferrogram;
use std::process::Output;

use binary::TempFolder;
use ferrogram_engine::Scope;
use serde_json::{Value, json};

impl TempFolder {
    /// The SQLite URL of the database file `file` in the folder.
    fn url(&self, file: &str) -> String {
        format!("sqlite://{}", self.0.join(file).display())
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A bot run from a file named `hello` (no dashboard record: its id comes from its name) with
/// a conversation, variables and a subscription, beside another bot.
async fn populate(url: &str) {
    let store = ferrogram_store::Store::open(url).await.unwrap();
    let hello = ferrogram_core::sandbox_bot_id("hello");
    let state = ferrogram_engine::ChatState { scene: Some("menu".into()), ..ferrogram_engine::ChatState::default() };
    store.save_chat(hello, 42, &state).await.unwrap();
    store.set_var(hello, Scope::User(42), "name", Some(&json!("Аня"))).await.unwrap();
    store.set_var(hello, Scope::Bot, "count", Some(&json!(7))).await.unwrap();
    store.subscribe(hello, 42, "news").await.unwrap();
    store.set_var(ferrogram_core::sandbox_bot_id("other"), Scope::Bot, "theirs", Some(&json!(1))).await.unwrap();
    store.close().await;
}

fn export(bot: &str, url: &str) -> Value {
    let output = ferrogram(&["export", bot, "--database", url]);
    assert!(output.status.success(), "export failed: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("export prints one JSON document")
}

#[tokio::test]
async fn export_then_import_restores_the_bot_and_refuses_to_overwrite() {
    let folder = TempFolder::new("data");
    let (source, target) = (folder.url("source.db"), folder.url("target.db"));
    populate(&source).await;

    let document = export("hello", &source);
    assert_eq!(document["ferrogram_export"], 1);
    assert_eq!(document["bot"]["id"], ferrogram_core::sandbox_bot_id("hello"));
    assert_eq!(document["tables"]["variables"].as_array().unwrap().len(), 2);
    assert!(!document.to_string().contains("theirs"), "only the bot's rows");
    // By id, the same document.
    assert_eq!(export(&ferrogram_core::sandbox_bot_id("hello").to_string(), &source), document);

    let file = folder.0.join("hello.json");
    std::fs::write(&file, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    let file = file.to_str().unwrap();
    let output = ferrogram(&["import", file, "--database", &target]);
    assert!(output.status.success(), "import failed: {}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("imported bot"));
    assert_eq!(export("hello", &target), document, "the same document back");

    // Again: the bot has data now, so it is refused and nothing changes.
    let store = ferrogram_store::Store::open(&target).await.unwrap();
    store.set_var(ferrogram_core::sandbox_bot_id("hello"), Scope::Bot, "count", Some(&json!(8))).await.unwrap();
    store.close().await;
    let changed = export("hello", &target);
    let output = ferrogram(&["import", file, "--database", &target]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("already has data") && message.contains("--replace"), "{message}");
    assert_eq!(export("hello", &target), changed, "nothing changed");

    // With --replace it is the export again.
    let output = ferrogram(&["import", file, "--database", &target, "--replace"]);
    assert!(output.status.success(), "import --replace failed: {}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("replaced bot"));
    assert_eq!(export("hello", &target), document);
}

#[tokio::test]
async fn export_and_import_explain_their_failures() {
    let folder = TempFolder::new("data");
    let url = folder.url("bots.db");
    populate(&url).await;
    let output = ferrogram(&["export", "nobody", "--database", &url]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no document on failure");
    assert!(stderr(&output).contains("no bot \"nobody\""), "{}", stderr(&output));

    let file = folder.0.join("newer.json");
    std::fs::write(&file, r#"{"ferrogram_export": 99, "bot": {"id": 1}}"#).unwrap();
    let output = ferrogram(&["import", file.to_str().unwrap(), "--database", &url]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("format 99"), "{}", stderr(&output));

    std::fs::write(&file, "not json").unwrap();
    let output = ferrogram(&["import", file.to_str().unwrap(), "--database", &url]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("not JSON"), "{}", stderr(&output));
}

/// `ferrogram ARGS` with the configuration file `config` (FERROGRAM_CONFIG).
fn with_config(config: &std::path::Path, args: &[&str]) -> Output {
    binary::Run::new(args)
        .env("FERROGRAM_CONFIG", &config.display().to_string())
        .env_remove("FERROGRAM_DATABASE_URL")
        .env_remove("FERROGRAM_BACKUP_TO")
        .env_remove("FERROGRAM_BACKUP_KEEP")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
}

/// The name `backup now` printed: `backed up … to … as NAME`.
fn backed_up(output: &Output) -> String {
    assert!(output.status.success(), "backup now failed: {}", stderr(output));
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().next().unwrap_or_default();
    line.rsplit_once(" as ").map(|(_, name)| name.to_owned()).unwrap_or_else(|| panic!("no name in {text:?}"))
}

#[tokio::test]
async fn backups_to_a_folder_keep_the_newest_and_restore_into_an_empty_database_only() {
    let folder = TempFolder::new("data");
    let url = folder.url("live.db");
    populate(&url).await;
    let backups = folder.0.join("backups");
    let config = folder.0.join("ferrogram.toml");
    let toml = format!("[database]\nurl = {:?}\n[backup]\nto = {:?}\nkeep = 2\n", url, backups.display().to_string());
    std::fs::write(&config, toml).unwrap();
    // Files of others in the folder are never listed, restored or deleted.
    std::fs::create_dir_all(&backups).unwrap();
    for other in ["notes.txt", "ferrogram-old.sqlite"] {
        std::fs::write(backups.join(other), "keep me").unwrap();
    }

    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(backed_up(&with_config(&config, &["backup", "now"])));
    }
    assert!(names.windows(2).all(|pair| pair[0] < pair[1]), "{names:?}");
    assert!(names.iter().all(|name| name.ends_with(".sqlite")), "{names:?}");
    let listed = with_config(&config, &["backup", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listed: Vec<String> = String::from_utf8_lossy(&listed.stdout).lines().map(str::to_owned).collect();
    assert_eq!(listed, names[1..], "backup.keep = 2 keeps the two newest");
    assert!(backups.join("notes.txt").exists() && backups.join("ferrogram-old.sqlite").exists());
    assert!(!backups.join(&names[0]).exists());

    // Never over a database with bots, and the database is left as it was.
    let output = with_config(&config, &["restore", "--latest"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--force"), "{}", stderr(&output));
    assert_eq!(export("hello", &url)["tables"]["variables"].as_array().unwrap().len(), 2);

    // Into a new database, the same bots; then the live one deleted and restored by name.
    let before = export("hello", &url);
    let fresh = folder.url("fresh.db");
    let output = with_config(&config, &["restore", "--latest", "--database", &fresh]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("2 bot(s)"));
    assert_eq!(export("hello", &fresh), before);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(folder.0.join(format!("live.db{suffix}")));
    }
    let output = with_config(&config, &["restore", &names[2]]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(export("hello", &url), before);
    assert_eq!(export("other", &url)["tables"]["variables"][0]["name"], "theirs");

    // --force replaces what changed since.
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    store.set_var(ferrogram_core::sandbox_bot_id("hello"), Scope::Bot, "later", Some(&json!(1))).await.unwrap();
    store.close().await;
    let output = with_config(&config, &["restore", "--latest", "--force"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(export("hello", &url), before);

    // Clear errors, nothing changed.
    let output = with_config(&config, &["restore", "ferrogram-20000101T000000.000Z.sqlite", "--database", &fresh]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no backup named"), "{}", stderr(&output));
    let output = with_config(&config, &["restore"]);
    assert!(!output.status.success(), "a name or --latest is needed");
    let empty = folder.0.join("empty");
    let output = with_config(&config, &["restore", "--latest", "--from", empty.to_str().unwrap()]);
    assert!(stderr(&output).contains("no backups at"), "{}", stderr(&output));
    let missing = folder.0.join("missing.db");
    let output = with_config(&config, &["backup", "now", "--database", &folder.url("missing.db")]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no such database file"), "{}", stderr(&output));
    assert!(!missing.exists(), "a missing database is an error, not a new empty one");
    let output = with_config(&config, &["backup", "list", "--to", "s3://bucket/x"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("AWS_ACCESS_KEY_ID"), "{}", stderr(&output));
}

#[test]
fn serve_refuses_a_backup_schedule_without_a_target_or_credentials() {
    let folder = TempFolder::new("data");
    let database = folder.url("never.db");
    let serve = |env: &[(&str, &str)]| {
        binary::Run::new(&["serve", "--database", &database, "--port", "0", "--listen", "127.0.0.1:0"])
            .env_remove("FERROGRAM_CONFIG")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("FERROGRAM_BACKUP_TO")
            .envs(env)
            .output()
    };
    let output = serve(&[("FERROGRAM_BACKUP_EVERY", "1h")]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("backup.to is not"), "{}", stderr(&output));
    let output = serve(&[("FERROGRAM_BACKUP_EVERY", "1h"), ("FERROGRAM_BACKUP_TO", "s3://bucket/x")]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("AWS_ACCESS_KEY_ID"), "{}", stderr(&output));
    let output = serve(&[("FERROGRAM_BACKUP_EVERY", "0s")]);
    assert!(stderr(&output).contains("backup.every"), "{}", stderr(&output));
    assert!(!folder.0.join("never.db").exists(), "nothing started");
}

/// Updates the engine set aside: listed (all, or one bot's by name or id), retried back into
/// the inbox, discarded; a wrong id is a clear error that changes nothing.
#[tokio::test]
async fn dead_letters_are_listed_retried_and_discarded() {
    use ferrogram_engine::{Commit, DeadLetter, StateStore};
    let folder = TempFolder::new("data");
    let url = folder.url("bots.db");
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let (hello, other) = (ferrogram_core::sandbox_bot_id("hello"), ferrogram_core::sandbox_bot_id("other"));
    let spin = r#"{"update_id":41,"message":{"text":"/spin"}}"#;
    let letter = |update_id: i64, raw: &str| DeadLetter {
        update_id,
        chat_id: Some(42),
        raw: raw.into(),
        reason: "the handler took longer than its 30s budget".into(),
        attempts: 3,
    };
    store.inbox_put(hello, 41, spin).await.unwrap();
    let commits = [
        Commit { bot: hello, handled: Some(41), dead_letter: Some(letter(41, spin)), ..Commit::default() },
        Commit { bot: other, dead_letter: Some(letter(7, "{}")), ..Commit::default() },
    ];
    StateStore::commit(&store, &commits).await.unwrap();
    let ids: Vec<i64> = store.dead_letters(None, 10).await.unwrap().iter().map(|l| l.id).collect();

    let list = |args: &[&str]| {
        let output = ferrogram(&[&["dead-letters", "--database", &url], args].concat());
        assert!(output.status.success(), "dead-letters failed: {}", stderr(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let all = list(&[]);
    assert_eq!(all.lines().filter(|l| !l.starts_with(' ')).count(), 2, "{all}");
    let mine = list(&["--bot", "hello"]);
    let first = mine.lines().next().unwrap();
    assert!(first.starts_with(&format!("{} bot={hello} chat=42 update=41 attempts=3 ", ids[0])), "{mine}");
    assert!(first.ends_with("the handler took longer than its 30s budget"), "{mine}");
    assert!(mine.contains(spin) && !mine.contains(&format!("bot={other}")), "{mine}");
    assert_eq!(list(&["--bot", &other.to_string()]).lines().filter(|l| !l.starts_with(' ')).count(), 1);

    let retried = list(&["--retry", &ids[0].to_string()]);
    assert!(retried.contains("back in the inbox"), "{retried}");
    let pending = store.inbox_take_unhandled(hello, 10).await.unwrap();
    assert_eq!((pending.len(), pending[0].raw.as_str(), pending[0].attempts), (1, spin, 0));
    assert_eq!(list(&["--bot", "hello"]).trim(), "no dead letters");

    let output = ferrogram(&["dead-letters", "--database", &url, "--discard", "999"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no dead letter 999"), "{}", stderr(&output));
    assert!(list(&["--discard", &ids[1].to_string()]).contains("discarded"));
    assert_eq!(list(&[]).trim(), "no dead letters");
    store.close().await;
}

#[test]
fn log_lines_go_to_standard_error_and_leave_standard_output_to_the_command() {
    let folder = TempFolder::new("data");
    // sqlx logs every statement at debug: plenty of log lines while the migrations run.
    let output = binary::Run::new(&["migrate", "--database", &folder.url("logs.db")])
        .env_remove("FERROGRAM_DATABASE_URL")
        .env("RUST_LOG", "debug")
        .output();
    assert!(output.status.success(), "migrate failed: {}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "standard output is the command's one line, not logs: {stdout}");
    assert!(lines[0].starts_with("applied migrations: "), "{stdout}");
    assert!(!stderr(&output).is_empty(), "the debug log lines went to standard error");
}
