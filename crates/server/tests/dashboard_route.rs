//! The dashboard's sign-in layer over real HTTP against the listener, on a real SQLite store
//! (a temporary file): the setup link works once, signing in with right and wrong passwords,
//! the limit of failed sign-ins (429 with `Retry-After`), CSRF (a form without its token is a
//! 403 that changes nothing), sign-out everywhere, the cookie's flags, the session check the
//! API's extractor uses, the assets' caching, and the language.

use std::sync::Arc;
use std::time::Duration;

use ferrogram_engine::{Engine, EngineConfig};
use ferrogram_server::dashboard::{self, Dashboard, session_access};
use ferrogram_server::{Listening, Routes};
use ferrogram_store::{Role, Store, hash_password};
use reqwest::header::{HeaderMap, SET_COOKIE};

const PASSWORD: &str = "a long enough password";

struct Site {
    store: Arc<Store>,
    base: String,
    http: reqwest::Client,
    listening: Listening,
    path: std::path::PathBuf,
}

impl Site {
    async fn start(secure: bool, attempts: usize) -> Site {
        let path =
            std::env::temp_dir().join(format!("ferrogram-dashboard-{}-{}.db", std::process::id(), fastrand_id()));
        let store = Arc::new(Store::open(&format!("sqlite://{}", path.display())).await.expect("store"));
        let engine = Arc::new(Engine::new(EngineConfig::default()));
        let dashboard = Dashboard::with_limits(Arc::clone(&store), secure, attempts, Duration::from_secs(900));
        let routes = Routes { dashboard: Some(dashboard), ..Routes::default() };
        let listening = ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), engine, routes).await.unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Site { store, base: format!("http://{}", listening.addr()), http, listening, path }
    }

    async fn stop(self) {
        self.listening.stop();
        self.store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }

    async fn get(&self, path: &str, cookies: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).header("cookie", cookies).send().await.unwrap()
    }

    async fn post(&self, path: &str, cookies: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.base)).header("cookie", cookies).form(form).send().await.unwrap()
    }

    /// The anonymous form's token cookie and value, from a GET of `path`.
    async fn form_token(&self, path: &str) -> (String, String) {
        let response = self.get(path, "").await;
        assert_eq!(response.status(), 200, "{path}");
        let cookie = set_cookie(response.headers(), "fg_form").expect("a form cookie");
        let html = response.text().await.unwrap();
        (format!("fg_form={cookie}"), hidden(&html, "form_token"))
    }

    /// Signs in; returns the session cookie (`name=value`).
    async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        let (cookie, token) = self.form_token("/sign-in").await;
        self.post("/sign-in", &cookie, &[("email", email), ("password", password), ("form_token", &token)]).await
    }

    async fn session(&self, email: &str) -> String {
        let response = self.sign_in(email, PASSWORD).await;
        assert_eq!(response.status(), 303);
        format!("fg_session={}", set_cookie(response.headers(), "fg_session").expect("a session cookie"))
    }

    async fn account(&self, email: &str) -> i64 {
        let hash = hash_password(PASSWORD).await.unwrap();
        self.store.create_account(email, "Ann", &hash).await.unwrap().unwrap().id
    }
}

fn fastrand_id() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The value of the cookie `name` set by the answer.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    full_set_cookie(headers, name).map(|line| line.split(';').next().unwrap().split_once('=').unwrap().1.to_owned())
}

/// The whole `Set-Cookie` line of the cookie `name`.
fn full_set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|line| line.starts_with(&format!("{name}=")))
}

