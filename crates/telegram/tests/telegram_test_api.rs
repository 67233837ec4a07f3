//! Ferrogram's Bot API client against an emulator we did not write: the npm package
//! `telegram-test-api` 4.2.1 (pinned in conformance/js/package.json), its real `TelegramServer`
//! run by conformance/js/telegram_test_api_server.mjs.
//!
//! The package's bot side has exactly nine methods (lib/routes/bot/): getMe, getUpdates,
//! sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery, deleteMessage,
//! setWebhook, deleteWebhook; any other method answers HTTP 500. Each is called here through
//! the client, and the user side is played with the package's own HTTP routes and bodies
//! (lib/modules/telegramClient.js): POST /sendMessage with what `makeMessage` builds,
//! /sendCallback with what `makeCallbackQuery` builds, and POST /getUpdates {token, chatId} and
//! /getUpdatesHistory {token} to see what the bot did.
//!
//! Where the package answers what the real Bot API never would, the client is not bent to fit:
//! the tests assert what it does with the answer (a `Error::Decode` naming the method, a raw
//! `IncomingUpdate::Unknown`, a 500 after retries) and that the call still reached the package.
//! The deviations are listed in docs/sandbox.md ("Ferrogram's client against telegram-test-api").
//!
//! No polling and no sleeps: every route of the package changes its storage synchronously before
//! it answers (`addUserUpdate`, `addBotMessage`, `editMessageText`, `deleteMessage` run no
//! `await` before storing when no webhook is set), so one read after the answer is exact. The
//! one asynchronous effect, a webhook delivery, is awaited with a blocking `accept` under a
//! deadline.
//!
//! Skipped, loudly, when node or the package is missing, unless FERROGRAM_REQUIRE_CONFORMANCE=1.

mod common;

use common::{keyboard, text};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrogram_telegram::{Backoff, Client, Error, IncomingUpdate};
use frankenstein::methods::{
    AnswerCallbackQueryParams, DeleteMessageParams, DeleteWebhookParams, EditMessageReplyMarkupParams,
    EditMessageTextParams, GetUpdatesParams, SendMessageParams, SetWebhookParams,
};
use frankenstein::types::{CallbackQuery, Message, ReplyMarkup};
use frankenstein::updates::UpdateContent;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::timeout;

/// Any string is a token to the package; ours must be `<bot id>:<secret>`. The bot id differs
/// from the package's fixed getMe id (666) on purpose.
const TOKEN: &str = "4243:ttapi-Secret_token";
const SCRIPT: &str = "telegram_test_api_server.mjs";
/// `TelegramClient`'s defaults: userId 1, chatId 1, firstName "TestName", userName
/// "testUserName", chatTitle "Test Name", type "private".
const USER_ID: i64 = 1;
const CHAT_ID: i64 = 1;
/// How long anything the package does may take on a busy machine.
const DEADLINE: Duration = Duration::from_secs(30);

// ---- harness -------------------------------------------------------------------------------

/// Writes past the test harness's capture, so a skipped run is visible in every `cargo test`.
fn loud(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "\n{line}\n");
}

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/js")
}

/// Why the emulator cannot run here, if it cannot.
async fn missing_prerequisite() -> Option<String> {
    let package = js_dir().join("node_modules/telegram-test-api/package.json");
    if !package.exists() {
        return Some(format!("{} is missing", package.display()));
    }
    let node = Command::new("node").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().await;
    if !node.as_ref().is_ok_and(|s| s.success()) {
        return Some(format!("node does not run: {node:?}"));
    }
    None
}

/// A port that was free a moment ago; the script exits 3 if it was taken meanwhile.
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    probe.local_addr().expect("local address").port()
}

fn fast_retry() -> Backoff {
    Backoff { max_attempts: 3, base: Duration::from_millis(20), cap: Duration::from_millis(100), jitter: true }
}

/// The package's `TelegramServer` in a node process, a client for it, and its user side.
struct TestApi {
    client: Client,
    url: String,
    http: reqwest::Client,
    child: Child,
    /// Held open: the script exits when it closes (EXIT_ON_STDIN_EOF), so it cannot outlive us.
    stdin: Option<ChildStdin>,
}

