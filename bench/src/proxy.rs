//! A counting pass-through in front of the sandbox for the bulk scenario: it forwards every
//! Bot API call unchanged and records, for the send methods, the successful answers (with the
//! instant of the last) and the 429s. The sandbox itself keeps no such counts.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Default)]
pub struct Counts {
    pub sent: AtomicU64,
    pub too_many: AtomicU64,
    pub other_errors: AtomicU64,
    pub last_sent: parking_lot::Mutex<Option<Instant>>,
}

impl Counts {
    pub fn reset(&self) {
        self.sent.store(0, Ordering::SeqCst);
        self.too_many.store(0, Ordering::SeqCst);
        self.other_errors.store(0, Ordering::SeqCst);
        *self.last_sent.lock() = None;
    }
}

struct Proxy {
    target: String,
    http: reqwest::Client,
    counts: Arc<Counts>,
}

/// Starts the proxy on a free loopback port; answers its URL and its counts.
pub async fn start(target: &str) -> (String, Arc<Counts>, tokio::task::JoinHandle<()>) {
    let counts = Arc::new(Counts::default());
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client");
    let proxy = Arc::new(Proxy { target: target.trim_end_matches('/').to_owned(), http, counts: counts.clone() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, counts, task)
}

/// `sendMessage` and the other send methods, by the last path segment.
pub fn is_send(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|m| m.len() > 4 && m[..4].eq_ignore_ascii_case("send"))
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut outgoing = proxy.http.request(parts.method.clone(), format!("{}{path}", proxy.target)).body(bytes);
    if let Some(kind) = parts.headers.get(header::CONTENT_TYPE) {
        outgoing = outgoing.header(header::CONTENT_TYPE, kind.clone());
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    let status = answer.status();
    let kind = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = answer.bytes().await.unwrap_or_default();
    if is_send(parts.uri.path()) {
        let counts = &proxy.counts;
        if status.is_success() {
            counts.sent.fetch_add(1, Ordering::SeqCst);
            *counts.last_sent.lock() = Some(Instant::now());
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            counts.too_many.fetch_add(1, Ordering::SeqCst);
        } else {
            counts.other_errors.fetch_add(1, Ordering::SeqCst);
        }
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Some(kind) = kind {
        response.headers_mut().insert(header::CONTENT_TYPE, kind);
    } else {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn send_methods() {
        assert!(super::is_send("/bot1:a/sendMessage"));
        assert!(super::is_send("/bot1:a/SENDPHOTO"));
        assert!(!super::is_send("/bot1:a/getUpdates"));
        assert!(!super::is_send("/bot1:a/send"));
    }
}
