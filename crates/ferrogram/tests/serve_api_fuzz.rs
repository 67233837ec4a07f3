//! The REST API v1 fuzzed from its own OpenAPI document (issue 14, item 5; docs/api.md,
//! "Fuzzing"): the built `ferrogram serve`, with its supervisor, on a real SQLite store with the
//! `default` workspace, an admin token and two running bots, is fuzzed by `schemathesis run` on
//! its `/api/openapi.json` with every check (`--checks all`): no 5xx, every status and body as
//! the document says, bad input refused, good input accepted. Bounded (a fixed seed, a number of
//! examples per operation, time budgets of 60 and 10 s) so it runs in under a minute and a half
//! on two cores; a failure fails the test with schemathesis' report and the end of `serve`'s
//! log. Afterwards `serve` must still run, with no panic in its log. The choices (two runs, the
//! per-operation statuses of conformance/schemathesis.toml) are explained where they are made.
//!
//! Skipped, loudly, when conformance/.venv has no schemathesis, unless
//! FERROGRAM_REQUIRE_CONFORMANCE=1 (as in CI; conformance/install.sh installs it).

#![cfg(unix)]

mod binary;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use binary::{TempFolder, ferrogram, serve_ports, text};
use serde_json::Value;
use tokio::time::Instant;

/// How long `serve` may take to start and run its bots.
const STARTUP: Duration = Duration::from_secs(60);
/// Each run's time budget, in seconds (`--max-time`): it stops there with its report.
/// The runs' time budgets, in seconds (`--max-time`: fuzzing and stateful testing repeat until it
/// is spent, then it stops with its report): every operation but one, and that one.
const MAX_TIME: &str = "60";
const MAX_TIME_REVOKE: &str = "10";
/// Past this a run is killed and the test fails (a fuzzer that hangs).
const FUZZ_BUDGET: Duration = Duration::from_secs(120);
/// Examples per operation (each operation also gets its negative and stateful phases).
const MAX_EXAMPLES: &str = "40";
/// Fixed, so a failure is reproduced by running the test again.
const SEED: &str = "20261207";

/// A bot named `name` answering `/hi`.
fn bot(name: &str) -> String {
    format!("ferrogram: 1\nbot:\n  name: {name}\non:\n  - command: hi\n    do:\n      - reply: \"hi from {name}\"\n")
}

/// The repository's conformance/ folder.
fn conformance() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
}

/// conformance/.venv/bin/schemathesis, when installed.
fn schemathesis() -> Option<PathBuf> {
    let path = conformance().join(".venv/bin/schemathesis");
    path.is_file().then_some(path)
}

/// A missing schemathesis: fails when CI requires the conformance tools, else says it is
/// skipped past the harness's output capture.
fn skip_or_fail(why: &str) {
    if std::env::var("FERROGRAM_REQUIRE_CONFORMANCE").is_ok_and(|v| v == "1") {
        panic!("API fuzzing: {why} (FERROGRAM_REQUIRE_CONFORMANCE=1; run conformance/install.sh)");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "\nSKIPPED API fuzzing: {why} (run conformance/install.sh)\n");
}

