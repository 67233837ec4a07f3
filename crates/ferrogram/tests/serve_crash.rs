//! "Nothing lost" across crashes of `serve` running several bots: users send numbered messages
//! to three counting echo bots while `serve` is killed with SIGKILL several times, at random
//! moments (seeded: the seed is printed, `FERROGRAM_CRASH_SEED=N` replays it), and restarted on
//! the same SQLite database and sandbox state file; at the end it is stopped with SIGTERM.
//!
//! `serve`'s sandbox runs in its process, so "Telegram" dies with the bots: it saves its state
//! every 5 s, and a kill makes it forget what changed since (messages users sent, replies it
//! recorded, its update and event counters). The test accounts for that instead of calling it a
//! loss:
//! - A message the sandbox forgot before a bot fetched it reached nobody. After each restart,
//!   once the bots fetched everything the sandbox remembers (no update pending), a message that
//!   is neither in a bot's inbox nor in its handled log (the database; an inbox row is replaced
//!   by a new update reusing its id, as the sandbox's counter went back) was forgotten by the
//!   sandbox: the user sends it again, as a new attempt with its own text (`a1`, …), counted.
//! - The bots' handling is read from the database: each bot appends every text it handles to
//!   the user's `log` variable in the same commit as its reply. Every number must be in a log
//!   (nothing lost), no text twice (nothing handled twice), and the outbox empty after SIGTERM.
//! - Replies are read live from the sandbox's event long poll, from the seq its state file
//!   held at each kill. Repeats are counted against the contract's bound; a reply recorded by
//!   the sandbox in the instant before a kill, before the test read it, is forgotten with it:
//!   counted as unseen, with the same bound.
//!
//! `serve` is killed when dropped; its logs and files are in the test's temporary folder, kept
//! when the test fails (or with `FERROGRAM_KEEP=1`).
//!
//! Before the first kill each user greets each bot and the test waits for a save, so that every
//! chat is in the state file: a sandbox that forgot a chat refuses the bot's replies in it (403,
//! a bot cannot start a conversation), which the test would count as refusals, not losses (it
//! asserts there are none).

#![cfg(unix)]

#[allow(dead_code)]
mod binary;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use binary::serve::{Serve, database_url, scratch};
use serde_json::Value;
use tokio::time::Instant;

const BOTS: [&str; 3] = ["counter0", "counter1", "counter2"];
const USERS: usize = 5;
/// Numbered messages each user sends each bot.
const MESSAGES: usize = 16;
const CHATS: usize = BOTS.len() * USERS;
const KILLS: usize = 3;
/// How long each killed run lives, at random in this range (milliseconds).
const LIFE_MS: (u64, u64) = (1500, 4000);
const SIGKILL: i32 = 9;
const ALL_DONE: Duration = Duration::from_secs(40);

/// The most replies that can be seen twice, and the most that can go unseen. A reply is
/// committed with its update (the outbox) and delivered after; it is sent again only when it
/// was being delivered at a crash (sent, not yet forgotten in the outbox), and a chat's replies
/// are delivered one after another, so each kill repeats at most one reply per chat. The same
/// holds for a reply the sandbox recorded just before it died with the process, before the
/// test read it. An update whose handler ran at the crash committed nothing (handled again
/// without a repeat), and a redelivery of a stored update is dropped by the inbox.
const MAX_REPEATS: usize = KILLS * CHATS;

/// Counts each user's texts and logs them in the same commit as the reply.
fn counter_bot(name: &str) -> String {
    format!(
        r##"ferrogram: 1
bot:
  name: {name}
variables:
  user:
    count: {{type: number, default: 0}}
    log: {{type: string, default: ""}}
on:
  - text: any
    do:
      - set: {{user.count: "{{{{ user.count + 1 }}}}"}}
      - set: {{user.log: "{{{{ user.log }}}}{{{{ message.text }}}};"}}
      - reply: "#{{{{ user.count }}}} {{{{ message.text }}}}"
"##
    )
}

/// One numbered message of a user to a bot, and the attempts at sending it.
struct Message {
    bot: i64,
    user: i64,
    number: usize,
    /// Texts sent so far: `b… u… m… a0`, then `a1` if the sandbox forgot the first, …
    attempts: Vec<String>,
}

impl Message {
    fn next_text(&mut self) -> String {
        let text = format!("b{} u{} m{} a{}", self.bot, self.user, self.number, self.attempts.len());
        self.attempts.push(text.clone());
        text
    }
}

