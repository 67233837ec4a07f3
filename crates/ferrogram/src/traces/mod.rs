//! Traces over OTLP/HTTP (decision 0039): with `telemetry.otlp_endpoint` set, the engine's
//! spans (`ferrogram_engine::traces`: one `update` per update, its `handler`, `http`/`llm`
//! steps, `commit` and Bot API calls) are exported as OTLP JSON to `ENDPOINT/v1/traces` by a
//! background task. Unset, nothing here is installed and the engine makes no span.
//!
//! [`layer`] records the spans as they open and close, [`export`] sends them in batches,
//! [`otlp`] writes the JSON.

pub mod export;
pub mod layer;
pub mod otlp;

use tokio::sync::mpsc;

pub use export::{Dropped, Exporter, Target};
pub use layer::OtlpLayer;

/// The traces URL of an OTLP/HTTP `endpoint`: `ENDPOINT/v1/traces`, unless it already ends so
/// (as `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` would).
pub fn traces_url(endpoint: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    if endpoint.ends_with("/v1/traces") { endpoint.to_owned() } else { format!("{endpoint}/v1/traces") }
}

/// The layer to install and the queue its exporter reads: the exporter is started later, on
/// the runtime ([`Exporter::start`]), and turns the engine's spans on.
pub fn layer() -> (OtlpLayer, mpsc::Receiver<layer::SpanRecord>, Dropped) {
    let (queue, spans) = mpsc::channel(export::QUEUE);
    let dropped = Dropped::default();
    (OtlpLayer::new(queue, dropped.clone()), spans, dropped)
}

/// Starts exporting what `layer` queued to `target`, and turns the engine's spans on.
pub fn start(target: Target, spans: mpsc::Receiver<layer::SpanRecord>, dropped: Dropped) -> Exporter {
    tracing::info!(url = %target.url, service = %target.service, "exporting traces over OTLP/HTTP");
    let exporter = Exporter::start(target, spans, dropped);
    ferrogram_engine::traces::enable();
    exporter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_url_is_the_endpoint_with_v1_traces() {
        assert_eq!(traces_url("http://127.0.0.1:4318"), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(traces_url("http://collector:4318/"), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("https://otlp.example.com/v1/traces"), "https://otlp.example.com/v1/traces");
    }
}