impl TestApi {
    /// Starts the server, or returns `None` after saying loudly why it cannot run.
    async fn start() -> Option<TestApi> {
        if let Some(why) = missing_prerequisite().await {
            let required = std::env::var("FERROGRAM_REQUIRE_CONFORMANCE").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "telegram-test-api server: {why} (FERROGRAM_REQUIRE_CONFORMANCE=1; run conformance/install.sh)"
            );
            static SAID: Once = Once::new();
            SAID.call_once(|| loud(&format!("SKIPPED telegram-test-api server: {why} (run conformance/install.sh)")));
            return None;
        }
        ferrogram_telegram::install_crypto_provider();
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("node")
                .arg(SCRIPT)
                .current_dir(js_dir())
                .env("PORT", port.to_string())
                .env("EXIT_ON_STDIN_EOF", "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .expect("node starts");
            let stdin = child.stdin.take().expect("piped stdin");
            let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
            let ready = format!("READY {port}");
            let found = timeout(DEADLINE, async {
                while let Some(line) = lines.next_line().await? {
                    if line == ready {
                        return Ok(true);
                    }
                }
                Ok::<_, std::io::Error>(false)
            })
            .await
            .unwrap_or_else(|_| panic!("{SCRIPT} printed no {ready:?} within {DEADLINE:?}"))
            .expect("read the script's stdout");
            if !found {
                let status = child.wait().await.expect("the script's exit status");
                if status.code() == Some(3) {
                    continue; // the port was taken between our probe and node's bind
                }
                panic!("{SCRIPT} exited before {ready:?}: {status}");
            }
            // Nothing more is printed, but never let a full pipe block the server.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            let url = format!("http://127.0.0.1:{port}");
            let client =
                Client::builder(TOKEN).api_url(url.clone()).retry(fast_retry()).build().expect("client builds");
            let http = reqwest::Client::builder().build().expect("user-side HTTP client");
            return Some(TestApi { client, url, http, child, stdin: Some(stdin) });
        }
        panic!("no free port for {SCRIPT} after 5 attempts");
    }

    /// Closes the script's stdin and checks that it exits cleanly: a crash of the package
    /// during the test (an unhandled rejection, say) fails the test here.
    async fn stop(mut self) {
        drop(self.stdin.take());
        let status = timeout(DEADLINE, self.child.wait())
            .await
            .expect("the server exits when its stdin closes")
            .expect("the server's exit status");
        assert!(status.success(), "telegram-test-api server ended with {status}");
    }

    /// POSTs `body` to one of the package's user-side routes; returns its JSON answer.
    async fn user(&self, route: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{route}", self.url))
            .json(&body)
            .timeout(DEADLINE)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {route}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_else(|e| panic!("POST {route}: {e}"));
        assert!(status.is_success(), "POST {route}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {route}: {e}: {text}"))
    }

    /// The user writes `text`: POST /sendMessage, answered `{"ok":true,"result":null}`.
    async fn user_writes(&self, text: &str) {
        let answer = self.user("/sendMessage", make_message(text)).await;
        assert_eq!(answer, json!({"ok": true, "result": null}));
    }

    /// The bot's messages in the user's chat that the user has not read yet (and now has):
    /// the package's stored items `{time, botToken, message, updateId, messageId, isRead}`.
    async fn user_updates(&self) -> Vec<Value> {
        let answer = self.user("/getUpdates", json!({"token": TOKEN, "chatId": CHAT_ID})).await;
        answer["result"].as_array().cloned().expect("a result array")
    }

    /// Everything of this bot the package still stores, oldest first.
    async fn history(&self) -> Vec<Value> {
        let answer = self.user("/getUpdatesHistory", json!({"token": TOKEN})).await;
        answer["result"].as_array().cloned().expect("a result array")
    }

    /// The stored bot message `message_id`, if the package still has it.
    async fn bot_item(&self, message_id: i32) -> Option<Value> {
        self.history().await.into_iter().find(|item| item["messageId"] == message_id && item.get("message").is_some())
    }

    async fn get_updates(&self, params: GetUpdatesParams) -> Vec<IncomingUpdate> {
        self.client.get_updates(&params).await.expect("getUpdates")
    }
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970")
}

/// `makeCommonMessage()`'s `from` and `chat`.
fn from_and_chat() -> (Value, Value) {
    let from = json!({"id": USER_ID, "first_name": "TestName", "username": "testUserName", "is_bot": false});
    let chat = json!({"id": CHAT_ID, "title": "Test Name", "first_name": "TestName", "username": "testUserName",
                      "type": "private"});
    (from, chat)
}

