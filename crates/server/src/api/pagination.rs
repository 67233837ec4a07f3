//! Cursor pagination: a list takes `?limit=` (1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent)
//! and `?cursor=` (the `next_cursor` of the page before), and answers `{"items": [...],
//! "next_cursor": "…" | null}`; `null` means the list is over. A cursor is opaque to clients:
//! base64url of the sort key of the last item given, so a list that changes between pages
//! neither repeats nor skips what was already there.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problem::{FieldError, Problem};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` when there is none.
    pub next_cursor: Option<String>,
}

/// The query of a list that takes nothing but its page (versions, secrets, webhooks).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The limit asked for, checked: 400 outside 1..=MAX_LIMIT.
pub fn limit(asked: Option<u32>) -> Result<u32, Problem> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Problem::bad_request(format!("limit {n} is out of range"))
            .with_errors(vec![FieldError::parameter("limit", format!("between 1 and {MAX_LIMIT}"))])),
    }
}

/// The cursor for the page after the item keyed `key`.
pub fn cursor_after(key: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.to_string())
}

/// The key a cursor continues after: 400 when it is not one of ours.
pub fn key_of(cursor: Option<&str>) -> Result<Option<i64>, Problem> {
    let Some(cursor) = cursor else { return Ok(None) };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::bad_request("the cursor is not one this API gave")
                .with_errors(vec![FieldError::parameter("cursor", "use the next_cursor of the previous page")])
        })
}

/// The text key a cursor continues after, for a list sorted by a name (see [`page_by_text`]):
/// 400 when it is not one of ours.
pub fn text_key_of(cursor: Option<&str>) -> Result<Option<String>, Problem> {
    let Some(cursor) = cursor else { return Ok(None) };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::bad_request("the cursor is not one this API gave")
                .with_errors(vec![FieldError::parameter("cursor", "use the next_cursor of the previous page")])
        })
}

/// [`page`] for a list sorted by a unique text key (a name).
pub fn page_by_text<T, U>(
    items: impl IntoIterator<Item = T>,
    limit: u32,
    key: impl Fn(&T) -> String,
    view: impl Fn(T) -> U,
) -> Page<U> {
    let mut items: Vec<T> = items.into_iter().take(limit as usize + 1).collect();
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(|last| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key(last)))
    } else {
        None
    };
    Page { items: items.into_iter().map(view).collect(), next_cursor }
}

/// One page of `items` (already in list order and past the cursor): at most `limit` of them,
/// with the cursor after the last when more remain.
pub fn page<T, U>(
    items: impl IntoIterator<Item = T>,
    limit: u32,
    key: impl Fn(&T) -> i64,
    view: impl Fn(T) -> U,
) -> Page<U> {
    let mut items: Vec<T> = items.into_iter().take(limit as usize + 1).collect();
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more { items.last().map(|last| cursor_after(key(last))) } else { None };
    Page { items: items.into_iter().map(view).collect(), next_cursor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_pages_end() {
        assert_eq!(key_of(Some(&cursor_after(42))).unwrap(), Some(42));
        assert_eq!(key_of(Some("!!")).unwrap_err().status, 400);
        let first = page(1..=5, 2, |n| *n, |n| n);
        assert_eq!((first.items, first.next_cursor), (vec![1, 2], Some(cursor_after(2))));
        let last = page(5..=5, 2, |n| *n, |n| n);
        assert_eq!((last.items, last.next_cursor), (vec![5], None));
        assert_eq!(limit(Some(0)).unwrap_err().status, 400);
    }
}
