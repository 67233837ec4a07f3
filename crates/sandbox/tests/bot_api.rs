//! The bot side of the sandbox, spoken to over real HTTP: parameters, getUpdates, webhooks,
//! messages, media, polls, callbacks, groups, flood limits, faults, strict mode and `--state`.
//!
//! Each test starts its own sandbox in-process and acts as users through the control API.
//! Nothing sleeps and hopes: tests wait on the control API's long poll, on the bot's own
//! wake-up channel, or on requests reaching the test's webhook, each under a guard timeout.

mod common;

use common::hook::{Hook, Reply};
use common::shape::assert_shape;
use common::{BOT, Env, PNG, TOKEN, allowing, guard, ids, no_limits};
use ferrogram_sandbox::Config;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::time::Duration;

/// Subscribes to the bot's wake-up channel: it ticks when a getUpdates call starts waiting.
fn wake_of(env: &Env, bot_id: i64) -> tokio::sync::watch::Receiver<u64> {
    env.sandbox.world().with(|s| s.bots[&bot_id].runtime.wake.subscribe())
}

fn inline_keyboard(text: &str, data: &str) -> Value {
    json!({ "inline_keyboard": [[{ "text": text, "callback_data": data }]] })
}

/// A user who has started a private chat with the default bot (its update confirmed).
async fn started_user(env: &Env, name: &str) -> i64 {
    let user = env.user(name).await;
    env.act("command", user, json!({ "command": "start" })).await;
    env.drain(TOKEN).await;
    user
}

async fn send_text(env: &Env, chat_id: i64, text: &str) -> Value {
    env.bot("sendMessage", json!({ "chat_id": chat_id, "text": text })).await
}

// ---------------------------------------------------------------------------------------------
// Parameters, paths and tokens

#[tokio::test]
async fn parameters_come_from_the_query_string_forms_and_json() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let url = env.bot_url(TOKEN, "sendMessage");
    let chat = ann.to_string();

    let query = env.http.get(&url).query(&[("chat_id", chat.as_str()), ("text", "from the query string")]);
    let message = env.send(query).await.ok();
    assert_shape("Message", &message);
    assert_eq!((message["chat"]["id"].as_i64(), message["text"].as_str()), (Some(ann), Some("from the query string")));

    let keyboard = inline_keyboard("A", "a").to_string();
    let form = [("chat_id", chat.as_str()), ("text", "from a form"), ("reply_markup", keyboard.as_str())];
    let message = env.send(env.http.post(&url).form(&form)).await.ok();
    assert_eq!(message["text"], "from a form");
    assert_eq!(message["reply_markup"], inline_keyboard("A", "a"), "a JSON object in a form field is parsed");

    let multipart = Form::new().text("chat_id", chat.clone()).text("text", "from multipart");
    let message = env.send(env.http.post(&url).multipart(multipart)).await.ok();
    assert_eq!(message["text"], "from multipart");

    let message = env.send(env.http.post(&url).json(&json!({ "chat_id": chat, "text": "007" }))).await.ok();
    assert_eq!(message["text"], "007", "a string chat_id is converted, a numeric-looking text is kept");

    let merged = env.http.post(format!("{url}?chat_id={ann}")).json(&json!({ "text": "merged" }));
    let message = env.send(merged).await.ok();
    assert_eq!((message["chat"]["id"].as_i64(), message["text"].as_str()), (Some(ann), Some("merged")));
}

#[tokio::test]
async fn method_names_are_case_insensitive() {
    let env = Env::start().await;
    for method in ["getMe", "getme", "GETME", "GetMe"] {
        let me = env.call(TOKEN, method, json!({})).await;
        assert_shape("User", &me);
        assert_eq!(me["id"], BOT);
        assert_eq!(me["is_bot"], true);
        assert_eq!(me["username"], "bot1001_bot");
    }
    let ann = started_user(&env, "Ann").await;
    let message = env.call(TOKEN, "SENDMESSAGE", json!({ "chat_id": ann, "text": "shouting" })).await;
    assert_eq!(message["text"], "shouting");
}

#[tokio::test]
async fn a_token_with_an_escaped_colon_works() {
    let env = Env::start().await;
    let me = env.send(env.http.get(format!("{}/bot1001%3Atest-token/getMe", env.url))).await.ok();
    assert_eq!(me["id"], BOT);
    let again = env.bot("getMe", json!({})).await;
    assert_eq!(me, again, "the escaped and the plain token name the same bot");
}

#[tokio::test]
async fn malformed_tokens_get_401() {
    let env = Env::start().await;
    for token in ["123", "0123:abc", "abc:def", "123:", "-5:abc", ":abc"] {
        for method in ["getMe", "noSuchMethod"] {
            let answer = env.send(env.http.get(env.bot_url(token, method))).await;
            assert_eq!(answer.err(), (401, "Unauthorized: invalid token specified".into()), "{token}/{method}");
        }
    }
    let bad_params = env.http.post(env.bot_url("0123:abc", "sendMessage")).form(&[("reply_markup", "{not json")]);
    assert_eq!(env.send(bad_params).await.err(), (401, "Unauthorized: invalid token specified".into()));
    env.bot("getMe", json!({})).await;
    let other_secret = env.fail("1001:another-secret", "getMe", json!({})).await;
    assert_eq!(other_secret, (401, "Unauthorized".into()));
}

#[tokio::test]
async fn unknown_methods_and_paths_are_404() {
    let env = Env::start().await;
    let answer = env.send(env.http.post(env.bot_url(TOKEN, "noSuchMethod"))).await;
    assert_eq!(answer.err(), (404, "Not Found: method not found".into()));
    for path in ["/foo", "/api/getMe", &format!("/bot{TOKEN}"), &format!("/file/bot{TOKEN}/photos/none.jpg")] {
        let answer = env.send(env.http.get(format!("{}{path}", env.url))).await;
        assert_eq!(answer.err(), (404, "Not Found".into()), "{path}");
    }
}

// ---------------------------------------------------------------------------------------------
// getUpdates

#[tokio::test]
async fn an_offset_confirms_updates_for_good() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    for text in ["a", "b", "c"] {
        env.say(ann, text).await;
    }
    let updates = env.updates(json!({})).await;
    updates.iter().for_each(|u| assert_shape("Update", u));
    let texts: Vec<&str> = updates.iter().map(|u| u["message"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["a", "b", "c"]);
    let [a, b, c] = ids(&updates)[..] else { panic!("three updates") };
    assert_eq!((b, c), (a + 1, a + 2), "update ids are consecutive");

    assert_eq!(ids(&env.updates(json!({ "offset": b })).await), [b, c]);
    assert_eq!(ids(&env.updates(json!({})).await), [b, c], "a confirmed update never comes back");
    assert_eq!(ids(&env.updates(json!({ "offset": c + 1 })).await), Vec::<i64>::new());
    assert_eq!(ids(&env.updates(json!({ "offset": a })).await), Vec::<i64>::new(), "an old offset revives nothing");
    env.say(ann, "d").await;
    assert_eq!(ids(&env.updates(json!({})).await), [c + 1]);
}

#[tokio::test]
async fn a_negative_offset_keeps_only_the_last_updates() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    for i in 0..5 {
        env.say(ann, &format!("m{i}")).await;
    }
    let all = ids(&env.updates(json!({})).await);
    let last_two = env.updates(json!({ "offset": -2 })).await;
    assert_eq!(ids(&last_two), all[3..]);
    assert_eq!(ids(&env.updates(json!({})).await), all[3..], "the earlier ones are forgotten");
}

