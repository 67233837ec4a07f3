//! The bots' processes: how each framework's bot is started for a scenario (its command, flags
//! and environment), waited for until it prints `READY`, read from /proc and stopped.

use super::framework::menu_table;
use super::{Ctx, Fw, SUB_FIRST};
use crate::procfs;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The scenario a bot process is started for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
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

/// Echo: the bots' own limits, far above any load here (teloxide's Throttle sizes its queue by it).
const UNLIMITED: u32 = 10_000;

/// A bot's running process.
pub struct Bot {
    child: Child,
    pub pid: u32,
}

impl Bot {
    pub fn stats(&self) -> Option<procfs::ProcStats> {
        procfs::read(self.pid)
    }

    /// SIGTERM, a moment to finish, then SIGKILL.
    pub fn stop(mut self) {
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

/// How to start one bot process: which framework, for which scenario, with which limits.
pub struct Launch<'a> {
    pub fw: Fw,
    pub mode: Mode,
    pub token: String,
    pub api_url: &'a str,
    pub rate: u32,
    pub chat_rate: u32,
    pub subscribers: usize,
    pub bots: usize,
    /// Receive by webhook on this address instead of long polling (`Mode::Many`).
    pub webhook: Option<std::net::SocketAddr>,
    /// The database: Ferrogram's store (default: a new SQLite file), the peers' `DATABASE_URL`.
    pub database: Option<&'a str>,
}

impl Launch<'_> {
    pub fn new(fw: Fw, mode: Mode, bot_id: i64, api_url: &str) -> Launch<'_> {
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

/// Starts a bot process and waits for its `READY` line.
pub async fn spawn_bot(ctx: &Ctx, launch: Launch<'_>) -> Result<Bot, String> {
    let tag = format!("{}-{}", launch.fw.key(), launch.token.split(':').next().unwrap_or(""));
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
        Fw::Teloxide | Fw::TeloxidePlain => {
            let mut c = Command::new(&ctx.args.teloxide_bin);
            c.env("MODE", ["echo", "menu", "many"][launch.mode.peer_file()]);
            c.env("THROTTLE", if launch.fw == Fw::TeloxidePlain { "off" } else { "on" });
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
