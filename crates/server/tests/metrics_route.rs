//! `/metrics` over real HTTP after real traffic: the recorder installed as `serve` installs it,
//! an engine running a bot that polls the sandbox, users' messages handled (one handler
//! failing), and the exposition scraped from the listener and parsed: each count exact.
//!
//! The recorder is global, once per process: this file (its own process) holds one test.
//! Every wait has a deadline; nothing sleeps a fixed time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferrogram_engine::{Engine, EngineConfig};
use serde_json::{Value, json};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(20);
const BOT: &str = r#"
ferrogram: 1
bot: {name: echo}
errors: {reply: "Sorry"}
on:
  - text: fail
    do:
      # Loopback is refused by the address rule: the step fails, the errors reply is sent.
      - http: {url: "http://127.0.0.1:9/refused"}
  - text: any
    do:
      - reply: "You said: {{ message.text }}"
"#;

/// A JSON call to the sandbox's control API.
async fn control(http: &reqwest::Client, sandbox: &str, path: &str, body: Option<Value>) -> Value {
    let request = match body {
        Some(body) => http.post(format!("{sandbox}{path}")).json(&body),
        None => http.get(format!("{sandbox}{path}")),
    };
    let response = request.send().await.expect("the sandbox answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.expect("JSON")
}

/// The samples of a Prometheus text exposition: `(name, labels) -> value`.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let rest = rest.strip_suffix('}').unwrap_or_else(|| panic!("closed labels: {line}"));
                let labels = rest
                    .split(',')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or_else(|| panic!("a label: {line}"));
                        (key.to_owned(), value.trim_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
            None => (series, BTreeMap::new()),
        };
        samples.insert((name.to_owned(), labels), value);
    }
    samples
}

/// The value of the sample `name` with exactly `labels`; 0 when there is none.
fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    samples.get(&(name.to_owned(), labels)).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_received_handled_and_sent_updates_per_bot() {
    let handle = ferrogram_server::metrics::install().expect("the first recorder of the process");
    assert!(ferrogram_server::metrics::install().is_err(), "a second recorder is refused");

    let sandbox = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox");
    let engine = Arc::new(Engine::new(EngineConfig::default()));
    let routes = ferrogram_server::Routes { api: None, metrics: Some(handle) };
    let listening =
        ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), Arc::clone(&engine), routes).await.unwrap();
    let http = reqwest::Client::new();

    let bot_id = 4343u64;
    let token = format!("{bot_id}:secret-token");
    control(&http, &sandbox.url(), "/sandbox/bots", Some(json!({"token": token}))).await;
    let ann = control(&http, &sandbox.url(), "/sandbox/users", Some(json!({"first_name": "Ann"}))).await["id"]
        .as_i64()
        .expect("user id");
    let file = ferrogram_schema::load_str(BOT, "echo.yaml").expect("valid bot file");
    let running = engine.add_bot(file, &token, &sandbox.url()).await.expect("bot starts");

    const N: u64 = 5;
    for i in 0..N {
        let text = format!("hello {i}");
        control(
            &http,
            &sandbox.url(),
            "/sandbox/act/text",
            Some(json!({"bot_id": bot_id, "user_id": ann, "text": text})),
        )
        .await;
    }
    control(
        &http,
        &sandbox.url(),
        "/sandbox/act/text",
        Some(json!({"bot_id": bot_id, "user_id": ann, "text": "fail"})),
    )
    .await;
    // Counted after each commit and delivery: once N + 1 are handled, every count is in.
    let updates = N + 1;
    let mut handled = engine.handled(running).expect("bot runs");
    tokio::time::timeout(WAIT, handled.wait_for(|n| *n >= updates)).await.expect("handled in time").expect("bot runs");

    let deadline = Instant::now() + WAIT;
    let url = format!("http://{}/metrics", listening.addr());
    let samples = loop {
        let response = http.get(&url).send().await.expect("the listener answers");
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert_eq!(content_type, "text/plain; version=0.0.4");
        let text = response.text().await.expect("text");
        assert!(!text.contains("secret-token"), "no token in the metrics: {text}");
        let samples = parse(&text);
        let chat = ann.to_string();
        for (name, labels) in samples.keys() {
            assert!(labels.values().all(|value| *value != chat), "no chat id as a label: {name} {labels:?}");
        }
        let bot = bot_id.to_string();
        // The histogram's samples reach its buckets at the recorder's next upkeep or render.
        if value(&samples, "ferrogram_handler_duration_seconds_count", &[("bot", &bot)]) >= (N + 1) as f64 {
            break samples;
        }
        assert!(Instant::now() < deadline, "the handler durations were not counted: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let bot = bot_id.to_string();
    let n = N as f64;
    assert_eq!(value(&samples, "ferrogram_updates_received_total", &[("bot", &bot)]), n + 1.0);
    assert_eq!(value(&samples, "ferrogram_updates_handled_total", &[("bot", &bot), ("outcome", "ok")]), n);
    assert_eq!(value(&samples, "ferrogram_updates_handled_total", &[("bot", &bot), ("outcome", "failed")]), 1.0);
    assert_eq!(value(&samples, "ferrogram_updates_handled_total", &[("bot", &bot), ("outcome", "set_aside")]), 0.0);
    assert_eq!(value(&samples, "ferrogram_handler_duration_seconds_count", &[("bot", &bot)]), n + 1.0);
    let le_inf = [("bot", bot.as_str()), ("le", "+Inf")];
    assert_eq!(value(&samples, "ferrogram_handler_duration_seconds_bucket", &le_inf), n + 1.0);
    assert!(value(&samples, "ferrogram_handler_duration_seconds_sum", &[("bot", &bot)]) > 0.0);
    // N echoes and the failed handler's errors reply.
    let send_ok = [("bot", bot.as_str()), ("method", "sendMessage"), ("outcome", "ok")];
    assert_eq!(value(&samples, "ferrogram_bot_api_calls_total", &send_ok), n + 1.0);
    for outcome in ["refused", "retried", "error"] {
        let labels = [("bot", bot.as_str()), ("method", "sendMessage"), ("outcome", outcome)];
        assert_eq!(value(&samples, "ferrogram_bot_api_calls_total", &labels), 0.0, "{outcome}");
    }

    // Every call settled: nothing is being sent or held.
    assert_eq!(
        samples.get(&("ferrogram_outbox_pending".to_owned(), [("bot".to_owned(), bot.clone())].into())),
        Some(&0.0)
    );

    engine.stop(running).await.expect("stops");
    listening.stop();
}
