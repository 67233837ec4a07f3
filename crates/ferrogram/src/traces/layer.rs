//! The `tracing` layer that turns the engine's spans (`ferrogram_engine::traces`) into OTLP
//! spans: ids, parent, times and attributes are kept in the span's extensions while it is open,
//! and the finished span is handed to the exporter's bounded queue when it closes. Handing it
//! over never waits: when the queue is full the span is dropped and counted
//! ([`super::export::Dropped`]).

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::export::Dropped;

/// Events kept on one span (warnings and errors logged inside it); later ones are not kept.
const MAX_EVENTS: usize = 16;
/// Longest attribute or event text kept, in bytes.
const MAX_TEXT: usize = 1024;

/// An attribute's value, as OTLP types it.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Text(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

/// How OTLP classes a span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// A span's record, as it is exported.
#[derive(Clone, Debug)]
pub struct SpanRecord {
    pub trace_id: u128,
    pub span_id: u64,
    /// The parent's id; none for a trace's root.
    pub parent: Option<u64>,
    pub name: &'static str,
    pub kind: Kind,
    /// Nanoseconds since the Unix epoch.
    pub start: u64,
    pub end: u64,
    pub attributes: Vec<(&'static str, AttrValue)>,
    /// The `error` field: the span's status is an error with this message.
    pub error: Option<String>,
    /// `(time, level, message)` of the warnings and errors logged inside it.
    pub events: Vec<(u64, &'static str, String)>,
}

/// The layer: spans of targets starting `ferrogram`, sent to `queue` as they close.
pub struct OtlpLayer {
    queue: mpsc::Sender<SpanRecord>,
    dropped: Dropped,
}

impl OtlpLayer {
    pub fn new(queue: mpsc::Sender<SpanRecord>, dropped: Dropped) -> OtlpLayer {
        OtlpLayer { queue, dropped }
    }
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
}

/// A random span id, never zero.
fn new_span_id() -> u64 {
    fastrand::u64(1..)
}

fn kind_of(name: &str) -> Kind {
    match name {
        "update" => Kind::Server,
        "telegram" | "http" | "llm" => Kind::Client,
        _ => Kind::Internal,
    }
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_TEXT {
        let mut at = MAX_TEXT;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    text
}

/// Reads a span's fields into its record: `trace_id` sets the trace (a root's), `error` the
/// status, the others are attributes (a field recorded again replaces its value).
struct Fields<'a>(&'a mut SpanRecord);

impl Fields<'_> {
    fn set(&mut self, field: &Field, value: AttrValue) {
        let record = &mut *self.0;
        match (field.name(), value) {
            ("trace_id", AttrValue::Text(hex)) => {
                if let Ok(id) = u128::from_str_radix(&hex, 16)
                    && id != 0
                    && hex.len() == 32
                {
                    record.trace_id = id;
                }
            }
            ("error", value) => {
                record.error = Some(match value {
                    AttrValue::Text(text) => cut(text),
                    other => format!("{other:?}"),
                })
            }
            (name, value) => match record.attributes.iter_mut().find(|(key, _)| *key == name) {
                Some((_, old)) => *old = value,
                None => record.attributes.push((name, value)),
            },
        }
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field, AttrValue::Text(cut(format!("{value:?}"))));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, AttrValue::Text(cut(value.to_owned())));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, AttrValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        // OTLP integers are signed: a larger one is kept as its digits.
        let value = i64::try_from(value).map_or_else(|_| AttrValue::Text(value.to_string()), AttrValue::Int);
        self.set(field, value);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, AttrValue::Double(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, AttrValue::Bool(value));
    }
}

