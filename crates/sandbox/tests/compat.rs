//! The user-side routes of the npm package telegram-test-api
//! (crates/sandbox/src/telegram_test_api_compat.rs): a bot replies through the real Bot API side
//! while the user side is driven exactly as the package's TelegramClient drives it (same routes,
//! same bodies). `js_client` also runs the package's own client
//! (conformance/js/telegram_test_api_client.mjs) against a Rust bot.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

struct Harness {
    http: reqwest::Client,
    url: String,
    _sandbox: ferrogram_sandbox::Sandbox,
}

async fn start() -> Harness {
    // reqwest is built with `rustls-no-provider`: a process-wide provider must exist.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sandbox =
        ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("the sandbox starts");
    Harness {
        http: reqwest::Client::builder().no_proxy().build().expect("reqwest client"),
        url: sandbox.url(),
        _sandbox: sandbox,
    }
}

impl Harness {
    /// POSTs a JSON body; answers the status and the decoded JSON.
    async fn raw(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path} answered non-JSON ({e}): {text}"));
        (status, value)
    }

    /// A user-side call of telegram-test-api: must answer 200.
    async fn user(&self, route: &str, body: Value) -> Value {
        let (status, value) = self.raw(route, &body).await;
        assert_eq!(status, StatusCode::OK, "{route} {body} answered {value}");
        assert_eq!(value["ok"], true, "{route} {body} answered {value}");
        value
    }

    /// The user's bot messages in a chat, as TelegramClient.getUpdates fetches them (one try).
    async fn user_updates(&self, token: &str, chat_id: i64) -> Vec<Value> {
        let answer = self.user("/getUpdates", json!({"token": token, "chatId": chat_id})).await;
        answer["result"].as_array().cloned().unwrap_or_else(|| panic!("no result array: {answer}"))
    }

    async fn history(&self, token: &str) -> Vec<Value> {
        let answer = self.user("/getUpdatesHistory", json!({ "token": token })).await;
        answer["result"].as_array().cloned().unwrap_or_else(|| panic!("no result array: {answer}"))
    }

    /// A Bot API call; answers its `result`.
    async fn bot(&self, token: &str, method: &str, params: Value) -> Value {
        let (status, value) = self.raw(&format!("/bot{token}/{method}"), &params).await;
        assert!(status.is_success() && value["ok"] == true, "{method} {params} answered {status}: {value}");
        value["result"].clone()
    }

    /// The bot's pending updates, confirming the earlier ones.
    async fn bot_updates(&self, token: &str, offset: &mut i64) -> Vec<Value> {
        let updates = self.bot(token, "getUpdates", json!({"offset": *offset, "timeout": 5})).await;
        let updates = updates.as_array().cloned().unwrap_or_default();
        for update in &updates {
            common::shape::assert_shape("Update", update);
        }
        if let Some(last) = updates.last().and_then(|u| u["update_id"].as_i64()) {
            *offset = last + 1;
        }
        updates
    }
}

/// What TelegramClient's `makeCommonMessage` and `getMessageMeta` put in every body.
struct Client {
    token: &'static str,
    user_id: i64,
    chat_id: i64,
    first_name: &'static str,
    kind: &'static str,
}

impl Client {
    fn new(token: &'static str) -> Self {
        Client { token, user_id: 1, chat_id: 1, first_name: "TestName", kind: "private" }
    }

    fn common(&self) -> Value {
        json!({
            "from": {"id": self.user_id, "first_name": self.first_name, "username": "testUserName", "is_bot": false},
            "chat": {"id": self.chat_id, "title": "Test group", "first_name": self.first_name,
                     "username": "testUserName", "type": self.kind},
            "botToken": self.token,
            "date": 1_700_000_000,
        })
    }

    /// `makeMessage(text)`.
    fn message(&self, text: &str) -> Value {
        let mut body = self.common();
        body["text"] = json!(text);
        body
    }

    /// `makeCommand(text)`: the package computes the bot_command entity itself.
    fn command(&self, text: &str) -> Value {
        let mut body = self.message(text);
        let length = text.find(' ').unwrap_or(text.len());
        body["entities"] = json!([{"offset": 0, "length": length, "type": "bot_command"}]);
        body
    }

    /// `makeCallbackQuery(data, {message: {message_id}})`.
    fn callback(&self, data: &str, message_id: Option<i64>) -> Value {
        let common = self.common();
        let mut message = json!({"from": common["from"], "chat": common["chat"]});
        if let Some(id) = message_id {
            message["message_id"] = json!(id);
        }
        json!({"botToken": self.token, "date": common["date"], "from": common["from"], "message": message, "data": data})
    }
}

