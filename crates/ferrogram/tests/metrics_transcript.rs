//! A transcript against the metrics: the `ai-assistant` example played by the engine's
//! transcript player (an in-process sandbox reached over HTTP, the stand-in model answering its
//! `llm` steps), with the Prometheus recorder `serve` installs, then `/metrics` scraped over HTTP
//! from the server's listener and every count checked against what the transcript did: updates
//! received and handled, one per user action; the Bot API calls by method against the
//! sandbox's own record of what the bot did; the model's requests against the transcript's
//! answers, and its tokens against the bot's own usage variable.
//!
//! The recorder is global, once per process: this file (its own process) holds one test.

#[path = "../../engine/tests/common/mod.rs"]
mod common;
// The scrape reader of the server crate's metrics test, shared.
#[path = "../../server/tests/scrape/mod.rs"]
mod scrape;
#[path = "../../engine/tests/transcript/mod.rs"]
mod transcript;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use ferrogram_engine::Scope;
use scrape::{Samples, sum, value};
use serde_json::Value;
use tokio::time::Instant;

/// The Bot API method whose success the sandbox records as this event, or `None` for an event
/// a user caused.
fn method_of(event: &Value) -> Option<&'static str> {
    let message = &event["message"];
    Some(match event["kind"].as_str()? {
        "sent" if message.get("photo").is_some() => "sendPhoto",
        "sent" if message.get("dice").is_some() => "sendDice",
        "sent" if message.get("poll").is_some() => "sendPoll",
        "sent" => "sendMessage",
        "edited" => "editMessageText",
        "deleted" => "deleteMessage",
        "chat_action" => "sendChatAction",
        "callback_answered" => "answerCallbackQuery",
        "inline_answered" => "answerInlineQuery",
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcripts_updates_calls_requests_and_tokens_are_counted() {
    let handle = ferrogram_server::metrics::install().expect("the first recorder of the process");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let transcript_path = examples.join("ai-assistant.transcript.md");
    let played = transcript::play(&examples.join("ai-assistant.yaml"), &transcript_path).await;
    assert!(played.failures.is_empty(), "the transcript differs:\n{}", played.failures.join("\n"));
    let (world, bot) = (&played.world, played.bot);
    assert!(played.updates >= 10, "the transcript has its rows: {}", played.updates);

    let routes = ferrogram_server::Routes { metrics: Some(handle), ..Default::default() };
    let listening = ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), world.engine.clone(), routes)
        .await
        .expect("the listener binds");
    let url = format!("http://{}/metrics", listening.addr());
    let id = bot.id.to_string();
    let b = id.as_str();
    let updates = played.updates as f64;
    // The histograms' samples reach their buckets at the recorder's upkeep or the next render.
    let deadline = Instant::now() + Duration::from_secs(20);
    let samples: Samples = loop {
        let response = world.http.get(&url).send().await.expect("the listener answers");
        assert_eq!(response.status(), 200);
        let samples = scrape::parse(&response.text().await.expect("text"));
        if value(&samples, "ferrogram_handler_duration_seconds_count", &[("bot", b)]) >= updates {
            break samples;
        }
        assert!(Instant::now() < deadline, "the handler durations were not all counted: {samples:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Every user action of the transcript was received once and handled once, without failing.
    assert_eq!(value(&samples, "ferrogram_updates_received_total", &[("bot", b)]), updates);
    assert_eq!(value(&samples, "ferrogram_updates_handled_total", &[("bot", b), ("outcome", "ok")]), updates);
    assert_eq!(sum(&samples, "ferrogram_updates_handled_total", &[("bot", b)]), updates);
    assert_eq!(value(&samples, "ferrogram_handler_duration_seconds_count", &[("bot", b)]), updates);
    assert_eq!(value(&samples, "ferrogram_inbox_pending", &[("bot", b)]), 0.0);

    // The Bot API calls by method: each success the sandbox recorded, counted once, and no
    // request failed.
    let events = world.get(&format!("/sandbox/events?bot_id={}&after=0", bot.id)).await;
    let mut done: BTreeMap<&str, f64> = BTreeMap::new();
    for event in events["events"].as_array().expect("events") {
        if let Some(method) = method_of(event) {
            *done.entry(method).or_default() += 1.0;
        }
    }
    assert!(done.get("sendMessage").is_some_and(|n| *n >= 10.0), "{done:?}");
    assert!(done.get("editMessageText").is_some_and(|n| *n >= 5.0), "the answers' edits: {done:?}");
    for (method, count) in &done {
        let ok = value(&samples, "ferrogram_bot_api_calls_total", &[("bot", b), ("method", method), ("outcome", "ok")]);
        assert_eq!(ok, *count, "{method}");
    }
    let calls = sum(&samples, "ferrogram_bot_api_calls_total", &[("bot", b)]);
    let ok_calls = sum(&samples, "ferrogram_bot_api_calls_total", &[("bot", b), ("outcome", "ok")]);
    assert_eq!(calls, ok_calls, "no call failed: {samples:?}");
    let ok = |method: &str| {
        value(&samples, "ferrogram_bot_api_calls_total", &[("bot", b), ("method", method), ("outcome", "ok")])
    };
    // Outside the flood scheduler: the command menu at start (straight through the client, so a
    // bot asleep publishes it too), polling's webhook clearing and its polls.
    assert_eq!(ok("setMyCommands"), 2.0, "the menu in the default language, and without a language");
    assert_eq!(ok("deleteWebhook"), 1.0);
    assert!(ok("getUpdates") >= 1.0);
    let outside_scheduler = ok("getUpdates") + ok("deleteWebhook") + ok("setMyCommands");
    let recorded: f64 = done.values().sum();
    assert_eq!(ok_calls - outside_scheduler, recorded, "nothing else was called: {samples:?}");
    // Every other call went through the flood scheduler and waited there once.
    let waited = sum(&samples, "ferrogram_flood_queue_wait_seconds_count", &[("bot", b)]);
    assert_eq!(waited, ok_calls - outside_scheduler);
    assert_eq!(sum(&samples, "ferrogram_bot_api_retries_total", &[("bot", b)]), 0.0);

    // The model: one request per answered question (each shown as the placeholder ✍️ first),
    // all to the fixtures' host, labelled by its name alone.
    let text = std::fs::read_to_string(&transcript_path).expect("transcript");
    let questions = text
        .lines()
        .filter(|line| line.starts_with('|'))
        .filter(|line| line.split('|').nth(2).is_some_and(|answer| answer.trim().starts_with("✍️")))
        .count() as f64;
    assert_eq!(questions, 5.0, "the transcript's questions");
    let host = played.fixtures.url.trim_start_matches("http://").split(':').next().expect("a host");
    let requests = [("bot", b), ("host", host), ("outcome", "ok")];
    assert_eq!(value(&samples, "ferrogram_http_requests_total", &requests), questions);
    assert_eq!(sum(&samples, "ferrogram_http_requests_total", &[("bot", b)]), questions, "no other request");
    // Its tokens, as the bot counted them against its daily budget (Bob asked them all).
    let vars = played.store.load_vars(bot.id, Scope::Bot).await.expect("bot variables");
    let usage = match &vars["ai_usage"] {
        Value::String(text) => serde_json::from_str::<Value>(text).expect("the usage is JSON"),
        usage => usage.clone(),
    };
    let used = usage["tokens"].as_f64().expect("tokens counted");
    let prompt = value(&samples, "ferrogram_llm_tokens_total", &[("bot", b), ("kind", "prompt")]);
    let completion = value(&samples, "ferrogram_llm_tokens_total", &[("bot", b), ("kind", "completion")]);
    assert!(prompt > 0.0 && completion > 0.0, "{prompt} {completion}");
    assert_eq!(prompt + completion, used);

    played.world.engine.stop(bot.handle).await.expect("bot stops");
    listening.stop();
}
