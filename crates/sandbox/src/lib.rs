//! The Telegram Bot API emulator: the bot side (`bot_api`, with `markup` for formatted text),
//! the user-side control API (`control`), the web chat (`assets/`, served by `server`), webhook
//! push to the bots that set one (`webhook_push`), Telegram's flood limits (`flood_limits`) and
//! fault injection (`faults`), all acting on one emulated Telegram (`world`, saved by
//! `persist`). It also serves a stand-in language model (`stand_in_llm`) and telegram-test-api's
//! user-side routes (`telegram_test_api_compat`).
//!
//! In the path of an update it stands where Telegram stands: in front of the receiving stage.
//! Bots reach it by HTTP like the real API (long polling or a webhook it pushes to), so the
//! engine and every other framework run against it unchanged.
//!
//! A faithful Telegram Bot API emulator. Bots of any framework point their API URL at it;
//! tests and people act as users through the control API or the web chat (docs/sandbox.md).

pub mod bot_api;
mod control;
pub mod error;
pub mod faults;
pub mod fetcher;
pub mod flood_limits;
pub mod markup;
pub mod params;
pub mod persist;
mod server;
pub mod spec;
pub mod stand_in_llm;
mod telegram_test_api_compat;
mod webhook_push;
pub mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use world::{State, World};

/// How a sandbox starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Refuse tokens of bots not created through the control API.
    pub strict: bool,
    /// Load the state from this file at start, save it there while running (see
    /// `save_interval`) and on shutdown.
    pub state_file: Option<PathBuf>,
    /// How often a changed state is saved to `state_file` while running: a crash loses at most
    /// this much.
    pub save_interval: Duration,
    /// Flood limits; Telegram's by default.
    pub limits: flood_limits::Limits,
    /// The first delay before a failed webhook delivery is retried; it doubles each time.
    pub webhook_retry_base: Duration,
    pub webhook_timeout: Duration,
    /// How long a callback or inline query can be answered ("query is too old" after it).
    pub query_expiry: Duration,
    /// The private `(host, port)` pairs the files a bot sends by URL may be downloaded from
    /// (the engine's `--allow-private-http` list). Every other loopback, private or link-local
    /// address is refused, as for the engine's `http` step ([`egress`]): a bot file run by
    /// `ferrogram serve` may come from someone else. Default: none, so a local test server
    /// must be listed (`("127.0.0.1", its port)`). An entry with a wildcard or a range fails
    /// the start.
    pub allow_private: Vec<(String, u16)>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            strict: false,
            state_file: None,
            save_interval: Duration::from_secs(5),
            limits: flood_limits::Limits::default(),
            webhook_retry_base: Duration::from_secs(1),
            webhook_timeout: Duration::from_secs(10),
            query_expiry: world::default_query_expiry(),
            allow_private: Vec::new(),
        }
    }
}

/// How long `stop` lets requests in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// What the request handlers share.
pub struct App {
    pub world: World,
    /// Webhook deliveries: to the URL the bot's own program set (setWebhook), no bot file's.
    pub http: reqwest::Client,
    /// Downloads of the files bots send by URL, under the address rule of `config.allow_private`.
    pub files: fetcher::Fetcher,
    pub config: Config,
    /// Saves the world to `config.state_file`, when there is one.
    saver: Option<persist::Saver>,
}

/// A running sandbox. Dropping it stops the server (and saves the state file, if any).
pub struct Sandbox {
    addr: SocketAddr,
    app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    autosave: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("{0}")]
    State(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Sandbox {
    pub async fn start(config: Config) -> Result<Sandbox, StartError> {
        config.limits.validate().map_err(|e| StartError::Config(format!("flood limits: {e}")))?;
        let files = fetcher::Fetcher::new(&config.allow_private).map_err(StartError::Config)?;
        if config.save_interval.is_zero() {
            return Err(StartError::Config("save_interval must be longer than zero".into()));
        }
        let mut state = match &config.state_file {
            Some(path) => persist::load(path).map_err(StartError::State)?,
            None => State::default(),
        };
        // The command line wins over what a state file remembers.
        state.strict = config.strict;
        state.limits = config.limits.clone();
        state.query_expiry = config.query_expiry;
        let listener = TcpListener::bind(config.addr).await.map_err(|e| StartError::Bind(config.addr, e))?;
        let addr = listener.local_addr().map_err(|e| StartError::Bind(config.addr, e))?;
        let saver = config.state_file.clone().map(persist::Saver::new);
        let app = Arc::new(App { world: World::new(state), http: http_client(), files, config, saver });
        resume_webhooks(&app);
        let autosave = app.saver.is_some().then(|| tokio::spawn(autosave(app.clone())));
        let (shutdown, stop) = oneshot::channel::<()>();
        let router = server::router(app.clone());
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stop.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "sandbox server stopped");
            }
        });
        tracing::info!(%addr, "sandbox listening");
        Ok(Sandbox { addr, app, shutdown: Some(shutdown), server: Some(server), autosave })
    }

    /// The base URL to give a bot framework as its Bot API server, e.g. `http://127.0.0.1:8081`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The world, for in-process tests and tools.
    pub fn world(&self) -> &World {
        &self.app.world
    }

    /// Changes each time the state file is written (`None` without a state file): a test can
    /// await the next save instead of stopping the sandbox.
    pub fn saves(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.app.saver.as_ref().map(persist::Saver::subscribe)
    }

    /// Stops serving and saves the state file. Requests in flight get a moment to finish;
    /// long polls still open after it are cut (a client sees a closed connection and retries).
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(autosave) = self.autosave.take() {
            autosave.abort();
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err()
        {
            server.abort();
        }
        self.save()
    }

    fn save(&self) -> Result<(), String> {
        match &self.app.saver {
            Some(saver) => saver.save(&self.app.world),
            None => Ok(()),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(autosave) = self.autosave.take() {
            autosave.abort();
        }
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
            if let Err(error) = self.save() {
                tracing::error!(%error, "saving the sandbox state failed");
            }
        }
    }
}

/// Saves the state file every `save_interval` while something may have changed, so a killed
/// sandbox loses at most that much.
async fn autosave(app: Arc<App>) {
    let mut ticks = tokio::time::interval(app.config.save_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut saved_at = app.world.changes();
    loop {
        ticks.tick().await;
        let changes = app.world.changes();
        if changes == saved_at {
            continue;
        }
        let saving = app.clone();
        let saved =
            tokio::task::spawn_blocking(move || saving.saver.as_ref().map_or(Ok(()), |s| s.save(&saving.world))).await;
        match saved {
            Ok(Ok(())) => saved_at = changes,
            Ok(Err(error)) => tracing::error!(%error, "saving the sandbox state failed"),
            Err(error) => tracing::error!(%error, "the sandbox state saver stopped"),
        }
    }
}

/// Webhooks set before a restart keep delivering.
fn resume_webhooks(app: &Arc<App>) {
    let bots: Vec<i64> = app.world.with(|s| s.bots.values().filter(|b| b.webhook.is_some()).map(|b| b.id).collect());
    for bot_id in bots {
        webhook_push::ensure_deliverer(app, bot_id);
    }
}

/// The sandbox's client for webhook deliveries.
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("ferrogram-sandbox/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(64)
        .build()
        .expect("a TLS provider is installed")
}
