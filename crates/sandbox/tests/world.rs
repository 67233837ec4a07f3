//! The sandbox's world seen from outside: how chats resolve, how refused control calls change
//! nothing, the flood limits' settings, the state file (saved while running, versioned, readable
//! when older) and the events API (sequence across resets, kind filter, `seq` of each action).
//!
//! Nothing sleeps and hopes: tests wait on the events long poll or on the state file's saves,
//! each under a guard timeout.

mod common;

use common::{BOT, Env, TOKEN, guard, no_limits};
use ferrogram_sandbox::{Config, Sandbox, StartError};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// A user who has started a private chat with the default bot.
async fn started_user(env: &Env, name: &str) -> i64 {
    let user = env.user(name).await;
    env.act("command", user, json!({ "command": "start" })).await;
    user
}

/// A control API call with any method that must fail: its status and error text.
async fn control_fail(env: &Env, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, String) {
    let mut request = env.http.request(method, format!("{}/sandbox{path}", env.url));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert!(!status.is_success(), "{path} should fail: {body}");
    assert_eq!(body["ok"], false);
    (status.as_u16(), body["error"].as_str().unwrap_or_default().to_string())
}

/// A path in the temporary folder no other test uses.
fn temp_path(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    std::env::temp_dir().join(format!("ferrogram-world-{name}-{}-{nanos}.json", std::process::id()))
}

// ---------------------------------------------------------------------------------------------
// Resolving chats

#[tokio::test]
async fn only_a_public_supergroups_username_is_a_chat_id() {
    let env = Env::start().await;
    let ann = env.post("/users", json!({ "first_name": "Ann", "username": "ann_user" })).await["id"].as_i64().unwrap();
    env.act("command", ann, json!({ "command": "start" })).await;
    let err = env.bot_fail("sendMessage", json!({ "chat_id": "@ann_user", "text": "hi" })).await;
    assert_eq!(err, (400, "Bad Request: chat not found".into()), "a user's username does not name a chat");
    let err = env.bot_fail("getChat", json!({ "chat_id": "@ann_user" })).await;
    assert_eq!(err, (400, "Bad Request: chat not found".into()));

    let body =
        json!({ "title": "Public", "type": "supergroup", "members": [ann], "bots": [BOT], "username": "PubChat" });
    let group = env.post("/groups", body).await["id"].as_i64().unwrap();
    let sent = env.bot("sendMessage", json!({ "chat_id": "@pubchat", "text": "hello all" })).await;
    assert_eq!(sent["chat"]["id"], group, "usernames match in any letter case");

    let basic = json!({ "title": "Basic", "type": "group", "members": [ann], "username": "basic_chat" });
    let (status, error) = env.post_fail("/groups", basic).await;
    assert_eq!(status, 400);
    assert!(error.contains("only a supergroup can have a username"), "{error}");
}

#[tokio::test]
async fn reading_a_user_who_never_wrote_is_chat_not_found_and_writing_is_forbidden() {
    let env = Env::start().await;
    let stranger = env.user("Stranger").await;
    let not_found = (400, "Bad Request: chat not found".to_string());
    assert_eq!(env.bot_fail("getChat", json!({ "chat_id": stranger })).await, not_found);
    let member = json!({ "chat_id": stranger, "user_id": stranger });
    assert_eq!(env.bot_fail("getChatMember", member.clone()).await, not_found);
    assert_eq!(env.bot_fail("getChatMemberCount", json!({ "chat_id": stranger })).await, not_found);
    let forbidden = (403, "Forbidden: bot can't initiate conversation with a user".to_string());
    assert_eq!(env.bot_fail("sendMessage", json!({ "chat_id": stranger, "text": "hi" })).await, forbidden);

    env.act("command", stranger, json!({ "command": "start" })).await;
    assert_eq!(env.bot("getChat", json!({ "chat_id": stranger })).await["id"], stranger);
    assert_eq!(env.bot("getChatMember", member).await["status"], "member");
}

// ---------------------------------------------------------------------------------------------
// Control calls that are refused change nothing

