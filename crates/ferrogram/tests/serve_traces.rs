//! `ferrogram serve` with `telemetry.otlp_endpoint` exports each update's trace over OTLP/HTTP
//! (JSON). The collector is a real HTTP server started here on 127.0.0.1 that takes
//! `POST /v1/traces`, checks its content type and decodes every body strictly against OTLP's
//! JSON encoding (unknown fields refused, ids in hex, times as decimal strings); the same server
//! is the API the bot's `http` step calls, and checks what it is sent. One `serve` process of the
//! built binary, driven through its sandbox: an echo, an `http` step, a failing step and an
//! `llm` step against the stand-in model. Each update is one root `update` span with the bot's
//! and chat's ids, its `handler`, `commit` and `sendMessage` spans children of it in its trace,
//! the steps' spans children of the handler, a failure an error status, the log lines of an
//! update carry its trace id, and no exported byte holds the bot's token or the step's keys.
//!
//! Then a collector that is not there: the bot answers all the same, a warning is logged, the
//! dropped spans are counted at `/metrics`, and the JSON logs carry the trace id too.

#![cfg(unix)]

#[allow(dead_code)]
mod binary;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use binary::serve::{STARTUP, Serve, scratch};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

/// The query key and header the `http` step sends: secrets that must not reach a span.
const QUERY_KEY: &str = "s3cr3t-query-key";
const HEADER_KEY: &str = "s3cr3t-header-key";

fn bot(api: &str) -> String {
    format!(
        r#"
ferrogram: 1
bot: {{name: traced}}
errors: {{reply: "Sorry"}}
variables:
  bot:
    llm_url: {{type: string, default: ""}}
on:
  - command: weather
    do:
      - http:
          url: "{api}/weather"
          query: {{city: Oslo, key: "{QUERY_KEY}"}}
          headers: {{X-Api-Key: "{HEADER_KEY}"}}
          retries: 0
      - reply: "{{{{ result.json.temp }}}} degrees"
  - command: broken
    do:
      - http: {{url: "http://10.255.255.1:9/down", retries: 0}}
      - reply: "unreachable"
  - command: setllm
    do:
      - set: {{bot.llm_url: "{{{{ command.payload }}}}"}}
      - reply: "Model set"
  - command: ask
    do:
      - llm: {{url: "{{{{ bot.llm_url }}}}", model: "sandbox", prompt: "How long do refunds take?", reply: false, as: answer}}
      - reply: "tokens {{{{ answer.tokens.prompt }}}}"
  - text: any
    do:
      - reply: "You said: {{{{ message.text }}}}"
"#
    )
}