#[tokio::test]
async fn the_limit_is_clamped_to_1_100() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    for i in 0..3 {
        env.say(ann, &format!("m{i}")).await;
    }
    for (limit, expected) in [(json!(0), 1), (json!(-5), 1), (json!(2), 2), (json!("2"), 2), (json!(1000), 3)] {
        let updates = env.updates(json!({ "limit": limit })).await;
        assert_eq!(updates.len(), expected, "limit {limit}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_returns_as_soon_as_a_user_acts() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    env.bot("getMe", json!({})).await;
    let mut wake = wake_of(&env, BOT);
    let poll = env.raw(TOKEN, "getUpdates", json!({ "timeout": 10 }));
    let act = async {
        wake.changed().await.expect("the bot exists");
        env.say(ann, "wake up").await
    };
    let (answer, sent) = guard("the long poll", async { tokio::join!(poll, act) }).await;
    let updates = answer.ok();
    let updates = updates.as_array().unwrap();
    assert_eq!(updates.len(), 1, "the poll answers with the update, not empty: {updates:?}");
    assert_eq!(updates[0]["message"], sent);
}

#[tokio::test]
async fn timeout_zero_answers_at_once() {
    let env = Env::start().await;
    let updates = guard("getUpdates with timeout 0", env.updates(json!({ "timeout": 0 }))).await;
    assert!(updates.is_empty());
}

#[tokio::test]
async fn an_expired_long_poll_answers_empty() {
    let env = Env::start().await;
    let updates = guard("a one-second long poll", env.updates(json!({ "timeout": 1 }))).await;
    assert!(updates.is_empty());
}

#[tokio::test]
async fn allowed_updates_filter_and_persist() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let menu = env
        .bot("sendMessage", json!({ "chat_id": ann, "text": "menu", "reply_markup": inline_keyboard("Go", "go") }))
        .await;
    let form = [("allowed_updates", r#"["callback_query"]"#), ("timeout", "0")];
    let none = env.send(env.http.post(env.bot_url(TOKEN, "getUpdates")).form(&form)).await.ok();
    assert_eq!(none, json!([]));

    let text = env.act("text", ann, json!({ "text": "not wanted" })).await;
    assert_eq!(text["update_id"], Value::Null, "a message is not queued for this bot");
    let press = env.act("callback", ann, json!({ "message_id": menu["message_id"], "data": "go" })).await;
    let updates = env.updates(json!({})).await;
    assert_eq!(ids(&updates), [press["update_id"].as_i64().unwrap()], "the filter outlives the call that set it");
    assert!(updates[0].get("callback_query").is_some());

    let offset = press["update_id"].as_i64().unwrap() + 1;
    env.updates(json!({ "offset": offset, "allowed_updates": [] })).await;
    let said = env.act("text", ann, json!({ "text": "wanted again" })).await;
    let updates = env.updates(json!({})).await;
    assert_eq!(ids(&updates), [said["update_id"].as_i64().unwrap()], "an empty list restores the default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_older_of_two_polls_gets_409() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    env.bot("getMe", json!({})).await;
    let mut wake = wake_of(&env, BOT);
    let first = env.raw(TOKEN, "getUpdates", json!({ "timeout": 10 }));
    let second = async {
        wake.changed().await.unwrap();
        let second = env.raw(TOKEN, "getUpdates", json!({ "timeout": 10 }));
        let act = async {
            wake.changed().await.unwrap();
            env.say(ann, "for the newer poll").await
        };
        tokio::join!(second, act)
    };
    let (first, (second, sent)) = guard("two polls", async { tokio::join!(first, second) }).await;
    assert_eq!(
        first.err(),
        (
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running".into()
        )
    );
    let updates = second.ok();
    assert_eq!(updates[0]["message"], sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_updates_conflicts_with_a_webhook() {
    let env = Env::start().await;
    let hook = Hook::start().await;
    env.bot("getMe", json!({})).await;
    let mut wake = wake_of(&env, BOT);
    let poll = env.raw(TOKEN, "getUpdates", json!({ "timeout": 10 }));
    let set = async {
        wake.changed().await.unwrap();
        env.bot("setWebhook", json!({ "url": hook.url })).await
    };
    let (poll, set) = guard("a poll and setWebhook", async { tokio::join!(poll, set) }).await;
    assert_eq!(set, true);
    assert_eq!(poll.err(), (409, "Conflict: terminated by setWebhook request".into()));

    let conflict = env.bot_fail("getUpdates", json!({})).await;
    let text =
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
    assert_eq!(conflict, (409, text.into()));

    assert_eq!(env.bot("deleteWebhook", json!({})).await, true);
    assert_eq!(env.updates(json!({})).await, Vec::<Value>::new());
}

// ---------------------------------------------------------------------------------------------
// Webhooks

fn webhook_config() -> Config {
    Config { webhook_retry_base: Duration::from_millis(50), ..no_limits() }
}

#[tokio::test]
async fn webhook_updates_carry_the_secret_token() {
    let env = Env::with(webhook_config()).await;
    let mut hook = Hook::start().await;
    let ann = env.user("Ann").await;
    let set = env.bot("setWebhook", json!({ "url": hook.url, "secret_token": "s3cr3t_-X" })).await;
    assert_eq!(set, true);
    let info = env.bot("getWebhookInfo", json!({})).await;
    assert_shape("WebhookInfo", &info);
    assert_eq!(
        info,
        json!({"url": hook.url, "has_custom_certificate": false, "pending_update_count": 0, "max_connections": 40})
    );

    let sent = env.act("text", ann, json!({ "text": "hello hook" })).await;
    let hit = hook.next().await;
    assert_eq!(hit.secret.as_deref(), Some("s3cr3t_-X"));
    assert_shape("Update", &hit.update);
    assert_eq!(hit.update, json!({ "update_id": sent["update_id"], "message": sent["message"] }));
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_it_succeeds_and_only_then() {
    let env = Env::with(webhook_config()).await;
    let mut hook = Hook::start().await;
    hook.reply([Reply::status(500), Reply::status(500)]);
    let ann = env.user("Ann").await;
    env.bot("setWebhook", json!({ "url": hook.url })).await;
    let first = env.act("text", ann, json!({ "text": "one" })).await["update_id"].as_i64().unwrap();

    let failed = hook.next().await;
    assert_eq!((failed.update_id(), failed.status), (first, 500));
    let retried = hook.next().await;
    assert_eq!((retried.update_id(), retried.status), (first, 500));
    let info = env.bot("getWebhookInfo", json!({})).await;
    assert_shape("WebhookInfo", &info);
    assert_eq!(info["last_error_message"], "Wrong response from the webhook: 500 Internal Server Error");
    assert!(info["last_error_date"].as_i64().is_some_and(|d| d > 0));
    assert_eq!(info["pending_update_count"], 1);

    let delivered = hook.next().await;
    assert_eq!((delivered.update_id(), delivered.status), (first, 200));
    let second = env.act("text", ann, json!({ "text": "two" })).await["update_id"].as_i64().unwrap();
    let next = hook.next().await;
    assert_eq!(next.update_id(), second, "the delivered update is not sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_deliveries_keep_each_chats_order() {
    let env = Env::with(webhook_config()).await;
    let mut hook = Hook::start().await;
    hook.hold_first_until_another_chat();
    hook.answer_delay(Duration::from_millis(5));
    let (ann, bob) = (env.user("Ann").await, env.user("Bob").await);
    env.bot("setWebhook", json!({ "url": hook.url, "max_connections": 10 })).await;
    let mut sent: Vec<(i64, i64)> = Vec::new();
    for i in 0..5 {
        for user in [ann, bob] {
            let update = env.act("text", user, json!({ "text": format!("{i}") })).await;
            sent.push((user, update["update_id"].as_i64().unwrap()));
        }
    }
    let mut received: Vec<(i64, i64)> = Vec::new();
    while received.len() < sent.len() {
        let hit = hook.next().await;
        received.push((hit.chat_id().unwrap(), hit.update_id()));
    }
    assert_eq!(hook.released_by_other_chat(), Some(true), "another chat's update went out while one was held");
    assert_eq!(hook.max_concurrent_per_chat(), 1, "one chat's updates are never in flight together");
    for user in [ann, bob] {
        let expected: Vec<i64> = sent.iter().filter(|(u, _)| *u == user).map(|(_, id)| *id).collect();
        let got: Vec<i64> = received.iter().filter(|(u, _)| *u == user).map(|(_, id)| *id).collect();
        assert_eq!(got, expected, "chat {user} in order, each once");
    }
}

/// Waits until the bot's events include one of `kind` and returns it.
async fn wait_event(env: &Env, kind: &str, mut after: u64) -> Value {
    loop {
        let (events, last) = env.events(&format!("bot_id={BOT}"), after).await;
        if let Some(event) = events.into_iter().find(|e| e["kind"] == kind) {
            return event;
        }
        assert!(last > after, "the events long poll ended without any event");
        after = last;
    }
}

#[tokio::test]
async fn a_method_in_the_webhook_answer_is_executed() {
    let env = Env::with(webhook_config()).await;
    let mut hook = Hook::start().await;
    let ann = env.user("Ann").await;
    hook.reply([Reply::json(json!({ "method": "sendMessage", "chat_id": ann, "text": "answered in the reply" }))]);
    env.bot("setWebhook", json!({ "url": hook.url })).await;
    let after = env.last_event().await;
    env.say(ann, "hi").await;
    hook.next().await;
    let sent = guard("the reply's sendMessage", wait_event(&env, "sent", after)).await;
    assert_eq!(sent["message"]["text"], "answered in the reply");
    assert_eq!(sent["chat_id"], ann);
}

#[tokio::test]
async fn webhook_answers_cannot_call_webhook_or_get_methods() {
    let env = Env::with(webhook_config()).await;
    let mut hook = Hook::start().await;
    let ann = env.user("Ann").await;
    hook.reply([Reply::json(json!({ "method": "deleteWebhook" })), Reply::json(json!({ "method": "setWebhook" }))]);
    env.bot("setWebhook", json!({ "url": hook.url })).await;
    for text in ["one", "two"] {
        env.say(ann, text).await;
        hook.next().await;
    }
    // The next update is only sent once the answers above were handled.
    env.say(ann, "three").await;
    assert_eq!(hook.next().await.update["message"]["text"], "three");
    let info = env.bot("getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], hook.url.as_str(), "Telegram ignores deleteWebhook and setWebhook in an answer");
}

#[tokio::test]
async fn delete_webhook_stops_delivery() {
    let env = Env::with(webhook_config()).await;
    let mut hook = Hook::start().await;
    let ann = env.user("Ann").await;
    // The reply's sendMessage runs after the update left the queue: its event says "settled".
    hook.reply([Reply::json(json!({ "method": "sendMessage", "chat_id": ann, "text": "got it" }))]);
    env.bot("setWebhook", json!({ "url": hook.url })).await;
    let after = env.last_event().await;
    env.say(ann, "one").await;
    assert_eq!(hook.next().await.update["message"]["text"], "one");
    guard("the first delivery to settle", wait_event(&env, "sent", after)).await;

    assert_eq!(env.bot("deleteWebhook", json!({})).await, true);
    let info = env.bot("getWebhookInfo", json!({})).await;
    assert_eq!(info, json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}));
    let two = env.act("text", ann, json!({ "text": "two" })).await;
    let updates = env.updates(json!({ "timeout": 5 })).await;
    assert_eq!(ids(&updates), [two["update_id"].as_i64().unwrap()], "the update waits for getUpdates");
    assert!(hook.try_next().is_none(), "nothing more reached the webhook");
}

#[tokio::test]
async fn set_webhook_can_drop_pending_updates_and_filter_kinds() {
    let env = Env::with(webhook_config()).await;
    let hook = Hook::start().await;
    let ann = env.user("Ann").await;
    env.say(ann, "old news").await;
    let set = json!({ "url": hook.url, "drop_pending_updates": true, "allowed_updates": ["callback_query"] });
    env.bot("setWebhook", set).await;
    let info = env.bot("getWebhookInfo", json!({})).await;
    assert_shape("WebhookInfo", &info);
    assert_eq!(info["pending_update_count"], 0, "the old update was dropped");
    assert_eq!(info["allowed_updates"], json!(["callback_query"]));
    let said = env.act("text", ann, json!({ "text": "filtered" })).await;
    assert_eq!(said["update_id"], Value::Null);
}

#[tokio::test]
async fn set_webhook_checks_its_parameters() {
    let env = Env::start().await;
    for url in ["not a url", "ftp://example.com/hook", "http://"] {
        let err = env.bot_fail("setWebhook", json!({ "url": url })).await;
        assert_eq!(err, (400, "Bad Request: invalid webhook URL specified".into()), "{url}");
    }
    let url = "http://127.0.0.1:9/hook";
    let bad = env.bot_fail("setWebhook", json!({ "url": url, "secret_token": "bad secret!" })).await;
    assert_eq!(bad, (400, "Bad Request: secret token contains unallowed characters".into()));
    let long = env.bot_fail("setWebhook", json!({ "url": url, "secret_token": "a".repeat(257) })).await;
    assert_eq!(long, (400, "Bad Request: secret token is too long".into()));
    let info = env.bot("getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], "", "a refused setWebhook changes nothing");

    // Like the official server, max_connections is clamped to 1–100.
    for (given, kept) in [(0, 1), (1000, 100), (7, 7)] {
        env.bot("setWebhook", json!({ "url": url, "max_connections": given })).await;
        assert_eq!(env.bot("getWebhookInfo", json!({})).await["max_connections"], kept, "{given}");
    }
}

// ---------------------------------------------------------------------------------------------
// Messages

#[tokio::test]
async fn html_entities_count_utf16_units() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let message = env
        .bot(
            "sendMessage",
            json!({ "chat_id": ann, "text": "<b>Привет</b>, 😀 <i>мир</i> &lt;3", "parse_mode": "HTML" }),
        )
        .await;
    assert_shape("Message", &message);
    assert_eq!(message["text"], "Привет, 😀 мир <3");
    assert_eq!(
        message["entities"],
        json!([{"type": "bold", "offset": 0, "length": 6}, {"type": "italic", "offset": 11, "length": 3}]),
        "the emoji counts as two UTF-16 units"
    );
    assert_eq!(message["from"]["id"], BOT);
    let unknown = env.bot_fail("sendMessage", json!({ "chat_id": ann, "text": "x", "parse_mode": "Fancy" })).await;
    assert_eq!(unknown, (400, "Bad Request: unsupported parse_mode".into()));
}

#[tokio::test]
async fn message_texts_must_be_non_empty_and_at_most_4096() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let empty = (400, "Bad Request: message text is empty".to_string());
    assert_eq!(env.bot_fail("sendMessage", json!({ "chat_id": ann })).await, empty);
    assert_eq!(env.bot_fail("sendMessage", json!({ "chat_id": ann, "text": "  " })).await, empty);
    let only_tags = json!({ "chat_id": ann, "text": "<b></b>", "parse_mode": "HTML" });
    assert_eq!(env.bot_fail("sendMessage", only_tags).await, empty);
    let long = env.bot_fail("sendMessage", json!({ "chat_id": ann, "text": "я".repeat(4097) })).await;
    assert_eq!(long, (400, "Bad Request: message is too long".into()));
    let max = env.bot("sendMessage", json!({ "chat_id": ann, "text": "я".repeat(4096) })).await;
    assert_eq!(max["text"].as_str().unwrap().chars().count(), 4096);
    assert_eq!(env.history(ann).await.len(), 2, "the refused sends stored nothing");
}

#[tokio::test]
async fn sending_to_chats_the_bot_cannot_reach() {
    let env = Env::start().await;
    let stranger = env.user("Stranger").await;
    let err = env.bot_fail("sendMessage", json!({ "chat_id": stranger, "text": "hi" })).await;
    assert_eq!(err, (403, "Forbidden: bot can't initiate conversation with a user".into()));
    let err = env.bot_fail("sendMessage", json!({ "chat_id": 987654321, "text": "hi" })).await;
    assert_eq!(err, (400, "Bad Request: chat not found".into()));
    let err = env.bot_fail("sendMessage", json!({ "text": "hi" })).await;
    assert_eq!(err, (400, "Bad Request: chat_id is empty".into()));
}

#[tokio::test]
async fn replies_name_an_existing_message() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    let question = env.say(ann, "question?").await;
    let id = question["message_id"].clone();
    let reply = env
        .bot("sendMessage", json!({ "chat_id": ann, "text": "answer", "reply_parameters": { "message_id": id } }))
        .await;
    assert_shape("Message", &reply);
    assert_eq!(reply["reply_to_message"], question);
    let legacy = env.bot("sendMessage", json!({ "chat_id": ann, "text": "again", "reply_to_message_id": id })).await;
    assert_eq!(legacy["reply_to_message"], question);
    let nested = json!({ "chat_id": ann, "text": "3", "reply_parameters": { "message_id": reply["message_id"] } });
    let nested = env.bot("sendMessage", nested).await;
    assert!(nested["reply_to_message"].get("reply_to_message").is_none(), "replies do not nest");

    let missing = json!({ "chat_id": ann, "text": "x", "reply_parameters": { "message_id": 9999 } });
    let err = env.bot_fail("sendMessage", missing).await;
    assert_eq!(err, (400, "Bad Request: message to be replied not found".into()));
    let lenient = json!({ "chat_id": ann, "text": "x", "reply_parameters": { "message_id": 9999, "allow_sending_without_reply": true } });
    let sent = env.bot("sendMessage", lenient).await;
    assert!(sent.get("reply_to_message").is_none());
}

#[tokio::test]
async fn inline_keyboards_are_validated() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let cases = [
        (
            json!({"inline_keyboard": [[{"text": "Go"}]]}),
            "Bad Request: text buttons are unallowed in the inline keyboard",
        ),
        (
            json!({"inline_keyboard": [{"text": "Go", "callback_data": "go"}]}),
            "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays",
        ),
        (
            json!({"inline_keyboard": [[{"text": "Go", "callback_data": "x".repeat(65)}]]}),
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (json!({"inline_keyboard": [["Go"]]}), "Bad Request: inlineKeyboardButton must be an Object"),
        (json!([1, 2]), "Bad Request: object expected as reply markup"),
    ];
    for (markup, error) in cases {
        let err = env.bot_fail("sendMessage", json!({ "chat_id": ann, "text": "x", "reply_markup": markup })).await;
        assert_eq!(err, (400, error.to_string()), "{markup}");
    }
    let form = [("chat_id", ann.to_string()), ("text", "x".into()), ("reply_markup", "{not json".into())];
    let err = env.send(env.http.post(env.bot_url(TOKEN, "sendMessage")).form(&form)).await.err();
    assert_eq!(err, (400, "Bad Request: can't parse reply keyboard markup JSON object".into()));
    assert!(env.history(ann).await.iter().all(|m| !m["from_bot"].as_bool().unwrap()), "nothing was sent");
}

#[tokio::test]
async fn edit_message_text_and_markup() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let keyboard = inline_keyboard("Go", "go");
    let sent = env.bot("sendMessage", json!({ "chat_id": ann, "text": "v1", "reply_markup": keyboard })).await;
    let id = sent["message_id"].clone();

    let edit = json!({ "chat_id": ann, "message_id": id, "text": "v2", "reply_markup": keyboard });
    let edited = env.bot("editMessageText", edit.clone()).await;
    assert_shape("Message", &edited);
    assert_eq!((edited["text"].as_str(), &edited["reply_markup"]), (Some("v2"), &keyboard));
    assert!(edited["edit_date"].as_i64().unwrap() >= sent["date"].as_i64().unwrap());
    let not_modified = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";
    assert_eq!(env.bot_fail("editMessageText", edit).await, (400, not_modified.into()));

    let other = inline_keyboard("Stop", "stop");
    let markup = json!({ "chat_id": ann, "message_id": id, "reply_markup": other });
    let edited = env.bot("editMessageReplyMarkup", markup.clone()).await;
    assert_eq!((edited["text"].as_str(), &edited["reply_markup"]), (Some("v2"), &other));
    assert_eq!(env.bot_fail("editMessageReplyMarkup", markup).await, (400, not_modified.into()));
    let removed = env.bot("editMessageReplyMarkup", json!({ "chat_id": ann, "message_id": id })).await;
    assert!(removed.get("reply_markup").is_none());

    let missing = json!({ "chat_id": ann, "message_id": 9999, "text": "x" });
    let err = env.bot_fail("editMessageText", missing).await;
    assert_eq!(err, (400, "Bad Request: message to edit not found".into()));
    let users = env.say(ann, "mine").await;
    let theirs = json!({ "chat_id": ann, "message_id": users["message_id"], "text": "x" });
    assert_eq!(env.bot_fail("editMessageText", theirs).await, (400, "Bad Request: message can't be edited".into()));

    let history = env.history(ann).await;
    let stored = history.iter().find(|m| m["message"]["message_id"] == id).unwrap();
    let versions: Vec<&str> = stored["edits"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(versions, ["v1", "v2", "v2"], "each edit keeps the version before it");
}

#[tokio::test]
async fn edit_message_caption_and_chat_actions() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let form = Form::new()
        .text("chat_id", ann.to_string())
        .text("caption", "before")
        .text("disable_notification", "1")
        .text("reply_markup", inline_keyboard("Go", "go").to_string())
        .part("photo", png_part("p.png"));
    let photo = env.send(env.http.post(env.bot_url(TOKEN, "sendPhoto")).multipart(form)).await.ok();
    assert_eq!(photo["reply_markup"], inline_keyboard("Go", "go"), "a JSON object in a multipart field is parsed");
    let edit =
        json!({ "chat_id": ann, "message_id": photo["message_id"], "caption": "*after*", "parse_mode": "MarkdownV2" });
    let edited = env.bot("editMessageCaption", edit).await;
    assert_shape("Message", &edited);
    assert_eq!(edited["caption"], "after");
    assert_eq!(edited["caption_entities"], json!([{"type": "bold", "offset": 0, "length": 5}]));
    assert!(edited.get("reply_markup").is_none(), "an edit without a keyboard removes it");
    let text = send_text(&env, ann, "plain").await;
    let caption = json!({ "chat_id": ann, "message_id": text["message_id"], "caption": "x" });
    let err = env.bot_fail("editMessageCaption", caption).await;
    assert_eq!(err, (400, "Bad Request: there is no caption in the message to edit".into()));

    let after = env.last_event().await;
    assert_eq!(env.bot("sendChatAction", json!({ "chat_id": ann, "action": "typing" })).await, true);
    let (events, _) = env.events(&format!("bot_id={BOT}&chat_id={ann}"), after).await;
    assert_eq!(
        (events[0]["kind"].as_str(), &events[0]["detail"]),
        (Some("chat_action"), &json!({ "action": "typing" }))
    );
    let err = env.bot_fail("sendChatAction", json!({ "chat_id": ann, "action": "dancing" })).await;
    assert_eq!(err, (400, "Bad Request: wrong parameter action in request".into()));
}

#[tokio::test]
async fn web_app_keys_send_data_back_and_users_edit_their_messages() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let inline = json!({"inline_keyboard": [[{"text": "Shop", "web_app": {"url": "http://shop.example"}}]]});
    let err = env.bot_fail("sendMessage", json!({"chat_id": ann, "text": "x", "reply_markup": inline})).await;
    assert_eq!(
        err,
        (400, "Bad Request: inline keyboard button Web App URL 'http://shop.example' is invalid: Only HTTPS links are allowed".into())
    );
    let order = |body: Value| env.post_fail("/act/web_app_data", body);
    let body = json!({"bot_id": BOT, "user_id": ann, "data": "{}", "button_text": "Order"});
    let (status, error) = order(body.clone()).await;
    assert_eq!((status, error.as_str()), (400, "the user's keyboard has no Web App key \"Order\""));

    let keyboard = json!({"keyboard": [[{"text": "Order", "web_app": {"url": "https://shop.example/order"}}, "Help"]]});
    let sent = env.bot("sendMessage", json!({"chat_id": ann, "text": "Open the shop", "reply_markup": keyboard})).await;
    assert!(sent.get("reply_markup").is_none(), "a reply keyboard is not part of the Message");
    let help = json!({"bot_id": BOT, "user_id": ann, "data": "x", "button_text": "Help"});
    assert_eq!(order(help).await.0, 400, "Help opens no Web App");
    let long = json!({"bot_id": BOT, "user_id": ann, "data": "x".repeat(4097), "button_text": "Order"});
    assert_eq!(order(long).await, (400, "data must be 1 to 4096 bytes".into()));
    let data = r#"{"item":"tea","qty":2}"#;
    let answer = env.act("web_app_data", ann, json!({"data": data, "button_text": "Order"})).await;
    let updates = env.updates(json!({})).await;
    assert_eq!(updates.len(), 1);
    let message = &updates[0]["message"];
    assert_shape("Message", message);
    assert_eq!(message["web_app_data"], json!({"data": data, "button_text": "Order"}));
    assert_eq!(answer["update_id"], updates[0]["update_id"]);
    env.drain(TOKEN).await;

    // Ann edits her message: the bot gets an edited_message with the new text and edit_date.
    let said = env.say(ann, "helo").await;
    env.drain(TOKEN).await;
    let edit = json!({"message_id": said["message_id"], "text": "hello"});
    let answer = env.act("edit", ann, edit.clone()).await;
    let updates = env.updates(json!({})).await;
    let edited = &updates[0]["edited_message"];
    assert_shape("Message", edited);
    assert_eq!((edited["message_id"].clone(), edited["text"].as_str()), (said["message_id"].clone(), Some("hello")));
    assert!(edited["edit_date"].as_i64().is_some());
    assert_eq!(answer["update_id"], updates[0]["update_id"]);
    let history = env.history(ann).await;
    let stored = history.iter().find(|m| m["message"]["message_id"] == said["message_id"]).unwrap();
    assert_eq!(
        (stored["message"]["text"].as_str(), stored["edits"][0]["text"].as_str()),
        (Some("hello"), Some("helo"))
    );
    let edit_fail = |body: Value| env.post_fail("/act/edit", body);
    let mut again = edit.clone();
    again["bot_id"] = json!(BOT);
    again["user_id"] = json!(ann);
    assert_eq!(edit_fail(again.clone()).await, (400, "message is not modified".into()));
    again["message_id"] = sent["message_id"].clone();
    assert_eq!(edit_fail(again).await, (400, "message can't be edited".into()), "not her message");
}

#[tokio::test]
async fn delete_message_and_messages() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let mut sent = Vec::new();
    for text in ["a", "b", "c"] {
        sent.push(send_text(&env, ann, text).await["message_id"].as_i64().unwrap());
    }
    assert_eq!(env.bot("deleteMessage", json!({ "chat_id": ann, "message_id": sent[0] })).await, true);
    let again = env.bot_fail("deleteMessage", json!({ "chat_id": ann, "message_id": sent[0] })).await;
    assert_eq!(again, (400, "Bad Request: message to delete not found".into()));
    let all = json!({ "chat_id": ann, "message_ids": [sent[1], sent[2], 9999] });
    assert_eq!(env.bot("deleteMessages", all).await, true, "missing ones are skipped");
    let history = env.history(ann).await;
    for id in &sent {
        let stored = history.iter().find(|m| m["message"]["message_id"] == *id).unwrap();
        assert_eq!(stored["deleted"], true, "{id}");
    }
    let edit = json!({ "chat_id": ann, "message_id": sent[1], "text": "x" });
    assert_eq!(env.bot_fail("editMessageText", edit).await, (400, "Bad Request: message to edit not found".into()));
}

#[tokio::test]
async fn forward_message_sets_the_origin() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    let original = env.say(ann, "forward me").await;
    let bob = started_user(&env, "Bob").await;
    let forward = json!({ "chat_id": bob, "from_chat_id": ann, "message_id": original["message_id"] });
    let forwarded = env.bot("forwardMessage", forward).await;
    assert_shape("Message", &forwarded);
    assert_eq!(forwarded["chat"]["id"], bob);
    assert_eq!(forwarded["text"], "forward me");
    assert_eq!(
        forwarded["forward_origin"],
        json!({ "type": "user", "date": original["date"], "sender_user": original["from"] })
    );

    // Forwarding a forward keeps the first origin, as Telegram does.
    let twice = json!({ "chat_id": ann, "from_chat_id": bob, "message_id": forwarded["message_id"] });
    let twice = env.bot("forwardMessage", twice).await;
    assert_eq!(twice["forward_origin"], forwarded["forward_origin"]);

    let missing = json!({ "chat_id": bob, "from_chat_id": ann, "message_id": 9999 });
    let err = env.bot_fail("forwardMessage", missing).await;
    assert_eq!(err, (400, "Bad Request: message to forward not found".into()));
}

