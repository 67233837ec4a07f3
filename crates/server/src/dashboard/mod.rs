//! The dashboard (decisions 0042 and 0049, docs/dashboard.md): server-rendered HTML
//! (minijinja templates embedded in the binary, htmx vendored and served by it), the one-time
//! setup link that creates the owner, signing in and out, the account's sessions, the home
//! listing the signed-in person's workspaces, and a workspace's bots: their list, a new bot, a
//! bot's history. The bots' pages act through the REST API's own functions (decision 0049).
//!
//! Files, one job each: [`session`] (the cookie, CSRF, and [`session_access`] for the API's
//! extractor), [`sign_in`], [`setup`], [`invite`], [`sessions`] (the account's sessions page), [`home`],
//! [`layout`] (templates, languages, themes), [`texts`] (the bots' pages' texts), [`workspace`]
//! (the caller of a workspace's page), [`bots`] (the list, start, stop, delete), [`new_bot`],
//! [`templates`] (the example bots to start from), [`history`] (versions, diff, rollback),
//! [`side_by_side`], [`sparkline`], [`audit`] (the workspace's audit log), [`tokens`] (its API tokens), [`rate_limit`],
//! [`assets`]; [`editor`] (a bot's code view with its draft and try-it chat, decision 0056).
//!
//! The run-it pages (decision 0054), also through the API's functions: [`users`] (a bot's users,
//! one user, block and unblock), [`collections`] (a bot's collections, a table, its CSV),
//! [`records`] (a record's form and removal), [`charts`] (a bot's charts and the workspace's
//! overview) drawn by [`chart`], [`members`] (the workspace's members, roles, invitations), and
//! [`bot_nav`] (a bot's sub-navigation).
//!
//! A bot's broadcasts: [`broadcasts`] (the list, compose with a live preview, progress) and
//! [`broadcast_form`] (the compose form read into the API's request).

pub mod assets;
pub mod audit;
pub mod bots;
// Broadcasts' pages.
pub mod broadcast_form;
pub mod broadcasts;
pub mod editor;
pub mod history;
pub mod home;
pub mod invite;
pub mod layout;
pub mod new_bot;
pub mod rate_limit;
pub mod session;
pub mod sessions;
pub mod setup;
pub mod side_by_side;
pub mod sign_in;
pub mod sparkline;
pub mod templates;
pub mod texts;
pub mod tokens;
pub mod workspace;

// The run-it pages (issue 15 item 7): a bot's users, collections, records and charts, the
// workspace's overview and members.
pub mod bot_nav;
pub mod chart;
pub mod charts;
pub mod collections;
pub mod members;
pub mod records;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use ferrogram_store::Store;

pub use session::{SessionCredential, session_access};

/// How long a session lasts without being used (it slides on use; decision 0042): 7 days.
pub const SESSION_IDLE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long an invite link stays valid unless said otherwise: 72 hours.
pub const INVITE_LINK_LIFETIME: Duration = Duration::from_secs(72 * 3600);
/// How long the setup link printed at the first start stays valid: 24 hours.
pub const SETUP_LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The name of the workspace the setup link makes its owner own, when there is none yet.
pub const FIRST_WORKSPACE: &str = "default";

/// What the dashboard's routes share.
#[derive(Clone)]
pub struct Dashboard {
    pub store: Arc<Store>,
    /// Cookies get `Secure` (set when `server.public_url` is `https://`).
    pub secure_cookies: bool,
    pub limiter: Arc<rate_limit::Limiter>,
    pub pages: Arc<layout::Pages>,
    /// The REST API's state (the store and the host running the bots): the workspace pages act
    /// through the API's functions with it. Without it (no host), they answer 404.
    pub api: Option<crate::Api>,
}

impl Dashboard {
    /// The dashboard on `store`, its cookies `Secure` when `secure_cookies`, its sign-in
    /// attempts limited to [`rate_limit::ATTEMPTS`] per [`rate_limit::WINDOW`] per account and
    /// per address.
    pub fn new(store: Arc<Store>, secure_cookies: bool) -> Self {
        Self::with_limits(store, secure_cookies, rate_limit::ATTEMPTS, rate_limit::WINDOW)
    }

    /// [`Dashboard::new`] with another limit of failed sign-ins.
    pub fn with_limits(store: Arc<Store>, secure_cookies: bool, attempts: usize, window: Duration) -> Self {
        Self {
            store,
            secure_cookies,
            limiter: Arc::new(rate_limit::Limiter::new(attempts, window)),
            pages: Arc::new(layout::Pages::new()),
            api: None,
        }
    }