fn only(mut list: Vec<Value>, what: &str) -> Value {
    assert_eq!(list.len(), 1, "{what}: expected exactly one, got {list:?}");
    list.remove(0)
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    keys.sort_unstable();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_message_bot_reply_and_user_get_updates() {
    let h = start().await;
    let token = "4242:compat-message";
    let client = Client::new(token);
    let mut offset = 0;

    let answer = h.user("/sendMessage", client.message("hello")).await;
    assert_eq!(answer, json!({"ok": true, "result": null}));

    // The bot sees a real Message from user 1 in its private chat.
    let update = only(h.bot_updates(token, &mut offset).await, "the bot's updates");
    let message = &update["message"];
    assert_eq!(message["text"], "hello");
    assert_eq!(
        message["from"],
        json!({"id": 1, "is_bot": false, "first_name": "TestName", "username": "testUserName"})
    );
    assert_eq!(message["chat"]["id"], 1);
    assert_eq!(message["chat"]["type"], "private");
    assert!(message.get("botToken").is_none(), "the package's fields stay out of the Message: {message}");
    let user_message_id = message["message_id"].as_i64().unwrap();

    // The user was created with the package's id and names.
    let users = reqwest::get(format!("{}/sandbox/users", h.url)).await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(users, json!([{"id": 1, "is_bot": false, "first_name": "TestName", "username": "testUserName"}]));

    assert!(h.user_updates(token, 1).await.is_empty(), "no bot message yet");
    let reply = h
        .bot(
            token,
            "sendMessage",
            json!({"chat_id": 1, "text": "pong", "reply_to_message_id": user_message_id,
                   "reply_markup": {"keyboard": [[{"text": "ok 1"}]]}}),
        )
        .await;

    let item = only(h.user_updates(token, 1).await, "the user's updates");
    assert_eq!(keys(&item), ["botToken", "isRead", "message", "messageId", "time", "updateId"]);
    assert_eq!(item["botToken"], token);
    assert_eq!(item["isRead"], true);
    assert_eq!(item["messageId"], reply["message_id"]);
    assert!(item["updateId"].as_i64().is_some_and(|id| id > 0), "{item}");
    assert!(item["time"].as_i64().is_some_and(|t| t > 1_600_000_000_000), "time is in ms: {item}");
    assert_eq!(item["message"]["text"], "pong");
    assert_eq!(item["message"]["chat_id"], 1);
    assert_eq!(item["message"]["reply_to_message_id"], user_message_id);
    assert_eq!(item["message"]["reply_markup"]["keyboard"][0][0]["text"], "ok 1");

    // getUpdates consumes; another chat sees nothing.
    assert!(h.user_updates(token, 1).await.is_empty(), "read messages come once");
    assert!(h.user_updates(token, 2).await.is_empty());

    // The history keeps both; the user's message is read once the bot confirms it.
    let history = h.history(token).await;
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["message"]["text"], "hello");
    assert_eq!(history[0]["isRead"], false, "fetched but not confirmed yet");
    h.bot(token, "getUpdates", json!({"offset": offset, "timeout": 0})).await;
    let history = h.history(token).await;
    assert_eq!(history[0]["isRead"], true, "the bot confirmed it");
    assert_eq!(history[0]["messageId"], user_message_id);
    assert!(history[0].get("entities").is_none());
    assert_eq!(history[1]["message"]["text"], "pong");
    assert!(history[1]["time"].as_i64() > history[0]["time"].as_i64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_command_callback_edit_and_history() {
    let h = start().await;
    let token = "4243:compat-callback";
    let client = Client::new(token);
    let mut offset = 0;

    assert_eq!(h.user("/sendCommand", client.command("/start")).await, json!({"ok": true, "result": null}));
    let update = only(h.bot_updates(token, &mut offset).await, "the command");
    assert_eq!(update["message"]["text"], "/start");
    assert_eq!(update["message"]["entities"], json!([{"offset": 0, "length": 6, "type": "bot_command"}]));

    let greetings = h
        .bot(
            token,
            "sendMessage",
            json!({"chat_id": 1, "text": "Greetings",
                   "reply_markup": {"inline_keyboard": [[{"text": "Button", "callback_data": "button"}]]}}),
        )
        .await;
    let message_id = greetings["message_id"].as_i64().unwrap();
    let item = only(h.user_updates(token, 1).await, "Greetings");
    assert_eq!(item["messageId"], message_id);
    assert_eq!(item["message"]["reply_markup"]["inline_keyboard"][0][0]["text"], "Button");

    // Like the package, any data is taken, not only the buttons'.
    assert_eq!(
        h.user("/sendCallback", client.callback("edit", Some(message_id))).await,
        json!({"ok": true, "result": null})
    );
    let update = only(h.bot_updates(token, &mut offset).await, "the callback query");
    let query = &update["callback_query"];
    assert_eq!(query["data"], "edit");
    assert_eq!(query["from"]["id"], 1);
    assert_eq!(query["message"]["message_id"], message_id);
    assert_eq!(query["message"]["text"], "Greetings");
    assert!(query["chat_instance"].is_string());
    let query_id = query["id"].as_str().unwrap().to_string();
    assert_eq!(h.bot(token, "answerCallbackQuery", json!({"callback_query_id": query_id, "text": "ok"})).await, true);
    h.bot(token, "editMessageText", json!({"chat_id": 1, "message_id": message_id, "text": "Edited"})).await;

    // An edit is not a new message for getUpdates; the history shows it in place.
    assert!(h.user_updates(token, 1).await.is_empty());
    let history = h.history(token).await;
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(history[0]["message"]["text"], "/start");
    assert_eq!(history[0]["entities"], json!([{"offset": 0, "length": 6, "type": "bot_command"}]));
    assert_eq!(history[1]["messageId"], message_id);
    assert_eq!(history[1]["message"]["text"], "Edited");
    assert_eq!(
        keys(&history[2]),
        ["botToken", "callbackId", "callbackQuery", "isRead", "messageId", "time", "updateId"]
    );
    assert_eq!(history[2]["callbackId"], query_id.as_str());
    assert_eq!(history[2]["callbackQuery"]["data"], "edit");
    assert_eq!(history[2]["messageId"], message_id);
    assert_eq!(history[2]["isRead"], false, "the bot has not confirmed the callback update yet");
    for pair in history.windows(2) {
        assert!(pair[1]["time"].as_i64() > pair[0]["time"].as_i64(), "times increase: {history:?}");
    }

    // The same world: the control API sees the answer and the edit.
    let answered = reqwest::get(format!("{}/sandbox/callbacks/{query_id}", h.url)).await.unwrap();
    assert_eq!(answered.json::<Value>().await.unwrap()["answered"], true);
    let log = reqwest::get(format!("{}/sandbox/chats/1/messages?bot_id=4243", h.url)).await.unwrap();
    let log = log.json::<Value>().await.unwrap();
    assert_eq!(log[1]["message"]["text"], "Edited");

    // editMessageReplyMarkup shows too.
    h.bot(
        token,
        "editMessageReplyMarkup",
        json!({"chat_id": 1, "message_id": message_id,
               "reply_markup": {"inline_keyboard": [[{"text": "EditedButton", "callback_data": "edited"}]]}}),
    )
    .await;
    let history = h.history(token).await;
    assert_eq!(history[1]["message"]["reply_markup"]["inline_keyboard"][0][0]["text"], "EditedButton");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_without_a_message_other_chats_groups_and_deletions() {
    let h = start().await;
    let token = "4244:compat-chats";
    let mut offset = 0;

    // makeCallbackQuery('somedata'): no message_id → an InaccessibleMessage in the chat.
    h.user("/sendCallback", Client::new(token).callback("somedata", None)).await;
    let update = only(h.bot_updates(token, &mut offset).await, "the callback query");
    let query = &update["callback_query"];
    assert_eq!(query["data"], "somedata");
    assert_eq!(query["message"]["date"], 0);
    assert_eq!(query["message"]["message_id"], 0);
    assert_eq!(query["message"]["chat"]["id"], 1);

    // getClient(token, {chatId: 2, firstName: 'Second User'}): userId stays 1, but a private
    // chat's id is its user's, so chat 2 is the user 2.
    let second = Client { chat_id: 2, first_name: "Second User", ..Client::new(token) };
    h.user("/sendMessage", second.message("/start")).await;
    let update = only(h.bot_updates(token, &mut offset).await, "the second user's message");
    assert_eq!(update["message"]["chat"]["id"], 2);
    assert_eq!(update["message"]["from"]["id"], 2);
    assert_eq!(update["message"]["from"]["first_name"], "Second User");
    h.bot(token, "sendMessage", json!({"chat_id": 2, "text": "hi 2"})).await;
    assert!(h.user_updates(token, 1).await.is_empty());
    assert_eq!(only(h.user_updates(token, 2).await, "chat 2")["message"]["text"], "hi 2");

    // A group chat is created on first use, with the bot in it.
    let group = Client { user_id: 7, chat_id: -100500, first_name: "Gabe", kind: "group", ..Client::new(token) };
    h.user("/sendMessage", group.message("/ping")).await;
    let update = only(h.bot_updates(token, &mut offset).await, "the group message");
    assert_eq!(update["message"]["chat"], json!({"id": -100500, "type": "group", "title": "Test group"}));
    assert_eq!(update["message"]["from"]["id"], 7);
    h.bot(token, "sendMessage", json!({"chat_id": -100500, "text": "pong"})).await;
    let item = only(h.user_updates(token, -100500).await, "the group's updates");
    assert_eq!(item["message"]["chat"]["type"], "group");
    assert_eq!(item["message"]["chat_id"], -100500);
    // Another member joins the same group on their first message.
    let other = Client { user_id: 8, first_name: "Olga", ..group };
    h.user("/sendMessage", other.message("hello all")).await;
    let update = only(h.bot_updates(token, &mut offset).await, "the second member's message");
    assert_eq!(update["message"]["from"]["first_name"], "Olga");

    // A message the bot deletes leaves the history.
    h.user("/sendMessage", Client::new(token).message("delete")).await;
    let update = only(h.bot_updates(token, &mut offset).await, "delete");
    let doomed = update["message"]["message_id"].clone();
    h.bot(token, "deleteMessage", json!({"chat_id": 1, "message_id": doomed})).await;
    let history = h.history(token).await;
    assert!(!history.iter().any(|i| i["message"]["text"] == "delete"), "{history:?}");
    assert_eq!(history.len(), 6, "callback, 2×(message, reply), Olga: {history:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors() {
    let h = start().await;
    let mut body = Client::new("4245:compat-errors").message("hi");
    body.as_object_mut().unwrap().remove("botToken");
    let (status, answer) = h.raw("/sendMessage", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer, json!({"ok": false, "message": "botToken is required"}));

    // The package takes any token; ours must look like Telegram's (`<bot id>:<secret>`).
    let (status, answer) = h.raw("/sendMessage", &Client::new("sampleToken").message("hi")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["ok"], false);
    assert!(answer["message"].as_str().unwrap().contains("invalid token"), "{answer}");

    let (status, answer) = h.raw("/sendMessage", &Client::new("4245:compat-errors").message("")).await;
    assert_eq!((status, answer["message"].as_str()), (StatusCode::BAD_REQUEST, Some("text is required")));

    let channel = Client { kind: "channel", ..Client::new("4245:compat-errors") };
    let (status, _) = h.raw("/sendMessage", &channel.message("hi")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Reading a bot nobody used answers nothing (and creates nothing).
    assert!(h.user_updates("4246:unused", 1).await.is_empty());
    assert!(h.history("4246:unused").await.is_empty());
    let bots = reqwest::get(format!("{}/sandbox/bots", h.url)).await.unwrap().json::<Value>().await.unwrap();
    assert!(!bots.to_string().contains("4246"), "{bots}");
    let (status, answer) = h.raw("/getUpdates", &json!({"token": "4245:compat-errors"})).await;
    assert_eq!((status, answer["message"].as_str()), (StatusCode::BAD_REQUEST, Some("chatId is required")));
}

/// Entities the client gives are kept when they fit the text (offsets in UTF-16 units) and
/// replaced by the detected ones otherwise, an overflowing `offset + length` too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_entities_are_kept_only_when_they_fit() {
    let h = start().await;
    let token = "4247:compat-entities";
    let client = Client::new(token);
    let mut offset = 0;
    let mut body = client.message("😀 bold");
    body["entities"] = json!([{"offset": 3, "length": 4, "type": "bold"}]);
    h.user("/sendMessage", body).await;
    let update = only(h.bot_updates(token, &mut offset).await, "the message");
    assert_eq!(update["message"]["entities"], json!([{"offset": 3, "length": 4, "type": "bold"}]));

    for (entity_offset, length) in [(i64::MAX, 1), (1, i64::MAX), (8, 5)] {
        let mut body = client.message("/start now");
        body["entities"] = json!([{"offset": entity_offset, "length": length, "type": "bold"}]);
        h.user("/sendMessage", body).await;
        let update = only(h.bot_updates(token, &mut offset).await, "the message");
        assert_eq!(
            update["message"]["entities"],
            json!([{"offset": 0, "length": 6, "type": "bot_command"}]),
            "{entity_offset}+{length} does not fit: the detected entities instead"
        );
    }
}

// ---- the package's own TelegramClient ------------------------------------------------------

/// Writes past the test harness's capture, so a skipped run is visible in every `cargo test`.
fn js_dir() -> PathBuf {
    common::conformance_dir().join("js")
}

/// The bot the JS scenarios expect (see the header of telegram_test_api_client.mjs).
async fn play_bot(http: reqwest::Client, url: String, token: String) {
    let call = |method: &str, params: Value| {
        let request = http.post(format!("{url}/bot{token}/{method}")).json(&params).timeout(Duration::from_secs(30));
        async move {
            match request.send().await {
                Ok(response) => response.json::<Value>().await.unwrap_or(Value::Null),
                Err(e) => json!({"ok": false, "description": e.to_string()}),
            }
        }
    };
    let mut offset = 0;
    loop {
        let answer = call("getUpdates", json!({"offset": offset, "timeout": 10})).await;
        let Some(updates) = answer["result"].as_array() else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        for update in updates {
            offset = update["update_id"].as_i64().unwrap_or(offset) + 1;
            if let Some(query) = update.get("callback_query") {
                call("answerCallbackQuery", json!({"callback_query_id": query["id"]})).await;
                let at =
                    json!({"chat_id": query["message"]["chat"]["id"], "message_id": query["message"]["message_id"]});
                let (method, mut params) = match query["data"].as_str() {
                    Some("edit") => ("editMessageText", json!({"text": "Edited"})),
                    Some("edit_markup") => (
                        "editMessageReplyMarkup",
                        json!({"reply_markup": {"inline_keyboard": [[{"text": "EditedButton", "callback_data": "edited_button"}]]}}),
                    ),
                    _ => ("sendMessage", json!({"chat_id": at["chat_id"], "text": "pong"})),
                };
                if method != "sendMessage" {
                    params.as_object_mut().unwrap().extend(at.as_object().unwrap().clone());
                }
                call(method, params).await;
                continue;
            }
            let message = &update["message"];
            let (chat_id, message_id) = (message["chat"]["id"].clone(), message["message_id"].clone());
            let text = message["text"].as_str().unwrap_or_default();
            let keyboard = |rows: Value| json!({ "keyboard": rows });
            let reply = match text {
                "/start" => Some(json!({"text": "What is your name?", "reply_to_message_id": message_id,
                                        "reply_markup": keyboard(json!([[{"text": "Masha"}, {"text": "Sasha"}]]))})),
                "/ping" => Some(json!({"text": "pong"})),
                "/menu" => Some(json!({"text": "Greetings",
                                       "reply_markup": {"inline_keyboard": [[{"text": "Button", "callback_data": "button"}]]}})),
                t if t.contains("Masha") => Some(json!({"text": "Hello, Masha!", "reply_to_message_id": message_id,
                                                        "reply_markup": keyboard(json!([[{"text": "Hello!"}]]))})),
                "delete" => {
                    call("deleteMessage", json!({"chat_id": chat_id, "message_id": message_id})).await;
                    None
                }
                _ => None,
            };
            if let Some(mut reply) = reply {
                reply["chat_id"] = chat_id;
                call("sendMessage", reply).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client() {
    let package = js_dir().join("node_modules/telegram-test-api/package.json");
    let node = tokio::process::Command::new("node").arg("--version").stdout(Stdio::null()).status().await;
    let missing = if !package.exists() {
        Some(format!("{} is missing", package.display()))
    } else if !node.as_ref().is_ok_and(|s| s.success()) {
        Some(format!("node does not run: {node:?}"))
    } else {
        None
    };
    if let Some(why) = missing {
        return common::skip_or_fail("compat telegram-test-api client", &why);
    }

    let h = start().await;
    let tokens: Vec<String> = (1..=5).map(|i| format!("4250{i}:compat-js-{i}")).collect();
    let bots: Vec<_> =
        tokens.iter().map(|t| tokio::spawn(play_bot(h.http.clone(), h.url.clone(), t.clone()))).collect();
    let run = tokio::process::Command::new("node")
        .arg("telegram_test_api_client.mjs")
        .current_dir(js_dir())
        .env("SANDBOX_URL", &h.url)
        .env("BOT_TOKENS", tokens.join(","))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the JS client finishes within 180 s")
        .expect("node runs");
    for bot in bots {
        bot.abort();
    }
    let shown = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "telegram-test-api's TelegramClient failed ({}):\n{shown}", output.status);
    assert_eq!(shown.matches("OK ").count(), 5, "every scenario ran:\n{shown}");
    println!("{shown}");
}
