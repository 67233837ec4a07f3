//! Webhook delivery: each bot with a webhook gets a task that posts its updates, at most
//! `max_connections` at once, in order within each chat, retrying failures with backoff.
//! An update leaves the queue only when the bot answered 2xx.

use crate::App;
use crate::params::Params;
use crate::world::objects::now;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Starts the bot's deliverer unless one runs.
pub fn ensure_deliverer(app: &Arc<App>, bot_id: i64) {
    let start = app
        .world
        .with(|s| s.bots.get_mut(&bot_id).is_some_and(|bot| !std::mem::replace(&mut bot.runtime.delivering, true)));
    if start {
        tokio::spawn(deliver(Arc::downgrade(app), bot_id));
    }
}

/// The chat an update belongs to, to keep each chat's updates in order.
fn chat_of(update: &Value) -> Option<i64> {
    let body = update.as_object()?.iter().find(|(k, _)| *k != "update_id")?.1;
    body["chat"]["id"]
        .as_i64()
        .or_else(|| body["message"]["chat"]["id"].as_i64())
        .or_else(|| body["from"]["id"].as_i64())
        .or_else(|| body["user"]["id"].as_i64())
}

struct Outcome {
    update_id: i64,
    result: Result<Option<Value>, String>,
}

struct Retry {
    at: Instant,
    attempts: u32,
}

/// Holds the app while it works, never while it waits: once the sandbox stops (its last `Arc`
/// is dropped), the wake channel closes or the next upgrade fails, and delivery ends.
async fn deliver(weak: Weak<App>, bot_id: i64) {
    let subscribe = |app: Arc<App>| app.world.with(|s| s.bots.get(&bot_id).map(|b| b.runtime.wake.subscribe()));
    let Some(mut wake) = weak.upgrade().and_then(subscribe) else { return };
    let mut in_flight: JoinSet<Outcome> = JoinSet::new();
    let mut in_flight_chats: HashMap<i64, Option<i64>> = HashMap::new();
    let mut retries: HashMap<i64, Retry> = HashMap::new();
    loop {
        let Some(app) = weak.upgrade() else { return };
        wake.borrow_and_update();
        let now_instant = Instant::now();
        let picked = app.world.with(|s| {
            let bot = s.bots.get_mut(&bot_id)?;
            let Some(webhook) = bot.webhook.clone() else {
                bot.runtime.delivering = false;
                return None;
            };
            let mut blocked: HashSet<i64> = in_flight_chats.values().flatten().copied().collect();
            let mut picks = Vec::new();
            for update in &bot.updates {
                if in_flight_chats.len() + picks.len() >= webhook.max_connections as usize {
                    break;
                }
                let id = update["update_id"].as_i64().unwrap_or_default();
                let chat = chat_of(update);
                if in_flight_chats.contains_key(&id) || chat.is_some_and(|c| blocked.contains(&c)) {
                    continue;
                }
                if let Some(c) = chat {
                    blocked.insert(c);
                }
                if retries.get(&id).is_some_and(|r| r.at > now_instant) {
                    continue;
                }
                picks.push((id, chat, update.clone()));
            }
            Some((webhook, bot.token.clone(), picks))
        });
        let Some((webhook, token, picks)) = picked else {
            return;
        };
        for (update_id, chat, update) in picks {
            in_flight_chats.insert(update_id, chat);
            let (http, url, secret, timeout) =
                (app.http.clone(), webhook.url.clone(), webhook.secret_token.clone(), app.config.webhook_timeout);
            in_flight.spawn(async move {
                Outcome { update_id, result: post(&http, &url, secret.as_deref(), timeout, &update).await }
            });
        }
        let next_retry = retries.values().map(|r| r.at).filter(|at| *at > now_instant).min();
        drop(app);
        tokio::select! {
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                let Ok(outcome) = done else { continue };
                in_flight_chats.remove(&outcome.update_id);
                let Some(app) = weak.upgrade() else { return };
                settle(&app, bot_id, &token, outcome, &mut retries).await;
            }
            changed = wake.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep_until(next_retry.unwrap_or(now_instant)), if next_retry.is_some() => {}
        }
    }
}

/// Records a delivery's outcome: a delivered update leaves the queue (and a method in the
/// answer runs, as Telegram allows); a failed one is retried later.
async fn settle(app: &Arc<App>, bot_id: i64, token: &str, outcome: Outcome, retries: &mut HashMap<i64, Retry>) {
    match outcome.result {
        Ok(answer) => {
            retries.remove(&outcome.update_id);
            app.world.with(|s| {
                if let Some(bot) = s.bots.get_mut(&bot_id) {
                    bot.updates.retain(|u| u["update_id"].as_i64() != Some(outcome.update_id));
                }
            });
            if let Some(Value::Object(mut call)) = answer
                && let Some(Value::String(method)) = call.remove("method")
                && runs_from_answer(&method)
            {
                let spec = crate::spec::Spec::get().method(&method);
                let mut params = Params::default();
                let converted = call.into_iter().try_for_each(|(k, v)| params.insert(spec, k, v));
                let result = match converted {
                    Ok(()) => Box::pin(crate::bot_api::call(app, token, &method, params)).await.map(|_| ()),
                    Err(e) => Err(e),
                };
                if let Err(error) = result {
                    tracing::info!(bot_id, %method, %error, "method in a webhook answer failed");
                }
            }
        }
        Err(message) => {
            let retry = retries.entry(outcome.update_id).or_insert(Retry { at: Instant::now(), attempts: 0 });
            let delay = app.config.webhook_retry_base.saturating_mul(1 << retry.attempts.min(16)).min(MAX_RETRY_DELAY);
            retry.attempts += 1;
            retry.at = Instant::now() + delay;
            app.world.with(|s| {
                if let Some(webhook) = s.bots.get_mut(&bot_id).and_then(|b| b.webhook.as_mut()) {
                    webhook.last_error_date = Some(now());
                    webhook.last_error_message = Some(message);
                }
            });
        }
    }
}

/// Telegram ignores webhook and `get…` methods in a webhook's answer (WebhookActor::handle).
fn runs_from_answer(method: &str) -> bool {
    let method = method.to_ascii_lowercase();
    !method.starts_with("get") && !["setwebhook", "deletewebhook", "close", "logout"].contains(&method.as_str())
}

/// Posts one update; the answer body is kept when it is a JSON object.
async fn post(
    http: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    timeout: Duration,
    update: &Value,
) -> Result<Option<Value>, String> {
    let mut request = http.post(url).json(update).timeout(timeout);
    if let Some(secret) = secret {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            "Read timeout expired".to_string()
        } else if e.is_connect() {
            "Connection refused".to_string()
        } else {
            format!("Failed to send the request: {e}")
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("Wrong response from the webhook: {status}"));
    }
    Ok(response.json::<Value>().await.ok().filter(Value::is_object))
}