/// The value of the hidden input `name` in `html`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_setup_link_creates_the_owner_once() {
    let site = Site::start(false, 5).await;
    let acme = site.store.create_workspace("Acme").await.unwrap();
    let secret = dashboard::first_start_link(&site.store).await.unwrap().expect("no account yet: a link");
    let path = format!("/setup/{secret}");
    let (cookie, token) = site.form_token(&path).await;
    let form = |password_again: &'static str| {
        vec![
            ("email", "Owner@Example.org"),
            ("name", "Olga"),
            ("password", PASSWORD),
            ("password_again", password_again),
        ]
    };
    // Wrong fields: the form again, nothing created, the link still usable.
    let mut differ = form("another password!!");
    differ.push(("form_token", &token));
    let response = site.post(&path, &cookie, &differ).await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains("The two passwords differ.") && html.contains("Owner@Example.org"), "{html}");
    let mut short =
        vec![("email", "o@example.org"), ("name", "Olga"), ("password", "short"), ("password_again", "short")];
    short.push(("form_token", &token));
    assert_eq!(site.post(&path, &cookie, &short).await.status(), 400);
    assert_eq!(site.store.account_count().await.unwrap(), 0);
    // Without the form's token: 403.
    assert_eq!(site.post(&path, &cookie, &form(PASSWORD)).await.status(), 403);
    assert_eq!(site.store.account_count().await.unwrap(), 0);

    let mut good = form(PASSWORD);
    good.push(("form_token", &token));
    let response = site.post(&path, &cookie, &good).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
    let session = format!("fg_session={}", set_cookie(response.headers(), "fg_session").expect("signed in"));
    let owner = site.store.account_by_email("owner@example.org").await.unwrap().expect("created");
    assert_eq!(owner.display_name, "Olga");
    let memberships = site.store.memberships(owner.id).await.unwrap();
    assert_eq!(memberships.iter().map(|m| (m.workspace, m.role)).collect::<Vec<_>>(), [(acme, Role::Owner)]);
    assert_eq!(site.store.audit_log(acme, 10).await.unwrap()[0].action, "account.setup");
    let home = site.get("/", &session).await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains("Hello, Olga") && html.contains("Acme") && html.contains("owner"), "{html}");

    // Used: the link is gone, and posting it again creates nothing.
    assert_eq!(site.get(&path, "").await.status(), 404);
    let mut again =
        vec![("email", "x@example.org"), ("name", "X"), ("password", PASSWORD), ("password_again", PASSWORD)];
    again.push(("form_token", &token));
    assert_eq!(site.post(&path, &cookie, &again).await.status(), 404);
    assert_eq!(site.store.account_count().await.unwrap(), 1);
    // With an account, no new link is made.
    assert_eq!(dashboard::first_start_link(&site.store).await.unwrap(), None);
    site.stop().await;
}

#[tokio::test]
async fn a_setup_link_without_workspaces_makes_a_default_one() {
    let site = Site::start(false, 5).await;
    let secret = dashboard::first_start_link(&site.store).await.unwrap().unwrap();
    let path = format!("/setup/{secret}");
    let (cookie, token) = site.form_token(&path).await;
    let form = [
        ("email", "o@example.org"),
        ("name", "O"),
        ("password", PASSWORD),
        ("password_again", PASSWORD),
        ("form_token", &token),
    ];
    assert_eq!(site.post(&path, &cookie, &form).await.status(), 303);
    let workspaces = site.store.workspaces().await.unwrap();
    assert_eq!(workspaces.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), [dashboard::FIRST_WORKSPACE]);
    assert_eq!(site.get("/setup/made-up", "").await.status(), 404);
    site.stop().await;
}

