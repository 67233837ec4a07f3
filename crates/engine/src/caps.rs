//! Size caps on what a bot's steps make: the text one template render outputs, one variable's
//! value and one collection record. A bot file decides what its templates compute and a user
//! decides what they send, so without these one self-doubling variable fills memory and the
//! database in a few messages.
//!
//! Each cap is checked in the engine before anything is committed or written, so it holds for
//! every store (memory, SQLite, PostgreSQL). A value over a cap fails its step with an error
//! that names the cap: the handler fails through the bot's error handler (the user is told)
//! and the stored value stays as it was. Sizes are counted in bytes of UTF-8 (template output)
//! or of compact JSON (variables, records), and counting stops as soon as the cap is passed, so
//! checking a huge value costs no more than its first bytes over the cap.
//!
//! The values a single render builds internally before it outputs them are capped by
//! [`crate::interpret::template`] (each at the template output cap, all of them at
//! [`crate::interpret::template::RENDER_BUDGET_VALUES`] times it), through a patch of the vendored
//! minijinja (decision 0027).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::EngineError;

/// Bytes one template render may output. Default of [`SizeCaps::template_output`].
pub const DEFAULT_TEMPLATE_OUTPUT: usize = 1 << 20;
/// Bytes of one variable's value as JSON. Default of [`SizeCaps::variable`].
pub const DEFAULT_VARIABLE: usize = 1 << 20;
/// Bytes of one record's fields as JSON. Default of [`SizeCaps::record`].
pub const DEFAULT_RECORD: usize = 1 << 20;

/// The size caps of an engine (see the module docs); part of [`crate::EngineConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeCaps {
    /// Bytes one template render may output (a reply, a `set` value, an `http` body, an `llm`
    /// prompt…); an expression's value counts as its JSON. Also each value a render builds,
    /// output or not (the template value cap). Default 1 MiB.
    pub template_output: usize,
    /// Bytes of one variable's value, as JSON: `set`, forms, `http`'s `save`, `llm` memory and
    /// usage all write through it. Default 1 MiB.
    pub variable: usize,
    /// Bytes of one collection record's fields, as JSON, after an `insert` or an `update`.
    /// Default 1 MiB.
    pub record: usize,
}

impl Default for SizeCaps {
    fn default() -> Self {
        SizeCaps { template_output: DEFAULT_TEMPLATE_OUTPUT, variable: DEFAULT_VARIABLE, record: DEFAULT_RECORD }
    }
}

impl SizeCaps {
    /// Fails (naming the cap) when `value`, to be written to the variable `key`, is over
    /// [`SizeCaps::variable`].
    pub fn check_variable(&self, key: &str, value: &Value) -> Result<(), EngineError> {
        if json_within(value, self.variable) {
            return Ok(());
        }
        Err(EngineError::Step(format!(
            "{key}: the value is larger than {} (the variable size cap)",
            bytes(self.variable)
        )))
    }

    /// Fails (naming the cap) when the fields of a record of `collection`, to be written, are
    /// over [`SizeCaps::record`].
    pub fn check_record(&self, collection: &str, fields: &Map<String, Value>) -> Result<(), EngineError> {
        if json_within(fields, self.record) {
            return Ok(());
        }
        Err(EngineError::Step(format!(
            "{collection}: the record is larger than {} (the record size cap)",
            bytes(self.record)
        )))
    }
}

/// `n` bytes as people read it: `1 MiB`, `64 KiB`, or `1000 bytes`.
pub fn bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// Whether `value` serializes to at most `limit` bytes of compact JSON. Serializing stops at the
/// first byte over the limit.
pub fn json_within<T: Serialize + ?Sized>(value: &T, limit: usize) -> bool {
    let mut counter = CappedWriter::new(io::sink(), limit);
    serde_json::to_writer(&mut counter, value).is_ok() && !counter.overflowed
}

/// A writer that takes at most `limit` bytes: a write past it fails and sets `overflowed`, so
/// a producer writing into it (a template render, a serializer) stops there.
pub struct CappedWriter<W> {
    inner: W,
    left: usize,
    /// Whether a write passed the limit.
    pub overflowed: bool,
}

impl<W: Write> CappedWriter<W> {
    pub fn new(inner: W, limit: usize) -> Self {
        CappedWriter { inner, left: limit, overflowed: false }
    }

    /// What was written.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CappedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.left {
            self.overflowed = true;
            return Err(io::Error::other("size cap reached"));
        }
        self.left -= buf.len();
        self.inner.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_size_is_counted_up_to_the_limit() {
        let value = json!({"a": "x".repeat(10)});
        let len = serde_json::to_string(&value).unwrap().len();
        assert!(json_within(&value, len));
        assert!(!json_within(&value, len - 1));
    }

    #[test]
    fn a_write_past_the_limit_fails_and_keeps_what_fit() {
        let mut writer = CappedWriter::new(Vec::new(), 5);
        writer.write_all(b"abc").unwrap();
        assert!(writer.write_all(b"def").is_err());
        assert!(writer.overflowed);
        assert_eq!(writer.into_inner(), b"abc");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(bytes(1 << 20), "1 MiB");
        assert_eq!(bytes(64 << 10), "64 KiB");
        assert_eq!(bytes(1000), "1000 bytes");
    }
}
