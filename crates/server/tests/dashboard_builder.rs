//! The code view (`/w/{workspace}/bots/{name}/edit`, decision 0056) over real HTTP against the
//! listener, on a real SQLite store, its try-it chat run by a real engine against a real
//! sandbox, as a browser without script uses it: the draft in a textarea form; saving an invalid
//! draft (kept, its errors listed with line and column); publishing it refused (422, nothing
//! published); a save from a stale page told (412) with the text typed kept; trying the draft
//! (the sandbox's web chat framed, the page's policy allowing only that origin) and the draft
//! answering a user in the sandbox, apart from the published bot; restarting the conversation
//! (a new user); publishing (a new version, audited under the account). And the refusals: no
//! CSRF token (403), a viewer (no buttons; 403), another workspace (404). The editor's assets:
//! the CodeMirror bundle, its script and the bot file's JSON Schema.

mod host;
mod person;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrogram_engine::{Engine, EngineConfig};
use ferrogram_server::dashboard::Dashboard;
use ferrogram_server::{Api, Listening, Routes};
use ferrogram_store::{Role, Store};
use host::Host;
use person::person;
use serde_json::{Value, json};

const ECHO: &str =
    "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - reply: \"You said: {{ message.text }}\"\n";
const DRAFT: &str =
    "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - reply: \"Draft says: {{ message.text }}\"\n";
/// A misspelt key on line 6.
const BROKEN: &str = "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - replyy: \"hi\"\n";

struct Site {
    store: Arc<Store>,
    base: String,
    sandbox_url: String,
    http: reqwest::Client,
    home: i64,
    away: i64,
    editor: (String, String),
    viewer: (String, String),
    host: Arc<Host>,
    _listening: Listening,
    _sandbox: ferrogram_sandbox::Sandbox,
    path: std::path::PathBuf,
}

