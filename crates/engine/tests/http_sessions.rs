//! `http_sessions` (decision 0057) against a local API that behaves like qBittorrent (a form
//! login setting a cookie, 403 once the session expires) and like Transmission (basic
//! authentication, a 409 handing out the session header): one login for many calls, a new login
//! on 403 (once), the handshake retried once, cookies only for the login's origin, a refused
//! login told in words without the password, and no cookie or password in the logs.
//! `tests/torrent_daemons.rs` does the same against the real daemons.

mod common;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::json;

use common::{World, test_config};

const PASSWORD: &str = "pa55-w0rd-secret";

#[derive(Default)]
struct Api {
    logins: u32,
    /// The cookie value the API accepts now (`None`: every session expired).
    sid: Option<String>,
    /// Whether logins fail as qBittorrent's do: `200 Fails.` and no cookie.
    refuse: bool,
    handshakes: u32,
    session_id: String,
    /// The `Cookie` header of each call of `/other` (the second origin).
    other_cookies: Vec<Option<String>>,
}

type Shared = Arc<Mutex<Api>>;

async fn login(
    State(api): State<Shared>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    let mut api = api.lock();
    api.logins += 1;
    let right = form.get("username").is_some_and(|u| u == "ann") && form.get("password").is_some_and(|p| p == PASSWORD);
    if api.refuse || !right {
        return "Fails.".into_response();
    }
    let sid = format!("s{}", api.logins);
    api.sid = Some(sid.clone());
    ([("set-cookie", format!("SID={sid}; HttpOnly; path=/"))], "Ok.").into_response()
}

async fn data(State(api): State<Shared>, headers: HeaderMap) -> Response {
    let api = api.lock();
    let cookie = headers.get("cookie").and_then(|c| c.to_str().ok()).unwrap_or_default();
    match &api.sid {
        Some(sid) if cookie == format!("SID={sid}") => axum::Json(json!({"user": "ann", "sid": sid})).into_response(),
        _ => (StatusCode::FORBIDDEN, "Forbidden").into_response(),
    }
}

async fn other(State(api): State<Shared>, headers: HeaderMap) -> Response {
    let cookie = headers.get("cookie").and_then(|c| c.to_str().ok()).map(str::to_owned);
    api.lock().other_cookies.push(cookie);
    (StatusCode::FORBIDDEN, "Forbidden").into_response()
}

