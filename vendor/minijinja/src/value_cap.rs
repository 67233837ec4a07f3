//! FERROGRAM PATCH (not part of upstream minijinja 3.0.5): a cap on the size of the values
//! one render builds.
//!
//! Fuel counts instructions, not bytes, so without this a template can double a string sixty
//! times (a namespace in a loop, a recursive loop, `a ~ a ~ a`, `join` of a repeated list…)
//! and exhaust the host's memory within its fuel. Upstream offers no hook into the operators
//! or the built-in filters, so this module is compiled into the crate and consulted by them.
//!
//! The cap is per thread and off unless a [`ValueCap`] guard is alive on that thread, so the
//! crate behaves exactly as upstream outside such a guard. Inside one:
//!
//! - no single string built by an operator (`~`, `+`, `*`, slicing), a built-in filter or
//!   function, a `{% set %}` / `{% filter %}` block capture, or a conversion of a value to a
//!   string is longer than `max_value` bytes, and no sequence built by `+` / `*` or returned
//!   by a filter or function has more than `max_value / size_of::<Value>()` items: the
//!   check happens before (or while) the bytes are written, so an over-cap value is never
//!   allocated;
//! - everything built that way, plus every item any iteration yields (each counted as one
//!   `Value`) and every object compared or hashed (eight), is charged to `budget` bytes for
//!   the whole render, which bounds what a render builds in total however many small values
//!   it keeps, and how long one instruction can walk a structure that shares its parts;
//! - the first refusal *trips* the guard: the operation that hit it fails (or, where it cannot
//!   fail, such as an iterator's `next`, stops short) and the VM fails the render at its next
//!   instruction. [`ValueCap::tripped`] tells the caller which cap it was, so the caller can
//!   word the error.
//!
//! How to drop this patch: when upstream gains a size hook (a per-environment max value size
//! or an allocation budget checked by its operators and filters), use it in
//! `crates/engine/src/template.rs` and remove `vendor/minijinja` and the `[patch.crates-io]`
//! entry. Every patched site is marked `FERROGRAM PATCH`.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use crate::error::{Error, ErrorKind};
use crate::value::Value;

/// Which cap a render ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tripped {
    /// One value would have been larger than `max_value`.
    Value,
    /// The values built during the render would have been more than `budget` in total.
    Budget,
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    max_value: usize,
    budget: usize,
    spent: usize,
    tripped: Option<Tripped>,
}

thread_local! {
    static LIMITS: Cell<Option<Limits>> = const { Cell::new(None) };
}

/// Bytes charged per item of a sequence, and per item an iteration yields.
pub(crate) const ITEM_BYTES: usize = std::mem::size_of::<Value>();

/// Caps the values built on this thread while it is alive (see the module docs); restores the
/// previous cap (usually none) when dropped. Not `Send`: the cap belongs to the thread.
#[derive(Debug)]
pub struct ValueCap {
    previous: Option<Limits>,
    _thread_bound: PhantomData<*const ()>,
}

impl ValueCap {
    /// Starts capping: one value at most `max_value` bytes, all values built at most `budget`.
    pub fn enter(max_value: usize, budget: usize) -> ValueCap {
        let limits = Limits { max_value, budget, spent: 0, tripped: None };
        ValueCap { previous: LIMITS.with(|l| l.replace(Some(limits))), _thread_bound: PhantomData }
    }

    /// The `max_value` of the innermost guard alive on this thread, if any: a nested render
    /// (a function that renders another template) caps its output with it.
    pub fn current_max_value() -> Option<usize> {
        LIMITS.with(|l| l.get().map(|l| l.max_value))
    }

    /// The cap the render ran into, if any.
    pub fn tripped(&self) -> Option<Tripped> {
        LIMITS.with(|l| l.get().and_then(|l| l.tripped))
    }
}

impl Drop for ValueCap {
    fn drop(&mut self) {
        LIMITS.with(|l| l.set(self.previous));
    }
}

fn trip(mut limits: Limits, why: Tripped) -> bool {
    if limits.tripped.is_none() {
        limits.tripped = Some(why);
    }
    LIMITS.with(|l| l.set(Some(limits)));
    false
}

/// Whether a string of `bytes` may be built; charges it to the budget. `false` trips the cap.
pub(crate) fn allow(bytes: usize) -> bool {
    let Some(mut limits) = LIMITS.with(|l| l.get()) else {
        return true;
    };
    if limits.tripped.is_some() {
        return false;
    }
    if bytes > limits.max_value {
        return trip(limits, Tripped::Value);
    }
    limits.spent = limits.spent.saturating_add(bytes);
    if limits.spent > limits.budget {
        return trip(limits, Tripped::Budget);
    }
    LIMITS.with(|l| l.set(Some(limits)));
    true
}

