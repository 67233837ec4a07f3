//! The report's machine and versions: the CPU, memory, OS and load, and each framework's version.

use crate::compare::Ctx;
use crate::procfs;
use serde_json::Value;
use std::process::Command;

pub(crate) fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

pub(crate) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = procfs::status_kib(&meminfo, "MemTotal")
        .map(|k| format!("{:.0} GiB", k as f64 / 1048576.0))
        .unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|s| s.trim_matches('"').to_owned()))
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?");
    format!("Machine: {cores} cores ({model}), {mem}, {os}; load average {load} when the run ended.")
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into())
}

fn npm_version(package: &str) -> String {
    std::fs::read_to_string(format!("bench/peers/js/node_modules/{package}/package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

pub(super) fn versions(ctx: &Ctx) -> Vec<String> {
    let python = ctx.args.python.to_string_lossy().into_owned();
    let node = ctx.args.node.to_string_lossy().into_owned();
    let py = output(
        &python,
        &[
            "-c",
            "import sys, aiogram, aiohttp, redis, asyncpg; print(f'aiogram {aiogram.__version__} (aiohttp {aiohttp.__version__}, redis-py {redis.__version__}, asyncpg {asyncpg.__version__}, Python {sys.version.split()[0]})')",
        ],
    );
    vec![
        format!(
            "Ferrogram {} (this tree; release profile), {}",
            env!("CARGO_PKG_VERSION"),
            output("rustc", &["--version"])
        ),
        "teloxide 0.17.0 (features rustls, throttle, ctrlc_handler, macros, redis-storage, webhooks-axum; \
         tokio-postgres 0.7 with deadpool-postgres 0.14; release profile; bench/peers/teloxide, locked by its Cargo.lock; \
         the same binary runs both rows: teloxide (plain) with `THROTTLE=off`, teloxide (Throttle) with `Throttle<Bot>`)"
            .into(),
        format!("{py} (bench/peers/aiogram_{{bot,menu,many}}.py)"),
        format!(
            "grammY {} with @grammyjs/runner {}, @grammyjs/transformer-throttler {}, @grammyjs/auto-retry {}, \
             @grammyjs/storage-redis {} on ioredis {}, pg {} (Node.js {}; bench/peers/js)",
            npm_version("grammy"),
            npm_version("@grammyjs/runner"),
            npm_version("@grammyjs/transformer-throttler"),
            npm_version("@grammyjs/auto-retry"),
            npm_version("@grammyjs/storage-redis"),
            npm_version("ioredis"),
            npm_version("pg"),
            output(&node, &["--version"])
        ),
        format!(
            "PostgreSQL: {}; Redis: {}",
            output("psql", &["--version"]),
            output("redis-server", &["--version"])
        ),
    ]
}
