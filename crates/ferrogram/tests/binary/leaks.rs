//! The suite's leak guard (issue 13, item 4): no token or secret a test used may appear in what
//! the `ferrogram` binary printed. Every test starts the binary through [`super::Run`] (a test,
//! `leaks_guard.rs`, fails when a test file names the binary anywhere else), and `Run` checks
//! each line the child wrote, on stdout, stderr or its log file, when it is reaped or dropped.
//!
//! What is checked against every line: the secrets this child was given (found by [`given`]:
//! the value after `--token`, an environment variable whose name says token, secret key or
//! password, a database URL's password, a one-line standard input, anything shaped like a
//! Telegram bot token or an API token `fg_…` in its arguments, its environment or the files its
//! arguments name, and the secret key file its database uses, read when the check runs), and
//! every secret the test process [`register`]ed so far: the API tokens and secrets parsed from an
//! output that may print them ([`super::Run::secret_stdout`]), session cookies and the like. A
//! line holding one fails the test with the line, the secret masked.
//!
//! Secrets shorter than [`SHORTEST`] characters are not tracked (they would match by chance).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The shortest secret tracked.
pub const SHORTEST: usize = 6;

static KNOWN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Adds `secret` to the secrets every later check looks for.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() >= SHORTEST {
        KNOWN.lock().unwrap_or_else(|e| e.into_inner()).insert(secret.to_owned());
    }
}

/// Every secret registered so far.
pub fn known() -> Vec<String> {
    KNOWN.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
}

/// A secret as a failure may show it: its first three characters and its length.
pub fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(3).collect();
    format!("{head}…[{} chars]", secret.chars().count())
}

/// The lines of `output` (named `what`) that hold one of `secrets`, each with the secrets masked;
/// `Err` lists them.
pub fn check(what: &str, output: &str, secrets: &[String]) -> Result<(), String> {
    let mut found = Vec::new();
    for (number, line) in output.lines().enumerate() {
        let held: Vec<&String> = secrets.iter().filter(|secret| line.contains(secret.as_str())).collect();
        if held.is_empty() {
            continue;
        }
        let mut shown = line.to_owned();
        for secret in held {
            shown = shown.replace(secret.as_str(), &mask(secret));
        }
        found.push(format!("  {what}, line {}: {shown}", number + 1));
    }
    if found.is_empty() {
        return Ok(());
    }
    // `what` may name the command, whose arguments may hold the secrets too.
    let report = format!("a secret leaked into what ferrogram printed:\n{}", found.join("\n"));
    Err(secrets.iter().fold(report, |report, secret| report.replace(secret.as_str(), &mask(secret))))
}

/// [`check`] against `own` and every registered secret, panicking on a leak.
pub fn assert_clean(what: &str, output: &str, own: &[String]) {
    let mut secrets = known();
    secrets.extend(own.iter().filter(|s| s.chars().count() >= SHORTEST).cloned());
    if let Err(leak) = check(what, output, &secrets) {
        panic!("{leak}");
    }
}

/// The words of `text` shaped like a token: an API token (`fg_` and at least 8 more letters,
/// digits, `_` or `-`) or a Telegram bot token (3 or more digits, `:`, 6 or more of those).
pub fn tokens_in(text: &str) -> Vec<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':';
    let mut tokens = Vec::new();
    for piece in text.split(|c: char| !word(c)) {
        if let Some(rest) = piece.strip_prefix("fg_")
            && rest.len() >= 8
            && !rest.contains(':')
        {
            tokens.push(piece.to_owned());
        }
        if let Some((id, secret)) = piece.split_once(':')
            && id.len() >= 3
            && id.bytes().all(|b| b.is_ascii_digit())
            && secret.len() >= 6
            && !secret.contains(':')
        {
            tokens.push(piece.to_owned());
        }
    }
    tokens
}

/// Whether an environment variable of this name holds a secret itself (not a file or URL of one).
fn secret_variable(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    let says = ["TOKEN", "SECRET_KEY", "PASSWORD", "SECRET"].iter().any(|word| name.contains(word));
    says && !name.ends_with("_FILE") && !name.ends_with("_URL") && !name.ends_with("_ENV")
}

/// The password of a database URL (`postgres://user:PASSWORD@host/db`), if it has one.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then(|| password.to_owned())
}

/// The secrets a child was handed and the key files whose content is one: see the module's
/// header. `dir` is the child's working folder (relative paths).
pub fn given(
    args: &[String],
    env: &[(String, String)],
    input: Option<&str>,
    dir: &Path,
) -> (Vec<String>, Vec<PathBuf>) {
    let mut secrets = Vec::new();
    let mut key_files = Vec::new();
    let path = |text: &str| dir.join(text);
    for (index, arg) in args.iter().enumerate() {
        let flag = index.checked_sub(1).map(|i| args[i].as_str());
        match flag {
            Some("--token") | Some("--password") => secrets.push(arg.clone()),
            Some("--secret-key-file") => key_files.push(path(arg)),
            Some("--database") => {
                secrets.extend(url_password(arg));
                if let Some(file) = arg.strip_prefix("sqlite://") {
                    let file = file.split('?').next().unwrap_or(file);
                    key_files.push(path(&format!("{file}.key")));
                }
            }
            _ => {}
        }
        secrets.extend(tokens_in(arg));
        secrets.extend(tokens_in_file(&path(arg)));
    }
    for (name, value) in env {
        if secret_variable(name) {
            secrets.push(value.clone());
        }
        if name == "FERROGRAM_SECRETS_KEY_FILE" {
            key_files.push(path(value));
        }
        if name == "FERROGRAM_DATABASE_URL" {
            secrets.extend(url_password(value));
        }
        secrets.extend(tokens_in(value));
    }
    key_files.push(dir.join("data/secret.key"));
    if let Some(input) = input {
        let trimmed = input.trim();
        if !trimmed.is_empty() && !trimmed.contains('\n') {
            secrets.push(trimmed.to_owned());
        }
        secrets.extend(tokens_in(input));
    }
    secrets.retain(|secret| secret.chars().count() >= SHORTEST);
    (secrets, key_files)
}

/// The tokens in the file at `path`, or in the files of the folder at `path` (not below it);
/// nothing for what is not there or is larger than a megabyte.
fn tokens_in_file(path: &Path) -> Vec<String> {
    const LARGEST: u64 = 1 << 20;
    let read = |file: &Path| match std::fs::metadata(file) {
        Ok(meta) if meta.is_file() && meta.len() <= LARGEST => std::fs::read_to_string(file).ok(),
        _ => None,
    };
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else { return Vec::new() };
        return entries.flatten().filter_map(|entry| read(&entry.path())).flat_map(|text| tokens_in(&text)).collect();
    }
    read(path).map(|text| tokens_in(&text)).unwrap_or_default()
}

/// The content of each key file of `key_files` present now.
pub fn key_file_secrets(key_files: &[PathBuf]) -> Vec<String> {
    key_files.iter().filter_map(|file| std::fs::read_to_string(file).ok()).map(|key| key.trim().to_owned()).collect()
}
