//! The dashboard's bots pages over real HTTP against the listener, on a real SQLite store with
//! a secret key, tokens checked against a real sandbox: a new bot from a template with its
//! token (stored sealed, never shown), from a bad file or token (errors next to the fields,
//! nothing saved), the list with its status and sparkline, start and stop, delete after its
//! confirmation, the history's side-by-side diff and rollback (a stale page is told, not
//! obeyed); and the refusals: a viewer's change (403, and no buttons), a form without its CSRF
//! token (403), another workspace (404). Every change is in the audit log as the API's are, and
//! the audit page shows it. API tokens: made by an admin, the secret shown once, revoked.

mod host;
mod person;

use std::sync::Arc;

use ferrogram_engine::{Engine, EngineConfig};
use ferrogram_server::bots::Status;
use ferrogram_server::dashboard::Dashboard;
use ferrogram_server::{Api, Listening, Routes};
use ferrogram_store::{BOT_TOKEN, Role, SecretKey, Store};
use host::Host;
use person::person;
use reqwest::multipart::Form;

struct Site {
    store: Arc<Store>,
    host: Arc<Host>,
    base: String,
    http: reqwest::Client,
    home: i64,
    away: i64,
    /// `fg_session=…` cookie and CSRF token of each role in `home`.
    admin: (String, String),
    editor: (String, String),
    viewer: (String, String),
    _listening: Listening,
    _sandbox: ferrogram_sandbox::Sandbox,
    path: std::path::PathBuf,
}

