//! The exporter: a background task that takes finished spans from a bounded queue and POSTs
//! them in batches to the collector's `/v1/traces`, in OTLP/HTTP's JSON encoding
//! ([`super::otlp`]). A batch leaves when it holds [`MAX_BATCH`] spans or [`BATCH_WAIT`] after
//! its first span. A batch the collector does not take (no answer, a status other than 2xx)
//! is dropped, not retried: the spans are counted (`ferrogram_trace_spans_dropped_total`) and
//! a warning is logged once until an export succeeds again. Nothing here ever makes an update
//! wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::layer::SpanRecord;
use super::otlp;

/// Spans waiting to be exported; beyond it a closing span is dropped and counted.
pub const QUEUE: usize = 4096;
/// Spans in one export request at most.
pub const MAX_BATCH: usize = 512;
/// How long a span waits for others to fill its batch.
pub const BATCH_WAIT: Duration = Duration::from_secs(1);
/// How long one export request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Spans dropped, by `reason`: `queue_full` (the exporter fell behind) or `export_failed` (the
/// collector did not take their batch).
pub const SPANS_DROPPED: &str = "ferrogram_trace_spans_dropped_total";

/// Counts dropped spans: the metric, and a total the process keeps for its log.
#[derive(Clone, Default)]
pub struct Dropped {
    total: Arc<AtomicU64>,
    /// Whether the queue overflowed since it last had room; warned once per overflow.
    full: Arc<AtomicBool>,
}

impl Dropped {
    /// `n` spans dropped because the queue was full.
    pub fn queue_full(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        metrics::counter!(SPANS_DROPPED, "reason" => "queue_full").increment(n);
        self.full.store(true, Ordering::Relaxed);
    }

    /// `n` spans dropped because their batch was not taken.
    fn export_failed(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        metrics::counter!(SPANS_DROPPED, "reason" => "export_failed").increment(n);
    }

    /// Spans dropped so far, for any reason.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

/// Where and as what the spans are exported.
#[derive(Clone, Debug)]
pub struct Target {
    /// The collector's traces URL: `…/v1/traces`.
    pub url: String,
    /// `service.name` of the resource.
    pub service: String,
}

/// The running exporter: [`Exporter::shutdown`] exports what is queued and stops it.
pub struct Exporter {
    stop: Option<oneshot::Sender<oneshot::Sender<()>>>,
    dropped: Dropped,
}

impl Exporter {
    /// Starts the task on the current runtime, reading `queue`.
    pub fn start(target: Target, queue: mpsc::Receiver<SpanRecord>, dropped: Dropped) -> Exporter {
        let (stop, stopped) = oneshot::channel();
        let client = reqwest_client();
        tokio::spawn(run(target, client, queue, dropped.clone(), stopped));
        Exporter { stop: Some(stop), dropped }
    }

    /// Exports the spans queued so far (those that closed before this call), waiting at most
    /// `wait`, and stops the task; spans that close later are dropped.
    pub async fn shutdown(mut self, wait: Duration) {
        let Some(stop) = self.stop.take() else { return };
        let (done, finished) = oneshot::channel();
        if stop.send(done).is_ok() && tokio::time::timeout(wait, finished).await.is_err() {
            tracing::warn!(?wait, "exporting the last spans took too long: they are dropped");
        }
        let dropped = self.dropped.total();
        if dropped > 0 {
            tracing::warn!(dropped, "spans dropped while this process ran (ferrogram_trace_spans_dropped_total)");
        }
    }
}

fn reqwest_client() -> Result<reqwest::Client, String> {
    ferrogram_telegram::install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("ferrogram/", env!("CARGO_PKG_VERSION")))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|error| format!("cannot build the HTTP client: {error}"))
}

async fn run(
    target: Target,
    client: Result<reqwest::Client, String>,
    mut queue: mpsc::Receiver<SpanRecord>,
    dropped: Dropped,
    mut stopped: oneshot::Receiver<oneshot::Sender<()>>,
) {
    let mut sender = Sender { target, client, dropped, failing: false };
    let mut batch: Vec<SpanRecord> = Vec::new();
    loop {
        let deadline = tokio::time::sleep(BATCH_WAIT);
        tokio::pin!(deadline);
        // Fill a batch: up to MAX_BATCH, or what came within BATCH_WAIT of its first span.
        let stop = loop {
            tokio::select! {
                done = &mut stopped => break Some(done.ok()),
                received = queue.recv(), if batch.len() < MAX_BATCH => match received {
                    Some(span) => {
                        if batch.is_empty() {
                            deadline.as_mut().reset(tokio::time::Instant::now() + BATCH_WAIT);
                        }
                        batch.push(span);
                    }
                    None => break Some(None),
                },
                () = &mut deadline, if !batch.is_empty() => break None,
            }
            if batch.len() >= MAX_BATCH {
                break None;
            }
        };
        if sender.dropped.full.swap(false, Ordering::Relaxed) {
            tracing::warn!(dropped = sender.dropped.total(), "the trace exporter fell behind: spans were dropped");
        }
        match stop {
            None => sender.send(std::mem::take(&mut batch)).await,
            Some(done) => {
                // What closed before the stop, in batches.
                while let Ok(span) = queue.try_recv() {
                    batch.push(span);
                    if batch.len() >= MAX_BATCH {
                        sender.send(std::mem::take(&mut batch)).await;
                    }
                }
                sender.send(batch).await;
                if let Some(done) = done {
                    let _ = done.send(());
                }
                return;
            }
        }
    }
}

