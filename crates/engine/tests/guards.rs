//! What a user may not do, tried against the real sandbox: press a button the message does not
//! have (forged `__goto:`, `__page:`, `__form:` and bot data), and enter or act in a scene with
//! `roles` by any path (decision 0023).

mod common;

use common::{Bot, World, test_config};
use serde_json::{Value, json};

const REFUSED_BUTTON: &str = "This button is no longer valid.";
const REFUSED_SCENE: &str = "Sorry, this is not available to you.";

/// A bot with an admin-only scene that shows and changes an admin-only value, a paged list in
/// it, a form, and ways into the admin scene that a non-admin may find.
fn guarded_bot(admin: i64) -> String {
    format!(
        r#"
ferrogram: 1
bot: {{name: guarded, start: home}}
roles: {{admins: {{users: [{admin}]}}}}
variables:
  bot: {{secret: {{type: string, default: "s3cret"}}}}
on:
  - command: start
    do: [{{goto: home}}]
  - command: admin
    roles: [admins]
    do: [{{goto: admin_panel}}]
  - command: sneak
    do: [{{set: {{bot.secret: "by goto"}}}}, {{goto: admin_panel}}]
  - command: sneak_call
    do: [{{call: admin_panel}}]
  - command: careful
    do:
      - try:
          do: [{{goto: admin_panel}}]
          catch: [{{reply: "caught {{{{ error.kind }}}}"}}]
  - command: survey
    do: [{{goto: survey}}]
  - command: menu
    do: [{{reply: {{text: Menu, buttons: [[{{text: Admin, goto: admin_panel}}]]}}}}]
  - command: peek
    do: [{{reply: "secret={{{{ bot.secret }}}}"}}]
  - callback: "like:*"
    do: [{{reply: "liked {{{{ callback.rest }}}}"}}]
scenes:
  home:
    on_enter:
      - reply:
          text: Home
          buttons:
            - [{{text: Help, goto: help}}]
            - [{{text: Like, callback: "like:1"}}]
  help:
    on_enter: [{{reply: Help}}]
  admin_panel:
    roles: [admins]
    on_enter:
      - reply: "Admin panel: {{{{ bot.secret }}}}"
      - reply:
          text: Users
          buttons: {{from: "range(5)", button: {{text: "u{{{{ item }}}}", callback: "u{{{{ item }}}}"}}, page_size: 2}}
    on:
      - text: any
        do: [{{set: {{bot.secret: "{{{{ message.text }}}}"}}}}, {{reply: saved}}]
  survey:
    form:
      fields:
        - {{name: color, ask: "Color?", type: choice, choices: [Red, Blue]}}
      on_done: [{{reply: "You chose {{{{ form.color }}}}"}}]
"#
    )
}

/// The id of the message with `text` among `events`.
fn message_with(events: &[Value], text: &str) -> i64 {
    events
        .iter()
        .find(|e| e["message"]["text"] == text)
        .and_then(|e| e["message"]["message_id"].as_i64())
        .unwrap_or_else(|| panic!("no message {text:?} in {events:?}"))
}

/// Forges a press and waits for its answer; asserts the refusal and that nothing else happened.
async fn assert_refused(world: &World, bot: Bot, user: i64, chat: i64, message_id: i64, data: &str, after: u64) -> u64 {
    world.forge_press(bot, user, chat, message_id, data).await;
    let (answers, _) = world.wait_kind(bot, chat, after, "callback_answered", 1).await;
    assert_eq!(answers[0]["detail"]["text"], REFUSED_BUTTON, "{data}: {answers:?}");
    // Whatever else the press did was committed with its answer: nothing is there.
    let (events, last) = world.events(bot, chat, after, 0).await;
    let done: Vec<&Value> =
        events.iter().filter(|e| ["sent", "edited"].contains(&e["kind"].as_str().unwrap_or(""))).collect();
    assert!(done.is_empty(), "{data} changed something: {done:?}");
    last
}

