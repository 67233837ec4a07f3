//! The dashboard's broadcasts pages over real HTTP against the listener, on a real SQLite store
//! whose bot has seen a few users (with variables): the compose form's live preview (the text
//! rendered for a sample user, the audience count, the buttons), sending (a broadcast made,
//! its page with the progress bar polled while it is live), cancelling it (the bar then stops
//! polling); and the refusals: an empty audience (422, the message next to the field, nothing
//! made), a viewer (sees the list and a broadcast, no form nor buttons; its POSTs are 403), a
//! form without its CSRF token (403, nothing done), another workspace's bot (404). Every change
//! is audited as the API's are. The sending itself is the runner's (tests/broadcasts.rs and
//! the browser test).

// Only its BotControl is used here (not its `state`).
mod host;
mod person;

use std::sync::Arc;

use ferrogram_engine::{Engine, EngineConfig, Scope};
use ferrogram_server::dashboard::Dashboard;
use ferrogram_server::{Api, Listening, Routes};
use ferrogram_store::{Role, Store};
use host::Host;
use person::person;
use serde_json::json;

const NEWS: &str = "ferrogram: 1\nbot: {name: news}\non:\n  - text: any\n    do:\n      - reply: \"noted\"\n";
const BOT_ID: u64 = 6161;

struct Site {
    store: Arc<Store>,
    base: String,
    http: reqwest::Client,
    home: i64,
    away: i64,
    editor: (String, String),
    viewer: (String, String),
    stranger: (String, String),
    _listening: Listening,
    _sandbox: ferrogram_sandbox::Sandbox,
    path: std::path::PathBuf,
}

