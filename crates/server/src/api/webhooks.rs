//! `/api/v1/webhooks`: the workspace's outgoing event webhooks (decision 0050). Any role reads
//! the subscriptions and their delivery logs; an admin creates, changes, deletes, pings them,
//! rotates their signing secret and redelivers. A subscription's secret is in the answer that
//! made it (create, rotate) only; the sending is `crate::event_webhooks`, the queue the store's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrogram_store::{DeliveryState, Role, Webhook, WebhookAttempt, WebhookDelivery, WebhookSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::{JsonBody, Params};
use super::idempotency::{Created, once};
use super::pagination::{self, Page, PageQuery};
use super::problem::{FieldError, Problem, store_failed};
use crate::bots::Api;

/// The most event types, or bots, one subscription names.
const MAX_FILTERS: usize = 100;
/// The longest description.
const MAX_DESCRIPTION: usize = 500;

/// A subscription (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: i64,
    /// Where events are POSTed.
    pub url: String,
    pub description: String,
    /// The event types it receives (`bot.publish`, `bot.*`); empty: all.
    pub events: Vec<String>,
    /// The bots (names) whose events it receives; empty: all events.
    pub bots: Vec<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        WebhookView {
            id: w.id,
            url: w.url,
            description: w.description,
            events: w.events,
            bots: w.bots,
            enabled: w.enabled,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A subscription and, this once, its signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_…`: the HMAC key of the signatures, shown once (`null` in an idempotent replay).
    pub secret: Option<String>,
}

/// A subscription to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// `https://…` (plain `http` only to a host and port the operator allows).
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    /// Event types (`bot.publish`), families (`bot.*`) or `*`; absent or empty: all.
    #[serde(default)]
    pub events: Vec<String>,
    /// Bot names; absent or empty: every event.
    #[serde(default)]
    pub bots: Vec<String>,
    /// `false` to queue nothing for it yet (true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A change of a subscription: the fields given replace the old.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChange {
    #[schema(min_length = 1, max_length = 2048)]
    pub url: Option<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    pub bots: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// A new signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    /// `whsec_…`: it replaces the old one at once.
    pub secret: String,
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// Unix seconds.
    pub at: i64,
    /// The HTTP status answered; `null` when there was none (timeout, refused connection).
    pub status_code: Option<u16>,
    pub duration_ms: i64,
    /// Why it did not deliver.
    pub error: Option<String>,
}

impl From<WebhookAttempt> for AttemptView {
    fn from(a: WebhookAttempt) -> Self {
        AttemptView { at: a.at, status_code: a.status_code, duration_ms: a.duration_ms, error: a.error }
    }
}

/// One event's delivery to the subscription, with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub webhook: i64,
    /// The event's id (the payload's `id`, the same in a redelivery).
    pub event: i64,
    /// The event's type.
    #[serde(rename = "type")]
    pub kind: String,
    pub bot: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// When the next attempt is due (pending only), Unix seconds.
    pub next_attempt_at: Option<i64>,
    /// The delivery this one sends again.
    pub redelivery_of: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Oldest first.
    pub attempts: Vec<AttemptView>,
    /// The body sent.
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        DeliveryView {
            id: d.id,
            webhook: d.webhook,
            event: d.event,
            kind: d.event_type,
            bot: d.bot,
            state: d.state.as_str().to_owned(),
            next_attempt_at: d.next_attempt_at,
            redelivery_of: d.redelivery_of,
            created_at: d.created_at,
            updated_at: d.updated_at,
            attempts: d.attempts.into_iter().map(AttemptView::from).collect(),
            payload: serde_json::from_str(&d.payload).unwrap_or(Value::Null),
        }
    }
}

/// The delivery log's filter and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// Only deliveries in this state.
    #[param(pattern = "^(pending|delivered|failed)$")]
    pub state: Option<String>,
    /// Page size, 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, change_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(ping))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(redeliver))
}

/// An id from the path; anything else is no such thing (404).
fn id_of(text: &str, what: &str) -> Result<i64, Problem> {
    text.parse().map_err(|_| Problem::not_found(format!("no {what} {text}")))
}

