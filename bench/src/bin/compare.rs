//! Ferrogram beside teloxide, aiogram and grammY, in one run against one in-process sandbox
//! (`bench/run` builds and installs the peers, then runs this). Writes bench/RESULTS.md and the
//! latency chart bench/echo-latency.svg. Scenarios:
//!
//! 1. rig limit: the sandbox's own capacity with a null client ([`capacity`]);
//! 2. echo: users in closed loops at several loads; latency from the user's act to the bot's
//!    reply, seen on the sandbox's event stream (`GET /sandbox/events`, one long poll for all);
//! 3. bulk: one notification to many subscribers under the sandbox's flood limits scaled up,
//!    every Bot API call of the bot passing through a counting proxy ([`proxy`]);
//! 4. stateful menu: users walk three scenes with inline buttons and fill in a form whose
//!    answers each framework writes as a row of its database (peers: state in Redis, rows in
//!    PostgreSQL; Ferrogram: both in its store, on PostgreSQL and on SQLite); rows counted after;
//! 5. many bots: N echo bots in one process per framework, in webhook mode; start-up, resident
//!    memory and idle CPU.
//!
//! Every bot is its own process, pointed at the sandbox's URL; its CPU time and memory come
//! from /proc ([`procfs`]).

use clap::Parser;
use ferrogram_bench::report::{self, Series, Table, ratio, thousands};
use ferrogram_bench::{Latencies, capacity, procfs, proxy};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

#[derive(Parser, Clone)]
#[command(about = "Ferrogram against teloxide, aiogram and grammY on the sandbox")]
struct Args {
    /// Frameworks to run, in order (ferrogram first: the ratios are Ferrogram/peer).
    #[arg(long, value_delimiter = ',', default_value = "ferrogram,teloxide,aiogram,grammy")]
    frameworks: Vec<String>,
    /// Echo: virtual users.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Echo: concurrent users (closed loops) of each load level.
    #[arg(long, value_delimiter = ',', default_value = "10,50,200")]
    loads: Vec<usize>,
    /// Echo: seconds per load level.
    #[arg(long, default_value_t = 4)]
    level_seconds: u64,
    /// Bulk: subscribers of the notification.
    #[arg(long, default_value_t = 20_000)]
    subscribers: usize,
    /// Bulk: Telegram's flood limits (30 messages a second per bot) multiplied by this.
    #[arg(long, default_value_t = 20)]
    flood_scale: u32,
    /// Stateful menu: users walking the menu at once (closed loops).
    #[arg(long, default_value_t = 50)]
    menu_load: usize,
    /// Stateful menu: seconds each framework is measured (after one unmeasured walk per loop).
    #[arg(long, default_value_t = 6)]
    menu_seconds: u64,
    /// Stateful menu: also run Ferrogram with its store on SQLite, its embedded default.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    menu_sqlite: bool,
    /// Stateful menu: a PostgreSQL URL the bench may create a database with; it (re)creates
    /// `ferrogram_bench_menu` beside it, which every framework writes to.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres: String,
    /// Stateful menu: the Redis the peers keep their conversation state in.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// Many bots: bot counts in one process (empty: skip).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    many_bots: Vec<usize>,
    /// Many bots: the largest count the peers are run with (Ferrogram runs every count).
    #[arg(long, default_value_t = 10_000)]
    many_peers_max: usize,
    /// Many bots: seconds of idle measured.
    #[arg(long, default_value_t = 5)]
    idle_seconds: u64,
    /// Rig limit: seconds per measurement.
    #[arg(long, default_value_t = 3)]
    capacity_seconds: u64,
    /// The teloxide peer's binary (bench/run builds it).
    #[arg(long, default_value = "target/release/teloxide-bench-bot")]
    teloxide_bin: PathBuf,
    /// Ferrogram's bot process; default: `ferrogram_bot` beside this binary.
    #[arg(long)]
    ferrogram_bin: Option<PathBuf>,
    /// Python with aiogram (conformance/install.sh makes it).
    #[arg(long, default_value = "conformance/.venv/bin/python")]
    python: PathBuf,
    #[arg(long, default_value = "node")]
    node: PathBuf,
    #[arg(long, default_value = "bench/RESULTS.md")]
    results: PathBuf,
    #[arg(long, default_value = "bench/echo-latency.svg")]
    chart: PathBuf,
    /// Logs, databases and generated bot files.
    #[arg(long, default_value = "target/bench-work")]
    work: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fw {
    Ferrogram,
    Teloxide,
    Aiogram,
    Grammy,
}

impl Fw {
    fn parse(name: &str) -> Option<Fw> {
        match name.trim().to_ascii_lowercase().as_str() {
            "ferrogram" => Some(Fw::Ferrogram),
            "teloxide" => Some(Fw::Teloxide),
            "aiogram" => Some(Fw::Aiogram),
            "grammy" => Some(Fw::Grammy),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Fw::Ferrogram => "Ferrogram",
            Fw::Teloxide => "teloxide",
            Fw::Aiogram => "aiogram",
            Fw::Grammy => "grammY",
        }
    }

    fn index(self) -> i64 {
        self as i64
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Echo,
    Bulk,
    Menu,
    /// `bots` echo bots in one process, receiving by webhook on `webhook`.
    Many,
}

impl Mode {
    /// Which of a peer's bots runs the mode: 0 echo and broadcast, 1 the menu, 2 many bots.
    fn peer_file(self) -> usize {
        match self {
            Mode::Echo | Mode::Bulk => 0,
            Mode::Menu => 1,
            Mode::Many => 2,
        }
    }
}

/// A subscriber's id is `SUB_FIRST + i`: far above the sandbox's own user ids.
const SUB_FIRST: i64 = 50_000_000;
const ECHO_BOT: i64 = 710_000;
const BULK_BOT: i64 = 720_000;
const MENU_BOT: i64 = 730_000;
/// Framework `i`'s many bots are `MANY_BOT + i * MANY_STRIDE ..`.
const MANY_BOT: i64 = 800_000;
const MANY_STRIDE: i64 = 20_000;
const TELEGRAM_BOT_RATE: u32 = 30;
/// Echo: the bots' own limits, far above any load here (teloxide's Throttle sizes its queue by it).
const UNLIMITED: u32 = 10_000;

#[derive(Clone)]
struct Ctx {
    args: Args,
    url: String,
    http: reqwest::Client,
    work: PathBuf,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let started = Instant::now();
    let frameworks: Vec<Fw> =
        args.frameworks.iter().map(|n| Fw::parse(n).unwrap_or_else(|| panic!("unknown framework {n:?}"))).collect();
    std::fs::create_dir_all(&args.work).expect("work folder");
    let work = std::fs::canonicalize(&args.work).expect("work folder");
    let mut config = sandbox::Config::default();
    config.limits.enabled = false;
    let sandbox = sandbox::Sandbox::start(config).await.expect("sandbox starts");
    let http = reqwest::Client::builder().pool_max_idle_per_host(512).build().expect("client");
    let ctx = Ctx { args: args.clone(), url: sandbox.url(), http, work };
    let mut out = Results::default();

    say("rig limit: the sandbox with a null client");
    let duration = Duration::from_secs(args.capacity_seconds);
    for clients in [1, 32] {
        let (sends, updates) = capacity::measure(&ctx.url, clients, duration).await;
        out.capacity.push((clients, sends, updates));
    }

    say(&format!("echo: creating {} users", args.users));
    let users = create_users(&ctx, args.users).await;
    for &fw in &frameworks {
        say(&format!("echo: {}", fw.name()));
        let result = echo(&ctx, fw, &users).await;
        if let Some(error) = &result.error {
            say(&format!("echo: {} failed: {error}", fw.name()));
        }
        out.echo.push(result);
    }

    if args.subscribers > 0 {
        say(&format!("bulk: creating {} subscribers", args.subscribers));
        create_subscribers(&ctx, args.subscribers).await;
        let (proxy_url, counts, _proxy) = proxy::start(&ctx.url).await;
        for &fw in &frameworks {
            say(&format!("bulk: {}", fw.name()));
            let result = bulk(&ctx, fw, users[0], &proxy_url, &counts).await;
            if let Some(error) = &result.error {
                say(&format!("bulk: {} failed: {error}", fw.name()));
            }
            out.bulk.push(result);
        }
    }

    if args.menu_load > 0 && args.menu_seconds > 0 {
        match menu_database(&args.postgres).await {
            Ok(database) => {
                let mut runs: Vec<(Fw, Option<&str>)> = Vec::new();
                for &fw in &frameworks {
                    runs.push((fw, Some(&database)));
                    if fw == Fw::Ferrogram && args.menu_sqlite {
                        runs.push((fw, None));
                    }
                }
                for (fw, database) in runs {
                    let result = menu(&ctx, fw, database, &users).await;
                    if let Some(error) = &result.error {
                        say(&format!("menu: {} failed: {error}", result.label));
                    }
                    out.menu.push(result);
                }
            }
            Err(error) => {
                say(&format!("menu: skipped: {error}"));
                out.menu_error = Some(error);
            }
        }
    }