#[tokio::test]
async fn copy_message_returns_a_message_id() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    let original = env.say(ann, "copy me").await;
    let bob = started_user(&env, "Bob").await;
    let copy = json!({ "chat_id": bob, "from_chat_id": ann, "message_id": original["message_id"] });
    let copied = env.bot("copyMessage", copy).await;
    assert_shape("MessageId", &copied);
    let id = copied["message_id"].as_i64().unwrap();
    assert_eq!(copied, json!({ "message_id": id }));
    let history = env.get(&format!("/chats/{bob}/messages?bot_id={BOT}")).await;
    let stored = history.as_array().unwrap().iter().find(|m| m["message"]["message_id"] == id).unwrap();
    assert_eq!(stored["message"]["text"], "copy me");
    assert_eq!(stored["message"]["from"]["id"], BOT, "the copy is the bot's own message");
    assert!(stored["message"].get("forward_origin").is_none(), "a copy has no origin");
}

// ---------------------------------------------------------------------------------------------
// Media

fn png_part(name: &str) -> Part {
    Part::bytes(PNG.to_vec()).file_name(name.to_string()).mime_str("image/png").unwrap()
}

async fn download(env: &Env, file_path: &str) -> (Vec<u8>, String) {
    let response = env.http.get(format!("{}/file/bot{TOKEN}/{file_path}", env.url)).send().await.unwrap();
    assert!(response.status().is_success(), "download of {file_path}: {}", response.status());
    let mime = response.headers()["content-type"].to_str().unwrap().to_string();
    (response.bytes().await.unwrap().to_vec(), mime)
}

