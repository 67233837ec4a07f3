//! Incoming updates, decoded one by one.
//!
//! Telegram adds update kinds and fields faster than any type library follows. Decoding a
//! whole `getUpdates` batch as `Vec<Update>` would make one unfamiliar update fail the batch,
//! and the bot would either stall on it or skip its neighbours. Each update is decoded on its
//! own; one that does not fit becomes [`IncomingUpdate::Unknown`] with its raw JSON, so it can
//! still be stored, acknowledged and inspected.

use frankenstein::updates::Update;
use serde_json::Value;

/// One update from getUpdates or a webhook.
#[derive(Clone, Debug, PartialEq)]
pub enum IncomingUpdate {
    /// An update frankenstein's types describe.
    Known(Box<Update>),
    /// An update that did not decode (a new kind, or a field of an unexpected type).
    Unknown { update_id: i64, raw: Value },
}

impl IncomingUpdate {
    /// Decodes one raw update. `None` only when it has no usable `update_id`, which makes it
    /// impossible to acknowledge or deduplicate; that is logged as a warning naming the
    /// update's keys, never its values (they may hold personal data).
    pub fn from_value(raw: Value) -> Option<Self> {
        let Some(update_id) = raw.get("update_id").and_then(Value::as_i64) else {
            let keys: Vec<&str> = raw.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
            tracing::warn!(?keys, "update without an update_id skipped");
            return None;
        };
        match crate::frankenstein_gaps::decode::<Update>(&raw) {
            Ok(update) => Some(IncomingUpdate::Known(Box::new(update))),
            Err(error) => {
                tracing::warn!(update_id, %error, "update not understood, kept as raw JSON");
                Some(IncomingUpdate::Unknown { update_id, raw })
            }
        }
    }

    /// Decodes a batch, keeping every update that has an id.
    pub fn from_batch(raw: Vec<Value>) -> Vec<Self> {
        raw.into_iter().filter_map(Self::from_value).collect()
    }

    pub fn update_id(&self) -> i64 {
        match self {
            IncomingUpdate::Known(update) => i64::from(update.update_id),
            IncomingUpdate::Unknown { update_id, .. } => *update_id,
        }
    }

    /// The decoded update, if it was understood.
    pub fn known(&self) -> Option<&Update> {
        match self {
            IncomingUpdate::Known(update) => Some(update),
            IncomingUpdate::Unknown { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frankenstein::updates::UpdateContent;
    use serde_json::json;

    fn message_update(id: i64, text: &str) -> Value {
        json!({
            "update_id": id,
            "message": {
                "message_id": 7,
                "date": 1_700_000_000,
                "chat": {"id": 42, "type": "private", "first_name": "Ann"},
                "from": {"id": 42, "is_bot": false, "first_name": "Ann"},
                "text": text
            }
        })
    }

    #[test]
    fn unknown_update_kind_does_not_drop_the_batch() {
        let batch = vec![
            message_update(10, "hi"),
            json!({"update_id": 11, "holographic_call": {"id": "x", "dimensions": 4}}),
            message_update(12, "there"),
        ];
        let updates = IncomingUpdate::from_batch(batch);
        let ids: Vec<_> = updates.iter().map(IncomingUpdate::update_id).collect();
        assert_eq!(ids, [10, 11, 12]);
        match &updates[0] {
            IncomingUpdate::Known(u) => match &u.content {
                UpdateContent::Message(m) => assert_eq!(m.text.as_deref(), Some("hi")),
                other => panic!("unexpected content {other:?}"),
            },
            other => panic!("expected a known update, got {other:?}"),
        }
        match &updates[1] {
            IncomingUpdate::Unknown { update_id, raw } => {
                assert_eq!(*update_id, 11);
                assert_eq!(raw["holographic_call"]["dimensions"], 4);
            }
            other => panic!("expected an unknown update, got {other:?}"),
        }
        assert!(updates[2].known().is_some());
    }

    #[test]
    fn known_kind_with_malformed_field_is_kept_raw() {
        let mut raw = message_update(5, "x");
        raw["message"]["message_id"] = json!("not a number");
        let update = IncomingUpdate::from_value(raw.clone()).expect("has an id");
        assert_eq!(update, IncomingUpdate::Unknown { update_id: 5, raw });
    }

    /// A `tracing` writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn update_without_id_is_skipped_and_logged_without_its_content() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber =
            tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).without_time().finish();
        let batch = vec![
            json!({"message": {"text": "my phone is 555-0199"}, "update_idd": 4}),
            message_update(3, "ok"),
            json!("not even an object"),
        ];
        let updates = tracing::subscriber::with_default(subscriber, || IncomingUpdate::from_batch(batch));
        let ids: Vec<_> = updates.iter().map(IncomingUpdate::update_id).collect();
        assert_eq!(ids, [3], "the rest of the batch is kept");
        let log = String::from_utf8_lossy(&captured.0.lock()).into_owned();
        let lines: Vec<_> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(lines.iter().all(|l| l.starts_with(" WARN") || l.starts_with("WARN")), "{log}");
        assert!(lines[0].contains(r#"keys=["message", "update_idd"]"#), "{log}");
        assert!(!log.contains("555-0199") && !log.contains("not even"), "values logged: {log}");
    }
}