#[tokio::test]
async fn a_refused_join_or_leave_changes_nothing() {
    let env = Env::start().await;
    let (ann, bob, cid) = (env.user("Ann").await, env.user("Bob").await, env.user("Cid").await);
    let body = json!({ "title": "Team", "type": "supergroup", "members": [ann], "bots": [BOT] });
    let chat = env.post("/groups", body).await["id"].as_i64().unwrap();
    env.sandbox.world().with(|s| s.groups.get_mut(&chat).unwrap().members.insert(cid, "kicked".into()));
    env.drain(TOKEN).await; // the creation's updates
    let before = env.get("/groups").await;
    let last = env.last_event().await;

    let refused = [
        ("leave", json!({ "user_id": bob }), "not a member"),
        ("leave", json!({ "user_id": cid }), "not a member"),
        ("join", json!({ "user_id": ann }), "already a member"),
        ("join", json!({ "bot_id": BOT }), "already a member"),
        ("leave", json!({ "user_id": 424242 }), "user 424242 not found"),
    ];
    for (action, body, why) in refused {
        let (status, error) = env.post_fail(&format!("/groups/{chat}/{action}"), body.clone()).await;
        assert_eq!((status, error.as_str()), (400, why), "{action} {body}");
    }
    assert_eq!(env.get("/groups").await, before, "no member status changed");
    assert_eq!(env.last_event().await, last, "no event was recorded");
    assert!(env.updates(json!({})).await.iter().all(|u| u.get("message").is_none()), "no service message");

    env.post(&format!("/groups/{chat}/join"), json!({ "user_id": bob })).await;
    env.post(&format!("/groups/{chat}/leave"), json!({ "user_id": bob })).await;
    let members = &env.get("/groups").await[0]["members"];
    assert_eq!((&members[bob.to_string()], &members[cid.to_string()]), (&json!("left"), &json!("kicked")));
}

// ---------------------------------------------------------------------------------------------
// Flood limits

#[tokio::test]
async fn a_user_text_longer_than_telegram_sends_is_refused_and_changes_nothing() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let said = env.say(ann, &"я".repeat(4096)).await;
    assert_eq!(said["text"].as_str().map(|t| t.chars().count()), Some(4096), "4096 characters are one message");
    let picture = env.act("photo", ann, json!({ "caption": "a picture" })).await;
    let picture_id = picture["message"]["message_id"].as_i64().expect("the photo's message id");
    let state = |env: &Env| {
        env.sandbox.world().with(|s| {
            let bot = &s.bots[&BOT];
            (bot.updates.len(), bot.private.values().map(|log| log.messages.len()).sum::<usize>(), s.files.len())
        })
    };
    let before = state(&env);
    let env = &env;
    let post = |kind: &'static str, fields: Value| async move {
        let mut body = fields;
        body["bot_id"] = json!(BOT);
        body["user_id"] = json!(ann);
        control_fail(env, reqwest::Method::POST, &format!("/act/{kind}"), Some(body)).await
    };
    let long = "я".repeat(4097);
    assert_eq!(
        post("text", json!({ "text": long })).await,
        (400, "text is 4097 characters long; a Telegram user sends at most 4096".into())
    );
    let (status, error) = post("command", json!({ "command": "echo", "payload": "x".repeat(4096) })).await;
    assert_eq!(
        (status, error.as_str()),
        (400, "the command with its payload is 4102 characters long; a Telegram user sends at most 4096")
    );
    let message_id = said["message_id"].as_i64().expect("a message id");
    assert_eq!(post("edit", json!({ "message_id": message_id, "text": long })).await.0, 400);
    let (status, error) = post("photo", json!({ "caption": "c".repeat(1025) })).await;
    assert_eq!((status, error.as_str()), (400, "caption is 1025 characters long; a Telegram user sends at most 1024"));
    // An edited caption is a caption: 1024 at most, not a text's 4096.
    let (status, error) = post("edit", json!({ "message_id": picture_id, "text": "c".repeat(1025) })).await;
    assert_eq!((status, error.as_str()), (400, "caption is 1025 characters long; a Telegram user sends at most 1024"));
    let caption = env.sandbox.world().with(|s| {
        let log = &s.bots[&BOT].private[&ann];
        log.messages[&picture_id].message["caption"].clone()
    });
    assert_eq!(caption, json!("a picture"), "a refused edit leaves the caption as it was");
    assert_eq!(state(env), before, "a refused action queues no update, posts no message and stores no file");
}