#[tokio::test]
async fn an_uploaded_photo_round_trips_by_file_id_and_download() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let form = Form::new()
        .text("chat_id", ann.to_string())
        .text("caption", "<b>cap</b>tion")
        .text("parse_mode", "HTML")
        .part("photo", png_part("pic.png"));
    let sent = env.send(env.http.post(env.bot_url(TOKEN, "sendPhoto")).multipart(form)).await.ok();
    assert_shape("Message", &sent);
    let photo = &sent["photo"][0];
    assert_eq!((photo["width"].as_i64(), photo["height"].as_i64()), (Some(3), Some(2)));
    assert_eq!(photo["file_size"], PNG.len());
    assert_eq!(sent["caption"], "caption");
    assert_eq!(sent["caption_entities"], json!([{"type": "bold", "offset": 0, "length": 3}]));

    let file_id = photo["file_id"].as_str().unwrap();
    let again = env.bot("sendPhoto", json!({ "chat_id": ann, "photo": file_id })).await;
    assert_eq!(again["photo"][0]["file_id"], file_id);
    assert_eq!(again["photo"][0]["file_unique_id"], photo["file_unique_id"]);

    let file = env.bot("getFile", json!({ "file_id": file_id })).await;
    assert_shape("File", &file);
    assert_eq!(file["file_size"], PNG.len());
    let (bytes, mime) = download(&env, file["file_path"].as_str().unwrap()).await;
    assert_eq!(bytes, PNG);
    assert_eq!(mime, "image/png");
    let user_side = env.http.get(format!("{}/sandbox/files/{file_id}", env.url)).send().await.unwrap();
    assert_eq!(user_side.bytes().await.unwrap().as_ref(), PNG, "the web chat reads files without a token");
    let missing = env.http.get(format!("{}/sandbox/files/nope", env.url)).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    let err = env.bot_fail("getFile", json!({ "file_id": "no-such-file" })).await;
    assert_eq!(err, (400, "Bad Request: wrong file_id or the file is temporarily unavailable".into()));
}