/// `TelegramClient.makeMessage(text)`: `{...makeCommonMessage(), ...getMessageMeta(), text}`.
fn make_message(text: &str) -> Value {
    let (from, chat) = from_and_chat();
    json!({"from": from, "chat": chat, "botToken": TOKEN, "date": unix_now().as_secs(), "text": text})
}

/// `TelegramClient.makeCallbackQuery(data, {message: {message_id}})`, as the package's own
/// tests press a button: `{...getMessageMeta(), from, message: makeCommonMessage(), data}`
/// deep-extended with the options.
fn make_callback_query(data: &str, message_id: i32) -> Value {
    let (from, chat) = from_and_chat();
    json!({"botToken": TOKEN, "date": unix_now().as_secs(), "from": from,
           "message": {"from": from, "chat": chat, "message_id": message_id}, "data": data})
}

fn message_of(update: &IncomingUpdate) -> &Message {
    match update.known().map(|u| &u.content) {
        Some(UpdateContent::Message(message)) => message,
        _ => panic!("expected a decoded message update, got {update:?}"),
    }
}

/// The description of `err`, which must be a decode error of `method`.
fn decode_error(err: Error, method: &str) -> String {
    match err {
        Error::Decode { method: m, source } if m == method => source.to_string(),
        other => panic!("expected a decode error of {method}, got {other:?}"),
    }
}

/// The package answers `{"ok":true,"result":null}` for these methods; a Bot API `ok: true`
/// answer always has a result, and the client reports the null one as missing.
fn null_result(err: Error, method: &str) {
    let source = decode_error(err, method);
    assert!(source.contains("result"), "{method}: {source}");
}

// ---- tests -----------------------------------------------------------------------------------

/// getMe answers a fixed bot without the required `is_bot`: the typed call is a decode error,
/// the generic call shows the answer.
#[tokio::test]
async fn get_me_answers_a_fixed_user_without_is_bot() {
    let Some(tg) = TestApi::start().await else { return };
    let err = tg.client.get_me().await.expect_err("getMe lacks is_bot");
    let source = decode_error(err, "getMe");
    assert!(source.contains("is_bot"), "{source}");

    let me: Value = tg.client.call("getMe", &()).await.expect("generic getMe");
    assert_eq!(me, json!({"id": 666, "username": "TestNameBot", "first_name": "Test First name"}));
    assert_eq!(tg.client.bot_id(), 4243, "the package's getMe ignores the token's bot id");
    tg.stop().await;
}

/// makeMessage → getUpdates (typed) → sendMessage (typed) → the user's /getUpdates.
#[tokio::test]
async fn user_message_reaches_get_updates_and_the_reply_reaches_the_user() {
    let Some(tg) = TestApi::start().await else { return };
    tg.user_writes("hello bot").await;

    let updates = tg.get_updates(GetUpdatesParams::builder().timeout(0).build()).await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    let incoming = message_of(&updates[0]);
    assert_eq!(incoming.text.as_deref(), Some("hello bot"));
    assert_eq!(incoming.chat.id, CHAT_ID);
    let from = incoming.from.as_deref().expect("from");
    assert_eq!((from.id, from.is_bot, from.first_name.as_str()), (USER_ID as u64, false, "TestName"));
    assert!(incoming.date.abs_diff(unix_now().as_secs()) < 600, "the user's date is in seconds: {}", incoming.date);
    assert!(tg.get_updates(GetUpdatesParams::builder().timeout(0).build()).await.is_empty(), "handed out once");

    let params = SendMessageParams::builder()
        .chat_id(CHAT_ID)
        .text("hello user")
        .reply_markup(ReplyMarkup::InlineKeyboardMarkup(keyboard("A", "a")))
        .build();
    let sent = tg.client.send_message(&params).await.expect("sendMessage decodes");
    assert_eq!(sent.text.as_deref(), Some("hello user"));
    assert_eq!(sent.chat.id, CHAT_ID);
    assert!(sent.message_id > incoming.message_id);
    let markup = sent.reply_markup.as_deref().expect("inline keyboard echoed");
    assert_eq!(markup.inline_keyboard[0][0].callback_data.as_deref(), Some("a"));
    // Deviations the client passes through as data: no `from`, the chat is named "Bot", and
    // `date` is in milliseconds (Telegram: Unix seconds).
    assert!(sent.from.is_none());
    assert_eq!(sent.chat.first_name.as_deref(), Some("Bot"));
    let now_ms = u64::try_from(unix_now().as_millis()).expect("ms fit u64");
    assert!(sent.date.abs_diff(now_ms) < 600_000, "date in ms: {} vs now {now_ms}", sent.date);

    let seen = tg.user_updates().await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["message"]["text"], "hello user");
    assert_eq!(seen[0]["messageId"], sent.message_id);
    assert_eq!(seen[0]["botToken"], TOKEN);
    assert_eq!(seen[0]["message"]["reply_markup"]["inline_keyboard"][0][0]["text"], "A");
    assert!(tg.user_updates().await.is_empty(), "the user read it");
    let texts: Vec<_> = tg.history().await.iter().map(|item| item["message"]["text"].clone()).collect();
    assert_eq!(texts.len(), 2);
    assert!(texts.contains(&json!("hello bot")) && texts.contains(&json!("hello user")), "{texts:?}");
    tg.stop().await;
}

