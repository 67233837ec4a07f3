//! OTLP's JSON encoding of a batch of spans (an `ExportTraceServiceRequest`), as OTLP/HTTP
//! takes it with `Content-Type: application/json`: the protobuf JSON mapping with OTLP's
//! exceptions: field names in lowerCamelCase, trace and span ids as hex (not base64), 64-bit
//! integers (times, `intValue`) as decimal strings, enums as their numbers.

use serde_json::{Value, json};

use super::layer::{AttrValue, SpanRecord};

/// The instrumentation scope named in every export.
const SCOPE: &str = "ferrogram";

/// STATUS_CODE_ERROR of OTLP's `Status.code`.
const STATUS_ERROR: u8 = 2;

/// The request body for `spans`, from the service `service`.
pub fn encode(service: &str, spans: &[SpanRecord]) -> Vec<u8> {
    let resource = json!({
        "attributes": [
            attribute("service.name", &AttrValue::Text(service.to_owned())),
            attribute("service.version", &AttrValue::Text(env!("CARGO_PKG_VERSION").to_owned())),
        ]
    });
    let body = json!({
        "resourceSpans": [{
            "resource": resource,
            "scopeSpans": [{
                "scope": {"name": SCOPE, "version": env!("CARGO_PKG_VERSION")},
                "spans": spans.iter().map(span).collect::<Vec<_>>(),
            }],
        }],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn span(record: &SpanRecord) -> Value {
    let mut span = json!({
        "traceId": format!("{:032x}", record.trace_id),
        "spanId": format!("{:016x}", record.span_id),
        "name": record.name,
        "kind": record.kind as u8,
        "startTimeUnixNano": record.start.to_string(),
        "endTimeUnixNano": record.end.to_string(),
        "attributes": record.attributes.iter().map(|(key, value)| attribute(key, value)).collect::<Vec<_>>(),
        "events": record.events.iter().map(|(time, level, message)| json!({
            "timeUnixNano": time.to_string(),
            "name": message,
            "attributes": [attribute("level", &AttrValue::Text((*level).to_owned()))],
        })).collect::<Vec<_>>(),
    });
    if let Some(parent) = record.parent {
        span["parentSpanId"] = json!(format!("{parent:016x}"));
    }
    if let Some(message) = &record.error {
        span["status"] = json!({"code": STATUS_ERROR, "message": message});
    }
    span
}

fn attribute(key: &str, value: &AttrValue) -> Value {
    let value = match value {
        AttrValue::Text(text) => json!({"stringValue": text}),
        AttrValue::Int(n) => json!({"intValue": n.to_string()}),
        AttrValue::Double(x) if x.is_finite() => json!({"doubleValue": x}),
        AttrValue::Double(x) => json!({"stringValue": x.to_string()}),
        AttrValue::Bool(b) => json!({"boolValue": b}),
    };
    json!({"key": key, "value": value})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::layer::Kind;

    #[test]
    fn a_span_is_encoded_with_hex_ids_and_string_times() {
        let record = SpanRecord {
            trace_id: 0x0102,
            span_id: 0xab,
            parent: Some(0xcd),
            name: "telegram",
            kind: Kind::Client,
            start: 1_700_000_000_000_000_000,
            end: 1_700_000_000_000_000_001,
            attributes: vec![("telegram.method", AttrValue::Text("sendMessage".into())), ("n", AttrValue::Int(-3))],
            error: Some("refused".into()),
            events: Vec::new(),
        };
        let body: Value = serde_json::from_slice(&encode("bots", &[record])).unwrap();
        let span = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "00000000000000000000000000000102");
        assert_eq!(span["spanId"], "00000000000000ab");
        assert_eq!(span["parentSpanId"], "00000000000000cd");
        assert_eq!(span["kind"], 3);
        assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(span["attributes"][1], json!({"key": "n", "value": {"intValue": "-3"}}));
        assert_eq!(span["status"], json!({"code": 2, "message": "refused"}));
        let service = &body["resourceSpans"][0]["resource"]["attributes"][0];
        assert_eq!(service, &json!({"key": "service.name", "value": {"stringValue": "bots"}}));
    }
}
