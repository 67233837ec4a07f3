//! The bot side on bad input and at its limits: entities that overflow, files by URL past their
//! size, albums, query expiry, captions where there is no media, polls that close, Telegram's
//! error texts, oversized forms and files of the wrong type. Each failure must answer
//! Telegram's error and change nothing.

mod common;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use common::{BOT, Env, PNG, TOKEN, allowing, no_limits};
use ferrogram_sandbox::Config;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A user who has started a private chat with the default bot (its update confirmed).
async fn started_user(env: &Env, name: &str) -> i64 {
    let user = env.user(name).await;
    env.act("command", user, json!({ "command": "start" })).await;
    env.drain(TOKEN).await;
    user
}

async fn upload(env: &Env, method: &str, field: &str, chat_id: i64, part: Part) -> Value {
    let form = Form::new().text("chat_id", chat_id.to_string()).part(field.to_string(), part);
    env.send(env.http.post(env.bot_url(TOKEN, method)).multipart(form)).await.ok()
}

fn png_part() -> Part {
    Part::bytes(PNG.to_vec()).file_name("p.png").mime_str("image/png").unwrap()
}

/// The file_id of a photo the bot uploaded to `chat_id`.
async fn photo_id(env: &Env, chat_id: i64) -> String {
    let sent = upload(env, "sendPhoto", "photo", chat_id, png_part()).await;
    sent["photo"][0]["file_id"].as_str().unwrap().to_string()
}

async fn document_id(env: &Env, chat_id: i64) -> String {
    let part = Part::bytes(b"some notes".to_vec()).file_name("notes.txt");
    let sent = upload(env, "sendDocument", "document", chat_id, part).await;
    sent["document"]["file_id"].as_str().unwrap().to_string()
}

fn message_count(env: &Env) -> usize {
    env.sandbox.world().with(|s| s.bots[&BOT].private.values().map(|log| log.messages.len()).sum())
}

fn file_count(env: &Env) -> usize {
    env.sandbox.world().with(|s| s.files.len())
}

// ---------------------------------------------------------------------------------------------
// Entities

#[tokio::test]
async fn explicit_entities_count_utf16_units_and_overflowing_ones_are_refused() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    // "😀" is two UTF-16 units: "bold" starts at 3 and the text is 7 units long.
    let bold = json!([{ "type": "bold", "offset": 3, "length": 4 }]);
    let sent = env.bot("sendMessage", json!({ "chat_id": ann, "text": "😀 bold", "entities": bold })).await;
    assert_eq!(sent["entities"], bold);
    let whole = json!([{ "type": "italic", "offset": 0, "length": 7 }]);
    let sent = env.bot("sendMessage", json!({ "chat_id": ann, "text": "😀 bold", "entities": whole })).await;
    assert_eq!(sent["entities"], whole);

    let before = message_count(&env);
    let out_of_bounds = "Bad Request: can't parse MessageEntity: entity is out of text bounds";
    for (offset, length) in [(3, 5), (i64::MAX, 1), (1, i64::MAX), (i64::MAX, i64::MAX)] {
        let entities = json!([{ "type": "bold", "offset": offset, "length": length }]);
        let err = env.bot_fail("sendMessage", json!({ "chat_id": ann, "text": "😀 bold", "entities": entities })).await;
        assert_eq!(err, (400, out_of_bounds.into()), "{offset}+{length}");
        let form = [("chat_id", ann.to_string()), ("text", "😀 bold".to_string()), ("entities", entities.to_string())];
        let err = env.send(env.http.post(env.bot_url(TOKEN, "sendMessage")).form(&form)).await.err();
        assert_eq!(err, (400, out_of_bounds.into()), "{offset}+{length} in a form");
    }
    let photo = photo_id(&env, ann).await;
    let entities = json!([{ "type": "bold", "offset": i64::MAX, "length": 1 }]);
    let caption = json!({ "chat_id": ann, "photo": photo, "caption": "cap", "caption_entities": entities });
    assert_eq!(env.bot_fail("sendPhoto", caption).await, (400, out_of_bounds.into()));
    assert_eq!(message_count(&env), before + 1, "only the photo upload was sent");
}

