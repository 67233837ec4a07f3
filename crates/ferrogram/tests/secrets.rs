//! Secrets at rest through the built binary (decision 0034): bots whose tokens were stored with
//! `ferrogram bot add FILE --token T` run under `serve` against a stand-in Telegram (a
//! `ferrogram sandbox` process, which checks each token it is sent: it answers only the bots it
//! knows and refuses a revoked token), a stored token winning over the file's `bot.token`. The
//! key file is created with mode 0600 beside the database, which never holds a token in clear;
//! `bot list` says a token is stored; `export` leaves tokens out unless `--with-secrets`, whose
//! document `import` seals again under another database's key; a wrong key, a key file others
//! may read and a malformed token are refused clearly; `secrets rotate` replaces the key file and
//! `serve` runs on with the new one. Then every output of every command and both `serve` logs
//! (and the `/metrics` scrape) are searched for the tokens used: only the `--with-secrets`
//! export may hold one. Every wait polls with a deadline.

#![cfg(unix)]

mod binary;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use binary::telegram::{ask, is, serve_against, stand_in_telegram, status_until, user};
use binary::{TempFolder, request, text};
use serde_json::{Value, json};

const VAULT: &str = "656565:vault-SECRET-token";
const VAULT_ID: i64 = 656_565;
/// Stored for `both`, whose file also has a `bot.token` (`FILE_TOKEN`): the stored one wins.
const BOTH: &str = "636363:both-SECRET-stored";
const BOTH_ID: i64 = 636_363;
const BOTH_FILE: &str = "626262:both-SECRET-in-file";
const GONE: &str = "646464:gone-SECRET-revoked";
const GONE_ID: i64 = 646_464;
/// Every token this test uses, and their secret parts: none may appear in what Ferrogram prints.
const TOKENS: [&str; 4] = [VAULT, BOTH, BOTH_FILE, GONE];

/// A bot named `name` answering `/hi` with `answer`, with `token` as its `bot.token` if any.
fn bot(name: &str, token: Option<&str>, answer: &str) -> String {
    let token = token.map(|token| format!("  token: \"{token}\"\n")).unwrap_or_default();
    format!("ferrogram: 1\nbot:\n  name: {name}\n{token}on:\n  - command: hi\n    do:\n      - reply: \"{answer}\"\n")
}

/// Everything Ferrogram printed during the test, but the `--with-secrets` exports.
#[derive(Default)]
struct Printed(Vec<(String, String)>);

impl Printed {
    /// Fails on the first token (or its secret part) found.
    fn assert_no_token(&self) {
        for (what, printed) in &self.0 {
            for token in TOKENS {
                let secret = token.split_once(':').map_or(token, |(_, secret)| secret);
                assert!(!printed.contains(secret), "{what} shows the token {token}:\n{printed}");
            }
        }
    }
}

/// The test's folder: `bots/`, the database `fleet.db` and its key file `fleet.db.key`.
struct Fixture {
    folder: TempFolder,
    printed: Printed,
}

impl Fixture {
    fn url(&self) -> String {
        format!("sqlite://{}", self.folder.0.join("fleet.db").display())
    }

    fn key_file(&self) -> PathBuf {
        self.folder.0.join("fleet.db.key")
    }

    /// `ferrogram ARGS` in the folder, with only the `FERROGRAM_*` variables of `env` and
    /// `input` on its standard input; its output is recorded (unless `secret_output`).
    fn run(&mut self, args: &[&str], env: &[(&str, &str)], input: &str, secret_output: bool) -> Output {
        let run = binary::Run::new(args).current_dir(&self.folder.0).without_ferrogram_env().envs(env).input(input);
        let output = if secret_output { run.secret_stdout().output() } else { run.output() };
        let what = format!("ferrogram {}", args.join(" "));
        if !secret_output {
            self.printed.0.push((format!("{what} (stdout)"), text(&output.stdout)));
        }
        self.printed.0.push((format!("{what} (stderr)"), text(&output.stderr)));
        output
    }

    /// [`Fixture::run`], which must succeed: its standard output.
    fn ok(&mut self, args: &[&str]) -> String {
        let output = self.run(args, &[], "", false);
        assert!(output.status.success(), "{args:?}: {}{}", text(&output.stdout), text(&output.stderr));
        text(&output.stdout)
    }

    /// [`Fixture::run`], which must fail: its standard error.
    fn fails(&mut self, args: &[&str], env: &[(&str, &str)]) -> String {
        let output = self.run(args, env, "", false);
        assert!(!output.status.success(), "{args:?} succeeded: {}", text(&output.stdout));
        text(&output.stderr)
    }

    /// Starts `serve` against the stand-in Telegram at `telegram`, its output in `log`: the
    /// child and its listener's URL.
    fn serve(&self, telegram: &str, log: &str) -> (binary::Guarded, String) {
        let (child, server, _) =
            serve_against(&self.folder, &self.url(), telegram, log, ("FILE_TOKEN", BOTH_FILE), false, &[]);
        (child, server)
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.folder.0.join(name)).unwrap_or_default()
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("the key file").permissions().mode() & 0o777
}