// OTLP's JSON encoding of an ExportTraceServiceRequest (opentelemetry-proto's
// trace/v1/trace.proto, common/v1/common.proto): every field the exporter may write, no other.

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExportRequest {
    resource_spans: Vec<ResourceSpans>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ResourceSpans {
    resource: Resource,
    scope_spans: Vec<ScopeSpans>,
    #[serde(default)]
    #[allow(dead_code)]
    schema_url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Resource {
    attributes: Vec<KeyValue>,
    #[serde(default)]
    #[allow(dead_code)]
    dropped_attributes_count: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ScopeSpans {
    scope: Scope,
    spans: Vec<OtlpSpan>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Scope {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    version: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OtlpSpan {
    trace_id: String,
    span_id: String,
    #[serde(default)]
    parent_span_id: String,
    name: String,
    kind: u8,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    #[serde(default)]
    attributes: Vec<KeyValue>,
    #[serde(default)]
    events: Vec<SpanEvent>,
    #[serde(default)]
    status: Option<Status>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SpanEvent {
    time_unix_nano: String,
    #[allow(dead_code)]
    name: String,
    #[serde(default)]
    attributes: Vec<KeyValue>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Status {
    #[serde(default)]
    code: u8,
    #[serde(default)]
    message: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyValue {
    key: String,
    value: AnyValue,
}

/// One of the four scalar kinds; 64-bit integers as decimal strings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AnyValue {
    string_value: Option<String>,
    int_value: Option<String>,
    bool_value: Option<bool>,
    double_value: Option<f64>,
}

impl AnyValue {
    fn text(&self) -> String {
        let set = [
            self.string_value.is_some(),
            self.int_value.is_some(),
            self.bool_value.is_some(),
            self.double_value.is_some(),
        ];
        assert_eq!(set.iter().filter(|s| **s).count(), 1, "exactly one value kind: {self:?}");
        if let Some(int) = &self.int_value {
            int.parse::<i64>().unwrap_or_else(|_| panic!("intValue {int:?} is not a decimal int64"));
        }
        self.string_value
            .clone()
            .or_else(|| self.int_value.clone())
            .or_else(|| self.bool_value.map(|b| b.to_string()))
            .or_else(|| self.double_value.map(|x| x.to_string()))
            .unwrap_or_default()
    }
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        && text.chars().any(|c| c != '0')
}

impl OtlpSpan {
    fn attr(&self, key: &str) -> Option<String> {
        self.attributes.iter().find(|kv| kv.key == key).map(|kv| kv.value.text())
    }

    /// The checks every span passes: ids, times, kind, values.
    fn check(&self) {
        assert!(is_hex(&self.trace_id, 32), "traceId {:?}", self.trace_id);
        assert!(is_hex(&self.span_id, 16), "spanId {:?}", self.span_id);
        assert!(
            self.parent_span_id.is_empty() || is_hex(&self.parent_span_id, 16),
            "parentSpanId {:?}",
            self.parent_span_id
        );
        let start: u64 = self.start_time_unix_nano.parse().expect("startTimeUnixNano is a decimal uint64");
        let end: u64 = self.end_time_unix_nano.parse().expect("endTimeUnixNano is a decimal uint64");
        assert!(start > 1_600_000_000_000_000_000 && end >= start, "{start} {end}");
        assert!((1..=5).contains(&self.kind), "kind {}", self.kind);
        for kv in &self.attributes {
            kv.value.text();
        }
        for event in &self.events {
            event.time_unix_nano.parse::<u64>().expect("timeUnixNano");
            event.attributes.iter().for_each(|kv| {
                kv.value.text();
            });
        }
        if let Some(status) = &self.status {
            assert!(status.code <= 2, "status code {}", status.code);
        }
    }

    fn failed(&self) -> bool {
        self.status.as_ref().is_some_and(|status| status.code == 2 && !status.message.is_empty())
    }
}

/// What the collector and the API were sent.
#[derive(Default)]
struct Received {
    bodies: Vec<String>,
    spans: Vec<OtlpSpan>,
    services: Vec<String>,
    problems: Vec<String>,
    /// The `http` step's requests: query and `X-Api-Key`.
    weather: Vec<(HashMap<String, String>, Option<String>)>,
}

type Shared = Arc<Mutex<Received>>;

async fn traces(State(shared): State<Shared>, headers: HeaderMap, body: String) -> (StatusCode, &'static str) {
    let mut received = shared.lock().unwrap();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    if content_type != "application/json" {
        received.problems.push(format!("content type {content_type:?}"));
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}");
    }
    match serde_json::from_str::<ExportRequest>(&body) {
        Ok(request) => {
            for resource in request.resource_spans {
                let service = resource.resource.attributes.iter().find(|kv| kv.key == "service.name");
                received.services.push(service.map(|kv| kv.value.text()).unwrap_or_default());
                for scope in resource.scope_spans {
                    if scope.scope.name != "ferrogram" {
                        received.problems.push(format!("scope {:?}", scope.scope.name));
                    }
                    received.spans.extend(scope.spans);
                }
            }
            received.bodies.push(body);
            (StatusCode::OK, "{}")
        }
        Err(error) => {
            received.problems.push(format!("{error}: {body}"));
            (StatusCode::BAD_REQUEST, "{}")
        }
    }
}

async fn weather(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> axum::Json<Value> {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    shared.lock().unwrap().weather.push((query, key));
    axum::Json(json!({"temp": 21}))
}

/// The collector and API on a free loopback port: its base URL.
async fn collector(shared: Shared) -> String {
    let app = axum::Router::new().route("/v1/traces", post(traces)).route("/weather", get(weather)).with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("collector") });
    format!("http://{addr}")
}

/// `text` without its ANSI colour sequences (`ESC [ … m`), as a terminal shows it.
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The spans of the trace whose root `update` span is `root`.
fn trace_of<'a>(spans: &'a [OtlpSpan], root: &OtlpSpan) -> Vec<&'a OtlpSpan> {
    spans.iter().filter(|span| span.trace_id == root.trace_id).collect()
}

/// The one span named `name` of `trace` whose parent is `parent`.
fn child<'a>(trace: &[&'a OtlpSpan], name: &str, parent: &OtlpSpan) -> &'a OtlpSpan {
    let found: Vec<_> =
        trace.iter().filter(|span| span.name == name && span.parent_span_id == parent.span_id).collect();
    assert_eq!(found.len(), 1, "one {name} under {}: {trace:#?}", parent.name);
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_update_is_one_trace_exported_over_otlp_http() {
    let shared: Shared = Arc::default();
    let api = collector(Arc::clone(&shared)).await;
    let port = api.rsplit(':').next().expect("port").to_owned();
    let folder = scratch("serve-traces");
    std::fs::write(folder.join("bots/traced.yaml"), bot(&api)).expect("bot file");
    let allow = format!("127.0.0.1:{port}");
    let env = [
        ("FERROGRAM_TELEMETRY_OTLP_ENDPOINT", api.as_str()),
        ("FERROGRAM_TELEMETRY_SERVICE_NAME", "traces-test"),
        ("FERROGRAM_HTTP_ALLOW_PRIVATE", allow.as_str()),
    ];
    let mut serve = Serve::start(&folder, "serve.log", &[], &env);
    let bot = serve.running(&["traced"]).await[0];
    let ann = serve.user("Ann").await;
    let model_port = serve.url.rsplit(':').next().and_then(|port| port.parse::<u16>().ok()).expect("port") + 1;

    assert_eq!(serve.act(bot, ann, "text", json!({"text": "hello"})).await, "You said: hello");
    // One 429 on the next reply: its call is repeated once by the flood scheduler.
    let fault = json!({"count": 1, "status": 429, "retry_after": 1, "methods": ["sendMessage"]});
    serve.post(&format!("/sandbox/bots/{bot}/faults"), fault).await.expect("fault added");
    assert_eq!(serve.act(bot, ann, "text", json!({"text": "slow down"})).await, "You said: slow down");
    assert_eq!(serve.act(bot, ann, "command", json!({"command": "weather"})).await, "21 degrees");
    assert_eq!(serve.act(bot, ann, "command", json!({"command": "broken"})).await, "Sorry");
    let model = format!("http://127.0.0.1:{model_port}/llm/v1");
    assert_eq!(serve.act(bot, ann, "command", json!({"command": "setllm", "payload": model})).await, "Model set");
    assert!(serve.act(bot, ann, "command", json!({"command": "ask"})).await.starts_with("tokens "));
    // The API was really sent the keys that must stay out of the spans.
    {
        let received = shared.lock().unwrap();
        assert_eq!(received.weather.len(), 1);
        let (query, key) = &received.weather[0];
        assert_eq!(query.get("key").map(String::as_str), Some(QUERY_KEY));
        assert_eq!(key.as_deref(), Some(HEADER_KEY));
    }

    // Six updates: six root spans, each exported once its reply was delivered.
    let deadline = Instant::now() + STARTUP;
    let spans = loop {
        {
            let received = shared.lock().unwrap();
            assert!(received.problems.is_empty(), "the collector refused: {:?}", received.problems);
            let roots = received.spans.iter().filter(|span| span.name == "update").count();
            let sends =
                received.spans.iter().filter(|span| span.attr("telegram.method").as_deref() == Some("sendMessage"));
            if roots >= 6 && sends.count() >= 6 {
                break received.spans.clone();
            }
        }
        assert!(Instant::now() < deadline, "the spans did not come; log:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    spans.iter().for_each(OtlpSpan::check);
    let roots: Vec<&OtlpSpan> = spans.iter().filter(|span| span.name == "update").collect();
    assert_eq!(roots.len(), 6, "{roots:#?}");
    let mut trace_ids: Vec<&str> = roots.iter().map(|root| root.trace_id.as_str()).collect();
    trace_ids.sort_unstable();
    trace_ids.dedup();
    assert_eq!(trace_ids.len(), 6, "a trace per update");

    let (mut with_http, mut with_llm, mut failed) = (None, None, None);
    let mut retries = Vec::new();
    for root in &roots {
        assert!(root.parent_span_id.is_empty(), "a root: {root:?}");
        assert_eq!(root.kind, 2, "SERVER");
        assert_eq!(root.attr("ferrogram.bot_id"), Some(bot.to_string()));
        assert_eq!(root.attr("ferrogram.chat_id"), Some(ann.to_string()));
        assert!(root.attr("ferrogram.update_id").is_some());
        let trace = trace_of(&spans, root);
        let handler = child(&trace, "handler", root);
        assert_eq!(handler.attr("ferrogram.chat_id"), Some(ann.to_string()));
        let commit = child(&trace, "commit", root);
        assert!(!commit.failed(), "{commit:?}");
        let send = child(&trace, "telegram", root);
        assert_eq!(send.attr("telegram.method").as_deref(), Some("sendMessage"));
        assert_eq!(send.attr("ferrogram.outcome").as_deref(), Some("ok"));
        retries.push(send.attr("ferrogram.retries").expect("retries recorded"));
        assert_eq!(send.kind, 3, "CLIENT");
        // The root spans the whole path: it starts before its handler and ends after its reply.
        let nanos = |text: &str| text.parse::<u64>().unwrap();
        assert!(nanos(&root.start_time_unix_nano) <= nanos(&handler.start_time_unix_nano));
        assert!(nanos(&root.end_time_unix_nano) >= nanos(&send.end_time_unix_nano));
        assert!(nanos(&commit.start_time_unix_nano) >= nanos(&handler.end_time_unix_nano));
        assert!(nanos(&send.start_time_unix_nano) >= nanos(&commit.end_time_unix_nano));
        if trace.iter().any(|span| span.name == "http" && !span.failed()) {
            with_http = Some((*root, handler));
        }
        if trace.iter().any(|span| span.name == "llm") {
            with_llm = Some((*root, handler));
        }
        if root.failed() {
            failed = Some((*root, handler));
        }
    }

    // The reply that met a 429 was sent on its second try; the others on their first.
    retries.sort_unstable();
    assert_eq!(retries, ["0", "0", "0", "0", "0", "1"]);

    // The weather: an http span under the handler, with the host and status, not the URL.
    let (root, handler) = with_http.expect("a trace with an http span");
    let trace = trace_of(&spans, root);
    let http: Vec<_> = trace.iter().filter(|span| span.name == "http").collect();
    let weather = http.iter().find(|span| !span.failed()).expect("the weather call");
    assert_eq!(weather.parent_span_id, handler.span_id);
    assert_eq!(weather.attr("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(weather.attr("http.request.method").as_deref(), Some("GET"));
    assert_eq!(weather.attr("http.response.status_code").as_deref(), Some("200"));
    assert_eq!(weather.kind, 3);

    // The broken step: the http span, the handler and the update failed; the errors reply sent.
    let (root, handler) = failed.expect("a failed update");
    assert!(handler.failed(), "{handler:?}");
    let trace = trace_of(&spans, root);
    let broken = child(&trace, "http", handler);
    assert!(broken.failed(), "{broken:?}");
    assert_eq!(broken.attr("server.address").as_deref(), Some("10.255.255.1"));
    assert!(root.events.iter().any(|event| event.attributes.iter().any(|kv| kv.value.text() == "ERROR")), "{root:?}");

    // The model: an llm span under the handler.
    let (root, handler) = with_llm.expect("a trace with an llm span");
    let trace = trace_of(&spans, root);
    let llm = child(&trace, "llm", handler);
    assert_eq!(llm.attr("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(llm.attr("http.response.status_code").as_deref(), Some("200"));

    {
        let received = shared.lock().unwrap();
        assert!(received.services.iter().all(|service| service == "traces-test"), "{:?}", received.services);
        // No token (`BOT_ID:sandbox`), no Bot API URL, no key of the step in any exported byte.
        for body in &received.bodies {
            for secret in [":sandbox", "/bot", QUERY_KEY, HEADER_KEY, "/weather", "city="] {
                assert!(!body.contains(secret), "{secret} in {body}");
            }
        }
    }

    // The failed update's log line names its trace.
    let log = without_colours(&serve.log());
    let (root, _) = failed.expect("a failed update");
    let line = log.lines().find(|line| line.contains("handling an update failed")).expect("the failure logged");
    assert!(line.contains(&format!("trace_id={}", root.trace_id)), "{line}");

    // A stop exports what is left and ends cleanly.
    serve.signal("TERM").await;
    let status = tokio::time::timeout(STARTUP, serve.child.wait()).await.expect("serve stops").expect("status");
    assert!(status.success(), "{status}\n{}", serve.log());
    assert!(shared.lock().unwrap().problems.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_costs_spans_not_replies() {
    // A port nothing listens on.
    let closed = binary::free_port();
    let endpoint = format!("http://127.0.0.1:{closed}");
    let folder = scratch("serve-traces-down");
    std::fs::write(folder.join("bots/traced.yaml"), bot("http://127.0.0.1:9")).expect("bot file");
    let env = [("FERROGRAM_TELEMETRY_OTLP_ENDPOINT", endpoint.as_str()), ("FERROGRAM_LOG_FORMAT", "json")];
    let mut serve = Serve::start(&folder, "serve.log", &[], &env);
    let bot = serve.running(&["traced"]).await[0];
    let ann = serve.user("Ann").await;
    assert_eq!(serve.act(bot, ann, "text", json!({"text": "hello"})).await, "You said: hello");
    assert_eq!(serve.act(bot, ann, "command", json!({"command": "broken"})).await, "Sorry");
    assert_eq!(serve.act(bot, ann, "text", json!({"text": "still here"})).await, "You said: still here");

    // The warning, once, and the spans counted as dropped.
    let deadline = Instant::now() + STARTUP;
    let listener = loop {
        let log = serve.log();
        let listening = log.lines().find_map(|line| line.strip_prefix("Listening on ")).map(str::to_owned);
        if log.contains("exporting traces failed")
            && let Some(listening) = listening
        {
            break listening;
        }
        assert!(Instant::now() < deadline, "no warning; log:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let log = serve.log();
    assert_eq!(log.matches("exporting traces failed").count(), 1, "warned once:\n{log}");
    let scrape = serve.http.get(format!("{}/metrics", listener.trim())).send().await.expect("metrics");
    let scrape = scrape.text().await.expect("text");
    let dropped = scrape
        .lines()
        .find(|line| line.starts_with("ferrogram_trace_spans_dropped_total{reason=\"export_failed\"}"))
        .unwrap_or_else(|| panic!("no dropped spans counted:\n{scrape}"));
    let count: f64 = dropped.rsplit(' ').next().and_then(|n| n.parse().ok()).expect("a count");
    assert!(count >= 1.0, "{dropped}");

    // JSON logs: the failed update's line carries its trace id among its spans' fields.
    let line = log.lines().find(|line| line.contains("handling an update failed")).expect("the failure logged");
    let line: Value = serde_json::from_str(line).expect("a JSON log line");
    let root = line["spans"].as_array().and_then(|spans| spans.iter().find(|span| span["name"] == "update"));
    let trace_id = root.and_then(|root| root["trace_id"].as_str()).unwrap_or_else(|| panic!("no trace id: {line}"));
    assert!(is_hex(trace_id, 32), "{trace_id}");
}
