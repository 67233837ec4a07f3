//! The `http` step against a local API server: JSON in and out, templated bodies, secrets from
//! the environment, retries, the circuit breaker, redirects and the SSRF guard.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use common::{World, test_config};
use ferrogram_engine::{BotEnv, BotSecrets, EngineConfig, HttpConfig, Receive};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// The API the bots call; it counts every request it sees.
#[derive(Clone, Default)]
struct Api {
    requests: Arc<AtomicUsize>,
    flaky: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

impl Api {
    async fn start() -> (Api, SocketAddr) {
        let api = Api::default();
        let router = axum::Router::new()
            .route("/weather", get(weather))
            .route("/echo", post(echo))
            .route("/flaky", get(flaky))
            .route("/down", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .route("/hop", get(|| async { Redirect::to("/weather?city=Hop") }))
            .route("/away", get(away))
            .layer(axum::middleware::from_fn_with_state(api.clone(), count))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serves") });
        (api, addr)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn count(State(api): State<Api>, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    api.requests.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

async fn weather(Query(query): Query<std::collections::HashMap<String, String>>) -> Json<Value> {
    Json(json!({"city": query.get("city"), "temp": 21.5}))
}

async fn echo(State(api): State<Api>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    api.received.lock().push((headers, body.clone()));
    Json(json!({"received": body["name"]}))
}

async fn flaky(State(api): State<Api>) -> Response {
    if api.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    } else {
        Json(json!({"fine": true})).into_response()
    }
}

/// Redirects to the same server under another name (`localhost`), which is not allowed.
async fn away(headers: HeaderMap) -> Redirect {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
    let port = host.rsplit(':').next().unwrap_or_default();
    Redirect::to(&format!("http://localhost:{port}/weather"))
}

/// Test settings allowing the API's host and port, with fast retries.
fn allowing(addr: SocketAddr) -> EngineConfig {
    EngineConfig {
        http: HttpConfig {
            allow_private: vec![("127.0.0.1".into(), addr.port())],
            retry_base: Duration::from_millis(5),
            ..HttpConfig::default()
        },
        ..test_config()
    }
}

fn call_bot(url: &str) -> String {
    format!(
        r#"
ferrogram: 1
bot: {{name: caller}}
errors: {{reply: "Sorry"}}
on:
  - text: any
    do:
      - http: {{url: "{url}", retries: 0}}
      - reply: "{{{{ result.status }}}} {{{{ result.json.city }}}}"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_json_is_saved_into_a_variable_and_replied() {
    let (api, addr) = Api::start().await;
    let mut world = World::start(allowing(addr)).await;
    let bot = world
        .bot(&format!(
            r#"
ferrogram: 1
bot: {{name: weather}}
variables:
  user:
    weather: {{type: object}}
on:
  - text: any
    do:
      - http:
          url: "http://127.0.0.1:{port}/weather"
          query: {{city: "{{{{ message.text }}}}"}}
          save: user.weather
      - reply: "{{{{ user.weather.json.temp }}}}° in {{{{ user.weather.json.city }}}} ({{{{ result.status }}}}, {{{{ result.ok }}}})"
"#,
            port = addr.port()
        ))
        .await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "text", ann, json!({"text": "Paris & Co"})).await;
    assert_eq!(world.wait_sent(bot, ann, 0, 1).await.0, ["21.5° in Paris & Co (200, True)"]);
    assert_eq!(api.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_json_with_templates_and_a_secret_header() {
    let (api, addr) = Api::start().await;
    let secret_var = format!("FERROGRAM_TEST_HTTP_KEY_{}", std::process::id());
    // SAFETY: a name unique to this test process; nothing else reads or writes it.
    unsafe { std::env::set_var(&secret_var, "k3y-from-env") };
    let mut config = allowing(addr);
    config.http.bot_env = BotEnv::Only([secret_var.clone()].into());
    let mut world = World::start(config).await;
    let bot = world
        .bot(&format!(
            r#"
ferrogram: 1
bot: {{name: poster}}
on:
  - text: any
    do:
      - http:
          url: "http://127.0.0.1:{port}/echo"
          method: POST
          headers:
            Authorization: "Bearer ${{{secret_var}}}"
            X-Said: "{{{{ message.text }}}}"
          json:
            name: "{{{{ from.first_name }}}}"
            answer: "{{{{ 40 + 2 }}}}"
            tags: [fixed, "said {{{{ message.text }}}}", 7]
      - reply: "hello {{{{ result.json.received }}}}"
"#,
            port = addr.port()
        ))
        .await;
    let ann = world.user("Ann", "en").await;
    // A `${…}` typed by the user is not expanded.
    world.act(bot, "text", ann, json!({"text": "${HOME}"})).await;
    assert_eq!(world.wait_sent(bot, ann, 0, 1).await.0, ["hello Ann"]);
    let received = api.received.lock().clone();
    let (headers, body) = received.first().expect("the server got the request");
    assert_eq!(body, &json!({"name": "Ann", "answer": 42, "tags": ["fixed", "said ${HOME}", 7]}));
    assert_eq!(headers["authorization"], "Bearer k3y-from-env");
    assert_eq!(headers["x-said"], "${HOME}");
    assert_eq!(headers["content-type"], "application/json");
}

/// A bot that POSTs to the API's `/echo` with the header `X-Key: "${variable}"`.
fn key_bot(addr: SocketAddr, variable: &str) -> String {
    format!(
        r#"
ferrogram: 1
bot: {{name: keyed}}
errors: {{reply: "Sorry"}}
on:
  - text: any
    do:
      - http:
          url: "http://127.0.0.1:{port}/echo"
          method: POST
          retries: 0
          headers: {{X-Key: "${{{variable}}}"}}
          json: {{name: "{variable}"}}
      - reply: "sent {{{{ result.json.received }}}}"
"#,
        port = addr.port()
    )
}

/// Sets the test's own environment variables (names unique to this test process: nothing else
/// reads or writes them) to the values the asserts look for.
fn set_test_variables(names: &[&str]) {
    for name in names {
        // SAFETY: a name unique to the calling test; see above.
        unsafe { std::env::set_var(name, format!("value-of-{name}")) };
    }
}

/// What the API received in its requests' `X-Key` headers.
fn received_keys(api: &Api) -> Vec<String> {
    api.received.lock().iter().filter_map(|(h, _)| h.get("x-key")?.to_str().ok().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_files_read_only_the_environment_variables_the_operator_lists() {
    let (api, addr) = Api::start().await;
    let pid = std::process::id();
    let (listed, secret) = (format!("BOT_ENV_IT_LISTED_{pid}"), format!("BOT_ENV_IT_SECRET_{pid}"));
    set_test_variables(&[&listed, &secret]);
    // The `serve` rule: only the names the operator lists.
    let mut config = allowing(addr);
    config.http.bot_env = BotEnv::Only([listed.clone()].into());
    let mut world = World::start(config).await;
    let thief = world.bot(&key_bot(addr, &secret)).await;
    let allowed = world.bot(&key_bot(addr, &listed)).await;
    let ann = world.user("Ann", "en").await;

    world.act(thief, "text", ann, json!({"text": "go"})).await;
    assert_eq!(world.wait_sent(thief, ann, 0, 1).await.0, ["Sorry"]);
    assert_eq!(api.requests(), 0, "the step must fail before anything is sent");

    world.act(allowed, "text", ann, json!({"text": "go"})).await;
    assert_eq!(world.wait_sent(allowed, ann, 0, 1).await.0, [format!("sent {listed}")]);
    assert_eq!(received_keys(&api), [format!("value-of-{listed}")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_stored_secrets_come_before_the_environment_and_can_be_replaced() {
    let (api, addr) = Api::start().await;
    let pid = std::process::id();
    let (listed, unlisted) = (format!("BOT_SECRET_IT_LISTED_{pid}"), format!("BOT_SECRET_IT_UNLISTED_{pid}"));
    set_test_variables(&[&listed, &unlisted]);
    let mut config = allowing(addr);
    config.http.bot_env = BotEnv::Only([listed.clone()].into());
    let mut world = World::start(config).await;
    let ann = world.user("Ann", "en").await;
    let secrets = |value: &str| -> BotSecrets { [(listed.clone(), value.to_owned())].into_iter().collect() };
    let (id, token) = world.register_bot().await;
    let file = ferrogram_schema::load_str(&key_bot(addr, &listed), "test.yaml").expect("valid");
    let handle = world
        .engine
        .add_bot_with_secrets(file, &token, &world.url(), Receive::Polling, secrets("stored-1"))
        .await
        .expect("bot starts");
    let bot = common::Bot { handle, id };
    world.act(bot, "text", ann, json!({"text": "go"})).await;
    let (_, last) = world.wait_sent(bot, ann, 0, 1).await;
    // Replaced: the next step reads the new value; none: the environment again.
    world.engine.set_secrets(handle, secrets("stored-2")).expect("bot runs");
    world.act(bot, "text", ann, json!({"text": "go"})).await;
    let (_, last) = world.wait_sent(bot, ann, last, 1).await;
    world.engine.set_secrets(handle, BotSecrets::default()).expect("bot runs");
    world.act(bot, "text", ann, json!({"text": "go"})).await;
    world.wait_sent(bot, ann, last, 1).await;
    assert_eq!(received_keys(&api), ["stored-1".to_owned(), "stored-2".to_owned(), format!("value-of-{listed}")]);

    // A stored secret is read although the rule does not list its name; the others' bots do
    // not see it.
    let stored: BotSecrets = [(unlisted.clone(), "stored-unlisted")].into_iter().collect();
    let (id, token) = world.register_bot().await;
    let file = ferrogram_schema::load_str(&key_bot(addr, &unlisted), "test.yaml").expect("valid");
    let handle =
        world.engine.add_bot_with_secrets(file, &token, &world.url(), Receive::Polling, stored).await.expect("starts");
    let keyed = common::Bot { handle, id };
    let other = world.bot(&key_bot(addr, &unlisted)).await;
    world.act(keyed, "text", ann, json!({"text": "go"})).await;
    world.wait_sent(keyed, ann, 0, 1).await;
    world.act(other, "text", ann, json!({"text": "go"})).await;
    assert_eq!(world.wait_sent(other, ann, 0, 1).await.0, ["Sorry"]);
    assert_eq!(received_keys(&api)[3..], ["stored-unlisted".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_rule_keeps_ferrogram_variables_unless_listed() {
    let (api, addr) = Api::start().await;
    let pid = std::process::id();
    let own = format!("BOT_ENV_IT_OWN_{pid}");
    let (config_var, listed) = (format!("FERROGRAM_BOT_ENV_IT_{pid}"), format!("FERROGRAM_BOT_ENV_IT_LISTED_{pid}"));
    set_test_variables(&[&own, &config_var, &listed]);
    // The `run` rule: any variable but Ferrogram's own configuration, which only when listed.
    let mut config = allowing(addr);
    config.http.bot_env = BotEnv::AllButFerrogram([listed.clone()].into());
    let mut world = World::start(config).await;
    let ann = world.user("Ann", "en").await;
    let refused = world.bot(&key_bot(addr, &config_var)).await;
    world.act(refused, "text", ann, json!({"text": "go"})).await;
    assert_eq!(world.wait_sent(refused, ann, 0, 1).await.0, ["Sorry"]);
    assert_eq!(api.requests(), 0, "the step must fail before anything is sent");

    for (n, name) in [&own, &listed].into_iter().enumerate() {
        let bot = world.bot(&key_bot(addr, name)).await;
        world.act(bot, "text", ann, json!({"text": "go"})).await;
        assert_eq!(world.wait_sent(bot, ann, 0, 1).await.0, [format!("sent {name}")]);
        assert_eq!(api.requests(), n + 1);
    }
    assert_eq!(received_keys(&api), [format!("value-of-{own}"), format!("value-of-{listed}")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried() {
    let (api, addr) = Api::start().await;
    let mut world = World::start(allowing(addr)).await;
    let yaml = call_bot(&format!("http://127.0.0.1:{}/flaky", addr.port())).replace("retries: 0", "retries: 2");
    let bot = world.bot(&yaml.replace("{{ result.json.city }}", "{{ result.json.fine }}")).await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "text", ann, json!({"text": "go"})).await;
    assert_eq!(world.wait_sent(bot, ann, 0, 1).await.0, ["200 True"]);
    assert_eq!(api.requests(), 3, "two 500s, then the 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_opens_after_failures_in_a_row() {
    let (api, addr) = Api::start().await;
    let mut config = allowing(addr);
    config.http.breaker_threshold = 2;
    config.http.breaker_open = Duration::from_secs(3600);
    let mut world = World::start(config).await;
    let bot = world
        .bot(&call_bot(&format!("http://127.0.0.1:{}/down", addr.port())).replace(" {{ result.json.city }}", ""))
        .await;
    let ann = world.user("Ann", "en").await;
    for (i, text) in ["1", "2", "3", "4"].into_iter().enumerate() {
        world.act(bot, "text", ann, json!({"text": text})).await;
        world.wait_handled(bot, i as u64 + 1).await;
    }
    // A 500 is an answer the bot sees; after two in a row the host is not called any more.
    assert_eq!(world.wait_sent(bot, ann, 0, 4).await.0, ["500", "500", "Sorry", "Sorry"]);
    assert_eq!(api.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_unless_allowed() {
    let (api, addr) = Api::start().await;
    let url = format!("http://127.0.0.1:{}/weather?city=Rome", addr.port());
    let by_name = format!("http://localhost:{}/weather?city=Rome", addr.port());

    // No allow-list: neither the address nor a name resolving to it is called.
    let mut world = World::start(test_config()).await;
    let direct = world.bot(&call_bot(&url)).await;
    let named = world.bot(&call_bot(&by_name)).await;
    let ann = world.user("Ann", "en").await;
    world.act(direct, "text", ann, json!({"text": "go"})).await;
    world.act(named, "text", ann, json!({"text": "go"})).await;
    assert_eq!(world.wait_sent(direct, ann, 0, 1).await.0, ["Sorry"]);
    assert_eq!(world.wait_sent(named, ann, 0, 1).await.0, ["Sorry"]);
    assert_eq!(api.requests(), 0, "the server saw a request");

    // Allowed for another port of the same host: still refused.
    let mut config = allowing(addr);
    config.http.allow_private = vec![("127.0.0.1".into(), addr.port().wrapping_add(1))];
    let mut world = World::start(config).await;
    let other_port = world.bot(&call_bot(&url)).await;
    let ann = world.user("Ann", "en").await;
    world.act(other_port, "text", ann, json!({"text": "go"})).await;
    assert_eq!(world.wait_sent(other_port, ann, 0, 1).await.0, ["Sorry"]);
    assert_eq!(api.requests(), 0);

    // Allowed for that host and port: it works, and redirects stay under the guard.
    let mut world = World::start(allowing(addr)).await;
    let allowed = world.bot(&call_bot(&url)).await;
    let hop = world.bot(&call_bot(&format!("http://127.0.0.1:{}/hop", addr.port()))).await;
    let away = world.bot(&call_bot(&format!("http://127.0.0.1:{}/away", addr.port()))).await;
    let ann = world.user("Ann", "en").await;
    world.act(allowed, "text", ann, json!({"text": "go"})).await;
    assert_eq!(world.wait_sent(allowed, ann, 0, 1).await.0, ["200 Rome"]);
    world.act(hop, "text", ann, json!({"text": "go"})).await;
    assert_eq!(world.wait_sent(hop, ann, 0, 1).await.0, ["200 Hop"]);
    world.act(away, "text", ann, json!({"text": "go"})).await;
    assert_eq!(world.wait_sent(away, ann, 0, 1).await.0, ["Sorry"]);
    assert_eq!(api.requests(), 4, "Rome, the hop and its target, and /away but not where it pointed");
}
