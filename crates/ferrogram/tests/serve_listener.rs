//! `ferrogram serve`'s one HTTP listener: with a public URL its bots receive by webhook, the
//! sandbox pushing each update to `PUBLIC_URL/telegram/BOT_ID` on the listener; without one
//! they still long-poll (and the listener is bound all the same); an address in use stops the
//! start with an error naming it.
//!
//! One process of the built binary per test, on free loopback ports, driven through its
//! sandbox's control API. Every wait has a deadline. The process is killed when dropped; its
//! log is in the test's temporary folder.

#![cfg(unix)]

mod binary;

use binary::{free_port, free_port_pair};
use std::path::PathBuf;
use std::time::Duration;

use binary::Guarded;
use binary::request;
use serde_json::{Value, json};
use tokio::time::Instant;

const STARTUP: Duration = Duration::from_secs(30);

const ECHO: &str =
    "ferrogram: 1\nbot: {name: hooked}\non:\n  - text: any\n    do: [{reply: \"You said: {{ message.text }}\"}]\n";

/// The sandbox's port (the model's is the next) and a free port for the listener, apart.
fn ports() -> (u16, u16) {
    let sandbox = free_port_pair();
    loop {
        let listen = free_port();
        if listen != sandbox && listen != sandbox + 1 {
            return (sandbox, listen);
        }
    }
}

/// `ferrogram serve` on a folder of its own with the echo bot, its sandbox on `port`, and
/// `extra` flags.
struct Serve {
    folder: PathBuf,
    child: Guarded,
    sandbox: String,
    http: reqwest::Client,
}

impl Serve {
    fn start(name: &str, port: u16, extra: &[&str]) -> Serve {
        let folder = std::env::temp_dir().join(format!("ferrogram-serve-listener-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(folder.join("bots")).expect("temporary folder");
        std::fs::write(folder.join("bots/hooked.yaml"), ECHO).expect("bot file");
        let port_text = port.to_string();
        let mut args = vec!["serve", "--port", &port_text, "--bots", "bots", "--database", "sqlite://data/bots.db"];
        args.extend_from_slice(&["--sandbox-state", "data/sandbox.json"]);
        args.extend_from_slice(extra);
        let child = binary::spawn(&folder, "serve.log", &args);
        let http = ferrogram_telegram::http_client().expect("http client");
        Serve { folder, child, sandbox: format!("http://127.0.0.1:{port}"), http }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.folder.join("serve.log")).unwrap_or_default()
    }

    /// Waits until `check` holds of the answer to `GET sandbox/path`.
    async fn wait_for(&mut self, what: &str, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(answer) = request(&self.http, format!("{}{path}", self.sandbox), None).await
                && check(&answer)
            {
                return answer;
            }
            let running = self.child.try_wait().expect("the process").is_none();
            assert!(Instant::now() < deadline && running, "{what}: not in time; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ann writes `text` to the bot; the text of the bot's next message to her.
    async fn ask(&mut self, bot_id: u64, text: &str) -> String {
        let user = request(&self.http, format!("{}/sandbox/users", self.sandbox), Some(json!({"first_name": "Ann"})))
            .await
            .expect("a user")["id"]
            .as_i64()
            .expect("user id");
        let body = json!({"bot_id": bot_id, "user_id": user, "text": text});
        let sent = request(&self.http, format!("{}/sandbox/act/text", self.sandbox), Some(body)).await.expect("sent");
        let after = sent["seq"].as_i64().expect("the event's seq");
        let path = format!("/sandbox/events?bot_id={bot_id}&chat_id={user}&kind=sent&after={after}&timeout=1");
        let answer = self.wait_for("the bot's answer", &path, |events| !events["events"][0].is_null()).await;
        answer["events"][0]["message"]["text"].as_str().unwrap_or_default().to_owned()
    }

    async fn stop(mut self) {
        self.child.kill().await.expect("ferrogram stopped");
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_public_url_the_bots_receive_by_webhook_on_the_listener() {
    let (port, listen) = ports();
    let listen = format!("127.0.0.1:{listen}");
    let public_url = format!("http://{listen}");
    let mut serve = Serve::start("webhook", port, &["--listen", &listen, "--public-url", &public_url]);
    let bot_id = ferrogram_core::sandbox_bot_id("hooked");

    // The engine registers the webhook with the sandbox once the bot caught up.
    let webhook = format!("{public_url}/telegram/{bot_id}");
    let info = format!("/bot{bot_id}:sandbox/getWebhookInfo");
    serve.wait_for("the webhook set", &info, |info| info["result"]["url"] == json!(webhook)).await;

    // A user's message reaches the bot by webhook and is answered.
    assert_eq!(serve.ask(bot_id, "hello").await, "You said: hello", "log:\n{}", serve.log());
    let info = request(&serve.http, format!("{}{info}", serve.sandbox), None).await.expect("webhook info");
    assert_eq!(info["result"]["pending_update_count"], 0, "delivered: {info}");
    assert!(info["result"]["last_error_message"].is_null(), "no failed delivery: {info}\nlog:\n{}", serve.log());

    // It is the listener that took it: without the secret token it refuses (401).
    let status = serve.http.post(&webhook).body("{}").send().await.expect("the listener answers").status();
    assert_eq!(status, 401);
    serve.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_public_url_the_bots_poll_and_the_listener_is_bound_anyway() {
    let (port, listen) = ports();
    let listen = format!("127.0.0.1:{listen}");
    let mut serve = Serve::start("polling", port, &["--listen", &listen]);
    let bot_id = ferrogram_core::sandbox_bot_id("hooked");
    let known = |bots: &Value| bots.as_array().is_some_and(|bots| bots.iter().any(|bot| bot["id"] == json!(bot_id)));
    serve.wait_for("the bot started", "/sandbox/bots", known).await;
    assert_eq!(serve.ask(bot_id, "hello").await, "You said: hello", "log:\n{}", serve.log());
    let info = request(&serve.http, format!("{}/bot{bot_id}:sandbox/getWebhookInfo", serve.sandbox), None).await;
    assert_eq!(info.expect("webhook info")["result"]["url"], "", "no webhook set");
    // The listener answers (no bot receives by webhook here: 404).
    let url = format!("http://{listen}/telegram/{bot_id}");
    let status = serve.http.post(&url).body("{}").send().await.expect("the listener answers").status();
    assert_eq!(status, 404);
    serve.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_in_use_stops_the_start() {
    let port = free_port_pair();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let listen = taken.local_addr().expect("address").to_string();
    let mut serve = Serve::start("in-use", port, &["--listen", &listen]);
    let status = tokio::time::timeout(STARTUP, serve.child.wait()).await.expect("it exits").expect("the process");
    assert_eq!(status.code(), Some(1), "log:\n{}", serve.log());
    assert!(serve.log().contains(&format!("ferrogram: cannot listen on {listen}: ")), "log:\n{}", serve.log());
    drop(taken);
    let _ = std::fs::remove_dir_all(&serve.folder);
}
