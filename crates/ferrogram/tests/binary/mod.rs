//! What the tests that run the built `ferrogram` binary share: starting it, and its JSON calls
//! to the sandbox it started.

pub mod serve;

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;
use tokio::process::{Child, Command};

/// Starts `ferrogram ARGS` in `folder`, its standard output and error written to `folder/LOG`,
/// killed when the handle is dropped.
pub fn spawn(folder: &Path, log: &str, args: &[&str]) -> Child {
    let log = std::fs::File::create(folder.join(log)).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_ferrogram"))
        .args(args)
        .current_dir(folder)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("ferrogram starts")
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
