//! getUpdates (a true long poll) and webhook registration.

use crate::App;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::webhook_push;
use crate::world::{Bot, State, Webhook};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const MAX_POLL_TIMEOUT: i64 = 50;

fn webhook_active() -> ApiError {
    ApiError::conflict(
        "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    )
}

/// Forgets the updates an `offset` confirms: those below it, or all but the last `-offset`.
/// Starts a poll: takes `allowed_updates` and the confirmation, and ends an older poll still
/// waiting (it answers 409). Answers the poll's generation and its wake-up, and whether
/// anything that is saved changed.
fn start_poll(
    bot: &mut Bot,
    allowed: Option<Vec<String>>,
    offset: Option<i64>,
) -> (ApiResult<(u64, tokio::sync::watch::Receiver<u64>)>, bool) {
    if bot.webhook.is_some() {
        return (Err(webhook_active()), false);
    }
    let (pending, before) = (bot.updates.len(), bot.allowed_updates.clone());
    if let Some(allowed) = allowed {
        bot.allowed_updates = Some(allowed);
    }
    if let Some(offset) = offset {
        confirm(bot, offset);
    }
    let changed = bot.updates.len() != pending || bot.allowed_updates != before;
    bot.runtime.poll_generation += 1;
    let wake = bot.runtime.wake.subscribe();
    bot.runtime.wake();
    (Ok((bot.runtime.poll_generation, wake)), changed)
}

fn confirm(bot: &mut Bot, offset: i64) {
    if offset < 0 {
        let keep = offset.unsigned_abs() as usize;
        let drop = bot.updates.len().saturating_sub(keep);
        bot.updates.drain(..drop);
    } else {
        while bot.updates.front().and_then(|u| u["update_id"].as_i64()).is_some_and(|id| id < offset) {
            bot.updates.pop_front();
        }
    }
}

fn allowed_updates(p: &Params) -> ApiResult<Option<Vec<String>>> {
    match p.value("allowed_updates") {
        None => Ok(None),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .map(|k| k.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("expected an Array of String")),
        Some(_) => Err(ApiError::bad_request("expected an Array of String")),
    }
}

pub async fn get_updates(app: &Arc<App>, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let offset = p.i64("offset");
    let limit = p.i64("limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = p.i64("timeout").unwrap_or(0).clamp(0, MAX_POLL_TIMEOUT) as u64;
    let allowed = allowed_updates(p)?;
    let deadline = Instant::now() + Duration::from_secs(timeout);
    // Only a confirmation or new allowed_updates change what is saved; a poll itself does not.
    let (generation, mut wake) = app.world.with_changes(|s| match s.bot_mut(bot_id) {
        Ok(bot) => start_poll(bot, allowed, offset),
        Err(error) => (Err(error), false),
    })?;
    // A token revoked while the poll waits (`POST /sandbox/bots/{id}/revoke`) ends it with 401.
    let token = app.world.read(|s| s.bot(bot_id).map(|bot| bot.token.clone()).ok());
    loop {
        let batch = app.world.with_changes(|s| {
            let read = s.bot_mut(bot_id).and_then(|bot| {
                if token.as_ref().is_some_and(|token| *token != bot.token) {
                    return Err(ApiError::unauthorized());
                }
                if bot.runtime.poll_generation != generation {
                    return Err(ApiError::conflict(
                        "terminated by other getUpdates request; make sure that only one bot instance is running",
                    ));
                }
                if bot.webhook.is_some() {
                    return Err(ApiError::conflict("terminated by setWebhook request"));
                }
                Ok(bot.updates.iter().take(limit).cloned().collect::<Vec<_>>())
            });
            (read, false)
        })?;
        if !batch.is_empty() || Instant::now() >= deadline {
            return Ok(Value::Array(batch));
        }
        tokio::select! {
            changed = wake.changed() => if changed.is_err() { return Ok(json!([])) },
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

fn check_secret(secret: &str) -> ApiResult<()> {
    if secret.len() > 256 {
        return Err(ApiError::bad_request("secret token is too long"));
    }
    if !secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(ApiError::bad_request("secret token contains unallowed characters"));
    }
    Ok(())
}

pub fn set_webhook(app: &Arc<App>, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let url = p.str("url").unwrap_or_default();
    if url.is_empty() {
        return delete_webhook(app, bot_id, p);
    }
    let valid = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !valid {
        return Err(ApiError::bad_request("invalid webhook URL specified"));
    }
    let secret_token = p.str("secret_token").filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(secret) = &secret_token {
        check_secret(secret)?;
    }
    // The official server clamps it rather than refusing it.
    let max_connections = p.i64("max_connections").unwrap_or(40).clamp(1, 100);
    let allowed = allowed_updates(p)?;
    app.world.with(|s| {
        let bot = s.bot_mut(bot_id)?;
        if p.bool("drop_pending_updates") {
            bot.updates.clear();
        }
        if let Some(allowed) = allowed {
            bot.allowed_updates = Some(allowed);
        }
        bot.webhook = Some(Webhook {
            url: url.to_string(),
            secret_token,
            max_connections: max_connections as u32,
            ip_address: p.str("ip_address").map(str::to_string),
            last_error_date: None,
            last_error_message: None,
        });
        bot.runtime.wake();
        Ok::<_, ApiError>(())
    })?;
    webhook_push::ensure_deliverer(app, bot_id);
    Ok(Value::Bool(true))
}

pub fn delete_webhook(app: &Arc<App>, bot_id: i64, p: &Params) -> ApiResult<Value> {
    app.world.with(|s| {
        let bot = s.bot_mut(bot_id)?;
        bot.webhook = None;
        if p.bool("drop_pending_updates") {
            bot.updates.clear();
        }
        bot.runtime.wake();
        Ok(Value::Bool(true))
    })
}

pub fn webhook_info(s: &mut State, bot_id: i64) -> ApiResult<Value> {
    let bot = s.bot(bot_id)?;
    let mut info = json!({"url": "", "has_custom_certificate": false, "pending_update_count": bot.updates.len()});
    if let Some(webhook) = &bot.webhook {
        info["url"] = json!(webhook.url);
        info["max_connections"] = json!(webhook.max_connections);
        if let Some(ip) = &webhook.ip_address {
            info["ip_address"] = json!(ip);
        }
        if let (Some(date), Some(message)) = (webhook.last_error_date, &webhook.last_error_message) {
            info["last_error_date"] = json!(date);
            info["last_error_message"] = json!(message);
        }
        if let Some(allowed) = &bot.allowed_updates {
            info["allowed_updates"] = json!(allowed);
        }
    }
    Ok(info)
}