impl Site {
    async fn start() -> Site {
        let path =
            std::env::temp_dir().join(format!("ferrogram-dashbots-{}-{}.db", std::process::id(), fastrand::u64(..)));
        let store = Store::open(&format!("sqlite://{}", path.display())).await.expect("store");
        let store = Arc::new(store.with_secret_key(SecretKey::generate().unwrap()));
        let sandbox = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox");
        let home = store.create_workspace("home").await.unwrap();
        let away = store.create_workspace("away").await.unwrap();
        let admin = person(&store, "ada@example.org", &[(home, Role::Admin)]).await.0;
        let editor = person(&store, "ed@example.org", &[(home, Role::Editor), (away, Role::Viewer)]).await.0;
        let viewer = person(&store, "vi@example.org", &[(home, Role::Viewer)]).await.0;
        let host = Host::new(Arc::clone(&store), sandbox.url());
        let api = Api { store: Arc::clone(&store), bots: host.clone(), hooks: Default::default() };
        let dashboard = Dashboard::new(Arc::clone(&store), false).with_api(api.clone());
        let engine = Arc::new(Engine::new(EngineConfig::default()));
        let routes = Routes { api: Some(api), dashboard: Some(dashboard), ..Routes::default() };
        let listening = ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), engine, routes).await.unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Site {
            store,
            host,
            base: format!("http://{}", listening.addr()),
            http,
            home,
            away,
            admin,
            editor,
            viewer,
            _listening: listening,
            _sandbox: sandbox,
            path,
        }
    }

    async fn get(&self, who: &(String, String), path: &str) -> (u16, String) {
        let response = self.http.get(format!("{}{path}", self.base)).header("cookie", &who.0).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A form POST with the person's CSRF token (`with_csrf`) or without it.
    async fn post(
        &self,
        who: &(String, String),
        path: &str,
        fields: &[(&str, &str)],
        with_csrf: bool,
    ) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if with_csrf {
            form.push(("csrf", &who.1));
        }
        let response =
            self.http.post(format!("{}{path}", self.base)).header("cookie", &who.0).form(&form).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The new-bot form, sent as a browser does (multipart).
    async fn create(
        &self,
        who: &(String, String),
        fields: &[(&str, &str)],
        file: Option<(&str, &str)>,
    ) -> (u16, String) {
        let mut form = Form::new().text("csrf", who.1.clone());
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        if let Some((file_name, text)) = file {
            let part = reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(file_name.to_owned());
            form = form.part("file", part);
        }
        let url = format!("{}/w/{}/bots/new", self.base, self.home);
        let response = self.http.post(url).header("cookie", &who.0).multipart(form).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn actions(&self) -> Vec<(String, String)> {
        let log = self.store.audit_log(self.home, 100).await.unwrap();
        log.into_iter().rev().map(|e| (e.action, e.actor)).collect()
    }

    async fn stop(self) {
        self.store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

const TOKEN: &str = "7001:dashboard-secret-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_creates_a_bot_from_a_template_with_a_token_that_is_never_shown_again() {
    let site = Site::start().await;
    let bots = format!("/w/{}/bots", site.home);
    let (status, form) = site.get(&site.editor, &format!("{bots}/new")).await;
    assert_eq!(status, 200);
    assert!(form.contains("value=\"template:menu-form\"") && form.contains("A menu with inline buttons"), "{form}");

    let (status, _) = site
        .create(
            &site.editor,
            &[("name", "shop"), ("origin", "template:menu-form"), ("token", TOKEN), ("start_now", "1")],
            None,
        )
        .await;
    assert_eq!(status, 303);
    let bot = site.store.bot_named(site.home, "shop").await.unwrap().expect("created");
    let stored = site.store.secret(site.home, Some(bot.id), BOT_TOKEN).await.unwrap();
    assert_eq!(stored.as_deref(), Some(TOKEN), "stored sealed as the bot's token");
    let source = site.store.current_version(site.home, bot.id).await.unwrap().unwrap().source;
    assert!(source.contains("name: menu-form"));
    assert_eq!(site.host.state(site.home, "shop"), Some(Status::Running), "started at once");

    let (status, list) = site.get(&site.editor, &bots).await;
    assert_eq!(status, 200);
    assert!(list.contains("data-bot=\"shop\"") && list.contains("status-running"), "{list}");
    assert!(list.contains("<svg class=\"spark\" role=\"img\""), "{list}");
    assert!(!list.contains("dashboard-secret-token"));
    for page in [format!("{bots}/new"), format!("{bots}/shop")] {
        assert!(!site.get(&site.editor, &page).await.1.contains("dashboard-secret-token"), "{page}");
    }

    // A name taken, a token the Bot API refuses, a file with errors: the field says why,
    // nothing is saved, the token is not put back.
    let (status, page) = site.create(&site.editor, &[("name", "shop"), ("origin", "scratch")], None).await;
    assert_eq!(status, 409);
    assert!(page.contains("id=\"name-error\""), "{page}");
    let refused = "7001:another-secret";
    let (status, page) =
        site.create(&site.editor, &[("name", "other"), ("origin", "scratch"), ("token", refused)], None).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"token-error\"") && !page.contains(refused), "{page}");
    let broken = "ferrogram: 1\nbot:\n  name: broken\non:\n  - command: start\n    do:\n      - goto: nowhere\n";
    let (status, page) =
        site.create(&site.editor, &[("name", "broken"), ("origin", "upload")], Some(("b.yaml", broken))).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"origin-error\"") && page.contains("line 7, column"), "{page}");
    let names: Vec<_> = site.store.bots(site.home).await.unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["shop"], "nothing saved by the refused forms");

    // From scratch and from an uploaded JSON file: valid files, no token (the sandbox).
    let (status, _) = site.create(&site.editor, &[("name", "fresh"), ("origin", "scratch")], None).await;
    assert_eq!(status, 303);
    let json = r#"{"ferrogram": 1, "bot": {"name": "up"}, "on": [{"command": "start", "do": [{"reply": "hi"}]}]}"#;
    let (status, page) =
        site.create(&site.editor, &[("name", "up"), ("origin", "upload")], Some(("up.json", json))).await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(site.host.state(site.home, "fresh"), Some(Status::Stopped), "not started unless asked");

    let actions = site.actions().await;
    let creates: Vec<_> = actions.iter().filter(|(a, _)| a == "bot.create").collect();
    assert_eq!(creates.len(), 3);
    assert!(actions.iter().any(|(a, actor)| a == "bot.start" && actor.starts_with("account:")), "{actions:?}");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_stop_and_delete_are_refused_to_a_viewer_without_csrf_and_in_another_workspace() {
    let site = Site::start().await;
    let bots = format!("/w/{}/bots", site.home);
    assert_eq!(
        site.create(&site.editor, &[("name", "shop"), ("origin", "template:hello"), ("start_now", "1")], None).await.0,
        303
    );
    let stop = format!("{bots}/shop/stop");

    // The viewer sees the bot, no button, and is refused anyway.
    let (status, list) = site.get(&site.viewer, &bots).await;
    assert_eq!(status, 200);
    assert!(
        list.contains("data-bot=\"shop\"") && !list.contains("/shop/stop") && !list.contains("/bots/new"),
        "{list}"
    );
    assert_eq!(site.post(&site.viewer, &stop, &[], true).await.0, 403);
    assert_eq!(site.get(&site.viewer, &format!("{bots}/new")).await.0, 403);
    assert_eq!(site.get(&site.editor, &format!("{bots}/shop/delete")).await.0, 403, "delete is the admins'");
    assert_eq!(site.post(&site.editor, &format!("{bots}/shop/delete"), &[], true).await.0, 403);
    // No CSRF token: refused, nothing done.
    assert_eq!(site.post(&site.editor, &stop, &[], false).await.0, 403);
    assert_eq!(site.host.state(site.home, "shop"), Some(Status::Running));
    // Another workspace, or one the person is not in: 404.
    assert_eq!(site.get(&site.admin, &format!("/w/{}/bots", site.away)).await.0, 404);
    assert_eq!(site.post(&site.admin, &format!("/w/{}/bots/shop/stop", site.away), &[], true).await.0, 404);
    assert_eq!(site.post(&site.editor, &format!("/w/{}/bots/shop/stop", site.away), &[], true).await.0, 403);
    assert_eq!(site.get(&site.editor, &format!("{bots}/nobody")).await.0, 404);

    // The editor stops and starts it; the admin deletes it after the confirmation.
    assert_eq!(site.post(&site.editor, &stop, &[], true).await.0, 303);
    assert_eq!(site.host.state(site.home, "shop"), Some(Status::Stopped));
    assert!(site.get(&site.editor, &bots).await.1.contains("status-stopped"));
    assert_eq!(site.post(&site.editor, &format!("{bots}/shop/start"), &[], true).await.0, 303);
    let (status, confirm) = site.get(&site.admin, &format!("{bots}/shop/delete")).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("name=\"keep_data\""), "{confirm}");
    assert_eq!(site.post(&site.admin, &format!("{bots}/shop/delete"), &[], false).await.0, 403);
    assert_eq!(site.post(&site.admin, &format!("{bots}/shop/delete"), &[], true).await.0, 303);
    assert!(site.store.bot_named(site.home, "shop").await.unwrap().is_none());

    let actions = site.actions().await;
    let names: Vec<_> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(names, ["bot.create", "bot.start", "bot.stop", "bot.start", "bot.remove"]);

    // The audit page: any role reads it, by the people's names, filtered; not another's.
    let audit = format!("/w/{}/audit", site.home);
    let (status, page) = site.get(&site.viewer, &audit).await;
    assert_eq!(status, 200);
    assert!(page.contains("<code>bot.remove</code>") && page.contains("ada <span"), "{page}");
    let (_, page) = site.get(&site.viewer, &format!("{audit}?action=bot.stop")).await;
    assert_eq!((page.matches("<code>bot.stop</code>").count(), page.contains("<code>bot.start</code>")), (1, false));
    assert_eq!(site.get(&site.admin, &format!("/w/{}/audit", site.away)).await.0, 404);
    assert_eq!(site.get(&site.viewer, &format!("{audit}?cursor=nonsense")).await.0, 400);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sparkline_counts_the_inbox_of_the_last_24_hours() {
    let site = Site::start().await;
    assert_eq!(site.create(&site.editor, &[("name", "busy"), ("origin", "template:hello")], None).await.0, 303);
    let bot = site.store.bot_named(site.home, "busy").await.unwrap().unwrap();
    site.store.set_bot_telegram(site.home, bot.id, Some(4242)).await.unwrap();
    for update in 1..=3 {
        site.store.inbox_put(4242, update, "{}").await.unwrap();
    }
    let (_, list) = site.get(&site.viewer, &format!("/w/{}/bots", site.home)).await;
    assert!(list.contains("<title>3 updates in the last 24 hours</title>"), "{list}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let counts = site.store.inbox_hourly(4242, (now / 3600 - 23) * 3600, 24).await.unwrap();
    assert_eq!((counts.len(), counts[23]), (24, 3));
    assert_eq!(counts.iter().sum::<i64>(), 3);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_shows_who_and_a_side_by_side_diff_and_a_stale_rollback_is_told() {
    let site = Site::start().await;
    assert_eq!(site.create(&site.editor, &[("name", "shop"), ("origin", "template:hello")], None).await.0, 303);
    let bot = site.store.bot_named(site.home, "shop").await.unwrap().unwrap();
    let v1 = site.store.current_version(site.home, bot.id).await.unwrap().unwrap().source;
    let v2 = v1.replace("You said", "You wrote");
    site.store.save_version(site.home, bot.id, &v2).await.unwrap();
    let page_path = format!("/w/{}/bots/shop", site.home);

    let (status, page) = site.get(&site.viewer, &page_path).await;
    assert_eq!(status, 200);
    assert!(page.contains("<td>ed</td>"), "v1's author by name: {page}");
    assert!(page.contains("class=\"changed\"") && page.contains("You wrote") && page.contains("You said"), "{page}");
    assert!(!page.contains("/rollback"), "no rollback button for a viewer");
    assert_eq!(
        site.post(&site.viewer, &format!("{page_path}/rollback"), &[("version", "1"), ("etag", "\"v2\"")], true)
            .await
            .0,
        403
    );

    // The editor's page showed v2; someone saves v3 meanwhile: the rollback is refused and told.
    let (_, editor_page) = site.get(&site.editor, &page_path).await;
    assert!(editor_page.contains("name=\"etag\" value=\"&quot;v2&quot;\""), "{editor_page}");
    site.store.save_version(site.home, bot.id, &format!("{v2}\n# v3\n")).await.unwrap();
    let (status, told) =
        site.post(&site.editor, &format!("{page_path}/rollback"), &[("version", "1"), ("etag", "\"v2\"")], true).await;
    assert_eq!(status, 412);
    assert!(told.contains("id=\"notice\"") && told.contains("version 3"), "{told}");
    assert_eq!(site.store.versions(site.home, bot.id).await.unwrap().len(), 3, "nothing overwritten");
    assert_eq!(
        site.post(&site.editor, &format!("{page_path}/rollback"), &[("version", "1"), ("etag", "\"v3\"")], false)
            .await
            .0,
        403
    );
    let (status, _) =
        site.post(&site.editor, &format!("{page_path}/rollback"), &[("version", "1"), ("etag", "\"v3\"")], true).await;
    assert_eq!(status, 303);
    let newest = site.store.current_version(site.home, bot.id).await.unwrap().unwrap();
    assert_eq!((newest.version, newest.source), (4, v1));
    let (_, page) = site.get(&site.viewer, &format!("{page_path}?from=1&to=4")).await;
    assert!(page.contains("The two versions are the same."), "{page}");
    assert_eq!(site.get(&site.viewer, &format!("{page_path}?from=9")).await.0, 404);
    assert!(site.actions().await.iter().any(|(a, actor)| a == "bot.rollback" && actor.starts_with("account:")));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_makes_a_token_seen_once_and_revokes_it_others_cannot() {
    let site = Site::start().await;
    let tokens = format!("/w/{}/tokens", site.home);
    assert_eq!(site.get(&site.editor, &tokens).await.0, 403, "tokens are the admins', as in the API");
    assert_eq!(site.post(&site.editor, &tokens, &[("name", "ci"), ("role", "viewer")], true).await.0, 403);
    assert_eq!(site.post(&site.admin, &tokens, &[("name", "ci"), ("role", "viewer")], false).await.0, 403);
    assert_eq!(site.get(&site.admin, &format!("/w/{}/tokens", site.away)).await.0, 404);
    let (status, page) = site.post(&site.admin, &tokens, &[("name", " "), ("role", "owner")], true).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"token-name-error\"") && page.contains("id=\"token-role-error\""), "{page}");
    assert!(site.store.tokens(site.home).await.unwrap().is_empty(), "nothing issued");

    let (status, page) = site.post(&site.admin, &tokens, &[("name", "ci"), ("role", "viewer")], true).await;
    assert_eq!(status, 201);
    let start = page.find("<code class=\"secret\">").expect("the secret shown") + "<code class=\"secret\">".len();
    let secret = page[start..].split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("fg_"), "{secret}");
    assert!(site.store.verify_token(&secret).await.unwrap().is_some(), "the shown secret works");
    assert!(!site.get(&site.admin, &tokens).await.1.contains(&secret), "never shown again");
    let id = site.store.tokens(site.home).await.unwrap()[0].id.to_string();
    assert_eq!(site.post(&site.admin, &format!("{tokens}/revoke"), &[("token", &id)], false).await.0, 403);
    assert_eq!(site.post(&site.admin, &format!("{tokens}/revoke"), &[("token", &id)], true).await.0, 303);
    assert!(site.store.verify_token(&secret).await.unwrap().is_none(), "revoked");
    let names: Vec<_> = site.actions().await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(names, ["token.create", "token.revoke"]);
    site.stop().await;
}