#[tokio::test]
async fn a_document_keeps_its_name_and_mime_type() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let csv = b"name,age\nAnn,30\n".to_vec();
    let part = Part::bytes(csv.clone()).file_name("report.csv").mime_str("text/csv").unwrap();
    let form = Form::new().text("chat_id", ann.to_string()).part("document", part);
    let sent = env.send(env.http.post(env.bot_url(TOKEN, "sendDocument")).multipart(form)).await.ok();
    assert_shape("Message", &sent);
    let document = &sent["document"];
    assert_eq!(
        (document["file_name"].as_str(), document["mime_type"].as_str()),
        (Some("report.csv"), Some("text/csv"))
    );
    assert_eq!(document["file_size"], csv.len());

    let unknown_mime = Part::bytes(b"plain".to_vec()).file_name("notes.txt").mime_str("application/octet-stream");
    let form = Form::new().text("chat_id", ann.to_string()).part("document", unknown_mime.unwrap());
    let sent = env.send(env.http.post(env.bot_url(TOKEN, "sendDocument")).multipart(form)).await.ok();
    assert_eq!(sent["document"]["mime_type"], "text/plain", "guessed from the name");
    let file = env.bot("getFile", json!({ "file_id": sent["document"]["file_id"] })).await;
    assert_eq!(download(&env, file["file_path"].as_str().unwrap()).await.0, b"plain");
}

