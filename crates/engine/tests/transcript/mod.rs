//! The transcript player: an `examples/NAME.yaml` run in the engine against an in-process
//! sandbox, the user side of its `examples/NAME.transcript.md` played through the control API.
//! `tests/transcripts.rs` plays every example; `crates/ferrogram/tests/metrics_transcript.rs`
//! plays one and scrapes the metrics it left.
//!
//! # Grammar
//!
//! A transcript is Markdown. Every table row `| user does | bot answers |` is one step (the
//! header row and the `|---|` row are skipped; any other text is commentary). Cells may not
//! contain `|`; a line break in a bot message is written `<br>`.
//!
//! **user does** — what the current user does (the first user is Ann, language `en`):
//!
//! | cell | action |
//! |---|---|
//! | `/name payload` | sends the command (payload optional) |
//! | `press "Label"` | presses the inline button labelled `Label` on the latest message of the user's chat that has one |
//! | `send photo` or `send photo "caption"` | sends a photo |
//! | `send location 52.5, 13.4` | sends a location |
//! | `send contact +4930123 Ann` | shares a contact (phone, first name) |
//! | `edit "helo" to "hello"` | edits the user's latest message in this chat that says `helo` |
//! | `web_app "Order" {"item": "tea"}` | sends data from the Web App of the reply keyboard's key `Order` (the rest of the cell, as is) |
//! | `(as Ivan, ru)` | later rows are played by a new user Ivan with language `ru` (answers: empty); for a user already played, by that user again, and the answers are what the bot sent to their chat meanwhile (a `notify`) |
//! | `(in group Title)` | later rows are played in the group `Title` (created with the current user and the bot, or joined by the current user), until the next `(as …)` |
//! | `(clock 2026-11-21T22:30:00Z)` | sets the engine's clock (`now`, `limits`) to this RFC 3339 time; it goes on from there |
//! | `(job name runs)` | runs the bot's job `name` now (jobs do not run on their schedule in transcripts); the answers are what it sent to the current chat |
//! | anything else | sends it as a text message |
//!
//! The engine's clock starts at [`START`] (Friday 2026-11-20 10:00 UTC) in every transcript, so
//! nothing depends on the day or hour the test runs.
//!
//! `{fixtures}` in a cell is the URL of a local server of `examples/fixtures/` (recorded API
//! answers and feeds; see `common/fixtures.rs`), which the bots' `http` and `feed` steps may call.
//!
//! **bot answers** — everything the bot did in that user's chat in response, in order,
//! separated by ` / `; empty when it did nothing:
//!
//! | written | bot action |
//! |---|---|
//! | `text [A] [B]` | sent a message `text` with inline buttons `A` and `B` (all rows, in order) |
//! | `text {A} {B}` | sent a message `text` with a reply keyboard of keys `A` and `B` |
//! | `(photo) caption` | sent a photo |
//! | `(dice 🎲)`, `(poll) question` | sent a dice or a poll |
//! | `(edit) text [A]` | edited a message to `text` |
//! | `(deleted)` | deleted a message |
//! | `(toast) text`, `(alert) text` | answered the pressed button with a text (silent answers are not written) |
//! | `(inline) title, title` | answered an inline query with these articles |
//!
//! The comparison is exact. After each action the test waits until the engine has handled the
//! update (its handled counter), then reads the sandbox's event log: no sleeps.

// Not every test that plays a transcript reads everything it gives back.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use ferrogram_engine::StateStore;

use serde_json::{Value, json};

use crate::common::fixtures::FixtureServer;
use crate::common::{Bot, World, test_config};

/// A transcript played: its bot still running in `world` (the caller stops it), and what
/// differed from the transcript.
pub struct Played {
    pub world: World,
    pub bot: Bot,
    /// The updates the bot handled: one per user action (and per service message of a user
    /// joining a group).
    pub updates: u64,
    /// Each row whose answer differed, or that could not be played.
    pub failures: Vec<String>,
    /// The server of `examples/fixtures` the bot may still call (it stops when dropped).
    pub fixtures: FixtureServer,
    /// The engine's store: the bot's variables and state as the transcript left them.
    pub store: Arc<dyn StateStore>,
}

/// The engine's clock at the start of every transcript: Friday 2026-11-20 10:00:00 UTC.
const START: &str = "2026-11-20T10:00:00Z";