#[tokio::test]
async fn sign_in_with_right_and_wrong_passwords() {
    let site = Site::start(false, 5).await;
    site.account("ann@example.org").await;
    // Signed out, pages lead to the sign-in form, coming back after.
    let response = site.get("/account/sessions", "").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/sign-in?next=%2Faccount%2Fsessions");

    let wrong = site.sign_in("ann@example.org", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(full_set_cookie(wrong.headers(), "fg_session").is_none());
    assert!(wrong.text().await.unwrap().contains("Wrong email or password."));
    let unknown = site.sign_in("bob@example.org", PASSWORD).await;
    assert_eq!(unknown.status(), 401, "an unknown email is answered as a wrong password");
    assert!(unknown.text().await.unwrap().contains("Wrong email or password."));

    let right = site.sign_in("ANN@example.org", PASSWORD).await;
    assert_eq!(right.status(), 303);
    assert_eq!(right.headers()["location"], "/");
    let line = full_set_cookie(right.headers(), "fg_session").unwrap();
    assert!(line.contains("; HttpOnly") && line.contains("; SameSite=Lax") && line.contains("; Path=/"), "{line}");
    assert!(!line.contains("Secure"), "plain http: {line}");
    let session = format!("fg_session={}", set_cookie(right.headers(), "fg_session").unwrap());
    assert_eq!(site.get("/account/sessions", &session).await.status(), 200);
    // A made-up cookie is no session.
    assert_eq!(site.get("/", "fg_session=made-up").await.status(), 303);
    // Signing in again from a browser with a session ends that one: a new secret each time.
    let (form_cookie, token) = site.form_token("/sign-in").await;
    let again = site
        .post(
            "/sign-in",
            &format!("{form_cookie}; {session}"),
            &[("email", "ann@example.org"), ("password", PASSWORD), ("form_token", &token)],
        )
        .await;
    assert_eq!(again.status(), 303);
    let renewed = format!("fg_session={}", set_cookie(again.headers(), "fg_session").unwrap());
    assert_ne!(renewed, session);
    assert_eq!(site.get("/", &session).await.status(), 303, "the old session ended");
    assert_eq!(site.get("/", &renewed).await.status(), 200);
    site.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_account_and_address() {
    let site = Site::start(false, 3).await;
    site.account("ann@example.org").await;
    site.account("bob@example.org").await;
    for _ in 0..3 {
        assert_eq!(site.sign_in("ann@example.org", "wrong password!").await.status(), 401);
    }
    // The fourth attempt is refused before checking, even with the right password.
    let limited = site.sign_in("ann@example.org", PASSWORD).await;
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    assert!(limited.text().await.unwrap().contains("Too many failed attempts"));
    // The address is limited too: another account from here waits as well.
    assert_eq!(site.sign_in("bob@example.org", PASSWORD).await.status(), 429);
    // Nobody was signed in meanwhile.
    assert!(site.store.sessions(1).await.unwrap().is_empty());
    site.stop().await;
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused_and_change_nothing() {
    let site = Site::start(false, 5).await;
    let ann = site.account("ann@example.org").await;
    let here = site.session("ann@example.org").await;
    let there = site.session("ann@example.org").await;
    assert_eq!(site.store.sessions(ann).await.unwrap().len(), 2);

    // Sign out everywhere: no token, a wrong one in the form, a wrong one in the header.
    assert_eq!(site.post("/account/sessions/sign-out-everywhere", &here, &[]).await.status(), 403);
    assert_eq!(site.post("/account/sessions/sign-out-everywhere", &here, &[("csrf", "guess")]).await.status(), 403);
    let with_header = site
        .http
        .post(format!("{}/account/sessions/sign-out-everywhere", site.base))
        .header("cookie", &here)
        .header("x-csrf-token", "guess")
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 403);
    // Another session's token is not this one's.
    let theirs = hidden(&site.get("/account/sessions", &there).await.text().await.unwrap(), "csrf");
    assert_eq!(site.post("/account/sessions/sign-out-everywhere", &here, &[("csrf", &theirs)]).await.status(), 403);
    assert_eq!(site.post("/sign-out", &here, &[]).await.status(), 403);
    let one = site.store.sessions(ann).await.unwrap()[0].id.to_string();
    assert_eq!(site.post("/account/sessions/revoke", &here, &[("session", &one)]).await.status(), 403);
    assert_eq!(site.store.sessions(ann).await.unwrap().len(), 2, "nothing changed");
    assert_eq!(site.get("/", &here).await.status(), 200);
    assert_eq!(site.get("/", &there).await.status(), 200);

    // The sign-in form without its token: 403, and no session opened.
    let response =
        site.post("/sign-in", "", &[("email", "ann@example.org"), ("password", PASSWORD), ("form_token", "x")]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(site.store.sessions(ann).await.unwrap().len(), 2);
    // Without a session, a change is 401.
    assert_eq!(site.post("/sign-out", "", &[("csrf", &theirs)]).await.status(), 401);
    site.stop().await;
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session() {
    let site = Site::start(false, 5).await;
    let ann = site.account("ann@example.org").await;
    let here = site.session("ann@example.org").await;
    let phone = site.session("ann@example.org").await;
    let laptop = site.session("ann@example.org").await;
    let page = site.get("/account/sessions", &here).await.text().await.unwrap();
    assert_eq!(page.matches("<tr>").count(), 1 + 3, "a header row and three sessions: {page}");
    let csrf = hidden(&page, "csrf");

    // One, with htmx: the list comes back without it.
    // Opened second, so the second smallest id.
    let mut ids: Vec<i64> = site.store.sessions(ann).await.unwrap().iter().map(|s| s.id).collect();
    ids.sort_unstable();
    let phone_id = ids[1];
    let revoke = site
        .http
        .post(format!("{}/account/sessions/revoke", site.base))
        .header("cookie", &here)
        .header("hx-request", "true")
        .header("x-csrf-token", &csrf)
        .form(&[("session", phone_id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    let fragment = revoke.text().await.unwrap();
    assert!(fragment.starts_with("<div id=\"session-list\">") && fragment.matches("<tr>").count() == 3, "{fragment}");
    assert_eq!(site.get("/", &phone).await.status(), 303, "the revoked session is signed out");

    // Everywhere: this one and the laptop.
    let response = site.post("/account/sessions/sign-out-everywhere", &here, &[("csrf", &csrf)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/sign-in");
    assert!(full_set_cookie(response.headers(), "fg_session").unwrap().contains("Max-Age=0"));
    assert_eq!(site.get("/", &laptop).await.status(), 303);
    assert_eq!(site.get("/", &here).await.status(), 303);
    assert!(site.store.sessions(ann).await.unwrap().is_empty());

    // Sign-out ends only this session.
    let a = site.session("ann@example.org").await;
    let b = site.session("ann@example.org").await;
    let csrf = hidden(&site.get("/", &a).await.text().await.unwrap(), "csrf");
    assert_eq!(site.post("/sign-out", &a, &[("csrf", &csrf)]).await.status(), 303);
    assert_eq!(site.get("/", &a).await.status(), 303);
    assert_eq!(site.get("/", &b).await.status(), 200);
    site.stop().await;
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_host_only() {
    let site = Site::start(true, 5).await;
    site.account("ann@example.org").await;
    let (form_cookie, token) = site.form_token("/sign-in").await;
    let response = site
        .post("/sign-in", &form_cookie, &[("email", "ann@example.org"), ("password", PASSWORD), ("form_token", &token)])
        .await;
    assert_eq!(response.status(), 303);
    let line = full_set_cookie(response.headers(), "__Host-fg_session").expect("the __Host- name");
    assert!(line.ends_with("; HttpOnly; SameSite=Lax; Secure") && line.contains("; Path=/"), "{line}");
    assert!(!line.contains("Domain"), "{line}");
    let secret = set_cookie(response.headers(), "__Host-fg_session").unwrap();
    assert_eq!(site.get("/", &format!("__Host-fg_session={secret}")).await.status(), 200);
    site.stop().await;
}

#[tokio::test]
async fn the_api_checks_a_session_and_its_csrf_header() {
    let site = Site::start(false, 5).await;
    let ann = site.account("ann@example.org").await;
    let acme = site.store.create_workspace("Acme").await.unwrap();
    site.store.set_member(acme, ann, Role::Editor).await.unwrap();
    let cookie = site.session("ann@example.org").await;
    let secret = cookie.split_once('=').unwrap().1;
    let csrf = hidden(&site.get("/", &cookie).await.text().await.unwrap(), "csrf");

    let credential = session_access(&site.store, secret, Some(&csrf)).await.expect("a live session");
    assert_eq!(credential.access.account.id, ann);
    assert!(credential.csrf_verified);
    assert_eq!(
        credential.memberships.iter().map(|m| (m.workspace, m.role)).collect::<Vec<_>>(),
        [(acme, Role::Editor)]
    );
    assert!(!session_access(&site.store, secret, Some("wrong")).await.unwrap().csrf_verified);
    assert!(!session_access(&site.store, secret, None).await.unwrap().csrf_verified);
    assert!(session_access(&site.store, "made-up", Some(&csrf)).await.is_none());
    site.stop().await;
}

#[tokio::test]
async fn assets_are_cached_and_pages_are_not() {
    let site = Site::start(false, 5).await;
    let page = site.get("/sign-in", "").await;
    assert_eq!(page.headers()["cache-control"], "no-store");
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    // minijinja escapes `/` in attributes as `&#x2f;`, which browsers read back as `/`.
    let html = page.text().await.unwrap().replace("&#x2f;", "/");
    let css = html.split("href=\"/assets/dashboard-").nth(1).unwrap().split('"').next().unwrap();
    for (path, kind) in
        [("/assets/htmx-2.0.11.min.js".to_owned(), "text/javascript"), (format!("/assets/dashboard-{css}"), "text/css")]
    {
        assert!(html.contains(&path), "{path} linked");
        let asset = site.get(&path, "").await;
        assert_eq!(asset.status(), 200, "{path}");
        assert!(asset.headers()["content-type"].to_str().unwrap().starts_with(kind));
        assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert!(asset.bytes().await.unwrap().len() > 1000);
    }
    site.stop().await;
}

#[tokio::test]
async fn the_language_follows_the_browser_and_the_switch() {
    let site = Site::start(false, 5).await;
    let get = |lang: &'static str, cookie: &'static str| {
        site.http.get(format!("{}/sign-in", site.base)).header("accept-language", lang).header("cookie", cookie).send()
    };
    let russian = get("ru-RU,ru;q=0.9,en;q=0.5", "").await.unwrap().text().await.unwrap();
    assert!(russian.contains("<html lang=\"ru\"") && russian.contains("Войти"), "{russian}");
    let english = get("ru-RU,ru;q=0.9", "fg_lang=en").await.unwrap().text().await.unwrap();
    assert!(english.contains("<html lang=\"en\"") && english.contains("Sign in"));
    let switch = site.get("/preferences?lang=ru&theme=dark&next=/sign-in", "").await;
    assert_eq!(switch.status(), 303);
    assert_eq!(switch.headers()["location"], "/sign-in");
    assert_eq!(set_cookie(switch.headers(), "fg_lang").as_deref(), Some("ru"));
    assert_eq!(set_cookie(switch.headers(), "fg_theme").as_deref(), Some("dark"));
    let dark = get("en", "fg_theme=dark").await.unwrap().text().await.unwrap();
    assert!(dark.contains("data-theme=\"dark\""));
    // Never away from this site.
    let away = site.get("/preferences?lang=en&next=//evil.example/", "").await;
    assert_eq!(away.headers()["location"], "/");
    site.stop().await;
}

#[tokio::test]
async fn an_invite_link_creates_a_member_once() {
    let site = Site::start(false, 5).await;
    let shop = site.store.create_workspace("Shop").await.unwrap();
    site.account("ann@example.org").await;
    let invite = site
        .store
        .create_link(ferrogram_store::LinkKind::Invite { workspace: shop, role: Role::Editor }, 3600)
        .await
        .unwrap()
        .unwrap();
    let path = format!("/invite/{}", invite.secret);
    let (cookie, token) = site.form_token(&path).await;
    let page = site.get(&path, "").await.text().await.unwrap();
    assert!(page.contains("Join a workspace") && page.contains("Shop") && page.contains("editor"), "{page}");
    // An email with an account: refused, the link stays usable.
    let taken = [
        ("email", "ANN@example.org"),
        ("name", "Ann"),
        ("password", PASSWORD),
        ("password_again", PASSWORD),
        ("form_token", &token),
    ];
    let response = site.post(&path, &cookie, &taken).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("exists already"));
    let form = [
        ("email", "bob@example.org"),
        ("name", "Bob"),
        ("password", PASSWORD),
        ("password_again", PASSWORD),
        ("form_token", &token),
    ];
    let response = site.post(&path, &cookie, &form).await;
    assert_eq!(response.status(), 303);
    let session = format!("fg_session={}", set_cookie(response.headers(), "fg_session").unwrap());
    let bob = site.store.account_by_email("bob@example.org").await.unwrap().unwrap();
    let roles = site.store.memberships(bob.id).await.unwrap();
    assert_eq!(roles.iter().map(|m| (m.workspace, m.role)).collect::<Vec<_>>(), [(shop, Role::Editor)]);
    assert!(site.get("/", &session).await.text().await.unwrap().contains("Shop"));
    // Once only; a setup link is not an invite.
    assert_eq!(site.get(&path, "").await.status(), 404);
    let again = [
        ("email", "eve@example.org"),
        ("name", "Eve"),
        ("password", PASSWORD),
        ("password_again", PASSWORD),
        ("form_token", &token),
    ];
    assert_eq!(site.post(&path, &cookie, &again).await.status(), 404);
    assert_eq!(site.store.accounts().await.unwrap().len(), 2);
    let setup = site.store.create_link(ferrogram_store::LinkKind::Setup, 3600).await.unwrap().unwrap();
    assert_eq!(site.get(&format!("/invite/{}", setup.secret), "").await.status(), 404);
    site.stop().await;
}
