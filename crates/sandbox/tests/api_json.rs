//! Walks api.json: every object the sandbox returns, and every update it queues, must have the
//! documented field names, types and required fields. The scenario calls every method the
//! sandbox supports; a method added to the dispatcher but not to this walk fails the test.

use ferrogram_sandbox::spec::Spec;
use ferrogram_sandbox::{Config, Sandbox};
use serde_json::{Value, json};
use std::collections::BTreeSet;

struct Walk {
    http: reqwest::Client,
    url: String,
    token: String,
    called: BTreeSet<String>,
    errors: Vec<String>,
}

impl Walk {
    /// Calls a Bot API method, checks the answer against the method's `returns`, returns it.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        let response =
            self.http.post(format!("{}/bot{}/{method}", self.url, self.token)).json(&params).send().await.unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["ok"], true, "{method} {params} failed: {body}");
        self.check_answer(method, body)
    }

    /// Calls a method with a multipart form, checking the answer like `call`.
    async fn call_form(&mut self, method: &str, form: reqwest::multipart::Form) -> Value {
        let response =
            self.http.post(format!("{}/bot{}/{method}", self.url, self.token)).multipart(form).send().await.unwrap();
        self.check_answer(method, response.json().await.unwrap())
    }

    /// Uploads one file to a media method.
    async fn upload(
        &mut self,
        method: &str,
        chat_id: i64,
        field: &str,
        name: &str,
        bytes: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> Value {
        let mut form = reqwest::multipart::Form::new()
            .text("chat_id", chat_id.to_string())
            .part(field.to_string(), reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
        for (key, value) in extra {
            form = form.text(key.to_string(), value.to_string());
        }
        self.call_form(method, form).await
    }

    fn check_answer(&mut self, method: &str, body: Value) -> Value {
        assert_eq!(body["ok"], true, "{method} failed: {body}");
        let spec = Spec::get();
        let errors = spec.check_any(&body["result"], &spec.method(method).unwrap().returns);
        self.errors.extend(errors.into_iter().map(|e| format!("{method}: {e}")));
        self.called.insert(method.to_string());
        body["result"].clone()
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(format!("{}/sandbox/{path}", self.url)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap()
    }

    /// Every Bot API method the sandbox answers with anything but "not supported".
    async fn supported_methods(&self) -> BTreeSet<String> {
        let mut supported = BTreeSet::new();
        for name in Spec::get().methods.keys() {
            let body: Value = self
                .http
                .post(format!("{}/bot{}/{name}", self.url, "999:probe"))
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let unsupported = body["description"].as_str().is_some_and(|d| d.contains("not supported by the sandbox"));
            if !unsupported {
                supported.insert(name.clone());
            }
        }
        supported
    }
}

#[tokio::test]
async fn every_answer_and_update_matches_api_json() {
    let sandbox = Sandbox::start(Config {
        limits: ferrogram_sandbox::flood_limits::Limits { enabled: false, ..Default::default() },
        ..Config::default()
    })
    .await
    .unwrap();
    let mut walk = Walk {
        http: reqwest::Client::new(),
        url: sandbox.url(),
        token: "4242:walker".into(),
        called: BTreeSet::new(),
        errors: Vec::new(),
    };

    let me = walk.call("getMe", json!({})).await;
    let bot_id = me["id"].as_i64().unwrap();
    let ann =
        walk.control("users", json!({"first_name": "Ann", "username": "ann_walker", "language_code": "en"})).await;
    let bob = walk.control("users", json!({"first_name": "Bob", "last_name": "Stone"})).await;
    let (ann_id, bob_id) = (ann["id"].as_i64().unwrap(), bob["id"].as_i64().unwrap());
    let group = walk
        .control(
            "groups",
            json!({"title": "Walkers", "type": "supergroup", "members": [ann_id, bob_id], "bots": [bot_id]}),
        )
        .await;
    let group_id = group["id"].as_i64().unwrap();

    // The user side produces every kind of update the sandbox knows.
    walk.control("act/command", json!({"bot_id": bot_id, "user_id": ann_id, "command": "start", "payload": "ref42"}))
        .await;
    walk.control("act/text", json!({"bot_id": bot_id, "user_id": ann_id, "text": "see https://example.com #tag"}))
        .await;
    walk.control("act/photo", json!({"bot_id": bot_id, "user_id": ann_id, "caption": "a photo"})).await;
    walk.control(
        "act/document",
        json!({"bot_id": bot_id, "user_id": ann_id, "file_name": "a.txt", "data_base64": "aGVsbG8="}),
    )
    .await;
    walk.control("act/location", json!({"bot_id": bot_id, "user_id": ann_id, "latitude": 55.75, "longitude": 37.61}))
        .await;
    walk.control(
        "act/contact",
        json!({"bot_id": bot_id, "user_id": ann_id, "phone_number": "+100", "first_name": "Ann"}),
    )
    .await;
    walk.control("act/text", json!({"bot_id": bot_id, "user_id": bob_id, "chat_id": group_id, "text": "hello group"}))
        .await;
    walk.control("act/inline_query", json!({"bot_id": bot_id, "user_id": ann_id, "query": "cats"})).await;
    walk.control(
        "act/chosen_inline_result",
        json!({"bot_id": bot_id, "user_id": ann_id, "result_id": "r1", "query": "cats"}),
    )
    .await;

    // Messages of every kind, into the private chat and the group.
    let text = walk.call("sendMessage", json!({"chat_id": ann_id, "text": "<b>Menu</b> 😀", "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "Pick", "callback_data": "pick"}, {"text": "Site", "url": "https://example.com"}]]}})).await;
    let message_id = text["message_id"].as_i64().unwrap();
    walk.call("sendMessage", json!({"chat_id": group_id, "text": "keyboard", "reply_markup": {"keyboard": [["A", "B"]], "resize_keyboard": true}})).await;
    walk.call(
        "sendMessage",
        json!({"chat_id": ann_id, "text": "reply", "reply_parameters": {"message_id": message_id}}),
    )
    .await;
    walk.call(
        "editMessageText",
        json!({"chat_id": ann_id, "message_id": message_id, "text": "Menu, edited",
        "reply_markup": {"inline_keyboard": [[{"text": "Pick", "callback_data": "pick"}]]}}),
    )
    .await;
    walk.call(
        "editMessageReplyMarkup",
        json!({"chat_id": ann_id, "message_id": message_id,
        "reply_markup": {"inline_keyboard": [[{"text": "Again", "callback_data": "pick"}]]}}),
    )
    .await;
    let press = walk
        .control("act/callback", json!({"bot_id": bot_id, "user_id": ann_id, "message_id": message_id, "data": "pick"}))
        .await;
    walk.call("answerCallbackQuery", json!({"callback_query_id": press["callback_query"]["id"], "text": "picked"}))
        .await;

    // Files: uploads of every media kind, then by file_id, an album, getFile.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x02\0\0\0\x03\x08\x06\0\0\0rest".to_vec();
    let photo = walk.upload("sendPhoto", ann_id, "photo", "p.png", png.clone(), &[("caption", "first")]).await;
    let photo_id = photo["photo"][0]["file_id"].as_str().unwrap().to_string();
    walk.call("sendPhoto", json!({"chat_id": ann_id, "photo": photo_id})).await;
    walk.call(
        "editMessageCaption",
        json!({"chat_id": ann_id, "message_id": photo["message_id"], "caption": "<i>new</i>", "parse_mode": "HTML"}),
    )
    .await;
    walk.upload("sendDocument", ann_id, "document", "notes.txt", b"notes".to_vec(), &[]).await;
    walk.upload("sendAudio", ann_id, "audio", "a.mp3", b"ID3".to_vec(), &[("duration", "3"), ("title", "Song")]).await;
    walk.upload("sendVideo", ann_id, "video", "v.mp4", b"mp4".to_vec(), &[("width", "640"), ("height", "360")]).await;
    walk.upload("sendVoice", ann_id, "voice", "v.ogg", b"ogg".to_vec(), &[("duration", "1")]).await;
    walk.upload("sendAnimation", ann_id, "animation", "a.gif", b"GIF89a\x01\x00\x01\x00".to_vec(), &[]).await;
    walk.upload("sendVideoNote", ann_id, "video_note", "n.mp4", b"mp4".to_vec(), &[]).await;
    walk.upload("sendSticker", ann_id, "sticker", "s.webp", b"RIFF".to_vec(), &[("emoji", "😀")]).await;
    let media =
        json!([{"type": "photo", "media": photo_id, "caption": "one"}, {"type": "photo", "media": "attach://second"}]);
    let form = reqwest::multipart::Form::new()
        .text("chat_id", ann_id.to_string())
        .text("media", media.to_string())
        .part("second", reqwest::multipart::Part::bytes(png).file_name("second.png"));
    walk.call_form("sendMediaGroup", form).await;
    let file = walk.call("getFile", json!({"file_id": photo_id})).await;
    assert!(file["file_path"].as_str().is_some_and(|p| p.starts_with("photos/")), "{file}");

    // Other content.
    walk.call("sendLocation", json!({"chat_id": ann_id, "latitude": 59.93, "longitude": 30.33})).await;
    walk.call(
        "sendVenue",
        json!({"chat_id": ann_id, "latitude": 59.93, "longitude": 30.33, "title": "Hermitage", "address": "Palace Sq"}),
    )
    .await;
    walk.call("sendContact", json!({"chat_id": ann_id, "phone_number": "+7000", "first_name": "Desk"})).await;
    walk.call("sendDice", json!({"chat_id": ann_id, "emoji": "🎯"})).await;
    walk.call("sendChatAction", json!({"chat_id": ann_id, "action": "typing"})).await;
    let poll = walk.call("sendPoll", json!({"chat_id": group_id, "question": "Best season?", "options": [{"text": "Winter"}, "Summer"], "is_anonymous": false})).await;
    walk.call(
        "sendPoll",
        json!({"chat_id": ann_id, "question": "2+2?", "options": ["3", "4"], "type": "quiz", "correct_option_id": 1}),
    )
    .await;
    walk.control("act/poll_answer", json!({"bot_id": bot_id, "user_id": bob_id, "chat_id": group_id, "poll_id": poll["poll"]["id"], "option_ids": [0]})).await;
    walk.call("stopPoll", json!({"chat_id": group_id, "message_id": poll["message_id"]})).await;
    walk.call("forwardMessage", json!({"chat_id": group_id, "from_chat_id": ann_id, "message_id": message_id})).await;
    walk.call("copyMessage", json!({"chat_id": group_id, "from_chat_id": ann_id, "message_id": photo["message_id"]}))
        .await;

    // Chats, members, pins and commands.
    walk.call("getChat", json!({"chat_id": ann_id})).await;
    walk.call("pinChatMessage", json!({"chat_id": group_id, "message_id": poll["message_id"]})).await;
    walk.call("getChat", json!({"chat_id": group_id})).await;
    walk.call("unpinChatMessage", json!({"chat_id": group_id})).await;
    walk.call("unpinAllChatMessages", json!({"chat_id": group_id})).await;
    walk.call("getChatMember", json!({"chat_id": group_id, "user_id": ann_id})).await;
    walk.call("getChatMember", json!({"chat_id": group_id, "user_id": bot_id})).await;
    walk.call("getChatMemberCount", json!({"chat_id": group_id})).await;
    walk.call("getChatAdministrators", json!({"chat_id": group_id})).await;
    walk.call(
        "setMyCommands",
        json!({"commands": [{"command": "start", "description": "Start"}], "language_code": "en"}),
    )
    .await;
    let commands = walk.call("getMyCommands", json!({"language_code": "en"})).await;
    assert_eq!(commands[0]["command"], "start");
    walk.call("deleteMyCommands", json!({"language_code": "en"})).await;

    // Inline answers, deletions, webhooks, leaving.
    let inline = walk.control("act/inline_query", json!({"bot_id": bot_id, "user_id": bob_id, "query": "dogs"})).await;
    walk.call("answerInlineQuery", json!({"inline_query_id": inline["inline_query"]["id"],
        "results": [{"type": "article", "id": "1", "title": "Dogs", "input_message_content": {"message_text": "dogs"}}]})).await;
    let doomed = walk.call("sendMessage", json!({"chat_id": ann_id, "text": "bye"})).await;
    walk.call("deleteMessage", json!({"chat_id": ann_id, "message_id": doomed["message_id"]})).await;
    walk.call("deleteMessages", json!({"chat_id": ann_id, "message_ids": [message_id]})).await;
    walk.call("getWebhookInfo", json!({})).await;
    walk.call("setWebhook", json!({"url": "http://127.0.0.1:9/never", "secret_token": "s3cret"})).await;
    walk.call("getWebhookInfo", json!({})).await;
    walk.call("deleteWebhook", json!({})).await;
    walk.call("leaveChat", json!({"chat_id": group_id})).await;
    walk.call("logOut", json!({})).await;
    walk.call("close", json!({})).await;

    let updates = walk.call("getUpdates", json!({"allowed_updates": []})).await;
    let kinds: BTreeSet<String> = updates
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u.as_object().unwrap().keys().filter(|k| *k != "update_id").cloned())
        .collect();
    for expected in
        ["message", "callback_query", "inline_query", "chosen_inline_result", "poll", "poll_answer", "my_chat_member"]
    {
        assert!(kinds.contains(expected), "no {expected} update in {kinds:?}");
    }

    assert!(walk.errors.is_empty(), "answers that differ from api.json:\n{}", walk.errors.join("\n"));
    let supported = walk.supported_methods().await;
    let missed: Vec<_> = supported.difference(&walk.called).collect();
    assert!(missed.is_empty(), "supported methods this walk does not check: {missed:?}");
    sandbox.stop().await.unwrap();
}