#[tokio::test]
async fn limits_refuse_bursts_under_one_and_rates_not_above_zero() {
    let env = Env::start().await;
    let before = env.get("/limits").await;
    let refused = [
        (json!({ "per_chat_burst": 0.5 }), "per_chat_burst must be at least 1"),
        (json!({ "per_group_burst": 0 }), "per_group_burst must be at least 1"),
        (json!({ "per_bot_burst": -3 }), "per_bot_burst must be at least 1"),
        (json!({ "per_chat_per_second": 0 }), "per_chat_per_second must be a positive number"),
        (json!({ "per_group_per_minute": -1 }), "per_group_per_minute must be a positive number"),
        (json!({ "per_bot_per_second": 0.0 }), "per_bot_per_second must be a positive number"),
        (json!({ "per_chat_burst": "3" }), "invalid body"),
    ];
    for (body, why) in refused {
        let (status, error) = control_fail(&env, reqwest::Method::PUT, "/limits", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}");
        assert!(error.starts_with(why), "{body}: {error}");
        assert_eq!(env.get("/limits").await, before, "a refused {body} changed nothing");
    }

    let ann = started_user(&env, "Ann").await;
    let one = json!({ "enabled": true, "per_chat_burst": 1, "per_chat_per_second": 0.001 });
    assert_eq!(env.put("/limits", one).await["per_chat_burst"], 1.0);
    env.bot("sendMessage", json!({ "chat_id": ann, "text": "the one message a burst of 1 allows" })).await;
    let (code, _) = env.bot_fail("sendMessage", json!({ "chat_id": ann, "text": "too soon" })).await;
    assert_eq!(code, 429);

    let config = Config {
        limits: ferrogram_sandbox::flood_limits::Limits { per_bot_burst: 0.5, ..Default::default() },
        ..no_limits()
    };
    match Sandbox::start(config).await {
        Err(StartError::Config(error)) => assert!(error.contains("per_bot_burst must be at least 1"), "{error}"),
        other => panic!("a burst under 1 must not start a sandbox: {:?}", other.map(|s| s.url())),
    }
}

// ---------------------------------------------------------------------------------------------
// The state file

/// A bot that long-polls with nothing to confirm changes nothing that is saved, so an idle
/// sandbox is not serialized every interval; a confirmation or a send is a change.
#[tokio::test]
async fn an_idle_poll_is_not_a_change_to_save() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    env.act("command", ann, json!({ "command": "start" })).await;
    env.drain(TOKEN).await;
    let world = env.sandbox.world();
    let before = world.changes();
    for _ in 0..3 {
        assert!(env.updates(json!({ "timeout": 0 })).await.is_empty());
        env.bot("getMe", json!({})).await;
    }
    env.updates(json!({ "timeout": 0, "allowed_updates": ["message"] })).await;
    let after_allowed = world.changes();
    assert_eq!(before + 1, after_allowed, "only the new allowed_updates counted");
    env.updates(json!({ "timeout": 0, "allowed_updates": ["message"] })).await;
    assert_eq!(world.changes(), after_allowed, "the same allowed_updates again changes nothing");

    env.say(ann, "hi").await;
    let pending = env.updates(json!({ "timeout": 0 })).await;
    let before_confirm = world.changes();
    env.updates(json!({ "offset": common::ids(&pending)[0] + 1, "timeout": 0 })).await;
    assert!(world.changes() > before_confirm, "a confirmation is a change");
}

#[tokio::test]
async fn a_running_sandbox_saves_its_state_file_without_being_stopped() {
    let path = temp_path("autosave");
    let config = Config { state_file: Some(path.clone()), save_interval: Duration::from_millis(20), ..no_limits() };
    let env = Env::with(config.clone()).await;
    let mut saves = env.sandbox.saves().expect("a state file is configured");
    env.post("/users", json!({ "first_name": "Periodic", "username": "saved_while_running" })).await;

    let saved = guard("a save holding the new user", async {
        loop {
            saves.changed().await.expect("the sandbox runs");
            let text = std::fs::read_to_string(&path).expect("the state file is there after a save");
            if text.contains("saved_while_running") {
                return serde_json::from_str::<Value>(&text).expect("a whole JSON document");
            }
        }
    })
    .await;
    assert_eq!(saved["version"], 1);
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    assert!(!PathBuf::from(tmp).exists(), "the temporary file was renamed over the state file");

    // What a killed sandbox leaves is enough for the next one.
    let copy = temp_path("autosave-copy");
    std::fs::copy(&path, &copy).unwrap();
    let next = Env::with(Config { state_file: Some(copy.clone()), ..no_limits() }).await;
    let users = next.get("/users").await;
    assert_eq!(users[0]["username"], "saved_while_running");
    let epoch = |body: Value| body["epoch"].as_u64().expect("an epoch");
    let (old_epoch, new_epoch) = (epoch(env.get("/events").await), epoch(next.get("/events").await));
    assert_ne!(old_epoch, new_epoch, "a restarted sandbox tells event readers their events are gone");

    for env in [env, next] {
        env.sandbox.stop().await.unwrap();
    }
    for file in [path, copy] {
        let _ = std::fs::remove_file(file);
    }
}