// ---------------------------------------------------------------------------------------------
// Files by URL

/// A web server for URL uploads: `/bytes/<n>/<name>` streams `n` bytes (no Content-Length, in
/// 64 KB chunks of one static buffer), `/png/<name>` a small PNG, `/to/<host>/<port>/<name>`
/// redirects to `http://<host>:<port>/png/<name>`. It counts the requests.
async fn file_server() -> (String, Arc<AtomicUsize>) {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let requests = Arc::new(AtomicUsize::new(0));
    let all = requests.clone();
    let stream_bytes = move |axum::extract::Path((size, _name)): axum::extract::Path<(usize, String)>| async move {
        let chunks = (0..size.div_ceil(ZEROS.len())).map(move |i| {
            let len = (size - i * ZEROS.len()).min(ZEROS.len());
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(&ZEROS[..len]))
        });
        Body::from_stream(futures_util::stream::iter(chunks))
    };
    let router = Router::new()
        .route("/bytes/{size}/{name}", get(stream_bytes))
        .route("/png/{name}", get(|| async { ([("content-type", "image/png")], PNG) }))
        .route(
            "/to/{host}/{port}/{name}",
            get(|axum::extract::Path((host, port, name)): axum::extract::Path<(String, u16, String)>| async move {
                axum::response::Redirect::to(&format!("http://{host}:{port}/png/{name}"))
            }),
        )
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            let all = all.clone();
            async move {
                all.fetch_add(1, Ordering::SeqCst);
                next.run(request).await
            }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.expect("the file server runs") });
    (base, requests)
}

#[tokio::test]
async fn files_by_url_are_capped_at_5_mb_for_photos_and_20_mb_otherwise() {
    let (base, requests) = file_server().await;
    let env = Env::with(allowing(&base)).await;
    let ann = started_user(&env, "Ann").await;
    let failed = (400, "Bad Request: failed to get HTTP URL content".to_string());
    let (files, messages) = (file_count(&env), message_count(&env));

    let photo = json!({ "chat_id": ann, "photo": format!("{base}/bytes/{}/big.jpg", (5 << 20) + 1) });
    assert_eq!(env.bot_fail("sendPhoto", photo).await, failed);
    let document = json!({ "chat_id": ann, "document": format!("{base}/bytes/{}/big.bin", (20 << 20) + 1) });
    assert_eq!(env.bot_fail("sendDocument", document).await, failed);
    let album = json!({ "chat_id": ann, "media": [
        { "type": "photo", "media": format!("{base}/png/a.png") },
        { "type": "photo", "media": format!("{base}/bytes/{}/b.jpg", (5 << 20) + 1) },
    ]});
    assert_eq!(env.bot_fail("sendMediaGroup", album).await, failed);
    assert_eq!((file_count(&env), message_count(&env)), (files, messages), "a failed call keeps nothing");

    let document = json!({ "chat_id": ann, "document": format!("{base}/bytes/{}/exact.bin", 20 << 20) });
    let sent = env.bot("sendDocument", document).await;
    assert_eq!(sent["document"]["file_size"], 20 << 20, "20 MB is still taken for a document");
    let photo = json!({ "chat_id": ann, "photo": format!("{base}/png/small.png") });
    assert_eq!(env.bot("sendPhoto", photo).await["photo"][0]["width"], 3);

    let before = requests.load(Ordering::SeqCst);
    let nowhere = json!({ "chat_id": 424242, "document": format!("{base}/bytes/10/x.bin") });
    assert_eq!(env.bot_fail("sendDocument", nowhere).await, (400, "Bad Request: chat not found".into()));
    let stranger = env.user("Stranger").await;
    let blocked = json!({ "chat_id": stranger, "document": format!("{base}/bytes/10/x.bin") });
    assert_eq!(env.bot_fail("sendDocument", blocked).await.0, 403);
    assert_eq!(requests.load(Ordering::SeqCst), before, "nothing is downloaded for a chat the bot can't write to");
}

