//! Outgoing event webhooks (decision 0050): a workspace's subscriptions, the events they
//! receive, and the durable queue of deliveries with the log of each attempt.
//!
//! **Events come from the store's own writes.** Every audit entry ([`Store::audit`]) and every
//! change of a bot's status ([`Store::save_bot_status`]) is offered to the workspace's enabled
//! subscriptions ([`Conn::record_event`]), in the same transaction as the write when there is
//! one: an audited change and its deliveries commit together. An event no subscription takes is
//! not stored. The payload is fixed when the event is recorded:
//! `{"id", "type", "time", "workspace", "bot", "data"}`.
//!
//! **The queue survives restarts.** A delivery is a row, `pending` with its due time until it is
//! `delivered` or `failed` (final). A worker claims a due delivery by setting its lease
//! ([`Store::claim_webhook_deliveries`]), so two workers (two processes on one PostgreSQL) never
//! send it at once, and one that died mid-attempt leaves it to be claimed again when the lease
//! ends. Each attempt is logged ([`Store::finish_webhook_attempt`]).
//!
//! **Secrets.** A subscription's signing secret is sealed in `secrets` under the store's key as
//! the workspace's secret `webhook.ID` (so `ferrogram secrets rotate` re-seals it too); it is
//! returned only when made ([`Store::create_webhook`], [`Store::rotate_webhook_secret`]) and to
//! the delivery worker ([`Store::webhook_secret`]).
//!
//! Like the rest of the tenancy, every call a caller makes names its workspace and matches it
//! in the same statement: another workspace's subscription is one that does not exist.

use serde_json::{Value, json};

use crate::ops::Conn;
use crate::tenancy::random_secret;
use crate::{Result, Store, Transaction, now};

/// Runs `$body` with `$c` bound to the backend's connection (as in `ops`).
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

/// What every signing secret starts with.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// The event sent by a ping (to the one subscription pinged, whatever its filters).
pub const PING_EVENT: &str = "webhook.ping";

/// A subscription: where a workspace's events are POSTed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub workspace: i64,
    pub url: String,
    pub description: String,
    /// The event types it receives (`bot.publish`, or `bot.*` for a family); empty: all.
    pub events: Vec<String>,
    /// The bots (by name) whose events it receives; empty: every event, with a bot or not.
    pub bots: Vec<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a subscription is made of (its secret is the store's to make).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookSpec {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub bots: Vec<String>,
    pub enabled: bool,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx was answered.
    Delivered,
    /// Given up: a final answer, or the attempts ran out.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> DeliveryState {
        match text {
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => DeliveryState::Pending,
        }
    }
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// Unix seconds.
    pub at: i64,
    /// The HTTP status answered; `None` when there was no answer.
    pub status_code: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// One event's delivery to one subscription, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub webhook: i64,
    pub event: i64,
    pub event_type: String,
    pub bot: Option<String>,
    pub state: DeliveryState,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<i64>,
    /// The delivery this one sends again, if it is a redelivery.
    pub redelivery_of: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Oldest first.
    pub attempts: Vec<WebhookAttempt>,
    /// The event's body, exactly as sent.
    pub payload: String,
}