/// The package's getUpdates hands out every unread update once and ignores offset, limit and
/// timeout: what Telegram would send again is gone, and a long poll returns at once.
#[tokio::test]
async fn get_updates_ignores_offset_limit_and_timeout() {
    let Some(tg) = TestApi::start().await else { return };
    tg.user_writes("one").await;
    tg.user_writes("two").await;

    let first = tg.get_updates(GetUpdatesParams::builder().limit(1).timeout(0).build()).await;
    let texts: Vec<_> = first.iter().map(|u| message_of(u).text.clone().unwrap_or_default()).collect();
    assert_eq!(texts, ["one", "two"], "limit 1 ignored");
    let ids: Vec<_> = first.iter().map(IncomingUpdate::update_id).collect();
    assert!(ids[0] < ids[1], "ids ascend: {ids:?}");

    // Telegram: an offset at an unconfirmed update returns it again. The package: delivered is gone.
    let again = tg.get_updates(GetUpdatesParams::builder().offset(ids[0]).timeout(0).build()).await;
    assert!(again.is_empty(), "{again:?}");

    // Telegram would hold this poll up to 5 s; the package answers at once.
    let started = Instant::now();
    let polled = tg.get_updates(GetUpdatesParams::builder().offset(ids[1] + 1).timeout(5).build()).await;
    assert!(polled.is_empty());
    assert!(started.elapsed() < Duration::from_secs(4), "no long poll: {:?}", started.elapsed());
    tg.stop().await;
}

/// A button press reaches getUpdates, raw: the package's callback_query has no `chat_instance`
/// and its `message` no `date`, so it is `Unknown` (and the rest of the batch still decodes).
/// answerCallbackQuery reaches the package and is answered `result: null`.
#[tokio::test]
async fn callback_query_arrives_raw_and_is_answered() {
    let Some(tg) = TestApi::start().await else { return };
    let params = SendMessageParams::builder()
        .chat_id(CHAT_ID)
        .text("Agree?")
        .reply_markup(ReplyMarkup::InlineKeyboardMarkup(keyboard("Yes", "yes")))
        .build();
    let sent = tg.client.send_message(&params).await.expect("sendMessage");
    let pressed = tg.user("/sendCallback", make_callback_query("yes", sent.message_id)).await;
    assert_eq!(pressed, json!({"ok": true, "result": null}));
    tg.user_writes("after the press").await;

    let updates = tg.get_updates(GetUpdatesParams::builder().timeout(0).build()).await;
    assert_eq!(updates.len(), 2, "{updates:?}");
    let IncomingUpdate::Unknown { update_id, raw } = &updates[0] else {
        panic!("the package's callback query cannot be a typed CallbackQuery: {:?}", updates[0]);
    };
    assert_eq!(raw["update_id"], *update_id);
    let query = &raw["callback_query"];
    assert_eq!(query["id"], "1", "the package numbers callback queries 1, 2, 3…");
    assert_eq!(query["data"], "yes");
    assert_eq!(query["from"]["id"], USER_ID);
    assert_eq!(query["message"]["message_id"], sent.message_id);
    assert_eq!(query["message"]["chat"]["id"], CHAT_ID);
    // Exactly these two fields are what keeps it from decoding.
    assert!(query.get("chat_instance").is_none() && query["message"].get("date").is_none(), "{query}");
    let mut patched = query.clone();
    patched["chat_instance"] = json!("1");
    assert!(serde_json::from_value::<CallbackQuery>(patched.clone()).is_err(), "message.date still missing");
    patched["message"]["date"] = json!(unix_now().as_secs());
    let typed: CallbackQuery = serde_json::from_value(patched).expect("decodes once both are present");
    assert_eq!(typed.data.as_deref(), Some("yes"));
    assert_eq!(message_of(&updates[1]).text.as_deref(), Some("after the press"));
    assert!(updates[0].update_id() < updates[1].update_id());

    let id = query["id"].as_str().expect("id").to_owned();
    let answer = AnswerCallbackQueryParams::builder().callback_query_id(id).text("Noted").build();
    null_result(tg.client.answer_callback_query(&answer).await.expect_err("result null"), "answerCallbackQuery");
    // Any id is "answered" (Telegram: 400 "query is too old… or query ID is invalid").
    let unknown = AnswerCallbackQueryParams::builder().callback_query_id("999").build();
    null_result(tg.client.answer_callback_query(&unknown).await.expect_err("result null"), "answerCallbackQuery");
    tg.stop().await;
}

