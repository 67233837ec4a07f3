//! End-to-end tests of the steps that talk to Telegram in their own ways: dice, polls, inline
//! answers, deletion, loops, unset variables, reply keyboards and photos by URL. Every check
//! reads what the sandbox saw.

mod common;

use common::{Bot, World, test_config};
use serde_json::{Value, json};

/// The `sent` events of the bot in `chat` after `after`, waiting until there are `count`.
async fn wait_sent_events(world: &World, bot: Bot, chat: i64, after: u64, count: usize) -> (Vec<Value>, u64) {
    let mut sent = Vec::new();
    let mut last = after;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while sent.len() < count {
        assert!(tokio::time::Instant::now() < deadline, "only {sent:?} sent, wanted {count}");
        let (events, seq) = world.events(bot, chat, last, 5).await;
        last = seq;
        sent.extend(events.into_iter().filter(|e| e["kind"] == "sent"));
    }
    (sent, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dice_sends_the_emoji_and_its_value_is_the_result() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: dice}
on:
  - command: roll
    do:
      - dice: "🎯"
      - reply: "You rolled {{ result.value }}"
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "roll"})).await;
    let (sent, _) = wait_sent_events(&world, bot, ann, 0, 2).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    let dice = &sent[0]["message"]["dice"];
    assert_eq!(dice["emoji"], "🎯", "{sent:?}");
    let value = dice["value"].as_i64().expect("a dice value");
    assert!((1..=6).contains(&value), "🎯 rolled {value}");
    assert_eq!(sent[1]["message"]["text"], format!("You rolled {value}"));
}