#[tokio::test]
async fn files_by_url_from_private_addresses_are_refused_unless_allowed() {
    let (base, requests) = file_server().await;
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let failed = (400, "Bad Request: failed to get HTTP URL content".to_string());
    let photo = |ann: i64, url: String| json!({ "chat_id": ann, "photo": url });

    // By default no loopback address is fetched, however written or reached.
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let (files, messages) = (file_count(&env), message_count(&env));
    for url in [
        format!("http://127.0.0.1:{port}/png/a.png"),
        format!("http://[::1]:{port}/png/a.png"),
        format!("http://0x7f.1:{port}/png/a.png"),
        format!("http://[::ffff:127.0.0.1]:{port}/png/a.png"),
        format!("http://localhost:{port}/png/a.png"),
    ] {
        assert_eq!(env.bot_fail("sendPhoto", photo(ann, url.clone())).await, failed, "{url}");
    }
    let album = json!({ "chat_id": ann, "media": [
        { "type": "photo", "media": format!("http://127.0.0.1:{port}/png/a.png") },
        { "type": "photo", "media": format!("http://127.0.0.1:{port}/png/b.png") },
    ]});
    assert_eq!(env.bot_fail("sendMediaGroup", album).await, failed);
    assert_eq!(requests.load(Ordering::SeqCst), 0, "the sandbox fetched a loopback address");
    assert_eq!((file_count(&env), message_count(&env)), (files, messages), "a refused call keeps nothing");

    // Allowed by host and port: fetched; a redirect elsewhere is checked again.
    let env = Env::with(allowing(&base)).await;
    let ann = started_user(&env, "Ann").await;
    assert_eq!(env.bot("sendPhoto", photo(ann, format!("{base}/png/a.png"))).await["photo"][0]["width"], 3);
    assert_eq!(
        env.bot("sendPhoto", photo(ann, format!("{base}/to/127.0.0.1/{port}/b.png"))).await["photo"][0]["width"],
        3
    );
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    for away in [format!("{base}/to/localhost/{port}/c.png"), format!("{base}/to/127.0.0.1/{}/c.png", port ^ 1)] {
        assert_eq!(env.bot_fail("sendPhoto", photo(ann, away.clone())).await, failed, "{away}");
    }
    assert_eq!(requests.load(Ordering::SeqCst), 5, "the redirects were not followed");
    assert_eq!(env.bot_fail("sendPhoto", photo(ann, format!("http://localhost:{port}/png/d.png"))).await, failed);
    assert_eq!(requests.load(Ordering::SeqCst), 5, "localhost is another host than 127.0.0.1");
}