/// The last `lines` lines of `log`.
fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Polls `GET /api/v1/bots` until both bots run.
async fn wait_running(
    http: &reqwest::Client,
    server: &str,
    token: &str,
    child: &mut tokio::process::Child,
    log: &PathBuf,
) {
    let deadline = Instant::now() + STARTUP;
    loop {
        let answer = http.get(format!("{server}/api/v1/bots")).bearer_auth(token).send().await;
        if let Ok(answer) = answer
            && answer.status().is_success()
        {
            let list: Value = answer.json().await.unwrap_or(Value::Null);
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.len() == 2 && items.iter().all(|bot| bot["status"]["status"] == "running") {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("serve exited with {status}:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(
            Instant::now() < deadline,
            "the bots did not start:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_fuzzed_from_its_openapi_document_answers_as_documented() {
    let Some(schemathesis) = schemathesis() else {
        skip_or_fail("conformance/.venv/bin/schemathesis is missing");
        return;
    };
    let folder = TempFolder::new("api-fuzz");
    std::fs::create_dir_all(folder.0.join("bots")).unwrap();
    std::fs::write(folder.0.join("bots/echo.yaml"), bot("echo")).unwrap();
    std::fs::write(folder.0.join("bots/other.yaml"), bot("other")).unwrap();
    let database = format!("sqlite://{}", folder.0.join("fuzz.db").display());
    let issued = ferrogram(&["token", "issue", "fuzzer", "--role", "admin", "--database", &database]);
    assert!(issued.status.success(), "token issue failed: {}", text(&issued.stderr));
    let token = text(&issued.stdout).trim().to_owned();

    let (port, listen) = serve_ports();
    let (port_text, listen_text) = (port.to_string(), format!("127.0.0.1:{listen}"));
    let bots = folder.0.join("bots").display().to_string();
    let state = folder.0.join("sandbox.json").display().to_string();
    let args = ["serve", "--port", &port_text, "--bots", &bots, "--database", &database];
    // The fuzzer makes event webhooks with URLs of its own: they are queued, never sent (only
    // the loopback is ever a target here; docs/api.md, "Event webhooks").
    let config = folder.0.join("ferrogram.toml");
    std::fs::write(&config, "[webhooks]\ndeliver = false\n").unwrap();
    let config = config.display().to_string();
    let args = [&args[..], &["--sandbox-state", &state, "--listen", &listen_text, "--config", &config]].concat();
    let mut serve = binary::spawn(&folder.0, "serve.log", &args);
    let log = folder.0.join("serve.log");
    let server = format!("http://{listen_text}");
    let http = ferrogram_telegram::http_client().expect("http client");
    wait_running(&http, &server, &token, &mut serve, &log).await;

    let started = Instant::now();
    // Revoking a token may revoke the fuzzer's own (its id is small, as fuzzed ids are), after
    // which every request is a 401 and fuzzes nothing: that operation runs last, on its own.
    let bearer = format!("Authorization: Bearer {token}");
    let parts = [
        ("all but revoke_token", "--exclude-operation-id", MAX_TIME),
        ("revoke_token", "--include-operation-id", MAX_TIME_REVOKE),
    ];
    for (part, filter, budget) in parts {
        let args = [filter, "revoke_token", "--header", &bearer, "--max-time", budget];
        let (success, output) = fuzz(&schemathesis, &folder.0, &server, &args).await;
        let took = started.elapsed();
        let serve_log = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            success,
            "schemathesis found failures ({part}) in {took:?}:\n{output}\n--- serve's log (end) ---\n{}",
            tail(&serve_log, 60)
        );
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), "\nAPI fuzzing ({part}): passed in {took:?}\n{}", tail(&output, 14));
    }
    let serve_log = std::fs::read_to_string(&log).unwrap_or_default();

    assert!(matches!(serve.try_wait(), Ok(None)), "serve exited during the fuzzing:\n{}", tail(&serve_log, 60));
    assert!(!serve_log.contains("panicked"), "serve panicked during the fuzzing:\n{serve_log}");
    serve.kill().await.expect("serve killed");
}

/// `schemathesis run` on `server`'s document with every check, seeded, plus `args`:
/// whether it passed, and its report.
async fn fuzz(schemathesis: &Path, folder: &Path, server: &str, args: &[&str]) -> (bool, String) {
    let report = folder.join("schemathesis.txt");
    let out = std::fs::File::create(&report).expect("report file");
    let mut fuzzer = tokio::process::Command::new(schemathesis)
        .arg("--config-file")
        .arg(conformance().join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{server}/api/openapi.json"))
        .args(["--checks", "all", "--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--generation-database", ":memory:"])
        .args(["--workers", "1", "--no-color"])
        .args(args)
        .current_dir(folder)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("report file"))
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .expect("schemathesis starts");
    let status = match tokio::time::timeout(FUZZ_BUDGET, fuzzer.wait()).await {
        Ok(status) => status.expect("schemathesis ran"),
        Err(_) => {
            let _ = fuzzer.kill().await;
            let output = std::fs::read_to_string(&report).unwrap_or_default();
            panic!("schemathesis ran past {FUZZ_BUDGET:?}:\n{}", tail(&output, 80));
        }
    };
    (status.success(), std::fs::read_to_string(&report).unwrap_or_default())
}