const POLLS: &str = r#"
ferrogram: 1
bot: {name: polls}
on:
  - command: poll
    do:
      - poll:
          question: "Tea or coffee, {{ from.first_name }}?"
          options: [Tea, Coffee, "Both"]
          anonymous: false
          multiple: true
      - reply: "Poll {{ result.poll.id }} sent"
  - command: quiz
    do:
      - poll: {question: "2 + 2?", options: ["3", "4"], correct: 1, anonymous: false}
  - content: poll_answer
    do:
      - reply: "Voted {{ message.option_ids | join(',') }} in {{ message.poll_id }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_and_quizzes_are_sent_and_votes_reach_the_bot() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(POLLS).await;
    let ann = world.user("Ann", "en").await;

    world.act(bot, "command", ann, json!({"command": "poll"})).await;
    let (sent, seq) = wait_sent_events(&world, bot, ann, 0, 2).await;
    let poll = &sent[0]["message"]["poll"];
    let poll_id = poll["id"].as_str().expect("a poll id").to_owned();
    assert_eq!(poll["question"], "Tea or coffee, Ann?");
    assert_eq!(poll["type"], "regular");
    assert_eq!(poll["is_anonymous"], false);
    assert_eq!(poll["allows_multiple_answers"], true);
    let options: Vec<&str> =
        poll["options"].as_array().expect("options").iter().map(|o| o["text"].as_str().expect("a text")).collect();
    assert_eq!(options, ["Tea", "Coffee", "Both"]);
    assert_eq!(sent[1]["message"]["text"], format!("Poll {poll_id} sent"));

    let vote = world.act(bot, "poll_answer", ann, json!({"poll_id": poll_id, "option_ids": [0, 2]})).await;
    assert_eq!(vote["poll"]["total_voter_count"], 1);
    assert_eq!(vote["poll"]["options"][0]["voter_count"], 1);
    assert_eq!(vote["poll"]["options"][1]["voter_count"], 0);
    assert_eq!(vote["poll"]["options"][2]["voter_count"], 1);
    let (sent, seq) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, [format!("Voted 0,2 in {poll_id}")]);

    world.act(bot, "command", ann, json!({"command": "quiz"})).await;
    let (sent, _) = wait_sent_events(&world, bot, ann, seq, 1).await;
    let quiz = &sent[0]["message"]["poll"];
    let quiz_id = quiz["id"].as_str().expect("a quiz id").to_owned();
    assert_eq!(quiz["question"], "2 + 2?");
    assert_eq!(quiz["type"], "quiz");
    assert_eq!(quiz["correct_option_ids"], json!([1]), "{quiz}");
    let options: Vec<&str> =
        quiz["options"].as_array().expect("options").iter().map(|o| o["text"].as_str().expect("a text")).collect();
    assert_eq!(options, ["3", "4"]);
    let vote = world.act(bot, "poll_answer", ann, json!({"poll_id": quiz_id, "option_ids": [1]})).await;
    assert_eq!(vote["poll"]["options"][1]["voter_count"], 1);
    let (sent, _) = world.wait_sent(bot, ann, seq, 2).await;
    assert_eq!(sent, [String::new(), format!("Voted 1 in {quiz_id}")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_query_is_answered_with_articles_from_a_list() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: inline}
variables:
  bot:
    fruits: {type: list, default: [apple, banana]}
on:
  - inline_query: any
    do:
      - answer_inline:
          from: bot.fruits
          title: "{{ item | upper }}"
          message: "{{ from.first_name }} likes {{ item }} ({{ inline.query }})"
          description: "A fruit for {{ inline.query }}"
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    let query = world.act(bot, "inline_query", ann, json!({"query": "snack"})).await;
    let id = query["inline_query"]["id"].as_str().expect("a query id").to_owned();
    world.wait_handled(bot, 1).await;
    let answer = world.get(&format!("/sandbox/inline_queries/{id}")).await;
    assert_eq!(answer["answered"], true, "{answer}");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{answer}");
    for (index, (fruit, title)) in [("apple", "APPLE"), ("banana", "BANANA")].into_iter().enumerate() {
        let article = &results[index];
        assert_eq!(article["type"], "article");
        assert_eq!(article["id"], index.to_string());
        assert_eq!(article["title"], title);
        assert_eq!(article["description"], "A fruit for snack");
        assert_eq!(article["input_message_content"]["message_text"], format!("Ann likes {fruit} (snack)"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_users_message() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: moderator}
on:
  - text: "/password/"
    do:
      - delete: any
      - reply: "Deleted, keep it secret"
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    let said = world.act(bot, "text", ann, json!({"text": "my password is hunter2"})).await;
    let message_id = said["message"]["message_id"].as_i64().expect("a message id");
    let (sent, _) = world.wait_sent(bot, ann, 0, 1).await;
    assert_eq!(sent, ["Deleted, keep it secret"]);
    let (events, _) = world.events(bot, ann, 0, 0).await;
    let kinds: Vec<&str> =
        events.iter().filter(|e| e["kind"] != "received").map(|e| e["kind"].as_str().unwrap_or_default()).collect();
    assert_eq!(kinds, ["deleted", "sent"], "{events:?}");
    let deleted = events.iter().find(|e| e["kind"] == "deleted").expect("a deleted event");
    assert_eq!(deleted["message_id"], message_id);
    let history = world.get(&format!("/sandbox/chats/{ann}/messages?bot_id={}", bot.id)).await;
    let stored = history
        .as_array()
        .expect("a history")
        .iter()
        .find(|m| m["message"]["message_id"] == message_id)
        .expect("the user's message in the history");
    assert_eq!(stored["deleted"], true, "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_each_replies_once_per_element_in_order() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: lister}
variables:
  user:
    todo: {type: list, default: [milk, eggs, bread]}
on:
  - command: list
    do:
      - for_each:
          in: user.todo
          do:
            - reply: "{{ item }} for {{ from.first_name }}"
      - reply: "{{ user.todo | length }} items, item {% if item is defined %}left{% else %}gone{% endif %}"
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "list"})).await;
    let (sent, _) = world.wait_sent(bot, ann, 0, 4).await;
    assert_eq!(sent, ["milk for Ann", "eggs for Ann", "bread for Ann", "3 items, item gone"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unset_returns_a_variable_to_its_default() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: memory}
variables:
  user:
    name: {type: string, default: stranger}
    visits: {type: number}
on:
  - command: who
    do:
      - reply: "{{ user.name }} {{ user.visits }}"
  - command: set
    do:
      - set: {user.name: "{{ command.payload }}", user.visits: "7"}
  - command: forget
    do:
      - unset: [user.name, user.visits]
      - reply: "forgot: {{ user.name }} {{ user.visits }}"
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "who"})).await;
    world.act(bot, "command", ann, json!({"command": "set", "payload": "Annie"})).await;
    world.act(bot, "command", ann, json!({"command": "who"})).await;
    world.act(bot, "command", ann, json!({"command": "forget"})).await;
    world.act(bot, "command", ann, json!({"command": "who"})).await;
    let (sent, _) = world.wait_sent(bot, ann, 0, 4).await;
    assert_eq!(sent, ["stranger 0", "Annie 7", "forgot: stranger 0", "stranger 0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_keyboard_is_shown_and_an_empty_one_removes_it() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: keys}
on:
  - command: menu
    do:
      - reply: {text: "Pick one", keyboard: [["Tea", "Coffee"], ["I am {{ from.first_name }}"]]}
  - command: done
    do:
      - reply: {text: "Keyboard gone", keyboard: []}
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "menu"})).await;
    let (sent, seq) = wait_sent_events(&world, bot, ann, 0, 1).await;
    assert_eq!(sent[0]["message"]["text"], "Pick one");
    let markup = &sent[0]["detail"]["reply_markup"];
    assert_eq!(markup["keyboard"], json!([[{"text": "Tea"}, {"text": "Coffee"}], [{"text": "I am Ann"}]]), "{markup}");
    assert_eq!(markup["resize_keyboard"], true, "{markup}");

    world.act(bot, "command", ann, json!({"command": "done"})).await;
    let (sent, _) = wait_sent_events(&world, bot, ann, seq, 1).await;
    assert_eq!(sent[0]["message"]["text"], "Keyboard gone");
    assert_eq!(sent[0]["detail"]["reply_markup"], json!({"remove_keyboard": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_app_buttons_and_keys_open_web_apps_whose_data_comes_back() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: shop}
on:
  - command: shop
    do:
      - reply:
          text: "Shop"
          buttons: [[{text: "Browse", web_app: "https://shop.example/browse?u={{ from.id }}"}]]
      - reply:
          text: "Or order here"
          keyboard: [[{text: "Order", web_app: "https://shop.example/order"}, "Help"]]
  - command: bad
    do:
      - reply: {text: "x", buttons: [[{text: "Bad", web_app: "{{ 'http://shop.example' }}"}]]}
  - content: web_app_data
    do:
      - if:
          condition: "web_app.data is mapping"
          then: [{reply: "{{ web_app.data.qty }} × {{ web_app.data.item }} via {{ web_app.button_text }}"}]
          else: [{reply: "Plain: {{ web_app.data }} ({{ web_app.raw | length }} chars)"}]
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "shop"})).await;
    let (sent, seq) = wait_sent_events(&world, bot, ann, 0, 2).await;
    assert_eq!(
        sent[0]["message"]["reply_markup"],
        json!({"inline_keyboard": [[{"text": "Browse", "web_app": {"url": format!("https://shop.example/browse?u={ann}")}}]]})
    );
    assert_eq!(
        sent[1]["detail"]["reply_markup"]["keyboard"],
        json!([[{"text": "Order", "web_app": {"url": "https://shop.example/order"}}, {"text": "Help"}]])
    );
    let order = json!({"data": r#"{"item": "tea", "qty": 2}"#, "button_text": "Order"});
    world.act(bot, "web_app_data", ann, order).await;
    let (sent, seq) = wait_sent_events(&world, bot, ann, seq, 1).await;
    assert_eq!(sent[0]["message"]["text"], "2 × tea via Order");
    world.act(bot, "web_app_data", ann, json!({"data": "just text", "button_text": "Order"})).await;
    let (sent, seq) = wait_sent_events(&world, bot, ann, seq, 1).await;
    assert_eq!(sent[0]["message"]["text"], "Plain: just text (9 chars)");
    // A URL that renders to http is refused by the engine before Telegram would: the error reply.
    world.act(bot, "command", ann, json!({"command": "bad"})).await;
    let (sent, _) = wait_sent_events(&world, bot, ann, seq, 1).await;
    assert_eq!(sent[0]["message"]["text"], "Something went wrong. Please try again.");
}

const OWN_SHOP: &str = r#"
ferrogram: 1
bot: {name: own_shop}
errors:
  reply: "Failed: {{ error.message }}"
on:
  - command: shop
    do:
      - reply: {text: "Shop", keyboard: [[{text: "Order", web_app: "/shop?u={{ from.id }}"}]]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_app_path_opens_the_page_ferrogram_serves_under_the_public_url() {
    let mut config = test_config();
    config.public_url = Some("https://bots.example/".into());
    let mut world = World::start(config).await;
    let bot = world.bot(OWN_SHOP).await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "shop"})).await;
    let (sent, _) = wait_sent_events(&world, bot, ann, 0, 1).await;
    let url = format!("https://bots.example/webapp/{}/shop?u={ann}", bot.id);
    assert_eq!(sent[0]["detail"]["reply_markup"]["keyboard"], json!([[{"text": "Order", "web_app": {"url": url}}]]));

    // Without a public URL there is no page to open: the errors reply says so.
    let mut world = World::start(test_config()).await;
    let bot = world.bot(OWN_SHOP).await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "shop"})).await;
    let (sent, _) = wait_sent_events(&world, bot, ann, 0, 1).await;
    let text = sent[0]["message"]["text"].as_str().unwrap();
    assert!(text.starts_with("Failed: web_app: \"/shop?u=") && text.contains("server.public_url"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_messages_run_edited_text_handlers_and_never_answer_a_form() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: edits, start: home}
on:
  - command: ask
    do: [{goto: ask}]
  - text: any
    do: [{reply: "New: {{ message.text }}"}]
  - edited_text: '/^(\d+) (\w+)$/'
    do: [{reply: "Now {{ match.1 }} of {{ match.2 }} (edited {{ 'yes' if message.edit_date else 'no' }})"}]
  - edited_text: any
    do: [{reply: "You changed it to: {{ message.text }}"}]
scenes:
  home: {}
  ask:
    form:
      fields: [{name: n, ask: "A number?", type: number}]
      on_done: [{reply: "Got {{ form.n }}"}, {goto: home}]
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    let said = world.act(bot, "text", ann, json!({"text": "helo"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, 0, 1).await;
    assert_eq!(sent, ["New: helo"]);
    let id = said["message"]["message_id"].clone();
    world.act(bot, "edit", ann, json!({"message_id": id, "text": "hello"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, ["You changed it to: hello"]);
    world.act(bot, "edit", ann, json!({"message_id": id, "text": "3 apples"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, ["Now 3 of apples (edited yes)"]);

    // Mid-form, an edit goes to the handlers, not to the question.
    world.act(bot, "command", ann, json!({"command": "ask"})).await;
    let asked = world.act(bot, "text", ann, json!({"text": "7"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 2).await;
    assert_eq!(sent, ["A number?", "Got 7"]);
    world.act(bot, "command", ann, json!({"command": "ask"})).await;
    let (_, seq) = world.wait_sent(bot, ann, seq, 1).await;
    world.act(bot, "edit", ann, json!({"message_id": asked["message"]["message_id"], "text": "8"})).await;
    world.act(bot, "text", ann, json!({"text": "9"})).await;
    let (sent, _) = world.wait_sent(bot, ann, seq, 2).await;
    assert_eq!(sent, ["You changed it to: 8", "Got 9"]);
}

const CALLS: &str = r#"
ferrogram: 1
bot: {name: calls, start: menu}
variables:
  user:
    city: {type: string}
on:
  - command: order
    do:
      - reply: "Let's order."
      - if:
          condition: "true"
          then:
            - call: address
            - reply: "Shipping to {{ form.street }}, {{ user.city }}."
      - reply: "Order placed."
  - command: quick
    do:
      - call: instant
      - reply: "After instant, in {{ 'menu' }}."
  - command: loop
    do:
      - for_each:
          in: "[1, 2, 3]"
          do:
            - reply: "item {{ item }}"
            - call: instant
            - reply: "never: the rest of the loop's body"
      - reply: "after the loop"
  - command: guarded
    do:
      - try:
          do:
            - call: instant
            - reply: "after instant, inside try"
      - reply: "after the try"
scenes:
  menu:
    on: [{text: where, do: [{reply: "in menu"}]}]
  address:
    form:
      fields: [{name: street, ask: "Street?"}]
      on_done:
        - set: {user.city: Berlin}
        - return: any
  instant:
    on_enter:
      - reply: "instant"
      - return: any
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_runs_the_steps_after_the_call_even_in_a_later_update() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(CALLS).await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "order"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, 0, 2).await;
    assert_eq!(sent, ["Let's order.", "Street?"]);
    world.act(bot, "text", ann, json!({"text": "Main St 1"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 2).await;
    assert_eq!(sent, ["Shipping to Main St 1, Berlin.", "Order placed."]);
    world.act(bot, "text", ann, json!({"text": "where"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, ["in menu"], "back in the calling scene");

    world.act(bot, "command", ann, json!({"command": "quick"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 2).await;
    assert_eq!(sent, ["instant", "After instant, in menu."], "a return in the same update");

    world.act(bot, "command", ann, json!({"command": "loop"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 3).await;
    assert_eq!(sent, ["item 1", "instant", "after the loop"]);

    world.act(bot, "command", ann, json!({"command": "guarded"})).await;
    let (sent, _) = world.wait_sent(bot, ann, seq, 3).await;
    assert_eq!(sent, ["instant", "after instant, inside try", "after the try"], "a call inside try resumes there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_reload_the_steps_after_a_call_run_only_if_unchanged() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(CALLS).await;
    let (ann, bob) = (world.user("Ann", "en").await, world.user("Bob", "en").await);
    for user in [ann, bob] {
        world.act(bot, "command", user, json!({"command": "order"})).await;
    }
    let (_, ann_seq) = world.wait_sent(bot, ann, 0, 2).await;
    let (_, bob_seq) = world.wait_sent(bot, bob, 0, 2).await;

    // Another handler changes: Ann's `/order` is as it was, her steps after the call still run.
    let v2 = CALLS.replace("\"After instant, in {{ 'menu' }}.\"", "\"After instant (v2).\"");
    world.engine.reload_source(bot.handle, &v2, "calls.yaml").await.expect("valid");
    world.act(bot, "text", ann, json!({"text": "Elm St 2"})).await;
    let (sent, _) = world.wait_sent(bot, ann, ann_seq, 2).await;
    assert_eq!(sent, ["Shipping to Elm St 2, Berlin.", "Order placed."]);

    // `/order` itself changes: Bob's form still ends, back in the menu, without the old steps.
    let v3 = v2.replace("Order placed.", "Order placed (v3).");
    world.engine.reload_source(bot.handle, &v3, "calls.yaml").await.expect("valid");
    world.act(bot, "text", bob, json!({"text": "Oak St 3"})).await;
    world.act(bot, "text", bob, json!({"text": "where"})).await;
    world.wait_handled(bot, 5).await;
    let (sent, _) = world.wait_sent(bot, bob, bob_seq, 1).await;
    assert_eq!(sent, ["in menu"]);
}

/// A 1×1 transparent PNG.
const TINY_PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_by_url_is_fetched_and_sent_with_its_caption() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let fetched = Arc::new(AtomicUsize::new(0));
    let counter = fetched.clone();
    let router = axum::Router::new().route(
        "/cat.png",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                ([(axum::http::header::CONTENT_TYPE, "image/png")], TINY_PNG)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serves") });

    // The sandbox fetches the photo only from a private address the operator allows.
    let mut config = test_config();
    config.http.allow_private.push(("127.0.0.1".into(), address.port()));
    let mut world = World::start(config).await;
    let yaml = format!(
        r#"
ferrogram: 1
bot: {{name: photos}}
on:
  - command: cat
    do:
      - reply: {{photo: "http://{address}/cat.png", text: "A cat for {{{{ from.first_name }}}}"}}
"#
    );
    let bot = world.bot(&yaml).await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "cat"})).await;
    let (sent, _) = wait_sent_events(&world, bot, ann, 0, 1).await;
    let message = &sent[0]["message"];
    assert_eq!(message["caption"], "A cat for Ann", "{message}");
    assert!(message.get("text").is_none(), "{message}");
    let photo = message["photo"].as_array().expect("a photo");
    assert_eq!(photo.len(), 1, "{message}");
    assert_eq!((photo[0]["width"].as_i64(), photo[0]["height"].as_i64()), (Some(1), Some(1)), "{message}");
    assert_eq!(fetched.load(Ordering::SeqCst), 1);
    let file_id = photo[0]["file_id"].as_str().expect("a file id");
    let bytes = world
        .http
        .get(format!("{}/sandbox/files/{file_id}", world.url()))
        .send()
        .await
        .expect("request")
        .bytes()
        .await
        .expect("the file");
    assert_eq!(bytes.as_ref(), TINY_PNG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_by_url_from_a_private_address_is_not_fetched() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let fetched = Arc::new(AtomicUsize::new(0));
    let counter = fetched.clone();
    let router = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { ([(axum::http::header::CONTENT_TYPE, "image/png")], TINY_PNG) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serves") });

    // No allow-list: what a bot file names is not fetched by the sandbox, as the `http` step
    // does not call it. The replies after each photo show its send was tried.
    let mut world = World::start(test_config()).await;
    let yaml = format!(
        r#"
ferrogram: 1
bot: {{name: photos}}
on:
  - command: cat
    do:
      - reply: {{photo: "http://127.0.0.1:{port}/x.png"}}
      - reply: "after v4"
      - reply: {{photo: "http://[::1]:{port}/x.png"}}
      - reply: "after v6"
      - reply: {{photo: "http://localhost:{port}/x.png"}}
      - reply: "after the name"
"#
    );
    let bot = world.bot(&yaml).await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "cat"})).await;
    // Each refused photo is a send refused for good: it reaches the errors reply (decision 0024).
    let (sent, _) = world.wait_sent(bot, ann, 0, 6).await;
    let error = "Something went wrong. Please try again.";
    let others: Vec<&String> = sent.iter().filter(|text| *text != error).collect();
    assert_eq!(others, ["after v4", "after v6", "after the name"]);
    assert_eq!(sent.iter().filter(|text| *text == error).count(), 3, "one errors reply per refused photo: {sent:?}");
    assert_eq!(fetched.load(Ordering::SeqCst), 0, "the sandbox fetched a loopback address for a bot");
}

const TRY: &str = r#"
ferrogram: 1
bot: {name: try}
errors: {reply: "The errors reply: {{ from.first_name }}"}
variables:
  user:
    n: {type: number, default: 0}
on:
  - command: go
    do:
      - set: {user.n: 1}
      - reply: "before"
      - try:
          do:
            - set: {user.n: 2}
            - reply: "queued inside do, never sent"
            # A loopback address the engine refuses: the step fails.
            - http: {url: "http://127.0.0.1:9/status", retries: 0}
            - reply: "never reached"
          catch:
            - reply: "caught {{ error.kind }} (n={{ user.n }}): {{ error.message }}"
      - try:
          do:
            - reply: "{{ user.n.missing.deeper }}"
      - reply: "after (n={{ user.n }})"
  - command: show
    do:
      - reply: "n={{ user.n }}"
  - command: dice
    do:
      - reply: "queued before try"
      - try:
          do:
            # Sent at once, with what was queued before it: neither can be taken back.
            - dice: "🎲"
            - reply: "queued after the dice, dropped"
            - http: {url: "http://127.0.0.1:9/status", retries: 0}
          catch:
            - reply: "caught {{ error.kind }}"
  - command: twice
    do:
      - try:
          do:
            - http: {url: "http://127.0.0.1:9/status", retries: 0}
          catch:
            - reply: "{{ error.kind }} then {{ user.n.missing.deeper }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_undoes_what_do_queued_and_set_and_catch_sees_the_error() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(TRY).await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "go"})).await;
    let (sent, last) = world.wait_sent(bot, ann, 0, 3).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[0], "before");
    assert!(
        sent[1].starts_with("caught http (n=1): http GET 127.0.0.1: refused"),
        "the set inside `do` is undone and the error is the http step's: {sent:?}"
    );
    // The second `try` has no `catch`: its template error is ignored and the handler goes on.
    assert_eq!(sent[2], "after (n=1)");
    world.act(bot, "command", ann, json!({"command": "show"})).await;
    let (sent, last) = world.wait_sent(bot, ann, last, 1).await;
    assert_eq!(sent, ["n=1"], "the variable write of the failed `do` was not committed");
    // A failure inside `catch` is not caught by its own `try`: the bot's errors reply answers.
    world.act(bot, "command", ann, json!({"command": "twice"})).await;
    let (sent, last) = world.wait_sent(bot, ann, last, 1).await;
    assert_eq!(sent, ["The errors reply: Ann"]);
    // A dice inside `do` makes the calls queued so far at once; the rollback then drops only
    // what `do` queued after it.
    world.act(bot, "command", ann, json!({"command": "dice"})).await;
    let (sent, _) = wait_sent_events(&world, bot, ann, last, 3).await;
    let shown: Vec<String> = sent
        .iter()
        .map(|e| match e["message"]["dice"]["emoji"].as_str() {
            Some(emoji) => format!("(dice {emoji})"),
            None => e["message"]["text"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    assert_eq!(shown, ["queued before try", "(dice 🎲)", "caught http"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_without_declared_variables_is_not_read() {
    // Values an earlier version of the file stored in scopes this version declares nothing in.
    let store = std::sync::Arc::new(ferrogram_engine::MemoryStore::new());
    let mut config = test_config();
    config.store = store.clone();
    let mut world = World::start(config).await;
    let yaml = r#"
ferrogram: 1
bot: {name: scopes}
variables:
  user:
    name: {type: string, default: "nobody"}
on:
  - text: any
    do: [{reply: "{{ user | length }} {{ chat_vars | length }} {{ bot | length }}"}]
"#;
    let bot = world.bot(yaml).await;
    let ann = world.user("Ann", "en").await;
    let stale = |scope| (scope, "old".to_owned(), Some(json!(1)));
    let vars = vec![
        stale(ferrogram_engine::Scope::User(ann)),
        stale(ferrogram_engine::Scope::Chat(ann)),
        stale(ferrogram_engine::Scope::Bot),
    ];
    let commit = ferrogram_engine::Commit { bot: bot.id, vars, ..Default::default() };
    ferrogram_engine::StateStore::commit(store.as_ref(), &[commit]).await.expect("stored");
    world.act(bot, "text", ann, json!({"text": "hi"})).await;
    let (sent, _) = world.wait_sent(bot, ann, 0, 1).await;
    // The declared scope is read (its stored `old` with `name`); the other two are not.
    assert_eq!(sent, ["2 0 0"]);
}