    for &n in args.many_bots.iter().filter(|n| **n > 0) {
        for &fw in &frameworks {
            if fw != Fw::Ferrogram && n > args.many_peers_max {
                continue;
            }
            say(&format!("many bots: {n} in one {} process", fw.name()));
            out.many.push(many_bots(&ctx, fw, n, users[0]).await);
        }
    }

    out.args_menu = (args.menu_load, args.menu_seconds);
    out.elapsed = started.elapsed();
    let series = out.series();
    let chart_name = args.chart.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    std::fs::write(&args.chart, report::latency_svg("echo: reply latency against load", &series)).expect("chart");
    std::fs::write(&args.results, out.markdown(&ctx, &chart_name)).expect("results");
    say(&format!(
        "wrote {} and {} in {:.0} s",
        args.results.display(),
        args.chart.display(),
        out.elapsed.as_secs_f64()
    ));
    sandbox.stop().await.expect("sandbox stops");
}

fn say(text: &str) {
    eprintln!("compare: {text}");
}

// ---- processes --------------------------------------------------------------------------------

struct Bot {
    child: Child,
    pid: u32,
}

impl Bot {
    fn stats(&self) -> Option<procfs::ProcStats> {
        procfs::read(self.pid)
    }

    /// SIGTERM, a moment to finish, then SIGKILL.
    fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status();
        for _ in 0..30 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Launch<'a> {
    fw: Fw,
    mode: Mode,
    token: String,
    api_url: &'a str,
    rate: u32,
    chat_rate: u32,
    subscribers: usize,
    bots: usize,
    /// Receive by webhook on this address instead of long polling (`Mode::Many`).
    webhook: Option<std::net::SocketAddr>,
    /// The database: Ferrogram's store (default: a new SQLite file), the peers' `DATABASE_URL`.
    database: Option<&'a str>,
}

impl Launch<'_> {
    fn new(fw: Fw, mode: Mode, bot_id: i64, api_url: &str) -> Launch<'_> {
        Launch {
            fw,
            mode,
            token: format!("{bot_id}:bench"),
            api_url,
            rate: UNLIMITED,
            chat_rate: UNLIMITED,
            subscribers: 0,
            bots: 1,
            webhook: None,
            database: None,
        }
    }
}

/// The peers' table of form rows in the menu database.
fn menu_table(fw: Fw) -> String {
    format!("menu_{}", fw.name().to_lowercase())
}

/// Starts a bot process and waits for its `READY` line.
async fn spawn_bot(ctx: &Ctx, launch: Launch<'_>) -> Result<Bot, String> {
    let tag = format!("{}-{}", launch.fw.name().to_lowercase(), launch.token.split(':').next().unwrap_or(""));
    let log = std::fs::File::create(ctx.work.join(format!("{tag}.log"))).map_err(|e| e.to_string())?;
    let mut command = match launch.fw {
        Fw::Ferrogram => {
            let bin = ctx
                .args
                .ferrogram_bin
                .clone()
                .unwrap_or_else(|| std::env::current_exe().expect("exe").with_file_name("ferrogram_bot"));
            let file = match launch.mode {
                Mode::Echo | Mode::Many => {
                    std::fs::canonicalize("bench/peers/ferrogram/echo.yaml").map_err(|e| e.to_string())?
                }
                Mode::Menu => std::fs::canonicalize("bench/peers/ferrogram/menu.yaml").map_err(|e| e.to_string())?,
                Mode::Bulk => {
                    let text = std::fs::read_to_string("bench/peers/ferrogram/bulk.yaml").map_err(|e| e.to_string())?;
                    let end = SUB_FIRST + launch.subscribers as i64;
                    let text = text.replace("SUB_FIRST", &SUB_FIRST.to_string()).replace("SUB_END", &end.to_string());
                    let path = ctx.work.join("bulk.yaml");
                    std::fs::write(&path, text).map_err(|e| e.to_string())?;
                    path
                }
            };
            let database = match launch.database {
                Some(url) => url.to_owned(),
                None => {
                    let db = ctx.work.join(format!("{tag}.db"));
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
                    }
                    format!("sqlite://{}", db.display())
                }
            };
            let mut c = Command::new(bin);
            c.arg("--file").arg(file).arg("--api-url").arg(launch.api_url).arg("--token").arg(&launch.token);
            c.arg("--database").arg(database);
            c.arg("--rate").arg(launch.rate.to_string()).arg("--chat-rate").arg(launch.chat_rate.to_string());
            c.arg("--bots").arg(launch.bots.to_string());
            if let Some(addr) = launch.webhook {
                c.arg("--webhook-listen").arg(addr.to_string());
            }
            c
        }
        Fw::Teloxide => {
            let mut c = Command::new(&ctx.args.teloxide_bin);
            c.env("MODE", ["echo", "menu", "many"][launch.mode.peer_file()]);
            c
        }
        Fw::Aiogram => {
            let mut c = Command::new(&ctx.args.python);
            c.arg(
                ["bench/peers/aiogram_bot.py", "bench/peers/aiogram_menu.py", "bench/peers/aiogram_many.py"]
                    [launch.mode.peer_file()],
            );
            c
        }
        Fw::Grammy => {
            let mut c = Command::new(&ctx.args.node);
            c.arg(
                ["bench/peers/js/grammy_bot.mjs", "bench/peers/js/grammy_menu.mjs", "bench/peers/js/grammy_many.mjs"]
                    [launch.mode.peer_file()],
            );
            c
        }
    };
    if launch.fw != Fw::Ferrogram {
        if let Some(addr) = launch.webhook {
            command.env("WEBHOOK_LISTEN", addr.to_string());
        }
        if let Some(url) = launch.database {
            command.env("DATABASE_URL", url).env("TABLE", menu_table(launch.fw)).env("REDIS_URL", &ctx.args.redis);
        }
    }
    command
        .env("BOTS", launch.bots.to_string())
        .env("BOT_TOKEN", &launch.token)
        .env("SANDBOX_URL", launch.api_url)
        .env("RATE", launch.rate.to_string())
        .env("CHAT_RATE", launch.chat_rate.to_string())
        .env("SUB_FIRST", SUB_FIRST.to_string())
        .env("SUB_COUNT", launch.subscribers.to_string())
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    let mut child = command.spawn().map_err(|e| format!("{}: {e}", launch.fw.name()))?;
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.trim() == "READY" {
                let _ = ready_tx.send(());
            }
        }
    });
    // Many bots register one webhook after the other: allow them a while.
    let patience = Duration::from_secs(120 + launch.bots as u64 / 20);
    let ready = tokio::task::spawn_blocking(move || ready_rx.recv_timeout(patience)).await;
    let bot = Bot { child, pid };
    match ready {
        Ok(Ok(())) => Ok(bot),
        _ => {
            bot.stop();
            Err(format!("{} did not print READY (see {}/{tag}.log)", launch.fw.name(), ctx.work.display()))
        }
    }
}

// ---- the user side ----------------------------------------------------------------------------

async fn post(ctx: &Ctx, path: &str, body: Value) -> Result<Value, String> {
    let answer = ctx.http.post(format!("{}{path}", ctx.url)).json(&body).send().await.map_err(|e| e.to_string())?;
    let status = answer.status();
    let value: Value = answer.json().await.map_err(|e| e.to_string())?;
    if status.is_success() { Ok(value) } else { Err(format!("{path}: {status} {value}")) }
}