async fn find(api: &Api, caller: &Caller, id: &str) -> Result<Webhook, Problem> {
    let id = id_of(id, "webhook")?;
    let found = api.store.webhook(caller.workspace, id).await.map_err(store_failed("reading the webhook"))?;
    found.ok_or_else(|| Problem::not_found(format!("no webhook {id}")))
}

/// Checks a subscription's fields, each failing one at its pointer.
fn check(api: &Api, spec: &mut WebhookSpec) -> Result<(), Problem> {
    let mut errors = Vec::new();
    spec.url = spec.url.trim().to_owned();
    if let Err(why) = api.hooks.check_url(&spec.url) {
        errors.push(FieldError::at("/url", why));
    }
    if spec.description.chars().count() > MAX_DESCRIPTION {
        errors.push(FieldError::at("/description", format!("at most {MAX_DESCRIPTION} characters")));
    }
    for (field, list, valid) in
        [("events", &mut spec.events, event_pattern as fn(&str) -> bool), ("bots", &mut spec.bots, bot_name)]
    {
        if list.len() > MAX_FILTERS {
            errors.push(FieldError::at(format!("/{field}"), format!("at most {MAX_FILTERS}")));
        }
        for (i, item) in list.iter_mut().enumerate() {
            *item = item.trim().to_owned();
            if !valid(item) {
                let detail = match field {
                    "events" => "an event type (`bot.publish`), a family (`bot.*`) or `*`",
                    _ => "a bot's name",
                };
                errors.push(FieldError::at(format!("/{field}/{i}"), detail));
            }
        }
        list.sort();
        list.dedup();
    }
    if errors.is_empty() { Ok(()) } else { Err(Problem::invalid("the webhook is not acceptable", errors)) }
}

/// `*`, or dot-separated words of lowercase letters, digits and `_`, optionally ending `.*`.
fn event_pattern(text: &str) -> bool {
    let words = text.strip_suffix(".*").unwrap_or(text);
    text == "*"
        || (text.len() <= 100
            && words
                .split('.')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')))
}

fn bot_name(text: &str) -> bool {
    !text.is_empty() && text.chars().count() <= 100
}

/// The audit log's detail of a subscription (never its secret).
fn detail(w: &Webhook) -> Value {
    json!({"url": w.url, "events": w.events, "bots": w.bots, "enabled": w.enabled})
}

/// The workspace's subscriptions, oldest first.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(PageQuery),
    responses((status = 200, body = Page<WebhookView>)))]
async fn list_webhooks(
    State(api): State<Api>,
    caller: Caller,
    Params(page): Params<PageQuery>,
) -> Result<Json<Page<WebhookView>>, Problem> {
    caller.require(Role::Viewer)?;
    let limit = pagination::limit(page.limit)?;
    let after = pagination::key_of(page.cursor.as_deref())?;
    let hooks =
        api.store.webhooks(caller.workspace, after, limit + 1).await.map_err(store_failed("reading the webhooks"))?;
    Ok(Json(pagination::page(hooks, limit, |w| w.id, WebhookView::from)))
}

/// Creates a subscription (admin); its signing secret is in this answer only. Takes
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "repeat-safe creation (24 h)",
            min_length = 1, max_length = 255, pattern = r"^[\t\x20-\x7E]*[\x21-\x7E][\t\x20-\x7E]*$")),
    responses((status = 201, body = NewWebhook),
        (status = 409, description = "The server has no secret key, or an `Idempotency-Key` whose first request is still being answered")))]
async fn create_webhook(
    State(api): State<Api>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<WebhookRequest>,
) -> Result<Response, Problem> {
    caller.require(Role::Admin)?;
    let request = body.value;
    let act = async {
        let mut spec = WebhookSpec {
            url: request.url,
            description: request.description,
            events: request.events,
            bots: request.bots,
            enabled: request.enabled,
        };
        check(&api, &mut spec)?;
        let created = api.store.create_webhook(caller.workspace, &spec).await.map_err(secret_refused)?;
        let (hook, secret) = created.ok_or_else(|| Problem::not_found("the workspace is gone"))?;
        audit(&api, &caller, "webhook.create", &hook.id.to_string(), detail(&hook)).await;
        let id = hook.id;
        let view = NewWebhook { webhook: hook.into(), secret: Some(secret) };
        let body = serde_json::to_value(&view).map_err(|e| Problem::internal("answering", e))?;
        let mut replay = body.clone();
        replay["secret"] = Value::Null;
        let mut created = Created::new(body);
        created.location = Some(format!("/api/v1/webhooks/{id}"));
        created.replay_body = Some(replay);
        Ok(created)
    };
    Ok(once(&api, &caller, &headers, "POST /api/v1/webhooks", &body.raw, act).await)
}