#[tokio::test]
async fn an_allow_list_with_a_wildcard_or_a_range_stops_the_start() {
    for (host, port) in [("*", 80), ("0.0.0.0/0", 80), ("0.0.0.0", 8080)] {
        let config = Config { allow_private: vec![(host.into(), port)], ..no_limits() };
        let error = ferrogram_sandbox::Sandbox::start(config).await.err().expect("refused");
        assert!(
            error.to_string().starts_with(&format!("invalid configuration: allow-list entry {host}:{port}: ")),
            "{error}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Albums

#[tokio::test]
async fn albums_hold_2_to_10_items_of_kinds_that_mix() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let photo = photo_id(&env, ann).await;
    let document = document_id(&env, ann).await;
    let item = |kind: &str, media: &str| json!({ "type": kind, "media": media });
    let album = |items: Vec<Value>| json!({ "chat_id": ann, "media": items });
    let (files, messages) = (file_count(&env), message_count(&env));

    let cases = [
        (vec![item("photo", &photo)], "wrong number of media specified: must be from 2 to 10"),
        (vec![item("photo", &photo); 11], "too many messages to send as an album"),
        (vec![], "there are no messages to send"),
        (vec![item("photo", &photo), item("document", &document)], "document can't be mixed with other media types"),
        (vec![item("audio", &document), item("photo", &photo)], "audio can't be mixed with other media types"),
        (
            vec![item("photo", &photo), item("animation", &document)],
            "can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup",
        ),
        (vec![item("photo", &photo), item("sticker", &photo)], "can't parse InputMedia: unsupported media type"),
        (vec![item("photo", &photo), json!({ "type": "photo" })], "can't parse InputMedia: media not found"),
        (vec![item("photo", &photo), item("photo", "")], "can't parse InputMedia: media not found"),
        (vec![item("photo", &photo), item("photo", &document)], "can't use file of type Document as Photo"),
    ];
    for (items, error) in cases {
        let err = env.bot_fail("sendMediaGroup", album(items.clone())).await;
        assert_eq!(err, (400, format!("Bad Request: {error}")), "{items:?}");
    }
    let long = json!({ "type": "photo", "media": photo, "caption": "x".repeat(1025) });
    let err = env.bot_fail("sendMediaGroup", album(vec![item("photo", &photo), long])).await;
    assert_eq!(err, (400, "Bad Request: message caption is too long".into()));
    let err = env.bot_fail("sendMediaGroup", json!({ "chat_id": ann })).await;
    assert_eq!(err, (400, "Bad Request: parameter \"media\" is required".into()));
    assert_eq!((file_count(&env), message_count(&env)), (files, messages), "a refused album keeps nothing");

    let longest = json!({ "type": "photo", "media": photo, "caption": "я".repeat(1024) });
    let sent = env.bot("sendMediaGroup", album(vec![item("photo", &photo), longest])).await;
    assert_eq!(sent[1]["caption"].as_str().unwrap().chars().count(), 1024);
    let documents = album(vec![item("document", &document), item("document", &document)]);
    assert_eq!(env.bot("sendMediaGroup", documents).await.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn albums_reply_like_other_sends() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let photo = photo_id(&env, ann).await;
    let question = env.say(ann, "show me").await;
    let items = json!([{ "type": "photo", "media": photo }, { "type": "photo", "media": photo }]);

    let reply = json!({ "chat_id": ann, "media": items, "reply_parameters": { "message_id": question["message_id"] } });
    let sent = env.bot("sendMediaGroup", reply).await;
    for message in sent.as_array().unwrap() {
        assert_eq!(message["reply_to_message"]["message_id"], question["message_id"]);
        assert_eq!(message["reply_to_message"]["text"], "show me");
    }
    let old_style = json!({ "chat_id": ann, "media": items, "reply_to_message_id": question["message_id"] });
    let sent = env.bot("sendMediaGroup", old_style).await;
    assert_eq!(sent[0]["reply_to_message"]["message_id"], question["message_id"]);

    let messages = message_count(&env);
    let missing = json!({ "chat_id": ann, "media": items, "reply_parameters": { "message_id": 9999 } });
    let err = env.bot_fail("sendMediaGroup", missing).await;
    assert_eq!(err, (400, "Bad Request: message to be replied not found".into()));
    assert_eq!(message_count(&env), messages);
    let lenient = json!({ "chat_id": ann, "media": items,
        "reply_parameters": { "message_id": 9999, "allow_sending_without_reply": true } });
    let sent = env.bot("sendMediaGroup", lenient).await;
    assert!(sent[0].get("reply_to_message").is_none());
    let err = env.bot_fail("sendMediaGroup", json!({ "chat_id": ann, "media": items, "reply_parameters": 5 })).await;
    assert_eq!(err, (400, "Bad Request: object expected as reply parameters".into()));
}

// ---------------------------------------------------------------------------------------------
// Query expiry

const TOO_OLD: &str = "Bad Request: query is too old and response timeout expired or query ID is invalid";

#[tokio::test]
async fn expired_queries_cannot_be_answered_and_are_forgotten() {
    let env = Env::with(Config { query_expiry: Duration::ZERO, ..no_limits() }).await;
    let ann = started_user(&env, "Ann").await;
    let keyboard = json!({ "inline_keyboard": [[{ "text": "Go", "callback_data": "go" }]] });
    let menu = env.bot("sendMessage", json!({ "chat_id": ann, "text": "menu", "reply_markup": keyboard })).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let pressed = env.act("callback", ann, json!({ "message_id": menu["message_id"], "data": "go" })).await;
        ids.push(pressed["callback_query"]["id"].as_str().unwrap().to_string());
    }
    let err = env.bot_fail("answerCallbackQuery", json!({ "callback_query_id": ids[2], "text": "late" })).await;
    assert_eq!(err, (400, TOO_OLD.into()));
    assert_eq!(env.get(&format!("/callbacks/{}", ids[2])).await["answered"], false, "a late answer changes nothing");
    let kept: Vec<String> = env.sandbox.world().with(|s| s.callbacks.keys().cloned().collect());
    assert_eq!(kept, [ids[2].clone()], "older expired queries are forgotten when a new one comes");

    let mut inline = Vec::new();
    for query in ["a", "b"] {
        let asked = env.act("inline_query", ann, json!({ "query": query })).await;
        inline.push(asked["inline_query"]["id"].as_str().unwrap().to_string());
    }
    let err = env.bot_fail("answerInlineQuery", json!({ "inline_query_id": inline[1], "results": [] })).await;
    assert_eq!(err, (400, TOO_OLD.into()));
    let kept: Vec<String> = env.sandbox.world().with(|s| s.inline_queries.keys().cloned().collect());
    assert_eq!(kept, [inline[1].clone()]);
    assert!(env.sandbox.world().with(|s| s.callbacks.is_empty()), "a new query prunes both kinds");
}

#[tokio::test]
async fn queries_are_answered_within_the_expiry() {
    let env = Env::with(Config { query_expiry: Duration::from_secs(3600), ..no_limits() }).await;
    let ann = started_user(&env, "Ann").await;
    let keyboard = json!({ "inline_keyboard": [[{ "text": "Go", "callback_data": "go" }]] });
    let menu = env.bot("sendMessage", json!({ "chat_id": ann, "text": "menu", "reply_markup": keyboard })).await;
    let pressed = env.act("callback", ann, json!({ "message_id": menu["message_id"], "data": "go" })).await;
    let again = env.act("callback", ann, json!({ "message_id": menu["message_id"], "data": "go" })).await;
    assert_eq!(env.sandbox.world().with(|s| s.callbacks.len()), 2, "live queries are kept");
    let id = &pressed["callback_query"]["id"];
    assert_eq!(env.bot("answerCallbackQuery", json!({ "callback_query_id": id })).await, true);
    assert_eq!(
        env.bot("answerCallbackQuery", json!({ "callback_query_id": again["callback_query"]["id"] })).await,
        true
    );
}

// ---------------------------------------------------------------------------------------------
// Captions

#[tokio::test]
async fn only_media_messages_have_a_caption_to_edit() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let sends = [
        ("sendDice", json!({})),
        ("sendPoll", json!({ "question": "?", "options": ["a", "b"] })),
        ("sendLocation", json!({ "latitude": 1.5, "longitude": 2.5 })),
        ("sendContact", json!({ "phone_number": "+100", "first_name": "Bob" })),
        ("sendMessage", json!({ "text": "plain" })),
    ];
    for (method, mut params) in sends {
        params["chat_id"] = json!(ann);
        let sent = env.bot(method, params).await;
        let edit = json!({ "chat_id": ann, "message_id": sent["message_id"], "caption": "new" });
        let err = env.bot_fail("editMessageCaption", edit).await;
        assert_eq!(err, (400, "Bad Request: there is no caption in the message to edit".into()), "{method}");
        let stored = env.history(ann).await.into_iter().find(|m| m["message"]["message_id"] == sent["message_id"]);
        assert!(stored.unwrap()["message"].get("caption").is_none(), "{method}: unchanged");
    }
    let document = upload(&env, "sendDocument", "document", ann, Part::bytes(b"x".to_vec()).file_name("x.txt")).await;
    let edit = json!({ "chat_id": ann, "message_id": document["message_id"], "caption": "now captioned" });
    assert_eq!(env.bot("editMessageCaption", edit).await["caption"], "now captioned");
}

#[tokio::test]
async fn a_copy_takes_a_new_caption_only_for_media() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let text = env.bot("sendMessage", json!({ "chat_id": ann, "text": "just text" })).await;
    let copy = |message_id: &Value| json!({ "chat_id": ann, "from_chat_id": ann, "message_id": message_id, "caption": "<b>new</b>", "parse_mode": "HTML" });
    let copied = env.bot("copyMessage", copy(&text["message_id"])).await;
    let history = env.history(ann).await;
    let stored = &history.iter().find(|m| m["message"]["message_id"] == copied["message_id"]).unwrap()["message"];
    assert_eq!(stored["text"], "just text");
    assert!(stored.get("caption").is_none() && stored.get("caption_entities").is_none(), "{stored}");

    let photo = upload(&env, "sendPhoto", "photo", ann, png_part()).await;
    let copied = env.bot("copyMessage", copy(&photo["message_id"])).await;
    let history = env.history(ann).await;
    let stored = &history.iter().find(|m| m["message"]["message_id"] == copied["message_id"]).unwrap()["message"];
    assert_eq!(stored["caption"], "new");
    assert_eq!(stored["caption_entities"], json!([{ "type": "bold", "offset": 0, "length": 3 }]));
}