/// Seconds since the Unix epoch of an RFC 3339 time.
fn unix_seconds(time: &str) -> Result<u64, String> {
    let timestamp: jiff::Timestamp =
        time.trim().parse().map_err(|e| format!("{time:?} is not an RFC 3339 time: {e}"))?;
    u64::try_from(timestamp.as_second()).map_err(|_| format!("{time:?} is before 1970"))
}

/// One row of a transcript.
struct Row {
    line: usize,
    action: String,
    expected: String,
}

fn parse(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut header_seen = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('|') {
            header_seen = false;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if !header_seen {
            header_seen = true;
            continue;
        }
        if cells.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')) {
            continue;
        }
        let [action, expected] = cells.as_slice() else {
            panic!("line {}: a row needs two cells: {line}", index + 1);
        };
        rows.push(Row { line: index + 1, action: (*action).to_owned(), expected: (*expected).to_owned() });
    }
    rows
}

/// Plays `transcript` against the bot file `yaml`.
pub async fn play(yaml: &Path, transcript: &Path) -> Played {
    let name = yaml.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let file = ferrogram_schema::load(yaml).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let rows = parse(&std::fs::read_to_string(transcript).expect("transcript readable"));
    let fixtures = FixtureServer::start().await;
    let mut config = test_config();
    fixtures.allow(&mut config);
    let clock = ferrogram_engine::Clock::at(unix_seconds(START).expect("START is a time"));
    config.clock = clock.clone();
    config.schedule_jobs = false;
    // Relative `web_app` URLs (a page Ferrogram serves, e.g. the constructor's shop) need one.
    config.public_url = Some("https://ferrogram.test".into());
    let store = Arc::clone(&config.store);
    let mut world = World::start(config).await;
    let bot = world.bot_file(file).await;
    // Groups by title; the group the current user plays in (`None`: their private chat).
    let mut groups: HashMap<String, i64> = HashMap::new();
    let mut members: std::collections::HashSet<(i64, i64)> = std::collections::HashSet::new();
    let mut group: Option<i64> = None;
    let mut user = world.user("Ann", "en").await;
    // Users by first name, and the last event of their chat the transcript has shown.
    let mut users: HashMap<String, i64> = HashMap::from([("Ann".to_owned(), user)]);
    let mut seen: HashMap<i64, u64> = HashMap::new();
    // Inline buttons by (chat, message id).
    let mut buttons: HashMap<(i64, i64), Vec<(String, String)>> = HashMap::new();
    // The user's text messages by (chat, text): their message ids, for `edit`.
    let mut said: HashMap<(i64, String), i64> = HashMap::new();
    let mut handled = 0;
    let mut failures = Vec::new();
    for mut row in rows {
        row.action = row.action.replace("{fixtures}", &fixtures.url);
        row.expected = row.expected.replace("{fixtures}", &fixtures.url);
        if let Some(title) = row.action.strip_prefix("(in group ").and_then(|s| s.strip_suffix(')')) {
            let chat = match groups.get(title) {
                Some(&chat) if members.contains(&(chat, user)) => chat,
                Some(&chat) => {
                    // Joining posts a service message the bot handles.
                    world.post(&format!("/sandbox/groups/{chat}/join"), json!({"user_id": user})).await;
                    handled += 1;
                    world.wait_handled(bot, handled).await;
                    chat
                }
                None => {
                    let body = json!({"title": title, "members": [user], "bots": [bot.id]});
                    let created = world.post("/sandbox/groups", body).await;
                    created["id"].as_i64().expect("group id")
                }
            };
            groups.insert(title.to_owned(), chat);
            members.insert((chat, user));
            let (_, seq) = world.events(bot, chat, seen.get(&chat).copied().unwrap_or(0), 0).await;
            seen.insert(chat, seq);
            group = Some(chat);
            continue;
        }
        if let Some(time) = row.action.strip_prefix("(clock ").and_then(|s| s.strip_suffix(')')) {
            match unix_seconds(time) {
                Ok(secs) => clock.set(secs),
                Err(error) => failures.push(format!("{name}:{}: {error}", row.line)),
            }
            continue;
        }
        let job = row.action.strip_prefix("(job ").and_then(|s| s.strip_suffix(" runs)"));
        if let Some(job) = job {
            let chat = group.unwrap_or(user);
            if let Err(error) = world.engine.run_job(bot.handle, job).await {
                failures.push(format!("{name}:{}: the job {job} failed: {error}", row.line));
                continue;
            }
            let actual = collect(&world, bot, chat, &row.expected, &mut seen, &mut buttons).await;
            if actual != row.expected {
                failures.push(format!(
                    "{name}:{}: `{}`\n    expected: {}\n    actual:   {}",
                    row.line, row.action, row.expected, actual
                ));
            }
            continue;
        }
        if let Some(spec) = row.action.strip_prefix("(as ").and_then(|s| s.strip_suffix(')')) {
            group = None;
            let (first_name, language) = spec.split_once(',').map_or((spec, "en"), |(n, l)| (n.trim(), l.trim()));
            let actual = match users.get(first_name) {
                Some(&known) => {
                    user = known;
                    // What the bot sent this user meanwhile; `notify` is paced, so wait for it.
                    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
                    let mut events = Vec::new();
                    loop {
                        let after = seen.get(&user).copied().unwrap_or(0);
                        let (more, seq) = world.events(bot, user, after, u64::from(!row.expected.is_empty())).await;
                        seen.insert(user, seq);
                        events.extend(more);
                        let actual = render(user, &events, &mut buttons);
                        if actual == row.expected || tokio::time::Instant::now() >= deadline {
                            break actual;
                        }
                    }
                }
                None => {
                    user = world.user(first_name, language).await;
                    users.insert(first_name.to_owned(), user);
                    String::new()
                }
            };
            if actual != row.expected {
                failures.push(format!(
                    "{name}:{}: `{}`\n    expected: {}\n    actual:   {}",
                    row.line, row.action, row.expected, actual
                ));
            }
            continue;
        }
        let chat = group.unwrap_or(user);
        let (kind, mut body) = match action(&row.action, chat, &buttons, &said) {
            Ok(action) => action,
            Err(error) => {
                failures.push(format!("{name}:{}: {error}", row.line));
                continue;
            }
        };
        if let Some(group) = group {
            body["chat_id"] = json!(group);
        }
        let answer = world.act(bot, kind, user, body).await;
        let message = answer.get("message").or_else(|| answer.get("edited_message"));
        if let Some(message) = message
            && let (Some(id), Some(text)) = (message["message_id"].as_i64(), message["text"].as_str())
        {
            said.insert((chat, text.to_owned()), id);
        }
        handled += 1;
        world.wait_handled(bot, handled).await;
        let actual = collect(&world, bot, chat, &row.expected, &mut seen, &mut buttons).await;
        if actual != row.expected {
            failures.push(format!(
                "{name}:{}: `{}`\n    expected: {}\n    actual:   {}",
                row.line, row.action, row.expected, actual
            ));
        }
    }
    Played { world, bot, updates: handled, failures, fixtures, store }
}

