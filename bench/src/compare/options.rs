//! `compare`'s command line: the frameworks, each scenario's knobs, the peers' programs and
//! where the report goes.

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Clone)]
#[command(about = "Ferrogram against teloxide, aiogram and grammY on the sandbox")]
pub struct Args {
    /// Frameworks to run, in order (ferrogram first: the ratios are Ferrogram/peer).
    #[arg(long, value_delimiter = ',', default_value = "ferrogram,teloxide,aiogram,grammy")]
    pub frameworks: Vec<String>,
    /// Echo: virtual users.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Echo: concurrent users (closed loops) of each load level.
    #[arg(long, value_delimiter = ',', default_value = "10,50,200")]
    pub loads: Vec<usize>,
    /// Echo: seconds per load level.
    #[arg(long, default_value_t = 4)]
    pub level_seconds: u64,
    /// Bulk: subscribers of the notification.
    #[arg(long, default_value_t = 20_000)]
    pub subscribers: usize,
    /// Bulk: Telegram's flood limits (30 messages a second per bot) multiplied by this.
    #[arg(long, default_value_t = 20)]
    pub flood_scale: u32,
    /// Stateful menu: users walking the menu at once (closed loops).
    #[arg(long, default_value_t = 50)]
    pub menu_load: usize,
    /// Stateful menu: seconds each framework is measured (after one unmeasured walk per loop).
    #[arg(long, default_value_t = 6)]
    pub menu_seconds: u64,
    /// Stateful menu: also run Ferrogram with its store on SQLite, its embedded default.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub menu_sqlite: bool,
    /// Stateful menu: a PostgreSQL URL the bench may create a database with; it (re)creates
    /// `ferrogram_bench_menu` beside it, which every framework writes to.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres: String,
    /// Stateful menu: the Redis the peers keep their conversation state in.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// Many bots: bot counts in one process (empty: skip).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub many_bots: Vec<usize>,
    /// Many bots: the largest count the peers are run with (Ferrogram runs every count).
    #[arg(long, default_value_t = 10_000)]
    pub many_peers_max: usize,
    /// Many bots: seconds of idle measured.
    #[arg(long, default_value_t = 5)]
    pub idle_seconds: u64,
    /// Rig limit: seconds per measurement.
    #[arg(long, default_value_t = 3)]
    pub capacity_seconds: u64,
    /// The teloxide peer's binary (bench/run builds it).
    #[arg(long, default_value = "target/release/teloxide-bench-bot")]
    pub teloxide_bin: PathBuf,
    /// Ferrogram's bot process; default: `ferrogram_bot` beside this binary.
    #[arg(long)]
    pub ferrogram_bin: Option<PathBuf>,
    /// Python with aiogram (conformance/install.sh makes it).
    #[arg(long, default_value = "conformance/.venv/bin/python")]
    pub python: PathBuf,
    #[arg(long, default_value = "node")]
    pub node: PathBuf,
    #[arg(long, default_value = "bench/RESULTS.md")]
    pub results: PathBuf,
    #[arg(long, default_value = "bench/echo-latency.svg")]
    pub chart: PathBuf,
    /// Logs, databases and generated bot files.
    #[arg(long, default_value = "target/bench-work")]
    pub work: PathBuf,
}