// ---------------------------------------------------------------------------------------------
// Polls

fn poll_updates(updates: &[Value]) -> Vec<Value> {
    updates.iter().filter_map(|u| u.get("poll")).cloned().collect()
}

#[tokio::test]
async fn a_stopped_poll_reaches_the_bot_as_a_poll_update() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let sent = env.bot("sendPoll", json!({ "chat_id": ann, "question": "?", "options": ["a", "b"] })).await;
    env.bot("stopPoll", json!({ "chat_id": ann, "message_id": sent["message_id"] })).await;
    let polls = poll_updates(&env.updates(json!({})).await);
    assert_eq!(polls.len(), 1, "{polls:?}");
    assert_eq!((&polls[0]["id"], &polls[0]["is_closed"]), (&sent["poll"]["id"], &json!(true)));
}

#[tokio::test]
async fn a_poll_closes_once_its_close_date_has_passed() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let options = json!(["a", "b"]);
    let sent =
        env.bot("sendPoll", json!({ "chat_id": ann, "question": "?", "options": options, "open_period": 600 })).await;
    let poll = &sent["poll"];
    let poll_id = poll["id"].as_str().unwrap().to_string();
    let close_date = poll["close_date"].as_i64().expect("an open period gives a close date");
    let period = close_date - sent["date"].as_i64().unwrap();
    assert!((599..=600).contains(&period), "closes 600 s after it was made: {poll}");
    assert_eq!(poll["open_period"], 600);
    env.act("poll_answer", ann, json!({ "poll_id": poll_id, "option_ids": [0] })).await;
    assert!(poll_updates(&env.updates(json!({})).await).iter().all(|p| p["is_closed"] == false));
    env.drain(TOKEN).await;

    // Ten minutes pass: the poll's deadline is now behind it (twice over: it closes once).
    let past = close_date - 700;
    env.sandbox.world().with(|s| {
        s.polls.get_mut(&poll_id).unwrap().poll["close_date"] = json!(past);
        s.poll_deadlines.insert((past, poll_id.clone()));
        s.poll_deadlines.insert((past - 1, poll_id.clone()));
    });
    let (status, _) = env
        .post_fail("/act/poll_answer", json!({ "bot_id": BOT, "user_id": ann, "poll_id": poll_id, "option_ids": [1] }))
        .await;
    assert_eq!(status, 400, "a closed poll takes no votes");
    let polls = poll_updates(&env.updates(json!({})).await);
    assert_eq!(polls.len(), 1, "one update for the closing: {polls:?}");
    assert_eq!((&polls[0]["is_closed"], &polls[0]["total_voter_count"]), (&json!(true), &json!(1)));
    let history = env.history(ann).await;
    let stored = history.iter().find(|m| m["message"]["message_id"] == sent["message_id"]).unwrap();
    assert_eq!(stored["message"]["poll"]["is_closed"], true, "the message shows the closed poll");
    let err = env.bot_fail("stopPoll", json!({ "chat_id": ann, "message_id": sent["message_id"] })).await;
    assert_eq!(err, (400, "Bad Request: poll has already been closed".into()));

    // A poll with a later deadline stays open.
    let later = env
        .bot("sendPoll", json!({ "chat_id": ann, "question": "?", "options": options, "close_date": close_date }))
        .await;
    assert_eq!(later["poll"]["close_date"], close_date);
    assert_eq!(env.get(&format!("/polls/{}", later["poll"]["id"].as_str().unwrap())).await["poll"]["is_closed"], false);
}

