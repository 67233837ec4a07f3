//! Messages a run sends: replies and edits, notices to many chats, button answers, inline
//! answers, deletions, dice and polls; and the `errors` reply to a failed update
//! ([`error_reply`]) or to a call Telegram refused ([`refusal_reply`]).

use ferrogram_schema::{Reply, ReplySpec, Text};
use serde_json::{Value, json};

use crate::error::EngineError;
use crate::interpret::context::Loaded;
use crate::interpret::steps::long_text;
use crate::interpret::steps::run::Run;
use crate::interpret::template::Escape;
use crate::interpret::template::i18n;
use crate::update::{Event, EventKind};
use ferrogram_core::Outgoing;

const DEFAULT_ERROR_REPLY: &str = "Something went wrong. Please try again.";

/// What the user is told when handling their update failed: the calls to commit. The template
/// sees `error.kind` "failed" and, for a step that failed, `error.message`; when it was a Bot API
/// call made at once (`dice`, `poll`, a call before them flushed) that Telegram refused,
/// `error.code` and `error.reason` (Telegram's description) too.
pub fn error_reply(loaded: &Loaded, event: &Event, failure: Option<&EngineError>) -> Vec<Outgoing> {
    let locale = i18n::user_locale(&loaded.file, event.language_code.as_deref());
    let mut error = json!({"kind": "failed"});
    if let Some(failure) = failure {
        error["message"] = json!(failure.to_string());
        if let EngineError::Telegram(ferrogram_telegram::Error::Api { code, description, .. }) = failure {
            error["code"] = json!(code);
            error["reason"] = json!(description);
        }
    }
    let context = json!({"from": event.from, "chat": event.chat, "locale": locale, "error": error});
    let chat_id = event.chat_id;
    let mut calls = Vec::new();
    if let Some(id) = event.callback_id() {
        let params = json!({"callback_query_id": id});
        calls.push(Outgoing { chat_id, method: "answerCallbackQuery".into(), params, bulk: false });
    }
    calls.push(error_message(loaded, chat_id, &locale, context));
    calls
}

/// What the user of `chat_id` is told when Telegram refused for good a call the bot made to
/// them (`refused`): the bot's `errors` reply, with the refusal as `error` (`kind` "refused",
/// `code`, `reason`, `method`), in the bot's default locale (the call does not say whose it
/// was). Sent once, as it is: its own refusal is only logged (see the outbox).
pub fn refusal_reply(loaded: &Loaded, chat_id: i64, refused: &Outgoing, code: Option<u16>, reason: &str) -> Outgoing {
    let locale = loaded.file.bot.default_locale.clone();
    let error = json!({"kind": "refused", "code": code, "reason": reason, "method": refused.method});
    let context = json!({"chat": {"id": chat_id}, "locale": locale, "error": error});
    error_message(loaded, chat_id, &locale, context)
}

/// The `errors` reply (or the default one) rendered with `context`, as a plain sendMessage cut
/// to Telegram's length.
fn error_message(loaded: &Loaded, chat_id: i64, locale: &str, context: Value) -> Outgoing {
    let file = &loaded.file;
    let text = match &file.errors {
        Some(errors) => {
            let source = i18n::source(file, &errors.reply, locale);
            loaded
                .templates
                .render(source, &crate::interpret::template::to_jinja(context))
                .unwrap_or_else(|_| source.to_owned())
        }
        None => DEFAULT_ERROR_REPLY.to_owned(),
    };
    let text = if text.trim().is_empty() { DEFAULT_ERROR_REPLY.to_owned() } else { text };
    let params = json!({"chat_id": chat_id, "text": text});
    let message = Outgoing { chat_id, method: "sendMessage".into(), params, bulk: false };
    long_text::cut(message)
}

