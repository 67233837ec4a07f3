//! Scenario 4, stateful menu: users walk three scenes with inline buttons and fill in a form
//! whose answers each framework writes as a row of its database; the rows are counted after.

use crate::Latencies;
use crate::compare::framework::menu_table;
use crate::compare::launch::{Launch, Mode, spawn_bot};
use crate::compare::users::{Waiters, act, route_replies};
use crate::compare::{Ctx, Fw, say};
use crate::report::{self, fmt_ms};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MENU_BOT: i64 = 730_000;

/// The steps of one walk through the menu, as the tables name them.
pub const MENU_STEPS: [&str; 5] = ["/start → Menu", "Next → Scene 2", "Form → name?", "name → age?", "age → Saved"];

pub const MENU_DATABASE: &str = "ferrogram_bench_menu";

pub struct MenuResult {
    pub fw: Fw,
    pub label: String,
    /// Walks completed (the bot confirmed the row) during the measured seconds.
    pub walks: usize,
    /// Walks that got no reply at some step (measured or not).
    pub broken: usize,
    pub updates: usize,
    pub seconds: f64,
    pub steps: Vec<Option<Latencies>>,
    pub all: Option<Latencies>,
    pub cpu_per_1000: Option<f64>,
    pub hwm_kib: Option<u64>,
    /// Rows the bot confirmed, warm-up included: what its database must hold.
    pub confirmed: usize,
    /// Rows in its database after the run, and how many of them are distinct.
    pub rows: Option<(i64, i64)>,
    pub error: Option<String>,
}

impl MenuResult {
    pub fn rate(&self) -> f64 {
        self.updates as f64 / self.seconds.max(f64::EPSILON)
    }

    /// The database holds exactly one row per confirmed save.
    pub fn rows_ok(&self) -> bool {
        self.rows.is_some_and(|(rows, distinct)| report::rows_match(self.confirmed, rows, distinct))
    }
}

/// (Re)creates the menu database beside `admin_url`'s; its URL.
pub async fn menu_database(admin_url: &str) -> Result<String, String> {
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
pub async fn menu(ctx: &Ctx, fw: Fw, database: Option<&str>, users: &[i64]) -> MenuResult {
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