/// The replies seen, text (without the `#count `) → the counts they carried.
type Seen = Arc<Mutex<HashMap<String, Vec<u64>>>>;

/// Reads `sent` events after `after` until the process dies or `stop` is set.
/// Returns the seq read up to.
async fn read_replies(http: reqwest::Client, url: String, seen: Seen, mut after: u64, stop: Arc<AtomicBool>) -> u64 {
    while !stop.load(Ordering::SeqCst) {
        let path = format!("{url}/sandbox/events?kind=sent&after={after}&timeout=1");
        let Ok(answer) = binary::request(&http, path, None).await else {
            // Killed, or starting: tried again until told to stop.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        for event in answer["events"].as_array().into_iter().flatten() {
            let text = event["message"]["text"].as_str().unwrap_or_default();
            if let Some((count, rest)) = text.strip_prefix('#').and_then(|t| t.split_once(' ')) {
                seen.lock().unwrap().entry(rest.to_owned()).or_default().push(count.parse().unwrap_or(0));
            }
        }
        after = answer["last"].as_u64().unwrap_or(after).max(after);
    }
    after
}

/// The texts the bots stored in their inboxes (received, handled or not), and how many rows
/// are still unhandled.
async fn inbox(db: &sqlx::SqlitePool) -> (HashSet<String>, usize) {
    let rows: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT raw, handled_at FROM inbox").fetch_all(db).await.expect("inbox");
    let texts = rows
        .iter()
        .filter_map(|(raw, _)| serde_json::from_str::<Value>(raw).ok())
        .filter_map(|update| update["message"]["text"].as_str().map(str::to_owned))
        .collect();
    (texts, rows.iter().filter(|(_, handled)| handled.is_none()).count())
}

/// Every text each user's `log` variable holds, per (bot, user), in the order handled.
async fn logs(db: &sqlx::SqlitePool) -> BTreeMap<(i64, i64), Vec<String>> {
    let rows: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT bot_id, owner_id, value FROM variables WHERE scope = 'user' AND name = 'log'")
            .fetch_all(db)
            .await
            .expect("variables");
    rows.into_iter()
        .map(|(bot, user, value)| {
            let log = serde_json::from_str::<Value>(&value).ok().and_then(|v| v.as_str().map(str::to_owned));
            let texts = log.unwrap_or(value).split(';').filter(|t| !t.is_empty()).map(str::to_owned).collect();
            ((bot, user), texts)
        })
        .collect()
}

