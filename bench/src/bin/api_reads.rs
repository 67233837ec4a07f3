//! The REST API's read endpoints under an open-loop load while the bots serve their normal load
//! (issue 14: "1,000 requests/s on SQLite with p99 under 20 ms on this 2-core machine").
//!
//! `cargo build --release -p ferrogram --bin ferrogram && cargo run --release -p ferrogram-bench --bin api_reads`
//!
//! 1. Starts the real `ferrogram serve` (the release binary beside this one) in a fresh work
//!    folder: a new SQLite database, `--bots` N echo bots, its built-in sandbox.
//! 2. Makes a viewer token with the CLI (`ferrogram token create --role viewer`), waits for
//!    every bot to run, and has each sandbox user write once so that the users lists, the
//!    statistics and the audit log are not empty.
//! 3. Sandbox users write to the bots on a fixed schedule (`--bot-rate` messages a second over
//!    all bots) for the rest of the run; replies are seen on the sandbox's event stream.
//! 4. Baseline: the bots' load alone for `--baseline-seconds`.
//! 5. The API: `--rate` requests a second for `--seconds`, sent on schedule whether or not the
//!    earlier ones were answered (`open_loop`), round robin over the read endpoints, each
//!    latency from its scheduled time to the end of its body.
//!
//! Writes `--out` (bench/API.md) and prints the same numbers.

use clap::Parser;
use ferrogram_bench::open_loop::{Tail, due, due_by};
use ferrogram_bench::procfs;
use ferrogram_bench::report::Table;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser, Clone)]
#[command(about = "The REST API's read endpoints under open-loop load beside the bots' own load")]
struct Args {
    /// Echo bots `serve` runs in its sandbox.
    #[arg(long, default_value_t = 20)]
    bots: usize,
    /// Sandbox users per bot (each writes to its one bot).
    #[arg(long, default_value_t = 10)]
    users_per_bot: usize,
    /// The bots' normal load: user messages a second, over all bots.
    #[arg(long, default_value_t = 100.0)]
    bot_rate: f64,
    /// API requests a second (open loop).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Seconds of API load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of the bots' load alone, before the API's.
    #[arg(long, default_value_t = 5)]
    baseline_seconds: u64,
    /// The `ferrogram` binary (default: beside this one, as cargo builds it).
    #[arg(long)]
    ferrogram_bin: Option<PathBuf>,
    /// The work folder (emptied first): database, sandbox state, bot files, serve.log.
    #[arg(long, default_value = "target/bench-work/api")]
    work: PathBuf,
    /// The report.
    #[arg(long, default_value = "bench/API.md")]
    out: PathBuf,
}

/// The read endpoints, round robin; `{bot}` is a bot's name, cycling over the bots.
const ENDPOINTS: [&str; 7] = [
    "/api/v1/bots",
    "/api/v1/bots/{bot}",
    "/api/v1/bots/{bot}/versions",
    "/api/v1/bots/{bot}/users",
    "/api/v1/bots/{bot}/stats",
    "/api/v1/stats",
    "/api/v1/audit",
];

fn say(text: &str) {
    eprintln!("api_reads: {text}");
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    ferrogram_telegram::install_crypto_provider();
    if let Err(error) = run(args).await {
        say(&format!("failed: {error}"));
        std::process::exit(1);
    }
}

