//! The ai-assistant reference bot against an independent OpenAI-compatible mock server:
//! `@dwmkerr/mock-llm` (pinned in conformance/js/package.json, installed by
//! conformance/install.sh), bound to 127.0.0.1 on a free port, killed when dropped. Its rules
//! match the requests' bodies (JMESPath), so an answer proves what the mock received: the
//! model, the system message with the note found by `search`, the user's question, `max_tokens`.
//!
//! `ferrogram run examples/ai-assistant.yaml --sandbox --allow-private-http 127.0.0.1:PORT`,
//! driven through the sandbox's control API:
//! - as written (streamed): a normal answer; a 500 and a 429 (which mock-llm, like OpenAI once
//!   a stream has begun, sends as an error event in a 200 stream) give the bot's "unavailable"
//!   reply, and the bot goes on answering;
//! - with `stream: false`: real HTTP statuses. A 429 once is retried (the llm step's policy:
//!   `retries` attempts more, backing off, decision 0012) and answered; a 500 or a 429 every
//!   time ends, after the retries, in the "unavailable" reply.
//!
//! mock-llm cannot send a `Retry-After` header, so that header's use (a wait up to
//! `HttpConfig::retry_cap`) is not exercised here. Skipped, loudly, when node or mock-llm is
//! missing, unless FERROGRAM_REQUIRE_CONFORMANCE=1 (as in CI).

#![cfg(unix)]

#[allow(dead_code)]
mod binary;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use binary::{free_port, free_port_pair, request, sandbox_said};
use serde_json::{Value, json};
use tokio::time::Instant;

const STARTUP: Duration = Duration::from_secs(30);
/// The file's default `bot.llm_model`.
const MODEL: &str = "sandbox";
const NOTE: &str = "Refunds take five business days after the parcel is back.";
const QUESTION: &str = "How long do refunds take?";
const GROUNDED: &str = "Five business days, once the parcel is back (mock-llm saw the note).";
const RETRIED: &str = "Answered on the second attempt.";
const UNAVAILABLE: &str = "Sorry, the assistant is unavailable right now. Please try again later.";

/// mock-llm's entry point, or why there is none.
fn mock_llm() -> Result<PathBuf, String> {
    let main =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/js/node_modules/@dwmkerr/mock-llm/dist/main.js");
    if !main.exists() {
        return Err(format!("{} is missing", main.display()));
    }
    match std::process::Command::new("node").arg("--version").output() {
        Ok(output) if output.status.success() => Ok(main),
        _ => Err("node is not installed".into()),
    }
}

/// A chat completion's body as mock-llm renders it (a template: only the model is filled in).
fn completion(content: &str) -> String {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "model": "{{jmes request body.model}}",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}
    })
    .to_string()
}

fn error(status: u16, message: &str) -> Value {
    let content = json!({"error": {"message": message, "type": "mock_error", "code": null}}).to_string();
    json!({"status": status, "content": content})
}

/// mock-llm's rules; the last one matching wins. A sequence rule matches only the request of
/// its number among those a sequence rule answered (per path).
fn rules() -> Value {
    let path = "/v1/chat/completions";
    let last = "body.messages[-1].content";
    let grounded = format!(
        "body.model == '{MODEL}' && body.max_tokens == `400` && body.messages[0].role == 'system' \
         && contains(body.messages[0].content, 'Refunds take five business days') \
         && body.messages[-1].role == 'user' && {last} == '{QUESTION}'"
    );
    json!({
        "streaming": {"chunkSize": 16, "chunkIntervalMs": 10},
        "rules": [
            {"path": path, "match": "@",
             "response": {"status": 200, "content": completion("Unexpected request for {{jmes request body.model}}.")}},
            {"path": path, "match": grounded, "response": {"status": 200, "content": completion(GROUNDED)}},
            {"path": path, "match": format!("contains({last}, 'busy once')"),
             "response": {"status": 200, "content": completion(RETRIED)}},
            {"path": path, "match": format!("contains({last}, 'break')"), "response": error(500, "mock failure")},
            {"path": path, "match": format!("contains({last}, 'always busy')"), "response": error(429, "rate limited")},
            {"path": path, "match": format!("contains({last}, 'busy once')"), "sequence": 0,
             "response": error(429, "rate limited once")},
        ]
    })
}

