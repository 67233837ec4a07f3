//! `ferrogram serve` installs the metrics recorder at start and serves `/metrics` on its
//! listener. One process of the built binary with one bot, driven through its sandbox: a
//! message, a reply meeting an injected 429, the stand-in model asked, then an overloaded model
//! until its host's circuit opens, and a job failing every second. The scrape counts each of
//! them, says how many bots are in each status and the process's memory and CPU time.
//!
//! Then the Grafana dashboard (`docs/grafana/ferrogram.json`): every metric its queries name is
//! in that scrape, and every metric of the scrape is on it. With Prometheus installed
//! (`conformance/install.sh`; `PROMETHEUS=/path` picks another), a real Prometheus scrapes the
//! listener and evaluates every query of the dashboard: each must parse and return series.
//! Without it the Prometheus half prints a `SKIPPED` line, unless
//! `FERROGRAM_REQUIRE_CONFORMANCE=1` (CI). (The counts in detail are tested in-process:
//! `crates/server/tests/metrics_route.rs`, `tests/metrics_transcript.rs`.)

#![cfg(unix)]

#[allow(dead_code)]
mod binary;
// The scrape reader of the server crate's metrics test, shared.
#[path = "../../server/tests/scrape/mod.rs"]
mod scrape;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use binary::serve::{STARTUP, Serve, scratch};
use scrape::{Samples, names, sum, value};
use serde_json::{Value, json};
use tokio::time::Instant;

/// Echoes; `/setllm URL` points it at a model, `/ask` asks it and answers with the tokens,
/// `/overload` asks a model that answers 503 five times (the breaker's threshold); a job
/// calls a private address every second (refused: the job fails).
const BOT: &str = r#"
ferrogram: 1
bot: {name: ops}
errors: {reply: "Sorry"}
variables:
  bot:
    llm_url: {type: string, default: ""}
jobs:
  broken:
    every: 1s
    do:
      - http: {url: "http://10.255.255.1:9/down", retries: 0}
on:
  - command: setllm
    do:
      - set: {bot.llm_url: "{{ command.payload }}"}
      - reply: "Model: {{ bot.llm_url }}"
  - command: ask
    do:
      - llm: {url: "{{ bot.llm_url }}", model: "sandbox", prompt: "How long do refunds take?", reply: false, as: answer}
      - reply: "tokens {{ answer.tokens.prompt }} {{ answer.tokens.completion }}"
  - command: overload
    do:
      - llm: {url: "{{ bot.llm_url }}", model: "overloaded", prompt: "Hello?", reply: false, retries: 4}
  - text: any
    do:
      - reply: "You said: {{ message.text }}"
"#;

/// The dashboard's queries.
fn dashboard_queries() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/grafana/ferrogram.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard")).expect("JSON");
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        if panel["type"] == "row" {
            continue;
        }
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("a panel without queries: {panel}"));
        assert!(!targets.is_empty(), "a panel without queries: {}", panel["title"]);
        for target in targets {
            queries.push(target["expr"].as_str().expect("a query").to_owned());
        }
    }
    queries
}

/// The metric names a query reads: its words that start with `ferrogram_`.
fn metrics_of(query: &str) -> BTreeSet<String> {
    query
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("ferrogram_"))
        .map(str::to_owned)
        .collect()
}

