//! Web Apps Ferrogram serves for its bots, so a bot's `web_app` buttons need no outside site:
//! the shop page at `GET /webapp/{bot_id}/shop` (self-contained, light or dark after Telegram's
//! theme params) and its one server call, `POST /webapp/{bot_id}/shop/products`, whose body is
//! the page's `Telegram.WebApp.initData`. The call is answered only when the `initData` is signed
//! by Telegram for this bot and recent (see `ferrogram_engine::web_app`); the page then sends the
//! order back to the chat with `Telegram.WebApp.sendData`, which the bot reads as `web_app_data`.
//!
//! | answer | when |
//! |---|---|
//! | 200 | the page; or `{"products": [...]}`, the products the bot file lists |
//! | 401 | `{"error": ...}`: the initData is missing, unsigned, wrongly signed or too old |
//! | 404 | no bot with this Telegram id runs here |
//! | 413 | the body is over 16 KiB |

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrogram_engine::Engine;
use ferrogram_engine::web_app::{INIT_DATA_MAX_AGE, check_init_data};
use serde_json::json;

/// The shop page, vendored (no script or style from elsewhere).
const SHOP_PAGE: &str = include_str!("../assets/webapp/shop.html");
/// An initData is well under a kilobyte or two.
const MAX_INIT_DATA_BYTES: usize = 16 << 10;

/// The path of a bot's shop page, under the public base URL.
pub fn shop_path(bot_id: u64) -> String {
    format!("/webapp/{bot_id}/shop")
}

/// The Web App routes, for [`crate::router`].
pub(crate) fn routes() -> axum::Router<Arc<Engine>> {
    axum::Router::new()
        .route("/webapp/{bot_id}/shop", axum::routing::get(shop))
        .route("/webapp/{bot_id}/shop/products", axum::routing::post(products))
        .layer(DefaultBodyLimit::max(MAX_INIT_DATA_BYTES))
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": "no such bot runs here"}))).into_response()
}

async fn shop(State(engine): State<Arc<Engine>>, Path(bot_id): Path<String>) -> Response {
    let Some(_) = bot_id.parse::<u64>().ok().and_then(|id| engine.web_app(id)) else { return not_found() };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Telegram shows it in a frame on its web clients; nothing else is loaded.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SHOP_PAGE,
    )
        .into_response()
}

async fn products(State(engine): State<Arc<Engine>>, Path(bot_id): Path<String>, body: String) -> Response {
    let Some((bot_id, bot)) = bot_id.parse::<u64>().ok().and_then(|id| Some((id, engine.web_app(id)?))) else {
        return not_found();
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    match check_init_data(body.trim(), &bot.key, now, INIT_DATA_MAX_AGE) {
        Ok(_) => Json(json!({"products": bot.products})).into_response(),
        Err(error) => {
            tracing::debug!(bot_id, %error, "a Web App call refused");
            (StatusCode::UNAUTHORIZED, Json(json!({"error": error.to_string()}))).into_response()
        }
    }
}
