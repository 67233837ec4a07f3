//! `serve`'s supervisor through the built binary: `ferrogram bot start|stop|reload|status`
//! against a running server's listener with an API token (`ferrogram token issue`), the
//! control API's refusals (401 without or with a bad token, 403 for a viewer acting, 404 for an
//! unknown bot) and its audit log; a bot whose stored version no longer validates is `failing`
//! and retried while the others run; a token revoked in the sandbox stops its bot as
//! `unauthorized` while another keeps answering. A start that hangs (a Bot API that never
//! answers its getMe) holds up no other bot: readiness, the list and the statuses answer at once,
//! and another bot starts, stops and starts meanwhile (decision 0052). The dashboard's new-bot
//! form has a pasted token checked by the supervisor with getMe at `telegram.api_url`: one the
//! Bot API accepts is stored, one it refuses (401) or one not shaped as a token is told why,
//! nothing saved. Every wait polls with a deadline.

#![cfg(unix)]

mod binary;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use binary::fleet::{Serve, add, bot, issue, url};
use binary::telegram::{is, serve_against, stand_in_telegram, status_until};
use binary::{ferrogram, request, text};
use serde_json::json;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_start_stop_and_reload_through_the_listener_with_an_api_token() {
    let folder = binary::fleet::folder("supervisor");
    let url = url(&folder);
    std::fs::write(folder.0.join("bots/echo.yaml"), bot("echo", "first")).unwrap();
    std::fs::write(folder.0.join("bots/other.yaml"), bot("other", "the other")).unwrap();
    let editor = issue(&url, "ops", "editor");
    let viewer = issue(&url, "watcher", "viewer");
    let serve = Serve::start(&folder, "serve.log");
    let running = serve.status_until(&editor, "echo", is("running")).await;
    assert_eq!(running["name"], "echo");
    assert_eq!(running["version"], 1);
    assert_eq!(running["errors"], json!([]));
    assert!(running["since"].as_i64().is_some_and(|t| t > 1_700_000_000), "{running}");
    let user = serve.user().await;
    assert_eq!(serve.ask("echo", user).await, "first");

    // Refusals: no token, a bad one (401); a viewer acting (403); an unknown bot (404).
    let get = reqwest::Method::GET;
    let (code, body) = serve.api(get.clone(), "/api/v1/bots", None).await.unwrap();
    assert_eq!(code, 401, "{body}");
    assert!(body["detail"].as_str().is_some_and(|e| e.contains("Bearer")), "{body}");
    let (code, _) = serve.api(get.clone(), "/api/v1/bots", Some("fg_not-a-token")).await.unwrap();
    assert_eq!(code, 401);
    let (code, body) = serve.api(reqwest::Method::POST, "/api/v1/bots/echo/stop", Some(&viewer)).await.unwrap();
    assert_eq!(code, 403, "{body}");
    assert!(body["detail"].as_str().is_some_and(|e| e.contains("viewer")), "{body}");
    let (code, body) = serve.api(get.clone(), "/api/v1/bots", Some(&viewer)).await.unwrap();
    assert_eq!(code, 200, "{body}");
    let names: Vec<&str> = body["items"].as_array().unwrap().iter().filter_map(|b| b["name"].as_str()).collect();
    assert_eq!(names, ["echo", "other"]);
    let (code, body) = serve.api(get.clone(), "/api/v1/bots/nobody", Some(&viewer)).await.unwrap();
    assert_eq!((code, &body["detail"]), (404, &json!("no bot named nobody")), "{body}");
    let unknown = serve.bot(&editor, &["start", "nobody"]);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no bot named nobody"), "{}", text(&unknown.stderr));
    let no_token = ferrogram(&["bot", "status", "echo", "--server", &serve.server]);
    assert!(!no_token.status.success());
    assert!(text(&no_token.stderr).contains("an API token is needed"), "{}", text(&no_token.stderr));

    // stop, status, start: the status follows; the other bot never notices.
    let stopped = serve.bot(&editor, &["stop", "echo"]);
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    assert!(text(&stopped.stdout).starts_with("echo: stopped since 20"), "{}", text(&stopped.stdout));
    let status = serve.bot(&viewer, &["status", "echo"]);
    assert!(text(&status.stdout).starts_with("echo: stopped since "), "{}", text(&status.stdout));
    assert_eq!(serve.ask("other", user).await, "the other");
    let started = serve.bot(&editor, &["start", "echo"]);
    assert!(started.status.success(), "{}", text(&started.stderr));
    assert!(text(&started.stdout).starts_with("echo: running since "), "{}", text(&started.stdout));
    assert_eq!(serve.ask("echo", user).await, "first");

    // A version saved from elsewhere runs after `bot reload`.
    let elsewhere = folder.0.join("echo-v2.yaml");
    std::fs::write(&elsewhere, bot("echo", "second")).unwrap();
    add(&elsewhere, &url);
    let reloaded = serve.bot(&editor, &["reload", "echo"]);
    assert!(reloaded.status.success(), "{}", text(&reloaded.stderr));
    assert!(text(&reloaded.stdout).contains("running since") && text(&reloaded.stdout).contains("(version 2)"));
    assert_eq!(serve.ask("echo", user).await, "second");
    let all = serve.bot(&viewer, &["status"]);
    let lines: Vec<String> = text(&all.stdout).lines().map(str::to_owned).collect();
    assert!(lines.len() == 2 && lines[0].starts_with("echo: running") && lines[1].starts_with("other: running"));

    // A bot added with `bot add` while the server runs: stopped until started.
    let later = folder.0.join("later.yaml");
    std::fs::write(&later, bot("later", "added while running")).unwrap();
    add(&later, &url);
    let status = serve.bot(&viewer, &["status", "later"]);
    assert!(text(&status.stdout).starts_with("later: stopped since "), "{}", text(&status.stdout));
    let started = serve.bot(&editor, &["start", "later"]);
    assert!(text(&started.stdout).starts_with("later: running since "), "{}", text(&started.stderr));
    assert_eq!(serve.ask("later", user).await, "added while running");

    // The audit log: each action (not the refused ones, not the reads), by the editor's token,
    // after the two tokens the command line created.
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let workspace = store.workspace_named("default").await.unwrap().unwrap();
    let tokens = store.tokens(workspace.id).await.unwrap();
    let ops = tokens.iter().find(|t| t.name == "ops").unwrap().id;
    let log = store.audit_log(workspace.id, 20).await.unwrap();
    // The command line's changes too (`token create`, `bot add`), as `cli:USER`.
    let actions: Vec<(&str, &str, &str)> = log
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.target.as_str(), if e.actor.starts_with("cli:") { "cli" } else { &e.actor }))
        .collect();
    let actor = format!("token:{ops}");
    assert_eq!(
        actions,
        [
            ("token.create", "ops", "cli"),
            ("token.create", "watcher", "cli"),
            ("bot.stop", "echo", actor.as_str()),
            ("bot.start", "echo", actor.as_str()),
            ("bot.add", "echo", "cli"),
            ("bot.reload", "echo", actor.as_str()),
            ("bot.add", "later", "cli"),
            ("bot.start", "later", actor.as_str()),
        ]
    );
    assert_eq!(log[3].detail, json!({"version": 2, "outcome": "saved", "token": null}));
    assert_eq!(log[2].detail, json!({"status": "running", "version": 2}));
    assert_eq!(log[0].detail, json!({"status": "running", "version": 1}));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_start_is_retried_and_a_revoked_token_stops_only_its_bot() {
    let folder = binary::fleet::folder("supervisor");
    let url = url(&folder);
    std::fs::write(folder.0.join("bots/steady.yaml"), bot("steady", "steady here")).unwrap();
    // A bot whose stored version no longer validates (saved behind the validator's back).
    let flaky = folder.0.join("flaky.yaml");
    std::fs::write(&flaky, bot("flaky", "flaky here")).unwrap();
    add(&flaky, &url);
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let workspace = store.workspace_named("default").await.unwrap().unwrap();
    let record = store.bot_named(workspace.id, "flaky").await.unwrap().unwrap();
    let broken = "ferrogram: 1\nbot:\n  name: flaky\non:\n  - command: hi\n    do:\n      - rply: \"never\"\n";
    store.save_version(workspace.id, record.id, broken).await.unwrap().unwrap();
    store.close().await;
    let token = issue(&url, "ops", "editor");

    let serve = Serve::start(&folder, "serve.log");
    // Failing, with its error, and retried: two attempts seen.
    let failing =
        serve.status_until(&token, "flaky", |s| s["status"] == "failing" && s["attempts"].as_u64() >= Some(2)).await;
    assert_eq!(failing["version"], 2);
    let errors = failing["errors"].as_array().unwrap();
    assert!(errors.len() >= 2, "{failing}");
    assert!(errors.iter().all(|e| e["message"].as_str().is_some_and(|m| m.contains("rply"))), "{failing}");
    let user = serve.user().await;
    serve.status_until(&token, "steady", is("running")).await;
    assert_eq!(serve.ask("steady", user).await, "steady here");
    let status = serve.bot(&token, &["status", "flaky"]);
    let printed = text(&status.stdout);
    assert!(printed.starts_with("flaky: failing since ") && printed.contains("(version 2), "), "{printed}");
    assert!(printed.contains("rply"), "{printed}");

    // Fixed in the store: the next retry (or a start) runs it.
    add(&flaky, &url);
    let started = serve.bot(&token, &["start", "flaky"]);
    assert!(started.status.success(), "{}\n{}", text(&started.stdout), text(&started.stderr));
    let running = serve.status_until(&token, "flaky", is("running")).await;
    assert_eq!(running["version"], 3);
    assert_eq!(running["attempts"], 0);
    assert_eq!(serve.ask("flaky", user).await, "flaky here");

    // steady's token revoked (BotFather's /revoke): steady stops as unauthorized, flaky answers.
    let steady_id = ferrogram_core::sandbox_bot_id("steady");
    request(&serve.http, format!("{}/sandbox/bots/{steady_id}/revoke", serve.sandbox), Some(json!({})))
        .await
        .expect("revoked");
    let refused = serve.status_until(&token, "steady", is("unauthorized")).await;
    let last = refused["errors"].as_array().and_then(|e| e.last()).cloned().unwrap_or_default();
    assert!(last["message"].as_str().is_some_and(|m| m.contains("refused the token")), "{refused}");
    assert_eq!(serve.ask("flaky", user).await, "flaky here");
    assert_eq!(serve.status_until(&token, "flaky", is("running")).await["status"], "running");
    assert!(serve.log().contains("steady: the Bot API refused its token; stopped"), "{}", serve.log());
}

