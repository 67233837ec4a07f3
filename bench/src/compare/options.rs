//! `compare`'s command line: the frameworks, each scenario's knobs, the peers' programs and
//! where the report goes.

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Clone)]
#[command(about = "Ferrogram against teloxide, aiogram and grammY on the sandbox")]
pub struct Args {
    /// Frameworks to run, in order (ferrogram first: the ratios are Ferrogram/peer): ferrogram,
    /// teloxide-plain (`Dispatcher` over the plain `Bot`; echo, open loop and menu only),
    /// teloxide (over `Throttle<Bot>`, its production setup), aiogram, grammy.
    #[arg(long, value_delimiter = ',', default_value = "ferrogram,teloxide-plain,teloxide,aiogram,grammy")]
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
    /// Open-loop echo: offered rates, updates a second, each on a fixed schedule (empty: skip).
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000,2000")]
    pub open_rates: Vec<u32>,
    /// Open-loop echo: seconds of arrivals per rate.
    #[arg(long, default_value_t = 5)]
    pub open_seconds: u64,
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
    /// A note written under the report's title (e.g. what else ran on the machine).
    #[arg(long)]
    pub note: Option<String>,
    /// Quick mode, for a change on the hot path: Ferrogram and teloxide-plain only, the echo
    /// at `--quick-load`, the open loop at `--quick-rate`, durability SQLite against memory;
    /// writes `--quick-out` (not RESULTS.md) and compares with the committed numbers.
    #[arg(long)]
    pub quick: bool,
    /// Quick mode: the echo's closed-loop load.
    #[arg(long, default_value_t = 50)]
    pub quick_load: usize,
    /// Quick mode: the open loop's offered rate.
    #[arg(long, default_value_t = 1000)]
    pub quick_rate: u32,
    /// Quick mode: updates per durability configuration.
    #[arg(long, default_value_t = 6000)]
    pub quick_updates: usize,
    /// Quick mode: the report it writes.
    #[arg(long, default_value = "target/bench-quick.md")]
    pub quick_out: PathBuf,
    /// Quick mode: the committed reports it compares with (rows missing from them are skipped).
    #[arg(long, value_delimiter = ',', default_value = "bench/RESULTS.md,bench/DURABILITY.md")]
    pub quick_baseline: Vec<PathBuf>,
    /// Quick mode: a change beyond this many percent is flagged.
    #[arg(long, default_value_t = 20.0)]
    pub quick_tolerance: f64,
    /// Logs, databases and generated bot files.
    #[arg(long, default_value = "target/bench-work")]
    pub work: PathBuf,
}