impl<'a> Run<'a> {
    pub(super) fn answer(&mut self, answer: &ferrogram_schema::Answer) -> Result<(), EngineError> {
        let Some(id) = self.event.callback_id() else {
            tracing::debug!("answer: the update is not a pressed button, skipped");
            return Ok(());
        };
        let (text, alert) = match answer {
            ferrogram_schema::Answer::Text(text) => (Some(self.render(text)?), false),
            ferrogram_schema::Answer::Full(spec) => (spec.text.as_ref().map(|t| self.text(t)).transpose()?, spec.alert),
        };
        let mut params = json!({"callback_query_id": id, "show_alert": alert});
        if let Some(text) = text {
            params["text"] = json!(text);
        }
        self.send("answerCallbackQuery", params);
        self.callback_answered = true;
        Ok(())
    }

    /// Sends (or edits) a message.
    pub fn reply(&mut self, reply: &'a Reply, edit: bool) -> Result<(), EngineError> {
        let plain;
        let spec = match reply {
            Reply::Text(text) => {
                plain = ReplySpec { text: Some(Text::One(text.clone())), ..ReplySpec::default() };
                &plain
            }
            Reply::Full(spec) => spec,
        };
        self.send_spec(spec, edit)
    }

    /// Sends (or edits, for a pressed button) the message `spec`.
    pub(super) fn send_spec(&mut self, spec: &ReplySpec, edit: bool) -> Result<(), EngineError> {
        let mut params = self.message_params(spec, self.event.chat_id)?;
        // Telegram would refuse it after the commit, where only a log line would tell; refuse
        // it here so the error reply answers.
        if params.get("photo").is_none() && params["text"].as_str().is_some_and(|t| t.trim().is_empty()) {
            return Err(EngineError::Step("reply: the message text is empty".into()));
        }
        let edited = match (edit, &self.event.kind) {
            (true, EventKind::Callback { message_id: Some(id), .. }) => Some(*id),
            _ => None,
        };
        if let Some(message_id) = edited {
            params["message_id"] = json!(message_id);
            // A message with a photo (or other media) has a caption, not a text, to edit.
            let media = ["photo", "video", "animation", "document", "audio"]
                .iter()
                .any(|key| self.event.message.get(key).is_some_and(|v| !v.is_null()));
            let method = if params.get("photo").is_some() || media {
                if let Some(p) = params.as_object_mut() {
                    p.remove("photo");
                    if let Some(text) = p.remove("text") {
                        p.insert("caption".into(), text);
                    }
                }
                "editMessageCaption"
            } else {
                "editMessageText"
            };
            if params.pointer("/reply_markup/inline_keyboard").is_none() {
                params.as_object_mut().map(|p| p.remove("reply_markup"));
            }
            self.send(method, params);
            return Ok(());
        }
        if edit {
            tracing::debug!("edit: the update is not a pressed button, sending a new message");
        }
        let method = if params.get("photo").is_some() { "sendPhoto" } else { "sendMessage" };
        self.send(method, params);
        Ok(())
    }

    /// The parameters of sendMessage/sendPhoto for `spec` (text, photo, parse mode, markup).
    /// The text's inserted values are escaped for the parse mode (see [`Escape`]).
    pub fn message_params(&mut self, spec: &ReplySpec, chat_id: i64) -> Result<Value, EngineError> {
        let parse_mode = spec.parse_mode.or(self.file().bot.parse_mode);
        let escape = Escape::for_parse_mode(parse_mode);
        let text = spec.text.as_ref().map(|t| self.text_escaped(t, escape)).transpose()?.unwrap_or_default();
        let mut params = json!({"chat_id": chat_id});
        match &spec.photo {
            Some(photo) => {
                params["photo"] = json!(self.render(photo)?);
                if !text.is_empty() {
                    params["caption"] = json!(text);
                }
            }
            None => params["text"] = json!(text),
        }
        if let Some(mode) = parse_mode {
            params["parse_mode"] = json!(match mode {
                ferrogram_schema::ParseMode::Html => "HTML",
                ferrogram_schema::ParseMode::MarkdownV2 => "MarkdownV2",
                ferrogram_schema::ParseMode::Markdown => "Markdown",
            });
        }
        if let Some(buttons) = &spec.buttons {
            params["reply_markup"] = json!({"inline_keyboard": self.buttons(buttons)?});
        } else if let Some(keyboard) = &spec.keyboard {
            params["reply_markup"] = if keyboard.iter().all(Vec::is_empty) {
                json!({"remove_keyboard": true})
            } else {
                let rows = keyboard
                    .iter()
                    .map(|row| row.iter().map(|k| self.key(k)).collect())
                    .collect::<Result<Vec<Vec<Value>>, EngineError>>()?;
                json!({"keyboard": rows, "resize_keyboard": true})
            };
        }
        Ok(params)
    }