#[tokio::test]
async fn an_unreadable_state_file_is_a_clear_start_error() {
    let cases = [
        ("{\"users\": {\"5\": ", "not a sandbox state file"),
        ("[1, 2]", "not a sandbox state file"),
        ("{\"version\": 99, \"users\": {}}", "format version 99"),
        ("{\"users\": {\"5\": {\"id\": \"five\"}}}", "not a sandbox state file"),
    ];
    for (text, why) in cases {
        let path = temp_path("corrupt");
        std::fs::write(&path, text).unwrap();
        match Sandbox::start(Config { state_file: Some(path.clone()), ..no_limits() }).await {
            Err(StartError::State(error)) => {
                assert!(error.starts_with(&path.display().to_string()), "the error names the file: {error}");
                assert!(error.contains(why), "{text}: {error}");
            }
            other => panic!("{text} must not start a sandbox: {:?}", other.map(|s| s.url())),
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "the file is left as it was");
        let _ = std::fs::remove_file(path);
    }
}

#[tokio::test]
async fn a_state_file_without_later_fields_loads() {
    // A file as an older sandbox wrote it: no version, and only some of today's fields.
    let old = json!({
        "bots": { "1001": { "id": 1001, "token": TOKEN, "username": "old_bot", "first_name": "Old" } },
        "users": { "5": { "id": 5, "first_name": "Ann" } },
        "groups": { "-7": { "id": -7, "kind": "group", "title": "Old group" } },
        "last_seq": 41,
    });
    let path = temp_path("old");
    std::fs::write(&path, old.to_string()).unwrap();
    let env = Env::with(Config { state_file: Some(path.clone()), ..no_limits() }).await;
    assert_eq!(env.bot("getMe", json!({})).await["username"], "old_bot");
    assert_eq!(env.get("/users").await, json!([{ "id": 5, "is_bot": false, "first_name": "Ann" }]));
    assert_eq!(env.get("/groups").await[0]["title"], "Old group");
    let said = env.act("text", 5, json!({ "text": "still here" })).await;
    assert_eq!(said["update_id"], 1, "update ids start at 1");
    assert_eq!(env.last_event().await, 42, "event numbers continue");
    env.sandbox.stop().await.unwrap();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["version"], 1, "the file is rewritten in today's format");
    let _ = std::fs::remove_file(path);
}

// ---------------------------------------------------------------------------------------------
// Events