    /// This dashboard with the workspace pages, acting on `api`'s bots.
    pub fn with_api(mut self, api: crate::Api) -> Self {
        self.api = Some(api);
        self
    }
}

/// The dashboard's routes: `/`, `/sign-in`, `/sign-out`, `/setup/{token}`, `/invite/{token}`,
/// `/account/sessions…`, a workspace's `/w/{workspace}/bots…`, `…/audit` and `…/tokens…`,
/// a bot's `…/users…`, `…/collections…`, `…/charts` and `…/broadcasts…`, the workspace's
/// `…/overview` and `…/members…`, `/preferences` and `/assets/…`.
pub fn routes(dashboard: Dashboard) -> Router {
    Router::new()
        .route("/", get(home::page))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/setup/{token}", get(setup::form).post(setup::submit))
        .route("/invite/{token}", get(invite::form).post(invite::submit))
        .route("/account/sessions", get(sessions::page))
        .route("/account/sessions/revoke", post(sessions::revoke_one))
        .route("/account/sessions/sign-out-everywhere", post(sessions::sign_out_everywhere))
        .route("/w/{workspace}/bots", get(bots::list))
        .route("/w/{workspace}/bots/new", get(new_bot::form).post(new_bot::submit))
        .route("/w/{workspace}/bots/{name}", get(history::page))
        .route("/w/{workspace}/bots/{name}/start", post(bots::start))
        .route("/w/{workspace}/bots/{name}/stop", post(bots::stop))
        .route("/w/{workspace}/bots/{name}/delete", get(bots::confirm_delete).post(bots::delete))
        .route("/w/{workspace}/bots/{name}/rollback", post(history::rollback))
        .route("/w/{workspace}/audit", get(audit::page))
        .route("/w/{workspace}/tokens", get(tokens::page).post(tokens::create))
        .route("/w/{workspace}/tokens/revoke", post(tokens::revoke))
        // The run-it pages: a bot's users, collections and charts; the workspace's overview
        // and members.
        .route("/w/{workspace}/bots/{name}/users", get(users::list))
        .route("/w/{workspace}/bots/{name}/users/{id}", get(users::user))
        .route("/w/{workspace}/bots/{name}/users/{id}/block", post(users::block))
        .route("/w/{workspace}/bots/{name}/users/{id}/unblock", post(users::unblock))
        .route("/w/{workspace}/bots/{name}/collections", get(collections::list))
        .route("/w/{workspace}/bots/{name}/collections/{collection}", get(collections::table))
        .route("/w/{workspace}/bots/{name}/collections/{collection}/export.csv", get(collections::export))
        .route(
            "/w/{workspace}/bots/{name}/collections/{collection}/records/{id}",
            get(records::form).post(records::save),
        )
        .route(
            "/w/{workspace}/bots/{name}/collections/{collection}/records/{id}/delete",
            get(records::confirm_delete).post(records::delete),
        )
        .route("/w/{workspace}/bots/{name}/charts", get(charts::bot))
        .route("/w/{workspace}/overview", get(charts::overview))
        .route("/w/{workspace}/members", get(members::page))
        .route("/w/{workspace}/members/invite", post(members::invite))
        .route("/w/{workspace}/members/{account}/role", post(members::set_role))
        .route("/w/{workspace}/members/{account}/remove", post(members::remove))
        // Broadcasts' pages.
        .route("/w/{workspace}/bots/{name}/broadcasts", get(broadcasts::list).post(broadcasts::create))
        .route("/w/{workspace}/bots/{name}/broadcasts/preview", post(broadcasts::preview))
        .route("/w/{workspace}/bots/{name}/broadcasts/{id}", get(broadcasts::page))
        .route("/w/{workspace}/bots/{name}/broadcasts/{id}/progress", get(broadcasts::progress_fragment))
        .route("/w/{workspace}/bots/{name}/broadcasts/{id}/{action}", post(broadcasts::act))
        .route("/preferences", get(layout::preferences))
        .merge(assets::routes())
        // The code view and its assets (decision 0056).
        .merge(editor::routes())
        .layer(axum::middleware::from_fn(layout::security_headers))
        .with_state(dashboard)
}

/// Makes a setup link if there is no account yet (the first start): returns its secret, to
/// print as `http://LISTEN/setup/SECRET`; `None` when an account exists.
pub async fn first_start_link(store: &Store) -> Result<Option<String>, ferrogram_store::Error> {
    if store.account_count().await? > 0 {
        return Ok(None);
    }
    let lifetime = i64::try_from(SETUP_LINK_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    let link = store.create_link(ferrogram_store::LinkKind::Setup, lifetime).await?;
    Ok(link.map(|link| link.secret))
}