    pub(super) fn notify(&mut self, notify: &'a ferrogram_schema::Notify) -> Result<(), EngineError> {
        let targets: Vec<i64> = match self.eval(&notify.to)? {
            Value::Array(ids) => ids.iter().filter_map(chat_id_of).collect(),
            Value::Null => Vec::new(),
            one => chat_id_of(&one).into_iter().collect(),
        };
        let plain;
        let spec = match &notify.message {
            Reply::Text(text) => {
                plain = ReplySpec { text: Some(Text::One(text.clone())), ..ReplySpec::default() };
                &plain
            }
            Reply::Full(spec) => spec,
        };
        let template = self.message_params(spec, 0)?;
        let method = if template.get("photo").is_some() { "sendPhoto" } else { "sendMessage" };
        for chat_id in &targets {
            let mut params = template.clone();
            params["chat_id"] = json!(chat_id);
            // Paced in the bulk lane once committed.
            self.queue(method, params, true);
        }
        self.set_ctx("result", json!({"sent": targets.len()}));
        Ok(())
    }

    pub(super) fn answer_inline(&mut self, inline: &'a ferrogram_schema::AnswerInline) -> Result<(), EngineError> {
        let EventKind::InlineQuery { id, .. } = &self.event.kind else {
            return Err(EngineError::Step("answer_inline: the update is not an inline query".into()));
        };
        let items = match self.eval(&inline.from)? {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => return Err(EngineError::Step(format!("answer_inline.from: {other} is not a list"))),
        };
        let mut results = Vec::new();
        for (index, item) in items.into_iter().take(50).enumerate() {
            self.set_ctx("item", item);
            let mut article = json!({
                "type": "article", "id": index.to_string(), "title": self.render(&inline.title)?,
                "input_message_content": {"message_text": self.render(&inline.message)?},
            });
            if let Some(description) = &inline.description {
                article["description"] = json!(self.render(description)?);
            }
            results.push(article);
        }
        let params = json!({"inline_query_id": id, "results": results, "cache_time": 0});
        self.send("answerInlineQuery", params);
        Ok(())
    }

    /// `delete`: deletes the message the update is about.
    pub(super) fn delete(&mut self) -> Result<(), EngineError> {
        let Some(message_id) = self.event.message_id() else {
            return Err(EngineError::Step("delete: the update is about no message".into()));
        };
        let params = json!({"chat_id": self.event.chat_id, "message_id": message_id});
        self.send("deleteMessage", params);
        Ok(())
    }

    /// `dice`: sends it at once, for its value (`result.value`).
    pub(super) async fn dice(&mut self, emoji: &str) -> Result<(), EngineError> {
        let params = json!({"chat_id": self.event.chat_id, "emoji": emoji});
        let message = self.call("sendDice", params).await?;
        let value = message.pointer("/dice/value").cloned().unwrap_or(Value::Null);
        self.set_ctx("result", json!({"value": value, "message": message}));
        Ok(())
    }

    /// `poll`: sends it at once, for its id (the message in `result`).
    pub(super) async fn poll(&mut self, poll: &ferrogram_schema::Poll) -> Result<(), EngineError> {
        let question = self.text(&poll.question)?;
        let options =
            poll.options.iter().map(|o| Ok(json!({"text": self.text(o)?}))).collect::<Result<Vec<_>, EngineError>>()?;
        let mut params = json!({
            "chat_id": self.event.chat_id, "question": question, "options": options,
            "is_anonymous": poll.anonymous, "allows_multiple_answers": poll.multiple,
        });
        if let Some(correct) = poll.correct {
            params["type"] = json!("quiz");
            params["correct_option_id"] = json!(correct);
        }
        let message = self.call("sendPoll", params).await?;
        self.set_ctx("result", message);
        Ok(())
    }
}

fn chat_id_of(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}
