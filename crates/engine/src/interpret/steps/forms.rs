//! Forms: fields asked one by one, each answer checked; a wrong one is asked again with the
//! reason; the cancel text (default `/cancel`) runs `on_cancel`, the last answer `on_done`.
//!
//! While a form is in progress every message of the chat is an answer (or the cancel text);
//! pressed buttons other than a choice field's go to the handlers as usual. In a scene with
//! `roles`, only the users they allow answer (in a group, others' messages go to the handlers).

use ferrogram_schema::{FieldType, Form, FormField, FormStore};
use serde_json::{Map, Value, json};

use crate::error::EngineError;
use crate::interpret::steps::run::Run;
use crate::interpret::steps::variables::number_value;
use crate::update::EventKind;
use ferrogram_core::{FormProgress, StepsAt};

/// Callback data of a choice field's buttons: `__form:<index of the choice>`.
const CHOICE_PREFIX: &str = "__form:";
const DEFAULT_CANCEL: &str = "/cancel";

/// Starts `form` of `scene` and asks its first field.
pub async fn start<'a>(run: &mut Run<'a>, scene: &str, form: &'a Form) -> Result<(), EngineError> {
    run.state.form = Some(FormProgress { scene: scene.to_owned(), field: 0, answers: Map::new() });
    run.set_ctx("form", json!({}));
    match form.fields.first() {
        Some(field) => ask(run, field, None).await,
        None => finish(run, scene, form, Map::new()).await,
    }
}

/// Treats the update as an answer; false when it is not one (a pressed button of another
/// message, an inline query…) and handlers should see it.
pub async fn on_update(run: &mut Run<'_>) -> Result<bool, EngineError> {
    let Some(progress) = run.state.form.clone() else {
        return Ok(false);
    };
    let file = run.file();
    let Some(scene) = file.scenes.get(&progress.scene) else {
        run.state.form = None;
        return Ok(false);
    };
    let Some(form) = scene.form.as_ref() else {
        run.state.form = None;
        return Ok(false);
    };
    if !crate::interpret::guards::scene_allows(scene, &run.roles) {
        return Ok(false);
    }
    let Some(field) = form.fields.get(progress.field) else {
        run.state.form = None;
        return Ok(false);
    };
    run.set_ctx("form", Value::Object(progress.answers.clone()));
    let answer = match &run.event.kind {
        EventKind::Callback { data, id, .. } => {
            let Some(index) = data.strip_prefix(CHOICE_PREFIX) else {
                return Ok(false);
            };
            let id = id.clone();
            run.send("answerCallbackQuery", json!({"callback_query_id": id}));
            run.callback_answered = true;
            let choice = index.parse::<usize>().ok().and_then(|i| field.choices.get(i));
            match choice {
                Some(choice) if field.kind == FieldType::Choice => Ok(json!(choice)),
                _ => Err(Reason::Choice),
            }
        }
        EventKind::Message { text, .. } => {
            let cancel = form.cancel.as_deref().unwrap_or(DEFAULT_CANCEL);
            if text.as_deref().map(str::trim) == Some(cancel) {
                run.state.form = None;
                run.run_root(StepsAt::FormCancel { scene: progress.scene.clone() }, &form.on_cancel).await?;
                return Ok(true);
            }
            validate(field, &run.event.message, text.as_deref())
        }
        EventKind::InlineQuery { .. } | EventKind::PollAnswer | EventKind::Edited { .. } => return Ok(false),
    };
    match answer {
        Err(reason) => {
            let reason = match &field.invalid {
                Some(invalid) => run.text(invalid)?,
                None => reason.text(&run.locale),
            };
            ask(run, field, Some(reason)).await?;
        }
        Ok(value) => {
            let mut answers = progress.answers;
            answers.insert(field.name.clone(), value.clone());
            if form.store == FormStore::User {
                let raw = match &value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                run.set_var(&format!("user.{}", field.name), Some(raw))?;
            }
            run.set_ctx("form", Value::Object(answers.clone()));
            let next = progress.field + 1;
            match form.fields.get(next) {
                Some(next_field) => {
                    run.state.form = Some(FormProgress { scene: progress.scene, field: next, answers });
                    ask(run, next_field, None).await?;
                }
                None => finish(run, &progress.scene, form, answers).await?,
            }
        }
    }
    Ok(true)
}

async fn finish<'a>(
    run: &mut Run<'a>,
    scene: &str,
    form: &'a Form,
    answers: Map<String, Value>,
) -> Result<(), EngineError> {
    run.state.form = None;
    run.set_ctx("form", Value::Object(answers));
    run.run_root(StepsAt::FormDone { scene: scene.to_owned() }, &form.on_done).await?;
    Ok(())
}