// ---------------------------------------------------------------------------------------------
// Error texts

#[tokio::test]
async fn malformed_lists_get_telegrams_texts() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let err = env.bot_fail("deleteMessages", json!({ "chat_id": ann, "message_ids": 5 })).await;
    assert_eq!(err, (400, "Bad Request: expected an Array of message identifiers".into()));
    let err = env.bot_fail("deleteMessages", json!({ "chat_id": ann, "message_ids": { "id": 5 } })).await;
    assert_eq!(err, (400, "Bad Request: expected an Array of message identifiers".into()));
    let err = env.bot_fail("deleteMessages", json!({ "chat_id": ann })).await;
    assert_eq!(err, (400, "Bad Request: message identifiers are not specified".into()));

    for options in [json!(["a", ""]), json!(["  ", "b"]), json!([{ "text": "" }, { "text": "b" }])] {
        let err = env.bot_fail("sendPoll", json!({ "chat_id": ann, "question": "?", "options": options })).await;
        assert_eq!(err, (400, "Bad Request: poll options must be non-empty".into()), "{options}");
    }
    let long = json!(["a", "b".repeat(101)]);
    let err = env.bot_fail("sendPoll", json!({ "chat_id": ann, "question": "?", "options": long })).await;
    assert_eq!(err, (400, "Bad Request: poll options length must not exceed 100".into()));
}

