//! A small HTTP server a test runs as its bot's webhook (and as a file host for URL uploads).
//! It records every request and answers with the replies the test scripted.

use super::{GUARD, PNG, guard};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// One request the webhook received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub secret: Option<String>,
    pub update: Value,
    /// The status the webhook answered with.
    pub status: u16,
}

impl Hit {
    pub fn update_id(&self) -> i64 {
        self.update["update_id"].as_i64().expect("update_id")
    }

    pub fn chat_id(&self) -> Option<i64> {
        self.update["message"]["chat"]["id"].as_i64()
    }
}

/// What the webhook answers to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply { status, body: None }
    }

    pub fn json(body: Value) -> Reply {
        Reply { status: 200, body: Some(body) }
    }
}

#[derive(Default)]
struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    /// Requests being answered now, by chat; and the most ever seen at once.
    in_flight: Mutex<HashMap<i64, usize>>,
    max_per_chat: Mutex<usize>,
    /// Hold the first request until a request of another chat comes in.
    hold_first: Mutex<bool>,
    requests: Mutex<usize>,
    /// Whether the held first request was released by another chat's request.
    released_by_other_chat: Mutex<Option<bool>>,
    /// How long to take over each answer (to make overlapping deliveries likely).
    answer_delay: Mutex<Duration>,
}

pub struct Hook {
    pub url: String,
    pub base: String,
    hits: mpsc::UnboundedReceiver<Hit>,
    shared: Arc<Shared>,
    chats_seen: watch::Sender<HashSet<i64>>,
}

#[derive(Clone)]
struct Server {
    shared: Arc<Shared>,
    hits: mpsc::UnboundedSender<Hit>,
    chats_seen: watch::Sender<HashSet<i64>>,
}

impl Hook {
    pub async fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (sender, hits) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let chats_seen = watch::channel(HashSet::new()).0;
        let server = Server { shared: shared.clone(), hits: sender, chats_seen: chats_seen.clone() };
        let router = Router::new().route("/hook", post(receive)).route("/files/{name}", get(file)).with_state(server);
        tokio::spawn(async move { axum::serve(listener, router).await.expect("the webhook server runs") });
        Hook { url: format!("{base}/hook"), base, hits, shared, chats_seen }
    }

    /// Scripts the next answers; after them the webhook answers 200 with no body.
    pub fn reply(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.replies.lock().extend(replies);
    }

    pub fn hold_first_until_another_chat(&self) {
        *self.shared.hold_first.lock() = true;
    }

    pub fn answer_delay(&self, delay: Duration) {
        *self.shared.answer_delay.lock() = delay;
    }

    /// The next request the webhook received.
    pub async fn next(&mut self) -> Hit {
        guard("a webhook request", self.hits.recv()).await.expect("the webhook server runs")
    }

    /// A request already received, if any (never waits).
    pub fn try_next(&mut self) -> Option<Hit> {
        self.hits.try_recv().ok()
    }

    pub fn max_concurrent_per_chat(&self) -> usize {
        *self.shared.max_per_chat.lock()
    }

    pub fn released_by_other_chat(&self) -> Option<bool> {
        *self.shared.released_by_other_chat.lock()
    }

    pub fn seen_chats(&self) -> HashSet<i64> {
        self.chats_seen.borrow().clone()
    }
}

async fn receive(State(server): State<Server>, headers: HeaderMap, body: Bytes) -> Response {
    let update: Value = serde_json::from_slice(&body).expect("the sandbox posts JSON");
    let chat = update["message"]["chat"]["id"].as_i64();
    let first = {
        let mut requests = server.shared.requests.lock();
        *requests += 1;
        *requests == 1
    };
    if let Some(chat) = chat {
        let mut in_flight = server.shared.in_flight.lock();
        let count = in_flight.entry(chat).or_default();
        *count += 1;
        let mut max = server.shared.max_per_chat.lock();
        *max = (*max).max(*count);
        server.chats_seen.send_modify(|seen| {
            seen.insert(chat);
        });
    }
    if first && *server.shared.hold_first.lock() {
        let mut seen = server.chats_seen.subscribe();
        let other = seen.wait_for(|seen| seen.iter().any(|c| Some(*c) != chat));
        let released = tokio::time::timeout(GUARD / 2, other).await.is_ok();
        *server.shared.released_by_other_chat.lock() = Some(released);
    }
    let delay = *server.shared.answer_delay.lock();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let reply = server.shared.replies.lock().pop_front().unwrap_or(Reply { status: 200, body: None });
    if let Some(chat) = chat {
        *server.shared.in_flight.lock().entry(chat).or_default() -= 1;
    }
    let secret =
        headers.get("x-telegram-bot-api-secret-token").map(|v| v.to_str().expect("an ASCII secret").to_string());
    let _ = server.hits.send(Hit { secret, update, status: reply.status });
    let status = StatusCode::from_u16(reply.status).expect("a valid status");
    match reply.body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    }
}

async fn file() -> Response {
    ([(header::CONTENT_TYPE, "image/png")], PNG).into_response()
}