#[tokio::test]
async fn a_media_group_takes_attached_parts() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let media = json!([
        { "type": "photo", "media": "attach://one", "caption": "first" },
        { "type": "photo", "media": "attach://two" },
    ]);
    let form = Form::new()
        .text("chat_id", ann.to_string())
        .text("media", media.to_string())
        .part("one", png_part("one.png"))
        .part("two", png_part("two.png"));
    let album = env.send(env.http.post(env.bot_url(TOKEN, "sendMediaGroup")).multipart(form)).await.ok();
    let album = album.as_array().unwrap();
    assert_eq!(album.len(), 2);
    album.iter().for_each(|m| assert_shape("Message", m));
    assert_eq!(album[0]["caption"], "first");
    assert!(album[1].get("caption").is_none());
    assert!(album[0]["media_group_id"].is_string());
    assert_eq!(album[0]["media_group_id"], album[1]["media_group_id"]);
    assert_eq!(album[1]["message_id"].as_i64().unwrap(), album[0]["message_id"].as_i64().unwrap() + 1);
    assert_ne!(album[0]["photo"][0]["file_id"], album[1]["photo"][0]["file_id"]);

    let by_id = json!([
        { "type": "photo", "media": album[0]["photo"][0]["file_id"] },
        { "type": "photo", "media": album[1]["photo"][0]["file_id"] },
    ]);
    let again = env.bot("sendMediaGroup", json!({ "chat_id": ann, "media": by_id })).await;
    assert_eq!(again[1]["photo"][0]["file_id"], album[1]["photo"][0]["file_id"]);
}

#[tokio::test]
async fn a_photo_by_url_is_fetched() {
    let files = Hook::start().await;
    let env = Env::with(allowing(&files.base)).await;
    let ann = started_user(&env, "Ann").await;
    let url = format!("{}/files/remote.png", files.base);
    let sent = env.bot("sendPhoto", json!({ "chat_id": ann, "photo": url })).await;
    assert_shape("Message", &sent);
    assert_eq!(sent["photo"][0]["width"], 3);
    let file = env.bot("getFile", json!({ "file_id": sent["photo"][0]["file_id"] })).await;
    assert_eq!(download(&env, file["file_path"].as_str().unwrap()).await.0, PNG);

    let missing = format!("{}/nothing-here", files.base);
    let err = env.bot_fail("sendPhoto", json!({ "chat_id": ann, "photo": missing })).await;
    assert_eq!(err, (400, "Bad Request: failed to get HTTP URL content".into()));
}

#[tokio::test]
async fn a_media_send_needs_its_file() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let err = env.bot_fail("sendPhoto", json!({ "chat_id": ann })).await;
    assert_eq!(err, (400, "Bad Request: there is no photo in the request".into()));
    let form = Form::new().text("chat_id", ann.to_string()).part("other", png_part("x.png"));
    let err = env.send(env.http.post(env.bot_url(TOKEN, "sendPhoto")).multipart(form)).await.err();
    assert_eq!(err, (400, "Bad Request: there is no photo in the request".into()));
    let err = env.bot_fail("sendDocument", json!({ "chat_id": ann })).await;
    assert_eq!(err, (400, "Bad Request: there is no document in the request".into()));
    let err = env.bot_fail("sendPhoto", json!({ "chat_id": ann, "photo": "no-such-file-id" })).await;
    assert_eq!(err, (400, "Bad Request: wrong file identifier/HTTP URL specified".into()));
}

// ---------------------------------------------------------------------------------------------
// Polls and dice

#[tokio::test]
async fn poll_votes_reach_the_bot_and_stop_poll_closes() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let options = json!([{ "text": "Tea" }, { "text": "Coffee" }]);
    let sent = env
        .bot(
            "sendPoll",
            json!({ "chat_id": ann, "question": "Tea or coffee?", "options": options, "is_anonymous": false }),
        )
        .await;
    assert_shape("Message", &sent);
    let poll = &sent["poll"];
    assert_eq!((poll["type"].as_str(), poll["is_anonymous"].as_bool()), (Some("regular"), Some(false)));
    let poll_id = poll["id"].as_str().unwrap();

    let vote = env.act("poll_answer", ann, json!({ "poll_id": poll_id, "option_ids": [1] })).await;
    let updates = env.updates(json!({})).await;
    updates.iter().for_each(|u| assert_shape("Update", u));
    let answer = updates.iter().find_map(|u| u.get("poll_answer")).expect("a poll_answer update");
    assert_eq!(answer["poll_id"], poll_id);
    assert_eq!(answer["option_ids"], json!([1]));
    assert_eq!(answer["user"]["id"], ann);
    assert_eq!(vote["poll_answer"], *answer);
    let state = updates.iter().find_map(|u| u.get("poll")).expect("a poll update");
    assert_eq!(state["total_voter_count"], 1);
    assert_eq!(
        (state["options"][0]["voter_count"].as_i64(), state["options"][1]["voter_count"].as_i64()),
        (Some(0), Some(1))
    );

    let stopped = env.bot("stopPoll", json!({ "chat_id": ann, "message_id": sent["message_id"] })).await;
    assert_shape("Poll", &stopped);
    assert_eq!(stopped["is_closed"], true);
    assert_eq!(stopped["options"][1]["voter_count"], 1);
    let again = env.bot_fail("stopPoll", json!({ "chat_id": ann, "message_id": sent["message_id"] })).await;
    assert_eq!(again, (400, "Bad Request: poll has already been closed".into()));
    let (status, _) = env
        .post_fail("/act/poll_answer", json!({ "bot_id": BOT, "user_id": ann, "poll_id": poll_id, "option_ids": [0] }))
        .await;
    assert_eq!(status, 400, "a closed poll takes no votes");

    let copy =
        env.bot("copyMessage", json!({ "chat_id": ann, "from_chat_id": ann, "message_id": sent["message_id"] })).await;
    let history = env.get(&format!("/chats/{ann}/messages?bot_id={BOT}")).await;
    let copied = history.as_array().unwrap().iter().find(|m| m["message"]["message_id"] == copy["message_id"]).unwrap();
    let copied_poll = &copied["message"]["poll"];
    assert_ne!(copied_poll["id"], poll_id, "a copied poll is a new poll");
    assert_eq!((copied_poll["is_closed"].as_bool(), copied_poll["total_voter_count"].as_i64()), (Some(false), Some(0)));
    env.act("poll_answer", ann, json!({ "poll_id": copied_poll["id"], "option_ids": [0] })).await;
}

#[tokio::test]
async fn quizzes_and_anonymous_polls() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let quiz = json!({ "chat_id": ann, "question": "2+2?", "options": ["3", "4", "5"], "type": "quiz", "correct_option_id": 1 });
    let sent = env.bot("sendPoll", quiz).await;
    assert_shape("Message", &sent);
    assert_eq!(sent["poll"]["correct_option_ids"], json!([1]));
    assert_eq!(sent["poll"]["is_anonymous"], true, "polls are anonymous unless told otherwise");
    let one_option = json!({ "chat_id": ann, "question": "?", "options": ["only"] });
    assert_eq!(env.bot_fail("sendPoll", one_option).await.0, 400);

    let poll_id = sent["poll"]["id"].as_str().unwrap();
    let vote = env.act("poll_answer", ann, json!({ "poll_id": poll_id, "option_ids": [1] })).await;
    assert_eq!(vote["update_id"], Value::Null, "an anonymous vote names nobody");
    let updates = env.updates(json!({})).await;
    assert!(updates.iter().all(|u| u.get("poll_answer").is_none()));
    assert_eq!(updates.iter().find_map(|u| u.get("poll")).unwrap()["total_voter_count"], 1);
    let state = env.get(&format!("/polls/{poll_id}")).await;
    assert_eq!(state["votes"], json!({ ann.to_string(): [1] }), "the user side sees who chose what: {state}");
    assert_eq!(state["poll"]["options"][1]["voter_count"], 1);
    let (status, _) = env
        .post_fail("/act/poll_answer", json!({ "bot_id": BOT, "user_id": ann, "poll_id": "nope", "option_ids": [0] }))
        .await;
    assert_eq!(status, 400);
    let missing = env.http.get(format!("{}/sandbox/polls/nope", env.url)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn dice_values_are_in_range() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    for (emoji, max) in [("🎲", 6), ("🎯", 6), ("🎳", 6), ("🏀", 5), ("⚽", 5), ("🎰", 64)] {
        for _ in 0..5 {
            let sent = env.bot("sendDice", json!({ "chat_id": ann, "emoji": emoji })).await;
            assert_shape("Message", &sent);
            let value = sent["dice"]["value"].as_i64().unwrap();
            assert!((1..=max).contains(&value), "{emoji} rolled {value}");
            assert_eq!(sent["dice"]["emoji"], emoji);
        }
    }
    assert_eq!(env.bot("sendDice", json!({ "chat_id": ann })).await["dice"]["emoji"], "🎲");
    assert_eq!(env.bot_fail("sendDice", json!({ "chat_id": ann, "emoji": "🍕" })).await.0, 400);
}

