//! One run of a handler (an update's, or a scheduled job's): the [`Run`] with its chat state,
//! template context and [`Effects`], the entry points [`handle_update`] and [`run_job`], the
//! choice of the handler, and the renders and Bot API calls every family of steps goes through.

use std::sync::Arc;

use ferrogram_schema::{BotFile, Text};
use ferrogram_telegram::flood::Priority;
use minijinja::value::Value as JinjaValue;
use serde_json::{Map, Value, json};

use crate::deliver::commit::Handled;
use crate::error::EngineError;
use crate::interpret::budget::Meter;
use crate::interpret::context::{BotContext, Loaded};
use crate::interpret::guards::{self, Refusal};
use crate::interpret::steps::control::Cursor;
use crate::interpret::steps::keyboards::{GOTO_PREFIX, PAGE_PREFIX};
use crate::interpret::steps::variables::scope_vars;
use crate::interpret::steps::{forms, long_text};
use crate::interpret::template::Escape;
use crate::interpret::template::i18n;
use crate::interpret::triggers;
use crate::update::{Event, EventKind};
use ferrogram_core::{ChatState, Commit, Outgoing, Scope, StepsAt};

/// One update being handled.
pub struct Run<'a> {
    pub bot: &'a BotContext,
    pub loaded: &'a Loaded,
    pub event: &'a Event,
    pub locale: String,
    /// The roles of the user the update is from (`user` when none of the file's).
    pub roles: Vec<String>,
    pub state: ChatState,
    pub(super) ctx: Map<String, Value>,
    pub(super) cache: Option<JinjaValue>,
    /// Whether a step answered the pressed button (it may be answered only once).
    pub callback_answered: bool,
    pub(super) depth: u32,
    /// Whether this is a scheduled job's run (no chat, user or message).
    pub(super) job: bool,
    /// The page of buttons made from a list that is being shown (a ‹ › press), else 0.
    pub(super) page: usize,
    /// What the steps changed so far, committed together when the handler ends.
    pub effects: Effects,
    /// Held from the first write to a bot-wide variable until the commit.
    pub(super) bot_vars_lock: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Queued calls made at once so far (by `dice` and `poll`: see [`Run::call`]), so that a
    /// failed `try` knows which of the queued calls are its own.
    pub(super) flushed: usize,
    /// Where the running step is, innermost top-level step list last: what a `call` keeps to
    /// resume after it.
    pub(super) cursor: Vec<Cursor>,
    /// What is left of the update's step, fuel and time budgets.
    pub(super) meter: Meter,
}

/// The variable writes and Bot API calls of a handler run, held until it ends: they commit
/// together with the chat's state (see `deliver/`), and a failed run leaves none.
#[derive(Debug, Default)]
pub struct Effects {
    pub vars: Vec<(Scope, String, Option<Value>)>,
    pub outbox: Vec<Outgoing>,
}

/// Handles one update end to end; the caller runs it under the time budget.
/// Returns what to commit; the caller marks the update handled in it.
pub async fn handle_update(bot: Arc<BotContext>, loaded: Arc<Loaded>, event: Event) -> Result<Handled, EngineError> {
    let file = &loaded.file;
    let locale = i18n::user_locale(file, event.language_code.as_deref());
    if let Some(limits) = &file.limits {
        let roles = triggers::roles_of(file, event.user_id);
        let exempt = limits.exempt.iter().any(|r| roles.contains(r));
        if !exempt && !bot.limiter.allow_at(limits, event.user_id, bot.clock.now()) {
            tracing::info!(bot_id = bot.bot_id, user_id = event.user_id, "update over the user's limit");
            if let Some(reply) = &limits.reply {
                let mut run = Run::new(&bot, &loaded, &event, locale, ChatState::default()).await?;
                let text = run.text(reply)?;
                run.send("sendMessage", json!({"chat_id": event.chat_id, "text": text}));
                return Ok(run.into_commit(false));
            }
            return Ok(Handled { commit: Commit { bot: bot.bot_id, ..Commit::default() }, lock: None });
        }
    }
    if let EventKind::Callback { data, message_id, .. } = &event.kind
        && !guards::press_is_genuine(&event)
    {
        tracing::warn!(
            bot_id = bot.bot_id,
            user_id = event.user_id,
            chat_id = event.chat_id,
            ?message_id,
            ?data,
            "refused a button press: the pressed message has no such button (forged or stale)"
        );
        return Ok(refused(&bot, &event, Refusal::Button, &locale));
    }
    let stored = bot.store.load_chat(bot.bot_id, event.chat_id).await?;
    let state = reconcile(file, loaded.generation, stored);
    let mut run = Run::new(&bot, &loaded, &event, locale, state).await?;
    match run.dispatch().await {
        // Already logged where the scene was refused; nothing the handler did is kept.
        Err(EngineError::Forbidden(_)) => return Ok(refused(&bot, &event, Refusal::Scene, &run.locale)),
        outcome => outcome?,
    }
    if let Some(id) = event.callback_id().filter(|_| !run.callback_answered) {
        // A pressed button spins until answered; answer it even if no step did.
        run.send("answerCallbackQuery", json!({"callback_query_id": id}));
    }
    run.state.generation = loaded.generation;
    Ok(run.into_commit(true))
}

