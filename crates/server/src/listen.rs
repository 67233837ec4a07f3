//! Binding the listener and serving [`crate::router`] on it, in a task of its own.

use std::net::SocketAddr;
use std::sync::Arc;

use ferrogram_engine::Engine;
use tokio::task::JoinHandle;

/// The listener, serving until [`Listening::stop`] (or the end of the process: dropping this
/// does not stop it), with the event webhooks' worker when it serves the API.
pub struct Listening {
    addr: SocketAddr,
    task: JoinHandle<()>,
    hooks: Option<JoinHandle<()>>,
}

impl Listening {
    /// The address bound: the port the system picked when the one asked for was 0.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections (requests already being answered finish) and stops the
    /// event webhooks' worker: a delivery it was attempting is attempted again by the next
    /// worker once its lease ends.
    pub fn stop(self) {
        self.task.abort();
        if let Some(hooks) = self.hooks {
            hooks.abort();
        }
    }
}

/// Binds `addr` and serves every route of [`crate::router`] on it. An address that cannot be
/// bound (in use, not local, a privileged port) is an error at once, naming the address.
pub async fn listen(addr: SocketAddr, engine: Arc<Engine>) -> Result<Listening, String> {
    listen_with(addr, engine, None).await
}

/// [`listen`], serving [`crate::router_with`]: the bots' control API too when `api` is given.
pub async fn listen_with(addr: SocketAddr, engine: Arc<Engine>, api: Option<crate::Api>) -> Result<Listening, String> {
    listen_routes(addr, engine, crate::Routes { api, ..crate::Routes::default() }).await
}

/// [`listen`], serving [`crate::router_of`] with `routes`.
pub async fn listen_routes(addr: SocketAddr, engine: Arc<Engine>, routes: crate::Routes) -> Result<Listening, String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let hooks = routes.api.as_ref().and_then(|api| api.hooks.spawn(std::sync::Arc::clone(&api.store)));
    let task = tokio::spawn(async move {
        // With the client's address, which the dashboard counts failed sign-ins by.
        let service = crate::router_of(engine, routes).into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, service).await {
            tracing::error!(%error, "the HTTP listener stopped");
        }
    });
    Ok(Listening { addr, task, hooks })
}
