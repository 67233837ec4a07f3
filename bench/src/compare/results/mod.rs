//! RESULTS.md: every scenario's outcome kept for the report, its tables and text, and the
//! chart's series.

mod losses;
pub(crate) mod machine;

use crate::Latencies;
use crate::capacity;
use crate::compare::scenarios::bulk::BulkResult;
use crate::compare::scenarios::echo::{EchoResult, Level};
use crate::compare::scenarios::many::ManyResult;
use crate::compare::scenarios::menu::{MENU_DATABASE, MENU_STEPS, MenuResult};
use crate::compare::scenarios::open_loop::{GRACE, OpenResult, P99_LIMIT, fmt_open};
use crate::compare::{Args, Ctx, Fw, TELEGRAM_BOT_RATE};
use crate::report::{Series, Table, fmt_ms, mib, ms_f, ratio, thousands};
use machine::{machine, utc_now, versions};
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Default)]
pub struct Results {
    pub capacity: Vec<(usize, capacity::Throughput, capacity::Throughput)>,
    pub echo: Vec<EchoResult>,
    pub open: Vec<OpenResult>,
    pub bulk: Vec<BulkResult>,
    pub menu: Vec<MenuResult>,
    pub menu_error: Option<String>,
    /// The menu's load and seconds, for its text.
    pub args_menu: (usize, u64),
    pub many: Vec<ManyResult>,
    pub elapsed: Duration,
}

