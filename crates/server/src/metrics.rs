//! `GET /metrics`: the process's metrics in Prometheus' text format (`text/plain;
//! version=0.0.4`), rendered from the recorder [`install`] put in place (decision 0033).
//!
//! The engine and its Bot API client record through the `metrics` facade (`ferrogram_*`, each
//! labelled `bot` with the bot's Telegram id; the names are in `ferrogram_engine::telemetry`,
//! docs/operations.md lists them); this module holds the only exporter:
//! `metrics-exporter-prometheus` without its own HTTP listener or push gateway, rendered on the
//! one listener. A route, not a second port. What is read at scrape time (the process's memory
//! and CPU time, the bots by status) is set or written here.

use std::time::Duration;

use axum::http::header;
use axum::routing;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use ferrogram_engine::telemetry::FLOOD_QUEUE_WAIT;

use crate::bots::{Api, Status};

/// The content type of Prometheus' text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The bounds of `ferrogram_handler_duration_seconds`' buckets, in seconds: a handler takes
/// milliseconds, one calling out (HTTP, an LLM) seconds, and the time budget caps it.
pub const HANDLER_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The bounds of `ferrogram_flood_queue_wait_seconds`' buckets, in seconds: a reply waits
/// milliseconds, a chat's second message about a second, a paced broadcast to groups minutes,
/// and a 429 pause up to an hour.
pub const FLOOD_WAIT_BUCKETS: &[f64] =
    &[0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// The process's CPU time, written into each scrape (a counter of seconds: the recorder's
/// counters hold whole numbers).
pub const PROCESS_CPU: &str = "ferrogram_process_cpu_seconds_total";

/// How often the recorder's upkeep runs (it drains histogram samples into their buckets).
const UPKEEP: Duration = Duration::from_secs(5);

/// The recorder `serve` installs: Prometheus' format, with buckets (not a summary) for the
/// durations (the flood queue's its own, a name's own buckets going before a suffix's). Not
/// installed: see [`install`].
pub fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), HANDLER_BUCKETS)
        .and_then(|builder| builder.set_buckets_for_metric(Matcher::Full(FLOOD_QUEUE_WAIT.into()), FLOOD_WAIT_BUCKETS))
        .expect("the buckets are not empty")
        .build_recorder()
}

/// Installs [`recorder`] as the process's global recorder and starts its upkeep on the
/// current Tokio runtime; gives the handle [`routes`] renders. Once per process: a second
/// call is an error (so is one after another recorder was installed).
pub fn install() -> Result<PrometheusHandle, String> {
    let recorder = recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// `/metrics`, rendering `handle`, for [`crate::router_of`]. Before each render it sets what
/// is read at scrape time rather than counted as it happens: the process's resident memory
/// (`ferrogram_process_resident_memory_bytes`, from `/proc/self/status`) and, with the bots'
/// control (`serve`), how many bots are in each supervisor status
/// (`ferrogram_bots{status="running"|…}`, every status, zeros included); after it, the
/// process's CPU time ([`PROCESS_CPU`], user and system, from `getrusage`).
pub(crate) fn routes(handle: PrometheusHandle, api: Option<Api>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        routing::get(move || {
            let (handle, api) = (handle.clone(), api.clone());
            async move {
                record_scrape_time(api.as_ref()).await;
                let mut text = handle.render();
                if let Some(seconds) = cpu_seconds() {
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&cpu_sample(seconds));
                }
                ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
            }
        }),
    )
}

/// Every status a supervised bot can be in, for `ferrogram_bots`.
const STATUSES: [Status; 5] =
    [Status::Starting, Status::Running, Status::Stopped, Status::Failing, Status::Unauthorized];

async fn record_scrape_time(api: Option<&Api>) {
    if let Some(bytes) = resident_bytes() {
        metrics::gauge!("ferrogram_process_resident_memory_bytes").set(bytes as f64);
    }
    let Some(api) = api else { return };
    // A store that cannot list its workspaces leaves the last values (and `/readyz` says why).
    let Ok(workspaces) = api.store.workspaces().await else { return };
    let mut counts = [0u32; STATUSES.len()];
    for workspace in workspaces {
        for bot in api.bots.list(workspace.id).await {
            if let Some(at) = STATUSES.iter().position(|status| *status == bot.status) {
                counts[at] += 1;
            }
        }
    }
    for (status, count) in STATUSES.iter().zip(counts) {
        metrics::gauge!("ferrogram_bots", "status" => status.as_str()).set(f64::from(count));
    }
}

/// The process's resident memory in bytes (`VmRSS` of `/proc/self/status`), where there is one.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// [`PROCESS_CPU`]'s lines of the exposition.
fn cpu_sample(seconds: f64) -> String {
    format!("# TYPE {PROCESS_CPU} counter\n{PROCESS_CPU} {seconds}\n\n")
}

/// The CPU time the process used so far, user and system, in seconds (`getrusage`).
#[cfg(unix)]
fn cpu_seconds() -> Option<f64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable `rusage`; getrusage only writes into it, and it is
    // read only when the call succeeded (then it is fully written).
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return None;
        }
        usage.assume_init()
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    Some(seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

#[cfg(not(unix))]
fn cpu_seconds() -> Option<f64> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_grows_with_work() {
        let Some(before) = super::cpu_seconds() else { return };
        // Spin until the process's CPU time moved past its clock's granularity.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let after = super::cpu_seconds().expect("read twice");
        assert!(after > before, "{before} -> {after}");
        assert!(after - before < 10.0, "{before} -> {after}");
        let line = super::cpu_sample(after);
        assert!(line.starts_with("# TYPE ferrogram_process_cpu_seconds_total counter\n"), "{line}");
        assert!(line.contains(&format!("ferrogram_process_cpu_seconds_total {after}\n")), "{line}");
    }

    #[test]
    fn resident_memory_is_read_where_linux_gives_it() {
        if std::path::Path::new("/proc/self/status").exists() {
            let bytes = super::resident_bytes().expect("VmRSS read");
            assert!(bytes > 1 << 20, "a test process holds more than 1 MiB: {bytes}");
        }
    }
}
