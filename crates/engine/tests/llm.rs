//! The `llm` step against the sandbox's stand-in model (`ferrogram_sandbox::stand_in_llm`, served by the
//! fixture server): streamed edits, a whole answer, memory kept in a variable, daily token
//! limits, and a failing server.

mod common;

use std::time::Duration;

use common::fixtures::FixtureServer;
use common::{Bot, World, test_config};
use serde_json::json;

/// A bot whose every text goes to the stand-in `model` with `options` added to its `llm` step.
fn bot_file(url: &str, model: &str, options: &[&str]) -> String {
    let options = options.join("\n          ");
    format!(
        r#"
ferrogram: 1
bot: {{name: llm}}
variables:
  user:
    usage: {{type: object, default: {{}}}}
  chat:
    history: {{type: list, default: []}}
on:
  - command: usage
    do: [{{reply: "{{{{ user.usage.tokens }}}} tokens"}}]
  - text: any
    do:
      - llm:
          url: "{url}/llm/v1"
          model: "{model}"
          system: "Notes:\n- Refunds take five business days.\n- Shipping is **free** over fifty euros."
          placeholder: "typing"
          {options}
          as: answer
      - if:
          condition: "answer.limited"
          then: [{{reply: "budget used up"}}]
"#
    )
}

struct Setup {
    url: String,
    world: World,
    bot: Bot,
    user: i64,
    handled: u64,
    seen: u64,
}

async fn setup(options: &[&str], edit_interval: Duration) -> Setup {
    let fixtures = FixtureServer::start().await;
    let mut config = test_config();
    config.llm_edit_interval = edit_interval;
    fixtures.allow(&mut config);
    let mut world = World::start(config).await;
    let bot = world.bot(&bot_file(&fixtures.url, "sandbox", options)).await;
    let user = world.user("Ann", "en").await;
    Setup { url: fixtures.url, world, bot, user, handled: 0, seen: 0 }
}

impl Setup {
    /// Sends `text` and returns what the bot did in the chat: `(kind, text)` in order.
    async fn say(&mut self, text: &str) -> Vec<(String, String)> {
        let events = self.say_events(text).await;
        events
            .iter()
            .map(|e| {
                let text = e["message"]["text"].as_str().unwrap_or_default().to_owned();
                (e["kind"].as_str().unwrap_or_default().to_owned(), text)
            })
            .collect()
    }

    /// Sends `text` and returns the sandbox's events of what the bot did in the chat.
    async fn say_events(&mut self, text: &str) -> Vec<serde_json::Value> {
        let kind = if text.starts_with('/') { "command" } else { "text" };
        let body = match text.strip_prefix('/') {
            Some(command) => json!({"command": command}),
            None => json!({"text": text}),
        };
        self.world.act(self.bot, kind, self.user, body).await;
        self.handled += 1;
        self.world.wait_handled(self.bot, self.handled).await;
        let (events, last) = self.world.events(self.bot, self.user, self.seen, 0).await;
        self.seen = last;
        events
            .into_iter()
            .filter(|e| ["sent", "edited", "deleted"].contains(&e["kind"].as_str().unwrap_or_default()))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_is_edited_in_and_ends_whole() {
    let mut s = setup(&["memory: chat_vars.history"], Duration::ZERO).await;
    let actions = s.say("How long do refunds take?").await;
    let final_text = "Refunds take five business days. (turn 1)";
    assert_eq!(actions.first(), Some(&("sent".to_owned(), "typing".to_owned())), "{actions:?}");
    assert_eq!(actions.last(), Some(&("edited".to_owned(), final_text.to_owned())), "{actions:?}");
    // The stand-in sends each word as its own HTTP chunk, which the client reads as its own
    // frame, and the interval is zero: the answer shows word by word. Every edit in between shows
    // a beginning of the answer with the cursor after it.
    assert!(actions.len() > 3, "edits while the answer came: {actions:?}");
    for (kind, text) in &actions[1..actions.len() - 1] {
        assert_eq!(kind, "edited");
        let shown = text.strip_suffix(" ▌").unwrap_or_else(|| panic!("no cursor in {text:?}"));
        assert!(final_text.starts_with(shown), "{shown:?} is not a beginning of the answer");
    }

    // The conversation is remembered: the model is sent both questions.
    let actions = s.say("Is shipping free?").await;
    assert_eq!(actions.last().map(|a| a.1.as_str()), Some("Shipping is free over fifty euros. (turn 2)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_answer_is_one_message_and_memory_keeps_its_turns() {
    let mut s = setup(&["stream: false", "memory: chat_vars.history", "turns: 2"], Duration::ZERO).await;
    let mut turns = Vec::new();
    for question in ["refunds?", "shipping?", "refunds again?", "shipping again?"] {
        let actions = s.say(question).await;
        assert_eq!(actions.len(), 1, "one message, no placeholder: {actions:?}");
        assert_eq!(actions[0].0, "sent");
        turns.push(actions[0].1.rsplit("(turn ").next().unwrap_or_default().trim_end_matches(')').to_owned());
    }
    // Two exchanges are kept: from the third question on, the model sees 3 user messages.
    assert_eq!(turns, ["1", "2", "3", "3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_token_limit_stops_asking_the_model() {
    // The stand-in counts words: the first question and answer take about 20 tokens.
    let mut s = setup(&["limits: [{usage: user.usage, daily_tokens: 10}]"], Duration::from_secs(3600)).await;
    let actions = s.say("How long do refunds take?").await;
    assert_eq!(actions.last().map(|a| a.1.as_str()), Some("Refunds take five business days. (turn 1)"));
    let used: u64 = s.say("/usage").await[0].1.trim_end_matches(" tokens").parse().expect("a number of tokens");
    assert!(used > 10, "the answer's tokens are counted: {used}");
    let actions = s.say("And shipping?").await;
    assert_eq!(actions, vec![("sent".to_owned(), "budget used up".to_owned())], "no placeholder, no model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_server_gets_the_error_reply_and_no_placeholder_stays() {
    let mut s = setup(&["retries: 0"], Duration::from_secs(3600)).await;
    let actions = s.say("hello").await;
    assert_eq!(actions.len(), 2, "a working model: placeholder and answer: {actions:?}");
    // The stand-in's `overloaded` model answers 503, as a busy server does.
    let file =
        ferrogram_schema::load_str(&bot_file(&s.url, "overloaded", &["retries: 0"]), "t.yaml").expect("valid file");
    s.world.engine.reload(s.bot.handle, file).await.expect("reloads");
    let actions = s.say("hello").await;
    let expected = [("sent", "typing"), ("deleted", ""), ("sent", "Something went wrong. Please try again.")];
    let actions: Vec<(&str, &str)> = actions.iter().map(|(k, t)| (k.as_str(), t.as_str())).collect();
    assert_eq!(actions, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_markdown_is_shown_as_formatting_unless_turned_off() {
    for (markdown, entities) in [("true", json!([{"type": "bold", "offset": 12, "length": 4}])), ("false", json!(null))]
    {
        let option = format!("markdown: {markdown}");
        let mut s = setup(&[option.as_str()], Duration::ZERO).await;
        let events = s.say_events("Is shipping free?").await;
        let last = &events.last().expect("an answer")["message"];
        let expected = if markdown == "true" {
            "Shipping is free over fifty euros. (turn 1)"
        } else {
            "Shipping is **free** over fifty euros. (turn 1)"
        };
        assert_eq!(last["text"], json!(expected));
        assert_eq!(last["entities"], entities, "markdown: {markdown}");
    }
}