/// editMessageText and editMessageReplyMarkup change the stored message (seen in the history
/// and by the user) but answer `result: null`, for a missing message too.
#[tokio::test]
async fn edits_apply_but_answer_null() {
    let Some(tg) = TestApi::start().await else { return };
    let params = SendMessageParams::builder()
        .chat_id(CHAT_ID)
        .text("draft")
        .reply_markup(ReplyMarkup::InlineKeyboardMarkup(keyboard("A", "a")))
        .build();
    let sent = tg.client.send_message(&params).await.expect("sendMessage");

    let edit = EditMessageTextParams::builder().chat_id(CHAT_ID).message_id(sent.message_id).text("edited").build();
    null_result(tg.client.edit_message_text(&edit).await.expect_err("result null"), "editMessageText");
    let item = tg.bot_item(sent.message_id).await.expect("still stored");
    assert_eq!(item["message"]["text"], "edited");

    // Not even the generic call takes a null result: the client never invents one.
    let edit = EditMessageTextParams::builder().chat_id(CHAT_ID).message_id(sent.message_id).text("final").build();
    let generic = tg.client.call::<_, Value>("editMessageText", &edit).await;
    null_result(generic.expect_err("result null"), "editMessageText");
    let item = tg.bot_item(sent.message_id).await.expect("still stored");
    assert_eq!(item["message"]["text"], "final", "the generic call reached the package too");

    let markup = EditMessageReplyMarkupParams::builder()
        .chat_id(CHAT_ID)
        .message_id(sent.message_id)
        .reply_markup(keyboard("B", "b"))
        .build();
    null_result(tg.client.edit_message_reply_markup(&markup).await.expect_err("result null"), "editMessageReplyMarkup");
    let item = tg.bot_item(sent.message_id).await.expect("still stored");
    assert_eq!(item["message"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"], "b");
    assert_eq!(item["message"]["text"], "final");

    // Telegram: 400 "message to edit not found". The package: the same null answer, no change.
    let before = tg.history().await;
    let missing = EditMessageTextParams::builder().chat_id(CHAT_ID).message_id(9999).text("nobody").build();
    null_result(tg.client.edit_message_text(&missing).await.expect_err("result null"), "editMessageText");
    assert_eq!(tg.history().await, before);

    let seen = tg.user_updates().await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["message"]["text"], "final");
    assert_eq!(seen[0]["message"]["reply_markup"]["inline_keyboard"][0][0]["text"], "B");
    tg.stop().await;
}

/// deleteMessage removes a bot's or a user's message (answered `result: null`); deleting it
/// again is a Bot API 400 error, which the client reports and does not retry.
#[tokio::test]
async fn delete_message_removes_it_and_again_is_a_400() {
    let Some(tg) = TestApi::start().await else { return };
    tg.user_writes("delete me").await;
    let updates = tg.get_updates(GetUpdatesParams::builder().timeout(0).build()).await;
    let theirs = message_of(&updates[0]).message_id;
    let sent = tg.client.send_message(&text(CHAT_ID, "oops")).await.expect("sendMessage");
    assert!(tg.bot_item(sent.message_id).await.is_some());

    let params = DeleteMessageParams::builder().chat_id(CHAT_ID).message_id(sent.message_id).build();
    null_result(tg.client.delete_message(&params).await.expect_err("result null"), "deleteMessage");
    assert!(tg.bot_item(sent.message_id).await.is_none(), "gone from the history");
    assert!(tg.user_updates().await.is_empty(), "the user never sees it");

    let user_message = DeleteMessageParams::builder().chat_id(CHAT_ID).message_id(theirs).build();
    null_result(tg.client.delete_message(&user_message).await.expect_err("result null"), "deleteMessage");
    assert_eq!(tg.history().await, Vec::<Value>::new());

    let again = tg.client.delete_message(&params).await.expect_err("already deleted");
    match &again {
        Error::Api { code: 400, description, .. } => assert!(description.contains("wasn't found"), "{description}"),
        other => panic!("expected a 400, got {other:?}"),
    }
    assert!(!again.is_retryable());
    tg.stop().await;
}

/// setWebhook (answered `result: null`) makes the package POST user updates to the URL, which
/// the client's update decoding reads; getUpdates meanwhile answers `[]` (Telegram: 409).
/// deleteWebhook answers `true` and polling works again. An empty URL is a 500.
#[tokio::test]
async fn webhook_receives_updates_until_deleted() {
    let Some(tg) = TestApi::start().await else { return };
    let hook = TcpListener::bind("127.0.0.1:0").await.expect("bind the webhook");
    let hook_url = format!("http://127.0.0.1:{}/hook", hook.local_addr().expect("address").port());

    let params = SetWebhookParams::builder().url(hook_url).secret_token("s3cret").build();
    null_result(tg.client.set_webhook(&params).await.expect_err("result null"), "setWebhook");
    assert!(tg.get_updates(GetUpdatesParams::builder().timeout(0).build()).await.is_empty());

    tg.user_writes("via webhook").await;
    let (head, body) = timeout(DEADLINE, receive_webhook(&hook)).await.expect("the webhook is called");
    assert!(head.starts_with("post /hook "), "{head}");
    assert!(!head.contains("x-telegram-bot-api-secret-token"), "the package sends no secret token: {head}");
    let update = IncomingUpdate::from_value(body).expect("has an update_id");
    assert_eq!(message_of(&update).text.as_deref(), Some("via webhook"));
    assert!(tg.get_updates(GetUpdatesParams::builder().timeout(0).build()).await.is_empty(), "not stored");

    let deleted = tg.client.delete_webhook(&DeleteWebhookParams::builder().build()).await;
    assert!(deleted.expect("deleteWebhook"));
    tg.user_writes("via polling").await;
    let updates = tg.get_updates(GetUpdatesParams::builder().timeout(0).build()).await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(message_of(&updates[0]).text.as_deref(), Some("via polling"));

    // Telegram: an empty url removes the webhook. The package: a failed assertion, HTTP 500.
    let empty = SetWebhookParams::builder().url("").build();
    let err = tg.client.set_webhook(&empty).await.expect_err("500");
    assert_eq!(err.code(), Some(500));
    assert!(err.to_string().contains("Webhook must have a `url` defined"), "{err}");
    tg.stop().await;
}

/// Any other method is an HTTP 500 with a non-Bot-API body (Telegram: 404 "Not Found"); the
/// client takes it for a server failure, retries it, then reports it.
#[tokio::test]
async fn unsupported_methods_are_a_500() {
    let Some(tg) = TestApi::start().await else { return };
    let err = tg.client.get_webhook_info().await.expect_err("unsupported");
    assert_eq!(err.code(), Some(500));
    assert!(err.is_retryable(), "5xx: retried {} times before this", fast_retry().max_attempts - 1);
    assert!(err.to_string().contains("'getWebhookInfo' is not supported"), "{err}");
    tg.stop().await;
}

/// Reads one HTTP request from the webhook listener and answers 200 (a non-2xx would make the
/// package's unawaited delivery reject and crash node). Returns the lower-cased head and the
/// JSON body.
async fn receive_webhook(listener: &TcpListener) -> (String, Value) {
    let (mut stream, _) = listener.accept().await.expect("accept the webhook call");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.expect("read the webhook request");
        assert!(n > 0, "webhook connection closed inside the head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no content-length: {head}"));
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.expect("read the webhook body");
        assert!(n > 0, "webhook connection closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let answer =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
    stream.write_all(answer).await.expect("answer the webhook");
    stream.shutdown().await.expect("close the webhook connection");
    let body = serde_json::from_slice(&buf[head_end..head_end + length]).expect("a JSON update");
    (head, body)
}