#[tokio::test]
async fn an_oversized_multipart_form_is_413_like_any_body() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let big = Part::bytes(vec![0u8; (52 << 20) + (64 << 10)]).file_name("big.bin");
    let form = Form::new().text("chat_id", ann.to_string()).part("document", big);
    let err = env.send(env.http.post(env.bot_url(TOKEN, "sendDocument")).multipart(form)).await.err();
    assert_eq!(err, (413, "Request Entity Too Large".into()));
    let json = json!({ "chat_id": ann, "text": "x".repeat((52 << 20) + 1) });
    let err = env.send(env.http.post(env.bot_url(TOKEN, "sendMessage")).json(&json)).await.err();
    assert_eq!(err, (413, "Request Entity Too Large".into()), "the same answer as for a JSON body");
}

// ---------------------------------------------------------------------------------------------
// Files of the wrong type, and keyboards without buttons

#[tokio::test]
async fn a_file_is_sent_only_as_its_class_of_file() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let photo = photo_id(&env, ann).await;
    let document = document_id(&env, ann).await;
    let err = env.bot_fail("sendPhoto", json!({ "chat_id": ann, "photo": document })).await;
    assert_eq!(err, (400, "Bad Request: can't use file of type Document as Photo".into()));
    let err = env.bot_fail("sendDocument", json!({ "chat_id": ann, "document": photo })).await;
    assert_eq!(err, (400, "Bad Request: can't use file of type Photo as Document".into()));
    let video = upload(&env, "sendVideo", "video", ann, Part::bytes(b"mp4".to_vec()).file_name("v.mp4")).await;
    let err = env.bot_fail("sendPhoto", json!({ "chat_id": ann, "photo": video["video"]["file_id"] })).await;
    assert_eq!(err, (400, "Bad Request: can't use file of type Video as Photo".into()));
    let as_document = env.bot("sendDocument", json!({ "chat_id": ann, "document": video["video"]["file_id"] })).await;
    assert_eq!(as_document["document"]["file_id"], video["video"]["file_id"], "a video is a kind of document");
}

#[tokio::test]
async fn a_photo_must_be_an_image() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let (files, messages) = (file_count(&env), message_count(&env));
    let text = Part::bytes(b"not an image at all".to_vec()).file_name("fake.jpg").mime_str("image/jpeg").unwrap();
    let form = Form::new().text("chat_id", ann.to_string()).part("photo", text);
    let err = env.send(env.http.post(env.bot_url(TOKEN, "sendPhoto")).multipart(form)).await.err();
    assert_eq!(err, (400, "Bad Request: IMAGE_PROCESS_FAILED".into()));
    assert_eq!((file_count(&env), message_count(&env)), (files, messages));
    let webp = b"RIFF\x1a\0\0\0WEBPVP8 rest of it".to_vec();
    let sent = upload(&env, "sendPhoto", "photo", ann, Part::bytes(webp).file_name("p.webp")).await;
    assert!(sent["photo"][0]["file_id"].is_string(), "a WebP is an image");
}

