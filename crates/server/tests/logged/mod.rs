//! The in-process server's share of the suite's leak guard (issue 13 item 4; the binary's is
//! `crates/ferrogram/tests/binary/leaks.rs`): every line the server logs through `tracing` while
//! the API tests run is kept by a subscriber [`install`]ed for the test process, and
//! [`assert_clean`] fails a test when one of them, or an error answer ([`check_answer`]), holds a
//! secret the tests [`register`]ed: the API tokens they issued, sessions, stored secrets.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::{Mutex, Once};

static LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static SECRETS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Where the subscriber writes: [`LINES`].
struct Sink;

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LINES.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the recording subscriber (debug and above, every target) once per test process.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(|| Sink)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the tests' log subscriber");
    });
}

/// Adds a secret every later check looks for.
pub fn register(secret: &str) {
    if secret.len() >= 6 {
        SECRETS.lock().unwrap_or_else(|e| e.into_inner()).insert(secret.to_owned());
    }
}

/// Every line logged so far.
pub fn lines() -> String {
    String::from_utf8_lossy(&LINES.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// A secret as a failure shows it: its first three characters and its length.
fn mask(secret: &str) -> String {
    format!("{}…[{} chars]", secret.chars().take(3).collect::<String>(), secret.chars().count())
}

/// The lines of `text` holding a registered secret, masked; `Err` lists them.
pub fn check(what: &str, text: &str) -> Result<(), String> {
    let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    check_with(what, text, &secrets)
}

/// The lines of `text` holding one of `secrets`, masked; `Err` lists them.
pub fn check_with<'a>(
    what: &str,
    text: &str,
    secrets: impl IntoIterator<Item = &'a String> + Clone,
) -> Result<(), String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let held: Vec<&String> = secrets.clone().into_iter().filter(|s| line.contains(s.as_str())).collect();
        if !held.is_empty() {
            let shown = held.iter().fold(line.to_owned(), |line, secret| line.replace(secret.as_str(), &mask(secret)));
            found.push(format!("  {what}: {shown}"));
        }
    }
    if found.is_empty() { Ok(()) } else { Err(format!("a secret leaked:\n{}", found.join("\n"))) }
}

/// Fails when a line logged so far holds a registered secret.
pub fn assert_clean() {
    if let Err(leak) = check("log", &lines()) {
        panic!("{leak}");
    }
}

/// Fails when an error answer (status 400 and above) shows a registered secret.
pub fn check_answer(status: u16, body: &str) {
    if status >= 400
        && let Err(leak) = check(&format!("answer {status}"), body)
    {
        panic!("{leak}");
    }
}