/// The answer to a refused update, and nothing else: the pressed button's spinner stops with
/// the reason, or the reason is sent to the chat.
fn refused(bot: &BotContext, event: &Event, refusal: Refusal, locale: &str) -> Handled {
    let text = refusal.text(locale);
    let chat_id = event.chat_id;
    let outgoing = match event.callback_id() {
        Some(id) => Outgoing {
            chat_id,
            method: "answerCallbackQuery".into(),
            params: json!({"callback_query_id": id, "text": text, "show_alert": true}),
            bulk: false,
        },
        None => Outgoing {
            chat_id,
            method: "sendMessage".into(),
            params: json!({"chat_id": chat_id, "text": text}),
            bulk: false,
        },
    };
    Handled { commit: Commit { bot: bot.bot_id, outbox: vec![outgoing], ..Commit::default() }, lock: None }
}

/// Runs the steps of the job `name`: in the default locale, with the bot's variables and no
/// chat, user or message.
pub async fn run_job(bot: Arc<BotContext>, loaded: Arc<Loaded>, name: String) -> Result<Handled, EngineError> {
    let file = &loaded.file;
    let job = file.jobs.get(&name).ok_or_else(|| EngineError::Step(format!("no job {name:?}")))?;
    let event = Event {
        update_id: 0,
        kind: EventKind::PollAnswer,
        from: Value::Null,
        user_id: 0,
        chat_id: 0,
        chat: Value::Null,
        message: Value::Null,
        language_code: None,
    };
    let locale = file.bot.default_locale.clone();
    let mut run = Run::new(&bot, &loaded, &event, locale, ChatState::default()).await?;
    run.job = true;
    for key in ["from", "chat", "message", "user", "chat_vars", "form"] {
        run.ctx.remove(key);
    }
    run.cache = None;
    run.run_steps(&job.steps).await?;
    Ok(run.into_commit(false))
}

/// A chat's state under the current bot version. After a reload, a chat mid-form keeps going
/// when its scene and field still exist; every other chat returns to the start scene.
fn reconcile(file: &BotFile, generation: u64, stored: Option<ChatState>) -> ChatState {
    let Some(mut state) = stored else {
        return ChatState { scene: file.bot.start.clone(), generation, ..ChatState::default() };
    };
    if state.generation == generation {
        return state;
    }
    let form_survives = state.form.as_ref().is_some_and(|progress| {
        let form = file.scenes.get(&progress.scene).and_then(|s| s.form.as_ref());
        form.is_some_and(|f| progress.field < f.fields.len())
    });
    if !form_survives {
        state = ChatState { scene: file.bot.start.clone(), ..ChatState::default() };
    }
    state.generation = generation;
    state
}

