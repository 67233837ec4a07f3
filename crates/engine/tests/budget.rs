//! An update's step and fuel budgets, end to end: runaway handlers end with the error reply
//! within their budget, a `try` does not swallow a spent budget, and a hostile bot spinning in
//! two chats does not stall a well-behaved bot of the same engine (its p99 reply latency is
//! measured).

mod common;

use std::time::Duration;

use common::{Bot, World, test_config};
use serde_json::json;
use tokio::time::Instant;

/// Loops that pass validation (their size is a variable) but would run 10⁹ steps.
const HOSTILE: &str = r#"
ferrogram: 1
bot: {name: hostile}
variables:
  bot: {n: {type: number, default: 1000}}
  user: {s: {type: string}}
errors: {reply: "Too much work, sorry"}
on:
  - command: spin
    do:
      - for_each: {in: "range(bot.n)", do: [{for_each: {in: "range(bot.n)", do: [{for_each: {in: "range(bot.n)", do: [{set: {user.s: "{{ item }}"}}]}}]}}]}
      - reply: "never"
  - command: s
    do: [{reply: "s={{ user.s }}"}]
"#;

/// The step budget of these tests' engines: a debug build runs a few thousand of these loops'
/// steps a second on a loaded machine (a release build ten times more), so the default would
/// make the tests slow.
const STEPS: u64 = 5_000;

const ECHO: &str = r#"
ferrogram: 1
bot: {name: echo}
on:
  - text: any
    do: [{reply: "echo {{ message.text }}"}]
"#;

/// The texts the bot sends in `chat` after the event `after`, once there are `count` of them,
/// waiting up to `limit`; with the new event position. `None` when fewer came in time.
async fn sent_within(
    world: &World,
    bot: Bot,
    chat: i64,
    after: u64,
    count: usize,
    limit: Duration,
) -> Option<(Vec<String>, u64)> {
    let deadline = Instant::now() + limit;
    let (mut texts, mut last) = (Vec::new(), after);
    while texts.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let request = world.events(bot, chat, last, left.as_secs().clamp(1, 5));
        let (events, seq) = tokio::time::timeout(left, request).await.ok()?;
        last = seq;
        let sent = events.iter().filter(|e| e["kind"] == "sent");
        texts.extend(sent.map(|e| e["message"]["text"].as_str().unwrap_or_default().to_owned()));
    }
    Some((texts, last))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_loop_ends_with_the_error_reply_within_its_step_budget() {
    let budget = Duration::from_secs(30);
    let config = ferrogram_engine::EngineConfig { update_budget: budget, update_steps: STEPS, ..test_config() };
    let mut world = World::start(config).await;
    let bot = world.bot(HOSTILE).await;
    let ann = world.user("Ann", "en").await;
    let started = Instant::now();
    world.act(bot, "command", ann, json!({"command": "spin"})).await;
    let (sent, seq) = sent_within(&world, bot, ann, 0, 1, budget * 2).await.expect("an answer to /spin");
    let took = started.elapsed();
    eprintln!("{STEPS} steps took {took:?}");
    assert_eq!(sent, ["Too much work, sorry"]);
    assert!(took < budget, "the step budget ended it, not the {budget:?} time budget: {took:?}");
    // Nothing of the failed handler was kept: its variable writes are gone.
    world.act(bot, "command", ann, json!({"command": "s"})).await;
    world.wait_handled(bot, 2).await;
    let (sent, _) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, ["s="], "user.s was never committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_is_not_caught_by_try_and_fuel_counts_across_renders() {
    let config = ferrogram_engine::EngineConfig { update_steps: 5_000, update_fuel: 200_000, ..test_config() };
    let mut world = World::start(config).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: tries}
variables:
  bot: {n: {type: number, default: 1000}}
  user: {s: {type: string}}