/// A delivery a worker claimed: what to send, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: i64,
    pub webhook: i64,
    pub workspace: i64,
    pub url: String,
    pub event: i64,
    pub event_type: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How an attempt ended, for [`Store::finish_webhook_attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub attempt: WebhookAttempt,
    /// `Pending` with `retry_at`, or a final state.
    pub state: DeliveryState,
    pub retry_at: Option<i64>,
}

/// The event type of a bot status (`running` → `bot.started`…); `None` for `starting`.
pub fn status_event(status: &str) -> Option<&'static str> {
    match status {
        "running" => Some("bot.started"),
        "stopped" => Some("bot.stopped"),
        "failing" => Some("bot.failing"),
        "unauthorized" => Some("bot.unauthorized"),
        _ => None,
    }
}

/// The bot an audit entry is about: the target of a `bot.…` action (the bot's name), the first
/// part of a `record.…`/`records.…` one's (`shop/orders/7`); `None` otherwise.
pub fn bot_of<'a>(action: &str, target: &'a str) -> Option<&'a str> {
    if action.starts_with("bot.") {
        Some(target)
    } else if action.starts_with("record.") || action.starts_with("records.") {
        target.split('/').next()
    } else {
        None
    }
}

/// Whether a subscription's event pattern takes `kind`: the same type, `*`, or `family.*` for
/// every type starting `family.`.
pub fn event_matches(pattern: &str, kind: &str) -> bool {
    pattern == "*"
        || pattern == kind
        || pattern.strip_suffix('*').is_some_and(|p| p.ends_with('.') && kind.starts_with(p))
}

/// The secret's name among the workspace's secrets.
fn secret_name(webhook: i64) -> String {
    format!("webhook.{webhook}")
}

fn list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

type WebhookRow = (i64, i64, String, String, String, String, bool, i64, i64);
type DeliveryRow = (i64, i64, i64, String, Option<String>, String, Option<i64>, Option<i64>, i64, i64, String);
type DueRow = (i64, i64, i64, String, i64, String, String, i64);

fn webhook((id, workspace, url, description, events, bots, enabled, created_at, updated_at): WebhookRow) -> Webhook {
    Webhook {
        id,
        workspace,
        url,
        description,
        events: list(&events),
        bots: list(&bots),
        enabled,
        created_at,
        updated_at,
    }
}

const WEBHOOK_COLUMNS: &str = "id, workspace_id, url, description, events, bots, enabled, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.event_id, e.type, e.bot, d.state, d.next_attempt_at, \
     d.redelivery_of, d.created_at, d.updated_at, e.payload";

impl Conn<'_> {
    /// Offers an event to the workspace's enabled subscriptions: stores it once and queues one
    /// delivery per subscription whose filters take it; returns the deliveries' ids.
    pub(crate) async fn record_event(
        mut self,
        workspace: i64,
        kind: &str,
        bot: Option<&str>,
        data: &Value,
    ) -> Result<Vec<i64>> {
        const SUBSCRIBED: &str =
            "SELECT id, events, bots FROM webhooks WHERE workspace_id = $1 AND enabled ORDER BY id";
        let subscribed: Vec<(i64, String, String)> =
            on!(self.reborrow(), c => sqlx::query_as(SUBSCRIBED).bind(workspace).fetch_all(c).await?);
        let takers: Vec<i64> = subscribed
            .into_iter()
            .filter(|(_, events, bots)| {
                let (events, bots) = (list(events), list(bots));
                (events.is_empty() || events.iter().any(|p| event_matches(p, kind)))
                    && (bots.is_empty() || bot.is_some_and(|b| bots.iter().any(|n| n == b)))
            })
            .map(|(id, _, _)| id)
            .collect();
        if takers.is_empty() {
            return Ok(Vec::new());
        }
        self.queue_event(workspace, kind, bot, data, &takers).await
    }

    /// Stores the event and queues a delivery of it to each of `webhooks` (of the workspace).
    async fn queue_event(
        mut self,
        workspace: i64,
        kind: &str,
        bot: Option<&str>,
        data: &Value,
        webhooks: &[i64],
    ) -> Result<Vec<i64>> {
        const EVENT: &str = "INSERT INTO webhook_events (workspace_id, type, bot, payload, at) VALUES ($1, $2, $3, '', $4) RETURNING id";
        const PAYLOAD: &str = "UPDATE webhook_events SET payload = $2 WHERE id = $1";
        const DELIVERY: &str = "INSERT INTO webhook_deliveries (webhook_id, event_id, state, attempts, \
             next_attempt_at, created_at, updated_at) SELECT w.id, $2, 'pending', 0, $3, $3, $3 FROM webhooks w \
             WHERE w.id = $1 AND w.workspace_id = $4 RETURNING id";
        let at = now();
        let event: i64 = on!(self.reborrow(), c => sqlx::query_scalar(EVENT)
            .bind(workspace).bind(kind).bind(bot).bind(at).fetch_one(c).await?);
        let payload = json!({"id": event, "type": kind, "time": at, "workspace": workspace, "bot": bot, "data": data});
        let payload = serde_json::to_string(&payload)?;
        on!(self.reborrow(), c => sqlx::query(PAYLOAD).bind(event).bind(&payload).execute(c).await?.rows_affected());
        let mut deliveries = Vec::with_capacity(webhooks.len());
        for &webhook in webhooks {
            let id: Option<i64> = on!(self.reborrow(), c => sqlx::query_scalar(DELIVERY)
                .bind(webhook).bind(event).bind(at).bind(workspace).fetch_optional(c).await?);
            deliveries.extend(id);
        }
        Ok(deliveries)
    }

    async fn insert_webhook(self, workspace: i64, spec: &WebhookSpec) -> Result<Option<i64>> {
        const SQL: &str = "INSERT INTO webhooks (workspace_id, url, description, events, bots, enabled, created_at, \
             updated_at) SELECT w.id, $2, $3, $4, $5, $6, $7, $7 FROM workspaces w WHERE w.id = $1 RETURNING id";
        let (events, bots) = (serde_json::to_string(&spec.events)?, serde_json::to_string(&spec.bots)?);
        Ok(on!(self, c => sqlx::query_scalar(SQL)
            .bind(workspace).bind(&spec.url).bind(&spec.description).bind(&events).bind(&bots)
            .bind(spec.enabled).bind(now())
            .fetch_optional(c).await?))
    }

    pub(crate) async fn webhook(self, workspace: i64, id: i64) -> Result<Option<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = $1 AND id = $2");
        let row: Option<WebhookRow> =
            on!(self, c => sqlx::query_as(&sql).bind(workspace).bind(id).fetch_optional(c).await?);
        Ok(row.map(webhook))
    }

    pub(crate) async fn webhooks(self, workspace: i64, after: Option<i64>, limit: u32) -> Result<Vec<Webhook>> {
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        let rows: Vec<WebhookRow> = on!(self, c => sqlx::query_as(&sql)
            .bind(workspace).bind(after.unwrap_or(0)).bind(i64::from(limit)).fetch_all(c).await?);
        Ok(rows.into_iter().map(webhook).collect())
    }

    pub(crate) async fn update_webhook(self, workspace: i64, id: i64, spec: &WebhookSpec) -> Result<bool> {
        const SQL: &str = "UPDATE webhooks SET url = $3, description = $4, events = $5, bots = $6, enabled = $7, \
             updated_at = $8 WHERE workspace_id = $1 AND id = $2";
        let (events, bots) = (serde_json::to_string(&spec.events)?, serde_json::to_string(&spec.bots)?);
        let changed = on!(self, c => sqlx::query(SQL)
            .bind(workspace).bind(id).bind(&spec.url).bind(&spec.description).bind(&events).bind(&bots)
            .bind(spec.enabled).bind(now())
            .execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    async fn delete_webhook_row(self, workspace: i64, id: i64) -> Result<bool> {
        const SQL: &str = "DELETE FROM webhooks WHERE workspace_id = $1 AND id = $2";
        let deleted = on!(self, c => sqlx::query(SQL).bind(workspace).bind(id).execute(c).await?.rows_affected());
        Ok(deleted == 1)
    }

    pub(crate) async fn ping_webhook(mut self, workspace: i64, id: i64) -> Result<Option<i64>> {
        if self.reborrow().webhook(workspace, id).await?.is_none() {
            return Ok(None);
        }
        let data = json!({"webhook": id});
        Ok(self.queue_event(workspace, PING_EVENT, None, &data, &[id]).await?.into_iter().next())
    }

    pub(crate) async fn webhook_deliveries(
        self,
        workspace: i64,
        webhook: i64,
        state: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
             JOIN webhooks w ON w.id = d.webhook_id WHERE w.workspace_id = $1 AND w.id = $2 \
             AND ($3 IS NULL OR d.state = $3) AND ($4 IS NULL OR d.id < $4) ORDER BY d.id DESC LIMIT $5"
        );
        let mut conn = self;
        let rows: Vec<DeliveryRow> = on!(conn.reborrow(), c => sqlx::query_as(&sql)
            .bind(workspace).bind(webhook).bind(state).bind(before).bind(i64::from(limit))
            .fetch_all(c).await?);
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(conn.reborrow().with_attempts(row).await?);
        }
        Ok(out)
    }

    pub(crate) async fn webhook_delivery(
        self,
        workspace: i64,
        webhook: i64,
        delivery: i64,
    ) -> Result<Option<WebhookDelivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
             JOIN webhooks w ON w.id = d.webhook_id WHERE w.workspace_id = $1 AND w.id = $2 AND d.id = $3"
        );
        let mut conn = self;
        let row: Option<DeliveryRow> = on!(conn.reborrow(), c => sqlx::query_as(&sql)
            .bind(workspace).bind(webhook).bind(delivery).fetch_optional(c).await?);
        match row {
            Some(row) => Ok(Some(conn.with_attempts(row).await?)),
            None => Ok(None),
        }
    }

    async fn with_attempts(self, row: DeliveryRow) -> Result<WebhookDelivery> {
        const SQL: &str =
            "SELECT at, status_code, duration_ms, error FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id";
        let (
            id,
            webhook,
            event,
            event_type,
            bot,
            state,
            next_attempt_at,
            redelivery_of,
            created_at,
            updated_at,
            payload,
        ) = row;
        let attempts: Vec<(i64, Option<i64>, i64, Option<String>)> =
            on!(self, c => sqlx::query_as(SQL).bind(id).fetch_all(c).await?);
        let attempts = attempts
            .into_iter()
            .map(|(at, status_code, duration_ms, error)| WebhookAttempt {
                at,
                status_code: status_code.and_then(|s| u16::try_from(s).ok()),
                duration_ms,
                error,
            })
            .collect();
        let state = DeliveryState::parse(&state);
        Ok(WebhookDelivery {
            id,
            webhook,
            event,
            event_type,
            bot,
            state,
            next_attempt_at: if state == DeliveryState::Pending { next_attempt_at } else { None },
            redelivery_of,
            created_at,
            updated_at,
            attempts,
            payload,
        })
    }

    pub(crate) async fn redeliver_webhook(self, workspace: i64, webhook: i64, delivery: i64) -> Result<Option<i64>> {
        const SQL: &str = "INSERT INTO webhook_deliveries (webhook_id, event_id, state, attempts, next_attempt_at, \
             redelivery_of, created_at, updated_at) SELECT d.webhook_id, d.event_id, 'pending', 0, $4, d.id, $4, $4 \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE w.workspace_id = $1 AND w.id = $2 AND d.id = $3 RETURNING id";
        Ok(on!(self, c => sqlx::query_scalar(SQL)
            .bind(workspace).bind(webhook).bind(delivery).bind(now()).fetch_optional(c).await?))
    }

    pub(crate) async fn claim_webhook_deliveries(mut self, lease_seconds: i64, limit: u32) -> Result<Vec<DueDelivery>> {
        const DUE: &str = "SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.state = 'pending' AND w.enabled AND d.next_attempt_at <= $1 \
             AND (d.lease_until IS NULL OR d.lease_until <= $1) ORDER BY d.next_attempt_at, d.id LIMIT $2";
        const CLAIM: &str = "UPDATE webhook_deliveries SET lease_until = $2 WHERE id = $1 AND state = 'pending' \
             AND (lease_until IS NULL OR lease_until <= $3)";
        const READ: &str = "SELECT d.id, d.webhook_id, w.workspace_id, w.url, d.event_id, e.type, e.payload, \
             d.attempts FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             JOIN webhook_events e ON e.id = d.event_id WHERE d.id = $1";
        let at = now();
        let due: Vec<i64> =
            on!(self.reborrow(), c => sqlx::query_scalar(DUE).bind(at).bind(i64::from(limit)).fetch_all(c).await?);
        let mut claimed = Vec::new();
        for id in due {
            let won = on!(self.reborrow(), c => sqlx::query(CLAIM)
                .bind(id).bind(at + lease_seconds).bind(at).execute(c).await?.rows_affected());
            if won != 1 {
                continue;
            }
            let row: Option<DueRow> = on!(self.reborrow(), c => sqlx::query_as(READ).bind(id).fetch_optional(c).await?);
            if let Some((id, webhook, workspace, url, event, event_type, payload, attempts)) = row {
                let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
                claimed.push(DueDelivery { id, webhook, workspace, url, event, event_type, payload, attempts });
            }
        }
        Ok(claimed)
    }

    pub(crate) async fn finish_webhook_attempt(mut self, delivery: i64, outcome: &AttemptOutcome) -> Result<()> {
        const ATTEMPT: &str = "INSERT INTO webhook_attempts (delivery_id, at, status_code, duration_ms, error) \
             SELECT id, $2, $3, $4, $5 FROM webhook_deliveries WHERE id = $1";
        const DELIVERY: &str = "UPDATE webhook_deliveries SET state = $2, attempts = attempts + 1, \
             next_attempt_at = $3, lease_until = NULL, updated_at = $4 WHERE id = $1";
        let attempt = &outcome.attempt;
        on!(self.reborrow(), c => sqlx::query(ATTEMPT)
            .bind(delivery).bind(attempt.at).bind(attempt.status_code.map(i64::from)).bind(attempt.duration_ms)
            .bind(&attempt.error)
            .execute(c).await?.rows_affected());
        on!(self, c => sqlx::query(DELIVERY)
            .bind(delivery).bind(outcome.state.as_str()).bind(outcome.retry_at).bind(now())
            .execute(c).await?.rows_affected());
        Ok(())
    }

    pub(crate) async fn next_webhook_due(self) -> Result<Option<i64>> {
        const SQL: &str = "SELECT MIN(COALESCE(d.lease_until, d.next_attempt_at)) FROM webhook_deliveries d \
             JOIN webhooks w ON w.id = d.webhook_id WHERE d.state = 'pending' AND w.enabled";
        Ok(on!(self, c => sqlx::query_scalar(SQL).fetch_one(c).await?))
    }
}

operations! {
    /// The workspace's subscription, if it is the workspace's.
    fn webhook(workspace: i64, id: i64) -> Option<Webhook>;
    /// The workspace's subscriptions by id, after `after`, at most `limit`.
    fn webhooks(workspace: i64, after: Option<i64>, limit: u32) -> Vec<Webhook>;
    /// Replaces what a subscription is made of (not its secret); `false` if it is not the
    /// workspace's.
    fn update_webhook(workspace: i64, id: i64, spec: &WebhookSpec) -> bool;
    /// Queues a `webhook.ping` event to this one subscription (whatever its filters, enabled or
    /// not: a disabled one's deliveries wait); the delivery's id, `None` if it is not the
    /// workspace's.
    fn ping_webhook(workspace: i64, id: i64) -> Option<i64>;
    /// Offers an event to the workspace's subscriptions (see the module); the deliveries queued.
    fn record_event(workspace: i64, kind: &str, bot: Option<&str>, data: &Value) -> Vec<i64>;
    /// The subscription's deliveries, newest first, with their attempts: only those in `state`
    /// when given, only those older than the delivery `before` when given.
    fn webhook_deliveries(workspace: i64, webhook: i64, state: Option<&str>, before: Option<i64>, limit: u32) -> Vec<WebhookDelivery>;
    /// One delivery of the workspace's subscription.
    fn webhook_delivery(workspace: i64, webhook: i64, delivery: i64) -> Option<WebhookDelivery>;
    /// Queues the delivery's event again to its subscription, as a new delivery (`redelivery_of`
    /// the old one), due now; its id, `None` if there is no such delivery of the workspace's.
    fn redeliver_webhook(workspace: i64, webhook: i64, delivery: i64) -> Option<i64>;
    /// Claims up to `limit` due deliveries of enabled subscriptions for `lease_seconds`: no
    /// other worker takes them until then, or until [`Store::finish_webhook_attempt`].
    fn claim_webhook_deliveries(lease_seconds: i64, limit: u32) -> Vec<DueDelivery>;
    /// Logs an attempt at a claimed delivery and moves it on (`outcome`), ending its lease.
    fn finish_webhook_attempt(delivery: i64, outcome: &AttemptOutcome) -> ();
    /// When the earliest pending delivery of an enabled subscription is due (or its lease
    /// ends), Unix seconds; `None` when none is pending.
    fn next_webhook_due() -> Option<i64>;
}

impl Store {
    /// Creates a subscription with a new signing secret (`whsec_` and 43 base64url characters,
    /// sealed like every secret): `(subscription, secret)`, the one time the secret is given
    /// but [`Store::webhook_secret`]. `None` if there is no such workspace; refused without a
    /// secret key.
    pub async fn create_webhook(&self, workspace: i64, spec: &WebhookSpec) -> Result<Option<(Webhook, String)>> {
        let mut tx = self.transaction().await?;
        let Some(id) = tx.conn().insert_webhook(workspace, spec).await? else { return Ok(None) };
        let secret = random_secret(WEBHOOK_SECRET_PREFIX)?;
        tx.put_secret(workspace, None, &secret_name(id), &secret).await?;
        let created = tx.conn().webhook(workspace, id).await?;
        tx.commit().await?;
        Ok(created.map(|hook| (hook, secret)))
    }

    /// A new signing secret for the subscription, replacing the old at once; `None` if it is not
    /// the workspace's.
    pub async fn rotate_webhook_secret(&self, workspace: i64, id: i64) -> Result<Option<String>> {
        let mut tx = self.transaction().await?;
        if tx.conn().webhook(workspace, id).await?.is_none() {
            return Ok(None);
        }
        let secret = random_secret(WEBHOOK_SECRET_PREFIX)?;
        tx.put_secret(workspace, None, &secret_name(id), &secret).await?;
        tx.conn().update_touch(workspace, id).await?;
        tx.commit().await?;
        Ok(Some(secret))
    }

    /// The subscription's signing secret, opened (for the delivery worker).
    pub async fn webhook_secret(&self, workspace: i64, id: i64) -> Result<Option<String>> {
        self.secret(workspace, None, &secret_name(id)).await
    }

    /// Forgets the deliveries that ended (`delivered` or `failed`) before `finished_before` (Unix
    /// seconds), with their attempts, and the events no delivery refers to any more: the log's
    /// retention (`webhooks.keep`). Pending deliveries are never touched, however old. Returns
    /// how many deliveries went.
    pub async fn prune_webhook_deliveries(&self, finished_before: i64) -> Result<u64> {
        const ATTEMPTS: &str = "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries \
             WHERE state IN ('delivered', 'failed') AND updated_at < $1)";
        const DELIVERIES: &str =
            "DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'failed') AND updated_at < $1";
        const EVENTS: &str = "DELETE FROM webhook_events WHERE at < $1 \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)";
        let mut tx = self.transaction().await?;
        let pruned = on!(tx.conn(), c => {
            sqlx::query(ATTEMPTS).bind(finished_before).execute(&mut *c).await?;
            let pruned = sqlx::query(DELIVERIES).bind(finished_before).execute(&mut *c).await?.rows_affected();
            sqlx::query(EVENTS).bind(finished_before).execute(&mut *c).await?;
            pruned
        });
        tx.commit().await?;
        Ok(pruned)
    }

    /// Deletes a subscription with its secret, deliveries and their log; `false` if it is not
    /// the workspace's.
    pub async fn delete_webhook(&self, workspace: i64, id: i64) -> Result<bool> {
        let mut tx = self.transaction().await?;
        let deleted = tx.conn().delete_webhook_row(workspace, id).await?;
        if deleted {
            tx.conn().delete_secret(workspace, None, &secret_name(id)).await?;
            tx.conn().forget_unsent_events(workspace).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}

impl Conn<'_> {
    async fn update_touch(self, workspace: i64, id: i64) -> Result<()> {
        const SQL: &str = "UPDATE webhooks SET updated_at = $3 WHERE workspace_id = $1 AND id = $2";
        on!(self, c => sqlx::query(SQL).bind(workspace).bind(id).bind(now()).execute(c).await?.rows_affected());
        Ok(())
    }

    /// Forgets the workspace's events no delivery refers to any more.
    async fn forget_unsent_events(self, workspace: i64) -> Result<()> {
        const SQL: &str = "DELETE FROM webhook_events WHERE workspace_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)";
        on!(self, c => sqlx::query(SQL).bind(workspace).execute(c).await?.rows_affected());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_types_and_families() {
        assert!(event_matches("bot.publish", "bot.publish"));
        assert!(event_matches("bot.*", "bot.started") && event_matches("*", "token.create"));
        assert!(!event_matches("bot.*", "bots.x") && !event_matches("bot.publish", "bot.rollback"));
        assert!(!event_matches("bot*", "bot.started"));
    }

    #[test]
    fn audit_targets_name_their_bot() {
        assert_eq!(bot_of("bot.publish", "echo"), Some("echo"));
        assert_eq!(bot_of("record.update", "shop/orders/7"), Some("shop"));
        assert_eq!(bot_of("token.create", "3"), None);
        assert_eq!(status_event("running"), Some("bot.started"));
        assert_eq!(status_event("starting"), None);
    }
}
