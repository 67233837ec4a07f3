//! The dashboard's run-it pages over real HTTP against the listener, on a real SQLite store: a
//! bot's users (listed, searched, paged, one user's variables and conversation, blocked and
//! unblocked by an editor), its collections (a table filtered by `field = value` and sorted, a
//! record edited — a bad value or bad JSON said next to its field and nothing changed — and
//! deleted after a confirmation, the CSV export), its charts (drawn from the statistics, with
//! the numbers in a table; a bad range said next to the range), the workspace's overview and
//! members (a role changed, a member removed, an invitation made that works). And the
//! refusals: a viewer's change (403, no buttons), a form without its CSRF token (403), another
//! workspace (404). Every change is in the audit log as the API's are. The users' pages answer
//! in under 100 ms with 100,000 users (the API's cursor: never the whole directory).

mod host;
mod person;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrogram_engine::{ChatState, CollectionSpec, CollectionStore, Commit, Scope, StateStore, Tally, TallyOutcome};
use ferrogram_engine::{Engine, EngineConfig};
use ferrogram_server::bots::Status;
use ferrogram_server::dashboard::Dashboard;
use ferrogram_server::{Api, Listening, Routes};
use ferrogram_store::{Role, Store};
use host::Host;
use person::person;
use serde_json::{Value, json};

/// A bot with a per-user collection (one of its fields a list) and a per-bot one.
const SHOP: &str = "ferrogram: 1\nbot: {name: shop}\ncollections:\n  orders:\n    scope: user\n    fields:\n      title: {type: string, required: true, max_length: 20}\n      qty: integer\n      paid: {type: boolean, default: false}\n      tags: list\n    index: [qty]\n  notes:\n    scope: bot\n    fields: {text: string}\non:\n  - text: any\n    do:\n      - reply: \"hi\"\n";
/// The Telegram id `shop` runs as.
const SHOP_ID: u64 = 7001;

struct Site {
    store: Arc<Store>,
    base: String,
    http: reqwest::Client,
    home: i64,
    away: i64,
    /// `fg_session=…` cookie and CSRF token of each role in `home`.
    owner: (String, String),
    admin: (String, String),
    editor: (String, String),
    viewer: (String, String),
    /// Account ids of the editor and the viewer.
    editor_id: i64,
    viewer_id: i64,
    _listening: Listening,
    _sandbox: ferrogram_sandbox::Sandbox,
    path: std::path::PathBuf,
}