/// The `ferrogram serve` process; stopped (SIGTERM, then killed) when dropped.
struct Serve {
    child: Child,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two free loopback ports in a row (the sandbox's and its stand-in model's), and one more.
fn free_ports() -> Result<(u16, u16), String> {
    for _ in 0..100 {
        let a = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = a.local_addr().map_err(|e| e.to_string())?.port();
        let Some(next) = port.checked_add(1) else { continue };
        let Ok(b) = std::net::TcpListener::bind(("127.0.0.1", next)) else { continue };
        let c = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let listen = c.local_addr().map_err(|e| e.to_string())?.port();
        drop((a, b, c));
        return Ok((port, listen));
    }
    Err("no two free ports in a row".into())
}

/// Polls `check` every 100 ms until it is true or `within` passes.
async fn until<F, Fut>(what: &str, within: Duration, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{what}: not within {within:?}"))
}

/// The machine's CPU time so far from /proc/stat: (busy, niced, total) in ticks.
fn machine_ticks() -> (u64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let get = |i: usize| fields.get(i).copied().unwrap_or(0);
    let total: u64 = fields.iter().take(8).sum();
    let idle = get(3) + get(4);
    (total - idle, get(1), total)
}

/// One measured window: wall time, the server's and the machine's CPU.
struct Window {
    start: Instant,
    end: Instant,
    serve_cpu: Duration,
    machine_busy: f64,
    machine_niced: f64,
    loadavg: String,
}

struct Meter {
    start: Instant,
    serve: Option<procfs::ProcStats>,
    machine: (u64, u64, u64),
}

impl Meter {
    fn start(pid: u32) -> Meter {
        Meter { start: Instant::now(), serve: procfs::read(pid), machine: machine_ticks() }
    }

    fn stop(self, pid: u32) -> Window {
        let end = Instant::now();
        let serve = procfs::read(pid);
        let machine = machine_ticks();
        let total = machine.2.saturating_sub(self.machine.2).max(1) as f64;
        Window {
            start: self.start,
            end,
            serve_cpu: match (self.serve, serve) {
                (Some(a), Some(b)) => b.cpu.saturating_sub(a.cpu),
                _ => Duration::ZERO,
            },
            machine_busy: machine.0.saturating_sub(self.machine.0) as f64 / total,
            machine_niced: machine.1.saturating_sub(self.machine.1) as f64 / total,
            loadavg: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    fn seconds(window: &Window) -> f64 {
        window.end.duration_since(window.start).as_secs_f64()
    }
}

/// The bots' traffic: when each message was sent (by its text) and when its echo was seen.
#[derive(Default)]
struct BotTraffic {
    sent: parking_lot::Mutex<HashMap<u64, Instant>>,
    /// (sent, seen) of every echo seen.
    replies: parking_lot::Mutex<Vec<(Instant, Instant)>>,
    failed_acts: AtomicU64,
}

impl BotTraffic {
    /// Echoes of messages sent in `[from, to)`: how many, and their latency.
    fn in_window(&self, from: Instant, to: Instant) -> (usize, usize, Option<Tail>) {
        let sent = self.sent.lock().values().filter(|at| **at >= from && **at < to).count();
        let latencies: Vec<Duration> = self
            .replies
            .lock()
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(at, seen)| seen.duration_since(*at))
            .collect();
        (sent, latencies.len(), Tail::from_samples(latencies))
    }
}

/// Long-polls the sandbox's event stream for every bot's `sent` messages.
fn route_replies(http: reqwest::Client, sandbox: String, traffic: Arc<BotTraffic>, mut after: u64) {
    tokio::spawn(async move {
        loop {
            let url = format!("{sandbox}/sandbox/events?kind=sent&after={after}&timeout=2");
            let Ok(answer) = http.get(url).send().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(batch) = answer.json::<Value>().await else { continue };
            let now = Instant::now();
            let sent = traffic.sent.lock();
            let mut replies = traffic.replies.lock();
            for event in batch["events"].as_array().into_iter().flatten() {
                let text = event["message"]["text"].as_str().unwrap_or_default();
                if let Some(seq) = text.strip_prefix("echo: m").and_then(|n| n.parse::<u64>().ok())
                    && let Some(at) = sent.get(&seq)
                {
                    replies.push((*at, now));
                }
            }
            after = batch["last"].as_u64().unwrap_or(after);
        }
    });
}

/// A user's message to a bot, numbered so that its echo is recognised.
async fn act(http: &reqwest::Client, sandbox: &str, traffic: &BotTraffic, seq: u64, bot: u64, user: i64) {
    traffic.sent.lock().insert(seq, Instant::now());
    let body = json!({"bot_id": bot, "user_id": user, "text": format!("m{seq}")});
    let ok = match http.post(format!("{sandbox}/sandbox/act/text")).json(&body).send().await {
        Ok(answer) => answer.status().is_success(),
        Err(_) => false,
    };
    if !ok {
        traffic.failed_acts.fetch_add(1, Ordering::Relaxed);
    }
}

/// One API answer: which endpoint, its status (None: no answer), latency from its schedule.
struct Answer {
    endpoint: usize,
    status: Option<u16>,
    latency: Duration,
    done: Instant,
}

async fn run(args: Args) -> Result<(), String> {
    let bin =
        args.ferrogram_bin.clone().unwrap_or_else(|| std::env::current_exe().expect("exe").with_file_name("ferrogram"));
    if !bin.exists() {
        return Err(format!("{} missing: cargo build --release -p ferrogram --bin ferrogram", bin.display()));
    }
    let version = Command::new(&bin).arg("--version").output().map_err(|e| e.to_string())?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let work = std::path::absolute(&args.work).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&work);
    for folder in ["bots", "data"] {
        std::fs::create_dir_all(work.join(folder)).map_err(|e| e.to_string())?;
    }
    let names: Vec<String> = (0..args.bots).map(|i| format!("api-bench-{i:02}")).collect();
    for name in &names {
        let file = format!(
            "ferrogram: 1\nbot:\n  name: {name}\non:\n  - text: any\n    do:\n      - reply: \"echo: {{{{ message.text }}}}\"\n"
        );
        std::fs::write(work.join("bots").join(format!("{name}.yaml")), file).map_err(|e| e.to_string())?;
    }