/// Whether a sequence of `items` may be built; charges it to the budget.
pub(crate) fn allow_items(items: usize) -> bool {
    allow(items.saturating_mul(ITEM_BYTES))
}

/// Fails (tripping the cap) when a value of `len` bytes or items would be over the cap;
/// charges nothing (the finished value is charged where it is returned).
pub(crate) fn within(len: usize) -> Result<(), Error> {
    if within_max(len) {
        Ok(())
    } else {
        allow(usize::MAX);
        Err(error())
    }
}

/// [`allow`] as a `Result` with [`error`].
pub(crate) fn check_len(bytes: usize) -> Result<(), Error> {
    if allow(bytes) {
        Ok(())
    } else {
        Err(error())
    }
}

/// Charges a value a filter or function returned: its bytes if a string, its items if a
/// sequence or map of known length.
pub(crate) fn check_returned(value: &Value) -> Result<(), Error> {
    if let Some(s) = value.as_str() {
        check_len(s.len())
    } else if let Some(len) = value.as_object().and_then(|o| o.enumerator_len()) {
        check_len(len.saturating_mul(ITEM_BYTES))
    } else {
        Ok(())
    }
}

/// The error of a refused value; the caller words the user-facing one from
/// [`ValueCap::tripped`].
pub(crate) fn error() -> Error {
    Error::new(ErrorKind::InvalidOperation, "a value grew past the template value cap")
}

/// Fails once the cap has tripped; the VM calls this before every instruction.
#[inline]
pub(crate) fn check_not_tripped() -> Result<(), Error> {
    match LIMITS.with(|l| l.get()) {
        Some(Limits { tripped: Some(_), .. }) => Err(error()),
        _ => Ok(()),
    }
}

/// A string buffer that refuses to grow past the cap (its writes fail once they would).
#[derive(Debug, Default)]
pub(crate) struct CappedString {
    buf: String,
}

impl CappedString {
    pub(crate) fn new() -> CappedString {
        CappedString::default()
    }

    /// Appends `s`, or fails (tripping the cap) when the buffer would pass the cap.
    pub(crate) fn push_str(&mut self, s: &str) -> Result<(), Error> {
        if within_max(self.buf.len().saturating_add(s.len())) {
            self.buf.push_str(s);
            Ok(())
        } else {
            allow(usize::MAX);
            Err(error())
        }
    }

    /// The string, charged to the budget.
    pub(crate) fn finish(self) -> Result<String, Error> {
        ok!(check_len(self.buf.len()));
        Ok(self.buf)
    }

    /// The text so far.
    #[allow(dead_code)] // only with the `urlencode` feature
    pub(crate) fn as_str(&self) -> &str {
        &self.buf
    }

    /// The string, not charged (the caller charges it by other means).
    pub(crate) fn into_inner(self) -> String {
        self.buf
    }
}

impl fmt::Write for CappedString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s).map_err(|_| fmt::Error)
    }
}

fn within_max(len: usize) -> bool {
    LIMITS.with(|l| l.get()).is_none_or(|l| len <= l.max_value)
}

/// `value.to_string()`, but it stops (and fails) as soon as the text would pass the cap, so a
/// sequence that shares one value a billion times costs no more than the cap to try.
pub(crate) fn to_string(value: &dyn fmt::Display) -> Result<String, Error> {
    use fmt::Write;
    let mut out = CappedString::new();
    match write!(out, "{value}") {
        Ok(()) => out.finish(),
        Err(_) => Err(error()),
    }
}

/// Charges one object compared or hashed (as [`OBJECT_VISIT_ITEMS`] items: a visit walks
/// into the object, dearer than yielding an item); `false` (tripping the budget) means the
/// caller gives up on the comparison or hash (the render fails at its next instruction).
#[inline]
pub(crate) fn allow_object_visit() -> bool {
    match LIMITS.with(|l| l.get()) {
        None => true,
        Some(_) => allow(OBJECT_VISIT_ITEMS * ITEM_BYTES),
    }
}

/// Items charged per object compared or hashed.
pub(crate) const OBJECT_VISIT_ITEMS: usize = 8;

/// Charges one item an iteration yields; `false` (tripping the budget) ends the iteration.
#[inline]
pub(crate) fn allow_iteration_item() -> bool {
    match LIMITS.with(|l| l.get()) {
        None => true,
        Some(_) => allow(ITEM_BYTES),
    }
}
