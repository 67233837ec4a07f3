//! `compare --quick` (`bench/run --quick`): the short run for a change on the hot path, under
//! two minutes once built. Ferrogram and teloxide (plain) only: the closed-loop echo at one load,
//! the open-loop echo at one rate, durability SQLite against memory. Writes its own report
//! (`--quick-out`, never RESULTS.md) and prints how it compares with the committed reports
//! (`--quick-baseline`): the same metrics read back from their tables, each within
//! `--quick-tolerance` or flagged.

use super::results::Results;
use super::results::machine::{machine, utc_now};
use super::scenarios::{echo, open_loop};
use super::users::create_users;
use super::{Args, Ctx, Fw, say};
use crate::durability;
use crate::report::{Table, ms_f};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

const QUICK: [Fw; 2] = [Fw::Ferrogram, Fw::TeloxidePlain];
/// The durability configuration compared with memory, as DURABILITY.md names it.
const SQLITE_ROW: &str = "SQLite, group commit";

pub async fn run(mut args: Args) {
    ferrogram_telegram::install_crypto_provider();
    let started = Instant::now();
    args.frameworks = QUICK.iter().map(|fw| fw.key().to_owned()).collect();
    args.loads = vec![args.quick_load];
    args.open_rates = vec![args.quick_rate];
    std::fs::create_dir_all(&args.work).expect("work folder");
    let work = std::fs::canonicalize(&args.work).expect("work folder");
    let sandbox = crate::sandbox_without_limits().await;
    let http = reqwest::Client::builder().pool_max_idle_per_host(512).build().expect("client");
    let ctx = Ctx { args: args.clone(), url: sandbox.url(), http, work };
    let mut out = Results::default();
    say(&format!("quick: creating {} users", args.users));
    let users = create_users(&ctx, args.users).await;
    for fw in QUICK {
        say(&format!("quick: echo, {}", fw.name()));
        out.echo.push(echo::echo(&ctx, fw, &users).await);
    }
    for fw in QUICK {
        say(&format!("quick: open-loop echo, {}", fw.name()));
        out.open.push(open_loop::open_loop(&ctx, fw, &users).await);
    }
    sandbox.stop().await.expect("sandbox stops");
    say("quick: durability, memory and SQLite");
    let rows = durability_rows(&args).await;
    let durability_table = durability::table(&rows, args.quick_updates);

    let mut md = String::new();
    let _ = writeln!(md, "# Quick bench\n");
    let _ = writeln!(
        md,
        "Written by `bench/run --quick` (`compare --quick`), {} UTC, in {:.0} s. Not a comparison to publish: \
         Ferrogram and teloxide (plain) only, short runs, for checking a change on the hot path against the \
         committed numbers (the last section).\n",
        utc_now(),
        started.elapsed().as_secs_f64()
    );
    if let Some(note) = &args.note {
        let _ = writeln!(md, "**{note}**\n");
    }
    let _ = writeln!(md, "{}\n", machine());
    md.push_str(&out.echo_section(&args, None));
    md.push_str(&out.open_section(&args));
    let _ = writeln!(
        md,
        "## Durability — SQLite against memory\n\nThe `durability` binary's run, {} updates from 200 users per \
         configuration.\n\n{durability_table}",
        args.quick_updates
    );
    let now = measured(&out, &rows, &args);
    let baselines: Vec<(String, Vec<Row>)> = args
        .quick_baseline
        .iter()
        .map(|path| (path.display().to_string(), std::fs::read_to_string(path).map(|t| tables(&t)).unwrap_or_default()))
        .collect();
    let comparison = compare(&now, &baselines, &args);
    let _ = writeln!(md, "## Against the committed numbers\n\n{comparison}");
    if let Some(parent) = args.quick_out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&args.quick_out, &md).expect("quick report");
    println!("{comparison}");
    say(&format!("wrote {} in {:.0} s", args.quick_out.display(), started.elapsed().as_secs_f64()));
}

async fn durability_rows(args: &Args) -> Vec<durability::Row> {
    let memory: Arc<dyn ferrogram_engine::StateStore> = Arc::new(ferrogram_engine::MemoryStore::new());
    let batch = ferrogram_engine::DEFAULT_COMMIT_BATCH;
    let mut rows = vec![durability::run("memory (durability off)", memory, batch, args.quick_updates, 200).await];
    let db = args.work.join("quick-durability.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let store = ferrogram_store::Store::open(&format!("sqlite://{}", db.display())).await.expect("SQLite opens");
    rows.push(durability::run(SQLITE_ROW, Arc::new(store), batch, args.quick_updates, 200).await);
    rows
}

/// Which way is better for a metric.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Better {
    Higher,
    Lower,
}