    let (port, listen) = free_ports()?;
    let log = std::fs::File::create(work.join("serve.log")).map_err(|e| e.to_string())?;
    let child = Command::new(&bin)
        .args(["serve", "--port", &port.to_string(), "--bots", "bots", "--listen", &format!("127.0.0.1:{listen}")])
        .current_dir(&work)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let pid = child.id();
    let serve = Serve { child };
    let api = format!("http://127.0.0.1:{listen}");
    let sandbox = format!("http://127.0.0.1:{port}");
    say(&format!("serve (pid {pid}) with {} bots; API {api}, sandbox {sandbox}", args.bots));

    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
    until("serve's listener", Duration::from_secs(120), || {
        let http = http.clone();
        let url = format!("{api}/api/openapi.json");
        async move { http.get(url).send().await.is_ok_and(|a| a.status().is_success()) }
    })
    .await?;

    let token = Command::new(&bin)
        .args(["token", "create", "--workspace", "default", "--role", "viewer", "--name", "api-bench"])
        .current_dir(&work)
        .output()
        .map_err(|e| e.to_string())?;
    let printed = String::from_utf8_lossy(&token.stdout).into_owned();
    let token = printed
        .split_whitespace()
        .find(|word| word.starts_with("fg_"))
        .ok_or_else(|| format!("token create printed no token: {printed} {}", String::from_utf8_lossy(&token.stderr)))?
        .to_owned();
    let bearer = format!("Bearer {token}");

    until("every bot running", Duration::from_secs(120), || {
        let (http, url, bearer, want) =
            (http.clone(), format!("{api}/api/v1/bots?limit=200"), bearer.clone(), args.bots);
        async move {
            let Ok(answer) = http.get(url).header("Authorization", bearer).send().await else { return false };
            let Ok(list) = answer.json::<Value>().await else { return false };
            let items = list["items"].as_array().cloned().unwrap_or_default();
            items.len() == want
                && items.iter().all(|bot| bot["status"]["status"] == "running" || bot["status"] == "running")
        }
    })
    .await?;
    say("every bot runs");

