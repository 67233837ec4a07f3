//! Checks of the steps that send or change messages: `reply` and `edit` (text or photo, inline
//! buttons, reply keyboards, Web App links), `answer`, `dice`, `poll`, `notify` and
//! `answer_inline`.

use super::Checker;
use super::util::is_https_url;
use crate::source::{push_index, push_key};
use crate::templates;
use crate::{Answer, AnswerInline, Button, ButtonList, Buttons, Key, Notify, Poll, Reply};

/// The dice Telegram can throw.
pub const DICE: &[&str] = &["🎲", "🎯", "🎳", "🏀", "⚽", "🎰"];

impl<'a> Checker<'a> {
    pub(super) fn reply(&mut self, reply: &'a Reply, path: &str, scene: Option<&'a str>) {
        match reply {
            Reply::Text(text) => self.text_string(text, path),
            Reply::Full(spec) => {
                if spec.text.is_none() && spec.photo.is_none() {
                    self.error(path, "a message needs `text` or `photo`".into(), None);
                }
                if let Some(text) = &spec.text {
                    self.text(text, &push_key(path, "text"));
                }
                if let Some(photo) = &spec.photo {
                    self.template(photo, &push_key(path, "photo"));
                }
                match &spec.buttons {
                    Some(Buttons::Rows(rows)) => {
                        let buttons_path = push_key(path, "buttons");
                        for (r, row) in rows.iter().enumerate() {
                            for (c, button) in row.iter().enumerate() {
                                self.button(button, &push_index(&push_index(&buttons_path, r), c), scene);
                            }
                        }
                    }
                    Some(Buttons::FromList(list)) => self.button_list(list, &push_key(path, "buttons"), scene),
                    None => {}
                }
                if let Some(keyboard) = &spec.keyboard {
                    let keyboard_path = push_key(path, "keyboard");
                    for (r, row) in keyboard.iter().enumerate() {
                        for (c, key) in row.iter().enumerate() {
                            let key_path = push_index(&push_index(&keyboard_path, r), c);
                            match key {
                                Key::Text(label) => self.text_string(label, &key_path),
                                Key::WebApp(key) => {
                                    self.text_string(&key.text, &push_key(&key_path, "text"));
                                    self.web_app_url(&key.web_app, &push_key(&key_path, "web_app"));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn button_list(&mut self, list: &'a ButtonList, path: &str, scene: Option<&'a str>) {
        self.expression(&list.from, &push_key(path, "from"));
        self.button(&list.button, &push_key(path, "button"), scene);
        for (name, value) in [("columns", list.columns), ("page_size", list.page_size)] {
            if value == Some(0) {
                self.error(&push_key(path, name), format!("`{name}` must be at least 1"), None);
            }
        }
    }

    fn button(&mut self, button: &'a Button, path: &str, scene: Option<&'a str>) {
        self.text(&button.text, &push_key(path, "text"));
        let actions: Vec<&str> = [
            button.callback.as_ref().map(|_| "callback"),
            button.goto.as_ref().map(|_| "goto"),
            button.url.as_ref().map(|_| "url"),
            button.web_app.as_ref().map(|_| "web_app"),
        ]
        .into_iter()
        .flatten()
        .collect();
        match actions.as_slice() {
            [] => self.error(
                path,
                "a button needs an action".into(),
                Some("add one of `callback`, `goto`, `url`, `web_app`".into()),
            ),
            [_] => {}
            [first, rest @ ..] => {
                for other in rest {
                    self.error_at_key(
                        &push_key(path, other),
                        format!("a button has one action, but this one has `{first}` and `{other}`"),
                        Some("keep one of them".into()),
                    );
                }
            }
        }
        if let Some(callback) = &button.callback {
            let callback_path = push_key(path, "callback");
            self.template(callback, &callback_path);
            if templates::is_static(callback) && (callback.is_empty() || callback.len() > 64) {
                self.error(
                    &callback_path,
                    format!("callback data is {} bytes; Telegram accepts 1 to 64", callback.len()),
                    Some("use a short id, and keep details in variables".into()),
                );
            }
        }
        if let Some(target) = &button.goto {
            self.scene_ref(target, &push_key(path, "goto"));
            self.edge(scene, target);
        }
        if let Some(url) = &button.url {
            let url_path = push_key(path, "url");
            self.template(url, &url_path);
            if templates::is_static(url) && !["https://", "http://", "tg://"].iter().any(|p| url.starts_with(p)) {
                self.error(&url_path, format!("`{url}` is not a link"), Some("links start with `https://`".into()));
            }
        }
        if let Some(url) = &button.web_app {
            self.web_app_url(url, &push_key(path, "web_app"));
        }
    }

    /// A Web App's URL: a template; when fixed, an `https://` link (Telegram refuses others), or
    /// a path starting with `/`: a page Ferrogram serves for the bot (`/shop`), under
    /// `server.public_url`.
    fn web_app_url(&mut self, url: &'a str, path: &str) {
        self.template(url, path);
        if templates::is_static(url) && !is_https_url(url) && !url.starts_with('/') {
            self.error(
                path,
                format!("`{url}` is not an https link; Telegram opens Web Apps only over HTTPS"),
                Some(
                    "write the Web App's address as `https://…`, or `/shop` for the shop page Ferrogram serves".into(),
                ),
            );
        }
    }

    pub(super) fn answer(&mut self, answer: &'a Answer, path: &str) {
        match answer {
            Answer::Text(text) => self.text_string(text, path),
            Answer::Full(spec) => {
                if let Some(text) = &spec.text {
                    self.text(text, &push_key(path, "text"));
                }
            }
        }
    }

    pub(super) fn dice(&mut self, emoji: &str, path: &str) {
        let plain: String = emoji.chars().filter(|c| *c != '\u{fe0f}').collect();
        if !DICE.contains(&plain.as_str()) {
            self.error(path, format!("Telegram has no dice `{emoji}`"), Some(format!("use one of {}", DICE.join(" "))));
        }
    }

    pub(super) fn poll(&mut self, poll: &'a Poll, path: &str) {
        self.text(&poll.question, &push_key(path, "question"));
        let options_path = push_key(path, "options");
        for (j, option) in poll.options.iter().enumerate() {
            self.text(option, &push_index(&options_path, j));
        }
        if poll.options.len() < 2 {
            self.error(&options_path, "a poll needs at least 2 options".into(), None);
        }
        if let Some(correct) = poll.correct
            && correct as usize >= poll.options.len()
        {
            self.error(
                &push_key(path, "correct"),
                format!(
                    "`correct` is {correct}, but the options are numbered from 0 to {}",
                    poll.options.len().saturating_sub(1)
                ),
                Some("`correct` is the index of the right option, the first being 0".into()),
            );
        }
    }

    pub(super) fn notify(&mut self, notify: &'a Notify, path: &str, scene: Option<&'a str>) {
        self.expression(&notify.to, &push_key(path, "to"));
        self.reply(&notify.message, &push_key(path, "message"), scene);
    }

    pub(super) fn answer_inline(&mut self, inline: &'a AnswerInline, path: &str) {
        self.expression(&inline.from, &push_key(path, "from"));
        self.text_string(&inline.title, &push_key(path, "title"));
        self.text_string(&inline.message, &push_key(path, "message"));
        if let Some(description) = &inline.description {
            self.text_string(description, &push_key(path, "description"));
        }
    }
}
