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

/// `/metrics`, rendering `handle`, for [`crate::router_of`].
pub(crate) fn routes(handle: PrometheusHandle) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        routing::get(move || {
            let handle = handle.clone();
            async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], handle.render()) }
        }),
    )
}