/// How long an action on a bot may take while another bot's start hangs: well under the Bot API
/// client's 30 s request timeout, which ends the hanging start.
const PROMPT: std::time::Duration = std::time::Duration::from_secs(10);

/// `future`, which must end within [`PROMPT`].
async fn promptly<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(PROMPT, future).await {
        Ok(done) => done,
        Err(_) => panic!("{what}: no answer within {PROMPT:?} while another bot's start hangs"),
    }
}

/// A Bot API that accepts every connection and never answers: how many it accepted.
async fn silent_bot_api() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_hangs_holds_up_no_other_bot() {
    let folder = binary::fleet::folder("supervisor");
    let url = url(&folder);
    // `hung` runs against a Bot API that never answers its getMe; `steady` in the sandbox.
    // `hung` is imported, so started, first.
    let hung = bot("hung", "never").replace("name: hung\n", "name: hung\n  token: \"${TEST_TOKEN}\"\n");
    std::fs::write(folder.0.join("bots/hung.yaml"), hung).unwrap();
    std::fs::write(folder.0.join("bots/steady.yaml"), bot("steady", "steady here")).unwrap();
    let token = issue(&url, "ops", "editor");
    let (telegram, accepted) = silent_bot_api().await;
    let (_serve, server, sandbox) =
        serve_against(&folder, &url, &telegram, "serve.log", ("TEST_TOKEN", "808080:hung-secret"), false, &[]);
    let log = folder.0.join("serve.log");
    let printed = || std::fs::read_to_string(&log).unwrap_or_default();
    let http = ferrogram_telegram::http_client().expect("http client");

    // hung's getMe is under way (and stays so for 30 s).
    let deadline = Instant::now() + binary::fleet::DEADLINE;
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "hung's getMe never came:\n{}", printed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let call = |method: reqwest::Method, path: &str| {
        let request = http.request(method, format!("{server}{path}")).bearer_auth(&token);
        async move {
            let response = request.send().await.expect("answered");
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };

    // steady starts meanwhile, its status read at once each time.
    let deadline = Instant::now() + PROMPT;
    loop {
        let (_, status) = promptly("steady's status", call(reqwest::Method::GET, "/api/v1/bots/steady/status")).await;
        if status["status"] == "running" {
            break;
        }
        assert!(Instant::now() < deadline, "steady never ran while hung's start hangs: {status}\n{}", printed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Readiness answers at once, not ready for hung alone; steady is stopped and started again.
    let (code, ready) = promptly("/readyz", call(reqwest::Method::GET, "/readyz")).await;
    assert_eq!(code, 503, "{ready}");
    assert_eq!(ready["checks"]["bots"]["starting"], json!(["hung"]), "{ready}");
    let (code, stopped) = promptly("stop steady", call(reqwest::Method::POST, "/api/v1/bots/steady/stop")).await;
    assert_eq!((code, &stopped["status"]), (200, &json!("stopped")), "{stopped}");
    let (code, started) = promptly("start steady", call(reqwest::Method::POST, "/api/v1/bots/steady/start")).await;
    assert_eq!((code, &started["status"]), (200, &json!("running")), "{started}");
    let (code, listed) = promptly("the list", call(reqwest::Method::GET, "/api/v1/bots")).await;
    assert_eq!(code, 200, "{listed}");
    let states: Vec<(&str, &str)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap(), b["status"]["status"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(states, [("hung", "starting"), ("steady", "running")], "{listed}");
    // All of it while hung's first start still waited for its getMe.
    let (_, status) = promptly("hung's status", call(reqwest::Method::GET, "/api/v1/bots/hung/status")).await;
    assert_eq!((&status["status"], &status["attempts"]), (&json!("starting"), &json!(0)), "{status}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one getMe, still unanswered");

    let user = binary::telegram::user(&http, &sandbox).await;
    let steady = ferrogram_core::sandbox_bot_id("steady") as i64;
    assert_eq!(binary::telegram::ask(&http, &sandbox, steady, user, &log.display().to_string()).await, "steady here");
}

/// The new-bot form as a browser sends it (multipart) with `token`, as the session `cookie`
/// (with its CSRF token): the answer's status and page.
async fn new_bot(
    http: &reqwest::Client,
    server: &str,
    workspace: i64,
    session: &(String, String),
    name: &str,
    token: &str,
) -> (u16, String) {
    let form = reqwest::multipart::Form::new()
        .text("csrf", session.1.clone())
        .text("name", name.to_owned())
        .text("origin", "scratch")
        .text("token", token.to_owned());
    let response = http
        .post(format!("{server}/w/{workspace}/bots/new"))
        .header("cookie", &session.0)
        .multipart(form)
        .send()
        .await
        .expect("answered");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_checks_a_pasted_token_with_get_me_at_the_telegram_api_url() {
    let folder = binary::fleet::folder("supervisor");
    let url = url(&folder);
    std::fs::write(folder.0.join("bots/steady.yaml"), bot("steady", "steady here")).unwrap();
    let token = issue(&url, "ops", "editor");
    // An editor of `default` signed in to the dashboard.
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let workspace = store.workspace_named("default").await.unwrap().unwrap().id;
    let hash = ferrogram_store::hash_password("a long enough password").await.unwrap();
    let account = store.create_account("ed@example.org", "ed", &hash).await.unwrap().unwrap();
    store.set_member(workspace, account.id, ferrogram_store::Role::Editor).await.unwrap();
    let session = store.create_session(account.id, "test", 3600).await.unwrap().unwrap();
    binary::leaks::register(&session.secret);
    let session = (format!("fg_session={}", session.secret), session.csrf);
    store.close().await;

    let http = ferrogram_telegram::http_client().expect("http client");
    let (telegram, _telegram) = stand_in_telegram(&folder, &http).await;
    let (_serve, server, _sandbox) =
        serve_against(&folder, &url, &telegram, "serve.log", ("TEST_TOKEN", "1:unused-secret"), false, &[]);
    let log = folder.0.join("serve.log");
    status_until(&http, &server, &token, "steady", &log, is("running")).await;
    let forms = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // The stand-in Telegram knows the first token of bot 515151 from its first getMe; another
    // secret for the same id is refused (401), as Telegram refuses a revoked token.
    let (accepted, refused) = ("515151:checked-secret", "515151:another-secret");
    binary::leaks::register(accepted);
    binary::leaks::register(refused);
    let (code, page) = new_bot(&forms, &server, workspace, &session, "checked", accepted).await;
    assert_eq!(code, 303, "{page}");
    let (code, page) = new_bot(&forms, &server, workspace, &session, "refused", refused).await;
    assert_eq!(code, 422, "{page}");
    assert!(page.contains("the Bot API refused this token (401)") && !page.contains(refused), "{page}");
    let (code, page) = new_bot(&forms, &server, workspace, &session, "shapeless", "no-colon-here").await;
    assert_eq!(code, 422, "{page}");
    assert!(page.contains("this is not a Telegram bot token"), "{page}");

    // Only the accepted one is stored, with its token, as the bot the token names.
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let names: Vec<String> = store.bots(workspace).await.unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["steady", "checked"]);
    let checked = store.bot_named(workspace, "checked").await.unwrap().unwrap();
    assert!(store.has_secret(workspace, Some(checked.id), ferrogram_store::BOT_TOKEN).await.unwrap());
    store.close().await;
}