/// What the bot did in `chat` since the last row, rendered. A `notify` to this chat is paced after
/// the handler ends: waits (up to 5 s) for what is still missing from `expected`.
async fn collect(
    world: &World,
    bot: Bot,
    chat: i64,
    expected: &str,
    seen: &mut HashMap<i64, u64>,
    buttons: &mut HashMap<(i64, i64), Vec<(String, String)>>,
) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut events = Vec::new();
    let mut timeout = 0;
    loop {
        let (more, seq) = world.events(bot, chat, seen.get(&chat).copied().unwrap_or(0), timeout).await;
        seen.insert(chat, seq);
        events.extend(more);
        let actual = render(chat, &events, buttons);
        if actual == expected || expected.is_empty() || tokio::time::Instant::now() >= deadline {
            return actual;
        }
        timeout = 1;
    }
}

/// The control API call for a `user does` cell.
fn action(
    cell: &str,
    user: i64,
    buttons: &HashMap<(i64, i64), Vec<(String, String)>>,
    said: &HashMap<(i64, String), i64>,
) -> Result<(&'static str, Value), String> {
    if let Some(rest) = cell.strip_prefix("edit \"") {
        let (old, new) = rest.split_once("\" to \"").ok_or("edit \"OLD\" to \"NEW\"")?;
        let new = new.strip_suffix('"').ok_or("edit \"OLD\" to \"NEW\"")?;
        let id = said.get(&(user, old.to_owned())).ok_or_else(|| format!("no message {old:?} to edit"))?;
        return Ok(("edit", json!({"message_id": id, "text": new})));
    }
    if let Some(label) = cell.strip_prefix("press \"").and_then(|s| s.strip_suffix('"')) {
        let pressed = buttons
            .iter()
            .filter(|((chat, _), _)| *chat == user)
            .filter_map(|((_, id), row)| row.iter().find(|(text, _)| text == label).map(|(_, data)| (*id, data)))
            .max_by_key(|(id, _)| *id);
        let (message_id, data) = pressed.ok_or_else(|| format!("no message has a button {label:?}"))?;
        return Ok(("callback", json!({"message_id": message_id, "data": data})));
    }
    if let Some(rest) = cell.strip_prefix("send photo") {
        let caption = rest.trim().trim_matches('"');
        let body = if caption.is_empty() { json!({}) } else { json!({"caption": caption}) };
        return Ok(("photo", body));
    }
    if let Some(rest) = cell.strip_prefix("send location ") {
        let (lat, lon) = rest.split_once(',').ok_or("send location LAT, LON")?;
        let parse = |s: &str| s.trim().parse::<f64>().map_err(|e| e.to_string());
        return Ok(("location", json!({"latitude": parse(lat)?, "longitude": parse(lon)?})));
    }
    if let Some(rest) = cell.strip_prefix("send contact ") {
        let (phone, first_name) = rest.split_once(' ').ok_or("send contact PHONE NAME")?;
        return Ok(("contact", json!({"phone_number": phone, "first_name": first_name.trim()})));
    }
    if let Some(rest) = cell.strip_prefix("web_app \"") {
        let (button_text, data) = rest.split_once('"').ok_or("web_app \"KEY\" DATA")?;
        return Ok(("web_app_data", json!({"button_text": button_text, "data": data.trim()})));
    }
    if let Some(command) = cell.strip_prefix('/') {
        let (name, payload) = command.split_once(' ').unwrap_or((command, ""));
        let mut body = json!({"command": name});
        if !payload.is_empty() {
            body["payload"] = json!(payload.trim());
        }
        return Ok(("command", body));
    }
    Ok(("text", json!({"text": cell})))
}

