//! Keyboards of a message: inline buttons (a URL, a Web App, callback data or a `goto`), buttons
//! made from a list and paged with ‹ › (`__page:`), and the keys of a reply keyboard.

use ferrogram_schema::{BotFile, Button, Buttons, Key, Reply, ReplySpec, Step};
use serde_json::{Value, json};

use crate::error::EngineError;
use crate::interpret::steps::run::Run;

/// Callback data of buttons that move to a scene (`goto:` on a button).
pub const GOTO_PREFIX: &str = "__goto:";
/// Callback data of the ‹ › buttons of a list: `__page:<list>:<page>`, the list being the
/// index of its message in [`paged_messages`].
pub const PAGE_PREFIX: &str = "__page:";

impl<'a> Run<'a> {
    /// A ‹ › press (`__page:<list>:<page>`, `rest` after the prefix): shows that page of the
    /// list's message, if the list is still there and its scene lets the user in.
    pub(super) fn turn_page(&mut self, id: &str, data: &str, rest: &str) -> Result<(), EngineError> {
        let id = id.to_owned();
        self.send("answerCallbackQuery", json!({"callback_query_id": id}));
        self.callback_answered = true;
        let (list, page) = rest.split_once(':').unwrap_or((rest, "0"));
        let paged = list.parse::<usize>().ok().and_then(|i| paged_messages(self.file()).get(i).copied());
        let Some(Paged { scene, spec }) = paged else {
            tracing::debug!(bot_id = self.bot.bot_id, data, "a page of a list that is gone");
            return Ok(());
        };
        if let Some(scene) = scene {
            self.check_scene(scene)?;
        }
        self.page = page.parse().unwrap_or(0);
        let outcome = self.send_spec(spec, true);
        self.page = 0;
        outcome?;
        Ok(())
    }

    pub(super) fn buttons(&mut self, buttons: &Buttons) -> Result<Vec<Vec<Value>>, EngineError> {
        match buttons {
            Buttons::Rows(rows) => rows.iter().map(|row| row.iter().map(|b| self.button(b)).collect()).collect(),
            Buttons::FromList(list) => {
                let items = match self.eval(&list.from)? {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    other => return Err(EngineError::Step(format!("buttons.from: {other} is not a list"))),
                };
                let page_size = list.page_size.unwrap_or(10).max(1) as usize;
                let columns = list.columns.unwrap_or(1).max(1) as usize;
                let total = items.len();
                let pages = total.div_ceil(page_size).max(1);
                let page = self.page.min(pages - 1);
                let saved = self.ctx.get("item").cloned();
                let mut made = Vec::new();
                for item in items.into_iter().skip(page * page_size).take(page_size) {
                    self.set_ctx("item", item);
                    made.push(self.button(&list.button)?);
                }
                match saved {
                    Some(item) => self.set_ctx("item", item),
                    None => {
                        self.ctx.remove("item");
                        self.cache = None;
                    }
                }
                let mut rows: Vec<Vec<Value>> = made.chunks(columns).map(<[Value]>::to_vec).collect();
                let index = paged_messages(self.file()).iter().position(
                    |paged| matches!(&paged.spec.buttons, Some(Buttons::FromList(l)) if std::ptr::eq(l, list)),
                );
                if let Some(index) = index.filter(|_| pages > 1) {
                    let mut nav = Vec::new();
                    if page > 0 {
                        nav.push(json!({"text": "‹", "callback_data": format!("{PAGE_PREFIX}{index}:{}", page - 1)}));
                    }
                    if page + 1 < pages {
                        nav.push(json!({"text": "›", "callback_data": format!("{PAGE_PREFIX}{index}:{}", page + 1)}));
                    }
                    rows.push(nav);
                }
                Ok(rows)
            }
        }
    }

    fn button(&mut self, button: &Button) -> Result<Value, EngineError> {
        let text = self.text(&button.text)?;
        if let Some(url) = &button.url {
            return Ok(json!({"text": text, "url": self.render(url)?}));
        }
        if let Some(url) = &button.web_app {
            return Ok(json!({"text": text, "web_app": {"url": self.web_app_url(url)?}}));
        }
        let data = match (&button.callback, &button.goto) {
            (Some(callback), _) => self.render(callback)?,
            (None, Some(scene)) => format!("{GOTO_PREFIX}{scene}"),
            (None, None) => text.clone(),
        };
        if data.len() > 64 {
            return Err(EngineError::Step(format!("button {text:?}: callback data longer than 64 bytes")));
        }
        Ok(json!({"text": text, "callback_data": data}))
    }

    /// A key of a reply keyboard.
    pub(super) fn key(&mut self, key: &Key) -> Result<Value, EngineError> {
        let text = self.render(key.label())?;
        Ok(match key {
            Key::Text(_) => json!({"text": text}),
            Key::WebApp(web_app) => json!({"text": text, "web_app": {"url": self.web_app_url(&web_app.web_app)?}}),
        })
    }

    /// A Web App's URL, rendered; Telegram opens only `https://` ones. A path (`/shop`,
    /// `/shop?x=1`) is a page Ferrogram serves for the bot at `/webapp/{bot_id}/…`, under
    /// [`crate::EngineConfig::public_url`].
    fn web_app_url(&mut self, source: &str) -> Result<String, EngineError> {
        let url = self.render_raw(source)?;
        let url = if !url.starts_with('/') {
            url
        } else {
            let Some(base) = self.bot.public_url.as_deref().filter(|base| !base.is_empty()) else {
                return Err(EngineError::Step(format!(
                    "web_app: {url:?} is relative to server.public_url, which is not set"
                )));
            };
            let page = url.trim_start_matches('/');
            format!("{}/webapp/{}/{page}", base.trim_end_matches('/'), self.bot.bot_id)
        };
        let https = reqwest::Url::parse(&url).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
        if !https {
            return Err(EngineError::Step(format!("web_app: {url:?} is not an https URL")));
        }
        Ok(url)
    }
}

/// A message with buttons made from a list, and the scene whose steps send it (whose `roles`
/// a ‹ › press must pass).
#[derive(Clone, Copy)]
pub struct Paged<'f> {
    pub scene: Option<&'f str>,
    pub spec: &'f ReplySpec,
}

/// Every message of the file with buttons made from a list, in a fixed order (global handlers,
/// then scenes): a ‹ › button names its message by its index here.
pub fn paged_messages(file: &BotFile) -> Vec<Paged<'_>> {
    fn walk<'f>(steps: &'f [Step], scene: Option<&'f str>, out: &mut Vec<Paged<'f>>) {
        for step in steps {
            match step {
                Step::Reply(Reply::Full(spec)) | Step::Edit(Reply::Full(spec)) => {
                    if matches!(spec.buttons, Some(Buttons::FromList(_))) {
                        out.push(Paged { scene, spec });
                    }
                }
                Step::If(condition) => {
                    walk(&condition.then, scene, out);
                    walk(&condition.otherwise, scene, out);
                }
                Step::ForEach(each) => walk(&each.steps, scene, out),
                Step::Try(attempt) => {
                    walk(&attempt.steps, scene, out);
                    walk(&attempt.catch, scene, out);
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for handler in &file.on {
        walk(&handler.steps, None, &mut out);
    }
    for (name, scene) in &file.scenes {
        let name = Some(name.as_str());
        walk(&scene.on_enter, name, &mut out);
        for handler in &scene.on {
            walk(&handler.steps, name, &mut out);
        }
        if let Some(form) = &scene.form {
            walk(&form.on_done, name, &mut out);
            walk(&form.on_cancel, name, &mut out);
        }
    }
    out
}