/// Sends batches; remembers whether the collector is failing, to warn once.
struct Sender {
    target: Target,
    client: Result<reqwest::Client, String>,
    dropped: Dropped,
    failing: bool,
}

impl Sender {
    async fn send(&mut self, batch: Vec<SpanRecord>) {
        if batch.is_empty() {
            return;
        }
        let count = batch.len() as u64;
        let body = otlp::encode(&self.target.service, &batch);
        let outcome = match &self.client {
            Ok(client) => client
                .post(&self.target.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(|error| without_url(&error))
                .and_then(|response| match response.status() {
                    status if status.is_success() => Ok(()),
                    status => Err(format!("the collector answered {status}")),
                }),
            Err(error) => Err(error.clone()),
        };
        match outcome {
            Ok(()) => {
                if self.failing {
                    tracing::info!(url = %self.target.url, "exporting traces works again");
                }
                self.failing = false;
            }
            Err(error) => {
                self.dropped.export_failed(count);
                if !self.failing {
                    tracing::warn!(
                        url = %self.target.url, %error, dropped = self.dropped.total(),
                        "exporting traces failed: their spans are dropped until the collector takes them again"
                    );
                }
                self.failing = true;
            }
        }
    }
}

/// A request error without its URL (the endpoint is logged apart, once).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(error);
    let mut cause = String::new();
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() { kind.to_owned() } else { format!("{kind}: {cause}") }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::traces::layer::Kind;

    fn record(name: &'static str) -> SpanRecord {
        SpanRecord {
            trace_id: 1,
            span_id: 2,
            parent: None,
            name,
            kind: Kind::Internal,
            start: 1,
            end: 2,
            attributes: Vec::new(),
            error: None,
            events: Vec::new(),
        }
    }

    /// A collector on a free port: `/v1/traces` keeps what it is sent, `/fail/v1/traces` answers 500.
    async fn collector() -> (String, Arc<Mutex<Vec<String>>>) {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        let app = axum::Router::new()
            .route(
                "/v1/traces",
                axum::routing::post(move |body: String| async move {
                    kept.lock().unwrap().push(body);
                    "{}"
                }),
            )
            .route(
                "/fail/v1/traces",
                axum::routing::post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down") }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, bodies)
    }

    #[tokio::test]
    async fn a_stop_sends_what_is_queued_without_waiting_for_the_batch() {
        let (base, bodies) = collector().await;
        let (queue, spans) = mpsc::channel(8);
        let dropped = Dropped::default();
        let target = Target { url: format!("{base}/v1/traces"), service: "test".into() };
        let exporter = Exporter::start(target, spans, dropped.clone());
        queue.try_send(record("update")).expect("queued");
        let started = tokio::time::Instant::now();
        exporter.shutdown(Duration::from_secs(5)).await;
        assert!(started.elapsed() < BATCH_WAIT, "sent at the stop, not after the batch's wait");
        let bodies = bodies.lock().unwrap();
        assert_eq!(bodies.len(), 1);
        assert!(bodies[0].contains(r#""name":"update""#), "{}", bodies[0]);
        assert_eq!(dropped.total(), 0);
    }

    #[tokio::test]
    async fn a_batch_the_collector_refuses_is_dropped_and_counted() {
        let (base, bodies) = collector().await;
        let (queue, spans) = mpsc::channel(8);
        let dropped = Dropped::default();
        let target = Target { url: format!("{base}/fail/v1/traces"), service: "test".into() };
        let exporter = Exporter::start(target, spans, dropped.clone());
        queue.try_send(record("update")).expect("queued");
        queue.try_send(record("handler")).expect("queued");
        exporter.shutdown(Duration::from_secs(5)).await;
        assert_eq!(dropped.total(), 2);
        assert!(bodies.lock().unwrap().is_empty());
    }
}