/// Sends the field's question (after the reason the last answer was wrong), with a choice
/// field's buttons.
async fn ask(run: &mut Run<'_>, field: &FormField, reason: Option<String>) -> Result<(), EngineError> {
    let question = run.text(&field.ask)?;
    let text = match reason {
        Some(reason) => format!("{reason}\n{question}"),
        None => question,
    };
    let mut params = json!({"chat_id": run.event.chat_id, "text": text});
    if field.kind == FieldType::Choice {
        let rows: Vec<Vec<Value>> = field
            .choices
            .iter()
            .enumerate()
            .map(|(i, choice)| vec![json!({"text": choice, "callback_data": format!("{CHOICE_PREFIX}{i}")})])
            .collect();
        params["reply_markup"] = json!({"inline_keyboard": rows});
    }
    run.send("sendMessage", params);
    Ok(())
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq)]
enum Reason {
    Text,
    TooShort(u32),
    TooLong(u32),
    Number,
    TooSmall(f64),
    TooBig(f64),
    Date,
    Choice,
    Pattern,
    Photo,
    Location,
    Contact,
    /// A word of the profanity list (`clean: true`).
    Profanity,
    /// A city not on the list.
    City,
}

impl Reason {
    /// The reason in the user's language (English unless Russian).
    fn text(&self, locale: &str) -> String {
        let ru = locale.starts_with("ru");
        let n = |x: f64| number_value(x).to_string();
        match (self, ru) {
            (Reason::Text, false) => "Please send text.".into(),
            (Reason::Text, true) => "Пожалуйста, отправьте текст.".into(),
            (Reason::TooShort(min), false) => format!("At least {min} characters, please."),
            (Reason::TooShort(min), true) => format!("Нужно не меньше {min} символов."),
            (Reason::TooLong(max), false) => format!("At most {max} characters, please."),
            (Reason::TooLong(max), true) => format!("Нужно не больше {max} символов."),
            (Reason::Number, false) => "Please send a number.".into(),
            (Reason::Number, true) => "Пожалуйста, отправьте число.".into(),
            (Reason::TooSmall(min), false) => format!("The number must be at least {}.", n(*min)),
            (Reason::TooSmall(min), true) => format!("Число должно быть не меньше {}.", n(*min)),
            (Reason::TooBig(max), false) => format!("The number must be at most {}.", n(*max)),
            (Reason::TooBig(max), true) => format!("Число должно быть не больше {}.", n(*max)),
            (Reason::Date, false) => "Please send a date as YYYY-MM-DD or DD.MM.YYYY.".into(),
            (Reason::Date, true) => "Пожалуйста, отправьте дату в виде ГГГГ-ММ-ДД или ДД.ММ.ГГГГ.".into(),
            (Reason::Choice, false) => "Please pick one of the buttons.".into(),
            (Reason::Choice, true) => "Пожалуйста, выберите одну из кнопок.".into(),
            (Reason::Pattern, false) => "That does not look right.".into(),
            (Reason::Pattern, true) => "Похоже, это неверный формат.".into(),
            (Reason::Photo, false) => "Please send a photo.".into(),
            (Reason::Photo, true) => "Пожалуйста, отправьте фото.".into(),
            (Reason::Location, false) => "Please send a location.".into(),
            (Reason::Location, true) => "Пожалуйста, отправьте геопозицию.".into(),
            (Reason::Contact, false) => "Please share a contact.".into(),
            (Reason::Contact, true) => "Пожалуйста, отправьте контакт.".into(),
            (Reason::Profanity, false) => "Please keep it polite.".into(),
            (Reason::Profanity, true) => "Пожалуйста, без грубостей.".into(),
            (Reason::City, false) => "I do not know that city. Please check the spelling, or share a location.".into(),
            (Reason::City, true) => "Не знаю такого города. Проверьте написание или отправьте геопозицию.".into(),
        }
    }
}