impl Site {
    /// The site with `shop` made and filled as the engine would have: three users (Ann's private
    /// chat in a scene with a form half done, her variables), Ann's three orders and Bob's one,
    /// a note.
    async fn start() -> Site {
        let path =
            std::env::temp_dir().join(format!("ferrogram-dashrun-{}-{}.db", std::process::id(), fastrand::u64(..)));
        let store = Arc::new(Store::open(&format!("sqlite://{}", path.display())).await.expect("store"));
        let home = store.create_workspace("home").await.unwrap();
        let away = store.create_workspace("away").await.unwrap();
        let (owner, _) = person(&store, "olga@example.org", &[(home, Role::Owner)]).await;
        let (admin, _) = person(&store, "ada@example.org", &[(home, Role::Admin)]).await;
        let (editor, editor_id) = person(&store, "ed@example.org", &[(home, Role::Editor), (away, Role::Viewer)]).await;
        let (viewer, viewer_id) = person(&store, "vi@example.org", &[(home, Role::Viewer)]).await;
        // Tokens would be checked against a real sandbox (none is given here).
        let sandbox = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox");
        let host = Host::new(Arc::clone(&store), sandbox.url());
        let api = Api { store: Arc::clone(&store), bots: host.clone(), hooks: Default::default() };
        let dashboard = Dashboard::new(Arc::clone(&store), false).with_api(api.clone());
        let engine = Arc::new(Engine::new(EngineConfig::default()));
        let routes = Routes { api: Some(api), dashboard: Some(dashboard), ..Routes::default() };
        let listening = ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), engine, routes).await.unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let site = Site {
            store,
            base: format!("http://{}", listening.addr()),
            http,
            home,
            away,
            owner,
            admin,
            editor,
            viewer,
            editor_id,
            viewer_id,
            _listening: listening,
            _sandbox: sandbox,
            path,
        };
        site.seed().await;
        assert_eq!(host.state(home, "shop"), Some(Status::Stopped), "made, not started");
        site
    }

    async fn seed(&self) {
        let store = &self.store;
        let form = reqwest::multipart::Form::new()
            .text("csrf", self.editor.1.clone())
            .text("name", "shop")
            .text("origin", "upload")
            .part("file", reqwest::multipart::Part::bytes(SHOP.as_bytes().to_vec()).file_name("shop.yaml"));
        let url = format!("{}/w/{}/bots/new", self.base, self.home);
        let made = self.http.post(url).header("cookie", &self.editor.0).multipart(form).send().await.unwrap();
        assert_eq!(made.status(), 303, "{}", made.text().await.unwrap());
        let bot = store.bot_named(self.home, "shop").await.unwrap().unwrap();
        assert!(store.set_bot_telegram(self.home, bot.id, Some(SHOP_ID)).await.unwrap());
        for user in [
            json!({"id": 11, "first_name": "Ann", "last_name": "Lee", "username": "ann_l", "language_code": "en"}),
            json!({"id": 22, "first_name": "Bob", "username": "bobby"}),
            json!({"id": 33, "first_name": "Chloé", "last_name": "<b>100%</b>"}),
        ] {
            store.remember_user(SHOP_ID, &user).await.unwrap();
        }
        store.set_var(SHOP_ID, Scope::User(11), "score", Some(&json!(42))).await.unwrap();
        let state: ChatState = serde_json::from_value(json!({"scene": "checkout", "stack": ["menu"],
            "form": {"scene": "checkout", "field": 1, "answers": {"address": "Main St"}}, "generation": 0}))
        .unwrap();
        store.save_chat(SHOP_ID, 11, &state).await.unwrap();
        let orders = CollectionSpec { name: "orders".into(), searchable: vec![], indexed: vec!["qty".into()] };
        let fields = |v: Value| v.as_object().unwrap().clone();
        for (user, order) in [
            (11, json!({"title": "tea", "qty": 3, "paid": true, "tags": ["hot"]})),
            (11, json!({"title": "cake", "qty": 1, "paid": false})),
            (11, json!({"title": "jam, \"home\"", "qty": 12, "paid": false})),
            (22, json!({"title": "milk", "qty": 2, "paid": true})),
        ] {
            store.create(SHOP_ID, &orders, Scope::User(user), fields(order)).await.unwrap();
        }
        let notes = CollectionSpec { name: "notes".into(), ..CollectionSpec::default() };
        store.create(SHOP_ID, &notes, Scope::Bot, fields(json!({"text": "closed on Sunday"}))).await.unwrap();
    }

    fn bot(&self) -> String {
        format!("/w/{}/bots/shop", self.home)
    }

    async fn get(&self, who: &(String, String), path: &str) -> (u16, String) {
        let response = self.http.get(format!("{}{path}", self.base)).header("cookie", &who.0).send().await.unwrap();
        (response.status().as_u16(), unescape_slashes(response.text().await.unwrap()))
    }

    /// A form POST with the person's CSRF token (`with_csrf`) or without it.
    async fn post(
        &self,
        who: &(String, String),
        path: &str,
        fields: &[(&str, &str)],
        with_csrf: bool,
    ) -> (u16, String, Option<String>) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if with_csrf {
            form.push(("csrf", &who.1));
        }
        let response =
            self.http.post(format!("{}{path}", self.base)).header("cookie", &who.0).form(&form).send().await.unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (response.status().as_u16(), unescape_slashes(response.text().await.unwrap()), location)
    }

    /// The audit log's (action, actor) of `home`, oldest first.
    async fn actions(&self) -> Vec<(String, String)> {
        let log = self.store.audit_log(self.home, 200).await.unwrap();
        log.into_iter().rev().map(|e| (e.action, e.actor)).collect()
    }

    async fn orders(&self) -> String {
        format!("{:?}", self.store.collection_records(SHOP_ID, "orders").await.unwrap())
    }

    async fn stop(self) {
        self.store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// The page with the slashes the templates' HTML escaping writes as `&#x2f;` written back (a
/// browser reads them so), for the checks to name paths plainly.
fn unescape_slashes(page: String) -> String {
    page.replace("&#x2f;", "/")
}

/// The ids of the `data-user` rows of a users page, in order.
fn user_rows(page: &str) -> Vec<i64> {
    page.split("data-user=\"").skip(1).map(|rest| rest.split('"').next().unwrap().parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_listed_searched_shown_and_blocked_by_an_editor_only() {
    let site = Site::start().await;
    let users = format!("{}/users", site.bot());
    let (status, page) = site.get(&site.viewer, &users).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(user_rows(&page), [11, 22, 33]);
    assert!(page.contains("@bobby") && page.contains("Chloé &lt;b&gt;100%&lt;/b&gt;"), "escaped: {page}");
    assert!(page.contains("aria-current=\"page\">Users</a>"), "the bot's sub-navigation: {page}");
    for (search, expected) in [("bob", vec![22]), ("%40ann", vec![11]), ("33", vec![33]), ("nobody", vec![])] {
        let (status, page) = site.get(&site.viewer, &format!("{users}?search={search}")).await;
        assert_eq!(status, 200);
        assert_eq!(user_rows(&page), expected, "{search}");
    }
    assert!(site.get(&site.viewer, &format!("{users}?search=nobody")).await.1.contains("No user matches."));

    let (status, ann) = site.get(&site.viewer, &format!("{users}/11")).await;
    assert_eq!(status, 200, "{ann}");
    for shown in ["user.score", ">42<", "<code>checkout</code>", "<code>menu</code>", "Main St", "@ann_l"] {
        assert!(ann.contains(shown), "{shown} in {ann}");
    }
    assert!(!ann.contains("/users/11/block"), "no block button for a viewer");
    assert_eq!(site.get(&site.viewer, &format!("{users}/44")).await.0, 404);
    assert_eq!(site.get(&site.viewer, &format!("{users}/ann")).await.0, 404);

    // Refused: a viewer, and a form without its token. Nothing is blocked.
    let block = format!("{users}/22/block");
    assert_eq!(site.post(&site.viewer, &block, &[], true).await.0, 403);
    assert_eq!(site.post(&site.editor, &block, &[], false).await.0, 403);
    assert!(site.store.blocked_user_ids(SHOP_ID).await.unwrap().is_empty());
    // Another workspace's bot, or a workspace the person is not in: 404.
    assert_eq!(site.get(&site.editor, &format!("/w/{}/bots/shop/users", site.away)).await.0, 404);
    assert_eq!(site.get(&site.admin, &format!("/w/{}/bots/shop/users", site.away)).await.0, 404);
    assert_eq!(site.post(&site.admin, &format!("/w/{}/bots/shop/users/22/block", site.away), &[], true).await.0, 404);
    // A viewer there is refused before anything is looked up, as in the API.
    assert_eq!(site.post(&site.editor, &format!("/w/{}/bots/shop/users/22/block", site.away), &[], true).await.0, 403);

    let (status, _, location) = site.post(&site.editor, &block, &[], true).await;
    assert_eq!((status, location.as_deref()), (303, Some(format!("{users}/22").as_str())));
    assert_eq!(site.store.blocked_user_ids(SHOP_ID).await.unwrap(), [22]);
    let (_, bob) = site.get(&site.editor, &format!("{users}/22")).await;
    assert!(bob.contains("Blocked since") && bob.contains("by ed."), "{bob}");
    assert!(bob.contains(&format!("action=\"{users}/22/unblock\"")), "{bob}");
    assert_eq!(user_rows(&site.get(&site.viewer, &format!("{users}?show=blocked")).await.1), [22]);
    assert_eq!(user_rows(&site.get(&site.viewer, &format!("{users}?show=unblocked")).await.1), [11, 33]);

    assert_eq!(site.post(&site.editor, &format!("{users}/22/unblock"), &[], true).await.0, 303);
    assert!(site.store.blocked_user_ids(SHOP_ID).await.unwrap().is_empty());
    let actor = format!("account:{}", site.editor_id);
    let done: Vec<_> = site.actions().await.into_iter().filter(|(a, _)| a.starts_with("user.")).collect();
    assert_eq!(done, [("user.block".to_owned(), actor.clone()), ("user.unblock".to_owned(), actor)]);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_pages_answer_in_under_100_ms_with_100000_users() {
    let site = Site::start().await;
    // 100,000 more users, committed as the engine commits them, 10,000 a batch.
    for batch in 0..10 {
        let commits: Vec<Commit> = (0..10_000)
            .map(|i| {
                let id = 1_000 + batch * 10_000 + i;
                Commit {
                    bot: SHOP_ID,
                    seen_user: json!({"id": id, "first_name": format!("User {id}"), "username": format!("u{id}")}),
                    ..Commit::default()
                }
            })
            .collect();
        StateStore::commit(&*site.store, &commits).await.unwrap();
    }
    let users = format!("{}/users", site.bot());
    // A page, the next one by its cursor, a page far in, a search: each the best of three (the
    // machine is shared; one slow answer is not the page's).
    let (_, first) = site.get(&site.viewer, &users).await;
    assert_eq!(user_rows(&first).len(), 50);
    let next = first.split("rel=\"next\"").next().unwrap().rsplit("href=\"").next().unwrap().split('"').next().unwrap();
    let next = next.replace("&amp;", "&");
    let (status, second) = site.get(&site.viewer, &next).await;
    assert_eq!(status, 200);
    assert_eq!(user_rows(&second)[0], user_rows(&first)[49] + 1, "the cursor continues the list");
    // (A search that matches few of them reads the whole directory: the store's `LIKE`, not
    // bounded here; see docs/dashboard.md.)
    for path in [users.clone(), next, format!("{users}/99999"), format!("{users}?search=User%2010")] {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            let (status, _) = site.get(&site.viewer, &path).await;
            best = best.min(started.elapsed());
            assert_eq!(status, 200, "{path}");
        }
        assert!(best < Duration::from_millis(100), "{path} took {best:?}");
    }
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_is_filtered_sorted_edited_exported_and_a_record_deleted() {
    let site = Site::start().await;
    let collections = format!("{}/collections", site.bot());
    let (status, page) = site.get(&site.viewer, &collections).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-collection=\"orders\"") && page.contains("data-collection=\"notes\""), "{page}");
    let orders = format!("{collections}/orders");

    // field = value, the value read as the field's type; a value that is not is said (400).
    let (status, page) = site.get(&site.viewer, &format!("{orders}?field=qty&value=3")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page.matches("data-record=").count(), 1, "{page}");
    assert!(page.contains(">tea<"), "{page}");
    let (status, page) = site.get(&site.viewer, &format!("{orders}?field=qty&value=lots")).await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"filter-error\"") && page.contains("is not a whole number"), "{page}");
    // Sorted by qty, descending: 12, 3, 2, 1; the header says so.
    let (_, page) = site.get(&site.viewer, &format!("{orders}?order_by=qty%20desc")).await;
    let at = |title: &str| page.find(&format!(">{title}<")).unwrap_or_else(|| panic!("{title} in {page}"));
    assert!(at("jam, &quot;home&quot;") < at("tea") && at("tea") < at("milk") && at("milk") < at("cake"), "{page}");
    assert!(page.contains("aria-sort=\"descending\""), "{page}");
    // A viewer sees no edit or delete links.
    assert!(!page.contains("/delete\""), "{page}");

    // The export: every record, as CSV, a download.
    let response = site
        .http
        .get(format!("{}{orders}/export.csv", site.base))
        .header("cookie", &site.viewer.0)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("shop-orders.csv"));
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("id,scope,owner,created_at,updated_at,paid,qty,tags,title\r\n"), "{csv}");
    assert!(csv.contains("\"jam, \"\"home\"\"\"") && csv.lines().count() == 5, "{csv}");

    // Editing the first order (tea): a bad integer, then bad JSON in the list: said next to
    // the field, nothing changed.
    let tea = site.store.collection_records(SHOP_ID, "orders").await.unwrap()[0].record.id.to_string();
    let record = format!("{orders}/records/{tea}");
    let (status, form) = site.get(&site.editor, &record).await;
    assert_eq!(status, 200, "{form}");
    assert!(form.contains("name=\"f.qty\" value=\"3\"") && form.contains("[&quot;hot&quot;]"), "{form}");
    let before = site.orders().await;
    let (status, page, _) =
        site.post(&site.editor, &record, &[("f.title", "tea"), ("f.qty", "many"), ("f.tags", "[]")], true).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("data-field=\"qty\">") && page.contains("is not a whole number"), "{page}");
    assert!(page.contains("value=\"many\""), "the text typed is kept: {page}");
    let (status, page, _) =
        site.post(&site.editor, &record, &[("f.qty", "5"), ("f.tags", "[\"hot\", oops")], true).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("data-field=\"tags\">Not JSON:"), "{page}");
    assert_eq!(site.orders().await, before, "nothing changed");
    // Refused: a viewer, a form without its token, another workspace.
    assert_eq!(site.post(&site.viewer, &record, &[("f.qty", "5")], true).await.0, 403);
    assert_eq!(site.post(&site.editor, &record, &[("f.qty", "5")], false).await.0, 403);
    let theirs = format!("/w/{}/bots/shop/collections/orders/records/{tea}", site.away);
    assert_eq!(site.post(&site.admin, &theirs, &[("f.qty", "5")], true).await.0, 404);
    assert_eq!(site.post(&site.editor, &theirs, &[("f.qty", "5")], true).await.0, 403, "a viewer there");
    assert_eq!(site.get(&site.editor, &theirs).await.0, 404);
    assert_eq!(site.orders().await, before, "nothing changed");

    let (status, _, location) =
        site.post(&site.editor, &record, &[("f.qty", "5"), ("f.tags", "[\"hot\", \"green\"]")], true).await;
    assert_eq!((status, location), (303, Some(format!("{record}?saved=1"))));
    let saved = &site.store.collection_records(SHOP_ID, "orders").await.unwrap()[0].record;
    assert_eq!((&saved.fields["qty"], &saved.fields["tags"]), (&json!(5), &json!(["hot", "green"])));
    assert_eq!(saved.fields["title"], json!("tea"), "a field not in the form is kept");
    assert!(
        site.get(&site.editor, &format!("{record}?saved=1")).await.1.contains("role=\"status\" id=\"notice\">Saved.")
    );

    // Deleting: a confirmation first (editor), then gone.
    let delete = format!("{record}/delete");
    assert_eq!(site.get(&site.viewer, &delete).await.0, 403);
    let (status, confirm) = site.get(&site.editor, &delete).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Delete record") && confirm.contains("Delete for good"), "{confirm}");
    assert_eq!(site.post(&site.editor, &delete, &[], false).await.0, 403);
    assert_eq!(site.post(&site.viewer, &delete, &[], true).await.0, 403);
    assert_eq!(site.store.collection_records(SHOP_ID, "orders").await.unwrap().len(), 4);
    let (status, _, location) = site.post(&site.editor, &delete, &[], true).await;
    assert_eq!((status, location), (303, Some(orders.clone())));
    assert_eq!(site.store.collection_records(SHOP_ID, "orders").await.unwrap().len(), 3);
    assert_eq!(site.get(&site.editor, &record).await.0, 404);

    let actor = format!("account:{}", site.editor_id);
    let done: Vec<_> = site.actions().await.into_iter().filter(|(a, _)| a.starts_with("record.")).collect();
    assert_eq!(done, [("record.update".to_owned(), actor.clone()), ("record.delete".to_owned(), actor)]);
    assert_eq!(site.get(&site.admin, &format!("/w/{}/bots/shop/collections", site.away)).await.0, 404);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_draw_the_statistics_with_their_numbers_and_a_bad_range_is_said() {
    let site = Site::start().await;
    // 2026-03-01 is day 20513 since 1970-01-01.
    let start = 20_513_i64 * 86_400;
    let tally = |update: i64, at: i64, user: i64, outcome, latency_ms| Commit {
        bot: SHOP_ID,
        handled: Some(update),
        tally: Some(Tally { at, user_id: Some(user), outcome, latency_ms }),
        ..Commit::default()
    };
    let batch = [
        tally(1, start, 11, TallyOutcome::Ok, Some(8)),
        tally(2, start + 60, 11, TallyOutcome::Ok, Some(90)),
        tally(3, start + 86_399, 22, TallyOutcome::Error, Some(2_000)),
        tally(4, start + 100, 33, TallyOutcome::Blocked, None),
        tally(5, start + 86_401, 22, TallyOutcome::Ok, Some(40)),
    ];
    StateStore::commit(&*site.store, &batch).await.unwrap();

    let charts = format!("{}/charts?from=2026-02-28&to=2026-03-02", site.bot());
    let (status, page) = site.get(&site.viewer, &charts).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page.matches("<svg class=\"chart\" role=\"img\"").count(), 4, "{page}");
    for shown in [
        "<title id=\"chart-updates-title\">Updates per day</title>",
        "5 updates, 1 of blocked users, from 2026-02-28 to 2026-03-02.",
        "1 active on 2026-03-02, 2 over its 7 days, 2 over its 30 days.",
        "median 50 ms, 95th percentile 2500 ms",
        "1 failed updates from 2026-02-28 to 2026-03-02.",
        // The table: 2026-03-01 with 4 updates, 1 blocked, 1 error, 2 active, p50 100 ms, p95 2500 ms.
        "<th scope=\"row\">2026-03-01</th><td>4</td><td>1</td><td>1</td><td>2</td><td>100 ms</td><td>2500 ms</td>",
        "<th scope=\"row\">2026-02-28</th><td>0</td><td>0</td><td>0</td><td>0</td><td>—</td><td>—</td>",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    // In Russian.
    let russian = (format!("{}; fg_lang=ru", site.viewer.0), site.viewer.1.clone());
    let (_, page) = site.get(&russian, &charts).await;
    assert!(page.contains("Обновления по дням") && page.contains("<html lang=\"ru\""), "{page}");
    // A day that is not one: said next to the range, 400.
    let (status, page) = site.get(&site.viewer, &format!("{}/charts?from=2026-02-30", site.bot())).await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"from-error\"") && page.contains("is not a date"), "{page}");
    // The workspace's overview adds its bots up.
    let (status, page) =
        site.get(&site.viewer, &format!("/w/{}/overview?from=2026-03-01&to=2026-03-01", site.home)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Overview of home") && page.contains("4 updates, 1 of blocked users"), "{page}");
    assert_eq!(site.get(&site.editor, &format!("/w/{}/bots/shop/charts", site.away)).await.0, 404);
    assert_eq!(site.get(&site.admin, &format!("/w/{}/overview", site.away)).await.0, 404);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_changed_removed_and_invited_by_an_admin_and_read_by_a_viewer() {
    let site = Site::start().await;
    let members = format!("/w/{}/members", site.home);
    let (status, page) = site.get(&site.viewer, &members).await;
    assert_eq!(status, 200, "{page}");
    for email in ["olga@example.org", "ada@example.org", "ed@example.org", "vi@example.org"] {
        assert!(page.contains(email), "{email} in {page}");
    }
    assert!(!page.contains("/role\"") && !page.contains("/members/invite"), "no change for a viewer: {page}");
    // An admin may not change an owner: no form for the owner's row.
    let (_, page) = site.get(&site.admin, &members).await;
    assert!(page.contains(&format!("{members}/{}/role", site.viewer_id)), "{page}");
    assert_eq!(page.matches("/role\"").count(), 3, "every member but the owner: {page}");

    let role = format!("{members}/{}/role", site.viewer_id);
    assert_eq!(site.post(&site.viewer, &role, &[("role", "admin")], true).await.0, 403);
    assert_eq!(site.post(&site.editor, &role, &[("role", "editor")], true).await.0, 403);
    assert_eq!(site.post(&site.admin, &role, &[("role", "editor")], false).await.0, 403);
    let owner_id = site.store.members(site.home).await.unwrap().iter().find(|m| m.role == Role::Owner).unwrap().account;
    assert_eq!(site.post(&site.admin, &format!("{members}/{owner_id}/role"), &[("role", "viewer")], true).await.0, 403);
    // The last owner stays.
    assert_eq!(site.post(&site.owner, &format!("{members}/{owner_id}/role"), &[("role", "admin")], true).await.0, 409);
    let role_of = |account: i64| {
        let store = Arc::clone(&site.store);
        let home = site.home;
        async move { store.members(home).await.unwrap().into_iter().find(|m| m.account == account).map(|m| m.role) }
    };
    assert_eq!(role_of(site.viewer_id).await, Some(Role::Viewer), "nothing changed");
    let (status, _, location) = site.post(&site.admin, &role, &[("role", "editor")], true).await;
    assert_eq!((status, location.as_deref()), (303, Some(members.as_str())));
    assert_eq!(role_of(site.viewer_id).await, Some(Role::Editor));

    // Invitations: a bad lifetime said next to its field; a good one shown once, and it works.
    let invite = format!("{members}/invite");
    let (status, page, _) = site.post(&site.admin, &invite, &[("role", "editor"), ("hours", "forever")], true).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"invite-hours-error\""), "{page}");
    assert_eq!(site.post(&site.editor, &invite, &[("role", "viewer"), ("hours", "2")], true).await.0, 403);
    assert_eq!(site.post(&site.admin, &invite, &[("role", "viewer"), ("hours", "2")], false).await.0, 403);
    let (status, page, _) = site.post(&site.admin, &invite, &[("role", "viewer"), ("hours", "48")], true).await;
    assert_eq!(status, 201, "{page}");
    let link = page.split("/invite/").nth(1).expect("the link").split('<').next().unwrap().to_owned();
    let response = site.http.get(format!("{}/invite/{link}", site.base)).send().await.unwrap();
    assert_eq!(response.status(), 200, "the invitation works");

    let remove = format!("{members}/{}/remove", site.editor_id);
    assert_eq!(site.post(&site.viewer, &remove, &[], true).await.0, 403);
    assert_eq!(site.post(&site.admin, &remove, &[], false).await.0, 403);
    assert_eq!(role_of(site.editor_id).await, Some(Role::Editor));
    assert_eq!(site.post(&site.admin, &remove, &[], true).await.0, 303);
    assert_eq!(role_of(site.editor_id).await, None);
    // Another workspace's member, or a workspace the admin is not in: 404.
    assert_eq!(site.get(&site.admin, &format!("/w/{}/members", site.away)).await.0, 404);
    assert_eq!(site.post(&site.admin, &format!("{members}/99999/remove"), &[], true).await.0, 404);

    let done: Vec<String> =
        site.actions().await.into_iter().map(|(a, _)| a).filter(|a| a.starts_with("member.")).collect();
    assert_eq!(done, ["member.role", "member.invite", "member.remove"]);
    site.stop().await;
}