/// The `bot answers` cell for what the bot did; remembers the buttons of each message.
fn render(chat: i64, events: &[Value], buttons: &mut HashMap<(i64, i64), Vec<(String, String)>>) -> String {
    let mut parts = Vec::new();
    for event in events {
        let kind = event["kind"].as_str().unwrap_or_default();
        match kind {
            "sent" | "edited" => {
                let message = &event["message"];
                let text = message_text(message);
                let row = inline_buttons(message);
                if let Some(id) = message["message_id"].as_i64() {
                    buttons.insert((chat, id), row.clone());
                }
                let mut labels: String = row.iter().map(|(text, _)| format!(" [{text}]")).collect();
                let keys = event["detail"]["reply_markup"]["keyboard"].as_array().cloned().unwrap_or_default();
                for key in keys.iter().filter_map(Value::as_array).flatten() {
                    labels.push_str(&format!(" {{{}}}", key["text"].as_str().unwrap_or_default()));
                }
                let prefix = if kind == "edited" { "(edit) " } else { "" };
                parts.push(format!("{prefix}{text}{labels}"));
            }
            "deleted" => parts.push("(deleted)".into()),
            "callback_answered" => {
                if let Some(text) = event["detail"]["text"].as_str().filter(|t| !t.is_empty()) {
                    let alert = event["detail"]["show_alert"].as_bool().unwrap_or(false);
                    parts.push(format!("({}) {text}", if alert { "alert" } else { "toast" }));
                }
            }
            "inline_answered" => {
                let results = event["detail"]["results"].as_array().cloned().unwrap_or_default();
                let titles: Vec<&str> = results.iter().filter_map(|r| r["title"].as_str()).collect();
                parts.push(format!("(inline) {}", titles.join(", ")));
            }
            _ => {}
        }
    }
    parts.join(" / ").replace('\n', "<br>")
}

fn message_text(message: &Value) -> String {
    if let Some(emoji) = message["dice"]["emoji"].as_str() {
        return format!("(dice {emoji})");
    }
    if let Some(question) = message["poll"]["question"].as_str() {
        return format!("(poll) {question}");
    }
    let text = message["text"].as_str().or_else(|| message["caption"].as_str()).unwrap_or_default();
    if message.get("photo").is_some_and(|p| !p.is_null()) { format!("(photo) {text}") } else { text.to_owned() }
}

fn inline_buttons(message: &Value) -> Vec<(String, String)> {
    let rows = message["reply_markup"]["inline_keyboard"].as_array().cloned().unwrap_or_default();
    rows.iter()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            let text = b["text"].as_str().unwrap_or_default().to_owned();
            let data = b["callback_data"].as_str().unwrap_or_default().to_owned();
            (text, data)
        })
        .collect()
}