/// Runs `f(i)` for `0..n` with `width` at a time.
async fn concurrently<F, Fut>(n: usize, width: usize, f: F)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..width.min(n).max(1))
        .map(|_| {
            let (next, f) = (next.clone(), f.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    f(i).await;
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
}

async fn create_users(ctx: &Ctx, n: usize) -> Vec<i64> {
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let user = post(ctx, "/sandbox/users", json!({"first_name": format!("user{i}")})).await.expect("user");
        users.push(user["id"].as_i64().expect("id"));
    }
    users
}

async fn create_subscribers(ctx: &Ctx, n: usize) {
    let (url, http) = (ctx.url.clone(), ctx.http.clone());
    concurrently(n, 32, move |i| {
        let (url, http) = (url.clone(), http.clone());
        async move {
            let body = json!({"id": SUB_FIRST + i as i64, "first_name": format!("sub{i}")});
            http.post(format!("{url}/sandbox/users")).json(&body).send().await.expect("subscriber");
        }
    })
    .await;
}

/// Who waits for a reply in which chat: the exact text expected and where to say when (and the
/// message: its buttons are pressed next).
type Waiters = Arc<Mutex<HashMap<i64, (String, oneshot::Sender<(Instant, Value)>)>>>;

/// One long poll of the sandbox's event stream for the bot, completing waiters as the bot's
/// messages appear (the instant is taken when the event is seen).
async fn route_replies(
    http: reqwest::Client,
    url: String,
    bot_id: i64,
    waiters: Waiters,
) -> tokio::task::JoinHandle<()> {
    // The stream's position now, before any user acts: no reply can come earlier.
    let mut after = match http.get(format!("{url}/sandbox/events?bot_id={bot_id}&after={}", u64::MAX / 2)).send().await
    {
        Ok(answer) => answer.json::<Value>().await.ok().and_then(|v| v["last"].as_u64()).unwrap_or(0),
        Err(_) => 0,
    };
    tokio::spawn(async move {
        loop {
            let Ok(answer) =
                http.get(format!("{url}/sandbox/events?bot_id={bot_id}&after={after}&timeout=2")).send().await
            else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(mut batch) = answer.json::<Value>().await else { continue };
            let now = Instant::now();
            let mut waiting = waiters.lock().expect("waiters");
            for event in batch["events"].as_array_mut().into_iter().flatten() {
                if event["kind"] != "sent" {
                    continue;
                }
                let (Some(chat), Some(text)) = (event["chat_id"].as_i64(), event["message"]["text"].as_str()) else {
                    continue;
                };
                if waiting.get(&chat).is_some_and(|(expected, _)| expected == text)
                    && let Some((_, tx)) = waiting.remove(&chat)
                {
                    let _ = tx.send((now, event["message"].take()));
                }
            }
            drop(waiting);
            after = batch["last"].as_u64().unwrap_or(after);
        }
    })
}

/// A user sends `text` and waits for the bot's `echo: text`; the latency, or None on timeout.
async fn exchange(
    ctx: &Arc<Ctx>,
    waiters: &Waiters,
    bot_id: i64,
    user: i64,
    text: &str,
    wait: Duration,
) -> Option<Duration> {
    let body = json!({"bot_id": bot_id, "user_id": user, "text": text});
    act(ctx, waiters, "text", body, &format!("echo: {text}"), wait).await.map(|(latency, _)| latency)
}

/// A user acts (`POST /sandbox/act/<kind>` with `body`) and waits for the bot's message with
/// exactly the text `expected`: the latency and the message, or None on timeout.
async fn act(
    ctx: &Arc<Ctx>,
    waiters: &Waiters,
    kind: &str,
    body: Value,
    expected: &str,
    wait: Duration,
) -> Option<(Duration, Value)> {
    let (tx, rx) = oneshot::channel();
    let (bot_id, user) = (body["bot_id"].as_i64().unwrap_or(0), body["user_id"].as_i64().unwrap_or(0));
    waiters.lock().expect("waiters").insert(user, (expected.to_owned(), tx));
    let start = Instant::now();
    if post(ctx, &format!("/sandbox/act/{kind}"), body).await.is_err() {
        waiters.lock().expect("waiters").remove(&user);
        return None;
    }
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok((at, message))) => Some((at.saturating_duration_since(start), message)),
        _ => {
            waiters.lock().expect("waiters").remove(&user);
            if std::env::var_os("BENCH_DEBUG").is_some() {
                let events = ctx
                    .http
                    .get(format!("{}/sandbox/events?bot_id={bot_id}&chat_id={user}&after=0", ctx.url))
                    .send()
                    .await;
                if let Ok(events) = events {
                    say(&format!("no {expected:?} for user {user}: {}", events.text().await.unwrap_or_default()));
                }
            }
            None
        }
    }
}

// ---- 2. echo ----------------------------------------------------------------------------------

struct Level {
    load: usize,
    count: usize,
    lost: usize,
    seconds: f64,
    latencies: Option<Latencies>,
    cpu_per_1000: Option<f64>,
}

impl Level {
    fn rate(&self) -> f64 {
        self.count as f64 / self.seconds
    }
}

struct EchoResult {
    fw: Fw,
    levels: Vec<Level>,
    idle_rss_kib: Option<u64>,
    hwm_kib: Option<u64>,
    error: Option<String>,
}

async fn echo(ctx: &Ctx, fw: Fw, users: &[i64]) -> EchoResult {
    let mut result = EchoResult { fw, levels: Vec::new(), idle_rss_kib: None, hwm_kib: None, error: None };
    let bot_id = ECHO_BOT + fw.index();
    // The bot exists before its process makes its first call, so users can write at once.
    let _ = ctx.http.post(format!("{}/bot{bot_id}:bench/getMe", ctx.url)).send().await;
    let launch = Launch::new(fw, Mode::Echo, bot_id, &ctx.url);
    let bot = match spawn_bot(ctx, launch).await {
        Ok(bot) => bot,
        Err(error) => {
            result.error = Some(error);
            return result;
        }
    };
    let ctx = Arc::new(ctx.clone());
    let waiters: Waiters = Arc::default();
    let router = route_replies(ctx.http.clone(), ctx.url.clone(), bot_id, waiters.clone()).await;
    // First contact: every user writes once (opening the chat), not measured.
    let first = run_level(&ctx, &waiters, bot_id, users, 20, None, bot.pid, "w").await;
    if first.lost > users.len() / 20 {
        result.error = Some(format!("{} of {} first messages got no reply", first.lost, users.len()));
    } else {
        result.idle_rss_kib = bot.stats().map(|s| s.rss_kib);
        for &load in &ctx.args.loads {
            let duration = Duration::from_secs(ctx.args.level_seconds);
            let level = run_level(&ctx, &waiters, bot_id, users, load, Some(duration), bot.pid, "m").await;
            say(&format!(
                "  {load:>4} users: {:>6.0}/s p50 {} p99 {} lost {}",
                level.rate(),
                level.latencies.as_ref().map(|l| fmt_ms(l.p50)).unwrap_or_default(),
                level.latencies.as_ref().map(|l| fmt_ms(l.p99)).unwrap_or_default(),
                level.lost
            ));
            result.levels.push(level);
        }
    }
    result.hwm_kib = bot.stats().map(|s| s.hwm_kib);
    router.abort();
    bot.stop();
    result
}

