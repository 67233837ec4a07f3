//! The web chat page in a real browser: `conformance/js/web_chat_user.mjs` drives Chromium
//! (through playwright-core) as the user, while this test plays the bot over the Bot API. The
//! script checks what the page shows; this test checks what the page's clicks and uploads made
//! the bot receive.
//!
//! Needs Chromium (`apt-get install chromium`, or `CHROMIUM=/path`), node and playwright-core
//! (`conformance/install.sh` installs both). Without them the test prints a `SKIPPED web chat`
//! line and passes, unless `FERROGRAM_REQUIRE_CONFORMANCE=1` is set, as in CI.

mod browser;
mod common;

use browser::{chromium, missing};
use common::{Env, conformance_dir, guard, skip_or_fail};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "3001:web-chat";
const BOT_ID: i64 = 3001;
/// A 3×2 PNG that browsers decode (common's `PNG` has a valid header only): the user uploads it.
const PHOTO: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x03\0\0\0\x02\x08\x06\0\0\0\x9dtf\x1a\0\0\0\x11IDATx\xdac8\xa1\xa1\xf1\x1f\x86\x19\x909\0\xa1-\x0c\x8bBiU\xa8\0\0\0\0IEND\xaeB`\x82";
/// The whole browser session; only turns a hang into a failure.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

/// The bot: answers each of the script's steps the way a real bot would, and keeps every update
/// it received for the checks at the end, and the stored bytes of the photo it got (the script
/// ends with a reset of the sandbox, which forgets the files).
async fn play_bot(env: Arc<Env>, received: Arc<Mutex<Vec<Value>>>, stored_photo: Arc<Mutex<Vec<u8>>>) {
    let mut offset = 0;
    let mut poll_options: Vec<String> = Vec::new();
    loop {
        let updates = env.call(TOKEN, "getUpdates", json!({ "offset": offset, "timeout": 20 })).await;
        for update in updates.as_array().expect("an array") {
            offset = update["update_id"].as_i64().expect("update_id") + 1;
            received.lock().unwrap().push(update.clone());
            if let Some(query) = update.get("callback_query") {
                assert_eq!(query["data"], "edit");
                env.call(TOKEN, "answerCallbackQuery", json!({ "callback_query_id": query["id"], "text": "Done" }))
                    .await;
                let message = &query["message"];
                let edit = json!({
                    "chat_id": message["chat"]["id"], "message_id": message["message_id"], "text": "Edited by the bot"
                });
                env.call(TOKEN, "editMessageText", edit).await;
                continue;
            }
            if let Some(answer) = update.get("poll_answer") {
                let chosen = answer["option_ids"][0].as_u64().expect("an option") as usize;
                let chat = answer["user"]["id"].clone();
                let text = format!("You voted {}", poll_options[chosen]);
                env.call(TOKEN, "sendMessage", json!({ "chat_id": chat, "text": text })).await;
                continue;
            }
            let message = &update["message"];
            let chat = message["chat"]["id"].clone();
            let send = |params: Value| {
                let env = env.clone();
                let mut params = params;
                params["chat_id"] = chat.clone();
                async move { env.call(TOKEN, "sendMessage", params).await }
            };
            if let Some(photos) = message["photo"].as_array() {
                let big = photos.last().expect("a size");
                let file = format!("{}/sandbox/files/{}", env.url, big["file_id"].as_str().expect("a file id"));
                let bytes = env.http.get(file).send().await.expect("the file").bytes().await.expect("its bytes");
                *stored_photo.lock().unwrap() = bytes.to_vec();
                let caption = format!("Your photo is {}×{}", big["width"], big["height"]);
                let back = json!({ "chat_id": chat, "photo": big["file_id"], "caption": caption });
                env.call(TOKEN, "sendPhoto", back).await;
                continue;
            }
            if let Some(at) = message.get("location") {
                send(json!({ "text": format!("You are at {}, {}", at["latitude"], at["longitude"]) })).await;
                continue;
            }
            match message["text"].as_str().unwrap_or_default() {
                "hello" => {
                    let name = message["from"]["first_name"].as_str().unwrap_or_default();
                    let keyboard = json!({ "inline_keyboard": [
                        [{ "text": "Edit me", "callback_data": "edit" }],
                        [{ "text": "Docs", "url": "https://core.telegram.org/bots/api" }],
                    ]});
                    let text = format!("<b>Hi</b> {name}, press a button");
                    send(json!({ "text": text, "parse_mode": "HTML", "reply_markup": keyboard })).await;
                }
                "busy" => {
                    env.call(TOKEN, "sendChatAction", json!({ "chat_id": chat, "action": "upload_photo" })).await;
                }
                "/keyboard" => {
                    let keyboard =
                        json!({ "keyboard": [[{ "text": "Red" }, { "text": "Blue" }]], "resize_keyboard": true });
                    send(json!({ "text": "Pick a colour", "reply_markup": keyboard })).await;
                }
                "Blue" => {
                    send(json!({ "text": "You chose Blue", "reply_markup": { "remove_keyboard": true } })).await;
                }
                "poll" => {
                    poll_options = vec!["Tea".into(), "Coffee".into()];
                    let options: Vec<Value> = poll_options.iter().map(|o| json!({ "text": o })).collect();
                    let poll = json!({ "chat_id": chat, "question": "Tea or coffee?", "options": options, "is_anonymous": false });
                    env.call(TOKEN, "sendPoll", poll).await;
                }
                "dice" => {
                    let dice = env.call(TOKEN, "sendDice", json!({ "chat_id": chat })).await;
                    send(json!({ "text": format!("rolled {}", dice["dice"]["value"]) })).await;
                }
                "delete" => {
                    let gone = send(json!({ "text": "short-lived" })).await;
                    env.call(TOKEN, "deleteMessage", json!({ "chat_id": chat, "message_id": gone["message_id"] }))
                        .await;
                    send(json!({ "text": "Deleted it" })).await;
                }
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_chats_with_a_bot_in_the_web_chat_page() {
    let js = conformance_dir().join("js");
    if let Some(why) = missing(&js, &["playwright-core"]) {
        return skip_or_fail("web chat", &why);
    }

    let env = Arc::new(Env::start().await);
    env.post("/bots", json!({ "token": TOKEN, "first_name": "Web Chat Bot" })).await;
    let user = env.user("Zoë").await;
    let received = Arc::new(Mutex::new(Vec::new()));
    let stored_photo = Arc::new(Mutex::new(Vec::new()));
    let bot = tokio::spawn(play_bot(env.clone(), received.clone(), stored_photo.clone()));

    // Kept after the run: what the page looked like at the end (or when a step failed).
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-chat.png");
    let script = tokio::process::Command::new("node")
        .arg("web_chat_user.mjs")
        .current_dir(&js)
        .env("SANDBOX_URL", env.url.trim_end_matches('/'))
        .env("BOT_ID", BOT_ID.to_string())
        .env("USER_ID", user.to_string())
        .env("CHROMIUM", chromium().expect("checked above"))
        .env("PHOTO_HEX", PHOTO.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .env("SCREENSHOT", &screenshot)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(SCRIPT_TIMEOUT, script).await {
        Ok(output) => output.expect("node runs"),
        Err(_) => panic!("the browser script did not finish within {SCRIPT_TIMEOUT:?}"),
    };
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if bot.is_finished() {
        panic!("the bot stopped early: {:?}\n{log}", guard("the bot", bot).await);
    }
    assert!(output.status.success(), "the browser script failed (screenshot: {}):\n{log}", screenshot.display());
    assert!(log.contains("PASSED"), "{log}");
    bot.abort();

    // What the page's clicks and uploads sent, as the bot received it.
    let received = received.lock().unwrap().clone();
    let texts: Vec<&str> = received.iter().filter_map(|u| u["message"]["text"].as_str()).collect();
    assert_eq!(texts, ["hello", "busy", "/keyboard", "Blue", "poll", "dice", "delete", "hello"]);
    let group_hello = received.iter().rev().find(|u| u["message"]["text"] == "hello").unwrap();
    assert_eq!(group_hello["message"]["chat"]["title"], "Tea club", "the second hello was written in the group");
    assert_eq!(group_hello["message"]["from"]["first_name"], "Bob");
    let added = received.iter().find_map(|u| u.get("my_chat_member")).expect("the bot was added to the group");
    assert_eq!(added["chat"]["title"], "Tea club");
    let created = received.iter().find(|u| u["message"]["group_chat_created"] == true).expect("the group's creation");
    assert_eq!(created["message"]["from"]["first_name"], "Zoë");
    let joined = received.iter().find_map(|u| u["message"].get("new_chat_members")).expect("Bob's join");
    assert_eq!(joined[0]["first_name"], "Bob");
    let command = received.iter().find(|u| u["message"]["text"] == "/keyboard").unwrap();
    assert_eq!(command["message"]["entities"][0]["type"], "bot_command", "the page sends /keyboard as a command");
    let press = received.iter().find_map(|u| u.get("callback_query")).expect("a callback query");
    assert_eq!(press["from"]["first_name"], "Zoë");
    let photo = received.iter().find(|u| u["message"]["photo"].is_array()).expect("a photo");
    assert_eq!(photo["message"]["caption"], "my picture", "the text typed before the upload is the caption");
    let file = &photo["message"]["photo"][0];
    assert_eq!((file["width"].as_u64(), file["height"].as_u64()), (Some(3), Some(2)));
    assert_eq!(*stored_photo.lock().unwrap(), PHOTO, "the uploaded bytes are stored unchanged");
    let vote = received.iter().find_map(|u| u.get("poll_answer")).expect("a poll answer");
    assert_eq!(vote["option_ids"], json!([1]));
    assert_eq!(vote["user"]["id"], user);
    let at = received.iter().find_map(|u| u["message"].get("location")).expect("a location");
    assert_eq!((at["latitude"].as_f64(), at["longitude"].as_f64()), (Some(48.8584), Some(2.2945)));
}