    // Users, each of one bot; the event stream's position before anyone writes.
    let mut users: Vec<(u64, i64)> = Vec::new();
    for i in 0..args.bots * args.users_per_bot {
        let answer = http
            .post(format!("{sandbox}/sandbox/users"))
            .json(&json!({"first_name": format!("reader{i}")}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let user: Value = answer.json().await.map_err(|e| e.to_string())?;
        let id = user["id"].as_i64().ok_or_else(|| format!("no user id in {user}"))?;
        users.push((ferrogram_core::sandbox_bot_id(&names[i % args.bots]), id));
    }
    let last: Value = http
        .get(format!("{sandbox}/sandbox/events?after={}", u64::MAX / 2))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let traffic = Arc::new(BotTraffic::default());
    route_replies(http.clone(), sandbox.clone(), Arc::clone(&traffic), last["last"].as_u64().unwrap_or(0));

    // Seed: every user writes once (the users lists, the statistics), all answered.
    let seq = Arc::new(AtomicU64::new(0));
    let mut seeding = tokio::task::JoinSet::new();
    for &(bot, user) in &users {
        let (http, sandbox, traffic, n) =
            (http.clone(), sandbox.clone(), Arc::clone(&traffic), seq.fetch_add(1, Ordering::Relaxed));
        seeding.spawn(async move { act(&http, &sandbox, &traffic, n, bot, user).await });
        while seeding.len() >= 16 {
            seeding.join_next().await;
        }
    }
    while seeding.join_next().await.is_some() {}
    let seeded = users.len();
    until("every seeding message answered", Duration::from_secs(120), || {
        let n = traffic.replies.lock().len();
        async move { n >= seeded }
    })
    .await?;
    say(&format!("{seeded} users wrote once, every one answered"));

    // The bots' normal load, open loop, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (http, sandbox, traffic, seq, stop, users, rate) = (
            http.clone(),
            sandbox.clone(),
            Arc::clone(&traffic),
            Arc::clone(&seq),
            Arc::clone(&stop),
            users.clone(),
            args.bot_rate,
        );
        tokio::spawn(async move {
            let start = Instant::now();
            let mut next = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let upto = due_by(start, rate, Instant::now());
                for i in next..upto {
                    let (bot, user) = users[i as usize % users.len()];
                    let (http, sandbox, traffic, n) =
                        (http.clone(), sandbox.clone(), Arc::clone(&traffic), seq.fetch_add(1, Ordering::Relaxed));
                    tokio::spawn(async move { act(&http, &sandbox, &traffic, n, bot, user).await });
                }
                next = upto;
                tokio::time::sleep_until(due(start, rate, next).into()).await;
            }
        })
    };

    say(&format!("baseline: the bots' load alone for {} s", args.baseline_seconds));
    let meter = Meter::start(pid);
    tokio::time::sleep(Duration::from_secs(args.baseline_seconds)).await;
    let baseline = meter.stop(pid);

    say(&format!("API: {} requests/s for {} s, open loop", args.rate, args.seconds));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .map_err(|e| e.to_string())?;
    let total = (args.rate * args.seconds as f64) as u64;
    let meter = Meter::start(pid);
    let start = meter.start;
    let mut sending = tokio::task::JoinSet::new();
    let mut next = 0u64;
    let mut behind = Duration::ZERO;
    while next < total {
        let now = Instant::now();
        let upto = due_by(start, args.rate, now).min(total);
        behind = behind.max(now.saturating_duration_since(due(start, args.rate, next)));
        for i in next..upto {
            let endpoint = i as usize % ENDPOINTS.len();
            let bot = &names[(i as usize / ENDPOINTS.len()) % names.len()];
            let url = format!("{api}{}", ENDPOINTS[endpoint].replace("{bot}", bot));
            let (client, bearer, scheduled) = (client.clone(), bearer.clone(), due(start, args.rate, i));
            sending.spawn(async move {
                let status = match client.get(url).header("Authorization", bearer).send().await {
                    Ok(answer) => {
                        let status = answer.status().as_u16();
                        answer.bytes().await.ok().map(|_| status)
                    }
                    Err(_) => None,
                };
                let done = Instant::now();
                Answer { endpoint, status, latency: done.saturating_duration_since(scheduled), done }
            });
        }
        next = upto;
        if next < total {
            tokio::time::sleep_until(due(start, args.rate, next).into()).await;
        }
    }
    let sent_by = Instant::now();
    let mut answers = Vec::with_capacity(total as usize);
    while let Some(answer) = sending.join_next().await {
        answers.push(answer.map_err(|e| e.to_string())?);
    }
    let loaded = meter.stop(pid);
    stop.store(true, Ordering::Relaxed);
    let _ = load.await;
    // The echoes of the last messages: until all are seen or 5 s pass.
    let wanted = traffic.sent.lock().len();
    let _ = until("the last echoes", Duration::from_secs(5), || {
        let n = traffic.replies.lock().len();
        async move { n >= wanted }
    })
    .await;
    let serve_peak = procfs::read(pid);
    drop(serve);