/// `load` closed loops, each over its own share of the users, for `duration` (or once through
/// every user when None).
#[allow(clippy::too_many_arguments)]
async fn run_level(
    ctx: &Arc<Ctx>,
    waiters: &Waiters,
    bot_id: i64,
    users: &[i64],
    load: usize,
    duration: Option<Duration>,
    pid: u32,
    tag: &str,
) -> Level {
    let load = load.clamp(1, users.len());
    let before = procfs::read(pid);
    let start = Instant::now();
    let deadline = duration.map(|d| start + d);
    let loops: Vec<_> = (0..load)
        .map(|i| {
            let mine: Vec<i64> = users.iter().skip(i).step_by(load).copied().collect();
            let (ctx, waiters, tag) = (ctx.clone(), waiters.clone(), format!("{tag}{load}-{i}-"));
            tokio::spawn(async move {
                let (mut samples, mut lost) = (Vec::new(), 0);
                for k in 0.. {
                    let done = match deadline {
                        Some(deadline) => Instant::now() >= deadline,
                        None => k >= mine.len(),
                    };
                    if done {
                        break;
                    }
                    let user = mine[k % mine.len()];
                    match exchange(&ctx, &waiters, bot_id, user, &format!("{tag}{k}"), Duration::from_secs(10)).await {
                        Some(latency) => samples.push(latency),
                        None => lost += 1,
                    }
                }
                (samples, lost)
            })
        })
        .collect();
    let (mut samples, mut lost) = (Vec::new(), 0);
    for handle in loops {
        if let Ok((s, l)) = handle.await {
            samples.extend(s);
            lost += l;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let after = procfs::read(pid);
    let count = samples.len();
    let cpu_per_1000 = match (before, after) {
        (Some(b), Some(a)) if count > 0 => Some((a.cpu - b.cpu).as_secs_f64() * 1000.0 / count as f64),
        _ => None,
    };
    Level { load, count, lost, seconds, latencies: Latencies::from_samples(samples), cpu_per_1000 }
}

// ---- 3. bulk ----------------------------------------------------------------------------------

struct BulkResult {
    fw: Fw,
    delivered: u64,
    too_many: u64,
    other_errors: u64,
    to_last: Option<Duration>,
    cpu: Option<Duration>,
    hwm_kib: Option<u64>,
    error: Option<String>,
}

async fn bulk(ctx: &Ctx, fw: Fw, admin: i64, proxy_url: &str, counts: &Arc<proxy::Counts>) -> BulkResult {
    let mut result = BulkResult {
        fw,
        delivered: 0,
        too_many: 0,
        other_errors: 0,
        to_last: None,
        cpu: None,
        hwm_kib: None,
        error: None,
    };
    let subscribers = ctx.args.subscribers;
    let rate = TELEGRAM_BOT_RATE * ctx.args.flood_scale;
    let bot_id = BULK_BOT + fw.index();
    let token = format!("{bot_id}:bench");
    // Every subscriber opens its chat with the bot; the bot never sees those updates.
    let _ = ctx.http.post(format!("{}/bot{token}/getMe", ctx.url)).send().await;
    let (url, http) = (ctx.url.clone(), ctx.http.clone());
    concurrently(subscribers, 32, move |i| {
        let (url, http) = (url.clone(), http.clone());
        async move {
            let body = json!({"bot_id": bot_id, "user_id": SUB_FIRST + i as i64, "command": "start"});
            http.post(format!("{url}/sandbox/act/command")).json(&body).send().await.expect("act");
        }
    })
    .await;
    if let Err(error) =
        post(ctx, "/sandbox/act/text", json!({"bot_id": bot_id, "user_id": admin, "text": "hello"})).await
    {
        result.error = Some(error);
        return result;
    }
    let last = post(ctx, &format!("/bot{token}/getUpdates"), json!({"offset": -1})).await;
    let last = last.ok().and_then(|v| v["result"][0]["update_id"].as_i64()).unwrap_or(0);
    let _ = post(ctx, &format!("/bot{token}/getUpdates"), json!({"offset": last + 1, "timeout": 0})).await;

    let limits = json!({"enabled": true, "per_bot_per_second": rate, "per_bot_burst": rate});
    let _ = ctx.http.put(format!("{}/sandbox/limits", ctx.url)).json(&limits).send().await;
    let launch = Launch { rate, chat_rate: 1, subscribers, ..Launch::new(fw, Mode::Bulk, bot_id, proxy_url) };
    let outcome = async {
        let bot = spawn_bot(ctx, launch).await?;
        let shared = Arc::new(ctx.clone());
        let waiters: Waiters = Arc::default();
        let router = route_replies(ctx.http.clone(), ctx.url.clone(), bot_id, waiters.clone()).await;
        // The bot is polling once it answers.
        let polling = exchange(&shared, &waiters, bot_id, admin, "ping", Duration::from_secs(60)).await;
        router.abort();
        if polling.is_none() {
            bot.stop();
            return Err(format!("{} did not answer before the broadcast", fw.name()));
        }
        tokio::time::sleep(Duration::from_secs(1)).await; // the bot's bucket refills after the ping
        counts.reset();
        let cpu_before = bot.stats().map(|s| s.cpu);
        let start = Instant::now();
        post(ctx, "/sandbox/act/command", json!({"bot_id": bot_id, "user_id": admin, "command": "broadcast"})).await?;
        let ideal = Duration::from_secs_f64(subscribers as f64 / rate as f64);
        let cap = ideal * 4 + Duration::from_secs(30);
        let (mut seen, mut progress) = (0, Instant::now());
        while counts.sent.load(Ordering::SeqCst) < subscribers as u64 && start.elapsed() < cap {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now_sent = counts.sent.load(Ordering::SeqCst);
            if now_sent != seen {
                (seen, progress) = (now_sent, Instant::now());
            } else if progress.elapsed() > Duration::from_secs(20) {
                break;
            }
        }
        let stats = bot.stats();
        bot.stop();
        Ok((start, cpu_before, stats))
    }
    .await;
    let _ = ctx.http.put(format!("{}/sandbox/limits", ctx.url)).json(&json!({"enabled": false})).send().await;
    match outcome {
        Ok((start, cpu_before, stats)) => {
            result.delivered = counts.sent.load(Ordering::SeqCst);
            result.too_many = counts.too_many.load(Ordering::SeqCst);
            result.other_errors = counts.other_errors.load(Ordering::SeqCst);
            result.to_last = counts.last_sent.lock().map(|at| at.saturating_duration_since(start));
            result.cpu = match (cpu_before, stats) {
                (Some(b), Some(s)) => Some(s.cpu.saturating_sub(b)),
                _ => None,
            };
            result.hwm_kib = stats.map(|s| s.hwm_kib);
            say(&format!(
                "  delivered {} 429s {} in {:.1} s",
                result.delivered,
                result.too_many,
                result.to_last.map(|d| d.as_secs_f64()).unwrap_or(0.0)
            ));
        }
        Err(error) => result.error = Some(error),
    }
    result
}

// ---- 4. stateful menu -------------------------------------------------------------------------

/// The steps of one walk through the menu, as the tables name them.
const MENU_STEPS: [&str; 5] = ["/start → Menu", "Next → Scene 2", "Form → name?", "name → age?", "age → Saved"];

const MENU_DATABASE: &str = "ferrogram_bench_menu";

struct MenuResult {
    fw: Fw,
    label: String,
    /// Walks completed (the bot confirmed the row) during the measured seconds.
    walks: usize,
    /// Walks that got no reply at some step (measured or not).
    broken: usize,
    updates: usize,
    seconds: f64,
    steps: Vec<Option<Latencies>>,
    all: Option<Latencies>,
    cpu_per_1000: Option<f64>,
    hwm_kib: Option<u64>,
    /// Rows the bot confirmed, warm-up included: what its database must hold.
    confirmed: usize,
    /// Rows in its database after the run, and how many of them are distinct.
    rows: Option<(i64, i64)>,
    error: Option<String>,
}

impl MenuResult {
    fn rate(&self) -> f64 {
        self.updates as f64 / self.seconds.max(f64::EPSILON)
    }

    /// The database holds exactly one row per confirmed save.
    fn rows_ok(&self) -> bool {
        self.rows.is_some_and(|(rows, distinct)| report::rows_match(self.confirmed, rows, distinct))
    }
}

/// (Re)creates the menu database beside `admin_url`'s; its URL.
async fn menu_database(admin_url: &str) -> Result<String, String> {
    use sqlx::Connection;
    let connect = sqlx::PgConnection::connect(admin_url);
    let mut admin = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| format!("PostgreSQL at {admin_url}: no answer in 5 s"))?
        .map_err(|e| format!("PostgreSQL at {admin_url}: {e}"))?;
    for statement in
        [format!("DROP DATABASE IF EXISTS {MENU_DATABASE} WITH (FORCE)"), format!("CREATE DATABASE {MENU_DATABASE}")]
    {
        sqlx::query(&statement).execute(&mut admin).await.map_err(|e| format!("{statement}: {e}"))?;
    }
    let _ = admin.close().await;
    let base = admin_url.rsplit_once('/').ok_or("--postgres: no database in the URL")?.0;
    Ok(format!("{base}/{MENU_DATABASE}"))
}

/// Rows of the form and how many are distinct, in the bot's database after the run.
async fn count_rows(fw: Fw, database: &str) -> Result<(i64, i64), String> {
    use sqlx::Connection;
    let query = match fw {
        Fw::Ferrogram => "SELECT count(*), count(DISTINCT data) FROM records WHERE collection = 'signups'".to_owned(),
        _ => format!("SELECT count(*), count(DISTINCT (user_id, name, age)) FROM {}", menu_table(fw)),
    };
    let counted = if database.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database).await.map_err(|e| e.to_string())?;
        sqlx::query_as::<_, (i64, i64)>(&query).fetch_one(&mut conn).await
    } else {
        let mut conn = sqlx::PgConnection::connect(database).await.map_err(|e| e.to_string())?;
        sqlx::query_as::<_, (i64, i64)>(&query).fetch_one(&mut conn).await
    };
    counted.map_err(|e| format!("{query}: {e}"))
}

