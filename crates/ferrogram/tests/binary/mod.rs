//! What the tests that run the built `ferrogram` binary share: a temporary folder of their
//! own, starting the binary (only through [`Run`], which checks what it printed for the tests'
//! secrets: [`leaks`]), and its JSON calls to the sandbox it started.

pub mod fleet;
pub mod leaks;
mod run;
pub mod serve;
pub mod telegram;

pub use run::{Guarded, Run};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// A fresh folder of a test's own under the temporary directory, removed when dropped. Test
/// files add what they need of it (a URL of a database file in it, a file written in it) as an
/// `impl` of their own.
// Not every test file that includes this module makes one.
#[allow(dead_code)]
pub struct TempFolder(pub PathBuf);

#[allow(dead_code)]
impl TempFolder {
    /// `ferrogram-KIND-PID-N` under the temporary directory, N counting the folders this test
    /// process made; a folder left there by an earlier process of the same id is removed first.
    pub fn new(kind: &str) -> TempFolder {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("ferrogram-{kind}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temporary folder");
        TempFolder(path)
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `ferrogram ARGS` run to its end, without the server's database settings or API token from the
/// environment the tests run in: its exit status and output, checked for leaks.
#[allow(dead_code)]
pub fn ferrogram(args: &[&str]) -> std::process::Output {
    Run::new(args)
        .env_remove("FERROGRAM_DATABASE_URL")
        .env_remove("FERROGRAM_DATABASE_TLS_MODE")
        .env_remove("FERROGRAM_DATABASE_TLS_CA")
        .env_remove("FERROGRAM_API_TOKEN")
        .output()
}

/// Output bytes as text.
#[allow(dead_code)]
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A loopback port free now (the OS's choice; another process may take it before it is used).
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

/// A port that is free, and whose next one is free too (`serve`'s sandbox and its stand-in model).
#[allow(dead_code)]
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let port = free_port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two free ports in a row");
}

/// Ports for a `serve`: the sandbox's pair (`--sandbox-port`, the next one its stand-in model's)
/// and a third free one for the listener.
#[allow(dead_code)]
pub fn serve_ports() -> (u16, u16) {
    let sandbox = free_port_pair();
    loop {
        let listen = free_port();
        if listen != sandbox && listen != sandbox + 1 {
            return (sandbox, listen);
        }
    }
}

/// Starts `ferrogram ARGS` in `folder`, its standard output and error written to `folder/LOG`,
/// killed when the handle is dropped (and its log checked for leaks then).
pub fn spawn(folder: &Path, log: &str, args: &[&str]) -> Guarded {
    Run::new(args).current_dir(folder).spawn(&folder.join(log))
}

/// A GET (no `body`) or a JSON POST to `url`: the answer's JSON, or why there is none (a
/// connection refused while the binary starts, a status that is not a success).
pub async fn request(http: &reqwest::Client, url: String, body: Option<Value>) -> Result<Value, String> {
    let builder = match body {
        Some(body) => http.post(url).json(&body),
        None => http.get(url),
    };
    let response = builder.send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    response.json().await.map_err(|e| e.to_string())
}

/// The texts of the bot's messages (`sent`) and edits (`edited`) in `user`'s chat of the
/// sandbox at `url`, after the event `after`, until one satisfies `done`: that text, or a panic
/// naming what the bot said once `within` has passed.
#[allow(dead_code)]
pub async fn sandbox_said(
    http: &reqwest::Client,
    url: &str,
    (bot_id, user): (i64, i64),
    mut after: i64,
    within: std::time::Duration,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let events = request(
            http,
            format!("{url}/sandbox/events?bot_id={bot_id}&chat_id={user}&kind=sent,edited&after={after}&timeout=5"),
            None,
        )
        .await
        .expect("events");
        after = events["last"].as_i64().unwrap_or(after);
        for event in events["events"].as_array().into_iter().flatten() {
            let text = event["message"]["text"].as_str().unwrap_or_default().to_owned();
            if done(&text) {
                return text;
            }
            seen.push(text);
        }
        assert!(tokio::time::Instant::now() < deadline, "no awaited answer; the bot said: {seen:?}");
    }
}