// ---------------------------------------------------------------------------------------------
// Callbacks and inline queries

#[tokio::test]
async fn a_button_press_is_answered_once() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let menu = env
        .bot("sendMessage", json!({ "chat_id": ann, "text": "menu", "reply_markup": inline_keyboard("Go", "go") }))
        .await;
    let pressed = env.act("callback", ann, json!({ "message_id": menu["message_id"], "data": "go" })).await;
    let updates = env.updates(json!({})).await;
    assert_eq!(ids(&updates), [pressed["update_id"].as_i64().unwrap()]);
    assert_shape("Update", &updates[0]);
    let query = &updates[0]["callback_query"];
    assert_eq!((query["data"].as_str(), &query["message"]), (Some("go"), &menu));
    assert_eq!(query["from"]["id"], ann);
    let id = query["id"].as_str().unwrap();

    let answer = json!({ "callback_query_id": id, "text": "Done", "show_alert": 1 });
    assert_eq!(env.bot("answerCallbackQuery", answer.clone()).await, true);
    let seen = env.get(&format!("/callbacks/{id}")).await;
    assert_eq!(seen, json!({ "answered": true, "text": "Done", "show_alert": true }));
    let (events, _) = env.events(&format!("bot_id={BOT}&chat_id={ann}"), 0).await;
    let answered = events.iter().find(|e| e["kind"] == "callback_answered").expect("an answer event in the chat");
    assert_eq!(answered["message_id"], menu["message_id"], "the answer names the pressed message");
    let too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid";
    assert_eq!(env.bot_fail("answerCallbackQuery", answer).await, (400, too_old.into()));
    let unknown = env.bot_fail("answerCallbackQuery", json!({ "callback_query_id": "12345" })).await;
    assert_eq!(unknown, (400, too_old.into()));
    let (status, _) = env
        .post_fail(
            "/act/callback",
            json!({ "bot_id": BOT, "user_id": ann, "message_id": menu["message_id"], "data": "nope" }),
        )
        .await;
    assert_eq!(status, 400, "only a button the message has can be pressed");
}

#[tokio::test]
async fn an_inline_query_is_answered() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    let asked = env.act("inline_query", ann, json!({ "query": "cats" })).await;
    let updates = env.updates(json!({})).await;
    assert_eq!(ids(&updates), [asked["update_id"].as_i64().unwrap()]);
    assert_shape("Update", &updates[0]);
    let id = updates[0]["inline_query"]["id"].as_str().unwrap();
    assert_eq!(updates[0]["inline_query"]["query"], "cats");

    let results =
        json!([{ "type": "article", "id": "1", "title": "Cat", "input_message_content": { "message_text": "meow" } }]);
    let answer = json!({ "inline_query_id": id, "results": results, "next_offset": "10" });
    assert_eq!(env.bot("answerInlineQuery", answer.clone()).await, true);
    let seen = env.get(&format!("/inline_queries/{id}")).await;
    assert_eq!(seen, json!({ "answered": true, "results": results, "next_offset": "10" }));
    let too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid";
    assert_eq!(env.bot_fail("answerInlineQuery", answer).await, (400, too_old.into()));
}

// ---------------------------------------------------------------------------------------------
// Groups

const BOT_B: &str = "1002:second-bot";
const BOT_C: &str = "1003:third-bot";

async fn group(env: &Env, kind: &str, members: &[i64], bots: &[i64]) -> i64 {
    let chat = env.post("/groups", json!({ "title": "Team", "type": kind, "members": members, "bots": bots })).await;
    assert_shape("Chat", &chat);
    assert_eq!((chat["type"].as_str(), chat["title"].as_str()), (Some(kind), Some("Team")));
    chat["id"].as_i64().unwrap()
}

async fn messages_for(env: &Env, token: &str) -> Vec<Value> {
    let updates = env.call(token, "getUpdates", json!({})).await;
    let updates = updates.as_array().unwrap();
    if let Some(last) = updates.last() {
        env.call(token, "getUpdates", json!({ "offset": last["update_id"].as_i64().unwrap() + 1 })).await;
    }
    updates.iter().filter_map(|u| u.get("message").cloned()).collect()
}

#[tokio::test]
async fn a_group_message_reaches_every_bot_in_it() {
    let env = Env::start().await;
    for token in [TOKEN, BOT_B, BOT_C] {
        env.call(token, "getMe", json!({})).await;
    }
    let ann = env.user("Ann").await;
    let chat = group(&env, "group", &[ann], &[1001, 1002]).await;
    env.drain(TOKEN).await;
    env.drain(BOT_B).await;

    let said = env.act("text", ann, json!({ "chat_id": chat, "text": "hello all" })).await["message"].clone();
    assert_shape("Message", &said);
    assert_eq!(said["chat"]["id"], chat);
    for token in [TOKEN, BOT_B] {
        assert_eq!(messages_for(&env, token).await, std::slice::from_ref(&said), "{token}");
    }
    assert!(messages_for(&env, BOT_C).await.is_empty());
    let outsider = env.fail(BOT_C, "sendMessage", json!({ "chat_id": chat, "text": "hi" })).await;
    assert_eq!(outsider, (403, "Forbidden: bot is not a member of the group chat".into()));
    let reply = env.bot("sendMessage", json!({ "chat_id": chat, "text": "hi team" })).await;
    assert_eq!(reply["chat"]["type"], "group");

    let supergroup = group(&env, "supergroup", &[ann], &[1001]).await;
    assert!(supergroup < -1_000_000_000_000);
    let outsider = env.fail(BOT_C, "sendMessage", json!({ "chat_id": supergroup, "text": "hi" })).await;
    assert_eq!(outsider, (403, "Forbidden: bot is not a member of the supergroup chat".into()));
}

