//! Collections end to end against the sandbox: every collection step, values typed by their
//! declaration, scopes that keep users' and chats' records apart, typo-tolerant search, and
//! `emit` delivering signed events to a local server.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use common::{Bot, World, test_config};
use ferrogram_engine::{BotEnv, EngineConfig, HttpConfig};
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Sha256;

/// Sends `text` as `user` (in `chat`, the user's private chat when `None`) and returns the
/// bot's next message there.
async fn say(world: &World, bot: Bot, user: i64, chat: Option<i64>, text: &str, after: &mut u64) -> String {
    let mut body = json!({"text": text});
    if let Some(chat) = chat {
        body["chat_id"] = json!(chat);
    }
    world.act(bot, "text", user, body).await;
    let (sent, last) = world.wait_sent(bot, chat.unwrap_or(user), *after, 1).await;
    *after = last;
    sent.join(" / ")
}

const TRACKER: &str = r##"
ferrogram: 1
bot: {name: tracker}
errors: {reply: "Oops"}
collections:
  subs:
    scope: user
    fields:
      title: {type: string, required: true, max_length: 40}
      episode: {type: integer, default: 0}
      seen_at: datetime
    index: [episode]
    search: [title]
on:
  - text: "/^add (.+) (\\d+)$/"
    do:
      - insert: {collection: subs, values: {title: "{{ match.1 }}", episode: "{{ match.2 }}", seen_at: "2024-01-01"}, as: sub}
      - reply: "#{{ sub.id }} {{ sub.title }} next {{ sub.episode + 1 }} at {{ sub.seen_at }}"
  - text: "/^add (.+)$/"
    do:
      - insert: {collection: subs, values: {title: "{{ match.1 }}"}, as: sub}
      - reply: "#{{ sub.id }} {{ sub.title }} ep {{ sub.episode }}"
  - text: list
    do:
      - query: {collection: subs, order_by: episode desc, as: subs}
      - count: {collection: subs, as: n}
      - reply: "{{ n }}:{% for s in subs %} {{ s.title }}={{ s.episode }}{% endfor %}"
  - text: "/^after (\\d+)$/"
    do:
      - query: {collection: subs, where: {episode: {gt: "{{ match.1 }}"}}, order_by: title, limit: 2, as: subs}
      - if:
          condition: "subs | length > 0"
          then: [{reply: "{% for s in subs %}{{ s.title }} {% endfor %}"}]
          else: [{reply: "none"}]
  - text: "/^bump (.+)$/"
    do:
      - query: {collection: subs, where: {title: "{{ match.1 }}"}, first: true, as: found}
      - update: {collection: subs, id: "{{ found.id }}", set: {episode: "{{ found.episode + 1 }}"}, as: changed}
      - query: {collection: subs, id: "{{ found.id }}", first: true, as: current}
      - reply: "bumped {{ changed }}: {{ current.title }}={{ current.episode }}"
  - text: "/^drop (.+)$/"
    do:
      - remove: {collection: subs, where: {title: {in: ["{{ match.1 }}", "nothing"]}}, as: removed}
      - reply: "removed {{ removed }}"
  - text: "/^seen (.+)$/"
    do:
      - search: {collection: subs, text: "{{ match.1 }}", limit: 3, as: hits}
      - reply:
          text: "{% for h in hits %}{{ h.record.title }}{% if h.exact %}!{% else %}?{% endif %} {% else %}no match{% endfor %}"
          buttons:
            from: hits
            button: {text: "{{ item.record.title }}", callback: "seen:{{ item.id }}"}
  - callback: "seen:*"
    do:
      - update: {collection: subs, id: "{{ callback.rest }}", set: {seen_at: "{{ 86400 }}"}}
      - query: {collection: subs, where: {seen_at: 86400}, as: marked}
      - answer: "{% for m in marked %}{{ m.title }}{% endfor %}"
  - text: bad
    do:
      - insert: {collection: subs, values: {title: "x", episode: "{{ 'many' }}"}}
      - reply: "never"
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_collection_step_reads_and_writes_typed_records() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(TRACKER).await;
    let ann = world.user("Ann", "en").await;
    let mut seq = 0;
    let mut ann_says = async |text: &str| say(&world, bot, ann, None, text, &mut seq).await;
    assert_eq!(ann_says("add Frieren 3").await, "#1 Frieren next 4 at 1704067200");
    assert_eq!(ann_says("add Dandadan 7").await, "#2 Dandadan next 8 at 1704067200");
    assert_eq!(ann_says("add Apothecary Diaries").await, "#3 Apothecary Diaries ep 0");
    assert_eq!(ann_says("list").await, "3: Dandadan=7 Frieren=3 Apothecary Diaries=0");
    assert_eq!(ann_says("after 2").await, "Dandadan Frieren ");
    assert_eq!(ann_says("after 10").await, "none");
    assert_eq!(ann_says("bump Frieren").await, "bumped 1: Frieren=4");
    assert_eq!(ann_says("drop Dandadan").await, "removed 1");
    assert_eq!(ann_says("drop Dandadan").await, "removed 0");
    assert_eq!(ann_says("list").await, "2: Frieren=4 Apothecary Diaries=0");
    // A value that does not fit its field fails the handler: the error reply answers.
    assert_eq!(ann_says("bad").await, "Oops");
    assert_eq!(ann_says("list").await, "2: Frieren=4 Apothecary Diaries=0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_tolerates_a_misspelling_and_offers_buttons() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(TRACKER).await;
    let ann = world.user("Ann", "en").await;
    let mut seq = 0;
    for title in ["Frieren 1", "Dandadan 2", "Blue Lock 3"] {
        say(&world, bot, ann, None, &format!("add {title}"), &mut seq).await;
    }
    assert_eq!(say(&world, bot, ann, None, "seen frieren", &mut seq).await, "Frieren! ");
    assert_eq!(say(&world, bot, ann, None, "seen Freiren", &mut seq).await, "Frieren? ");
    let (events, _) = world.events(bot, ann, 0, 0).await;
    let last = events.iter().rev().find(|e| e["kind"] == "sent").expect("a sent message");
    let button = &last["message"]["reply_markup"]["inline_keyboard"][0][0];
    assert_eq!(button["text"], "Frieren", "{last}");
    assert_eq!(button["callback_data"], "seen:1", "{last}");
    let message_id = last["message"]["message_id"].clone();
    let pressed = world.act(bot, "callback", ann, json!({"message_id": message_id, "data": "seen:1"})).await;
    let id = pressed["callback_query"]["id"].as_str().expect("a callback query id").to_owned();
    world.wait_handled(bot, 6).await;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let answer = world.get(&format!("/sandbox/callbacks/{id}")).await;
        if answer["answered"] == true {
            // The press marked the record seen (a datetime), and the query by that time found it.
            assert_eq!(answer["text"], "Frieren", "{answer}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the press was not answered: {answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_user_records_are_invisible_to_other_users() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(TRACKER).await;
    let (ann, ivan) = (world.user("Ann", "en").await, world.user("Ivan", "en").await);
    let (mut a, mut i) = (0, 0);
    say(&world, bot, ann, None, "add Frieren 3", &mut a).await;
    assert_eq!(say(&world, bot, ivan, None, "list", &mut i).await, "0:");
    assert_eq!(say(&world, bot, ivan, None, "seen Frieren", &mut i).await, "no match");
    assert_eq!(say(&world, bot, ivan, None, "drop Frieren", &mut i).await, "removed 0");
    assert_eq!(say(&world, bot, ivan, None, "add Naruto 1", &mut i).await, "#2 Naruto next 2 at 1704067200");
    assert_eq!(say(&world, bot, ann, None, "list", &mut a).await, "1: Frieren=3");
    assert_eq!(say(&world, bot, ivan, None, "list", &mut i).await, "1: Naruto=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_chat_records_are_shared_in_a_group_and_kept_from_other_groups() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: votes}
collections:
  votes:
    scope: chat
    fields: {title: string, by: integer}
    index: [by]
on:
  - text: "/^vote (.+)$/"
    do:
      - insert: {collection: votes, values: {title: "{{ match.1 }}", by: "{{ from.id }}"}}
      - count: {collection: votes, as: n}
      - reply: "{{ n }} votes"
  - text: tally
    do:
      - query: {collection: votes, order_by: title, as: all}
      - count: {collection: votes, where: {by: "{{ from.id }}"}, as: mine}
      - reply: "{{ mine }} mine:{% for v in all %} {{ v.title }}{% endfor %}"
"#,
        )
        .await;
    let (ann, ivan) = (world.user("Ann", "en").await, world.user("Ivan", "en").await);
    let group = |title: &str| json!({"title": title, "members": [ann, ivan], "bots": [bot.id]});
    let one = world.post("/sandbox/groups", group("One")).await["id"].as_i64().expect("a group id");
    let two = world.post("/sandbox/groups", group("Two")).await["id"].as_i64().expect("a group id");
    let (mut s1, mut s2) = (0, 0);
    assert_eq!(say(&world, bot, ann, Some(one), "vote Frieren", &mut s1).await, "1 votes");
    assert_eq!(say(&world, bot, ivan, Some(one), "vote Dandadan", &mut s1).await, "2 votes");
    assert_eq!(say(&world, bot, ann, Some(two), "vote Naruto", &mut s2).await, "1 votes");
    assert_eq!(say(&world, bot, ivan, Some(one), "tally", &mut s1).await, "1 mine: Dandadan Frieren");
    assert_eq!(say(&world, bot, ivan, Some(two), "tally", &mut s2).await, "0 mine: Naruto");
}

/// One request a receiver got: its headers and body.
type Received = (HeaderMap, Vec<u8>);

/// A receiver of events: what it got.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: axum::body::Bytes) -> Json<Value> {
    receiver.got.lock().push((headers, body.to_vec()));
    Json(json!({"ok": true}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_posts_a_signed_event_to_the_webhooks_that_want_it() {
    let receiver = Receiver::default();
    let router = axum::Router::new().route("/events", post(receive)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr: SocketAddr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serves") });
    let config = EngineConfig {
        http: HttpConfig { allow_private: vec![("127.0.0.1".into(), addr.port())], ..HttpConfig::default() },
        ..test_config()
    };
    let mut world = World::start(config).await;
    let yaml = format!(
        r#"
ferrogram: 1
bot: {{name: emitter}}
webhooks:
  - {{url: "http://127.0.0.1:{port}/events", events: [subscribed], secret: "s3cret-s3cret"}}
  - {{url: "http://127.0.0.1:{port}/events?other", events: [other]}}
on:
  - text: "/^sub (.+)$/"
    do:
      - emit: {{event: subscribed, data: {{title: "{{{{ match.1 }}}}", first: "{{{{ from.first_name }}}}", n: "{{{{ 2 + 3 }}}}"}}}}
      - reply: "sent to {{{{ result.webhooks }}}}"
"#,
        port = addr.port()
    );
    let bot = world.bot(&yaml).await;
    let ann = world.user("Ann", "en").await;
    let mut seq = 0;
    assert_eq!(say(&world, bot, ann, None, "sub Frieren", &mut seq).await, "sent to 1");
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while receiver.got.lock().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no event arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (headers, body) = receiver.got.lock()[0].clone();
    let event: Value = serde_json::from_slice(&body).expect("a JSON event");
    assert_eq!(event["event"], "subscribed");
    assert_eq!(event["bot"], bot.id);
    assert_eq!(event["chat_id"], ann);
    assert_eq!(event["user_id"], ann);
    assert_eq!(event["data"], json!({"title": "Frieren", "first": "Ann", "n": 5}));
    assert!(event["at"].as_u64().is_some_and(|at| at > 1_700_000_000), "{event}");
    assert_eq!(headers["x-ferrogram-event"], "subscribed");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"s3cret-s3cret").expect("a key");
    mac.update(&body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(headers["x-ferrogram-signature"], format!("sha256={expected}").as_str());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.got.lock().len(), 1, "the other webhook does not want this event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_read_only_the_environment_variables_the_operator_lists() {
    let receiver = Receiver::default();
    let router = axum::Router::new().route("/events", post(receive)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr: SocketAddr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serves") });
    let pid = std::process::id();
    let (url_var, secret_var) = (format!("BOT_ENV_HOOK_URL_{pid}"), format!("BOT_ENV_HOOK_SECRET_{pid}"));
    // SAFETY: names unique to this test process; nothing else reads or writes them.
    unsafe {
        std::env::set_var(&url_var, format!("http://127.0.0.1:{}/events", addr.port()));
        std::env::set_var(&secret_var, "the-server-s-own-secret");
    }
    let config = EngineConfig {
        http: HttpConfig {
            allow_private: vec![("127.0.0.1".into(), addr.port())],
            bot_env: BotEnv::Only([url_var.clone()].into()),
            ..HttpConfig::default()
        },
        ..test_config()
    };
    let mut world = World::start(config).await;
    let yaml = format!(
        r#"
ferrogram: 1
bot: {{name: hooks}}
webhooks:
  - {{url: "${{{url_var}}}", events: [leak], secret: "${{{secret_var}}}"}}
  - {{url: "${{{url_var}}}", events: [fine]}}
on:
  - text: leak
    do:
      - emit: {{event: leak}}
      - reply: "sent to {{{{ result.webhooks }}}}"
  - text: fine
    do:
      - emit: {{event: fine}}
      - reply: "sent to {{{{ result.webhooks }}}}"
"#
    );
    let bot = world.bot(&yaml).await;
    let ann = world.user("Ann", "en").await;
    let mut seq = 0;
    // The secret is not one bot files may read: that webhook is skipped, nothing is sent.
    assert_eq!(say(&world, bot, ann, None, "leak", &mut seq).await, "sent to 0");
    // The listed URL variable is read.
    assert_eq!(say(&world, bot, ann, None, "fine", &mut seq).await, "sent to 1");
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while receiver.got.lock().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no event arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = receiver.got.lock().clone();
    assert_eq!(got.len(), 1, "only the allowed webhook was called");
    let event: Value = serde_json::from_slice(&got[0].1).expect("a JSON event");
    assert_eq!(event["event"], "fine");
    assert!(got[0].0.get("x-ferrogram-signature").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_writes_a_per_bot_collection_every_user_reads() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: ticker}
collections:
  ticks:
    scope: bot
    fields: {n: integer}
jobs:
  tick:
    every: 1s
    do:
      - count: {collection: ticks, as: n}
      - insert: {collection: ticks, values: {n: "{{ n + 1 }}"}}
on:
  - text: ticks
    do:
      - query: {collection: ticks, order_by: n desc, first: true, as: last}
      - reply: "{{ last.n if last else 0 }}"
"#,
        )
        .await;
    let (ann, ivan) = (world.user("Ann", "en").await, world.user("Ivan", "en").await);
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let (mut a, mut i) = (0, 0);
    loop {
        let seen: u64 = say(&world, bot, ann, None, "ticks", &mut a).await.parse().expect("a number");
        if seen >= 1 {
            let by_ivan: u64 = say(&world, bot, ivan, None, "ticks", &mut i).await.parse().expect("a number");
            assert!(by_ivan >= seen, "Ivan sees the bot's records too: {by_ivan} < {seen}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the job wrote nothing");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