impl<'a> Run<'a> {
    async fn new(
        bot: &'a BotContext,
        loaded: &'a Loaded,
        event: &'a Event,
        locale: String,
        state: ChatState,
    ) -> Result<Run<'a>, EngineError> {
        let vars = &loaded.file.variables;
        let user_roles = triggers::roles_of(&loaded.file, event.user_id);
        let user = scope_vars(bot, &vars.user, Scope::User(event.user_id)).await?;
        let chat_vars = scope_vars(bot, &vars.chat, Scope::Chat(event.chat_id)).await?;
        let bot_vars = scope_vars(bot, &vars.bot, Scope::Bot).await?;
        let mut ctx = Map::new();
        ctx.insert("from".into(), event.from.clone());
        ctx.insert("chat".into(), event.chat.clone());
        ctx.insert("message".into(), event.message.clone());
        ctx.insert("user".into(), Value::Object(user));
        ctx.insert("chat_vars".into(), Value::Object(chat_vars));
        ctx.insert("bot".into(), Value::Object(bot_vars));
        ctx.insert("locale".into(), Value::String(locale.clone()));
        if loaded.templates.reads_now() {
            ctx.insert("now".into(), crate::interpret::template::times::now(bot.clock.now()));
        }
        let roles = loaded.file.roles.iter().map(|(name, role)| (name.clone(), json!(role.users))).collect();
        ctx.insert("roles".into(), Value::Object(roles));
        ctx.insert("result".into(), Value::Null);
        let form = state.form.as_ref().map(|f| Value::Object(f.answers.clone())).unwrap_or_else(|| json!({}));
        ctx.insert("form".into(), form);
        match &event.kind {
            EventKind::Message { command: Some(command), .. } => {
                ctx.insert("command".into(), json!({"name": command.name, "payload": command.payload}));
            }
            EventKind::Callback { data, id, .. } => {
                ctx.insert("callback".into(), json!({"data": data, "id": id, "rest": Value::Null}));
            }
            EventKind::InlineQuery { id, query, offset } => {
                ctx.insert("inline".into(), json!({"id": id, "query": query, "offset": offset}));
            }
            _ => {}
        }
        if let Some(data) = event.message.get("web_app_data").filter(|d| d.is_object()) {
            ctx.insert("web_app".into(), web_app_context(data));
        }
        Ok(Run {
            bot,
            loaded,
            event,
            locale,
            roles: user_roles,
            state,
            ctx,
            cache: None,
            callback_answered: false,
            depth: 0,
            job: false,
            page: 0,
            effects: Effects::default(),
            bot_vars_lock: None,
            flushed: 0,
            cursor: Vec::new(),
            meter: Meter::start(bot.update_limits),
        })
    }

    pub fn file(&self) -> &'a BotFile {
        &self.loaded.file
    }

    /// Runs the form in progress or the first matching handler. A press is a genuine one here
    /// (see [`guards::press_is_genuine`]).
    async fn dispatch(&mut self) -> Result<(), EngineError> {
        if self.state.form.is_some() && forms::on_update(self).await? {
            return Ok(());
        }
        if let EventKind::Callback { data, id, .. } = &self.event.kind
            && let Some(rest) = data.strip_prefix(PAGE_PREFIX)
        {
            return self.turn_page(id, data, rest);
        }
        if let EventKind::Callback { data, id, .. } = &self.event.kind
            && let Some(scene) = data.strip_prefix(GOTO_PREFIX)
        {
            let id = id.clone();
            self.send("answerCallbackQuery", json!({"callback_query_id": id}));
            self.callback_answered = true;
            return self.enter(scene).await;
        }
        let file = self.file();
        // A scene's handlers answer only the users its roles allow (a group shares its scene).
        let scene_handlers = self
            .state
            .scene
            .as_ref()
            .and_then(|s| file.scenes.get(s))
            .filter(|scene| guards::scene_allows(scene, &self.roles))
            .map(|s| s.on.as_slice());
        let scoped = scene_handlers.unwrap_or_default().iter().enumerate().map(|(i, h)| (true, i, h));
        let handlers = scoped.chain(file.on.iter().enumerate().map(|(i, h)| (false, i, h)));
        for (in_scene, index, handler) in handlers {
            let Some(captures) = triggers::matches(handler, self.event) else {
                continue;
            };
            if !triggers::roles_allow(handler, &self.roles) {
                continue;
            }
            if let Some(groups) = captures.groups {
                self.set_ctx("match", groups);
            }
            if let Some(rest) = captures.rest
                && let Some(Value::Object(callback)) = self.ctx.get_mut("callback")
            {
                callback.insert("rest".into(), Value::String(rest));
                self.cache = None;
            }
            if let Some(when) = &handler.when
                && !self.is_true(when)?
            {
                continue;
            }
            let index = index as u32;
            let at = match &self.state.scene {
                Some(scene) if in_scene => StepsAt::SceneHandler { scene: scene.clone(), index },
                _ => StepsAt::Handler { index },
            };
            self.run_root(at, &handler.steps).await?;
            return Ok(());
        }
        tracing::debug!(bot_id = self.bot.bot_id, update_id = self.event.update_id, "no handler matched");
        Ok(())
    }

    /// The template context, converted once per change.
    pub fn jinja(&mut self) -> JinjaValue {
        self.cache.get_or_insert_with(|| crate::interpret::template::to_jinja(&self.ctx)).clone()
    }

    pub fn set_ctx(&mut self, key: &str, value: Value) {
        self.ctx.insert(key.to_owned(), value);
        self.cache = None;
    }

    /// A template of the file rendered for the user's locale (`@key` names a text).
    pub fn render(&mut self, source: &str) -> Result<String, EngineError> {
        let source = i18n::key_source(self.file(), source, &self.locale);
        self.render_raw(source)
    }

    pub fn text(&mut self, text: &Text) -> Result<String, EngineError> {
        self.text_escaped(text, Escape::None)
    }

    /// A text in the user's language, the values it inserts escaped by `escape` (a message
    /// text, for its parse mode).
    pub(super) fn text_escaped(&mut self, text: &Text, escape: Escape) -> Result<String, EngineError> {
        let source = i18n::source(self.file(), text, &self.locale);
        self.render_with(source, escape)
    }

    /// A template of the file rendered as written (no `@key` lookup: URLs and bodies are data).
    /// Every render of a run goes through here, [`Run::eval`] or [`Run::is_true`]: its fuel is
    /// counted against the update's budget.
    pub fn render_raw(&mut self, source: &str) -> Result<String, EngineError> {
        self.render_with(source, Escape::None)
    }

    fn render_with(&mut self, source: &str, escape: Escape) -> Result<String, EngineError> {
        let ctx = self.jinja();
        let (rendered, fuel) = self.loaded.templates.render_fueled(source, &ctx, escape);
        self.meter.fuel(fuel)?;
        rendered
    }

    /// An expression of the file's value.
    pub fn eval(&mut self, expr: &str) -> Result<Value, EngineError> {
        let ctx = self.jinja();
        let (value, fuel) = self.loaded.templates.eval_fueled(expr, &ctx);
        self.meter.fuel(fuel)?;
        value
    }

    /// Whether a condition of the file holds.
    pub fn is_true(&mut self, expr: &str) -> Result<bool, EngineError> {
        let ctx = self.jinja();
        let (holds, fuel) = self.loaded.templates.is_true_fueled(expr, &ctx);
        self.meter.fuel(fuel)?;
        holds
    }

    /// The text (or caption) of the message the update is about.
    pub fn message_text(&self) -> Option<String> {
        let message = &self.event.message;
        message.get("text").or_else(|| message.get("caption")).and_then(Value::as_str).map(str::to_owned)
    }

    /// Queues a Bot API call to the outbox: it is made once the handler's effects are
    /// committed.
    pub fn send(&mut self, method: &str, params: Value) {
        self.queue(method, params, false);
    }

    pub(super) fn queue(&mut self, method: &str, params: Value, bulk: bool) {
        let chat_id = params.get("chat_id").and_then(Value::as_i64).unwrap_or(self.event.chat_id);
        let outgoing = Outgoing { chat_id, method: method.to_owned(), params, bulk };
        // A text over Telegram's limit is split or cut now, as the bot file says: refused
        // after the commit, it could only reach the `errors` reply.
        self.effects.outbox.extend(long_text::fit(self.file().bot.long_text, outgoing));
    }

    /// Makes a Bot API call now and returns its result, for steps that need it (a dice's value,
    /// a poll's id). The calls queued before it are made first, so the chat sees them in order;
    /// they are then outside the outbox, and a crash before the commit repeats them.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, EngineError> {
        for queued in std::mem::take(&mut self.effects.outbox) {
            self.flushed += 1;
            let priority = if queued.bulk { Priority::Bulk } else { Priority::Interactive };
            let _: Value = self.traced_call(priority, &queued.method, &queued.params, queued.chat_id).await?;
        }
        Ok(self.traced_call(Priority::Interactive, method, &params, self.event.chat_id).await?)
    }

    /// One Bot API call made at once, in its `telegram` span (see [`crate::traces`]).
    async fn traced_call(
        &self,
        priority: Priority,
        method: &str,
        params: &Value,
        chat_id: i64,
    ) -> Result<Value, ferrogram_telegram::Error> {
        use tracing::Instrument;
        let span = crate::traces::telegram(self.bot.bot_id, chat_id, method);
        let outcome = self.bot.scheduler.call(priority, method, params).instrument(span.clone()).await;
        let error = outcome.as_ref().err().map(|error| error as &dyn std::fmt::Display);
        crate::traces::outcome(&span, if outcome.is_ok() { "ok" } else { "error" }, error);
        outcome
    }

    /// The handler's effects as one commit; `with_chat` includes the chat's state.
    fn into_commit(self, with_chat: bool) -> Handled {
        let commit = Commit {
            bot: self.bot.bot_id,
            chat: with_chat.then_some((self.event.chat_id, self.state)),
            vars: self.effects.vars,
            outbox: self.effects.outbox,
            handled: None,
            delivered: Vec::new(),
            dead_letter: None,
            seen_user: if self.job { Value::Null } else { self.event.from.clone() },
            seen_chat: if self.job { Value::Null } else { self.event.chat.clone() },
            tally: None,
        };
        Handled { commit, lock: self.bot_vars_lock }
    }

    /// Whether this is a scheduled job's run (no chat, user or message).
    pub fn is_job(&self) -> bool {
        self.job
    }
}

/// `web_app` in templates: what a Web App sent (`data`, parsed as JSON when it is JSON; `raw`,
/// as sent) and the label of the key that opened it.
fn web_app_context(data: &Value) -> Value {
    let raw = data.get("data").and_then(Value::as_str).unwrap_or_default();
    let parsed = serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    json!({"data": parsed, "raw": raw, "button_text": data.get("button_text").cloned().unwrap_or(Value::Null)})
}