/// A running mock-llm, killed when dropped.
struct MockLlm {
    _child: tokio::process::Child,
    port: u16,
}

impl MockLlm {
    async fn start(main: &Path, folder: &Path) -> MockLlm {
        let port = free_port();
        let config = folder.join("mock-llm.json");
        std::fs::write(&config, rules().to_string()).expect("config");
        let log = std::fs::File::create(folder.join("mock-llm.log")).expect("log file");
        let mut child = tokio::process::Command::new("node")
            .arg(main)
            .arg("--config")
            .arg(&config)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .current_dir(folder)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("node");
        let http = ferrogram_telegram::http_client().expect("http client");
        let deadline = Instant::now() + STARTUP;
        let log = || std::fs::read_to_string(folder.join("mock-llm.log")).unwrap_or_default();
        loop {
            let url = format!("http://127.0.0.1:{port}/config");
            if let Ok(answer) = http.get(url).send().await
                && answer.status().is_success()
            {
                // The rules it loaded are ours (a missing file would silently give its defaults).
                let loaded: Value = answer.json().await.expect("config json");
                assert_eq!(loaded["rules"].as_array().map(Vec::len), Some(6), "mock-llm's rules: {loaded}");
                return MockLlm { _child: child, port };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("mock-llm exited with {status}: {}", log());
            }
            assert!(Instant::now() < deadline, "mock-llm did not answer: {}", log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The sandbox of one `ferrogram run`, with its bot and admin.
struct Sandbox {
    http: reqwest::Client,
    url: String,
    bot: (i64, i64),
    _child: binary::Guarded,
}

impl Sandbox {
    async fn start(folder: &Path, file: &Path, mock: &MockLlm) -> Sandbox {
        let port = free_port_pair().to_string();
        let database = format!("sqlite://{}", folder.join("bot.db").display());
        let allowed = format!("127.0.0.1:{}", mock.port);
        let file = file.to_str().expect("path");
        let args =
            ["run", file, "--sandbox", "--port", &port, "--database", &database, "--allow-private-http", &allowed];
        let child = binary::spawn(folder, "run.log", &args);
        let (http, url) = (ferrogram_telegram::http_client().expect("http client"), format!("http://127.0.0.1:{port}"));
        let deadline = Instant::now() + STARTUP;
        let bot_id = loop {
            let bots = request(&http, format!("{url}/sandbox/bots"), None).await.unwrap_or_default();
            if let Some(id) = bots.as_array().and_then(|bots| bots.first()).and_then(|bot| bot["id"].as_i64()) {
                break id;
            }
            assert!(Instant::now() < deadline, "the bot did not start; see {}", folder.display());
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let ann =
            request(&http, format!("{url}/sandbox/users"), Some(json!({"first_name": "Ann"}))).await.expect("user");
        let ann = ann["id"].as_i64().expect("user id");
        let sandbox = Sandbox { http, url, bot: (bot_id, ann), _child: child };
        let model_url = format!("http://127.0.0.1:{}/v1", mock.port);
        let said = sandbox.command("setllm", &model_url).await;
        sandbox.wait(said, |t| t == format!("Model server: {model_url}")).await;
        let said = sandbox.command("note", NOTE).await;
        sandbox.wait(said, |t| t.starts_with("Noted (#1)")).await;
        sandbox
    }

    async fn act(&self, kind: &str, body: Value) -> i64 {
        let answer = request(&self.http, format!("{}/sandbox/act/{kind}", self.url), Some(body)).await.expect("act");
        answer["seq"].as_i64().expect("the event's seq")
    }

    async fn command(&self, command: &str, payload: &str) -> i64 {
        let (bot_id, user_id) = self.bot;
        self.act("command", json!({"bot_id": bot_id, "user_id": user_id, "command": command, "payload": payload})).await
    }

    /// Asks `text`; the bot's last word on it (an answer or the unavailable reply).
    async fn ask(&self, text: &str) -> String {
        let (bot_id, user_id) = self.bot;
        let seq = self.act("text", json!({"bot_id": bot_id, "user_id": user_id, "text": text})).await;
        self.wait(seq, |t| t == UNAVAILABLE || t == GROUNDED || t == RETRIED || t.starts_with("Unexpected")).await
    }

    async fn wait(&self, after: i64, done: impl Fn(&str) -> bool) -> String {
        sandbox_said(&self.http, &self.url, self.bot, after, STARTUP, done).await
    }
}

/// The mock, or `None` after saying why the test is skipped.
fn mock_or_skip(test: &str) -> Option<PathBuf> {
    match mock_llm() {
        Ok(main) => Some(main),
        Err(why) => {
            if std::env::var("FERROGRAM_REQUIRE_CONFORMANCE").is_ok_and(|v| v == "1") {
                panic!("mock-llm: {why} (FERROGRAM_REQUIRE_CONFORMANCE=1; run conformance/install.sh)");
            }
            eprintln!("\nSKIPPED {test}: mock-llm: {why} (run conformance/install.sh)\n");
            None
        }
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ai-assistant.yaml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_streamed_ai_assistant_answers_from_mock_llm_and_survives_its_errors() {
    let Some(main) = mock_or_skip("run_sandbox_mock_llm (streamed)") else { return };
    let folder = binary::TempFolder::new("mock-llm-streamed");
    let mock = MockLlm::start(&main, &folder.0).await;
    let sandbox = Sandbox::start(&folder.0, &example(), &mock).await;

    assert_eq!(sandbox.ask(QUESTION).await, GROUNDED, "the mock saw the model, the note and the question");
    assert_eq!(sandbox.ask("please break now").await, UNAVAILABLE, "a 500 in the stream");
    assert_eq!(sandbox.ask("you are always busy").await, UNAVAILABLE, "a 429 in the stream");
    // Nothing crashed: the next question is answered (the conversation so far goes along).
    assert_eq!(sandbox.ask(QUESTION).await, GROUNDED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unstreamed_ai_assistant_retries_a_429_and_reports_errors() {
    let Some(main) = mock_or_skip("run_sandbox_mock_llm (unstreamed)") else { return };
    let folder = binary::TempFolder::new("mock-llm-unstreamed");
    let yaml = std::fs::read_to_string(example()).expect("example");
    assert_eq!(yaml.matches("          as: answer\n").count(), 1, "the llm step's `as` moved");
    let yaml = yaml.replace("          as: answer\n", "          stream: false\n          as: answer\n");
    let file = folder.0.join("ai-assistant-unstreamed.yaml");
    std::fs::write(&file, yaml).expect("bot file");
    let mock = MockLlm::start(&main, &folder.0).await;
    let sandbox = Sandbox::start(&folder.0, &file, &mock).await;

    assert_eq!(sandbox.ask(QUESTION).await, GROUNDED);
    assert_eq!(sandbox.ask("are you busy once?").await, RETRIED, "a 429 once is retried");
    assert_eq!(sandbox.ask("please break now").await, UNAVAILABLE, "a 500 every time");
    assert_eq!(sandbox.ask(QUESTION).await, GROUNDED, "a success closes the breaker's count again");
    assert_eq!(sandbox.ask("you are always busy").await, UNAVAILABLE, "a 429 every time");
    let log = std::fs::read_to_string(folder.0.join("run.log")).unwrap_or_default();
    assert!(log.contains("answered 429"), "the 429 is in the log: {log}");
}
