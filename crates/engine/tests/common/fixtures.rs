//! A local HTTP server of recorded API answers and feeds: `examples/fixtures/<path>` is served
//! at `<url>/<path>` for any method (a GraphQL POST gets its recorded answer), JSON as
//! `application/json`, XML as `application/rss+xml`, PNG as `image/png`. A path with no such
//! file is served from `<path>.json` when that exists, so a REST API whose paths nest
//! (`/api/v3/series` and `/api/v3/series/lookup`) is recorded as `series.json` and
//! `series/lookup.json`; the query string is ignored. A file `<file>.headers` next to a served
//! file adds its lines (`Name: value`) to the answer's headers: `qbit/api/v2/auth/login.headers`
//! sets the cookie of qBittorrent's login. `/llm/v1` is the sandbox's stand-in
//! language model (`ferrogram_sandbox::stand_in_llm`), for `llm` steps. Bots reach it through the
//! engine's `HttpConfig::allow_private`, which [`FixtureServer::allow`] fills in.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;

pub struct FixtureServer {
    pub url: String,
    port: u16,
}

impl FixtureServer {
    /// Serves `examples/fixtures` on a free port of 127.0.0.1.
    pub async fn start() -> FixtureServer {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fixtures");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("fixture port");
        let port = listener.local_addr().expect("fixture address").port();
        let app = axum::Router::new()
            .nest("/llm", ferrogram_sandbox::stand_in_llm::router())
            .fallback(move |uri: Uri| serve(root.clone(), uri));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fixture server") });
        FixtureServer { url: format!("http://127.0.0.1:{port}"), port }
    }

    /// Lets the engine's `http` and `feed` steps call this server (and the sandbox fetch the
    /// files bots send by URL from it: [`super::World::start`] passes the list on).
    pub fn allow(&self, config: &mut ferrogram_engine::EngineConfig) {
        config.http.allow_private.push(("127.0.0.1".into(), self.port));
    }
}

async fn serve(root: PathBuf, uri: Uri) -> Response {
    let relative = Path::new(uri.path().trim_start_matches('/'));
    let safe = relative.components().all(|c| matches!(c, Component::Normal(_)));
    let mut path = root.join(relative);
    if safe && !tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
        let mut with_json = path.clone().into_os_string();
        with_json.push(".json");
        path = PathBuf::from(with_json);
    }
    let read = if safe { tokio::fs::read(&path).await.ok() } else { None };
    let Some(bytes) = read else {
        return Response::builder().status(StatusCode::NOT_FOUND).body(Body::from("not found")).expect("response");
    };
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("xml") => "application/rss+xml; charset=utf-8",
        Some("png") => "image/png",
        _ => "text/plain; charset=utf-8",
    };
    let mut response = Response::builder().header(header::CONTENT_TYPE, kind);
    let mut sidecar = path.clone().into_os_string();
    sidecar.push(".headers");
    if let Ok(extra) = tokio::fs::read_to_string(&sidecar).await {
        for (name, value) in extra.lines().filter_map(|line| line.split_once(':')) {
            response = response.header(name.trim(), value.trim());
        }
    }
    response.body(Body::from(bytes)).expect("response")
}