impl Site {
    async fn start() -> Site {
        let path =
            std::env::temp_dir().join(format!("ferrogram-dashbc-{}-{}.db", std::process::id(), fastrand::u64(..)));
        let store = Arc::new(Store::open(&format!("sqlite://{}", path.display())).await.expect("store"));
        let sandbox = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox");
        let home = store.create_workspace("home").await.unwrap();
        let away = store.create_workspace("away").await.unwrap();
        let editor = person(&store, "ed@example.org", &[(home, Role::Editor)]).await.0;
        let viewer = person(&store, "vi@example.org", &[(home, Role::Viewer)]).await.0;
        let stranger = person(&store, "st@example.org", &[(away, Role::Owner)]).await.0;
        let bot = store.create_bot(home, "news", Some(BOT_ID)).await.unwrap().unwrap();
        store.save_version(home, bot, NEWS).await.unwrap();
        let theirs = store.create_bot(away, "news", Some(BOT_ID + 1)).await.unwrap().unwrap();
        store.save_version(away, theirs, NEWS).await.unwrap();
        // The users the bot has seen: Ann and Bob are on the pro plan, Cid is not.
        for (id, name, plan) in [(101, "Ann", "pro"), (102, "Bob", "pro"), (103, "Cid", "free")] {
            store.remember_user(BOT_ID, &json!({"id": id, "first_name": name})).await.unwrap();
            store.set_var(BOT_ID, Scope::User(id), "plan", Some(&json!(plan))).await.unwrap();
        }
        let host = Host::new(Arc::clone(&store), sandbox.url());
        let api = Api { store: Arc::clone(&store), bots: host, hooks: Default::default() };
        let dashboard = Dashboard::new(Arc::clone(&store), false).with_api(api.clone());
        let engine = Arc::new(Engine::new(EngineConfig::default()));
        let routes = Routes { api: Some(api), dashboard: Some(dashboard), ..Routes::default() };
        let listening = ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), engine, routes).await.unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Site {
            store,
            base: format!("http://{}", listening.addr()),
            http,
            home,
            away,
            editor,
            viewer,
            stranger,
            _listening: listening,
            _sandbox: sandbox,
            path,
        }
    }

    fn page(&self) -> String {
        format!("/w/{}/bots/news/broadcasts", self.home)
    }

    async fn get(&self, who: &(String, String), path: &str) -> (u16, String) {
        let response = self.http.get(format!("{}{path}", self.base)).header("cookie", &who.0).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A form POST with the person's CSRF token (`with_csrf`) or without it; the status, the
    /// `Location` and the body.
    async fn post(
        &self,
        who: &(String, String),
        path: &str,
        fields: &[(&str, &str)],
        with_csrf: bool,
    ) -> (u16, String, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if with_csrf {
            form.push(("csrf", &who.1));
        }
        let response =
            self.http.post(format!("{}{path}", self.base)).header("cookie", &who.0).form(&form).send().await.unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
        (response.status().as_u16(), location, response.text().await.unwrap())
    }

    async fn broadcasts(&self) -> Vec<ferrogram_store::Broadcast> {
        let bot = self.store.bot_named(self.home, "news").await.unwrap().unwrap().id;
        self.store.broadcasts_page(self.home, bot, None, i64::MAX, 100).await.unwrap()
    }

    async fn actions(&self) -> Vec<String> {
        let log = self.store.audit_log(self.home, 100).await.unwrap();
        log.into_iter().rev().map(|e| format!("{} {}", e.action, e.actor)).collect()
    }

    async fn stop(self) {
        self.store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_previews_sends_and_cancels_a_broadcast() {
    let site = Site::start().await;
    let page = site.page();
    let (status, html) = site.get(&site.editor, &page).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"compose\"") && html.contains("No broadcast yet."), "{html}");
    // (minijinja escapes `/` in attributes as `&#x2f;`.)
    let escaped = |path: &str| path.replace('/', "&#x2f;");
    assert!(html.contains("hx-post=") && html.contains("/bots/news/broadcasts/preview\""), "live preview: {html}");

    // The live preview: the text as the audience's first user gets it, the count, the buttons.
    let form = [
        ("text", "Hi {{ from.first_name }}, {{ user.city | default('traveller') }}!"),
        ("buttons", "Shop | https://shop.example\nStop | unsubscribe"),
        ("variables", "plan = pro"),
        ("when", "now"),
    ];
    let (status, _, preview) = site.post(&site.editor, &format!("{page}/preview"), &form, true).await;
    assert_eq!(status, 200, "{preview}");
    assert!(preview.contains("2 users will get it."), "{preview}");
    assert!(preview.contains("Hi Ann, traveller!"), "Ann's own, the fallback for her missing city: {preview}");
    assert!(preview.contains("As Ann (id 101) gets it"), "{preview}");
    assert!(preview.contains("class=\"tg-button\">Shop") && preview.contains("class=\"tg-button\">Stop"), "{preview}");
    let mut for_bob = form.to_vec();
    for_bob.push(("user", "102"));
    let (_, _, preview) = site.post(&site.editor, &format!("{page}/preview"), &for_bob, true).await;
    assert!(preview.contains("Hi Bob, traveller!"), "{preview}");
    // A template that does not compile is told in the preview, without an error status.
    let broken = [("text", "Hi {{ from.first_name "), ("when", "now")];
    let (status, _, preview) = site.post(&site.editor, &format!("{page}/preview"), &broken, true).await;
    assert_eq!(status, 200);
    assert!(preview.contains("data-field=\"text\"") && preview.contains("does not compile"), "{preview}");
    assert!(site.broadcasts().await.is_empty(), "previews make nothing");

    // Sending: the broadcast is made and its page opens, its progress bar live.
    let (status, location, _) = site.post(&site.editor, &page, &form, true).await;
    assert_eq!(status, 303);
    let made = site.broadcasts().await;
    assert_eq!(made.len(), 1);
    assert_eq!((made[0].total, made[0].state.as_str()), (Some(2), "running"));
    assert_eq!(location, format!("{page}/{}", made[0].id));
    let (status, html) = site.get(&site.editor, &location).await;
    assert_eq!(status, 200);
    assert!(html.contains("role=\"progressbar\"") && html.contains("aria-valuenow=\"0\""), "{html}");
    assert!(html.contains("aria-valuemax=\"100\"") && html.contains("of 2 recipients"), "{html}");
    let base = format!("/w/{}", site.home);
    let polled = format!("{}/progress", location.replacen(&base, &escaped(&base), 1));
    assert!(html.contains(&format!("hx-get=\"{polled}")) && html.contains("every 1s"), "{html}");
    assert!(html.contains("id=\"bc-pause\"") && html.contains("id=\"bc-cancel\""), "{html}");
    assert!(html.contains("Hi {{ from.first_name }}") && html.contains(" · ed</dd>"), "the template, by whom: {html}");
    let (_, list) = site.get(&site.editor, &page).await;
    assert!(list.contains(&format!("data-broadcast=\"{}\"", made[0].id)) && list.contains("sending"), "{list}");

    // Paused, resumed, cancelled; a finished one's fragment stops the polling.
    for (action, state) in [("pause", "paused"), ("resume", "running"), ("cancel", "cancelled")] {
        let (status, back, _) = site.post(&site.editor, &format!("{location}/{action}"), &[], true).await;
        assert_eq!((status, back.as_str()), (303, location.as_str()), "{action}");
        assert_eq!(site.broadcasts().await[0].state, state);
    }
    let (status, fragment) = site.get(&site.editor, &format!("{location}/progress")).await;
    assert_eq!(status, 200);
    assert!(fragment.contains("role=\"progressbar\"") && fragment.contains(">cancelled<"), "{fragment}");
    assert!(!fragment.contains("hx-trigger") && !fragment.contains("id=\"bc-cancel\""), "{fragment}");
    let (status, _, again) = site.post(&site.editor, &format!("{location}/resume"), &[], true).await;
    assert_eq!(status, 409, "a cancelled broadcast is not resumed: {again}");

    let editor_id = site.store.accounts().await.unwrap().iter().find(|a| a.email == "ed@example.org").unwrap().id;
    let actor = format!("account:{editor_id}");
    assert_eq!(
        site.actions().await,
        ["broadcast.create", "broadcast.pause", "broadcast.resume", "broadcast.cancel"].map(|a| format!("{a} {actor}"))
    );

    // In Russian.
    let ru = (format!("{}; fg_lang=ru", site.editor.0), site.editor.1.clone());
    let (_, html) = site.get(&ru, &location).await;
    assert!(html.contains("Рассылка №") && html.contains("отменена"), "{html}");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_audience_is_refused_next_to_its_field() {
    let site = Site::start().await;
    let page = site.page();
    let form = [("text", "For gold members"), ("variables", "plan = gold"), ("when", "now")];
    let (status, _, preview) = site.post(&site.editor, &format!("{page}/preview"), &form, true).await;
    assert_eq!(status, 200);
    assert!(preview.contains("No user is in this audience"), "{preview}");
    let (status, _, html) = site.post(&site.editor, &page, &form, true).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"bc-variables-error\""), "{html}");
    assert!(html.contains("Nobody would get this broadcast"), "{html}");
    assert!(html.contains("aria-invalid=\"true\""), "{html}");
    assert!(html.contains(">For gold members</textarea>"), "the form keeps what was typed: {html}");
    // Bad lines and a bad time: told by field, before the API is asked.
    let bad = [("text", "x"), ("buttons", "no target"), ("when", "at"), ("at", "2026-02-30T10:00")];
    let (status, _, html) = site.post(&site.editor, &page, &bad, true).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"bc-buttons-error\"") && html.contains("id=\"bc-at-error\""), "{html}");
    // A link the API refuses: at its field too.
    let long = format!("Go | {}", "x".repeat(65));
    let bad = [("text", "x"), ("buttons", long.as_str()), ("when", "now")];
    let (status, _, html) = site.post(&site.editor, &page, &bad, true).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"bc-buttons-error\""), "{html}");
    assert!(site.broadcasts().await.is_empty(), "nothing made");
    assert!(site.actions().await.is_empty(), "nothing audited");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_but_does_not_send_and_forms_need_their_token() {
    let site = Site::start().await;
    let page = site.page();
    let form = [("text", "Hello"), ("when", "now")];
    let (status, location, _) = site.post(&site.editor, &page, &form, true).await;
    assert_eq!(status, 303);

    let (status, html) = site.get(&site.viewer, &page).await;
    assert_eq!(status, 200);
    assert!(!html.contains("id=\"compose\"") && html.contains("data-broadcast="), "{html}");
    let (status, html) = site.get(&site.viewer, &location).await;
    assert_eq!(status, 200);
    assert!(html.contains("role=\"progressbar\"") && !html.contains("id=\"bc-cancel\""), "{html}");
    let (status, _, html) = site.post(&site.viewer, &page, &form, true).await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("Your role may not do this"), "{html}");
    let (status, _, _) = site.post(&site.viewer, &format!("{location}/cancel"), &[], true).await;
    assert_eq!(status, 403);
    assert_eq!(site.broadcasts().await.len(), 1);
    assert_eq!(site.broadcasts().await[0].state, "running");

    // Without the CSRF token: 403 and nothing done (the preview too: it is a POST).
    let (status, _, _) = site.post(&site.editor, &page, &form, false).await;
    assert_eq!(status, 403);
    let (status, _, _) = site.post(&site.editor, &format!("{location}/cancel"), &[], false).await;
    assert_eq!(status, 403);
    let (status, _, _) = site.post(&site.editor, &format!("{page}/preview"), &form, false).await;
    assert_eq!(status, 403);
    let wrong = (site.editor.0.clone(), "not-the-token".to_owned());
    let (status, _, _) = site.post(&wrong, &page, &form, true).await;
    assert_eq!(status, 403);
    assert_eq!(site.broadcasts().await.len(), 1);
    assert_eq!(site.broadcasts().await[0].state, "running");
    assert_eq!(site.actions().await.len(), 1, "only the first broadcast.create");
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_workspace_is_a_404() {
    let site = Site::start().await;
    let page = site.page();
    let (_, location, _) = site.post(&site.editor, &page, &[("text", "Ours"), ("when", "now")], true).await;
    let id = location.rsplit('/').next().unwrap().to_owned();
    // Someone of another workspace: our pages do not exist for them.
    for path in [page.clone(), location.clone(), format!("{location}/progress")] {
        assert_eq!(site.get(&site.stranger, &path).await.0, 404, "{path}");
    }
    for path in [page.clone(), format!("{page}/preview"), format!("{location}/cancel")] {
        let (status, _, _) = site.post(&site.stranger, &path, &[("text", "x"), ("when", "now")], true).await;
        assert_eq!(status, 404, "{path}");
    }
    // Their own bot of the same name does not have our broadcast.
    let theirs = format!("/w/{}/bots/news/broadcasts", site.away);
    let (status, html) = site.get(&site.stranger, &theirs).await;
    assert_eq!(status, 200);
    assert!(html.contains("No broadcast yet."), "{html}");
    assert_eq!(site.get(&site.stranger, &format!("{theirs}/{id}")).await.0, 404);
    let (status, _, _) = site.post(&site.stranger, &format!("{theirs}/{id}/cancel"), &[], true).await;
    assert_eq!(status, 404);
    // An unknown bot, and a broadcast id that is not one.
    assert_eq!(site.get(&site.editor, &format!("/w/{}/bots/nobot/broadcasts", site.home)).await.0, 404);
    assert_eq!(site.get(&site.editor, &format!("{page}/abc")).await.0, 404);
    assert_eq!(site.broadcasts().await[0].state, "running", "ours is untouched");
    site.stop().await;
}
