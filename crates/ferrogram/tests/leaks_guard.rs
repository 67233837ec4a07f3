//! The leak guard of the suite (`binary/leaks.rs`, issue 13 item 4) cannot go away silently:
//! these tests fail when it no longer fires on a child that prints a secret it was given or one
//! the suite registered, and when a test file starts the binary other than through `binary::Run`
//! (whose checks would then not see that child's output).

mod binary;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use binary::{Run, TempFolder, leaks};

/// The panic message of `f`, which must panic.
fn failure(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the leak guard did not fire");
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload.downcast::<&str>().map(|m| m.to_string()).unwrap_or_default(),
    }
}

/// A token given in the arguments that the binary prints back (clap names the unknown
/// subcommand on standard error) fails the run, the line shown with the token masked.
#[test]
fn a_child_printing_the_token_it_was_given_fails_the_test() {
    let token = "987654:guard-SECRET-given";
    let message = failure(|| {
        Run::new(&[token]).output();
    });
    assert!(message.contains("a secret leaked"), "{message}");
    assert!(message.contains("(stderr), line 1: ") && message.contains("987…[25 chars]"), "{message}");
    assert!(!message.contains(token), "the guard's own message shows the token: {message}");
}

/// The same child started with its output in a log file fails when its handle is dropped.
#[tokio::test]
async fn a_logged_child_is_checked_when_dropped() {
    let folder = TempFolder::new("leaks");
    let token = "fg_guardSECRETlogged";
    let mut child = Run::new(&[token]).current_dir(&folder.0).spawn(&folder.0.join("child.log"));
    let status = child.wait().await.expect("the child ends");
    assert!(!status.success());
    let message = failure(move || drop(child));
    assert!(message.contains("child.log") && message.contains("fg_…[20 chars]"), "{message}");
    assert!(!message.contains(token), "{message}");
}

/// A token parsed from an output that may print it (`token issue`) is registered, and any later
/// child that prints it fails, though that child was not given it.
#[test]
fn a_token_printed_by_token_issue_is_watched_for_afterwards() {
    let folder = TempFolder::new("leaks");
    let database = format!("sqlite://{}", folder.0.join("guard.db").display());
    let issued = Run::new(&["token", "issue", "guard", "--role", "admin", "--database", &database])
        .env_remove("FERROGRAM_DATABASE_URL")
        .secret_stdout()
        .output();
    assert!(issued.status.success(), "{}", binary::text(&issued.stderr));
    let token = binary::text(&issued.stdout).trim().to_owned();
    assert!(leaks::known().contains(&token), "the issued token was not registered");
    // `sh -c 'echo TOKEN'` stands for a child that leaks what the suite registered.
    let message = failure(|| {
        Run::new::<&str>(&[]).under_shell(&format!("echo '{token}'")).output();
    });
    assert!(message.contains("(stdout), line 1: fg_"), "{message}");
    assert!(!message.contains(&token), "{message}");
}

/// The secrets a child is handed are found where the guard says: flags, variables, input, files.
#[test]
fn the_secrets_given_to_a_child_are_found() {
    let folder = TempFolder::new("leaks");
    std::fs::write(folder.0.join("bot.yaml"), "bot:\n  name: x\n  token: 112233:from-a-FILE\n").unwrap();
    let args: Vec<String> = ["run", "bot.yaml", "--token", "handed-over", "--database", "postgres://u:pa55word@h/db"]
        .map(str::to_owned)
        .to_vec();
    let env = vec![
        ("FERROGRAM_SECRET_KEY".to_owned(), "k".repeat(64)),
        ("FERROGRAM_LOG_FORMAT".to_owned(), "json".to_owned()),
    ];
    let (secrets, key_files) = leaks::given(&args, &env, Some("stdin-secret\n"), &folder.0);
    for expected in ["112233:from-a-FILE", "handed-over", "pa55word", &"k".repeat(64), "stdin-secret"] {
        assert!(secrets.iter().any(|s| s == expected), "{expected} not found in {secrets:?}");
    }
    assert!(!secrets.iter().any(|s| s == "json"), "{secrets:?}");
    assert!(key_files.contains(&folder.0.join("data/secret.key")), "{key_files:?}");
}

/// Every test file starts the binary through `binary::Run` only: nothing else names it.
#[test]
fn every_test_starts_the_binary_through_the_guard() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files = Vec::new();
    let mut folders = vec![tests.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("tests folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let runner = tests.join("binary/run.rs");
    let name = concat!("CARGO_BIN_EXE_", "ferrogram");
    let bypassing: Vec<String> = files
        .iter()
        .filter(|file| **file != runner)
        .filter(|file| std::fs::read_to_string(file).unwrap_or_default().contains(name))
        .map(|file| file.display().to_string())
        .collect();
    assert!(bypassing.is_empty(), "these start ferrogram without binary::Run (its leak check): {bypassing:?}");
    assert!(files.len() > 20, "the scan found only {} test files", files.len());
}