#[tokio::test]
async fn event_numbers_keep_growing_across_a_reset_and_the_epoch_tells_it() {
    let env = Env::start().await;
    let ann = env.user("Ann").await;
    let before_reset = env.act("text", ann, json!({ "text": "before" })).await["seq"].as_u64().unwrap();
    let known = env.get(&format!("/events?after={before_reset}")).await;
    let epoch = known["epoch"].as_u64().expect("an epoch");

    // A reader waiting with the epoch it knows learns of the reset at once.
    let waiting = {
        let (http, url) = (env.http.clone(), env.url.clone());
        tokio::spawn(async move {
            let query = format!("{url}/sandbox/events?after={before_reset}&epoch={epoch}&timeout=50");
            http.get(query).send().await.unwrap().json::<Value>().await.unwrap()
        })
    };
    env.post("/reset", json!({})).await;
    let answer = guard("the waiting reader to see the reset", waiting).await.unwrap();
    assert_ne!(answer["epoch"], epoch, "a reset starts a new epoch");
    assert_eq!(answer["events"], json!([]));
    assert_eq!(answer["last"], before_reset, "the sequence is not set back");

    env.bot("getMe", json!({})).await;
    let ann = env.user("Ann again").await;
    let after_reset = env.act("text", ann, json!({ "text": "after" })).await["seq"].as_u64().unwrap();
    assert!(after_reset > before_reset, "{after_reset} follows {before_reset}");
    let (events, _) = env.events("", before_reset).await;
    let texts: Vec<&Value> = events.iter().map(|e| &e["message"]["text"]).collect();
    assert_eq!(texts, [&json!("after")], "a reader holding an old `after` sees the new events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_can_be_filtered_by_kind() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let start = env.last_event().await;
    let sent = env.bot("sendMessage", json!({ "chat_id": ann, "text": "one" })).await;
    env.bot("sendChatAction", json!({ "chat_id": ann, "action": "typing" })).await;
    let edit = json!({ "chat_id": ann, "message_id": sent["message_id"], "text": "one, edited" });
    env.bot("editMessageText", edit).await;
    let (events, _) = env.events("kind=sent,edited", start).await;
    let kinds: Vec<&Value> = events.iter().map(|e| &e["kind"]).collect();
    assert_eq!(kinds, [&json!("sent"), &json!("edited")]);

    // "Wait for the next bot message" is one call: the user's own message does not end it.
    let last = env.last_event().await;
    let waiting = {
        let (http, url) = (env.http.clone(), env.url.clone());
        tokio::spawn(async move {
            let query = format!("{url}/sandbox/events?bot_id={BOT}&kind=sent&after={last}&timeout=20");
            http.get(query).send().await.unwrap().json::<Value>().await.unwrap()
        })
    };
    env.say(ann, "are you there?").await;
    env.bot("sendMessage", json!({ "chat_id": ann, "text": "yes" })).await;
    let answer = guard("the next bot message", waiting).await.unwrap();
    let events = answer["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{answer}");
    assert_eq!((&events[0]["kind"], &events[0]["message"]["text"]), (&json!("sent"), &json!("yes")));

    let (status, error) = control_fail(&env, reqwest::Method::GET, "/events?kind=sent,sned", None).await;
    assert_eq!(status, 400);
    assert!(error.starts_with("unknown event kind \"sned\""), "{error}");
    for bad_query in ["/events?after=abc", &format!("/chats/{ann}/messages?bot_id=me")] {
        let (status, error) = control_fail(&env, reqwest::Method::GET, bad_query, None).await;
        assert_eq!(status, 400, "{bad_query}");
        assert!(error.starts_with("invalid query: "), "{bad_query}: {error}");
    }
}

#[tokio::test]
async fn every_action_answers_the_seq_of_its_event() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let menu = json!({ "inline_keyboard": [[{ "text": "Go", "callback_data": "go" }]] });
    let button = env.bot("sendMessage", json!({ "chat_id": ann, "text": "menu", "reply_markup": menu })).await;
    let options = json!([{ "text": "Tea" }, { "text": "Coffee" }]);
    let poll = json!({ "chat_id": ann, "question": "Tea?", "options": options, "is_anonymous": false });
    let poll_id = env.bot("sendPoll", poll).await["poll"]["id"].clone();
    let said = env.say(ann, "first words").await;

    let actions = [
        ("text", json!({ "text": "hi" }), "received"),
        ("command", json!({ "command": "help" }), "received"),
        ("photo", json!({ "caption": "a picture" }), "received"),
        ("location", json!({ "latitude": 1.5, "longitude": 2.5 }), "received"),
        ("contact", json!({ "phone_number": "+100", "first_name": "Ann" }), "received"),
        ("edit", json!({ "message_id": said["message_id"], "text": "first words, edited" }), "received_edit"),
        ("callback", json!({ "message_id": button["message_id"], "data": "go" }), "callback_query"),
        ("poll_answer", json!({ "poll_id": poll_id, "option_ids": [0] }), "poll_answer"),
        ("inline_query", json!({ "query": "cats" }), "inline_query"),
        ("chosen_inline_result", json!({ "result_id": "1", "query": "cats" }), "chosen_inline_result"),
    ];
    for (kind, fields, event_kind) in actions {
        let before = env.last_event().await;
        let answer = env.act(kind, ann, fields).await;
        let seq = answer["seq"].as_u64().unwrap_or_else(|| panic!("act/{kind} answers a seq: {answer}"));
        let (events, _) = env.events(&format!("bot_id={BOT}"), before).await;
        let event = events.iter().find(|e| e["seq"] == seq).unwrap_or_else(|| panic!("act/{kind}: no event {seq}"));
        assert_eq!(event["kind"], event_kind, "act/{kind}");
        assert_eq!(events.len(), 1, "act/{kind} recorded one event: {events:?}");
    }

    // A test waits for what follows its own action.
    let seq = env.act("text", ann, json!({ "text": "ping" })).await["seq"].as_u64().unwrap();
    env.bot("sendMessage", json!({ "chat_id": ann, "text": "pong" })).await;
    let (events, _) = env.events(&format!("bot_id={BOT}&kind=sent"), seq).await;
    assert_eq!(events[0]["message"]["text"], "pong");
}