/// A store refusal about secrets as a 409 (the server's key), anything else a 500.
fn secret_refused(error: ferrogram_store::Error) -> Problem {
    match error {
        ferrogram_store::Error::NoSecretKey | ferrogram_store::Error::WrongSecretKey { .. } => {
            Problem::conflict(format!("the signing secret cannot be stored: {error}"))
        }
        error => Problem::internal("storing the webhook", error),
    }
}

/// One subscription.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookView)))]
async fn get_webhook(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, Problem> {
    caller.require(Role::Viewer)?;
    Ok(Json(find(&api, &caller, &id).await?.into()))
}

/// Changes a subscription (admin): the fields given. Disabling it queues nothing more for it
/// and holds its pending deliveries until it is enabled again.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    request_body = WebhookChange, responses((status = 200, body = WebhookView)))]
async fn change_webhook(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<WebhookChange>,
) -> Result<Json<WebhookView>, Problem> {
    caller.require(Role::Admin)?;
    let hook = find(&api, &caller, &id).await?;
    let change = body.value;
    let mut spec = WebhookSpec {
        url: change.url.unwrap_or(hook.url),
        description: change.description.unwrap_or(hook.description),
        events: change.events.unwrap_or(hook.events),
        bots: change.bots.unwrap_or(hook.bots),
        enabled: change.enabled.unwrap_or(hook.enabled),
    };
    check(&api, &mut spec)?;
    let changed = api.store.update_webhook(caller.workspace, hook.id, &spec).await;
    if !changed.map_err(store_failed("changing the webhook"))? {
        return Err(Problem::not_found(format!("no webhook {}", hook.id)));
    }
    let hook = find(&api, &caller, &id).await?;
    audit(&api, &caller, "webhook.update", &hook.id.to_string(), detail(&hook)).await;
    if hook.enabled {
        api.hooks.wake();
    }
    Ok(Json(hook.into()))
}

/// Deletes a subscription (admin) with its secret and delivery log.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted")))]
async fn delete_webhook(State(api): State<Api>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, Problem> {
    caller.require(Role::Admin)?;
    let hook = find(&api, &caller, &id).await?;
    if api.store.delete_webhook(caller.workspace, hook.id).await.map_err(store_failed("deleting the webhook"))? {
        audit(&api, &caller, "webhook.delete", &hook.id.to_string(), detail(&hook)).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Gives the subscription a new signing secret (admin), in this answer only; the old one signs
/// nothing more.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = RotatedSecret), (status = 409, description = "The server has no secret key")))]
async fn rotate_secret(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RotatedSecret>, Problem> {
    caller.require(Role::Admin)?;
    let hook = find(&api, &caller, &id).await?;
    let secret = api.store.rotate_webhook_secret(caller.workspace, hook.id).await.map_err(secret_refused)?;
    let secret = secret.ok_or_else(|| Problem::not_found(format!("no webhook {}", hook.id)))?;
    audit(&api, &caller, "webhook.rotate_secret", &hook.id.to_string(), json!({})).await;
    Ok(Json(RotatedSecret { secret }))
}

/// Queues a `webhook.ping` event to this subscription alone, whatever its filters (admin); the
/// answer is its delivery, pending.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/ping", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 202, body = DeliveryView)))]
async fn ping(State(api): State<Api>, caller: Caller, Path(id): Path<String>) -> Result<Response, Problem> {
    caller.require(Role::Admin)?;
    let hook = find(&api, &caller, &id).await?;
    let queued = api.store.ping_webhook(caller.workspace, hook.id).await.map_err(store_failed("queueing a ping"))?;
    let delivery = queued.ok_or_else(|| Problem::not_found(format!("no webhook {}", hook.id)))?;
    api.hooks.wake();
    accepted(&api, &caller, hook.id, delivery).await
}

/// A queued delivery, answered 202.
async fn accepted(api: &Api, caller: &Caller, webhook: i64, delivery: i64) -> Result<Response, Problem> {
    let found = api.store.webhook_delivery(caller.workspace, webhook, delivery).await;
    let found = found.map_err(store_failed("reading the delivery"))?;
    let found = found.ok_or_else(|| Problem::not_found(format!("no delivery {delivery}")))?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(found))).into_response())
}

/// The subscription's deliveries, newest first, each with its attempts.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path), DeliveryFilter), responses((status = 200, body = Page<DeliveryView>)))]
async fn list_deliveries(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
    Params(filter): Params<DeliveryFilter>,
) -> Result<Json<Page<DeliveryView>>, Problem> {
    caller.require(Role::Viewer)?;
    let limit = pagination::limit(filter.limit)?;
    let before = pagination::key_of(filter.cursor.as_deref())?;
    let state = match filter.state.as_deref() {
        None => None,
        Some(text) => Some(
            [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed]
                .into_iter()
                .find(|s| s.as_str() == text)
                .ok_or_else(|| {
                    Problem::bad_request("the state filter is not a state")
                        .with_errors(vec![FieldError::parameter("state", "pending, delivered or failed")])
                })?,
        ),
    };
    let hook = find(&api, &caller, &id).await?;
    let deliveries = api
        .store
        .webhook_deliveries(caller.workspace, hook.id, state.map(DeliveryState::as_str), before, limit + 1)
        .await
        .map_err(store_failed("reading the deliveries"))?;
    Ok(Json(pagination::page(deliveries, limit, |d| d.id, DeliveryView::from)))
}

/// One delivery, with its attempts.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries/{delivery}", tag = "webhooks",
    params(("id" = i64, Path), ("delivery" = i64, Path)), responses((status = 200, body = DeliveryView)))]
