//! Durability on against off, the part `durability` and `compare --quick` share: the same
//! echo bot and load with the engine's state in memory and in a database, timed end to end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrogram_engine::{Engine, EngineConfig, StateStore};
use ferrogram_telegram::flood::Limit;
use serde_json::{Value, json};

const ECHO: &str = r#"
ferrogram: 1
bot: {name: durability}
variables:
  user:
    count: {type: number, default: 0}
on:
  - text: any
    do:
      - set: {user.count: "{{ user.count + 1 }}"}
      - reply: "{{ user.count }}. {{ message.text }}"
"#;

pub struct Row {
    pub name: String,
    pub per_second: f64,
    pub elapsed: Duration,
}

/// The results as a Markdown table; ratios are against the first row (memory).
pub fn table(rows: &[Row], updates: usize) -> String {
    let base = rows[0].per_second;
    let mut out = format!("| configuration | updates/s | vs memory | time for {} updates |\n", updates);
    out.push_str("|---|---:|---:|---:|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} s |\n",
            row.name,
            row.per_second,
            row.per_second / base,
            row.elapsed.as_secs_f64()
        ));
    }
    out
}

/// One configuration: a fresh sandbox and engine, `chats` users (a private chat each) sending `updates` messages in
/// closed loops, timed until the engine handled them all.
pub async fn run(name: &str, store: Arc<dyn StateStore>, commit_batch: usize, updates: usize, chats: usize) -> Row {
    let sandbox = crate::sandbox_without_limits().await;
    let url = sandbox.url();
    let open = Limit::per_second(1_000_000).with_burst(1_000_000);
    let flood =
        ferrogram_telegram::flood::Config { private_chat: open, group_chat: open, bot: open, ..Default::default() };
    let engine =
        Engine::new(EngineConfig { store, flood, commit_batch, max_concurrent_updates: 256, ..Default::default() });
    let http = reqwest::Client::new();
    let bot_id = 900_000 + u64::from(fastrand_u16());
    let token = format!("{bot_id}:durability");
    post(&http, &format!("{url}/sandbox/bots"), json!({"token": token})).await;
    let file = ferrogram_schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
    let bot = engine.add_bot(file, &token, &url).await.expect("bot starts");
    let mut handled = engine.handled(bot).expect("bot runs");

    let mut users = Vec::with_capacity(chats);
    for i in 0..chats {
        let user = post(&http, &format!("{url}/sandbox/users"), json!({"first_name": format!("u{i}")})).await;
        users.push(user["id"].as_i64().expect("user id"));
    }
    let per_user = updates.div_ceil(chats);
    let total = per_user * chats;
    let started = Instant::now();
    let senders: Vec<_> = users
        .iter()
        .map(|&user| {
            let (http, act) = (http.clone(), format!("{url}/sandbox/act/text"));
            tokio::spawn(async move {
                for n in 0..per_user {
                    post(&http, &act, json!({"bot_id": bot_id, "user_id": user, "text": format!("m{n}")})).await;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
    handled.wait_for(|n| *n >= total as u64).await.expect("engine runs");
    let elapsed = started.elapsed();
    engine.stop(bot).await.expect("bot stops");
    sandbox.stop().await.expect("sandbox stops");
    let row = Row { name: name.to_owned(), per_second: total as f64 / elapsed.as_secs_f64(), elapsed };
    eprintln!("{name}: {total} updates in {:.2} s, {:.0}/s", elapsed.as_secs_f64(), row.per_second);
    row
}

/// A bot id that differs between runs, without a random-number dependency.
fn fastrand_u16() -> u16 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    (nanos % 60_000) as u16
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let response = http.post(url).json(&body).send().await.expect("request");
    let status = response.status();
    let value: Value = response.json().await.expect("JSON answer");
    assert!(status.is_success(), "POST {url} -> {status} {value}");
    value
}
