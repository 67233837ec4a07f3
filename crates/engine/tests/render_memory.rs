//! A template render cannot exhaust the server's memory (issue 10): every known way to build
//! gigabytes within a render's fuel (`common/memory_attacks.rs`) fails its handler fast through
//! the bot's errors reply, commits nothing, names the cap it ran into, and the process's peak
//! resident memory stays bounded while it runs. A big render under the caps still answers.
//!
//! Alone in its binary so that the peak memory it reads (`VmHWM` of `/proc/self/status`, reset
//! before each attack through `/proc/self/clear_refs`) is this test's.

mod common;

use std::time::{Duration, Instant};

use common::memory_attacks::MEMORY_ATTACKS;
use common::{World, test_config};
use serde_json::json;

/// How much the process's peak resident memory may grow while one attack runs. A render may
/// build 64 MiB of values (the template memory cap) plus, transiently, one value over the value
/// cap; the rest is slack for the allocator and the sandbox.
const PEAK_GROWTH_LIMIT_KIB: u64 = 512 << 10;

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number of KiB")
}

/// Resets the peak resident memory to the current one (Linux: "5" to `clear_refs`).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The bot: per attack, a command that sets a variable then replies with the attack, and one
/// that renders it inside a `try` so that its error message can be read.
fn bot_yaml() -> String {
    let mut yaml = String::from(
        "ferrogram: 1\nbot: {name: render-memory}\nerrors: {reply: \"Too big ({{ error.kind }})\"}\n\
         variables:\n  user:\n    n: {type: number, default: 0}\non:\n\
         \x20 - command: n\n    do: [{reply: \"n={{ user.n }}\"}]\n\
         \x20 - command: big\n    do: [{reply: \"{{ ('x' * 1000000 ~ 'y')|length }} {{ (range(40000)|join(','))|length }}\"}]\n",
    );
    for (i, (source, _)) in MEMORY_ATTACKS.iter().enumerate() {
        let source = serde_json::to_string(source).expect("JSON");
        yaml.push_str(&format!(
            "  - command: a{i}\n    do:\n      - set: {{user.n: {}}}\n      - reply: {source}\n\
             \x20 - command: t{i}\n    do:\n      - try:\n          do: [{{reply: {source}}}]\n\
             \x20         catch: [{{reply: \"caught: {{{{ error.message }}}}\"}}]\n",
            i + 1
        ));
    }
    yaml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_attacks_fail_fast_through_the_errors_reply_with_bounded_memory() {
    let mut world = World::start(test_config()).await;
    let bot = world.bot(&bot_yaml()).await;
    let ann = world.user("Ann", "en").await;
    let mut seq = 0;
    let mut say = async |command: String| {
        world.act(bot, "command", ann, json!({"command": command})).await;
        let (sent, last) = world.wait_sent(bot, ann, seq, 1).await;
        seq = last;
        sent.join(" / ")
    };

    assert_eq!(say("big".into()).await, "1000001 228889", "a big render under the caps answers");
    let measured = reset_peak();
    let mut peaks = Vec::new();
    for (i, (source, cap)) in MEMORY_ATTACKS.iter().enumerate() {
        let before = status_kib("VmRSS:");
        reset_peak();
        let started = Instant::now();
        assert_eq!(say(format!("a{i}")).await, "Too big (failed)", "{source}");
        let took = started.elapsed();
        let growth = status_kib("VmHWM:").saturating_sub(before);
        assert!(took < Duration::from_secs(10), "{source}: took {took:?}");
        if measured {
            assert!(growth < PEAK_GROWTH_LIMIT_KIB, "{source}: the peak memory grew by {growth} KiB");
        }
        peaks.push((growth, took, *source));

        let caught = say(format!("t{i}")).await;
        let named = match cap {
            common::memory_attacks::Cap::Value => "a value in the template grew past 1 MiB (the template value cap)",
            common::memory_attacks::Cap::Memory => {
                "the values the template built grew past 64 MiB in total (the template memory cap)"
            }
        };
        assert!(caught.starts_with("caught: ") && caught.contains(named), "{source}: {caught}");
    }
    assert_eq!(say("n".into()).await, "n=0", "no failed handler committed its `set`");

    // The measurements, for the record (`cargo test -- --nocapture`).
    eprintln!("peak memory growth per attack (VmHWM - VmRSS before, KiB), time:");
    for (growth, took, source) in &peaks {
        eprintln!("{growth:>8} KiB {took:>10.2?}  {source}");
    }
    assert!(measured, "the peak memory could not be reset (/proc/self/clear_refs), so it was not checked");
}