impl Results {
    pub fn series(&self) -> Vec<Series> {
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

    pub fn markdown(&self, ctx: &Ctx, chart: &str) -> String {
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
        if let Some(note) = &a.note {
            let _ = writeln!(md, "**{note}**\n");
        }
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

        // 2, 3
        md.push_str(&self.echo_section(a, Some(chart)));
        md.push_str(&self.open_section(a));

        // 4
        let rate = TELEGRAM_BOT_RATE * a.flood_scale;
        let _ = writeln!(md, "## 4. Bulk — one notification to {} subscribers\n", thousands(a.subscribers as f64));
        let _ = writeln!(
            md,
            "The sandbox's flood limits are Telegram's with the per-bot rate scaled ×{} to {rate} messages a second \
             (burst {rate}; per chat 1/s, burst 3), and each bot's own limiter is given the same numbers (Ferrogram's \
             scheduler, teloxide's Throttle, grammY's throttler, aiogram's sleep between sends; teloxide \
             (plain), without a limiter, is not run here). An admin sends \
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

        // 5
        self.menu_markdown(&mut md);

        // 6
        let _ = writeln!(md, "## 6. Many bots in one process\n");
        let _ = writeln!(
            md,
            "N copies of the echo bot in one process per framework, each bot receiving by **webhook** on one \
             listener (registered with the sandbox by setWebhook): Ferrogram's `server` crate (`/telegram/BOT_ID`, \
             one engine, one SQLite file); aiogram's multibot setup (one `Dispatcher`, \
             `TokenBasedRequestHandler` on aiohttp, which makes a bot's `Bot` on its first update); grammY's \
             `Bot` per token, each `bot.init()` and `webhookCallback(bot, \"http\")` behind one node http \
             server; teloxide's `webhooks::axum_to_router` and a `Dispatcher` per bot, the routers merged into \
             one axum server (teloxide (plain) is not run here: its many-bots setup would be the same). Start-up runs from spawning the process to its READY line (every webhook set); \
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

    /// Section 2, the closed-loop echo (with the chart's image when `chart` is given).
    pub fn echo_section(&self, a: &Args, chart: Option<&str>) -> String {
        let mut md = String::new();
        let ferro_echo = self.echo.iter().find(|e| e.fw == Fw::Ferrogram);
        let _ = writeln!(md, "## 2. Echo — {} users, every message answered\n", a.users);
        let _ = writeln!(
            md,
            "Each of the {} users first writes once (opening its chat; not measured). Then, for {} s per level, \
             `load` users write in closed loops: send a text through `POST /sandbox/act/text`, wait for the bot's \
             `echo: <text>` on the sandbox's event stream (`GET /sandbox/events`, one long poll for all users), \
             send the next. Latency is from the act's request to the moment the reply's event is seen. Flood \
             limits are off in the sandbox and set out of reach in the bots' own limiters. Ratios are \
             Ferrogram/the row's framework: above 1 is better for updates/s, below 1 better for latency and \
             CPU. teloxide has two rows: teloxide (plain) is its `Dispatcher` over the plain `Bot`, no \
             limiter — capacity against Ferrogram's capacity; teloxide (Throttle) is the same over \
             `Throttle<Bot>`, its idiomatic production setup, whose queue releases requests in 250 ms ticks.\n",
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
        if let Some(chart) = chart {
            let _ = writeln!(md, "![reply latency against load]({chart})\n");
        }
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

        md
    }

    /// Section 3, the open-loop echo.
    pub fn open_section(&self, a: &Args) -> String {
        let mut md = String::new();
        if a.open_rates.is_empty() {
            return md;
        }
        let _ = writeln!(md, "## 3. Open-loop echo — updates arrive on a schedule\n");
        let _ = writeln!(
            md,
            "The echo bot again, a fresh process per framework. After each of the {} users wrote once (not \
             measured), updates arrive on a fixed schedule at each offered rate for {} s: update i is sent at \
             start + i/rate by its own task, round-robin over the users, whether or not the earlier ones were \
             answered. Latency runs from the update's *scheduled* time to its reply on the event stream, so a bot \
             that falls behind shows its queue as latency instead of slowing the arrivals down (no coordinated \
             omission). An update not answered within {} s counts as no reply, and as an infinite latency in the \
             percentiles. A rate at which more than 5 % got no reply saturates the framework: its higher rates are \
             not run. Replies/s is the replies over the time from the first arrival to the last reply (at least \
             the offered window). Ratios are Ferrogram/the row's framework (teloxide (plain): capacity against \
             capacity).\n",
            a.users,
            a.open_seconds,
            GRACE.as_secs()
        );
        let ferro = self.open.iter().find(|o| o.fw == Fw::Ferrogram);
        let mut t = Table::new([
            "offered/s",
            "framework",
            "p50",
            "p99",
            "p99.9",
            "max",
            "replies/s",
            "no reply",
            "CPU s / 1000 updates",
            "p99 F/peer",
        ]);
        let finite = |l: &Latencies| (l.p99 < GRACE).then(|| ms_f(l.p99));
        for &rate in &a.open_rates {
            for o in &self.open {
                if let Some(error) = &o.error {
                    t.row([thousands(f64::from(rate)), o.fw.name().into(), error.clone()]);
                    continue;
                }
                let Some(l) = o.levels.iter().find(|l| l.rate == rate) else {
                    let why = o.saturated_at().map(|s| format!("not run (saturated at {})", thousands(f64::from(s))));
                    t.row([thousands(f64::from(rate)), o.fw.name().into(), why.unwrap_or_else(|| "–".into())]);
                    continue;
                };
                let lat = |g: fn(&Latencies) -> Duration| {
                    l.latencies.as_ref().map(|x| fmt_open(g(x))).unwrap_or_else(|| "–".into())
                };
                let f = ferro.and_then(|f| f.levels.iter().find(|l| l.rate == rate));
                t.row([
                    thousands(f64::from(rate)),
                    o.fw.name().into(),
                    lat(|x| x.p50),
                    lat(|x| x.p99),
                    lat(|x| x.p999),
                    lat(|x| x.max),
                    thousands(l.reply_rate()),
                    l.lost().to_string(),
                    l.cpu_per_1000.map(|c| format!("{c:.2}")).unwrap_or_else(|| "–".into()),
                    if o.fw == Fw::Ferrogram {
                        String::new()
                    } else {
                        ratio(
                            f.and_then(|f| f.latencies.as_ref().and_then(finite)),
                            l.latencies.as_ref().and_then(finite),
                        )
                    },
                ]);
            }
        }
        let _ = writeln!(md, "{}", t.markdown());
        let mut t =
            Table::new(["framework".to_owned(), format!("lowest offered rate with p99 over {}", fmt_ms(P99_LIMIT))]);
        for o in self.open.iter().filter(|o| o.error.is_none()) {
            t.row([
                o.fw.name().to_owned(),
                o.p99_over().map(|r| format!("{}/s", thousands(f64::from(r)))).unwrap_or_else(|| "—".into()),
            ]);
        }
        let _ = writeln!(md, "{}", t.markdown());
        md
    }

    fn menu_markdown(&self, md: &mut String) {
        let a = &self.args_menu;
        let _ = writeln!(md, "## 5. Stateful menu — three scenes, a form, a row per walk\n");
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
             dialogue, over `Throttle<Bot>` and, in the teloxide (plain) row, over the plain `Bot`; aiogram's `RedisStorage` FSM, grammY's session on `@grammyjs/storage-redis` under \
             `sequentialize`) and write the row to PostgreSQL (tokio-postgres, asyncpg, `pg`), a table each in \
             the database `{MENU_DATABASE}` the bench recreates; Ferrogram keeps the scene, the form's answers \
             and the row (`insert` into a collection) in its store, on the same PostgreSQL and, as a second \
             row, on SQLite (its embedded default). After the run the bench counts each framework's rows: \
             there must be exactly one, distinct, per walk the bot confirmed (unmeasured walks included), or \
             the row is marked ✗. Ratios are Ferrogram (PostgreSQL)/the row's framework: against \
             teloxide (plain) they compare capacity with capacity, against teloxide (Throttle) with teloxide's \
             production setup.\n",
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
}
