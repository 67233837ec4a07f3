//! The runtime against an in-process sandbox: ordering, isolation of failures, the time
//! budget, hot reload (mid-form, and edits given as text) and limits.

mod common;

use std::time::Duration;

use common::{ECHO, World, test_config};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chat_in_order_other_chats_in_parallel() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(ECHO).await;
    let (ann, bob) = (world.user("Ann", "en").await, world.user("Bob", "en").await);
    // Ann's first reply is held up in the sandbox; Bob's chat must not wait for it. The hold is
    // long (6 s, well inside `WAIT`) so that Bob's whole round trip fits in it even on a loaded
    // machine: at 1.5 s it did not always, and Ann's reply then went out first.
    world
        .post(
            &format!("/sandbox/bots/{}/faults", bot.id),
            json!({"count": 1, "delay_ms": 6000, "methods": ["sendMessage"]}),
        )
        .await;
    for text in ["a1", "a2", "a3", "a4"] {
        world.act(bot, "text", ann, json!({"text": text})).await;
    }
    world.act(bot, "text", bob, json!({"text": "b1"})).await;
    let (bob_sent, _) = world.wait_sent(bot, bob, 0, 1).await;
    assert_eq!(bob_sent, ["b1"]);
    let (events, _) = world.events(bot, ann, 0, 0).await;
    assert!(
        events.iter().all(|e| e["kind"] != "sent"),
        "Bob was answered while Ann's first reply was held: {events:?}"
    );
    let (ann_sent, _) = world.wait_sent(bot, ann, 0, 4).await;
    assert_eq!(ann_sent, ["a1", "a2", "a3", "a4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_step_is_answered_and_other_bots_keep_working() {
    let mut world = World::start(test_config()).await;
    // Fails at run time: the template reads a field the message does not have.
    let broken = world
        .bot(
            r#"
ferrogram: 1
bot: {name: broken, locales: [en, ru]}
errors:
  reply: {en: "Oops", ru: "Ой"}
on:
  - text: any
    do:
      - reply: "{{ message.no_such_field.here }}"
"#,
        )
        .await;
    let echo = world.bot(ECHO).await;
    // A third bot whose Telegram side fails: its next sendMessage calls answer 502.
    let unlucky = world.bot(ECHO).await;
    world
        .post(
            &format!("/sandbox/bots/{}/faults", unlucky.id),
            json!({"count": 3, "status": 502, "methods": ["sendMessage"]}),
        )
        .await;
    let (ann, ivan) = (world.user("Ann", "en").await, world.user("Ivan", "ru").await);
    world.act(unlucky, "text", ann, json!({"text": "delivered at last"})).await;
    world.act(broken, "text", ann, json!({"text": "hi"})).await;
    world.act(broken, "text", ivan, json!({"text": "hi"})).await;
    world.act(echo, "text", ann, json!({"text": "still here"})).await;
    assert_eq!(world.wait_sent(broken, ann, 0, 1).await.0, ["Oops"]);
    assert_eq!(world.wait_sent(broken, ivan, 0, 1).await.0, ["Ой"]);
    assert_eq!(world.wait_sent(echo, ann, 0, 1).await.0, ["still here"]);
    // The broken bot still answers its next update.
    world.act(broken, "text", ann, json!({"text": "again"})).await;
    world.wait_handled(broken, 3).await;
    assert_eq!(world.wait_sent(broken, ann, 0, 2).await.0, ["Oops", "Oops"]);
    // Its failed sends were retried until the reply went out, the faults used up.
    assert_eq!(world.wait_sent(unlucky, ann, 0, 1).await.0, ["delivered at last"]);
    assert_eq!(world.get(&format!("/sandbox/bots/{}/faults", unlucky.id)).await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_over_its_time_budget_is_answered_by_the_error_handler() {
    let config = ferrogram_engine::EngineConfig { update_budget: Duration::from_millis(500), ..test_config() };
    let mut world = World::start(config).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: slow}
errors: {reply: "Too slow, sorry"}
on:
  - command: start
    do:
      - reply: {text: "Go?", buttons: [[{text: Go, callback: go}]]}
  - callback: go
    do:
      - answer: "going"
      - dice: "🎲"
      - reply: "went"
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "start"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, 0, 1).await;
    assert_eq!(sent, ["Go?"]);
    let (events, _) = world.events(bot, ann, 0, 0).await;
    let message_id = events.iter().find(|e| e["kind"] == "sent").and_then(|e| e["message"]["message_id"].as_i64());
    // sendDice (a call the handler waits for) is held for longer than the budget.
    world
        .post(
            &format!("/sandbox/bots/{}/faults", bot.id),
            json!({"count": 1, "delay_ms": 3000, "methods": ["sendDice"]}),
        )
        .await;
    world.act(bot, "callback", ann, json!({"message_id": message_id, "data": "go"})).await;
    world.wait_handled(bot, 2).await;
    // The dice still goes out (the scheduler keeps the chat's order, so the error reply waits
    // for it), but the handler was cut off before `went`.
    let (sent, _) = world.wait_sent(bot, ann, seq, 2).await;
    assert_eq!(sent, ["", "Too slow, sorry"], "a dice (no text), then the error reply");
}

const FORM_V1: &str = r#"
ferrogram: 1
bot: {name: form, start: home}
on:
  - command: start
    do: [{goto: home}]
  - command: profile
    do: [{goto: profile}]
  - command: where
    do: [{reply: "v1 at home"}]
scenes:
  home:
    on_enter: [{reply: "home v1"}]
  elsewhere:
    on_enter: [{reply: "elsewhere"}]
  profile:
    form:
      fields:
        - {name: name, ask: "Name?"}
        - {name: age, ask: "Age?", type: number}
      on_done:
        - reply: "v1 done {{ form.name }} {{ form.age }}"
"#;

const FORM_V2: &str = r#"
ferrogram: 1
bot: {name: form, start: home}
on:
  - command: where
    do: [{reply: "v2 scene {{ 'home' }}"}]
scenes:
  home:
    on: [{text: any, do: [{reply: "v2 home heard {{ message.text }}"}]}]
  profile:
    form:
      fields:
        - {name: name, ask: "Name?"}
        - {name: age, ask: "Age, {{ form.name }}?", type: number}
      on_done:
        - reply: "v2 done {{ form.name }} {{ form.age }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_keeps_a_form_in_progress() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(FORM_V1).await;
    let (ann, bob) = (world.user("Ann", "en").await, world.user("Bob", "en").await);
    world.act(bot, "command", ann, json!({"command": "profile"})).await;
    world.act(bot, "text", ann, json!({"text": "Ann"})).await;
    let (sent, ann_seq) = world.wait_sent(bot, ann, 0, 2).await;
    assert_eq!(sent, ["Name?", "Age?"]);
    world.act(bot, "command", bob, json!({"command": "start"})).await;
    world.wait_handled(bot, 3).await;
    let (_, bob_seq) = world.wait_sent(bot, bob, 0, 1).await;

    let v2 = ferrogram_schema::load_str(FORM_V2, "v2.yaml").expect("valid");
    world.engine.reload(bot.handle, v2).await.expect("reloads");

    world.act(bot, "text", ann, json!({"text": "thirty"})).await;
    world.act(bot, "text", ann, json!({"text": "30"})).await;
    let (sent, _) = world.wait_sent(bot, ann, ann_seq, 2).await;
    assert_eq!(sent, ["Please send a number.\nAge, Ann?", "v2 done Ann 30"]);
    world.act(bot, "text", bob, json!({"text": "hello"})).await;
    let (sent, _) = world.wait_sent(bot, bob, bob_seq, 1).await;
    assert_eq!(sent, ["v2 home heard hello"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_reload_changes_nothing() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(ECHO).await;
    // Deserialized without the loader's validation: the engine must refuse it on its own.
    let broken: ferrogram_schema::BotFile = serde_json::from_value(json!({
        "ferrogram": 1, "bot": {"name": "echo"}, "on": [{"text": "any", "do": [{"reply": "{{ oops"}]}]
    }))
    .expect("a bot file");
    assert!(matches!(world.engine.reload(bot.handle, broken).await, Err(ferrogram_engine::EngineError::Templates(_))));
    let ann = world.user("Ann", "en").await;
    world.act(bot, "text", ann, json!({"text": "ok"})).await;
    assert_eq!(world.wait_sent(bot, ann, 0, 1).await.0, ["ok"]);
}

const FRAMES_V1: &str = r#"
ferrogram: 1
bot: {name: frames, start: home}
on:
  - command: start
    do: [{goto: home}]
scenes:
  home:
    on_enter:
      - reply: {text: "Welcome!", buttons: [[{text: Dice, goto: dice}]]}
  dice:
    on_enter: [{dice: "🎲"}]
"#;

/// The constructor's promise: the schema is the bot. An edit sent as text (as the dashboard
/// sends it) runs from the next update on; an edit with errors is refused with the validator's
/// diagnostics and the running version goes on, and neither touches another bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_bot_runs_at_once_and_a_broken_edit_keeps_the_running_version() {
    let mut world = World::start(test_config()).await;
    let frames = world.bot(FRAMES_V1).await;
    let echo = world.bot(ECHO).await;
    let ann = world.user("Ann", "en").await;
    world.act(frames, "command", ann, json!({"command": "start"})).await;
    let (sent, seq) = world.wait_sent(frames, ann, 0, 1).await;
    assert_eq!(sent, ["Welcome!"]);

    // The owner adds a poll frame and renames the greeting.
    let v2 = FRAMES_V1
        .replace("\"Welcome!\"", "\"Welcome back!\"")
        .replace("{text: Dice, goto: dice}", "{text: Dice, goto: dice}, {text: Poll, goto: poll}")
        + "  poll:\n    on_enter: [{poll: {question: \"Tea or coffee?\", options: [Tea, Coffee]}}]\n";
    world.engine.reload_source(frames.handle, &v2, "frames.yaml").await.expect("a valid edit");
    world.act(frames, "command", ann, json!({"command": "start"})).await;
    world.wait_handled(frames, 2).await;
    let (events, seq) = world.events(frames, ann, seq, 5).await;
    let menu = events.iter().find(|e| e["kind"] == "sent").expect("the new menu");
    assert_eq!(menu["message"]["text"], "Welcome back!");
    let poll = menu["message"]["reply_markup"]["inline_keyboard"][0][1]["callback_data"].clone();
    world.act(frames, "callback", ann, json!({"message_id": menu["message"]["message_id"], "data": poll})).await;
    world.wait_handled(frames, 3).await;
    let (events, seq) = world.events(frames, ann, seq, 5).await;
    let sent: Vec<_> = events.iter().filter(|e| e["kind"] == "sent").collect();
    assert_eq!(sent[0]["message"]["poll"]["question"], "Tea or coffee?", "{events:?}");

    // A broken edit: a button to a frame that does not exist.
    let broken = v2.replace("goto: poll}", "goto: pol}");
    let refused = world.engine.reload_source(frames.handle, &broken, "frames.yaml").await;
    let Err(ferrogram_engine::EngineError::Invalid(diagnostics)) = refused else {
        panic!("the broken edit was not refused: {refused:?}");
    };
    let error = diagnostics.iter().find(|d| d.is_error()).expect("an error").to_string();
    assert_eq!(
        error,
        "frames.yaml:10:96: error: scenes.home.on_enter[0].reply.buttons[0][1].goto: unknown scene `pol` (did you mean `poll`?)"
    );
    world.act(frames, "command", ann, json!({"command": "start"})).await;
    world.act(echo, "text", ann, json!({"text": "still here"})).await;
    world.wait_handled(frames, 4).await;
    assert_eq!(world.wait_sent(frames, ann, seq, 1).await.0, ["Welcome back!"], "v2 still runs");
    assert_eq!(world.wait_sent(echo, ann, 0, 1).await.0, ["still here"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_apply_per_user_except_exempt_roles() {
    // The engine's clock, pinned: 2026-11-20 10:00:00 UTC, a minute's window just begun.
    let clock = ferrogram_engine::Clock::at(1_795_168_800);
    let mut world = World::start(ferrogram_engine::EngineConfig { clock: clock.clone(), ..test_config() }).await;
    let admin = world.user("Boss", "en").await;
    let ann = world.user("Ann", "en").await;
    let yaml = format!(
        r#"
ferrogram: 1
bot: {{name: limited}}
roles:
  admin: {{users: [{admin}]}}
limits: {{per_minute: 2, exempt: [admin], reply: "Slow down"}}
on:
  - text: any
    do: [{{reply: "{{{{ message.text }}}} at {{{{ now.time }}}}"}}]
"#
    );
    let bot = world.bot(&yaml).await;
    for text in ["1", "2", "3"] {
        world.act(bot, "text", ann, json!({"text": text})).await;
        world.act(bot, "text", admin, json!({"text": text})).await;
    }
    let (sent, last) = world.wait_sent(bot, ann, 0, 3).await;
    assert_eq!(sent, ["1 at 10:00", "2 at 10:00", "Slow down"]);
    assert_eq!(world.wait_sent(bot, admin, 0, 3).await.0, ["1 at 10:00", "2 at 10:00", "3 at 10:00"]);
    // The next minute by the engine's clock, Ann may write again.
    clock.set(1_795_168_860);
    world.act(bot, "text", ann, json!({"text": "4"})).await;
    assert_eq!(world.wait_sent(bot, ann, last, 1).await.0, ["4 at 10:01"]);
}

const SUBSCRIPTIONS: &str = r#"
ferrogram: 1
bot: {name: news}
roles:
  admin: {users: [ADMIN]}
variables:
  bot:
    subscribers: {type: list}
    ticks: {type: number}
on:
  - command: subscribe
    do:
      - set: {bot.subscribers: "{{ bot.subscribers + [chat.id] }}"}
      - reply: "Subscribed"
  - command: broadcast
    roles: [admin]
    do:
      - notify: {to: bot.subscribers, message: "News: {{ command.payload }}"}
      - reply: "Sent to {{ result.sent }}"
JOBS
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_notifies_every_subscriber() {
    let mut world = World::start(test_config()).await;
    let (admin, ann, bob) =
        (world.user("Boss", "en").await, world.user("Ann", "en").await, world.user("Bob", "en").await);
    let yaml = SUBSCRIPTIONS.replace("ADMIN", &admin.to_string()).replace("JOBS", "");
    let bot = world.bot(&yaml).await;
    for user in [ann, bob] {
        world.act(bot, "command", user, json!({"command": "subscribe"})).await;
    }
    let (_, ann_seq) = world.wait_sent(bot, ann, 0, 1).await;
    let (_, bob_seq) = world.wait_sent(bot, bob, 0, 1).await;
    // Not an admin: nothing happens.
    world.act(bot, "command", ann, json!({"command": "broadcast", "payload": "spam"})).await;
    world.act(bot, "command", admin, json!({"command": "broadcast", "payload": "hello"})).await;
    assert_eq!(world.wait_sent(bot, admin, 0, 1).await.0, ["Sent to 2"]);
    assert_eq!(world.wait_sent(bot, ann, ann_seq, 1).await.0, ["News: hello"]);
    assert_eq!(world.wait_sent(bot, bob, bob_seq, 1).await.0, ["News: hello"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_every_second_until_the_bot_stops() {
    let mut world = World::start(test_config()).await;
    let ann = world.user("Ann", "en").await;
    let jobs = r#"
jobs:
  tick:
    every: 1s
    do:
      - set: {bot.ticks: "{{ bot.ticks + 1 }}"}
      - notify: {to: bot.subscribers, message: "Tick {{ bot.ticks }}"}
"#;
    let yaml = SUBSCRIPTIONS.replace("ADMIN", "1").replace("JOBS", jobs);
    let bot = world.bot(&yaml).await;
    world.act(bot, "command", ann, json!({"command": "subscribe"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, 0, 1).await;
    assert_eq!(sent, ["Subscribed"]);
    // Ticks before the subscription went to nobody; the next ones arrive in order.
    let (ticks, _) = world.wait_sent(bot, ann, seq, 2).await;
    let numbers: Vec<u64> =
        ticks.iter().map(|t| t.strip_prefix("Tick ").and_then(|n| n.parse().ok()).expect("a tick")).collect();
    assert!(numbers[0] >= 1 && numbers[1] == numbers[0] + 1, "{ticks:?}");
    world.engine.stop(bot.handle).await.expect("stops");
    let (events, last) = world.events(bot, ann, 0, 0).await;
    let (after, _) = world.events(bot, ann, last, 2).await;
    assert!(after.is_empty(), "a job ran after the bot stopped: {after:?} (before: {events:?})");
}