errors: {reply: "budget spent"}
on:
  - command: steps
    do:
      - try:
          do:
            - for_each: {in: "range(bot.n)", do: [{for_each: {in: "range(bot.n)", do: [{set: {user.s: "x"}}]}}]}
          catch:
            - reply: "caught {{ error.kind }}"
  - command: fuel
    do:
      - for_each:
          in: "range(1000)"
          do: [{set: {user.s: "{% for i in range(400) %}{{ i }}{% endfor %}"}}]
      - reply: "done"
  - command: small
    do:
      - for_each: {in: "range(100)", do: [{set: {user.s: "{% for i in range(10) %}{{ i }}{% endfor %}"}}]}
      - reply: "small done"
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "command", ann, json!({"command": "steps"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, 0, 1).await;
    assert_eq!(sent, ["budget spent"], "the steps budget ends the update; `catch` does not run");
    // Each render is far under the per-render fuel; a thousand of them are not.
    world.act(bot, "command", ann, json!({"command": "fuel"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, ["budget spent"]);
    world.act(bot, "command", ann, json!({"command": "small"})).await;
    let (sent, _) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, ["small done"], "a handler within its budgets runs to the end");
}

/// The p99 of the echo bot's reply latency while two users spam the hostile bot's `/spin`. With
/// handlers that never yield, both worker threads are taken by the spinning handlers and the
/// echo bot answers nothing until one ends: each runs [`HOSTILE_STEPS`] steps, seconds in a
/// debug build (never, without the step budget: a latency is then counted as [`LATENCY_CAP`]).
/// With yields, a spinning handler holds a thread for about 2 ms at a time, and the p99 measured
/// 0.2 to 0.3 s; the bound leaves room for a loaded 2-core machine.
const P99_BOUND: Duration = Duration::from_millis(1500);
const LATENCY_CAP: Duration = Duration::from_secs(5);
const ECHOES: usize = 40;
/// Enough steps that three `/spin`s per chat outlast the echo measurement.
const HOSTILE_STEPS: u64 = 20_000;
const SPINS_PER_USER: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_bot_does_not_stall_another_bot() {
    let budget = Duration::from_secs(60);
    let config = ferrogram_engine::EngineConfig { update_budget: budget, update_steps: HOSTILE_STEPS, ..test_config() };
    let mut world = World::start(config).await;
    let hostile = world.bot(HOSTILE).await;
    let echo = world.bot(ECHO).await;
    let (ann, bob, eve) = (world.user("Ann", "en").await, world.user("Bob", "en").await, world.user("Eve", "en").await);
    // The echo bot answers before the spam starts.
    world.act(echo, "text", eve, json!({"text": "warm-up"})).await;
    let (_, mut seq) = world.wait_sent(echo, eve, 0, 1).await;

    let spam_started = Instant::now();
    for _ in 0..SPINS_PER_USER {
        for user in [ann, bob] {
            world.act(hostile, "command", user, json!({"command": "spin"})).await;
        }
    }
    let mut latencies = Vec::with_capacity(ECHOES);
    for i in 0..ECHOES {
        let text = format!("ping {i}");
        let sent_at = Instant::now();
        world.act(echo, "text", eve, json!({"text": text})).await;
        match sent_within(&world, echo, eve, seq, 1, LATENCY_CAP).await {
            Some((replies, last)) => {
                assert_eq!(replies, [format!("echo {text}")]);
                latencies.push(sent_at.elapsed());
                seq = last;
            }
            None => {
                latencies.push(LATENCY_CAP);
                // Later replies would be read as this one's: the measurement is over.
                break;
            }
        }
    }
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    let median = latencies[latencies.len() / 2];
    eprintln!("echo latency while /spin is spammed: median {median:?}, p99 {p99:?} of {}", latencies.len());
    assert_eq!(latencies.len(), ECHOES, "an echo reply took longer than {LATENCY_CAP:?}");
    assert!(p99 < P99_BOUND, "the echo bot's p99 latency {p99:?} is over {P99_BOUND:?} (median {median:?})");

    // Every /spin ended with the error reply, each within the update's budget: a chat's updates
    // run one after the other, so its last one ends within SPINS_PER_USER budgets of the spam.
    for user in [ann, bob] {
        let (sent, _) = sent_within(&world, hostile, user, 0, SPINS_PER_USER, budget * SPINS_PER_USER as u32)
            .await
            .unwrap_or_else(|| panic!("not every /spin of user {user} was answered"));
        assert_eq!(sent, ["Too much work, sorry"; SPINS_PER_USER]);
    }
    let all_ended = spam_started.elapsed();
    assert!(all_ended < budget, "the step budget ended every /spin, none ran into the time budget: {all_ended:?}");
}