async fn get_delivery(
    State(api): State<Api>,
    caller: Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Json<DeliveryView>, Problem> {
    caller.require(Role::Viewer)?;
    let hook = find(&api, &caller, &id).await?;
    let delivery = id_of(&delivery, "delivery")?;
    let found = api.store.webhook_delivery(caller.workspace, hook.id, delivery).await;
    let found = found.map_err(store_failed("reading the delivery"))?;
    Ok(Json(found.ok_or_else(|| Problem::not_found(format!("no delivery {delivery}")))?.into()))
}

/// Sends the delivery's event again (admin), as a new delivery due now (`redelivery_of` this
/// one) with the same event id; 409 while this one is still pending.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver", tag = "webhooks",
    params(("id" = i64, Path), ("delivery" = i64, Path)),
    responses((status = 202, body = DeliveryView), (status = 409, description = "The delivery is still pending")))]
async fn redeliver(
    State(api): State<Api>,
    caller: Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Response, Problem> {
    caller.require(Role::Admin)?;
    let hook = find(&api, &caller, &id).await?;
    let delivery = id_of(&delivery, "delivery")?;
    let found = api.store.webhook_delivery(caller.workspace, hook.id, delivery).await;
    let found = found.map_err(store_failed("reading the delivery"))?;
    let found = found.ok_or_else(|| Problem::not_found(format!("no delivery {delivery}")))?;
    if found.state == DeliveryState::Pending {
        return Err(Problem::conflict(format!("delivery {delivery} is still pending: it will be attempted")));
    }
    let queued = api.store.redeliver_webhook(caller.workspace, hook.id, delivery).await;
    let queued = queued.map_err(store_failed("queueing the redelivery"))?;
    let queued = queued.ok_or_else(|| Problem::not_found(format!("no delivery {delivery}")))?;
    audit(&api, &caller, "webhook.redeliver", &hook.id.to_string(), json!({"delivery": delivery, "as": queued})).await;
    accepted(&api, &caller, hook.id, queued).await
}
