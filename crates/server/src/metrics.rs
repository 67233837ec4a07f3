//! `GET /metrics`: the process's metrics in Prometheus' text format (`text/plain;
//! version=0.0.4`), rendered from the recorder [`install`] put in place (decision 0033).
//!
//! The engine records through the `metrics` facade (`ferrogram_*`, each labelled `bot` with
//! the bot's Telegram id; docs/operations.md lists them); this module holds the only
//! exporter: `metrics-exporter-prometheus` without its own HTTP listener or push gateway,
//! rendered on the one listener. A route, not a second port.

use std::time::Duration;

use axum::http::header;
use axum::routing;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::bots::{Api, Status};

/// The content type of Prometheus' text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The bounds of `ferrogram_handler_duration_seconds`' buckets, in seconds: a handler takes
/// milliseconds, one calling out (HTTP, an LLM) seconds, and the time budget caps it.
pub const HANDLER_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How often the recorder's upkeep runs (it drains histogram samples into their buckets).
const UPKEEP: Duration = Duration::from_secs(5);

/// The recorder `serve` installs: Prometheus' format, with buckets (not a summary) for the
/// durations. Not installed: see [`install`].
pub fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), HANDLER_BUCKETS)
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
/// (`ferrogram_bots{status="running"|…}`, every status, zeros included).
pub(crate) fn routes(handle: PrometheusHandle, api: Option<Api>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        routing::get(move || {
            let (handle, api) = (handle.clone(), api.clone());
            async move {
                record_scrape_time(api.as_ref()).await;
                ([(header::CONTENT_TYPE, CONTENT_TYPE)], handle.render())
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

#[cfg(test)]
mod tests {
    #[test]
    fn resident_memory_is_read_where_linux_gives_it() {
        if std::path::Path::new("/proc/self/status").exists() {
            let bytes = super::resident_bytes().expect("VmRSS read");
            assert!(bytes > 1 << 20, "a test process holds more than 1 MiB: {bytes}");
        }
    }
}