/// A metric's family: a histogram's samples without `_bucket`, `_sum`, `_count`.
fn family(name: &str, histograms: &BTreeSet<String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix).filter(|base| histograms.contains(*base)) {
            return base.to_owned();
        }
    }
    name.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_serves_metrics_a_dashboard_can_use() {
    let folder = scratch("serve-metrics");
    std::fs::write(folder.join("bots/ops.yaml"), BOT).expect("bot file");
    let mut serve = Serve::start(&folder, "serve.log", &[], &[]);
    let bot = serve.running(&["ops"]).await[0];
    let ann = serve.user("Ann").await;
    let model_port = serve.url.rsplit(':').next().and_then(|port| port.parse::<u16>().ok()).expect("port") + 1;

    assert_eq!(serve.act(bot, ann, "text", json!({"text": "hello"})).await, "You said: hello");
    let fault = json!({"count": 1, "status": 429, "retry_after": 1, "methods": ["sendMessage"]});
    serve.post(&format!("/sandbox/bots/{bot}/faults"), fault).await.expect("fault added");
    assert_eq!(serve.act(bot, ann, "text", json!({"text": "slow down"})).await, "You said: slow down");
    let model = format!("http://127.0.0.1:{model_port}/llm/v1");
    let set = serve.act(bot, ann, "command", json!({"command": "setllm", "payload": model})).await;
    assert_eq!(set, format!("Model: {model}"));
    let tokens = serve.act(bot, ann, "command", json!({"command": "ask"})).await;
    assert!(tokens.starts_with("tokens "), "{tokens}");
    assert_eq!(serve.act(bot, ann, "command", json!({"command": "overload"})).await, "Sorry");

    let listener = serve.listening().await;
    let url = format!("{listener}/metrics");
    let b = bot.to_string();
    let b = b.as_str();
    let deadline = Instant::now() + STARTUP;
    let samples: Samples = loop {
        let response = serve.http.get(&url).send().await.expect("the listener answers");
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert_eq!(content_type, "text/plain; version=0.0.4");
        let samples = scrape::parse(&response.text().await.expect("text"));
        // The sandbox shows a reply before its answer reaches the bot: the call is counted, and
        // the outbox empty, a moment later.
        let failed_runs = [("bot", b), ("job", "broken"), ("outcome", "failed")];
        let outbox = samples.get(&("ferrogram_outbox_pending".to_owned(), [("bot".to_owned(), b.to_owned())].into()));
        if value(&samples, "ferrogram_handler_duration_seconds_count", &[("bot", b)]) >= 5.0
            && value(&samples, "ferrogram_job_runs_total", &failed_runs) >= 1.0
            && outbox == Some(&0.0)
        {
            break samples;
        }
        assert!(Instant::now() < deadline, "the metrics did not come: {samples:?}\nlog:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Five updates, the overloaded one failed (its errors reply sent).
    assert_eq!(value(&samples, "ferrogram_updates_received_total", &[("bot", b)]), 5.0);
    assert_eq!(value(&samples, "ferrogram_updates_handled_total", &[("bot", b), ("outcome", "ok")]), 4.0);
    assert_eq!(value(&samples, "ferrogram_updates_handled_total", &[("bot", b), ("outcome", "failed")]), 1.0);
    let calls = |method: &str, outcome: &str| {
        value(&samples, "ferrogram_bot_api_calls_total", &[("bot", b), ("method", method), ("outcome", outcome)])
    };
    assert_eq!(calls("sendMessage", "ok"), 5.0);
    assert_eq!(calls("sendMessage", "rate_limited"), 1.0);
    assert!(calls("getUpdates", "ok") >= 1.0);
    let retry = [("bot", b), ("method", "sendMessage"), ("reason", "rate_limited")];
    assert_eq!(value(&samples, "ferrogram_bot_api_retries_total", &retry), 1.0);
    assert_eq!(value(&samples, "ferrogram_flood_pauses_total", &[("bot", b), ("scope", "chat")]), 1.0);
    assert_eq!(sum(&samples, "ferrogram_flood_queue_wait_seconds_count", &[("bot", b)]), 5.0);
    // The model: answered once, then five 503s opened its host's circuit.
    let requests = |outcome: &str| {
        value(&samples, "ferrogram_http_requests_total", &[("bot", b), ("host", "127.0.0.1"), ("outcome", outcome)])
    };
    assert_eq!(requests("ok"), 1.0);
    assert_eq!(requests("server_error"), 5.0);
    assert_eq!(value(&samples, "ferrogram_http_circuit_open", &[("host", "127.0.0.1")]), 1.0);
    let told: Vec<f64> = tokens.split(' ').skip(1).map(|n| n.parse().expect("a number")).collect();
    assert_eq!(value(&samples, "ferrogram_llm_tokens_total", &[("bot", b), ("kind", "prompt")]), told[0]);
    assert_eq!(value(&samples, "ferrogram_llm_tokens_total", &[("bot", b), ("kind", "completion")]), told[1]);
    assert!(
        value(
            &samples,
            "ferrogram_http_requests_total",
            &[("bot", b), ("host", "10.255.255.1"), ("outcome", "refused")]
        ) >= 1.0
    );
    assert_eq!(value(&samples, "ferrogram_inbox_pending", &[("bot", b)]), 0.0);
    assert_eq!(value(&samples, "ferrogram_outbox_pending", &[("bot", b)]), 0.0);
    // Read at scrape time: the supervisor's one bot running, none in another status, and the
    // process's memory and CPU time.
    assert_eq!(value(&samples, "ferrogram_bots", &[("status", "running")]), 1.0);
    assert_eq!(value(&samples, "ferrogram_bots", &[("status", "failing")]), 0.0);
    assert!(value(&samples, "ferrogram_process_resident_memory_bytes", &[]) > f64::from(1u32 << 20));
    assert!(value(&samples, "ferrogram_process_cpu_seconds_total", &[]) > 0.0);

    // The dashboard reads only metrics the scrape has, and shows every one of them.
    let queries = dashboard_queries();
    let scraped = names(&samples);
    let used: BTreeSet<String> = queries.iter().flat_map(|query| metrics_of(query)).collect();
    let missing: Vec<_> = used.difference(&scraped).collect();
    assert!(missing.is_empty(), "the dashboard reads metrics /metrics does not have: {missing:?}");
    let histograms: BTreeSet<String> =
        scraped.iter().filter_map(|name| name.strip_suffix("_bucket")).map(str::to_owned).collect();
    let shown: BTreeSet<String> = used.iter().map(|name| family(name, &histograms)).collect();
    let unshown: Vec<_> =
        scraped.iter().map(|name| family(name, &histograms)).filter(|family| !shown.contains(family)).collect();
    assert!(unshown.is_empty(), "metrics the dashboard does not show: {unshown:?}");

    match prometheus() {
        Some(prometheus) => evaluate_in_prometheus(&prometheus, &folder, &listener, &queries, &serve.http).await,
        None => skip_or_fail("Prometheus is not installed (apt-get install prometheus, or PROMETHEUS=/path)"),
    }

    serve.child.kill().await.expect("ferrogram stopped");
    let _ = std::fs::remove_dir_all(&folder);
}

/// Prometheus: `PROMETHEUS`, else `prometheus` on the `PATH`.
fn prometheus() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PROMETHEUS") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("prometheus")).find(|file| file.is_file())
}

/// A missing Prometheus: fails when CI requires the conformance tools, else says it is skipped
/// past the harness's output capture.
fn skip_or_fail(why: &str) {
    if std::env::var("FERROGRAM_REQUIRE_CONFORMANCE").is_ok_and(|v| v == "1") {
        panic!("dashboard in Prometheus: {why} (FERROGRAM_REQUIRE_CONFORMANCE=1; run conformance/install.sh)");
    }
    use std::io::Write as _;
    let _ =
        writeln!(std::io::stderr().lock(), "\nSKIPPED dashboard in Prometheus: {why} (run conformance/install.sh)\n");
}

/// Runs Prometheus scraping `listener` every second and evaluates each of the dashboard's
/// `queries` (its variables given: every bot, a one-minute rate window) once it holds a few
/// scrapes: each must parse and give at least one series.
async fn evaluate_in_prometheus(
    prometheus: &Path,
    folder: &Path,
    listener: &str,
    queries: &[String],
    http: &reqwest::Client,
) {
    let target = listener.trim_start_matches("http://");
    let config = folder.join("prometheus.yml");
    let scrape = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: ferrogram\n    static_configs: [{{targets: ['{target}']}}]\n"
    );
    std::fs::write(&config, scrape).expect("prometheus.yml");
    let port = binary::free_port();
    let log = std::fs::File::create(folder.join("prometheus.log")).expect("log file");
    let mut child = tokio::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", folder.join("prometheus-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");
    let api = format!("http://127.0.0.1:{port}/api/v1/query");
    let query = async |expr: &str| -> Result<Value, String> {
        let response = http.get(&api).query(&[("query", expr)]).send().await.map_err(|e| e.to_string())?;
        response.json::<Value>().await.map_err(|e| e.to_string())
    };
    let prometheus_log = || std::fs::read_to_string(folder.join("prometheus.log")).unwrap_or_default();
    // Rates need two samples in their window; three scrapes of every series are plenty.
    let deadline = Instant::now() + STARTUP;
    loop {
        let scrapes = query("count_over_time(ferrogram_process_cpu_seconds_total[1m])").await;
        let count =
            scrapes.ok().and_then(|answer| answer["data"]["result"][0]["value"][1].as_str()?.parse::<u32>().ok());
        if count.is_some_and(|count| count >= 3) {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus did not scrape the listener; its log:\n{}", prometheus_log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for expr in queries {
        let expr = expr.replace("$__rate_interval", "1m").replace("$bot", ".*");
        let answer = query(&expr).await.unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
        let result = answer["data"]["result"].as_array().unwrap_or_else(|| panic!("{expr}: {answer}"));
        assert!(!result.is_empty(), "{expr} gives no series: {answer}");
    }
    child.kill().await.expect("prometheus stopped");
}