#[tokio::test]
async fn an_inline_keyboard_without_buttons_is_no_keyboard() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    for empty in [json!({ "inline_keyboard": [] }), json!({ "inline_keyboard": [[], []] })] {
        let sent = env.bot("sendMessage", json!({ "chat_id": ann, "text": "hi", "reply_markup": empty })).await;
        assert!(sent.get("reply_markup").is_none(), "{sent}");
        let history = env.history(ann).await;
        let stored = history.iter().find(|m| m["message"]["message_id"] == sent["message_id"]).unwrap();
        assert!(stored["message"].get("reply_markup").is_none() && stored["keyboard"].is_null(), "{stored}");
    }
    let keyboard = json!({ "inline_keyboard": [[], [{ "text": "Go", "callback_data": "go" }]] });
    let sent = env.bot("sendMessage", json!({ "chat_id": ann, "text": "menu", "reply_markup": keyboard })).await;
    assert_eq!(sent["reply_markup"], json!({ "inline_keyboard": [[{ "text": "Go", "callback_data": "go" }]] }));
    let remove = json!({ "chat_id": ann, "message_id": sent["message_id"], "reply_markup": { "inline_keyboard": [] } });
    let edited = env.bot("editMessageReplyMarkup", remove).await;
    assert!(edited.get("reply_markup").is_none(), "an empty keyboard removes the old one");
}

#[tokio::test]
async fn web_apps_open_only_from_private_chats() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    let group = json!({ "title": "Team", "members": [ann], "bots": [BOT] });
    let chat = env.post("/groups", group).await["id"].as_i64().unwrap();
    let inline = json!({ "inline_keyboard": [[{ "text": "Shop", "web_app": { "url": "https://shop.example" } }]] });
    let key = json!({ "keyboard": [[{ "text": "Order", "web_app": { "url": "https://shop.example" } }]] });
    let invalid = (400, "Bad Request: BUTTON_TYPE_INVALID".to_string());
    let before = env.history(chat).await.len();
    for markup in [&inline, &key] {
        let send = json!({ "chat_id": chat, "text": "open", "reply_markup": markup });
        assert_eq!(env.bot_fail("sendMessage", send).await, invalid, "{markup}");
    }
    assert_eq!(env.history(chat).await.len(), before, "nothing was sent");

    let plain = json!({ "inline_keyboard": [[{ "text": "Go", "callback_data": "go" }]] });
    let sent = env.bot("sendMessage", json!({ "chat_id": chat, "text": "menu", "reply_markup": plain })).await;
    let edit = json!({ "chat_id": chat, "message_id": sent["message_id"], "reply_markup": inline });
    assert_eq!(env.bot_fail("editMessageReplyMarkup", edit).await, invalid);

    for markup in [&inline, &key] {
        env.bot("sendMessage", json!({ "chat_id": ann, "text": "open", "reply_markup": markup })).await;
    }
}

#[tokio::test]
async fn only_a_basic_groups_creation_reaches_its_bots() {
    let env = Env::start().await;
    let ann = started_user(&env, "Ann").await;
    for (kind, created) in [("group", true), ("supergroup", false)] {
        let chat = env.post("/groups", json!({ "title": kind, "type": kind, "members": [ann], "bots": [BOT] })).await;
        let updates = env.updates(json!({})).await;
        env.drain(TOKEN).await;
        assert!(updates.iter().any(|u| u["my_chat_member"]["chat"]["id"] == chat["id"]), "{kind}: the bot was added");
        let message = updates.iter().find_map(|u| u.get("message"));
        assert_eq!(message.is_some(), created, "{kind}: {updates:?}");
        if let Some(message) = message {
            assert_eq!((&message["group_chat_created"], &message["from"]["id"]), (&json!(true), &json!(ann)));
        }
    }
}
