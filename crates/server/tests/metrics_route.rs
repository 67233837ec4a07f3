//! `/metrics` over real HTTP after real traffic: the recorder installed as `serve` installs it,
//! an engine running a bot that polls the sandbox, users' messages handled (one handler
//! failing, replies meeting an injected 429 and 502), a model asked, a host failing until its
//! circuit opens, scheduled jobs running, and the exposition scraped from the listener and
//! parsed: each count exact, or bounded where a job's schedule makes it grow.
//!
//! The recorder is global, once per process: this file (its own process) holds one test.
//! Every wait has a deadline; nothing sleeps a fixed time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

mod scrape;

use ferrogram_engine::{Engine, EngineConfig, HttpConfig};
use scrape::{Samples, parse, value};
use serde_json::{Value, json};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(20);

/// The bot: echoes, fails on `fail` (loopback is refused by the address rule: the step fails,
/// the errors reply is sent), asks the stand-in model on `/ask` and answers with the tokens it
/// reported, asks an overloaded model (503) on `/overload`; two jobs every second, one setting
/// a variable, one calling a refused private address.
fn bot(model: &str) -> String {
    format!(
        r#"
ferrogram: 1
bot: {{name: echo}}
errors: {{reply: "Sorry"}}
variables:
  bot:
    ticks: {{type: number, default: 0}}
jobs:
  tick:
    every: 1s
    do:
      - set: {{bot.ticks: "{{{{ bot.ticks + 1 }}}}"}}
  broken:
    every: 1s
    do:
      - http: {{url: "http://10.255.255.1:9/down", retries: 0}}
on:
  - command: ask
    do:
      - llm: {{url: "{model}/llm/v1", model: "sandbox", prompt: "How long do refunds take?", reply: false, as: answer}}
      - reply: "tokens {{{{ answer.tokens.prompt }}}} {{{{ answer.tokens.completion }}}}"
  - command: overload
    do:
      - llm: {{url: "{model}/llm/v1", model: "overloaded", prompt: "Hello?", reply: false, retries: 2}}
  - text: fail
    do:
      - http: {{url: "http://127.0.0.1:9/refused"}}
  - text: any
    do:
      - reply: "You said: {{{{ message.text }}}}"
"#
    )
}

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

/// The stand-in language model on a port of its own: its URL.
async fn model_server() -> (String, u16) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("address").port();
    let app: axum::Router = axum::Router::new().nest("/llm", ferrogram_sandbox::stand_in_llm::router());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("model server") });
    (format!("http://127.0.0.1:{port}"), port)
}

