//! Values a template inserts into a text sent with a `parse_mode` are escaped for it, tried
//! against the real sandbox, which parses the text as Telegram does and reports its entities.

mod common;

use common::{World, test_config};
use serde_json::{Value, json};

const EVIL: &str = r#"<a href="https://evil.example/login">Verify your account</a>"#;

/// The entity types of a sent message.
fn entity_types(message: &Value) -> Vec<String> {
    let entities = message["entities"].as_array().or_else(|| message["caption_entities"].as_array());
    entities.into_iter().flatten().filter_map(|e| e["type"].as_str().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_texts_escape_what_they_insert() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: echo, parse_mode: HTML}
variables:
  bot: {banner: {type: string, default: "<i>news</i>"}}
  user: {last: {type: string}}
texts:
  en: {greet: "<b>Hello</b>, {{ from.first_name }}"}
on:
  - command: raw
    do: [{reply: "{{ bot.banner | raw }} and {{ bot.banner }}"}]
  - command: greet
    do: [{reply: "@greet"}, {reply: "{{ t('greet') }}!"}]
  - text: any
    do:
      - set: {user.last: "{{ message.text }}"}
      - if:
          condition: "user.last == message.text"
          then: [{reply: "Hi <b>{{ from.first_name }}</b>, you said: {{ message.text }}"}]
          else: [{reply: "the stored value was changed"}]
"#,
        )
        .await;
    let ann = world.user("Ann <Admin>", "en").await;

    // Issue 10's reproduction: the link arrives as the text the user typed.
    world.act(bot, "text", ann, json!({"text": EVIL})).await;
    let (sent, seq) = world.wait_kind(bot, ann, 0, "sent", 1).await;
    let message = &sent[0]["message"];
    assert_eq!(message["text"], format!("Hi Ann <Admin>, you said: {EVIL}"));
    assert_eq!(entity_types(message), ["bold"], "the bot's own <b> stays, no text_link: {message}");
    // `a < b` used to make the reply vanish (Telegram refuses the HTML).
    world.act(bot, "text", ann, json!({"text": "a < b && c > d"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, ["Hi Ann <Admin>, you said: a < b && c > d"]);
    // Texts (`@key`, `t()`) are the bot's markup; what they insert is escaped.
    world.act(bot, "command", ann, json!({"command": "greet"})).await;
    let (sent, seq) = world.wait_kind(bot, ann, seq, "sent", 2).await;
    for (event, end) in sent.iter().zip(["", "!"]) {
        assert_eq!(event["message"]["text"], format!("Hello, Ann <Admin>{end}"));
        assert_eq!(entity_types(&event["message"]), ["bold"]);
    }
    // `| raw` inserts markup on purpose; the same value without it is text.
    world.act(bot, "command", ann, json!({"command": "raw"})).await;
    let (sent, _) = world.wait_kind(bot, ann, seq, "sent", 1).await;
    assert_eq!(sent[0]["message"]["text"], "news and <i>news</i>");
    assert_eq!(entity_types(&sent[0]["message"]), ["italic"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_v2_texts_escape_what_they_insert_and_plain_texts_are_left_alone() {
    let mut world = World::start(test_config()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: echo}
on:
  - command: plain
    do: [{reply: "you said: {{ command.payload }}"}]
  - text: any
    do:
      - reply:
          parse_mode: MarkdownV2
          text: "*{{ from.first_name }}* said: {{ message.text }}"
  - content: photo
    do:
      - reply:
          photo: "{{ (message.photo | last).file_id }}"
          parse_mode: HTML
          text: "<b>Caption</b>: {{ message.caption }}"
"#,
        )
        .await;
    let ann = world.user("Ann_1", "en").await;
    let evil = "[Verify](https://evil.example/login) a_b *c* 1.5! (x) `y` \\";
    world.act(bot, "text", ann, json!({"text": evil})).await;
    let (sent, seq) = world.wait_kind(bot, ann, 0, "sent", 1).await;
    let message = &sent[0]["message"];
    assert_eq!(message["text"], format!("Ann_1 said: {evil}"));
    assert_eq!(entity_types(message), ["bold"], "{message}");
    // A caption is a message text too.
    world.act(bot, "photo", ann, json!({"caption": EVIL})).await;
    let (sent, seq) = world.wait_kind(bot, ann, seq, "sent", 1).await;
    let photo = &sent[0]["message"];
    assert_eq!(photo["caption"], format!("Caption: {EVIL}"));
    assert_eq!(entity_types(photo), ["bold"], "{photo}");

    // A text without a parse mode is sent as it renders: nothing to escape.
    world.act(bot, "command", ann, json!({"command": "plain", "payload": "<b>a</b> & *b*"})).await;
    let (sent, _) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, ["you said: <b>a</b> & *b*"]);
}
