//! A bot's draft tried and published on a running `serve` (decision 0056), through the REST
//! API: the draft runs in the built-in sandbox as a throwaway bot of its own (the supervisor's
//! `fleet/drafts.rs`) and answers as the draft, while the published bot goes on answering as
//! before; restarting the conversation makes a new sandbox user; publishing makes a new version
//! and reloads the running bot on it, without a restart. Every wait polls with a deadline.

#![cfg(unix)]

mod binary;

use binary::fleet::{Serve, bot, issue, url};
use binary::telegram::{ask, is};
use reqwest::Method;
use serde_json::{Value, json};

/// A request with a JSON body and `If-Match`: (status, body).
async fn send(serve: &Serve, method: Method, path: &str, token: &str, body: Value, tag: Option<&str>) -> (u16, Value) {
    let mut request = serve.http.request(method, format!("{}{path}", serve.server)).bearer_auth(token).json(&body);
    if let Some(tag) = tag {
        request = request.header("if-match", tag);
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_tried_apart_from_the_published_bot_then_published_and_reloaded() {
    let folder = binary::fleet::folder("drafts");
    let url = url(&folder);
    std::fs::write(folder.0.join("bots/echo.yaml"), bot("echo", "published")).unwrap();
    let editor = issue(&url, "ops", "editor");
    let serve = Serve::start(&folder, "serve.log");
    serve.status_until(&editor, "echo", is("running")).await;
    let log = folder.0.join("serve.log").display().to_string();

    let draft = bot("echo", "drafted");
    let (code, body) =
        send(&serve, Method::PUT, "/api/v1/bots/echo/draft", &editor, json!({"source": draft}), Some("\"d0\"")).await;
    assert_eq!(code, 200, "{body}");
    let (code, tried) = send(&serve, Method::POST, "/api/v1/bots/echo/draft/try", &editor, json!({}), None).await;
    assert_eq!(code, 200, "{tried}\n{}", serve.log());
    let (draft_bot, user) = (tried["bot_id"].as_i64().unwrap(), tried["user_id"].as_i64().unwrap());
    let published_bot = ferrogram_core::sandbox_bot_id("echo") as i64;
    assert_ne!(draft_bot, published_bot, "the draft is a bot of its own");
    let chat_url = tried["chat_url"].as_str().unwrap();
    assert_eq!(chat_url, format!("{}/?bot={draft_bot}&user={user}&chat={user}", serve.sandbox));
    assert_eq!(ask(&serve.http, &serve.sandbox, draft_bot, user, &log).await, "drafted");
    // The published bot answers as published, to the same person.
    assert_eq!(ask(&serve.http, &serve.sandbox, published_bot, user, &log).await, "published");

    // Trying an edited draft reloads the draft's bot; a restart is a new user.
    let edited = bot("echo", "edited");
    send(&serve, Method::PUT, "/api/v1/bots/echo/draft", &editor, json!({"source": edited}), Some("\"d1\"")).await;
    let (code, again) =
        send(&serve, Method::POST, "/api/v1/bots/echo/draft/try", &editor, json!({"restart": true}), None).await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["bot_id"].as_i64(), Some(draft_bot));
    let other = again["user_id"].as_i64().unwrap();
    assert_ne!(other, user, "a new conversation");
    assert_eq!(ask(&serve.http, &serve.sandbox, draft_bot, other, &log).await, "edited");

    // Publishing: version 2, and the running bot reloaded on it without a restart.
    let (code, published) =
        send(&serve, Method::POST, "/api/v1/bots/echo/draft/publish", &editor, json!({}), Some("\"d2\"")).await;
    assert_eq!(code, 201, "{published}");
    assert_eq!((published["version"].as_i64(), &published["status"]["status"]), (Some(2), &json!("running")));
    assert_eq!(ask(&serve.http, &serve.sandbox, published_bot, user, &log).await, "edited");
    let (_, status) = serve.status(&editor, "echo").await;
    assert_eq!(status["version"], 2, "{status}");
}