async fn member_status(env: &Env, chat: i64, user: i64) -> String {
    let member = env.bot("getChatMember", json!({ "chat_id": chat, "user_id": user })).await;
    assert_shape("ChatMember", &member);
    assert_eq!(member["user"]["id"], user);
    member["status"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn joins_leaves_and_member_statuses() {
    let env = Env::start().await;
    env.call(BOT_B, "getMe", json!({})).await;
    env.bot("getMe", json!({})).await;
    let (ann, bob) = (env.user("Ann").await, env.user("Bob").await);
    let chat = group(&env, "group", &[ann], &[1001, 1002]).await;
    env.drain(TOKEN).await;
    env.drain(BOT_B).await;

    let joined = env.post(&format!("/groups/{chat}/join"), json!({ "user_id": bob })).await;
    let mut documented = joined.clone();
    // Telegram still sends the legacy `new_chat_member` that api.json no longer lists.
    assert_eq!(documented.as_object_mut().unwrap().remove("new_chat_member").unwrap()["id"], bob);
    assert_shape("Message", &documented);
    assert_eq!(joined["new_chat_members"][0]["id"], bob);
    for token in [TOKEN, BOT_B] {
        assert_eq!(messages_for(&env, token).await, std::slice::from_ref(&joined), "{token} sees the join");
    }
    assert_eq!(member_status(&env, chat, ann).await, "creator");
    assert_eq!(member_status(&env, chat, bob).await, "member");
    assert_eq!(member_status(&env, chat, 1001).await, "administrator");
    assert_eq!(env.bot("getChatMemberCount", json!({ "chat_id": chat })).await, 4);

    let left = env.post(&format!("/groups/{chat}/leave"), json!({ "user_id": bob })).await;
    assert_shape("Message", &left);
    assert_eq!(left["left_chat_member"]["id"], bob);
    assert_eq!(messages_for(&env, TOKEN).await, [left]);
    assert_eq!(member_status(&env, chat, bob).await, "left");
    assert_eq!(env.bot("getChatMemberCount", json!({ "chat_id": chat })).await, 3);

    let admins = env.bot("getChatAdministrators", json!({ "chat_id": chat })).await;
    let mut admins: Vec<(i64, String)> = admins
        .as_array()
        .unwrap()
        .iter()
        .inspect(|m| assert_shape("ChatMember", m))
        .map(|m| (m["user"]["id"].as_i64().unwrap(), m["status"].as_str().unwrap().to_string()))
        .collect();
    admins.sort();
    assert_eq!(admins, [(1001, "administrator".into()), (1002, "administrator".into()), (ann, "creator".into())]);
    let private = env.bot_fail("getChatAdministrators", json!({ "chat_id": ann })).await;
    assert_eq!(private, (400, "Bad Request: chat not found".into()), "the bot has no private chat with Ann");
}

#[tokio::test]
async fn a_bot_added_to_a_group_gets_a_valid_my_chat_member() {
    let env = Env::start().await;
    env.bot("getMe", json!({})).await;
    let ann = env.user("Ann").await;
    group(&env, "group", &[ann], &[1001]).await;
    let updates = env.updates(json!({})).await;
    assert_shape("Update", &updates[0]);
}

// ---------------------------------------------------------------------------------------------
// Flood limits and faults

#[tokio::test]
async fn the_fourth_fast_send_to_a_chat_gets_429() {
    let env = Env::with(Config::default()).await;
    let ann = started_user(&env, "Ann").await;
    for i in 0..3 {
        send_text(&env, ann, &format!("burst {i}")).await;
    }
    let answer = env.raw(TOKEN, "sendMessage", json!({ "chat_id": ann, "text": "one too many" })).await;
    assert_eq!(answer.body["parameters"], json!({ "retry_after": 1 }));
    assert_eq!(answer.err(), (429, "Too Many Requests: retry after 1".into()));
    assert_eq!(env.history(ann).await.len(), 4, "the refused send stored nothing");

    let limits = env.put("/limits", json!({ "enabled": false })).await;
    assert_eq!(limits["enabled"], false);
    for i in 0..10 {
        send_text(&env, ann, &format!("unlimited {i}")).await;
    }
}

#[tokio::test]
async fn an_album_of_ten_passes_the_default_limits() {
    let env = Env::with(Config::default()).await;
    let ann = started_user(&env, "Ann").await;
    let mut form = Form::new().text("chat_id", ann.to_string());
    let mut media = Vec::new();
    for i in 0..10 {
        media.push(json!({ "type": "photo", "media": format!("attach://p{i}") }));
        form = form.part(format!("p{i}"), png_part(&format!("{i}.png")));
    }
    let form = form.text("media", Value::Array(media).to_string());
    let album = env.send(env.http.post(env.bot_url(TOKEN, "sendMediaGroup")).multipart(form)).await.ok();
    assert_eq!(album.as_array().unwrap().len(), 10, "Telegram takes an album in one go");
}

#[tokio::test]
async fn faults_fail_the_next_matching_calls() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    env.post(&format!("/bots/{BOT}/faults"), json!({ "count": 2, "status": 500, "methods": ["sendMessage"] })).await;
    env.bot("getMe", json!({})).await;
    for _ in 0..2 {
        let err = env.bot_fail("sendMessage", json!({ "chat_id": ann, "text": "x" })).await;
        assert_eq!(err, (500, "Internal Server Error".into()));
    }
    send_text(&env, ann, "third time lucky").await;

    env.post(&format!("/bots/{BOT}/faults"), json!({ "count": 1, "status": 429, "retry_after": 7 })).await;
    let answer = env.raw(TOKEN, "getMe", json!({})).await;
    assert_eq!(answer.body["parameters"], json!({ "retry_after": 7 }));
    assert_eq!(answer.err(), (429, "Too Many Requests: retry after 7".into()));

    env.post(&format!("/bots/{BOT}/faults"), json!({ "count": 1, "delay_ms": 200 })).await;
    assert_eq!(send_text(&env, ann, "slow but fine").await["text"], "slow but fine");

    env.post(&format!("/bots/{BOT}/faults"), json!({ "count": 5, "status": 503 })).await;
    let cleared = env.http.delete(format!("{}/sandbox/bots/{BOT}/faults", env.url)).send().await.unwrap();
    assert!(cleared.status().is_success());
    env.bot("getMe", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Strict mode and the state file

#[tokio::test]
async fn strict_mode_accepts_only_created_bots() {
    let env = Env::with(Config { strict: true, ..no_limits() }).await;
    assert_eq!(env.bot_fail("getMe", json!({})).await, (401, "Unauthorized".into()));
    let created = env.post("/bots", json!({ "token": TOKEN, "username": "strict_bot", "first_name": "Strict" })).await;
    assert_eq!(created["id"], BOT);
    let me = env.bot("getMe", json!({})).await;
    assert_eq!((me["username"].as_str(), me["first_name"].as_str()), (Some("strict_bot"), Some("Strict")));
    assert_eq!(env.fail("1001:wrong", "getMe", json!({})).await, (401, "Unauthorized".into()));
    assert_eq!(env.fail("0:x", "getMe", json!({})).await, (401, "Unauthorized: invalid token specified".into()));
}

#[tokio::test]
async fn the_state_file_keeps_users_messages_and_pending_updates() {
    let path =
        std::env::temp_dir().join(format!("ferrogram-bot-api-state-{}-{}.json", std::process::id(), unique_suffix()));
    let config = Config { state_file: Some(path.clone()), ..no_limits() };

    let env = Env::with(config.clone()).await;
    env.put("/limits", json!({ "enabled": false })).await;
    let ann = env.user("Ann").await;
    env.say(ann, "one").await;
    env.drain(TOKEN).await;
    send_text(&env, ann, "reply").await;
    let two = env.act("text", ann, json!({ "text": "two" })).await["update_id"].as_i64().unwrap();
    let form = Form::new().text("chat_id", ann.to_string()).part("photo", png_part("kept.png"));
    let photo = env.send(env.http.post(env.bot_url(TOKEN, "sendPhoto")).multipart(form)).await.ok();
    let file_id = photo["photo"][0]["file_id"].as_str().unwrap().to_string();
    let Env { sandbox, http, .. } = env;
    drop(http);
    guard("the sandbox to stop", sandbox.stop()).await.expect("the state is saved");

    let env = Env::with(config).await;
    let users = env.get("/users").await;
    assert_eq!(users, json!([{ "id": ann, "is_bot": false, "first_name": "Ann" }]));
    let texts: Vec<Value> = env.history(ann).await.iter().map(|m| m["message"]["text"].clone()).collect();
    assert_eq!(texts, [json!("one"), json!("reply"), json!("two"), Value::Null]);
    assert_eq!(ids(&env.updates(json!({})).await), [two], "the pending update is still there");
    let three = env.act("text", ann, json!({ "text": "three" })).await["update_id"].as_i64().unwrap();
    assert_eq!(three, two + 1, "update ids continue");
    assert_eq!(env.get("/limits").await["enabled"], false);
    let file = env.bot("getFile", json!({ "file_id": file_id })).await;
    assert_eq!(download(&env, file["file_path"].as_str().unwrap()).await.0, PNG);

    let Env { sandbox, .. } = env;
    sandbox.stop().await.unwrap();
    let _ = std::fs::remove_file(&path);
}

fn unique_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[tokio::test]
async fn a_stopped_sandbox_stops_delivering_and_its_successor_resumes() {
    let path =
        std::env::temp_dir().join(format!("ferrogram-bot-api-hook-{}-{}.json", std::process::id(), unique_suffix()));
    let config = Config { state_file: Some(path.clone()), ..webhook_config() };
    let mut hook = Hook::start().await;
    hook.reply([Reply::status(500)]);

    let env = Env::with(config.clone()).await;
    let ann = env.user("Ann").await;
    env.bot("setWebhook", json!({ "url": hook.url })).await;
    let first = env.act("text", ann, json!({ "text": "one" })).await["update_id"].as_i64().unwrap();
    let failed = hook.next().await;
    assert_eq!((failed.update_id(), failed.status), (first, 500));
    let Env { sandbox, http, .. } = env;
    drop(http);
    sandbox.stop().await.unwrap();

    let env = Env::with(config).await;
    let second = env.act("text", ann, json!({ "text": "two" })).await["update_id"].as_i64().unwrap();
    let mut delivered = Vec::new();
    while !delivered.contains(&second) {
        let hit = hook.next().await;
        assert_eq!(hit.status, 200);
        delivered.push(hit.update_id());
    }
    assert_eq!(delivered, [first, second], "the new sandbox resumed the webhook; the old one sent nothing more");
    let Env { sandbox, .. } = env;
    sandbox.stop().await.unwrap();
    let _ = std::fs::remove_file(&path);
}