/// Scrapes `/metrics` until `ready` holds (the histograms' samples reach their buckets at the
/// recorder's upkeep or the next render; jobs run on their schedule), checking what every
/// scrape must hold on the way.
async fn scrape_until(http: &reqwest::Client, url: &str, chat: i64, ready: impl Fn(&Samples) -> bool) -> Samples {
    let deadline = Instant::now() + WAIT;
    loop {
        let response = http.get(url).send().await.expect("the listener answers");
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert_eq!(content_type, "text/plain; version=0.0.4");
        let text = response.text().await.expect("text");
        assert!(!text.contains("secret-token"), "no token in the metrics: {text}");
        let samples = parse(&text);
        let chat = chat.to_string();
        for (name, labels) in samples.keys() {
            assert!(labels.values().all(|value| *value != chat), "no chat id as a label: {name} {labels:?}");
            assert!(labels.values().all(|value| !value.contains('/')), "no URL as a label: {name} {labels:?}");
        }
        if ready(&samples) {
            return samples;
        }
        assert!(Instant::now() < deadline, "the metrics did not come: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_updates_calls_requests_and_jobs_per_bot() {
    let handle = ferrogram_server::metrics::install().expect("the first recorder of the process");
    assert!(ferrogram_server::metrics::install().is_err(), "a second recorder is refused");

    // The sandbox's own flood limits off: the only 429 is the one injected below.
    let mut sandbox_config = ferrogram_sandbox::Config::default();
    sandbox_config.limits.enabled = false;
    let sandbox = ferrogram_sandbox::Sandbox::start(sandbox_config).await.expect("sandbox");
    let (model, model_port) = model_server().await;
    let http_config = HttpConfig {
        allow_private: vec![("127.0.0.1".into(), model_port)],
        breaker_threshold: 3,
        breaker_open: Duration::from_secs(600),
        retry_base: Duration::from_millis(10),
        ..HttpConfig::default()
    };
    let engine = Arc::new(Engine::new(EngineConfig { http: http_config, ..EngineConfig::default() }));
    let routes = ferrogram_server::Routes { metrics: Some(handle), ..Default::default() };
    let listening =
        ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), Arc::clone(&engine), routes).await.unwrap();
    let http = reqwest::Client::new();
    let sandbox_url = sandbox.url();

    let bot_id = 4343u64;
    let token = format!("{bot_id}:secret-token");
    control(&http, &sandbox_url, "/sandbox/bots", Some(json!({"token": token}))).await;
    let ann = control(&http, &sandbox_url, "/sandbox/users", Some(json!({"first_name": "Ann"}))).await["id"]
        .as_i64()
        .expect("user id");
    let file = ferrogram_schema::load_str(&bot(&model), "echo.yaml").expect("valid bot file");
    let running = engine.add_bot(file, &token, &sandbox_url).await.expect("bot starts");
    let mut handled = engine.handled(running).expect("bot runs");
    let mut updates = 0u64;
    // Acts as Ann and waits until the bot handled it, its replies delivered.
    let mut act = async |kind: &str, body: Value| {
        let mut body = body;
        body["bot_id"] = json!(bot_id);
        body["user_id"] = json!(ann);
        let acted = control(&http, &sandbox_url, &format!("/sandbox/act/{kind}"), Some(body)).await;
        updates += 1;
        let count = updates;
        tokio::time::timeout(WAIT, handled.wait_for(|n| *n >= count)).await.expect("handled in time").expect("runs");
        acted["seq"].as_u64().expect("the event's seq")
    };

    const N: u64 = 5;
    for i in 0..N {
        act("text", json!({"text": format!("hello {i}")})).await;
    }
    act("text", json!({"text": "fail"})).await;
    // The next reply meets a 429 (the scheduler pauses the chat and sends it again), the one
    // after it a 502 (sent again after a backoff).
    let fault = |status: u16| json!({"count": 1, "status": status, "retry_after": 1, "methods": ["sendMessage"]});
    control(&http, &sandbox_url, &format!("/sandbox/bots/{bot_id}/faults"), Some(fault(429))).await;
    act("text", json!({"text": "slow down"})).await;
    control(&http, &sandbox_url, &format!("/sandbox/bots/{bot_id}/faults"), Some(fault(502))).await;
    act("text", json!({"text": "gateway"})).await;
    let asked = act("command", json!({"command": "ask"})).await;
    let reply = control(
        &http,
        &sandbox_url,
        &format!("/sandbox/events?bot_id={bot_id}&chat_id={ann}&kind=sent&after={asked}&timeout=5"),
        None,
    )
    .await;
    let reply = reply["events"][0]["message"]["text"].as_str().expect("the tokens reply").to_owned();
    let tokens: Vec<f64> = reply.split(' ').skip(1).map(|n| n.parse().expect("a number")).collect();
    let [prompt, completion] = tokens[..] else { panic!("{reply}") };
    assert!(prompt > 0.0 && completion > 0.0, "{reply}");
    // Three attempts answered 503 open the circuit of 127.0.0.1; the next call is not made.
    act("command", json!({"command": "overload"})).await;
    act("command", json!({"command": "overload"})).await;

    let url = format!("http://{}/metrics", listening.addr());
    let bot = bot_id.to_string();
    let b = bot.as_str();
    let handled_updates = updates as f64;
    let samples = scrape_until(&http, &url, ann, |samples| {
        value(samples, "ferrogram_handler_duration_seconds_count", &[("bot", b)]) >= handled_updates
            && value(samples, "ferrogram_job_runs_total", &[("bot", b), ("job", "tick"), ("outcome", "ok")]) >= 1.0
            && value(samples, "ferrogram_job_runs_total", &[("bot", b), ("job", "broken"), ("outcome", "failed")])
                >= 1.0
    })
    .await;

    // Updates: each of Ann's actions received and handled once; "fail" and the two overloads
    // failed (their errors reply sent).
    let n = N as f64;
    assert_eq!(value(&samples, "ferrogram_updates_received_total", &[("bot", b)]), handled_updates);
    assert_eq!(value(&samples, "ferrogram_updates_handled_total", &[("bot", b), ("outcome", "ok")]), n + 3.0);
    assert_eq!(value(&samples, "ferrogram_updates_handled_total", &[("bot", b), ("outcome", "failed")]), 3.0);
    assert_eq!(value(&samples, "ferrogram_updates_handled_total", &[("bot", b), ("outcome", "set_aside")]), 0.0);
    assert_eq!(value(&samples, "ferrogram_handler_duration_seconds_count", &[("bot", b)]), handled_updates);
    assert_eq!(
        value(&samples, "ferrogram_handler_duration_seconds_bucket", &[("bot", b), ("le", "+Inf")]),
        handled_updates
    );
    assert!(value(&samples, "ferrogram_handler_duration_seconds_sum", &[("bot", b)]) > 0.0);

    // Bot API calls: every request, whoever made it. The N echoes, three errors replies, the
    // two faulted replies and the tokens reply went through; each fault cost one more request.
    let calls = |method: &str, outcome: &str| {
        value(&samples, "ferrogram_bot_api_calls_total", &[("bot", b), ("method", method), ("outcome", outcome)])
    };
    let sent = n + 6.0;
    assert_eq!(calls("sendMessage", "ok"), sent);
    assert_eq!(calls("sendMessage", "rate_limited"), 1.0);
    assert_eq!(calls("sendMessage", "error"), 1.0);
    assert_eq!(calls("sendMessage", "refused"), 0.0);
    assert_eq!(calls("deleteWebhook", "ok"), 1.0, "polling clears a webhook first");
    assert!(calls("getUpdates", "ok") >= 1.0);
    let retries = |reason: &str| {
        value(&samples, "ferrogram_bot_api_retries_total", &[("bot", b), ("method", "sendMessage"), ("reason", reason)])
    };
    assert_eq!(retries("rate_limited"), 1.0);
    assert_eq!(retries("error"), 1.0);
    assert_eq!(value(&samples, "ferrogram_flood_pauses_total", &[("bot", b), ("scope", "chat")]), 1.0);
    assert_eq!(value(&samples, "ferrogram_flood_pauses_total", &[("bot", b), ("scope", "bot")]), 0.0);
    // Each send waited in the flood scheduler once, before its first attempt.
    let waits = [("bot", b), ("priority", "interactive")];
    assert_eq!(value(&samples, "ferrogram_flood_queue_wait_seconds_count", &waits), sent);
    let le_inf = [("bot", b), ("priority", "interactive"), ("le", "+Inf")];
    assert_eq!(value(&samples, "ferrogram_flood_queue_wait_seconds_bucket", &le_inf), sent);
    let le_hour = [("bot", b), ("priority", "interactive"), ("le", "3600")];
    assert_eq!(value(&samples, "ferrogram_flood_queue_wait_seconds_bucket", &le_hour), sent, "its own buckets");

    // The steps' HTTP requests by host: the model answered once; three attempts at the
    // overloaded one answered 503, then its circuit was open; "fail" was refused; the broken
    // job's target is refused each time it runs.
    let requests = |host: &str, outcome: &str| {
        value(&samples, "ferrogram_http_requests_total", &[("bot", b), ("host", host), ("outcome", outcome)])
    };
    assert_eq!(requests("127.0.0.1", "ok"), 1.0);
    assert_eq!(requests("127.0.0.1", "server_error"), 3.0);
    assert_eq!(requests("127.0.0.1", "circuit_open"), 1.0);
    assert_eq!(requests("127.0.0.1", "refused"), 1.0);
    assert_eq!(requests("127.0.0.1", "error"), 0.0);
    let broken = value(&samples, "ferrogram_job_runs_total", &[("bot", b), ("job", "broken"), ("outcome", "failed")]);
    let refused = requests("10.255.255.1", "refused");
    assert!(refused >= broken && refused <= broken + 1.0, "{refused} requests, {broken} failed runs");
    assert_eq!(value(&samples, "ferrogram_job_runs_total", &[("bot", b), ("job", "broken"), ("outcome", "ok")]), 0.0);
    assert_eq!(value(&samples, "ferrogram_job_runs_total", &[("bot", b), ("job", "tick"), ("outcome", "failed")]), 0.0);
    assert_eq!(value(&samples, "ferrogram_http_circuit_open", &[("host", "127.0.0.1")]), 1.0);

    // The model's tokens, as it reported them to the step (and the step to the chat).
    assert_eq!(value(&samples, "ferrogram_llm_tokens_total", &[("bot", b), ("kind", "prompt")]), prompt);
    assert_eq!(value(&samples, "ferrogram_llm_tokens_total", &[("bot", b), ("kind", "completion")]), completion);

    // Everything handled and delivered: nothing waits in the inbox or the outbox.
    let present = |name: &str| samples.get(&(name.to_owned(), [("bot".to_owned(), bot.clone())].into())).copied();
    assert_eq!(present("ferrogram_inbox_pending"), Some(0.0));
    assert_eq!(present("ferrogram_outbox_pending"), Some(0.0));
    // The process's CPU time, written into each scrape.
    let cpu = samples.get(&("ferrogram_process_cpu_seconds_total".to_owned(), BTreeMap::new())).copied();
    assert!(cpu.is_some_and(|seconds| seconds > 0.0), "{cpu:?}");

    engine.stop(running).await.expect("stops");
    listening.stop();
}
