//! Backups to an S3-compatible object store: moto's S3 server (`moto_server`, installed into
//! conformance/.venv by conformance/install.sh, or the one `MOTO_SERVER` names) on a free
//! loopback port. `serve` backs a counting bot's database up every second to a bucket; the
//! database is deleted; `ferrogram restore --latest` brings it back from the bucket, and the
//! bot, served again, goes on counting where it was. Retention keeps exactly `backup.keep`
//! and leaves objects it did not name alone. PostgreSQL's backup (every bot's export) goes
//! through the same bucket when the test database is reachable.
//!
//! Skipped, loudly, when moto is missing, unless FERROGRAM_REQUIRE_CONFORMANCE=1 (as in CI).

#[allow(dead_code)]
mod binary;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use binary::serve::{STARTUP, Serve, database_url, scratch};
use tokio::time::Instant;

const BUCKET: &str = "backups";
const KEEP: usize = 2;

/// moto's server, or why there is none.
fn moto_server() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/.venv/bin/moto_server");
    if venv.exists() { Ok(venv) } else { Err(format!("{} is missing", venv.display())) }
}

/// A running `moto_server`, killed when dropped.
struct Moto {
    child: tokio::process::Child,
    endpoint: String,
}

impl Moto {
    async fn start(program: &Path, folder: &Path) -> Moto {
        let port = binary::free_port();
        let log = std::fs::File::create(folder.join("moto.log")).expect("log file");
        let child = tokio::process::Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
        let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let http = http();
        let deadline = Instant::now() + STARTUP;
        loop {
            if http.get(format!("{}/", moto.endpoint)).send().await.is_ok_and(|r| r.status().is_success()) {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited with {status}: {}", read(&folder.join("moto.log")));
            }
            assert!(Instant::now() < deadline, "moto_server did not answer: {}", read(&folder.join("moto.log")));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// moto accepts any credentials; it checks the requests' form, which is what is tested.
    async fn create_bucket(&self) {
        let answer = http().put(format!("{}/{BUCKET}", self.endpoint)).send().await.expect("moto");
        assert!(answer.status().is_success(), "create bucket: {}", answer.status());
    }

    /// Puts an object of someone else's under the prefix.
    async fn put(&self, key: &str, body: &'static str) {
        let url = format!("{}/{BUCKET}/{key}", self.endpoint);
        let answer = http().put(url).body(body).send().await.expect("moto");
        assert!(answer.status().is_success(), "put {key}: {}", answer.status());
    }

    /// Whether the bucket lists `key` (moto refuses unsigned reads of objects, not listings).
    async fn exists(&self, key: &str) -> bool {
        let url = format!("{}/{BUCKET}?list-type=2&prefix={key}", self.endpoint);
        let listing = http().get(url).send().await.expect("moto").text().await.expect("listing");
        listing.contains(&format!("<Key>{key}</Key>"))
    }
}

/// The shared HTTP client (with the process's TLS provider installed).
fn http() -> reqwest::Client {
    ferrogram_telegram::http_client().expect("http client")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The backup settings, as environment variables of `serve` and the commands.
fn backup_env(moto: &Moto, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FERROGRAM_BACKUP_TO", format!("s3://{BUCKET}/{prefix}")),
        ("FERROGRAM_BACKUP_S3_ENDPOINT", moto.endpoint.clone()),
        ("FERROGRAM_BACKUP_KEEP", KEEP.to_string()),
        ("AWS_ACCESS_KEY_ID", "ferrogram-test".into()),
        ("AWS_SECRET_ACCESS_KEY", "ferrogram-test-secret".into()),
    ]
}

fn run(env: &[(&'static str, String)], args: &[&str]) -> Output {
    binary::Run::new(args).env_remove("FERROGRAM_DATABASE_URL").env_remove("FERROGRAM_CONFIG").envs(env).output()
}

fn lines(output: &Output) -> Vec<String> {
    assert!(output.status.success(), "failed: {}", binary::text(&output.stderr));
    binary::text(&output.stdout).lines().map(str::to_owned).collect()
}

/// Counts each user's texts.
const COUNTER: &str = r##"ferrogram: 1
bot:
  name: counter
variables:
  user:
    count: {type: number, default: 0}
on:
  - text: any
    do:
      - set: {user.count: "{{ user.count + 1 }}"}
      - reply: "#{{ user.count }} {{ message.text }}"
"##;

/// `user` sends `text` to `bot` and waits for the reply: its text.
async fn ask(serve: &Serve, bot: i64, user: i64, text: &str) -> String {
    let seq = serve.send(bot, user, text).await.expect("sent");
    let deadline = Instant::now() + STARTUP;
    loop {
        let path = format!("/sandbox/events?bot_id={bot}&chat_id={user}&kind=sent&after={seq}&timeout=1");
        let events = serve.get(&path).await.expect("events");
        let replies: Vec<String> = events["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|event| event["message"]["text"].as_str().map(str::to_owned))
            .collect();
        if let Some(reply) = replies.into_iter().find(|reply| reply.ends_with(text)) {
            return reply;
        }
        assert!(Instant::now() < deadline, "no reply to {text}:\n{}", serve.log());
    }
}

/// Waits until `serve`'s log has said `what` more than `seen` times; the count.
async fn logged(serve: &Serve, what: &str, seen: usize) -> usize {
    let deadline = Instant::now() + STARTUP;
    loop {
        let count = serve.log().matches(what).count();
        if count > seen {
            return count;
        }
        assert!(Instant::now() < deadline, "not logged: {what}\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The name of the last backup `serve` logged as taken.
fn last_backup_logged(log: &str) -> String {
    let line = log.lines().rfind(|line| line.contains("backup taken")).expect("a backup logged");
    let start = line.find("ferrogram-2").expect("a backup name");
    let end = line[start..].find(".sqlite").expect("a .sqlite name") + start + ".sqlite".len();
    line[start..end].to_owned()
}

#[tokio::test]
async fn serve_backs_up_to_s3_and_restore_brings_the_bots_back() {
    let program = match moto_server() {
        Ok(program) => program,
        Err(why) => {
            if std::env::var("FERROGRAM_REQUIRE_CONFORMANCE").is_ok_and(|v| v == "1") {
                panic!("moto_server: {why} (FERROGRAM_REQUIRE_CONFORMANCE=1; run conformance/install.sh)");
            }
            eprintln!("\nSKIPPED backup_s3: moto_server: {why} (run conformance/install.sh)\n");
            return;
        }
    };
    let folder = scratch("backup-s3");
    let moto = Moto::start(&program, &folder).await;
    moto.create_bucket().await;
    moto.put("ferrogram/notes.txt", "not a backup").await;
    std::fs::write(folder.join("bots/counter.yaml"), COUNTER).expect("bot file");
    let env = backup_env(&moto, "ferrogram");
    let mut serve_env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
    serve_env.push(("FERROGRAM_BACKUP_EVERY", "1s"));

    // Two messages counted, then a backup taken after them: the second to start after the
    // replies (the first may have been under way), and more than `keep` in all.
    let mut serve = Serve::start(&folder, "serve.log", &[], &serve_env);
    let bot = serve.running(&["counter"]).await[0];
    let user = serve.user("Ann").await;
    assert_eq!(ask(&serve, bot, user, "one").await, "#1 one");
    assert_eq!(ask(&serve, bot, user, "two").await, "#2 two");
    let replied = serve.log().matches("backup taken").count();
    let mut taken = replied;
    while taken < replied + 2 || taken <= KEEP {
        taken = logged(&serve, "backup taken", taken).await;
    }
    logged(&serve, "old backups deleted", 0).await;
    serve.signal("TERM").await;
    let status = tokio::time::timeout(STARTUP, serve.child.wait()).await.expect("serve stops").expect("status");
    assert!(status.success(), "serve: {status}\n{}", serve.log());
    let log = serve.log();
    assert!(!log.contains("backup failed"), "{log}");
    assert!(!log.contains("ferrogram-test-secret"), "the secret key is never printed");
    // Read once serve is stopped: no backup is taken after it.
    let scheduled = last_backup_logged(&log);

    // Retention keeps exactly `keep`, and what it did not name.
    let newest = run(&env, &["backup", "now", "--database", &database_url(&folder)]);
    let newest = lines(&newest)[0].rsplit_once(" as ").map(|(_, name)| name.to_owned()).expect("a name");
    let listed = lines(&run(&env, &["backup", "list"]));
    assert_eq!(listed.len(), KEEP, "{listed:?}");
    assert_eq!(listed.last(), Some(&newest));
    assert!(moto.exists("ferrogram/notes.txt").await);
    assert!(moto.exists(&format!("ferrogram/{newest}")).await);

    // The database deleted and restored from the bucket: the bot counts on.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(folder.join(format!("serve.db{suffix}")));
    }
    // The last backup `serve` took (kept: only the one `backup now` took is newer).
    assert!(listed.contains(&scheduled), "{scheduled} in {listed:?}");
    let restored = lines(&run(&env, &["restore", &scheduled, "--database", &database_url(&folder)]));
    assert!(restored[0].contains(&scheduled) && restored[0].contains("1 bot(s)"), "{restored:?}");
    let mut serve = Serve::start(&folder, "serve2.log", &[], &[]);
    serve.running(&["counter"]).await;
    assert_eq!(ask(&serve, bot, user, "three").await, "#3 three");
    serve.signal("TERM").await;
    let _ = tokio::time::timeout(STARTUP, serve.child.wait()).await;

    // S3 refusing is an error with its reason: here a missing bucket.
    let mut missing = backup_env(&moto, "x");
    missing[0].1 = "s3://no-such-bucket/x".into();
    let output = run(&missing, &["backup", "list"]);
    assert!(!output.status.success());
    assert!(binary::text(&output.stderr).contains("NoSuchBucket"), "{}", binary::text(&output.stderr));

    postgres_through_the_bucket(&moto, &folder).await;
    let _ = std::fs::remove_dir_all(&folder);
}

/// PostgreSQL's backup, every bot's export, restored into SQLite from the same bucket.
async fn postgres_through_the_bucket(moto: &Moto, folder: &Path) {
    let url = "postgres://postgres@127.0.0.1:5432/test";
    let Ok(store) = ferrogram_store::Store::open(url).await else {
        if std::env::var("FERROGRAM_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
            panic!("PostgreSQL at {url} is not reachable (FERROGRAM_REQUIRE_POSTGRES=1)");
        }
        eprintln!("\nSKIPPED backup_s3 postgres: {url} is not reachable\n");
        return;
    };
    // A bot of this test's own, whatever else the shared test database holds.
    let name = format!("backup-s3-{}", std::process::id());
    let bot = ferrogram_core::sandbox_bot_id(&name);
    let value = serde_json::json!({"kept": true});
    store.set_var(bot, ferrogram_engine::Scope::Bot, "state", Some(&value)).await.expect("set");
    store.close().await;
    let env = backup_env(moto, "postgres");
    let output = run(&env, &["backup", "now", "--database", url]);
    let name_line = lines(&output);
    assert!(name_line[0].ends_with(".json"), "{name_line:?}");
    let target = format!("sqlite://{}", folder.join("from-postgres.db").display());
    let restored = lines(&run(&env, &["restore", "--latest", "--database", &target]));
    assert!(restored[0].contains("restored"), "{restored:?}");
    let copy = ferrogram_store::Store::open(&target).await.expect("restored database");
    let vars = copy.load_vars(bot, ferrogram_engine::Scope::Bot).await.expect("vars");
    copy.close().await;
    assert_eq!(vars.get("state"), Some(&value));
    // The shared test database is left as it was found.
    let store = ferrogram_store::Store::open(url).await.expect("postgres");
    store.set_var(bot, ferrogram_engine::Scope::Bot, "state", None).await.expect("unset");
    store.close().await;
}