/// Checks one answer; the value kept in `form` when it is right.
fn validate(field: &FormField, message: &Value, text: Option<&str>) -> Result<Value, Reason> {
    match field.kind {
        FieldType::Text | FieldType::Regex => {
            let text = text.filter(|_| message.get("text").is_some()).ok_or(Reason::Text)?.trim();
            let length = text.chars().count();
            if let Some(min) = field.min_length.filter(|min| length < *min as usize) {
                return Err(Reason::TooShort(min));
            }
            if let Some(max) = field.max_length.filter(|max| length > *max as usize) {
                return Err(Reason::TooLong(max));
            }
            if field.kind == FieldType::Regex {
                let pattern = field.pattern.as_deref().unwrap_or_default();
                let regex = crate::interpret::patterns::compiled(pattern).map_err(|_| Reason::Pattern)?;
                if !regex.is_match(text) {
                    return Err(Reason::Pattern);
                }
            }
            if field.clean && !crate::interpret::profanity::is_clean(text) {
                return Err(Reason::Profanity);
            }
            Ok(json!(text))
        }
        FieldType::Number => {
            let number: f64 = text
                .and_then(|t| t.trim().replace(',', ".").parse().ok())
                .filter(|n: &f64| n.is_finite())
                .ok_or(Reason::Number)?;
            if let Some(min) = field.min.filter(|min| number < *min) {
                return Err(Reason::TooSmall(min));
            }
            if let Some(max) = field.max.filter(|max| number > *max) {
                return Err(Reason::TooBig(max));
            }
            Ok(number_value(number))
        }
        FieldType::Date => text.and_then(parse_date).map(Value::String).ok_or(Reason::Date),
        FieldType::Choice => {
            let text = text.map(str::trim).ok_or(Reason::Choice)?;
            field.choices.iter().find(|c| c.as_str() == text).map(|c| json!(c)).ok_or(Reason::Choice)
        }
        FieldType::Photo => {
            let photos = message.get("photo").and_then(Value::as_array).ok_or(Reason::Photo)?;
            // The largest size is last, as Telegram sends them.
            photos.last().and_then(|p| p.get("file_id")).cloned().ok_or(Reason::Photo)
        }
        FieldType::Location => message.get("location").cloned().ok_or(Reason::Location),
        FieldType::Contact => message.get("contact").cloned().ok_or(Reason::Contact),
        FieldType::City => {
            let city = match message.get("location") {
                Some(location) => {
                    let coordinate = |key: &str| location.get(key).and_then(Value::as_f64);
                    let (lat, lon) = coordinate("latitude").zip(coordinate("longitude")).ok_or(Reason::City)?;
                    crate::interpret::geo::nearest_city(lat, lon)
                }
                None => text.and_then(crate::interpret::geo::find_city),
            };
            city.map(crate::interpret::geo::City::value).ok_or(Reason::City)
        }
    }
}

/// `YYYY-MM-DD` or `DD.MM.YYYY`, a real calendar date, as `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<String> {
    let text = text.trim();
    let parts: Vec<&str> = if text.contains('-') { text.split('-').collect() } else { text.split('.').collect() };
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let (year, month, day) = if text.contains('-') { (a, b, c) } else { (c, b, a) };
    if year.len() != 4 || !(1..=2).contains(&month.len()) || !(1..=2).contains(&day.len()) {
        return None;
    }
    let (year, month, day): (u32, u32, u32) = (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&day).then(|| format!("{year:04}-{month:02}-{day:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: FieldType) -> FormField {
        FormField {
            name: "f".into(),
            ask: ferrogram_schema::Text::One("?".into()),
            kind,
            min_length: None,
            max_length: None,
            min: None,
            max: None,
            choices: vec![],
            pattern: None,
            clean: false,
            invalid: None,
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2024-02-29").as_deref(), Some("2024-02-29"));
        assert_eq!(parse_date("29.02.2023"), None);
        assert_eq!(parse_date("01.12.1990").as_deref(), Some("1990-12-01"));
        assert_eq!(parse_date("1990-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn numbers_and_texts() {
        let mut age = field(FieldType::Number);
        age.min = Some(18.0);
        age.max = Some(120.0);
        let msg = json!({"text": "x"});
        assert_eq!(validate(&age, &msg, Some("42")), Ok(json!(42)));
        assert_eq!(validate(&age, &msg, Some("12")), Err(Reason::TooSmall(18.0)));
        assert_eq!(validate(&age, &msg, Some("abc")), Err(Reason::Number));
        let mut name = field(FieldType::Text);
        name.min_length = Some(2);
        assert_eq!(validate(&name, &msg, Some("A")), Err(Reason::TooShort(2)));
        assert_eq!(validate(&name, &msg, Some("Ann")), Ok(json!("Ann")));
        assert_eq!(validate(&name, &json!({"photo": []}), Some("caption")), Err(Reason::Text));
        assert_eq!(Reason::TooSmall(18.0).text("en"), "The number must be at least 18.");
    }

    #[test]
    fn clean_texts_and_cities() {
        let msg = json!({"text": "x"});
        let mut bio = field(FieldType::Text);
        bio.clean = true;
        assert_eq!(validate(&bio, &msg, Some("No bullsh1t, please")), Err(Reason::Profanity));
        assert_eq!(validate(&bio, &msg, Some("Scunthorpe fan")), Ok(json!("Scunthorpe fan")));
        let city = field(FieldType::City);
        let hamburg = validate(&city, &msg, Some("hamgurg")).expect("Hamburg");
        assert_eq!(hamburg["name"], "Hamburg");
        assert_eq!(hamburg["country_code"], "DE");
        assert_eq!(validate(&city, &msg, Some("Gotham")), Err(Reason::City));
        let shared = json!({"location": {"latitude": 48.86, "longitude": 2.35}});
        assert_eq!(validate(&city, &shared, None).expect("Paris")["name"], "Paris");
    }
}