/// One compared number: how to find it in a report's tables, and its value in this run.
#[derive(Debug)]
pub struct Metric {
    pub name: String,
    pub better: Better,
    pub now: Option<f64>,
    /// How to read it from a report: a quotient of two lookups or one lookup.
    pub lookup: Lookup,
}

#[derive(Debug, Clone)]
pub enum Lookup {
    One(Cell),
    Ratio(Cell, Cell),
}

/// A cell of a report: the table is the one with `key`'s headers, the row the one whose `key`
/// cells have these values, the column `column`.
#[derive(Debug, Clone)]
pub struct Cell {
    pub key: Vec<(&'static str, String)>,
    pub column: &'static str,
}

/// A row of a Markdown table: its headers to its cells.
pub type Row = HashMap<String, String>;

/// Every row of every Markdown table in `text` (a table: a header line, a rule, rows).
pub fn tables(text: &str) -> Vec<Row> {
    let lines: Vec<&str> = text.lines().collect();
    let cells = |line: &str| -> Vec<String> {
        line.trim().trim_start_matches('|').trim_end_matches('|').split('|').map(|c| c.trim().to_owned()).collect()
    };
    let mut rows = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        let is_rule = |l: &str| l.trim().starts_with('|') && l.chars().all(|c| "|-: ".contains(c));
        if lines[i].trim().starts_with('|') && is_rule(lines[i + 1]) {
            let headers = cells(lines[i]);
            i += 2;
            while i < lines.len() && lines[i].trim().starts_with('|') {
                rows.push(headers.iter().cloned().zip(cells(lines[i])).collect());
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    rows
}

/// The number a cell starts with: `1 519` → 1519, `12.3 ms` → 12.3, `0.70` → 0.7; None for
/// text (`no reply in 10 s`, `–`).
pub fn number(cell: &str) -> Option<f64> {
    let digits: String = cell
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ' ' | '\u{2009}' | '\u{202f}'))
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().ok()
}

fn find(rows: &[Row], cell: &Cell) -> Option<f64> {
    rows.iter()
        .find(|row| cell.key.iter().all(|(header, value)| row.get(*header) == Some(value)))
        .and_then(|row| row.get(cell.column))
        .and_then(|c| number(c))
}

impl Lookup {
    pub fn read(&self, rows: &[Row]) -> Option<f64> {
        match self {
            Lookup::One(cell) => find(rows, cell),
            Lookup::Ratio(a, b) => match (find(rows, a), find(rows, b)) {
                (Some(a), Some(b)) if b != 0.0 => Some(a / b),
                _ => None,
            },
        }
    }
}

/// This run's numbers, each with where the committed reports keep it.
fn measured(out: &Results, durability: &[durability::Row], args: &Args) -> Vec<Metric> {
    let load = args.quick_load.to_string();
    let rate = crate::report::thousands(f64::from(args.quick_rate));
    let echo_cell =
        |fw: Fw, column| Cell { key: vec![("load", load.clone()), ("framework", fw.name().into())], column };
    let open_cell =
        |fw: Fw, column| Cell { key: vec![("offered/s", rate.clone()), ("framework", fw.name().into())], column };
    let level = |fw: Fw| out.echo.iter().find(|e| e.fw == fw).and_then(|e| e.levels.first());
    let open = |fw: Fw| out.open.iter().find(|o| o.fw == fw).and_then(|o| o.levels.first());
    let (f, t) = (Fw::Ferrogram, Fw::TeloxidePlain);
    let quotient = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    };
    let echo_rate = |fw| level(fw).map(echo::Level::rate);
    let echo_p99 = |fw| level(fw).and_then(|l| l.latencies.as_ref()).map(|l| ms_f(l.p99));
    let echo_cpu = |fw| level(fw).and_then(|l| l.cpu_per_1000);
    let finite = |d: std::time::Duration| (d < open_loop::GRACE).then(|| ms_f(d));
    let open_p99 = |fw| open(fw).and_then(|l| l.latencies.as_ref()).and_then(|l| finite(l.p99));
    let sqlite = durability.iter().find(|r| r.name == SQLITE_ROW).map(|r| r.per_second);
    let memory = durability.first().map(|r| r.per_second);
    let metric = |name: String, better, now, lookup| Metric { name, better, now, lookup };
    use Better::{Higher, Lower};
    use Lookup::{One, Ratio};
    vec![
        metric(format!("echo {load} users: Ferrogram updates/s"), Higher, echo_rate(f), One(echo_cell(f, "updates/s"))),
        metric(format!("echo {load} users: Ferrogram p99 (ms)"), Lower, echo_p99(f), One(echo_cell(f, "p99"))),
        metric(
            format!("echo {load} users: Ferrogram CPU s / 1000 updates"),
            Lower,
            echo_cpu(f),
            One(echo_cell(f, "CPU s / 1000 updates")),
        ),
        metric(
            format!("echo {load} users: updates/s Ferrogram/teloxide (plain)"),
            Higher,
            quotient(echo_rate(f), echo_rate(t)),
            Ratio(echo_cell(f, "updates/s"), echo_cell(t, "updates/s")),
        ),
        metric(
            format!("echo {load} users: p99 Ferrogram/teloxide (plain)"),
            Lower,
            quotient(echo_p99(f), echo_p99(t)),
            Ratio(echo_cell(f, "p99"), echo_cell(t, "p99")),
        ),
        metric(
            format!("echo {load} users: CPU Ferrogram/teloxide (plain)"),
            Lower,
            quotient(echo_cpu(f), echo_cpu(t)),
            Ratio(echo_cell(f, "CPU s / 1000 updates"), echo_cell(t, "CPU s / 1000 updates")),
        ),
        metric(format!("open loop {rate}/s: Ferrogram p99 (ms)"), Lower, open_p99(f), One(open_cell(f, "p99"))),
        metric(
            format!("open loop {rate}/s: Ferrogram replies/s"),
            Higher,
            open(f).map(open_loop::OpenLevel::reply_rate),
            One(open_cell(f, "replies/s")),
        ),
        metric(
            format!("open loop {rate}/s: p99 Ferrogram/teloxide (plain)"),
            Lower,
            quotient(open_p99(f), open_p99(t)),
            Ratio(open_cell(f, "p99"), open_cell(t, "p99")),
        ),
        metric(
            "durability: SQLite (group commit) updates/s / memory".into(),
            Higher,
            quotient(sqlite, memory),
            One(Cell { key: vec![("configuration", SQLITE_ROW.into())], column: "vs memory" }),
        ),
    ]
}