/// The replies in the sandbox's state file.
fn sent_in_state(folder: &Path) -> Vec<String> {
    let state = std::fs::read(folder.join("sandbox.json")).unwrap_or_default();
    let state: Value = serde_json::from_slice(&state).unwrap_or_default();
    state["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| event["kind"] == "sent")
        .filter_map(|event| event["message"]["text"].as_str().map(str::to_owned))
        .collect()
}

/// The sandbox's event seq at its last save (what a restart continues from).
fn saved_seq(folder: &Path) -> u64 {
    let state = std::fs::read(folder.join("sandbox.json")).unwrap_or_default();
    serde_json::from_slice::<Value>(&state).ok().and_then(|s| s["last_seq"].as_u64()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_repeatedly_loses_nothing_and_repeats_only_what_was_in_flight() {
    let seed =
        std::env::var("FERROGRAM_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("seed {seed} (replay with FERROGRAM_CRASH_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);
    let started = Instant::now();
    let folder = scratch("serve-crash");
    for name in BOTS {
        std::fs::write(folder.join("bots").join(format!("{name}.yaml")), counter_bot(name)).expect("bot file");
    }

    let mut serve = Serve::start(&folder, "serve-0.log", &[], &[]);
    let bots = serve.running(&BOTS).await;
    let mut users = Vec::new();
    for n in 0..USERS {
        users.push(serve.user(&format!("user{n}")).await);
    }
    // Messages in rounds: each chat's first, then each chat's second, …
    let mut messages = Vec::new();
    for number in 0..MESSAGES {
        for &bot in &bots {
            for &user in &users {
                messages.push(Message { bot, user, number, attempts: Vec::new() });
            }
        }
    }
    // Each user greets each bot first, so that their chats are in the state file before the
    // first kill (it is saved every 5 s): a sandbox that forgot a chat would refuse the bot's
    // replies in it (403, a bot cannot start a conversation).
    let seen: Seen = Arc::default();
    let stop_reading = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(read_replies(
        serve.http.clone(),
        serve.url.clone(),
        Arc::clone(&seen),
        0,
        Arc::clone(&stop_reading),
    ));
    let greetings: Vec<String> =
        bots.iter().flat_map(|bot| users.iter().map(move |user| format!("b{bot} u{user} hello"))).collect();
    for (bot, user) in bots.iter().flat_map(|bot| users.iter().map(move |user| (*bot, *user))) {
        serve.send(bot, user, &format!("b{bot} u{user} hello")).await.expect("greeting sent");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !greetings.iter().all(|text| seen.lock().unwrap().contains_key(text)) {
        assert!(Instant::now() < deadline, "the bots did not answer the greetings:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(5500)).await;
    stop_reading.store(true, Ordering::SeqCst);
    let mut after = reader.await.expect("the reader");

    let mut next = 0; // the first message never sent
    let mut resend: Vec<usize> = Vec::new();
    let mut resent = 0;
    for life in 0..=KILLS {
        let stop_reading = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read_replies(
            serve.http.clone(),
            serve.url.clone(),
            Arc::clone(&seen),
            after,
            Arc::clone(&stop_reading),
        ));
        // The users send, about 30 messages a second: first what the sandbox forgot, then new
        // ones; a killed run stops at a random moment, wherever the sending is.
        let last_life = life == KILLS;
        let lives_for = Duration::from_millis(rng.u64(LIFE_MS.0..=LIFE_MS.1));
        let until = Instant::now() + lives_for;
        while last_life || Instant::now() < until {
            let index = if !resend.is_empty() {
                resend.remove(0)
            } else if next < messages.len() {
                next += 1;
                next - 1
            } else {
                break;
            };
            let text = messages[index].next_text();
            let (bot, user) = (messages[index].bot, messages[index].user);
            serve.send(bot, user, &text).await.expect("the sandbox takes the message");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        if last_life {
            finish(serve, (reader, stop_reading), &messages, &seen, &folder, resent, started).await;
            return;
        }
        tokio::time::sleep_until(until).await;
        // SIGKILL: no shutdown code runs, nothing is confirmed, the sandbox saves nothing.
        serve.signal("KILL").await;
        let status = serve.child.wait().await.expect("the killed process is reaped");
        assert_eq!(status.signal(), Some(SIGKILL), "serve died of SIGKILL: {status}");
        stop_reading.store(true, Ordering::SeqCst);
        let _ = reader.await;
        let seen_now: usize = seen.lock().unwrap().values().map(Vec::len).sum();
        eprintln!(
            "run {life}: killed after {lives_for:?} ({:?} into the test), {next} messages sent, {seen_now} replies seen",
            started.elapsed()
        );

        after = saved_seq(&folder);
        serve = Serve::start(&folder, &format!("serve-{}.log", life + 1), &[], &[]);
        serve.running(&BOTS).await;
        // Once the bots fetched what the sandbox remembers, a sent text in no inbox was forgotten
        // by the sandbox before any bot took it: its user sends it again.
        let deadline = Instant::now() + Duration::from_secs(30);
        for &bot in &bots {
            while serve.pending(bot).await != Some(0) {
                assert!(Instant::now() < deadline, "bot {bot} did not take its updates:\n{}", serve.log());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let db = sqlx::SqlitePool::connect(&database_url(&folder)).await.expect("database");
        // The inbox, and the logs: a handled update's row is replaced by a new update reusing
        // its id (the sandbox's counter went back with it).
        let (mut stored, _) = inbox(&db).await;
        stored.extend(logs(&db).await.into_values().flatten());
        db.close().await;
        for (index, message) in messages.iter().enumerate().take(next) {
            if !message.attempts.iter().any(|text| stored.contains(text)) && !resend.contains(&index) {
                resend.push(index);
            }
        }
        resent += resend.len();
        eprintln!("run {}: {} messages the sandbox forgot are sent again", life + 1, resend.len());
    }
}

/// The last run: waits for every reply, stops `serve` with SIGTERM, then checks the database
/// and the replies seen.
async fn finish(
    mut serve: Serve,
    (reader, stop_reading): (tokio::task::JoinHandle<u64>, Arc<AtomicBool>),
    messages: &[Message],
    seen: &Seen,
    folder: &Path,
    resent: usize,
    started: Instant,
) {
    // Every number answered under one of its texts, or nothing new for 5 s (the checks below
    // then say what is missing).
    let deadline = Instant::now() + ALL_DONE;
    let (mut last_count, mut quiet_since) = (0, Instant::now());
    loop {
        let (answered, count) = {
            let seen = seen.lock().unwrap();
            let answered = messages.iter().filter(|m| m.attempts.iter().any(|t| seen.contains_key(t))).count();
            (answered, seen.values().map(Vec::len).sum::<usize>())
        };
        if count != last_count {
            (last_count, quiet_since) = (count, Instant::now());
        }
        if answered == messages.len() || quiet_since.elapsed() > Duration::from_secs(5) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_reading.store(true, Ordering::SeqCst);
    let _ = reader.await;
    serve.signal("TERM").await;
    let status = tokio::time::timeout(Duration::from_secs(15), serve.child.wait())
        .await
        .unwrap_or_else(|_| panic!("serve did not stop after SIGTERM:\n{}", serve.log()))
        .expect("reaped");
    assert!(status.success(), "serve exited with {status}:\n{}", serve.log());

    let db = sqlx::SqlitePool::connect(&database_url(folder)).await.expect("database");
    let (_, unhandled) = inbox(&db).await;
    let logs = logs(&db).await;
    let (outbox,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox").fetch_one(&db).await.expect("outbox");
    db.close().await;

    let handled: HashMap<&str, usize> = logs.values().flatten().fold(HashMap::new(), |mut counts, text| {
        *counts.entry(text.as_str()).or_default() += 1;
        counts
    });
    let lost: Vec<&str> = messages
        .iter()
        .filter(|m| !m.attempts.iter().any(|t| handled.contains_key(t.as_str())))
        .map(|m| m.attempts.last().map_or("", String::as_str))
        .collect();
    let twice: Vec<(&&str, &usize)> = handled.iter().filter(|(_, n)| **n > 1).collect();
    let seen = seen.lock().unwrap();
    let repeats: Vec<(&String, &Vec<u64>)> = seen.iter().filter(|(_, counts)| counts.len() > 1).collect();
    let repeated: usize = repeats.iter().map(|(_, counts)| counts.len() - 1).sum();
    let unseen: Vec<&&str> = handled.keys().filter(|text| !seen.contains_key(**text)).collect();
    let refused: usize = (0..=KILLS)
        .map(|life| std::fs::read_to_string(folder.join(format!("serve-{life}.log"))).unwrap_or_default())
        .map(|log| log.matches("Telegram refused the call").count())
        .sum();
    let in_state = sent_in_state(folder);
    let unseen_in_state = unseen.iter().filter(|text| in_state.iter().any(|t| t.ends_with(**text))).count();
    eprintln!("of the unseen, {unseen_in_state} are in the sandbox's final state");
    let strays: Vec<&String> = seen.keys().filter(|text| !handled.contains_key(text.as_str())).collect();
    eprintln!(
        "{} messages to {} bots from {USERS} users, {KILLS} kills, {:?} in all: {resent} sent again (forgotten by \
         the in-process sandbox), {} handled, {} replies seen, {repeated} repeated (bound {MAX_REPEATS}): {repeats:?}; \
         {} unseen (bound {MAX_REPEATS}): {unseen:?}",
        messages.len(),
        BOTS.len(),
        started.elapsed(),
        handled.len(),
        seen.values().map(Vec::len).sum::<usize>(),
        unseen.len(),
    );
    let logs_at = folder.display();
    assert!(lost.is_empty(), "{} messages never handled: {lost:?}; logs in {logs_at}", lost.len());
    assert!(twice.is_empty(), "handled twice: {twice:?}; logs in {logs_at}");
    assert_eq!(unhandled, 0, "updates left unhandled in the inbox; logs in {logs_at}");
    assert_eq!(outbox, 0, "calls left in the outbox after SIGTERM; logs in {logs_at}");
    assert_eq!(refused, 0, "calls refused by the sandbox; logs in {logs_at}");
    assert!(strays.is_empty(), "replies to nothing handled: {strays:?}");
    // A repeat is the same committed call sent again: the same count.
    for (text, counts) in &repeats {
        assert!(counts.iter().all(|c| *c == counts[0]), "{text} answered with different counts {counts:?}");
    }
    assert!(repeated <= MAX_REPEATS, "{repeated} replies repeated, more than {MAX_REPEATS} could be in flight");
    assert!(
        unseen.len() <= MAX_REPEATS,
        "{} replies never seen, more than {MAX_REPEATS} kills could hide",
        unseen.len()
    );
    drop(seen);
    // FERROGRAM_KEEP=1 keeps the folder (logs, database, state file) of a passing run too.
    if std::env::var_os("FERROGRAM_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(folder);
    }
}