/// One user's walk: /start, two button presses, the form's two answers. The latency of each
/// step reached (a walk stops at the first step without its reply).
async fn walk(ctx: &Arc<Ctx>, waiters: &Waiters, bot_id: i64, user: i64, name: &str, age: u32) -> Vec<Duration> {
    let wait = Duration::from_secs(10);
    let mut latencies = Vec::with_capacity(MENU_STEPS.len());
    let base = json!({"bot_id": bot_id, "user_id": user});
    let with = |extra: Value| {
        let mut body = base.clone();
        body.as_object_mut().expect("object").extend(extra.as_object().cloned().unwrap_or_default());
        body
    };
    // The first button of a message: pressing it is the next act.
    let press = |message: &Value| {
        with(json!({
            "message_id": message["message_id"],
            "data": message["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        }))
    };
    let Some((latency, menu)) = act(ctx, waiters, "command", with(json!({"command": "start"})), "Menu", wait).await
    else {
        return latencies;
    };
    latencies.push(latency);
    let Some((latency, second)) = act(ctx, waiters, "callback", press(&menu), "Scene 2", wait).await else {
        return latencies;
    };
    latencies.push(latency);
    let Some((latency, _)) = act(ctx, waiters, "callback", press(&second), "Your name?", wait).await else {
        return latencies;
    };
    latencies.push(latency);
    let Some((latency, _)) = act(ctx, waiters, "text", with(json!({"text": name})), "Your age?", wait).await else {
        return latencies;
    };
    latencies.push(latency);
    let saved = format!("Saved: {name}, {age}.");
    if let Some((latency, _)) = act(ctx, waiters, "text", with(json!({"text": age.to_string()})), &saved, wait).await {
        latencies.push(latency);
    }
    latencies
}

/// The menu walked by `--menu-load` users at once for `--menu-seconds`, after one unmeasured
/// walk per loop; `database` is the PostgreSQL URL, or None for Ferrogram on SQLite.
async fn menu(ctx: &Ctx, fw: Fw, database: Option<&str>, users: &[i64]) -> MenuResult {
    let label = match (fw, database) {
        (Fw::Ferrogram, Some(_)) => "Ferrogram (PostgreSQL)".to_owned(),
        (Fw::Ferrogram, None) => "Ferrogram (SQLite)".to_owned(),
        _ => fw.name().to_owned(),
    };
    say(&format!("menu: {label}"));
    let mut result = MenuResult {
        fw,
        label,
        walks: 0,
        broken: 0,
        updates: 0,
        seconds: 0.0,
        steps: Vec::new(),
        all: None,
        cpu_per_1000: None,
        hwm_kib: None,
        confirmed: 0,
        rows: None,
        error: None,
    };
    let bot_id = MENU_BOT + fw.index() + if database.is_none() { 10 } else { 0 };
    let sqlite = format!("sqlite://{}", ctx.work.join(format!("menu-{bot_id}.db")).display());
    if database.is_none() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", sqlite.trim_start_matches("sqlite://")));
        }
    }
    let database = database.unwrap_or(&sqlite);
    let _ = ctx.http.post(format!("{}/bot{bot_id}:bench/getMe", ctx.url)).send().await;
    let launch = Launch { database: Some(database), ..Launch::new(fw, Mode::Menu, bot_id, &ctx.url) };
    let bot = match spawn_bot(ctx, launch).await {
        Ok(bot) => bot,
        Err(error) => {
            result.error = Some(error);
            return result;
        }
    };
    let ctx = Arc::new(ctx.clone());
    let waiters: Waiters = Arc::default();
    let router = route_replies(ctx.http.clone(), ctx.url.clone(), bot_id, waiters.clone()).await;
    let load = ctx.args.menu_load.clamp(1, users.len());
    let duration = Duration::from_secs(ctx.args.menu_seconds);
    let short = fw.name().chars().next().unwrap_or('x').to_ascii_lowercase();
    // Every loop walks once (connections open, not measured), then all start the measured time.
    let warm = Arc::new(tokio::sync::Barrier::new(load + 1));
    let go = Arc::new(tokio::sync::Barrier::new(load + 1));
    let loops: Vec<_> = (0..load)
        .map(|i| {
            let mine: Vec<i64> = users.iter().skip(i).step_by(load).copied().collect();
            let (ctx, waiters, warm, go) = (ctx.clone(), waiters.clone(), warm.clone(), go.clone());
            tokio::spawn(async move {
                let (mut steps, mut confirmed, mut broken, mut walks) = (vec![Vec::new(); MENU_STEPS.len()], 0, 0, 0);
                let mut deadline = None;
                for k in 0usize.. {
                    if k == 1 {
                        warm.wait().await;
                        go.wait().await;
                        deadline = Some(Instant::now() + duration);
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    let name = format!("{short}{bot_id}-{i}-{k}");
                    let reached = walk(&ctx, &waiters, bot_id, mine[k % mine.len()], &name, (k % 100 + 1) as u32).await;
                    let complete = reached.len() == MENU_STEPS.len();
                    confirmed += usize::from(complete);
                    broken += usize::from(!complete);
                    if k > 0 {
                        walks += usize::from(complete);
                        for (step, latency) in reached.into_iter().enumerate() {
                            steps[step].push(latency);
                        }
                    }
                }
                (steps, confirmed, broken, walks)
            })
        })
        .collect();
    warm.wait().await;
    let before = bot.stats();
    let start = Instant::now();
    go.wait().await;
    let mut steps = vec![Vec::new(); MENU_STEPS.len()];
    for handle in loops {
        if let Ok((s, confirmed, broken, walks)) = handle.await {
            for (all, mine) in steps.iter_mut().zip(s) {
                all.extend(mine);
            }
            result.confirmed += confirmed;
            result.broken += broken;
            result.walks += walks;
        }
    }
    result.seconds = start.elapsed().as_secs_f64();
    let after = bot.stats();
    result.updates = steps.iter().map(Vec::len).sum();
    result.cpu_per_1000 = match (before, after) {
        (Some(b), Some(a)) if result.updates > 0 => {
            Some((a.cpu - b.cpu).as_secs_f64() * 1000.0 / result.updates as f64)
        }
        _ => None,
    };
    result.hwm_kib = after.map(|s| s.hwm_kib);
    result.all = Latencies::from_samples(steps.iter().flatten().copied().collect());
    result.steps = steps.into_iter().map(Latencies::from_samples).collect();
    router.abort();
    bot.stop();
    match count_rows(fw, database).await {
        Ok(rows) => result.rows = Some(rows),
        Err(error) => result.error = Some(format!("counting rows: {error}")),
    }
    say(&format!(
        "  {:.0} updates/s, {} walks, {} broken, p99 {}, rows {:?} of {} confirmed",
        result.rate(),
        result.walks,
        result.broken,
        result.all.as_ref().map(|l| fmt_ms(l.p99)).unwrap_or_default(),
        result.rows,
        result.confirmed
    ));
    result
}

// ---- 5. many bots -----------------------------------------------------------------------------

struct ManyResult {
    fw: Fw,
    bots: usize,
    start: Duration,
    rss_kib: Option<u64>,
    idle_cpu: Option<f64>,
    /// Of the first and the last bot, how many answered a message after the start.
    answered: usize,
    error: Option<String>,
}

/// A loopback address with a port free right now, for a child process to listen on.
fn free_local_addr() -> Result<std::net::SocketAddr, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map_err(|e| e.to_string())
}

/// The user writes to the bot and waits (up to 10 s) for its echo: whether it came.
async fn probe(ctx: &Ctx, bot_id: i64, user: i64) -> bool {
    let text = format!("probe {bot_id}");
    // The stream's position before the act (an earlier run may have probed the same bot).
    let position = format!("{}/sandbox/events?bot_id={bot_id}&after={}", ctx.url, u64::MAX / 2);
    let Ok(answer) = ctx.http.get(position).send().await else { return false };
    let mut after = answer.json::<Value>().await.ok().and_then(|v| v["last"].as_u64()).unwrap_or(0);
    if post(ctx, "/sandbox/act/text", json!({"bot_id": bot_id, "user_id": user, "text": text})).await.is_err() {
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let url = format!("{}/sandbox/events?bot_id={bot_id}&chat_id={user}&after={after}&timeout=2", ctx.url);
        let Ok(answer) = ctx.http.get(url).send().await else { return false };
        let Ok(batch) = answer.json::<Value>().await else { return false };
        let expected = format!("echo: {text}");
        if batch["events"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["kind"] == "sent" && e["message"]["text"].as_str() == Some(&expected))
        {
            return true;
        }
        after = batch["last"].as_u64().unwrap_or(after);
    }
    false
}

async fn many_bots(ctx: &Ctx, fw: Fw, n: usize, user: i64) -> ManyResult {
    let mut result =
        ManyResult { fw, bots: n, start: Duration::ZERO, rss_kib: None, idle_cpu: None, answered: 0, error: None };
    let first = MANY_BOT + fw.index() * MANY_STRIDE;
    let addr = match free_local_addr() {
        Ok(addr) => addr,
        Err(error) => {
            result.error = Some(error);
            return result;
        }
    };
    let launch = Launch {
        rate: TELEGRAM_BOT_RATE,
        chat_rate: 1,
        bots: n,
        webhook: Some(addr),
        ..Launch::new(fw, Mode::Many, first, &ctx.url)
    };
    let began = Instant::now();
    let bot = match spawn_bot(ctx, launch).await {
        Ok(bot) => bot,
        Err(error) => {
            result.error = Some(error);
            return result;
        }
    };
    result.start = began.elapsed();
    for id in [first, first + n as i64 - 1] {
        result.answered += usize::from(probe(ctx, id, user).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = bot.stats();
    let idle = Duration::from_secs(ctx.args.idle_seconds);
    tokio::time::sleep(idle).await;
    let after = bot.stats();
    if let (Some(b), Some(a)) = (before, after) {
        result.rss_kib = Some(a.rss_kib);
        result.idle_cpu = Some((a.cpu - b.cpu).as_secs_f64() / idle.as_secs_f64() * 100.0);
    }
    bot.stop();
    say(&format!(
        "  {n} bots: start {:.1} s, RSS {} MiB, {} of 2 answered",
        result.start.as_secs_f64(),
        result.rss_kib.unwrap_or(0) / 1024,
        result.answered
    ));
    result
}

// ---- RESULTS.md -------------------------------------------------------------------------------

#[derive(Default)]
struct Results {
    capacity: Vec<(usize, capacity::Throughput, capacity::Throughput)>,
    echo: Vec<EchoResult>,
    bulk: Vec<BulkResult>,
    menu: Vec<MenuResult>,
    menu_error: Option<String>,
    /// The menu's load and seconds, for its text.
    args_menu: (usize, u64),
    many: Vec<ManyResult>,
    elapsed: Duration,
}

fn fmt_ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "–".into())
}

fn ms_f(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Results {
    fn series(&self) -> Vec<Series> {
        self.echo
            .iter()
            .filter(|e| !e.levels.is_empty())
            .map(|e| Series {
                name: e.fw.name().into(),
                points: e
                    .levels
                    .iter()
                    .filter_map(|l| l.latencies.as_ref().map(|lat| (l.load, ms_f(lat.p50), ms_f(lat.p99))))
                    .collect(),
            })
            .collect()
    }

    fn markdown(&self, ctx: &Ctx, chart: &str) -> String {
        let a = &ctx.args;
        let mut md = String::new();
        let _ = writeln!(md, "# Results\n");
        let _ = writeln!(
            md,
            "Written by `bench/run` (`compare`), {} UTC; the whole run took {:.0} s. Every number below comes from \
             that one run: re-run the command to refresh the file.\n",
            utc_now(),
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(md, "## Machine and versions\n");
        let _ = writeln!(md, "{}\n", machine());
        for line in versions(ctx) {
            let _ = writeln!(md, "- {line}");
        }
        let mut command = Vec::new();
        let mut given = std::env::args().skip(1);
        while let Some(arg) = given.next() {
            match arg.as_str() {
                // bench/run adds it.
                "--teloxide-bin" => {
                    given.next();
                }
                _ => command.push(arg),
            }
        }
        let _ = writeln!(
            md,
            "\nCommand: `bench/run{}{}` (builds the peers, then `cargo run --release -p ferrogram-bench --bin compare`).\n",
            if command.is_empty() { "" } else { " " },
            command
                .iter()
                .filter(|c| !c.starts_with("--teloxide-bin") && !c.contains("teloxide-bench-bot"))
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        );
        let _ = writeln!(
            md,
            "Set-up: the sandbox runs inside the bench process (in-process axum server on loopback); each bot is a \
             separate process pointed at the sandbox's URL; the virtual users, the sandbox and the bot share the \
             machine's cores, so no number here is the bot alone. CPU and memory are the bot process's own \
             (/proc/PID/stat utime+stime, /proc/PID/status VmRSS and VmHWM).\n"
        );

        // 1
        let _ = writeln!(md, "## 1. Rig limit — the sandbox with a null client\n");
        let mut t =
            Table::new(["clients", "sendMessage/s", "p50", "p99", "updates/s (act → getUpdates)", "p50", "p99"]);
        for (clients, sends, updates) in &self.capacity {
            let lat = |t: &capacity::Throughput, f: fn(&Latencies) -> Duration| {
                t.latencies.as_ref().map(|l| fmt_ms(f(l))).unwrap_or_else(|| "–".into())
            };
            t.row([
                clients.to_string(),
                thousands(sends.per_second()),
                lat(sends, |l| l.p50),
                lat(sends, |l| l.p99),
                thousands(updates.per_second()),
                lat(updates, |l| l.p50),
                lat(updates, |l| l.p99),
            ]);
        }
        let _ = writeln!(md, "{}", t.markdown());
        let _ = writeln!(
            md,
            "{} s per measurement, flood limits off (`sandbox_capacity` measures the same for longer). A bot's \
             numbers below are meaningful while they stay well under these.\n",
            a.capacity_seconds
        );

        // 2
        let ferro_echo = self.echo.iter().find(|e| e.fw == Fw::Ferrogram);
        let _ = writeln!(md, "## 2. Echo — {} users, every message answered\n", a.users);
        let _ = writeln!(
            md,
            "Each of the {} users first writes once (opening its chat; not measured). Then, for {} s per level, \
             `load` users write in closed loops: send a text through `POST /sandbox/act/text`, wait for the bot's \
             `echo: <text>` on the sandbox's event stream (`GET /sandbox/events`, one long poll for all users), \
             send the next. Latency is from the act's request to the moment the reply's event is seen. Flood \
             limits are off in the sandbox and set out of reach in the bots' own limiters. Ratios are \
             Ferrogram/peer: above 1 is better for updates/s, below 1 better for latency and CPU.\n",
            a.users, a.level_seconds
        );
        let mut t = Table::new([
            "load",
            "framework",
            "updates/s",
            "p50",
            "p99",
            "max",
            "no reply",
            "CPU s / 1000 updates",
            "updates/s F/peer",
            "p99 F/peer",
            "CPU F/peer",
        ]);
        for (li, &load) in a.loads.iter().enumerate() {
            let f = ferro_echo.and_then(|e| e.levels.get(li));
            for e in &self.echo {
                let Some(l) = e.levels.get(li) else {
                    t.row([load.to_string(), e.fw.name().into(), e.error.clone().unwrap_or_else(|| "–".into())]);
                    continue;
                };
                let lat = |g: fn(&Latencies) -> Duration| {
                    l.latencies.as_ref().map(|x| fmt_ms(g(x))).unwrap_or_else(|| "–".into())
                };
                let peer = e.fw != Fw::Ferrogram;
                let r = |x: Option<f64>, y: Option<f64>| if peer { ratio(x, y) } else { String::new() };
                t.row([
                    load.to_string(),
                    e.fw.name().into(),
                    thousands(l.rate()),
                    lat(|x| x.p50),
                    lat(|x| x.p99),
                    lat(|x| x.max),
                    l.lost.to_string(),
                    l.cpu_per_1000.map(|c| format!("{c:.2}")).unwrap_or_else(|| "–".into()),
                    r(f.map(Level::rate), Some(l.rate())),
                    r(
                        f.and_then(|f| f.latencies.as_ref().map(|x| ms_f(x.p99))),
                        l.latencies.as_ref().map(|x| ms_f(x.p99)),
                    ),
                    r(f.and_then(|f| f.cpu_per_1000), l.cpu_per_1000),
                ]);
            }
        }
        let _ = writeln!(md, "{}", t.markdown());
        let _ = writeln!(md, "![reply latency against load]({chart})\n");
        let mut t = Table::new(["framework", "RSS after first contact", "peak RSS (VmHWM)", "peak RSS F/peer"]);
        for e in &self.echo {
            let peer = e.fw != Fw::Ferrogram;
            let f = ferro_echo.and_then(|f| f.hwm_kib).map(|k| k as f64);
            t.row([
                e.fw.name().into(),
                mib(e.idle_rss_kib),
                mib(e.hwm_kib),
                if peer { ratio(f, e.hwm_kib.map(|k| k as f64)) } else { String::new() },
            ]);
        }
        let _ = writeln!(md, "{}", t.markdown());

        // 3
        let rate = TELEGRAM_BOT_RATE * a.flood_scale;
        let _ = writeln!(md, "## 3. Bulk — one notification to {} subscribers\n", thousands(a.subscribers as f64));
        let _ = writeln!(
            md,
            "The sandbox's flood limits are Telegram's with the per-bot rate scaled ×{} to {rate} messages a second \
             (burst {rate}; per chat 1/s, burst 3), and each bot's own limiter is given the same numbers (Ferrogram's \
             scheduler, teloxide's Throttle, grammY's throttler, aiogram's sleep between sends). An admin sends \
             `/broadcast`; the time runs from that act to the last successful send. Every Bot API call of the bot \
             goes through a counting pass-through proxy in the bench process. At exactly the allowed rate the last \
             message would go after {:.1} s.\n",
            a.flood_scale,
            (a.subscribers as f64 - rate as f64).max(0.0) / rate as f64
        );
        let ferro_bulk = self.bulk.iter().find(|b| b.fw == Fw::Ferrogram);
        let achieved = |b: &BulkResult| b.to_last.map(|d| b.delivered as f64 / d.as_secs_f64());
        let mut t = Table::new([
            "framework",
            "delivered",
            "429s",
            "other errors",
            "time to last delivery",
            "achieved/s",
            "share of allowed",
            "CPU s",
            "peak RSS",
            "time F/peer",
        ]);
        for b in &self.bulk {
            if let Some(error) = &b.error {
                t.row([b.fw.name().into(), error.clone()]);
                continue;
            }
            let peer = b.fw != Fw::Ferrogram;
            t.row([
                b.fw.name().into(),
                thousands(b.delivered as f64),
                b.too_many.to_string(),
                b.other_errors.to_string(),
                b.to_last.map(|d| format!("{:.1} s", d.as_secs_f64())).unwrap_or_else(|| "–".into()),
                achieved(b).map(thousands).unwrap_or_else(|| "–".into()),
                achieved(b).map(|x| format!("{:.0} %", x / rate as f64 * 100.0)).unwrap_or_else(|| "–".into()),
                b.cpu.map(|c| format!("{:.1}", c.as_secs_f64())).unwrap_or_else(|| "–".into()),
                mib(b.hwm_kib),
                if peer {
                    ratio(
                        ferro_bulk.and_then(|f| f.to_last).map(|d| d.as_secs_f64()),
                        b.to_last.map(|d| d.as_secs_f64()),
                    )
                } else {
                    String::new()
                },
            ]);
        }
        let _ = writeln!(md, "{}", t.markdown());

        // 4
        self.menu_markdown(&mut md);

        // 5
        let _ = writeln!(md, "## 5. Many bots in one process\n");
        let _ = writeln!(
            md,
            "N copies of the echo bot in one process per framework, each bot receiving by **webhook** on one \
             listener (registered with the sandbox by setWebhook): Ferrogram's `server` crate (`/webhook/BOT_ID`, \
             one engine, one SQLite file); aiogram's multibot setup (one `Dispatcher`, \
             `TokenBasedRequestHandler` on aiohttp, which makes a bot's `Bot` on its first update); grammY's \
             `Bot` per token, each `bot.init()` and `webhookCallback(bot, \"http\")` behind one node http \
             server; teloxide's `webhooks::axum_to_router` and a `Dispatcher` per bot, the routers merged into \
             one axum server. Start-up runs from spawning the process to its READY line (every webhook set); \
             then the first and the last bot are each sent a message (\"answered\"), and resident memory and \
             CPU are read over {} s of idle.{}\n",
            a.idle_seconds,
            if a.many_bots.iter().any(|&n| n > a.many_peers_max) {
                format!(" The peers were run up to {} bots (`--many-peers-max`).", a.many_peers_max)
            } else {
                String::new()
            }
        );
        let mut t = Table::new([
            "bots",
            "framework",
            "start-up (until READY)",
            "answered",
            "RSS",
            "RSS per bot",
            "idle CPU",
            "RSS F/peer",
            "start-up F/peer",
        ]);
        for m in &self.many {
            if let Some(error) = &m.error {
                t.row([m.bots.to_string(), m.fw.name().into(), error.clone()]);
                continue;
            }
            let f = self.many.iter().find(|f| f.fw == Fw::Ferrogram && f.bots == m.bots && f.error.is_none());
            let peer = m.fw != Fw::Ferrogram;
            let r = |x: Option<f64>, y: Option<f64>| if peer { ratio(x, y) } else { String::new() };
            t.row([
                m.bots.to_string(),
                m.fw.name().into(),
                format!("{:.1} s", m.start.as_secs_f64()),
                format!("{} of 2", m.answered),
                mib(m.rss_kib),
                m.rss_kib.map(|k| format!("{:.0} KiB", k as f64 / m.bots as f64)).unwrap_or_else(|| "–".into()),
                m.idle_cpu.map(|c| format!("{c:.1} % of a core")).unwrap_or_else(|| "–".into()),
                r(f.and_then(|f| f.rss_kib).map(|k| k as f64), m.rss_kib.map(|k| k as f64)),
                r(f.map(|f| f.start.as_secs_f64()), Some(m.start.as_secs_f64())),
            ]);
        }
        let _ = writeln!(md, "{}", t.markdown());
        let _ = writeln!(md, "## Where Ferrogram loses, and why\n");
        md.push_str(&self.losses());
        md
    }

    fn menu_markdown(&self, md: &mut String) {
        let a = &self.args_menu;
        let _ = writeln!(md, "## 4. Stateful menu — three scenes, a form, a row per walk\n");
        if let Some(error) = &self.menu_error {
            let _ = writeln!(md, "Not measured in this run: {error}.\n");
            return;
        }
        let _ = writeln!(
            md,
            "{} users walk at once, in closed loops, for {} s per framework (after one unmeasured walk each): \
             `/start` (scene 1, \"Menu\" with an inline button) → press **Next** (scene 2) → press **Form** \
             (scene 3, the form asks the name) → the name → the age, after which the bot writes a row (user, \
             name, age) and answers \"Saved: NAME, AGE.\". The presses are real callback queries \
             (`POST /sandbox/act/callback` with the button's `callback_data` read from the message). A step's \
             latency runs from the act to the bot's answer on the event stream, as in the echo. State between \
             steps is persisted: the peers keep it in Redis with their own storage (teloxide's `RedisStorage` \
             dialogue, aiogram's `RedisStorage` FSM, grammY's session on `@grammyjs/storage-redis` under \
             `sequentialize`) and write the row to PostgreSQL (tokio-postgres, asyncpg, `pg`), a table each in \
             the database `{MENU_DATABASE}` the bench recreates; Ferrogram keeps the scene, the form's answers \
             and the row (`insert` into a collection) in its store, on the same PostgreSQL and, as a second \
             row, on SQLite (its embedded default). After the run the bench counts each framework's rows: \
             there must be exactly one, distinct, per walk the bot confirmed (unmeasured walks included), or \
             the row is marked ✗. Ratios are Ferrogram (PostgreSQL)/peer.\n",
            a.0, a.1
        );
        let ferro = self.menu.iter().find(|m| m.fw == Fw::Ferrogram && m.error.is_none());
        let mut t = Table::new([
            "framework",
            "walks/s",
            "updates/s",
            "p50",
            "p99",
            "max",
            "broken walks",
            "CPU s / 1000 updates",
            "peak RSS",
            "rows confirmed",
            "rows found (distinct)",
            "rows check",
            "updates/s F/peer",
            "p99 F/peer",
            "CPU F/peer",
        ]);
        for m in &self.menu {
            let lat =
                |g: fn(&Latencies) -> Duration| m.all.as_ref().map(|x| fmt_ms(g(x))).unwrap_or_else(|| "–".into());
            let peer = m.fw != Fw::Ferrogram;
            let r = |x: Option<f64>, y: Option<f64>| if peer { ratio(x, y) } else { String::new() };
            t.row([
                m.label.clone(),
                if m.seconds > 0.0 { format!("{:.1}", m.walks as f64 / m.seconds) } else { "–".into() },
                if m.seconds > 0.0 { thousands(m.rate()) } else { "–".into() },
                lat(|x| x.p50),
                lat(|x| x.p99),
                lat(|x| x.max),
                m.broken.to_string(),
                m.cpu_per_1000.map(|c| format!("{c:.2}")).unwrap_or_else(|| "–".into()),
                mib(m.hwm_kib),
                m.confirmed.to_string(),
                m.rows.map(|(n, d)| format!("{n} ({d})")).unwrap_or_else(|| "–".into()),
                match (&m.error, m.rows_ok()) {
                    (Some(error), _) => format!("✗ {error}"),
                    (None, true) => "✓".into(),
                    (None, false) => "✗".into(),
                },
                r(ferro.map(MenuResult::rate), Some(m.rate())),
                r(ferro.and_then(|f| f.all.as_ref().map(|x| ms_f(x.p99))), m.all.as_ref().map(|x| ms_f(x.p99))),
                r(ferro.and_then(|f| f.cpu_per_1000), m.cpu_per_1000),
            ]);
        }
        let _ = writeln!(md, "{}", t.markdown());
        let _ = writeln!(md, "Latency of each step, p50 / p99:\n");
        let mut t = Table::new(std::iter::once("step".to_owned()).chain(self.menu.iter().map(|m| m.label.clone())));
        for (i, step) in MENU_STEPS.iter().enumerate() {
            t.row(std::iter::once(step.to_string()).chain(self.menu.iter().map(|m| {
                m.steps
                    .get(i)
                    .and_then(Option::as_ref)
                    .map(|l| format!("{} / {}", fmt_ms(l.p50), fmt_ms(l.p99)))
                    .unwrap_or_else(|| "–".into())
            })));
        }
        let _ = writeln!(md, "{}", t.markdown());
    }

    /// Each metric where Ferrogram does worse than a peer, with the reason we know of.
    fn losses(&self) -> String {
        let mut md = self.echo_bulk_losses();
        md.push_str(&self.menu_losses());
        md.push_str(&self.many_losses());
        if md.is_empty() {
            md.push_str("Nowhere in this run.\n");
        }
        md
    }

    fn echo_bulk_losses(&self) -> String {
        let mut md = String::new();
        let Some(f) = self.echo.iter().find(|e| e.fw == Fw::Ferrogram) else { return md };
        let mut echo_losses = Vec::new();
        for e in self.echo.iter().filter(|e| e.fw != Fw::Ferrogram) {
            for (fl, pl) in f.levels.iter().zip(&e.levels) {
                if fl.rate() < pl.rate() * 0.95 {
                    echo_losses.push(format!(
                        "updates/s at {} users vs {} ({:.0} vs {:.0})",
                        fl.load,
                        e.fw.name(),
                        fl.rate(),
                        pl.rate()
                    ));
                }
                if let (Some(a), Some(b)) = (fl.cpu_per_1000, pl.cpu_per_1000)
                    && a > b * 1.05
                {
                    echo_losses.push(format!(
                        "CPU per update at {} users vs {} ({a:.2} vs {b:.2} s/1000)",
                        fl.load,
                        e.fw.name()
                    ));
                }
            }
            if let (Some(a), Some(b)) = (f.hwm_kib, e.hwm_kib)
                && a > b
            {
                echo_losses.push(format!("peak memory vs {} ({} vs {})", e.fw.name(), mib(Some(a)), mib(Some(b))));
            }
        }
        if !echo_losses.is_empty() {
            let _ = writeln!(md, "**Echo.** Ferrogram is behind on: {}.\n", echo_losses.join("; "));
            md.push_str(ECHO_WHY);
            md.push('\n');
        }
        if let Some(fb) = self.bulk.iter().find(|b| b.fw == Fw::Ferrogram) {
            let mut bulk_losses = Vec::new();
            for b in self.bulk.iter().filter(|b| b.fw != Fw::Ferrogram && b.error.is_none()) {
                if let (Some(x), Some(y)) = (fb.to_last, b.to_last)
                    && x > y.mul_f64(1.02)
                    && b.delivered >= fb.delivered
                {
                    bulk_losses.push(format!(
                        "time to last delivery vs {} ({:.1} s vs {:.1} s)",
                        b.fw.name(),
                        x.as_secs_f64(),
                        y.as_secs_f64()
                    ));
                }
                if let (Some(x), Some(y)) = (fb.hwm_kib, b.hwm_kib)
                    && x > y
                {
                    bulk_losses.push(format!("peak memory vs {} ({} vs {})", b.fw.name(), mib(Some(x)), mib(Some(y))));
                }
            }
            if fb.too_many > 0 {
                bulk_losses.push(format!("{} 429s", fb.too_many));
            }
            if !bulk_losses.is_empty() {
                let _ = writeln!(md, "**Bulk.** Ferrogram is behind on: {}.\n", bulk_losses.join("; "));
                md.push_str(BULK_WHY);
                md.push('\n');
            }
        }
        md
    }

    fn menu_losses(&self) -> String {
        let mut md = String::new();
        let Some(f) = self.menu.iter().find(|m| m.fw == Fw::Ferrogram && m.error.is_none()) else { return md };
        let mut losses = Vec::new();
        for m in self.menu.iter().filter(|m| m.fw != Fw::Ferrogram && m.error.is_none()) {
            if f.rate() < m.rate() * 0.95 {
                losses.push(format!("updates/s vs {} ({:.0} vs {:.0})", m.label, f.rate(), m.rate()));
            }
            if let (Some(a), Some(b)) = (&f.all, &m.all)
                && a.p99 > b.p99
            {
                losses.push(format!("p99 vs {} ({} vs {})", m.label, fmt_ms(a.p99), fmt_ms(b.p99)));
            }
            if let (Some(a), Some(b)) = (f.cpu_per_1000, m.cpu_per_1000)
                && a > b * 1.05
            {
                losses.push(format!("CPU per update vs {} ({a:.2} vs {b:.2} s/1000)", m.label));
            }
            if let (Some(a), Some(b)) = (f.hwm_kib, m.hwm_kib)
                && a > b
            {
                losses.push(format!("peak memory vs {} ({} vs {})", m.label, mib(Some(a)), mib(Some(b))));
            }
        }
        if !f.rows_ok() {
            losses.push("its rows do not match the confirmed walks".into());
        }
        if !losses.is_empty() {
            let _ = writeln!(md, "**Stateful menu.** Ferrogram (PostgreSQL) is behind on: {}.\n", losses.join("; "));
            md.push_str(MENU_WHY);
            md.push('\n');
        }
        md
    }

    fn many_losses(&self) -> String {
        let mut md = String::new();
        let mut losses = Vec::new();
        for m in self.many.iter().filter(|m| m.fw != Fw::Ferrogram && m.error.is_none()) {
            let Some(f) = self.many.iter().find(|f| f.fw == Fw::Ferrogram && f.bots == m.bots && f.error.is_none())
            else {
                continue;
            };
            if let (Some(a), Some(b)) = (f.rss_kib, m.rss_kib)
                && a > b
            {
                losses.push(format!(
                    "memory with {} bots vs {} ({} vs {})",
                    m.bots,
                    m.fw.name(),
                    mib(Some(a)),
                    mib(Some(b))
                ));
            }
            if f.start > m.start.mul_f64(1.05) {
                losses.push(format!(
                    "start-up of {} bots vs {} ({:.1} s vs {:.1} s)",
                    m.bots,
                    m.fw.name(),
                    f.start.as_secs_f64(),
                    m.start.as_secs_f64()
                ));
            }
            if let (Some(a), Some(b)) = (f.idle_cpu, m.idle_cpu)
                && a > b + 0.5
            {
                losses.push(format!("idle CPU with {} bots vs {} ({a:.1} % vs {b:.1} %)", m.bots, m.fw.name()));
            }
        }
        if !losses.is_empty() {
            let _ = writeln!(md, "**Many bots.** Ferrogram is behind on: {}.\n", losses.join("; "));
            md.push_str(MANY_WHY);
            md.push('\n');
        }
        md
    }
}

/// Why Ferrogram's echo costs more than a bare echo handler (see the README's analysis).
const ECHO_WHY: &str = "Why (profiled, bench/PROFILE.md): each update goes through Ferrogram's durability path — it is \
written to the inbox table in SQLite before its getUpdates offset is confirmed, and its reply, state \
and \"handled\" mark are committed together (group commit) and then delivered from the outbox — \
while the peers' echo handlers keep nothing (aiogram, grammY and teloxide lose an update on a crash \
between fetch and reply; Ferrogram does not). The profile shows where that costs: statements to \
SQLite, each a message to sqlx's connection worker thread and back, so thread wake-ups and \
allocation dominate while SQLite's own work is under 2%. A batch's writes are now a few multi-row \
statements (decision 0020); what is left per update is reading the chat's state and variables \
before the handler. With the store in memory (durability off) the same engine uses about 0.2 CPU s \
per 1000 updates. bench/DURABILITY.md measures the same echo with that path on and off.\n";

const BULK_WHY: &str = "Why: Ferrogram paces bulk sends at the bot's steady rate from the first message and leaves \
the burst allowance to interactive replies (a user's reply during a broadcast still goes out at once), \
whereas teloxide's Throttle spends a whole second's budget at the start. That head start is about \
one second of the 32 s; past it both run at the allowed rate. (Scheduler timer wake-ups that come \
late no longer push later slots back: `Gcra::record_paced` in crates/telegram/src/flood/bucket.rs.)\n";

/// Why Ferrogram's menu costs what it does (filled in from the runs' numbers).
const MENU_WHY: &str = "Why (likely, not yet profiled): each of Ferrogram's updates is one \
transaction in its store — the inbox row, the chat's state (scene, form progress and answers), on the \
last step the record and its indexed values, and the outbox entry of the reply, committed together \
(group commit) before the reply goes out — where teloxide does one Redis GET and SET per step and one \
INSERT per walk, with nothing binding state and reply together. Encoding and decoding that SQL and \
JSON (sqlx, the state as JSON, templates) is CPU in Ferrogram's own process; teloxide's throughput \
and latency here are set by its Throttle's 250 ms ticks, not by its work, so its lower CPU does not \
show as speed. The CPU column counts the bot process only: the database and Redis servers' work is \
not in it, for any framework — which is also why Ferrogram on SQLite (the database inside its \
process) shows more CPU per update than on PostgreSQL. The memory gap to teloxide is a few MiB of \
the engine's fixed part (the loaded bot file, the flood scheduler, the pool).\n";

/// Why Ferrogram's many bots cost what they do.
const MANY_WHY: &str = "Why (likely, not yet profiled): the setups keep different things per \
bot. aiogram's `TokenBasedRequestHandler` keeps nothing for a bot until its first update (its memory \
is the same at 1 000 and 10 000 bots: the interpreter and aiogram), and grammY keeps one small `Bot` \
object each. Ferrogram keeps every bot running from the start: its own runtime (its copy of the \
loaded bot file — the bench gives each bot the same file, cloned, as bots of different files would \
have — its Bot API client, its dispatcher and flood state, its webhook secret, stop and ready \
channels), so each bot can take an update, be reloaded or stopped without a lookup or a lazy \
start. That is about 24 KiB per bot beyond the first 1 000 here, against about 6 KiB for grammY and \
62 KiB for teloxide (a listener, a router and a `Dispatcher` each).\n";

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn machine() -> String {
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

fn versions(ctx: &Ctx) -> Vec<String> {
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
         tokio-postgres 0.7 with deadpool-postgres 0.14; release profile; bench/peers/teloxide, locked by its Cargo.lock)"
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