/// The bot's value of `bot.secret`, as `/peek` shows it.
async fn peek_secret(world: &World, bot: Bot, user: i64, after: u64) -> (String, u64) {
    world.act(bot, "command", user, json!({"command": "peek"})).await;
    let (sent, last) = world.wait_sent(bot, user, after, 1).await;
    (sent[0].trim_start_matches("secret=").to_owned(), last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_internal_presses_are_refused_and_change_nothing() {
    let mut world = World::start(test_config()).await;
    let admin = world.user("Ada", "en").await;
    let eve = world.user("Eve", "en").await;
    let bot = world.bot(&guarded_bot(admin)).await;

    world.act(bot, "command", eve, json!({"command": "start"})).await;
    let (events, seq) = world.wait_kind(bot, eve, 0, "sent", 1).await;
    let home = message_with(&events, "Home");

    // The reproduction of issue 10: `__goto:` to a scene only an admin command leads to.
    let seq = assert_refused(&world, bot, eve, eve, home, "__goto:admin_panel", seq).await;
    // A page of the admin scene's list, a form choice of no form message, a bot's own data
    // the message does not carry, and data of no button at all.
    let seq = assert_refused(&world, bot, eve, eve, home, "__page:0:1", seq).await;
    let seq = assert_refused(&world, bot, eve, eve, home, "like:999", seq).await;
    let seq = assert_refused(&world, bot, eve, eve, home, "__goto:help ", seq).await;
    // A message that does not exist reaches the bot as an InaccessibleMessage: refused too.
    let seq = assert_refused(&world, bot, eve, eve, 424_242, "__goto:help", seq).await;

    // Eve is still at home: her text is not taken as the admin scene's, the secret stands.
    world.act(bot, "text", eve, json!({"text": "pwned"})).await;
    let (secret, seq) = peek_secret(&world, bot, eve, seq).await;
    assert_eq!(secret, "s3cret");

    // The genuine buttons of the same message still work.
    world.act(bot, "callback", eve, json!({"message_id": home, "data": "__goto:help"})).await;
    let (sent, seq) = world.wait_sent(bot, eve, seq, 1).await;
    assert_eq!(sent, ["Help"]);
    world.act(bot, "callback", eve, json!({"message_id": home, "data": "like:1"})).await;
    let (sent, seq) = world.wait_sent(bot, eve, seq, 1).await;
    assert_eq!(sent, ["liked 1"]);

    // A form's choice must come from the form's question.
    world.act(bot, "command", eve, json!({"command": "survey"})).await;
    let (events, seq) = world.wait_kind(bot, eve, seq, "sent", 1).await;
    let question = message_with(&events, "Color?");
    let seq = assert_refused(&world, bot, eve, eve, home, "__form:1", seq).await;
    world.act(bot, "callback", eve, json!({"message_id": question, "data": "__form:0"})).await;
    let (sent, _) = world.wait_sent(bot, eve, seq, 1).await;
    assert_eq!(sent, ["You chose Red"], "the genuine choice is the answer, not the forged one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scene_with_roles_refuses_every_way_in() {
    let mut world = World::start(test_config()).await;
    let admin = world.user("Ada", "en").await;
    let eve = world.user("Eve", "en").await;
    let bot = world.bot(&guarded_bot(admin)).await;

    world.act(bot, "command", eve, json!({"command": "menu"})).await;
    let (events, mut seq) = world.wait_kind(bot, eve, 0, "sent", 1).await;
    let menu = message_with(&events, "Menu");

    // A genuine goto button to the admin scene: the press is answered with the refusal.
    world.act(bot, "callback", eve, json!({"message_id": menu, "data": "__goto:admin_panel"})).await;
    let (answers, next) = world.wait_kind(bot, eve, seq, "callback_answered", 1).await;
    assert_eq!(answers[0]["detail"]["text"], REFUSED_SCENE);
    let (events, _) = world.events(bot, eve, seq, 0).await;
    assert!(!events.iter().any(|e| e["kind"] == "sent"), "nothing shown: {events:?}");
    seq = next;
    // A `goto` step and a `call` step of open commands: refused, and the `set` before the
    // `goto` is not kept either.
    for command in ["sneak", "sneak_call"] {
        world.act(bot, "command", eve, json!({"command": command})).await;
        let (sent, next) = world.wait_sent(bot, eve, seq, 1).await;
        assert_eq!(sent, [REFUSED_SCENE], "/{command}");
        seq = next;
    }
    // A `try` sees the refusal as an error it can catch.
    world.act(bot, "command", eve, json!({"command": "careful"})).await;
    let (sent, next) = world.wait_sent(bot, eve, seq, 1).await;
    assert_eq!(sent, ["caught forbidden"]);
    seq = next;
    // The command with `roles` is not for her either (it matches nothing).
    world.act(bot, "command", eve, json!({"command": "admin"})).await;
    world.act(bot, "text", eve, json!({"text": "pwned"})).await;
    let (secret, _) = peek_secret(&world, bot, eve, seq).await;
    assert_eq!(secret, "s3cret", "no way in let Eve change the admin's value");

    // The admin gets in and pages the scene's list.
    world.act(bot, "command", admin, json!({"command": "admin"})).await;
    let (events, seq) = world.wait_kind(bot, admin, 0, "sent", 2).await;
    assert_eq!(events[0]["message"]["text"], "Admin panel: s3cret");
    let users = message_with(&events, "Users");
    world.act(bot, "callback", admin, json!({"message_id": users, "data": "__page:0:1"})).await;
    let (edits, seq) = world.wait_kind(bot, admin, seq, "edited", 1).await;
    assert_eq!(edits[0]["message"]["reply_markup"]["inline_keyboard"][0][0]["text"], "u2");
    world.act(bot, "text", admin, json!({"text": "changed"})).await;
    let (sent, seq) = world.wait_sent(bot, admin, seq, 1).await;
    assert_eq!(sent, ["saved"]);
    let (secret, _) = peek_secret(&world, bot, admin, seq).await;
    assert_eq!(secret, "changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_group_only_the_scene_s_roles_act_in_it() {
    let mut world = World::start(test_config()).await;
    let admin = world.user("Ada", "en").await;
    let eve = world.user("Eve", "en").await;
    let bot = world.bot(&guarded_bot(admin)).await;
    let group = world
        .post("/sandbox/groups", json!({"title": "Team", "type": "group", "members": [admin, eve], "bots": [bot.id]}))
        .await;
    let chat = group["id"].as_i64().expect("group id");

    // The admin opens the admin scene in the group: the group's chat is in it now.
    world.act(bot, "command", admin, json!({"command": "admin", "chat_id": chat})).await;
    let (events, seq) = world.wait_kind(bot, chat, 0, "sent", 2).await;
    let users = message_with(&events, "Users");
    // Eve writes in the same chat: the scene's handler is not hers to run.
    world.act(bot, "text", eve, json!({"text": "pwned", "chat_id": chat})).await;
    // Eve presses the list's real page button in the group: refused.
    world.act(bot, "callback", eve, json!({"message_id": users, "data": "__page:0:1", "chat_id": chat})).await;
    let (answers, _) = world.wait_kind(bot, chat, seq, "callback_answered", 1).await;
    assert_eq!(answers[0]["detail"]["text"], REFUSED_SCENE);
    world.act(bot, "command", admin, json!({"command": "peek", "chat_id": chat})).await;
    let (sent, _) = world.wait_sent(bot, chat, seq, 1).await;
    assert_eq!(sent, ["secret=s3cret"], "only the peek answered: {sent:?}");
}