/// The verdict on a change from `committed` to `now`, in percent, against the tolerance.
pub fn verdict(better: Better, committed: f64, now: f64, tolerance: f64) -> (f64, &'static str) {
    let change = (now / committed - 1.0) * 100.0;
    let improved = match better {
        Better::Higher => change > 0.0,
        Better::Lower => change < 0.0,
    };
    let word = if change.abs() <= tolerance {
        "within"
    } else if improved {
        "better"
    } else {
        "WORSE"
    };
    (change, word)
}

/// The comparison table: each metric now, in the first baseline that has it, and the verdict.
fn compare(now: &[Metric], baselines: &[(String, Vec<Row>)], args: &Args) -> String {
    let tolerance = args.quick_tolerance;
    let mut t = Table::new(["metric", "committed", "now", "change", "verdict", "from"]);
    let mut worse = 0;
    for m in now {
        let found = baselines.iter().find_map(|(file, rows)| m.lookup.read(rows).map(|v| (file.as_str(), v)));
        let shown = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into());
        match (found, m.now) {
            (Some((file, committed)), Some(value)) => {
                let (change, word) = verdict(m.better, committed, value, tolerance);
                worse += usize::from(word == "WORSE");
                t.row([
                    m.name.clone(),
                    shown(Some(committed)),
                    shown(Some(value)),
                    format!("{change:+.0} %"),
                    format!("{word} ±{tolerance:.0} %"),
                    file.to_owned(),
                ]);
            }
            (None, value) => {
                t.row([m.name.clone(), "not in the committed reports".into(), shown(value), String::new()]);
            }
            (Some((file, committed)), None) => {
                t.row([
                    m.name.clone(),
                    shown(Some(committed)),
                    "not measured".into(),
                    String::new(),
                    String::new(),
                    file.into(),
                ]);
            }
        }
    }
    format!(
        "{}\n{} of {} metrics worse than the committed numbers by more than {tolerance:.0} %. Ratios to teloxide \
         (plain) come from the same run and carry less of the machine's load than the absolute numbers; the \
         committed ones may come from a quieter machine (see their files' headers).\n",
        t.markdown(),
        worse,
        now.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "# R\n\ntext | not a table\n\n| load | framework | updates/s | p99 |\n| --- | ---: | ---: | ---: |\n\
        | 50 | Ferrogram | 2 894 | 32.7 ms |\n| 50 | teloxide (plain) | 1 447 | 65.4 ms |\n\n\
        | configuration | updates/s | vs memory |\n|---|---:|---:|\n| SQLite, group commit | 3507 | 0.70 |\n";

    fn cell(fw: &str, column: &'static str) -> Cell {
        Cell { key: vec![("load", "50".into()), ("framework", fw.into())], column }
    }

    #[test]
    fn tables_are_read_back_by_header() {
        let rows = tables(REPORT);
        assert_eq!(rows.len(), 3);
        assert_eq!(Lookup::One(cell("Ferrogram", "updates/s")).read(&rows), Some(2894.0));
        assert_eq!(Lookup::One(cell("Ferrogram", "p99")).read(&rows), Some(32.7));
        assert_eq!(
            Lookup::Ratio(cell("Ferrogram", "updates/s"), cell("teloxide (plain)", "updates/s")).read(&rows),
            Some(2.0)
        );
        let sqlite = Cell { key: vec![("configuration", SQLITE_ROW.into())], column: "vs memory" };
        assert_eq!(Lookup::One(sqlite).read(&rows), Some(0.70));
        assert_eq!(Lookup::One(cell("teloxide (Throttle)", "p99")).read(&rows), None, "no such row");
        assert_eq!(Lookup::One(cell("Ferrogram", "max")).read(&rows), None, "no such column");
    }

    /// The report's own sections, read back by the cells `measured` looks for.
    #[test]
    fn the_reports_sections_read_back() {
        use crate::Latencies;
        use crate::compare::scenarios::echo::{EchoResult, Level};
        use crate::compare::scenarios::open_loop::{OpenLevel, OpenResult};
        use clap::Parser;
        use std::time::Duration;
        let args = Args::parse_from(["compare", "--loads", "50", "--open-rates", "1000,2000"]);
        let ms = |n: u64| Latencies::from_samples(vec![Duration::from_millis(n); 10]);
        let echo = |fw, count, p99| EchoResult {
            fw,
            levels: vec![Level {
                load: 50,
                count,
                lost: 0,
                seconds: 1.0,
                latencies: ms(p99),
                cpu_per_1000: Some(0.25),
            }],
            idle_rss_kib: None,
            hwm_kib: None,
            error: None,
        };
        let open = |fw, p99: Option<u64>, replied| OpenResult {
            fw,
            levels: vec![OpenLevel {
                rate: 1000,
                sent: 5000,
                replied,
                seconds: 5.0,
                latencies: match p99 {
                    Some(n) => ms(n),
                    None => Latencies::from_samples(vec![Duration::MAX; 10]),
                },
                cpu_per_1000: None,
            }],
            error: None,
        };
        let out = Results {
            echo: vec![echo(Fw::Ferrogram, 3000, 30), echo(Fw::TeloxidePlain, 1500, 60)],
            open: vec![open(Fw::Ferrogram, Some(40), 5000), open(Fw::TeloxidePlain, None, 100)],
            ..Results::default()
        };
        let md = format!("{}{}", out.echo_section(&args, None), out.open_section(&args));
        let rows = tables(&md);
        let cell = |fw: Fw, column| Cell { key: vec![("load", "50".into()), ("framework", fw.name().into())], column };
        let open_cell =
            |fw: Fw, column| Cell { key: vec![("offered/s", "1 000".into()), ("framework", fw.name().into())], column };
        let ratio = Lookup::Ratio(cell(Fw::Ferrogram, "updates/s"), cell(Fw::TeloxidePlain, "updates/s"));
        assert_eq!(ratio.read(&rows), Some(2.0));
        assert_eq!(Lookup::One(cell(Fw::Ferrogram, "p99")).read(&rows), Some(30.0));
        assert_eq!(Lookup::One(open_cell(Fw::Ferrogram, "p99")).read(&rows), Some(40.0));
        assert_eq!(Lookup::One(open_cell(Fw::Ferrogram, "replies/s")).read(&rows), Some(1000.0));
        assert_eq!(Lookup::One(open_cell(Fw::TeloxidePlain, "p99")).read(&rows), None, "no reply is not a number");
        assert!(md.contains("not run (saturated at 1 000)"), "{md}");
        assert!(md.contains("| teloxide (plain) | 1 000/s |") && md.contains("| Ferrogram | — |"), "{md}");
    }

    #[test]
    fn numbers_as_the_report_writes_them() {
        assert_eq!(number("12 345"), Some(12345.0));
        assert_eq!(number("1.23 ms"), Some(1.23));
        assert_eq!(number("0.52"), Some(0.52));
        assert_eq!(number("no reply in 10 s"), None);
        assert_eq!(number("–"), None);
    }

    #[test]
    fn verdicts_know_which_way_is_better() {
        assert_eq!(verdict(Better::Higher, 100.0, 110.0, 20.0).1, "within");
        assert_eq!(verdict(Better::Higher, 100.0, 130.0, 20.0).1, "better");
        assert_eq!(verdict(Better::Higher, 100.0, 70.0, 20.0).1, "WORSE");
        assert_eq!(verdict(Better::Lower, 100.0, 130.0, 20.0).1, "WORSE");
        assert_eq!(verdict(Better::Lower, 100.0, 70.0, 20.0).1, "better");
        assert!((verdict(Better::Lower, 100.0, 70.0, 20.0).0 + 30.0).abs() < 1e-9);
    }
}
