//! The broadcasts page's compose form, read into the API's request (`BroadcastRequest`,
//! `PreviewRequest`), and the API's refusals put back next to its fields.
//!
//! The fields: `text`; `parse_mode` (empty, `HTML` or `MarkdownV2`); `buttons`, one per line
//! as `text | target` (a target starting `http://`, `https://` or `tg://` is a link, anything
//! else the callback data), each on its own row; `variables`, the audience, one condition per
//! line as `name = value` (a value that reads as JSON, `30`, `true`, `"x"`, is that value, any
//! other the text as written); `when`, `now` or `at`, with `at` a `YYYY-MM-DDTHH:MM` time in
//! UTC (what `<input type="datetime-local">` sends); and `user`, the user id to preview for.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::broadcasts::{BroadcastRequest, PreviewRequest};
use crate::api::problem::Problem;
use crate::broadcasts::audience::Audience;
use crate::broadcasts::message::{Button, Message};

/// The compose form as sent (and shown again when refused).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ComposeForm {
    #[serde(default, skip_serializing)]
    pub csrf: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub parse_mode: String,
    #[serde(default)]
    pub buttons: String,
    #[serde(default)]
    pub variables: String,
    #[serde(default)]
    pub when: String,
    #[serde(default)]
    pub at: String,
    #[serde(default)]
    pub user: String,
}

/// What is wrong, by the form's field: `text`, `parse_mode`, `buttons`, `variables` (the
/// audience), `at`, `user`, and `general` for the rest.
pub type FieldErrors = Map<String, Value>;

fn add(errors: &mut FieldErrors, field: &str, detail: impl Into<String>) {
    let detail = detail.into();
    match errors.get_mut(field) {
        Some(Value::String(text)) => {
            text.push_str("; ");
            text.push_str(&detail);
        }
        _ => {
            errors.insert(field.to_owned(), Value::String(detail));
        }
    }
}

/// `text | target` lines as buttons, one per row.
fn buttons(lines: &str, errors: &mut FieldErrors) -> Vec<Vec<Button>> {
    let mut rows = Vec::new();
    for (n, line) in lines.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let Some((text, target)) = line.rsplit_once('|') else {
            add(errors, "buttons", format!("line {}: write `text | link or callback data`", n + 1));
            continue;
        };
        let (text, target) = (text.trim().to_owned(), target.trim().to_owned());
        let link = ["http://", "https://", "tg://"].iter().any(|s| target.starts_with(s));
        let (url, callback_data) = if link { (Some(target), None) } else { (None, Some(target)) };
        rows.push(vec![Button { text, url, callback_data }]);
    }
    rows
}