    // The numbers.
    let last_done = answers.iter().map(|a| a.done).max().unwrap_or(sent_by);
    let ok = answers.iter().filter(|a| a.status.is_some_and(|s| (200..300).contains(&s))).count();
    let not_ok = answers.len() - ok;
    let mut statuses: HashMap<String, usize> = HashMap::new();
    for answer in answers.iter().filter(|a| !a.status.is_some_and(|s| (200..300).contains(&s))) {
        *statuses.entry(answer.status.map_or("no answer".into(), |s| s.to_string())).or_default() += 1;
    }
    let offered = total as f64 / sent_by.duration_since(start).as_secs_f64();
    let achieved = ok as f64 / last_done.duration_since(start).as_secs_f64();
    let tail = Tail::from_samples(answers.iter().map(|a| a.latency).collect()).ok_or("no API answer")?;
    let (base_sent, base_replied, base_tail) = traffic.in_window(baseline.start, baseline.end);
    let (load_sent, load_replied, load_tail) = traffic.in_window(loaded.start, loaded.end);

    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
    let met = achieved >= 0.99 * args.rate && tail.p99 < Duration::from_millis(20) && not_ok == 0;
    let mut out = String::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(out, "# REST API reads under load\n");
    let _ = writeln!(
        out,
        "Written by `cargo build --release -p ferrogram --bin ferrogram && cargo run --release -p ferrogram-bench \
         --bin api_reads -- --bots {} --users-per-bot {} --bot-rate {} --rate {} --seconds {} --baseline-seconds {}` \
         (`bench/src/bin/api_reads.rs`).\n",
        args.bots, args.users_per_bot, args.bot_rate, args.rate, args.seconds, args.baseline_seconds
    );
    let _ = writeln!(
        out,
        "The target (issue 14): the read endpoints sustain 1,000 requests/s on SQLite with p99 under 20 ms on a \
         2-core machine while the bots serve their normal load. **{}** in this run: {:.0} requests/s answered 2xx, \
         p99 {} ms.\n",
        if met { "Met" } else { "Not met" },
        achieved,
        ms(tail.p99)
    );
    let _ = writeln!(out, "## Setup\n");
    let _ = writeln!(
        out,
        "- Machine: {cores} cores ({cpu}); `{version}`, release build; SQLite (`data/ferrogram.db`, fresh).\n\
         - `ferrogram serve` with {} echo bots on its built-in sandbox (long polling), {} sandbox users each \
         writing to one bot; every user wrote once first (so the users lists and statistics have rows).\n\
         - The bots' normal load: {} messages/s over all bots, sent on schedule from the start of the baseline \
         to the end of the API load.\n\
         - The API: a viewer token (`ferrogram token create --role viewer`), {} GETs/s for {} s sent on schedule \
         (open loop: a slow answer never delays the next request), round robin over `{}` (the bot cycling), \
         from one keep-alive `reqwest` client; latency from each request's *scheduled* time to the end of its \
         body, so a stall shows as the queue it causes.\n\
         - The bench, the sandbox and its users run in the bench's process, on the same two cores as the \
         server.\n",
        args.bots,
        users.len(),
        args.bot_rate,
        args.rate,
        args.seconds,
        ENDPOINTS.join("`, `"),
    );
    let _ = writeln!(out, "## The API\n");
    let mut table = Table::new(["", "value"]);
    table.row(["requests sent".to_owned(), format!("{total} ({offered:.0}/s offered)")]);
    table.row(["answered 2xx".to_owned(), format!("{ok} ({achieved:.0}/s achieved, to the last answer)")]);
    table.row([
        "non-2xx or no answer".to_owned(),
        if not_ok == 0 {
            "0".to_owned()
        } else {
            let mut list: Vec<_> = statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
            list.sort();
            format!("{not_ok} ({})", list.join(", "))
        },
    ]);
    table.row([
        "p50 / p99 / p99.9 / max".to_owned(),
        format!("{} / {} / {} / {} ms", ms(tail.p50), ms(tail.p99), ms(tail.p999), ms(tail.max)),
    ]);
    table.row(["the sender's worst lag behind its schedule".to_owned(), format!("{} ms", ms(behind))]);
    table.row([
        "serve's CPU".to_owned(),
        format!("{:.0}% of one core", 100.0 * loaded.serve_cpu.as_secs_f64() / Meter::seconds(&loaded)),
    ]);
    let _ = writeln!(out, "{}", table.markdown());
    let mut per = Table::new(["endpoint", "requests", "non-2xx", "p50 ms", "p99 ms", "max ms"]);
    for (index, path) in ENDPOINTS.iter().enumerate() {
        let mine: Vec<&Answer> = answers.iter().filter(|a| a.endpoint == index).collect();
        let bad = mine.iter().filter(|a| !a.status.is_some_and(|s| (200..300).contains(&s))).count();
        if let Some(t) = Tail::from_samples(mine.iter().map(|a| a.latency).collect()) {
            per.row([format!("`GET {path}`"), t.count.to_string(), bad.to_string(), ms(t.p50), ms(t.p99), ms(t.max)]);
        }
    }
    let _ = writeln!(out, "{}", per.markdown());
    let _ = writeln!(out, "## The bots meanwhile\n");
    let mut bots = Table::new([
        "window",
        "messages sent",
        "echoes",
        "echoes/s",
        "echo p50 ms",
        "echo p99 ms",
        "serve's CPU",
        "machine busy (of it niced)",
        "load average",
    ]);
    for (name, window, sent, replied, t) in [
        ("bots alone", &baseline, base_sent, base_replied, &base_tail),
        ("bots + API", &loaded, load_sent, load_replied, &load_tail),
    ] {
        let seconds = Meter::seconds(window);
        bots.row([
            format!("{name} ({seconds:.1} s)"),
            sent.to_string(),
            replied.to_string(),
            format!("{:.0}", replied as f64 / seconds),
            t.as_ref().map_or("-".into(), |t| ms(t.p50)),
            t.as_ref().map_or("-".into(), |t| ms(t.p99)),
            format!("{:.0}%", 100.0 * window.serve_cpu.as_secs_f64() / seconds),
            format!("{:.0}% ({:.0}%)", 100.0 * window.machine_busy, 100.0 * window.machine_niced),
            window.loadavg.clone(),
        ]);
    }
    let _ = writeln!(out, "{}", bots.markdown());
    let _ = writeln!(
        out,
        "Echoes are counted by the message's send time (an echo of a message sent in the window, seen up to 5 s \
         after it ends); failed acts: {}. serve's peak resident memory: {}. CPU percentages are of one core \
         (200% is the whole machine); \"machine busy\" is every process's share of both cores from /proc/stat, \
         \"niced\" the part of it that ran at a lower priority: other work on the machine (cargo builds run niced), \
         not this bench.\n",
        traffic.failed_acts.load(Ordering::Relaxed),
        serve_peak.map_or("-".into(), |p| format!("{} MiB", p.hwm_kib / 1024)),
    );
    print!("{out}");
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let notes = match std::fs::read_to_string(&args.out) {
        // What a person wrote below the numbers (the reading of them) survives a rerun.
        Ok(old) => old.find("\n## Reading\n").map(|at| old[at..].to_owned()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    std::fs::write(&args.out, format!("{out}{notes}")).map_err(|e| e.to_string())?;
    say(&format!("wrote {}", args.out.display()));
    Ok(())
}