async fn rpc(State(api): State<Shared>, headers: HeaderMap) -> Response {
    let mut api = api.lock();
    let expected = format!("Basic {}", base64_of(&format!("ann:{PASSWORD}")));
    if headers.get("authorization").and_then(|a| a.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    }
    let sent = headers.get("x-session").and_then(|s| s.to_str().ok()).unwrap_or_default();
    if sent != api.session_id {
        api.handshakes += 1;
        return (StatusCode::CONFLICT, [("x-session", api.session_id.clone())], "Conflict").into_response();
    }
    axum::Json(json!({"result": "success"})).into_response()
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Serves the API on a free port of 127.0.0.1 (twice: a second origin for `/other`).
async fn serve(api: Shared) -> u16 {
    let app = axum::Router::new()
        .route("/login", axum::routing::post(login))
        .route("/data", axum::routing::get(data))
        .route("/other", axum::routing::get(other))
        .route("/rpc", axum::routing::post(rpc))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serves") });
    port
}

/// What the test's log subscriber wrote (every level, every field).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_log_in_once_again_on_403_and_answer_the_handshake() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Global: the engine logs from the runtime's worker threads (this file has one test).
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let api: Shared = Arc::default();
    api.lock().session_id = "token-1".into();
    let port = serve(Arc::clone(&api)).await;
    let other_port = serve(Arc::clone(&api)).await;
    let mut config = test_config();
    config.http.allow_private.push(("127.0.0.1".into(), port));
    config.http.allow_private.push(("127.0.0.1".into(), other_port));
    let mut world = World::start(config).await;
    let yaml = format!(
        r#"
ferrogram: 1
bot: {{name: sessions}}
http_sessions:
  api:
    login: {{url: "http://127.0.0.1:{port}/login", form: {{username: ann, password: "${{API_PASSWORD}}"}}}}
  rpc:
    handshake: X-Session
    basic_auth: {{username: ann, password: "${{API_PASSWORD}}"}}
on:
  - command: data
    do:
      - try:
          do:
            - http: {{url: "http://127.0.0.1:{port}/data", session: api}}
            - reply: "{{{{ result.status }}}} {{{{ result.json.user if result.ok else result.text }}}}"
          catch:
            - reply: "failed: {{{{ error.message }}}}"
  - command: other
    do:
      - http: {{url: "http://127.0.0.1:{other_port}/other", session: api}}
      - reply: "other {{{{ result.status }}}}"
  - command: rpc
    do:
      - http: {{url: "http://127.0.0.1:{port}/rpc", method: POST, session: rpc, json: {{method: get}}}}
      - reply: "rpc {{{{ result.status }}}} {{{{ result.json.result if result.ok else result.text }}}}"
"#
    );
    let bot = world.bot(&yaml).await;
    let secrets = [("API_PASSWORD", PASSWORD)].into_iter().collect();
    world.engine.set_secrets(bot.handle, secrets).expect("secrets set");
    let ann = world.user("Ann", "en").await;
    let mut handled = 0;
    let mut seen = 0;
    let mut say = async |command: &str| -> String {
        world.act(bot, "command", ann, json!({"command": command})).await;
        handled += 1;
        world.wait_handled(bot, handled).await;
        let (texts, last) = world.wait_sent(bot, ann, seen, 1).await;
        seen = last;
        texts.join(" / ")
    };

    // One login, then its cookie for every call.
    assert_eq!(say("data").await, "200 ann");
    assert_eq!(say("data").await, "200 ann");
    assert_eq!(api.lock().logins, 1, "the cookie of the first login is reused");

    // The session expires: the 403 makes one new login, and the call is made again.
    api.lock().sid = Some("expired-elsewhere".into());
    assert_eq!(say("data").await, "200 ann");
    assert_eq!(api.lock().logins, 2);

    // Another origin never gets the cookie (its 403 logs in again once, still without it).
    assert_eq!(say("other").await, "other 403");
    assert_eq!(api.lock().other_cookies, vec![None, None], "the cookie went to another origin");
    assert_eq!(api.lock().logins, 3);

    // A refused login (qBittorrent's `200 Fails.`, no cookie) fails the step, in words.
    {
        let mut api = api.lock();
        api.refuse = true;
        api.sid = None;
    }
    let told = say("data").await;
    assert!(
        told.starts_with(
            "failed: http GET 127.0.0.1: session api: login: the login set no cookie: HTTP 200 (\"Fails.\")"
        ),
        "{told}"
    );
    assert!(!told.contains(PASSWORD), "{told}");
    api.lock().refuse = false;
    assert_eq!(say("data").await, "200 ann", "the next call logs in again");

    // The handshake: a 409 hands out the header; the call is made again with it, and later
    // calls send it at once; a new id (the daemon restarted) costs one 409 more.
    assert_eq!(say("rpc").await, "rpc 200 success");
    assert_eq!(api.lock().handshakes, 1);
    assert_eq!(say("rpc").await, "rpc 200 success");
    assert_eq!(api.lock().handshakes, 1, "the kept header is sent");
    api.lock().session_id = "token-2".into();
    assert_eq!(say("rpc").await, "rpc 200 success");
    assert_eq!(api.lock().handshakes, 2);

    world.engine.stop(bot.handle).await.expect("bot stops");
    let logs = String::from_utf8_lossy(&logs.0.lock()).into_owned();
    assert!(logs.contains("http session logged in"), "the subscriber saw the engine's logs");
    for secret in [PASSWORD, "SID=s", "token-1", "token-2", &base64_of(&format!("ann:{PASSWORD}"))] {
        assert!(!logs.contains(secret), "{secret:?} is in the logs");
    }
}