/// `name = value` lines as the audience's variables.
fn variables(lines: &str, errors: &mut FieldErrors) -> Map<String, Value> {
    let mut found = Map::new();
    for (n, line) in lines.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let Some((name, value)) = line.split_once('=') else {
            add(errors, "variables", format!("line {}: write `name = value`", n + 1));
            continue;
        };
        let name = name.trim().trim_start_matches("user.").to_owned();
        if name.is_empty() {
            add(errors, "variables", format!("line {}: a variable's name is missing", n + 1));
            continue;
        }
        let value = value.trim();
        let value = serde_json::from_str::<Value>(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        found.insert(name, value);
    }
    found
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM[:SS]` (UTC) as Unix seconds.
pub fn utc_seconds(text: &str) -> Option<i64> {
    let (date, time) = text.trim().split_once(['T', ' '])?;
    let date: Vec<i64> = date.split('-').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let time: Vec<i64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let ([y, m, d], [hh, mm, rest @ ..]) = (date.as_slice(), time.as_slice()) else { return None };
    let ss = rest.first().copied().unwrap_or(0);
    let days_in = [
        31,
        if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(m)
        && (1..=days_in[(*m - 1) as usize]).contains(d)
        && (0..24).contains(hh)
        && (0..60).contains(mm)
        && (0..60).contains(&ss)
        && rest.len() <= 1;
    valid.then(|| days_from_civil(*y, *m, *d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

impl ComposeForm {
    fn message(&self, errors: &mut FieldErrors) -> Message {
        let parse_mode = match self.parse_mode.trim() {
            "" => None,
            mode => Some(mode.to_owned()),
        };
        Message {
            text: self.text.replace("\r\n", "\n"),
            parse_mode,
            buttons: buttons(&self.buttons, errors),
            media: None,
        }
    }

    fn audience(&self, errors: &mut FieldErrors) -> Audience {
        Audience { variables: variables(&self.variables, errors), ..Audience::default() }
    }

    /// The broadcast to make, or the fields' errors (nothing is asked of the API then).
    pub fn request(&self) -> Result<BroadcastRequest, FieldErrors> {
        let mut errors = FieldErrors::new();
        let message = self.message(&mut errors);
        let audience = self.audience(&mut errors);
        let scheduled_at = if self.when == "at" {
            match utc_seconds(&self.at) {
                Some(at) => Some(at),
                None => {
                    add(&mut errors, "at", "a date and time (UTC)");
                    None
                }
            }
        } else {
            None
        };
        if errors.is_empty() { Ok(BroadcastRequest { message, audience, scheduled_at }) } else { Err(errors) }
    }

    /// The preview to ask for, or the fields' errors.
    pub fn preview(&self) -> Result<PreviewRequest, FieldErrors> {
        let mut errors = FieldErrors::new();
        let message = self.message(&mut errors);
        let audience = self.audience(&mut errors);
        let user = match self.user.trim() {
            "" => None,
            id => match id.parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => {
                    add(&mut errors, "user", "a user id (digits)");
                    None
                }
            },
        };
        if errors.is_empty() { Ok(PreviewRequest { message, audience, user }) } else { Err(errors) }
    }
}

/// The API's refusal (422) next to the form's fields, by its pointers.
pub fn errors_of(problem: &Problem) -> FieldErrors {
    let mut errors = FieldErrors::new();
    for error in &problem.errors {
        let pointer = error.pointer.as_deref().unwrap_or_default();
        let field = if pointer.starts_with("/message/text") || pointer == "/message" {
            "text"
        } else if pointer.starts_with("/message/parse_mode") {
            "parse_mode"
        } else if pointer.starts_with("/message/buttons") {
            "buttons"
        } else if pointer.starts_with("/audience") {
            "variables"
        } else if pointer.starts_with("/scheduled_at") {
            "at"
        } else if pointer.starts_with("/user") {
            "user"
        } else {
            "general"
        };
        add(&mut errors, field, error.detail.clone());
    }
    if errors.is_empty() {
        add(&mut errors, "general", problem.detail.clone());
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_form_reads_as_the_apis_request() {
        let form = ComposeForm {
            text: "Hi {{ from.first_name }}\r\nbye".into(),
            buttons: "Shop | https://shop.example\n\nStop | unsubscribe\n".into(),
            variables: "plan = pro\nuser.age = 30\nvip = true".into(),
            when: "at".into(),
            at: "2026-12-08T01:30".into(),
            ..ComposeForm::default()
        };
        let request = form.request().unwrap();
        assert_eq!(request.message.text, "Hi {{ from.first_name }}\nbye");
        assert_eq!(request.message.buttons.len(), 2);
        assert_eq!(request.message.buttons[0][0].url.as_deref(), Some("https://shop.example"));
        assert_eq!(request.message.buttons[1][0].callback_data.as_deref(), Some("unsubscribe"));
        assert_eq!(json!(request.audience.variables), json!({"plan": "pro", "age": 30, "vip": true}));
        assert_eq!(request.scheduled_at, Some(1_796_693_400));
    }

    #[test]
    fn bad_lines_and_times_are_told_by_field() {
        let form = ComposeForm {
            text: "x".into(),
            buttons: "no target here".into(),
            variables: "plan pro".into(),
            when: "at".into(),
            at: "2026-02-30T10:00".into(),
            ..ComposeForm::default()
        };
        let errors = form.request().unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["buttons", "variables", "at"]);
        assert_eq!(utc_seconds("1970-01-01T00:00"), Some(0));
        assert_eq!(utc_seconds("2024-02-29T23:59:59"), Some(1_709_251_199));
        assert_eq!(utc_seconds("2024-13-01T00:00"), None);
    }
}