/// An event's message.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = cut(format!("{value:?}"));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = cut(value.to_owned());
        }
    }
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !attrs.metadata().target().starts_with("ferrogram") {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        // The nearest exported ancestor is the parent; without one this is a trace's root.
        let parent = span.scope().skip(1).find_map(|ancestor| {
            ancestor.extensions().get::<SpanRecord>().map(|record| (record.trace_id, record.span_id))
        });
        let name = attrs.metadata().name();
        let mut record = SpanRecord {
            trace_id: parent.map_or_else(|| fastrand::u128(1..), |(trace, _)| trace),
            span_id: new_span_id(),
            parent: parent.map(|(_, span)| span),
            name,
            kind: kind_of(name),
            start: now_nanos(),
            end: 0,
            attributes: Vec::new(),
            error: None,
            events: Vec::new(),
        };
        let root = record.parent.is_none();
        let trace = record.trace_id;
        attrs.record(&mut Fields(&mut record));
        if !root {
            // Only a root names its trace.
            record.trace_id = trace;
        }
        span.extensions_mut().insert(record);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(record) = extensions.get_mut::<SpanRecord>() {
            let trace = record.trace_id;
            values.record(&mut Fields(record));
            record.trace_id = trace;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() > tracing::Level::WARN {
            return;
        }
        let Some(span) = ctx.event_span(event) else { return };
        // The event belongs to the nearest exported span around it.
        let Some(holder) = span.scope().find(|span| span.extensions().get::<SpanRecord>().is_some()) else {
            return;
        };
        let mut extensions = holder.extensions_mut();
        if let Some(record) = extensions.get_mut::<SpanRecord>()
            && record.events.len() < MAX_EVENTS
        {
            let mut message = Message(String::new());
            event.record(&mut message);
            record.events.push((now_nanos(), event.metadata().level().as_str(), message.0));
        }
    }

    /// A span's end is when its work last ran (its last exit), not when its last handle is
    /// dropped: a clone or a child kept a moment longer elsewhere (a finished task not yet
    /// dropped) must not stretch it past the stage that follows it.
    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(record) = span.extensions_mut().get_mut::<SpanRecord>() {
            record.end = record.end.max(now_nanos());
        }
    }

    /// Sent for export; its end also reaches its nearest exported ancestor, which therefore
    /// spans every child even when a child ran outside it (a delivery in another task).
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(mut record) = span.extensions_mut().remove::<SpanRecord>() else { return };
        if record.end == 0 {
            // Never entered: it ended when it was dropped.
            record.end = now_nanos();
        }
        record.end = record.end.max(record.start);
        if let Some(ancestor) = span.scope().skip(1).find(|span| span.extensions().get::<SpanRecord>().is_some())
            && let Some(parent) = ancestor.extensions_mut().get_mut::<SpanRecord>()
        {
            parent.end = parent.end.max(record.end);
        }
        if self.queue.try_send(record).is_err() {
            self.dropped.queue_full(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn children_share_their_roots_trace_and_a_full_queue_drops_and_counts() {
        let (queue, mut spans) = mpsc::channel(2);
        let dropped = Dropped::default();
        let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(queue, dropped.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let trace = "0af7651916cd43dd8448eb211c80319c";
            let root =
                tracing::info_span!(target: "ferrogram::trace", "update", trace_id = trace, ferrogram.chat_id = 7);
            let child = tracing::info_span!(target: "ferrogram::trace", parent: &root, "handler", error = tracing::field::Empty);
            child.record("error", "it failed");
            // Not ours: not exported, and no parent of anything.
            let other = tracing::info_span!(target: "hyper", parent: &child, "connect");
            drop((child, other));
            drop(root);
            let third = tracing::info_span!(target: "ferrogram::trace", "commit");
            drop(third);
        });
        let child = spans.try_recv().expect("the child, closed first");
        let root = spans.try_recv().expect("the root");
        assert!(spans.try_recv().is_err(), "the third did not fit");
        assert_eq!(dropped.total(), 1);
        assert_eq!(format!("{:032x}", root.trace_id), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!((root.parent, root.kind), (None, Kind::Server));
        assert_eq!(root.attributes, vec![("ferrogram.chat_id", AttrValue::Int(7))]);
        assert_eq!((child.trace_id, child.parent), (root.trace_id, Some(root.span_id)));
        assert_eq!(child.error.as_deref(), Some("it failed"));
        assert!(child.end >= child.start && root.end >= child.end);
    }
}
