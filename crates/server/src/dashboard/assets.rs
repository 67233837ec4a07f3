//! The dashboard's static files, embedded in the binary and served at versioned paths with a
//! year of caching (`immutable`): htmx (vendored from npm's `htmx.org` 2.0.11, Zero-Clause BSD,
//! its licence beside it in `assets/`) and the stylesheet, whose path carries a hash of its
//! bytes so that a changed stylesheet is a new URL.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::Dashboard;

const HTMX: &[u8] = include_bytes!("assets/htmx-2.0.11.min.js");
const CSS: &[u8] = include_bytes!("assets/dashboard.css");

/// Where htmx is served (its version in the path).
pub const HTMX_PATH: &str = "/assets/htmx-2.0.11.min.js";

/// FNV-1a of `bytes`, at compile time: the stylesheet's version.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

const CSS_HASH: u64 = fnv1a(CSS);

/// Where the stylesheet is served: `/assets/dashboard-HASH.css`.
pub fn css_path() -> String {
    format!("/assets/dashboard-{CSS_HASH:016x}.css")
}

const CACHE: &str = "public, max-age=31536000, immutable";

/// The assets' routes.
pub fn routes() -> Router<Dashboard> {
    Router::new()
        .route(
            HTMX_PATH,
            get(|| async {
                ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], HTMX)
                    .into_response()
            }),
        )
        .route(
            &css_path(),
            get(|| async {
                ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], CSS)
                    .into_response()
            }),
        )
}