/// The SQLite database's files, as bytes.
fn database_bytes(folder: &Path) -> Vec<u8> {
    ["fleet.db", "fleet.db-wal"].iter().flat_map(|name| std::fs::read(folder.join(name)).unwrap_or_default()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_tokens_run_their_bots_and_never_show_up() {
    let folder = TempFolder::new("secrets");
    std::fs::create_dir_all(folder.0.join("bots")).unwrap();
    let mut fx = Fixture { folder, printed: Printed::default() };
    let url = fx.url();
    let bots = fx.folder.0.join("bots");
    std::fs::write(bots.join("vault.yaml"), bot("vault", None, "from the vault")).unwrap();
    std::fs::write(bots.join("both.yaml"), bot("both", Some("${FILE_TOKEN}"), "stored wins")).unwrap();
    std::fs::write(bots.join("gone.yaml"), bot("gone", None, "never")).unwrap();
    let other = fx.folder.0.join("other.yaml");
    std::fs::write(&other, bot("other", None, "other")).unwrap();
    let (vault_file, both_file, gone_file) = (
        bots.join("vault.yaml").display().to_string(),
        bots.join("both.yaml").display().to_string(),
        bots.join("gone.yaml").display().to_string(),
    );

    // A malformed token: refused before anything is saved, without repeating it.
    let refused = fx.fails(&["bot", "add", &vault_file, "--token", "not-a-token-SECRET-x", "--database", &url], &[]);
    assert!(refused.contains("--token: not a bot token (expected BOT_ID:SECRET"), "{refused}");
    assert!(!fx.key_file().exists() && !fx.folder.0.join("fleet.db").exists(), "nothing made");

    // Stored: the key file made at first use, 0600, beside the database.
    let output = fx.run(&["bot", "add", &vault_file, "--token", VAULT, "--database", &url], &[], "", false);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "added vault (version 1); token stored (encrypted)");
    assert!(text(&output.stderr).contains("created the secret key file"), "{}", text(&output.stderr));
    assert_eq!(mode(&fx.key_file()), 0o600);
    let first_key = std::fs::read_to_string(fx.key_file()).unwrap();
    // From standard input; the file's own bot.token is not the one used.
    let output =
        fx.run(&["bot", "add", &both_file, "--token", "-", "--database", &url], &[], &format!("{BOTH}\n"), false);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "added both (version 1); token stored (encrypted)");
    assert!(text(&output.stderr).contains("both: the stored token is used, not the file's bot.token"));
    assert_eq!(
        fx.ok(&["bot", "add", &gone_file, "--token", GONE, "--database", &url]).trim(),
        "added gone (version 1); token stored (encrypted)"
    );
    assert_eq!(
        fx.ok(&["bot", "add", &gone_file, "--token", GONE, "--database", &url]).trim(),
        "gone: unchanged; token unchanged"
    );
    assert_eq!(std::fs::read_to_string(fx.key_file()).unwrap(), first_key, "the key file is made once");

    // Listed as stored, never shown; and not in the database's bytes.
    let listed = fx.ok(&["bot", "list", "--database", &url]);
    for name in ["vault", "both", "gone"] {
        let line =
            listed.lines().find(|line| line.starts_with(&format!("default/{name}: version 1"))).unwrap_or_default();
        assert!(line.ends_with("(Telegram, token stored)"), "{listed}");
    }
    let bytes = database_bytes(&fx.folder.0);
    assert!(!bytes.is_empty());
    for token in [VAULT, BOTH, GONE] {
        assert!(!bytes.windows(token.len()).any(|window| window == token.as_bytes()), "{token} in the database");
    }

    // Served: each bot runs on the stand-in Telegram with its stored token.
    let http = ferrogram_telegram::http_client().expect("http client");
    let (telegram, _telegram) = stand_in_telegram(&fx.folder, &http).await;
    let api_token = fx.ok(&["token", "issue", "ops", "--database", &url]).trim().to_owned();
    let (serve, server) = fx.serve(&telegram, "serve.log");
    let log = fx.folder.0.join("serve.log");
    for name in ["vault", "both", "gone"] {
        status_until(&http, &server, &api_token, name, &log, is("running")).await;
    }
    let ann = user(&http, &telegram).await;
    let log_name = log.display().to_string();
    assert_eq!(ask(&http, &telegram, VAULT_ID, ann, &log_name).await, "from the vault");
    assert_eq!(ask(&http, &telegram, BOTH_ID, ann, &log_name).await, "stored wins");
    let known = request(&http, format!("{telegram}/sandbox/bots"), None).await.expect("bots");
    let mut ids: Vec<i64> = known.as_array().unwrap().iter().filter_map(|bot| bot["id"].as_i64()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [BOTH_ID, GONE_ID, VAULT_ID], "the file's token of both was never used: {known}");

    // A token revoked: unauthorized, and its errors do not show it.
    request(&http, format!("{telegram}/sandbox/bots/{GONE_ID}/revoke"), Some(json!({}))).await.expect("revoked");
    let refused = status_until(&http, &server, &api_token, "gone", &log, is("unauthorized")).await;
    fx.printed.0.push(("gone's status".into(), refused.to_string()));
    let statuses = http.get(format!("{server}/api/v1/bots")).bearer_auth(&api_token).send().await.expect("statuses");
    fx.printed.0.push(("every status".into(), statuses.text().await.expect("text")));
    let metrics = http.get(format!("{server}/metrics")).send().await.expect("metrics");
    let metrics = metrics.text().await.expect("text");
    assert!(metrics.contains(&format!("bot=\"{VAULT_ID}\"")), "{metrics}");
    fx.printed.0.push(("/metrics".into(), metrics));

    // Another bot cannot take a stored bot's token.
    let other_file = other.display().to_string();
    let refused = fx.fails(&["bot", "add", &other_file, "--token", VAULT, "--database", &url], &[]);
    assert!(refused.contains("is default/vault already"), "{refused}");

    // Exports: no token unless asked; the asked one is sealed again by an import elsewhere.
    let plain = fx.ok(&["export", "vault", "--database", &url]);
    assert!(plain.contains("\"name\": \"vault\"") && !plain.contains("\"secrets\""), "{plain}");
    let output = fx.run(&["export", "vault", "--database", &url, "--with-secrets"], &[], "", true);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let full: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(full["secrets"], json!([{"name": "token", "value": VAULT}]));
    assert!(text(&output.stderr).contains("holds the bot's secrets in clear"));
    let document = fx.folder.0.join("vault-export.json");
    std::fs::write(&document, serde_json::to_vec(&full).unwrap()).unwrap();
    let elsewhere = format!("sqlite://{}", fx.folder.0.join("elsewhere.db").display());
    let imported = fx.ok(&["import", &document.display().to_string(), "--database", &elsewhere]);
    assert!(
        imported.starts_with(&format!("imported bot {VAULT_ID}: ")) && imported.trim().ends_with(", 1 secret"),
        "{imported}"
    );
    assert_ne!(std::fs::read_to_string(fx.folder.0.join("elsewhere.db.key")).unwrap(), first_key);
    let output = fx.run(&["export", "vault", "--database", &elsewhere, "--with-secrets"], &[], "", true);
    let again: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(again["secrets"], full["secrets"]);
    std::fs::remove_file(&document).unwrap();

    // A wrong key: refused with both key ids, never a token.
    let wrong = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let refused =
        fx.fails(&["export", "vault", "--database", &url, "--with-secrets"], &[("FERROGRAM_SECRET_KEY", wrong)]);
    assert!(refused.contains("encrypted with another key") && refused.contains("FERROGRAM_SECRET_KEY"), "{refused}");
    let refused =
        fx.fails(&["export", "vault", "--database", &url, "--with-secrets"], &[("FERROGRAM_SECRET_KEY", "abc")]);
    assert!(refused.contains("FERROGRAM_SECRET_KEY: not a secret key"), "{refused}");

    // Rotated while serve is down; a key file others may read stops the next start.
    drop(serve);
    let rotated = fx.ok(&["secrets", "rotate", "--database", &url]);
    assert!(
        rotated.starts_with("re-encrypted 3 secrets from key ")
            && rotated.contains("fleet.db.key now holds the new key"),
        "{rotated}"
    );
    let second_key = std::fs::read_to_string(fx.key_file()).unwrap();
    assert_ne!(second_key, first_key);
    assert_eq!(mode(&fx.key_file()), 0o600);
    assert!(!fx.folder.0.join("fleet.db.key.new").exists());
    let refused = fx.fails(
        &["export", "vault", "--database", &url, "--with-secrets"],
        &[("FERROGRAM_SECRET_KEY", first_key.trim())],
    );
    assert!(refused.contains("encrypted with another key"), "{refused}");
    std::fs::set_permissions(fx.key_file(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let refused = fx.fails(
        &["serve", "--database", &url, "--bots", &bots.display().to_string(), "--port", "0", "--listen", "127.0.0.1:0"],
        &[],
    );
    assert!(
        refused.contains("may be read or written by others (mode 640)") && refused.contains("chmod 600"),
        "{refused}"
    );
    std::fs::set_permissions(fx.key_file(), std::fs::Permissions::from_mode(0o600)).unwrap();

    // Served again, on the new key.
    let (_serve, server) = fx.serve(&telegram, "serve-again.log");
    let log = fx.folder.0.join("serve-again.log");
    status_until(&http, &server, &api_token, "vault", &log, is("running")).await;
    assert_eq!(ask(&http, &telegram, VAULT_ID, ann, &log.display().to_string()).await, "from the vault");

    // Nothing Ferrogram printed shows a token.
    for name in ["serve.log", "serve-again.log"] {
        let printed = fx.log(name);
        assert!(!printed.is_empty());
        fx.printed.0.push((name.to_owned(), printed));
    }
    fx.printed.assert_no_token();
}