impl Site {
    async fn start() -> Site {
        let path =
            std::env::temp_dir().join(format!("ferrogram-builder-{}-{}.db", std::process::id(), fastrand::u64(..)));
        let store = Arc::new(Store::open(&format!("sqlite://{}", path.display())).await.expect("store"));
        let sandbox = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox");
        let home = store.create_workspace("home").await.unwrap();
        let away = store.create_workspace("away").await.unwrap();
        let bot = store.create_bot(home, "echo", None).await.unwrap().unwrap();
        store.publish_version(home, bot, 0, ECHO).await.unwrap().unwrap();
        let other = store.create_bot(away, "echo", None).await.unwrap().unwrap();
        store.publish_version(away, other, 0, ECHO).await.unwrap().unwrap();
        let editor = person(&store, "ed@example.org", &[(home, Role::Editor)]).await.0;
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
            base: format!("http://{}", listening.addr()),
            sandbox_url: sandbox.url(),
            http,
            home,
            away,
            editor,
            viewer,
            host,
            _listening: listening,
            _sandbox: sandbox,
            path,
        }
    }

    fn edit(&self) -> String {
        format!("/w/{}/bots/echo/edit", self.home)
    }

    async fn get(&self, who: &(String, String), path: &str) -> (u16, reqwest::header::HeaderMap, String) {
        let response = self.http.get(format!("{}{path}", self.base)).header("cookie", &who.0).send().await.unwrap();
        (response.status().as_u16(), response.headers().clone(), response.text().await.unwrap())
    }

    /// The code view's form, with the person's CSRF token unless `with_csrf` is false.
    async fn submit(
        &self,
        who: &(String, String),
        action: &str,
        source: &str,
        etag: &str,
        with_csrf: bool,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut form = vec![("action", action), ("source", source), ("etag", etag)];
        if with_csrf {
            form.push(("csrf", &who.1));
        }
        let url = format!("{}{}", self.base, self.edit());
        let response = self.http.post(url).header("cookie", &who.0).form(&form).send().await.unwrap();
        (response.status().as_u16(), response.headers().clone(), response.text().await.unwrap())
    }

    async fn draft(&self) -> Option<ferrogram_store::BotDraft> {
        let bot = self.store.bot_named(self.home, "echo").await.unwrap().unwrap();
        self.store.draft(self.home, bot.id).await.unwrap()
    }

    async fn sources(&self) -> Vec<String> {
        let bot = self.store.bot_named(self.home, "echo").await.unwrap().unwrap();
        self.store.versions(self.home, bot.id).await.unwrap().into_iter().map(|v| v.source).collect()
    }

    /// Sends `text` as the sandbox user `user` to the bot `bot` and waits for the bot's answer.
    async fn chat(&self, bot: u64, user: i64, text: &str) -> String {
        let act = format!("{}/sandbox/act/text", self.sandbox_url);
        let sent = self.http.post(act).json(&json!({"bot_id": bot, "user_id": user, "text": text})).send().await;
        assert!(sent.unwrap().status().is_success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let url = format!("{}/sandbox/chats/{user}/messages?bot_id={bot}", self.sandbox_url);
            let log: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
            let answers: Vec<String> = log
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["from_bot"] == true)
                .filter_map(|m| m["message"]["text"].as_str().map(str::to_owned))
                .collect();
            if let Some(last) = answers.last() {
                return last.clone();
            }
            assert!(Instant::now() < deadline, "the draft did not answer: {log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// The `src` of the page's try-it frame.
fn frame_src(html: &str) -> Option<String> {
    let at = html.find("<iframe id=\"try-chat\" src=\"")? + "<iframe id=\"try-chat\" src=\"".len();
    Some(html[at..].split('"').next()?.replace("&amp;", "&").replace("&#x2f;", "/"))
}

/// A query parameter of `url`.
fn param(url: &str, name: &str) -> Option<i64> {
    url.split(['?', '&']).find_map(|pair| pair.strip_prefix(&format!("{name}="))?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_view_saves_refuses_tries_and_publishes_a_draft_without_script() {
    let site = Site::start().await;
    let (status, headers, html) = site.get(&site.editor, &site.edit()).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("You said: {{ message.text }}"), "the published file in the textarea: {html}");
    assert!(html.contains("name=\"etag\" value=\"&quot;d0&quot;\""), "{html}");
    assert!(html.contains("editor-1.js\"></script>") && html.contains("value=\"publish\""), "{html}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.ends_with(&format!("frame-src {}", site.sandbox_url)), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self';"), "{csp}");
    // CodeMirror's `<style>` carries the answer's nonce, given to the script in the form.
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a style nonce");
    assert!(nonce.len() >= 22 && html.contains(&format!("data-style-nonce=\"{nonce}\"")), "{csp}");
    let (_, again, _) = site.get(&site.editor, &site.edit()).await;
    assert!(!again["content-security-policy"].to_str().unwrap().contains(nonce), "a nonce per answer");

    // No CSRF token: refused, nothing saved.
    let (status, _, _) = site.submit(&site.editor, "save", BROKEN, "\"d0\"", false).await;
    assert_eq!(status, 403);
    assert_eq!(site.draft().await, None);

    // An invalid draft is saved as it is, and its errors are listed with their place.
    let (status, headers, _) = site.submit(&site.editor, "save", BROKEN, "\"d0\"", true).await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], format!("{}?saved=1", site.edit()));
    assert_eq!(site.draft().await.map(|d| (d.source, d.revision)), Some((BROKEN.to_owned(), 1)));
    let (_, _, html) = site.get(&site.editor, &format!("{}?saved=1", site.edit())).await;
    assert!(html.contains("Draft saved.") && html.contains("line 6, column"), "{html}");
    assert!(html.contains("replyy"), "{html}");

    // Publishing it is refused with its errors; nothing is published.
    let (status, _, html) = site.submit(&site.editor, "publish", BROKEN, "\"d1\"", true).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("nothing was published") && html.contains("line 6, column"), "{html}");
    assert_eq!(site.sources().await, [ECHO]);

    // A save from a page older than the draft: told, the text typed kept, nothing changed.
    let (status, _, html) = site.submit(&site.editor, "save", "mine: [typed here]", "\"d0\"", true).await;
    assert_eq!(status, 412, "{html}");
    assert!(html.contains("Someone else saved this draft") && html.contains("mine: [typed here]"), "{html}");
    assert_eq!(site.draft().await.map(|d| d.revision), Some(1));

    // Trying the draft: saved, run in the sandbox, its web chat framed; it answers as the
    // draft, the published bot untouched.
    // As a browser sends a textarea: lines ended by CR LF, stored with LF.
    let (status, _, html) = site.submit(&site.editor, "try", &DRAFT.replace('\n', "\r\n"), "\"d1\"", true).await;
    assert_eq!(status, 200, "{html}");
    let chat = frame_src(&html).expect("the try-it chat");
    assert!(chat.starts_with(&format!("{}/?bot=", site.sandbox_url)), "{chat}");
    let (bot, user) = (param(&chat, "bot").unwrap() as u64, param(&chat, "user").unwrap());
    assert_eq!(site.chat(bot, user, "hello").await, "Draft says: hello");
    assert_eq!(site.sources().await, [ECHO], "trying publishes nothing");
    assert_eq!(site.draft().await.map(|d| d.source), Some(DRAFT.to_owned()), "saved with LF");
    let published = site.store.bot_named(site.home, "echo").await.unwrap().unwrap();
    assert_ne!(published.telegram_id, Some(bot), "the draft is a bot of its own");
    assert_eq!(site.host.state(site.home, "echo"), None, "the published bot was not started nor stopped");

    // Restarting the conversation: a new user, the same draft.
    let (status, _, html) = site.submit(&site.editor, "restart", DRAFT, "\"d2\"", true).await;
    assert_eq!(status, 200, "{html}");
    let again = frame_src(&html).expect("the try-it chat");
    assert_eq!(param(&again, "bot"), Some(bot as i64));
    let other = param(&again, "user").unwrap();
    assert_ne!(other, user, "a new conversation is a new user");
    assert_eq!(site.chat(bot, other, "again").await, "Draft says: again");

    // Publishing: a new version with the draft's file, audited under the account.
    let (status, _, html) = site.submit(&site.editor, "publish", DRAFT, "\"d2\"", true).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Published: version 2 is current."), "{html}");
    assert_eq!(site.sources().await, [ECHO, DRAFT]);
    let log = site.store.audit_log(site.home, 5).await.unwrap();
    assert_eq!(log[0].action, "bot.publish", "{log:?}");
    assert!(log[0].actor.starts_with("account:"), "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_read_only_other_workspaces_are_hidden_and_the_assets_are_served() {
    let site = Site::start().await;
    let (status, _, html) = site.get(&site.viewer, &site.edit()).await;
    assert_eq!(status, 200);
    assert!(html.contains(" readonly>") && !html.contains("value=\"publish\""), "{html}");
    let (status, _, _) = site.submit(&site.viewer, "save", BROKEN, "\"d0\"", true).await;
    assert_eq!(status, 403);
    assert_eq!(site.draft().await, None);
    let (status, _, _) = site.get(&site.editor, &format!("/w/{}/bots/echo/edit", site.away)).await;
    assert_eq!(status, 404, "a workspace the person is not in");
    let (status, _, _) = site.get(&site.editor, &format!("/w/{}/bots/nobody/edit", site.home)).await;
    assert_eq!(status, 404);

    let (status, headers, schema) = site.get(&site.viewer, "/assets/bot-schema.json").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/schema+json");
    let schema: Value = serde_json::from_str(&schema).unwrap();
    assert!(schema["properties"]["scenes"].is_object() && schema["$id"].is_string(), "{schema}");
    let (status, headers, bundle) = site.get(&site.viewer, "/assets/codemirror-6.0.2.min.js").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(bundle.len() > 100_000 && bundle.contains("EditorView"), "the bundle: {} bytes", bundle.len());
    let (status, _, script) = site.get(&site.viewer, "/assets/editor-1.js").await;
    assert_eq!(status, 200);
    assert!(script.contains("/assets/codemirror-6.0.2.min.js") && script.contains("draft/validate"));
}
