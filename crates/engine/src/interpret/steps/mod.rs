//! Running one update: building the template context, picking the handler, running its steps.
//!
//! Every step started and every `for_each` iteration is counted against the update's step
//! budget, and every template render against its fuel budget, across nesting, `call`s and
//! scene entries (see the budget module); the step loop also yields to the runtime regularly
//! and checks the update's deadline. A spent budget ends the update with
//! [`EngineError::Budget`], which no `try` catches.

pub mod feeds;
pub mod forms;
pub mod llm;
pub mod long_text;
pub mod near;
pub mod records;

use std::sync::Arc;

use minijinja::value::Value as JinjaValue;
use schema::{BotFile, Button, Buttons, Key, Reply, ReplySpec, Scene, Step, Text, ValueType};
use serde_json::{Map, Value, json};
use telegram::flood::Priority;

use crate::deliver::commit::Handled;
use crate::error::EngineError;
use crate::interpret::budget::Meter;
use crate::interpret::context::{BotContext, Loaded};
use crate::interpret::guards::{self, Refusal};
use crate::interpret::template::Escape;
use crate::interpret::template::i18n;
use crate::interpret::triggers;
use crate::update::{Event, Kind};
use ferrogram_core::{BoxFuture, ChatState, Commit, Frame, Outgoing, Resume, Scope, StepsAt};

/// How deep `goto` chains (a scene's `on_enter` going to another) and nested steps may go.
const MAX_DEPTH: u32 = 32;
/// Callback data of buttons that move to a scene (`goto:` on a button).
pub const GOTO_PREFIX: &str = "__goto:";
/// Callback data of the ‹ › buttons of a list: `__page:<list>:<page>`, the list being the
/// index of its message in [`paged_messages`].
pub const PAGE_PREFIX: &str = "__page:";
const DEFAULT_ERROR_REPLY: &str = "Something went wrong. Please try again.";

/// Whether the handler goes on after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Next,
    /// `goto`, `call` or `return` ended the handler.
    End,
}

/// One update being handled.
pub struct Run<'a> {
    pub bot: &'a BotContext,
    pub loaded: &'a Loaded,
    pub event: &'a Event,
    pub locale: String,
    /// The roles of the user the update is from (`user` when none of the file's).
    pub roles: Vec<String>,
    pub state: ChatState,
    ctx: Map<String, Value>,
    cache: Option<JinjaValue>,
    /// Whether a step answered the pressed button (it may be answered only once).
    pub callback_answered: bool,
    depth: u32,
    /// Whether this is a scheduled job's run (no chat, user or message).
    job: bool,
    /// The page of buttons made from a list that is being shown (a ‹ › press), else 0.
    page: usize,
    /// What the steps changed so far, committed together when the handler ends.
    pub effects: Effects,
    /// Held from the first write to a bot-wide variable until the commit.
    bot_vars_lock: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Queued calls made at once so far (by `dice` and `poll`: see [`Run::call`]), so that a
    /// failed `try` knows which of the queued calls are its own.
    flushed: usize,
    /// Where the running step is, innermost top-level step list last: what a `call` keeps to
    /// resume after it.
    cursor: Vec<Cursor>,
    /// What is left of the update's step, fuel and time budgets.
    meter: Meter,
}

/// A top-level step list being run, and the path to the running step in it (see [`Resume`]).
struct Cursor {
    at: StepsAt,
    path: Vec<u32>,
}

/// The variable writes and Bot API calls of a handler run, held until it ends: they commit
/// together with the chat's state (see the outbox module), and a failed run leaves none.
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
    if let Kind::Callback { data, message_id, .. } = &event.kind
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
        kind: Kind::PollAnswer,
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

/// What the user is told when handling their update failed: the calls to commit.
pub fn error_reply(loaded: &Loaded, event: &Event) -> Vec<Outgoing> {
    let locale = i18n::user_locale(&loaded.file, event.language_code.as_deref());
    let context = json!({"from": event.from, "chat": event.chat, "locale": locale, "error": {"kind": "failed"}});
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
            Kind::Message { command: Some(command), .. } => {
                ctx.insert("command".into(), json!({"name": command.name, "payload": command.payload}));
            }
            Kind::Callback { data, id, .. } => {
                ctx.insert("callback".into(), json!({"data": data, "id": id, "rest": Value::Null}));
            }
            Kind::InlineQuery { id, query, offset } => {
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
        if let Kind::Callback { data, id, .. } = &self.event.kind
            && let Some(rest) = data.strip_prefix(PAGE_PREFIX)
        {
            let id = id.clone();
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
            return Ok(());
        }
        if let Kind::Callback { data, id, .. } = &self.event.kind
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
    fn text_escaped(&mut self, text: &Text, escape: Escape) -> Result<String, EngineError> {
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

    /// The value of a variable named as `set` names it (`user.x`, `chat.x` or `chat_vars.x`,
    /// `bot.x`); `null` when unset.
    pub fn var_value(&self, key: &str) -> Result<Value, EngineError> {
        let (scope, name) = VarScope::split(key).map_err(EngineError::Step)?;
        Ok(self.ctx.get(scope.ctx_key()).and_then(|vars| vars.get(name)).cloned().unwrap_or(Value::Null))
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

    fn queue(&mut self, method: &str, params: Value, bulk: bool) {
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
            let _: Value = self.bot.scheduler.call(priority, &queued.method, &queued.params).await?;
        }
        Ok(self.bot.scheduler.call(Priority::Interactive, method, &params).await?)
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
        };
        Handled { commit, lock: self.bot_vars_lock }
    }

    /// Before a step writes `key`: a write to a bot-wide variable takes the bot's variable lock
    /// (held until the commit) and reads the bot's variables afresh, so handlers of different
    /// chats that update the same bot variable (`bot.subscribers + [from.id]`) do it one after
    /// the other instead of losing each other's changes.
    pub async fn before_write(&mut self, key: &str) -> Result<(), EngineError> {
        if !key.starts_with("bot.") || self.bot_vars_lock.is_some() {
            return Ok(());
        }
        self.bot_vars_lock = Some(Arc::clone(&self.bot.bot_vars).lock_owned().await);
        let fresh = self.bot.store.load_vars(self.bot.bot_id, Scope::Bot).await?;
        self.set_ctx("bot", Value::Object(with_defaults(&self.file().variables.bot, fresh)));
        Ok(())
    }

    pub fn run_steps<'s>(&'s mut self, steps: &'a [Step]) -> BoxFuture<'s, Result<Flow, EngineError>> {
        self.run_steps_from(steps, 0)
    }

    /// Runs a top-level step list of the file, `at`, keeping track of where its steps are for
    /// `call`.
    pub async fn run_root(&mut self, at: StepsAt, steps: &'a [Step]) -> Result<Flow, EngineError> {
        self.cursor.push(Cursor { at, path: Vec::new() });
        let flow = self.run_steps(steps).await;
        self.cursor.pop();
        flow
    }

    /// Runs `steps` from the one at `start`.
    fn run_steps_from<'s>(&'s mut self, steps: &'a [Step], start: usize) -> BoxFuture<'s, Result<Flow, EngineError>> {
        Box::pin(async move {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(EngineError::Step(format!("steps nested deeper than {MAX_DEPTH} (a goto loop?)")));
            }
            let mut flow = Flow::Next;
            for (index, step) in steps.iter().enumerate().skip(start) {
                self.meter.step().await?;
                if let Some(cursor) = self.cursor.last_mut() {
                    cursor.path.push(index as u32);
                }
                let outcome = self.step(step).await;
                if let Some(cursor) = self.cursor.last_mut() {
                    cursor.path.pop();
                }
                flow = outcome?;
                if flow == Flow::End {
                    break;
                }
            }
            self.depth -= 1;
            Ok(flow)
        })
    }

    /// Runs the steps of a step's branch (`if`'s then 0 / else 1, `try`'s do 0 / catch 1), the
    /// branch noted in the cursor so that a `call` inside it resumes there.
    async fn run_branch(&mut self, branch: u32, steps: &'a [Step]) -> Result<Flow, EngineError> {
        if let Some(cursor) = self.cursor.last_mut() {
            cursor.path.push(branch);
        }
        let flow = self.run_steps(steps).await;
        if let Some(cursor) = self.cursor.last_mut() {
            cursor.path.pop();
        }
        flow
    }

    /// After `return`: runs the steps that followed the `call`, innermost list first, unless
    /// the list holding it changed since (a reload) or is gone.
    async fn resume(&mut self, resume: Resume) -> Result<(), EngineError> {
        let file = self.file();
        let levels = steps_at(file, &resume.at)
            .filter(|root| fingerprint(root) == resume.fingerprint)
            .and_then(|root| levels(root, &resume.path));
        let Some(levels) = levels else {
            tracing::info!(
                bot_id = self.bot.bot_id, chat_id = self.event.chat_id, at = ?resume.at,
                "the steps after a call changed or are gone; returning without them"
            );
            return Ok(());
        };
        self.cursor.push(Cursor { at: resume.at, path: Vec::new() });
        let mut outcome = Ok(Flow::Next);
        for (prefix, steps, index) in levels.into_iter().rev() {
            if let Some(cursor) = self.cursor.last_mut() {
                cursor.path = prefix;
            }
            outcome = self.run_steps_from(steps, index + 1).await;
            if !matches!(outcome, Ok(Flow::Next)) {
                break;
            }
        }
        self.cursor.pop();
        outcome.map(|_| ())
    }

    async fn step(&mut self, step: &'a Step) -> Result<Flow, EngineError> {
        if self.job
            && matches!(
                step,
                Step::Reply(_)
                    | Step::Edit(_)
                    | Step::Answer(_)
                    | Step::Delete(_)
                    | Step::Goto(_)
                    | Step::Call(_)
                    | Step::Return(_)
                    | Step::Dice(_)
                    | Step::Poll(_)
                    | Step::AnswerInline(_)
            )
        {
            return Err(EngineError::Step("a job has no chat to reply to; use notify".into()));
        }
        match step {
            Step::Reply(reply) => self.reply(reply, false)?,
            Step::Edit(reply) => self.reply(reply, true)?,
            Step::Answer(answer) => self.answer(answer)?,
            Step::Delete(_) => {
                let Some(message_id) = self.event.message_id() else {
                    return Err(EngineError::Step("delete: the update is about no message".into()));
                };
                let params = json!({"chat_id": self.event.chat_id, "message_id": message_id});
                self.send("deleteMessage", params);
            }
            Step::Set(values) => {
                for (key, template) in values {
                    self.before_write(key).await?;
                    let raw = self.render(template)?;
                    self.set_var(key, Some(raw))?;
                }
            }
            Step::Unset(keys) => {
                for key in keys {
                    self.before_write(key).await?;
                    self.set_var(key, None)?;
                }
            }
            Step::Goto(scene) => {
                self.enter(scene).await?;
                return Ok(Flow::End);
            }
            Step::Call(scene) => {
                let file = self.file();
                let resume = self.cursor.last().and_then(|cursor| {
                    let root = steps_at(file, &cursor.at)?;
                    Some(Resume { at: cursor.at.clone(), path: cursor.path.clone(), fingerprint: fingerprint(root) })
                });
                if let Some(current) = self.state.scene.clone().or_else(|| file.bot.start.clone()) {
                    self.state.stack.push(Frame { scene: current, resume });
                }
                self.enter(scene).await?;
                return Ok(Flow::End);
            }
            Step::Return(_) => {
                self.state.form = None;
                let file = self.file();
                let frame = self.state.stack.pop().filter(|frame| file.scenes.contains_key(&frame.scene));
                if let Some(frame) = &frame {
                    self.check_scene(&frame.scene)?;
                }
                self.state.scene = frame.as_ref().map(|f| f.scene.clone()).or_else(|| file.bot.start.clone());
                if let Some(resume) = frame.and_then(|f| f.resume) {
                    self.resume(resume).await?;
                }
                return Ok(Flow::End);
            }
            Step::If(condition) => {
                let (branch, steps) =
                    if self.is_true(&condition.condition)? { (0, &condition.then) } else { (1, &condition.otherwise) };
                return self.run_branch(branch, steps).await;
            }
            Step::ForEach(each) => return self.for_each(each).await,
            Step::Dice(emoji) => {
                let params = json!({"chat_id": self.event.chat_id, "emoji": emoji});
                let message = self.call("sendDice", params).await?;
                let value = message.pointer("/dice/value").cloned().unwrap_or(Value::Null);
                self.set_ctx("result", json!({"value": value, "message": message}));
            }
            Step::Poll(poll) => {
                let question = self.text(&poll.question)?;
                let options = poll
                    .options
                    .iter()
                    .map(|o| Ok(json!({"text": self.text(o)?})))
                    .collect::<Result<Vec<_>, EngineError>>()?;
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
            }
            Step::Notify(notify) => self.notify(notify)?,
            Step::AnswerInline(inline) => self.answer_inline(inline)?,
            Step::Http(request) => {
                let result = self.http(request).await?;
                if let Some(target) = &request.save {
                    self.before_write(target).await?;
                    self.set_var(target, Some(result.to_string()))?;
                }
                self.set_ctx("result", result);
            }
            Step::Insert(_)
            | Step::Update(_)
            | Step::Remove(_)
            | Step::Query(_)
            | Step::Count(_)
            | Step::Search(_)
            | Step::Emit(_) => crate::interpret::steps::records::step(self, step).await?,
            Step::Feed(feed) => crate::interpret::steps::feeds::step(self, feed).await?,
            Step::Llm(llm) => crate::interpret::steps::llm::step(self, llm).await?,
            Step::Try(attempt) => return self.attempt(attempt).await,
        }
        Ok(Flow::Next)
    }

    /// `try`: runs `do`; when a step of it fails, undoes what it queued and set (its Bot API
    /// calls, variable writes, template names and the chat's scene) and runs `catch` with
    /// `error`. Collection writes and calls made at once (`dice`, `poll`) stay.
    async fn attempt(&mut self, attempt: &'a schema::Try) -> Result<Flow, EngineError> {
        let queued = self.flushed + self.effects.outbox.len();
        let vars = self.effects.vars.len();
        let (ctx, state, answered) = (self.ctx.clone(), self.state.clone(), self.callback_answered);
        let locked = self.bot_vars_lock.is_some();
        let (depth, page) = (self.depth, self.page);
        let error = match self.run_branch(0, &attempt.steps).await {
            Ok(flow) => return Ok(flow),
            // A spent budget ends the update: a `catch` could otherwise loop on.
            Err(error @ EngineError::Budget(_)) => return Err(error),
            Err(error) => error,
        };
        tracing::debug!(bot_id = self.bot.bot_id, %error, kind = error.kind(), "a step of `try` failed");
        // The calls `do` queued that are still queued (calls made at once are gone).
        self.effects.outbox.truncate(queued.saturating_sub(self.flushed));
        self.effects.vars.truncate(vars);
        self.ctx = ctx;
        self.state = state;
        self.callback_answered = answered;
        (self.depth, self.page) = (depth, page);
        if !locked && self.bot_vars_lock.is_some() {
            // `do` took the bot's variable lock and read them afresh: keep the fresher values.
            let fresh = self.bot.store.load_vars(self.bot.bot_id, Scope::Bot).await?;
            self.ctx.insert("bot".into(), Value::Object(with_defaults(&self.file().variables.bot, fresh)));
        }
        let saved = self.ctx.insert("error".into(), json!({"message": error.to_string(), "kind": error.kind()}));
        self.cache = None;
        let flow = self.run_branch(1, &attempt.catch).await;
        match saved {
            Some(outer) => self.ctx.insert("error".into(), outer),
            None => self.ctx.remove("error"),
        };
        self.cache = None;
        flow
    }

    /// Whether this is a scheduled job's run (no chat, user or message).
    pub fn is_job(&self) -> bool {
        self.job
    }

    /// Refuses a scene the user's roles do not allow ([`EngineError::Forbidden`]), with a log
    /// line; a scene that does not exist is left to the caller.
    fn check_scene(&self, name: &str) -> Result<(), EngineError> {
        let Some(scene) = self.file().scenes.get(name) else {
            return Ok(());
        };
        if guards::scene_allows(scene, &self.roles) {
            return Ok(());
        }
        tracing::warn!(
            bot_id = self.bot.bot_id, user_id = self.event.user_id, chat_id = self.event.chat_id,
            scene = name, roles = ?self.roles, "refused: the user's roles do not allow the scene"
        );
        Err(EngineError::Forbidden(format!("scene {name:?} is only for the roles {:?}", scene.roles)))
    }

    /// Moves the chat to `scene`: checks its `roles`, runs its `on_enter`, then starts its form.
    /// Every way into a scene (a `goto` button, `goto`, `call`) comes here.
    pub async fn enter(&mut self, name: &str) -> Result<(), EngineError> {
        let file = self.file();
        let scene: &'a Scene =
            file.scenes.get(name).ok_or_else(|| EngineError::Step(format!("goto: no scene {name:?}")))?;
        self.check_scene(name)?;
        self.state.scene = Some(name.to_owned());
        self.state.form = None;
        if self.run_root(StepsAt::OnEnter { scene: name.to_owned() }, &scene.on_enter).await? == Flow::End {
            return Ok(());
        }
        if let Some(form) = &scene.form {
            forms::start(self, name, form).await?;
        }
        Ok(())
    }

    async fn for_each(&mut self, each: &'a schema::ForEach) -> Result<Flow, EngineError> {
        let list = match self.eval(&each.list)? {
            Value::Array(list) => list,
            Value::Null => Vec::new(),
            other => return Err(EngineError::Step(format!("for_each: {:?} is not a list but {other}", each.list))),
        };
        let saved = self.ctx.get("item").cloned();
        let mut flow = Flow::Next;
        for item in list.into_iter().take(schema::MAX_FOR_EACH_ITEMS) {
            self.meter.step().await?;
            self.set_ctx("item", item);
            flow = self.run_steps(&each.steps).await?;
            if flow == Flow::End {
                break;
            }
        }
        match saved {
            Some(item) => self.set_ctx("item", item),
            None => {
                self.ctx.remove("item");
                self.cache = None;
            }
        }
        Ok(flow)
    }

    fn answer(&mut self, answer: &schema::Answer) -> Result<(), EngineError> {
        let Some(id) = self.event.callback_id() else {
            tracing::debug!("answer: the update is not a pressed button, skipped");
            return Ok(());
        };
        let (text, alert) = match answer {
            schema::Answer::Text(text) => (Some(self.render(text)?), false),
            schema::Answer::Full(spec) => (spec.text.as_ref().map(|t| self.text(t)).transpose()?, spec.alert),
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
    fn send_spec(&mut self, spec: &ReplySpec, edit: bool) -> Result<(), EngineError> {
        let mut params = self.message_params(spec, self.event.chat_id)?;
        // Telegram would refuse it after the commit, where only a log line would tell; refuse
        // it here so the error reply answers.
        if params.get("photo").is_none() && params["text"].as_str().is_some_and(|t| t.trim().is_empty()) {
            return Err(EngineError::Step("reply: the message text is empty".into()));
        }
        let edited = match (edit, &self.event.kind) {
            (true, Kind::Callback { message_id: Some(id), .. }) => Some(*id),
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
                schema::ParseMode::Html => "HTML",
                schema::ParseMode::MarkdownV2 => "MarkdownV2",
                schema::ParseMode::Markdown => "Markdown",
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

    fn buttons(&mut self, buttons: &Buttons) -> Result<Vec<Vec<Value>>, EngineError> {
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
    fn key(&mut self, key: &Key) -> Result<Value, EngineError> {
        let text = self.render(key.label())?;
        Ok(match key {
            Key::Text(_) => json!({"text": text}),
            Key::WebApp(web_app) => json!({"text": text, "web_app": {"url": self.web_app_url(&web_app.web_app)?}}),
        })
    }

    /// A Web App's URL, rendered; Telegram opens only `https://` ones.
    fn web_app_url(&mut self, source: &str) -> Result<String, EngineError> {
        let url = self.render_raw(source)?;
        let https = reqwest::Url::parse(&url).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
        if !https {
            return Err(EngineError::Step(format!("web_app: {url:?} is not an https URL")));
        }
        Ok(url)
    }

    fn notify(&mut self, notify: &'a schema::Notify) -> Result<(), EngineError> {
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

    fn answer_inline(&mut self, inline: &'a schema::AnswerInline) -> Result<(), EngineError> {
        let Kind::InlineQuery { id, .. } = &self.event.kind else {
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

    /// `http`: renders the request and calls it; a failure is a step error naming the host
    /// (never a header's value).
    async fn http(&mut self, request: &'a schema::HttpRequest) -> Result<Value, EngineError> {
        let method = request.method.as_str();
        let url = self.render_raw(&request.url)?;
        let host = crate::interpret::http::host_or_url(&url);
        let fail = |reason: String| EngineError::Http(format!("http {method} {host}: {reason}"));
        let mut headers = Vec::with_capacity(request.headers.len());
        for (name, source) in &request.headers {
            let rendered = self.render_raw(source)?;
            let value =
                self.bot.http.bot_env().expand(source, &rendered).map_err(|e| fail(format!("header {name}: {e}")))?;
            headers.push((name.clone(), value));
        }
        let mut query = Vec::with_capacity(request.query.len());
        for (name, source) in &request.query {
            query.push((name.clone(), self.render_raw(source)?));
        }
        let json = request.json.as_ref().map(|body| self.render_json(body)).transpose()?;
        let prepared = crate::interpret::http::Prepared {
            method: request.method,
            url: url.clone(),
            headers,
            query,
            json,
            timeout: std::time::Duration::from_millis(u64::from(
                request.timeout_ms.clamp(1, schema::MAX_HTTP_TIMEOUT_MS),
            )),
            retries: request.retries.min(schema::MAX_HTTP_RETRIES),
        };
        let started = tokio::time::Instant::now();
        let result = self.bot.http.call(prepared).await.map_err(fail)?;
        tracing::debug!(
            bot_id = self.bot.bot_id, method, %host,
            status = %result["status"], elapsed = ?started.elapsed(), "http step answered"
        );
        Ok(result)
    }

    /// A JSON body with each string rendered; a string that is one `{{ … }}` keeps its value's
    /// type (a number stays a number).
    fn render_json(&mut self, value: &Value) -> Result<Value, EngineError> {
        Ok(match value {
            Value::String(source) => match crate::interpret::template::single_expression(source) {
                Some(expr) => self.eval(expr)?,
                None => Value::String(self.render_raw(source)?),
            },
            Value::Array(items) => Value::Array(items.iter().map(|v| self.render_json(v)).collect::<Result<_, _>>()?),
            Value::Object(map) => Value::Object(
                map.iter().map(|(k, v)| Ok((k.clone(), self.render_json(v)?))).collect::<Result<_, EngineError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// `set`/`unset` of `user.x`, `chat.x` (or `chat_vars.x`) and `bot.x`; `raw` is typed by
    /// the variable's declaration, or guessed when undeclared. Every variable write goes
    /// through here, and a value over [`crate::SizeCaps::variable`] fails it.
    pub fn set_var(&mut self, key: &str, raw: Option<String>) -> Result<(), EngineError> {
        let (var_scope, name) = VarScope::split(key).map_err(|e| EngineError::Step(format!("set: {e}")))?;
        let vars = &self.file().variables;
        let (scope, declared) = match var_scope {
            VarScope::User => (Scope::User(self.event.user_id), vars.user.get(name)),
            VarScope::Chat => (Scope::Chat(self.event.chat_id), vars.chat.get(name)),
            VarScope::Bot => (Scope::Bot, vars.bot.get(name)),
        };
        let ctx_key = var_scope.ctx_key();
        if self.job && scope != Scope::Bot {
            return Err(EngineError::Step(format!("set: a job has no user or chat for {key:?}")));
        }
        let value = match raw {
            Some(raw) => {
                Some(typed(raw, declared.map(|v| v.kind)).map_err(|e| EngineError::Step(format!("{key}: {e}")))?)
            }
            None => None,
        };
        if let Some(value) = &value {
            self.bot.caps.check_variable(key, value)?;
        }
        self.effects.vars.push((scope, name.to_owned(), value.clone()));
        if let Some(Value::Object(map)) = self.ctx.get_mut(ctx_key) {
            match value {
                Some(value) => map.insert(name.to_owned(), value),
                None => match declared {
                    Some(declared) => map.insert(name.to_owned(), initial(declared)),
                    None => map.remove(name),
                },
            };
        }
        self.cache = None;
        Ok(())
    }
}

/// The scope of a variable as a step names it: `user.x`, `chat.x` (or `chat_vars.x`), `bot.x`.
#[derive(Clone, Copy)]
enum VarScope {
    User,
    Chat,
    Bot,
}

impl VarScope {
    /// Splits `scope.name`.
    fn split(key: &str) -> Result<(VarScope, &str), String> {
        let (scope, name) = key.split_once('.').ok_or_else(|| format!("{key:?} is not scope.name"))?;
        let scope = match scope {
            "user" => VarScope::User,
            "chat" | "chat_vars" => VarScope::Chat,
            "bot" => VarScope::Bot,
            other => return Err(format!("unknown scope {other:?} in {key:?}")),
        };
        Ok((scope, name))
    }

    /// Where templates read the scope's variables.
    fn ctx_key(self) -> &'static str {
        match self {
            VarScope::User => "user",
            VarScope::Chat => "chat_vars",
            VarScope::Bot => "bot",
        }
    }
}

/// The top-level step list `at` names, if the file has it.
fn steps_at<'f>(file: &'f BotFile, at: &StepsAt) -> Option<&'f [Step]> {
    let scene = |name: &str| file.scenes.get(name);
    Some(match at {
        StepsAt::Handler { index } => &file.on.get(*index as usize)?.steps,
        StepsAt::SceneHandler { scene: name, index } => &scene(name)?.on.get(*index as usize)?.steps,
        StepsAt::OnEnter { scene: name } => &scene(name)?.on_enter,
        StepsAt::FormDone { scene: name } => &scene(name)?.form.as_ref()?.on_done,
        StepsAt::FormCancel { scene: name } => &scene(name)?.form.as_ref()?.on_cancel,
    })
}

/// A step list on the way to a `call`: the path to the list, the list, and the index of the
/// step in it that holds (or is) the `call`.
type Level<'f> = (Vec<u32>, &'f [Step], usize);

/// The lists from a top-level list down to the step at `path` (see [`Resume::path`]), each
/// with the path to it and the index of the step in it, outermost first; `None` when the path
/// does not fit the steps. A `for_each` on the way ends the descent: its body needs an `item`
/// that is gone by the time of `return`, so the steps resume after the loop.
fn levels<'f>(root: &'f [Step], path: &[u32]) -> Option<Vec<Level<'f>>> {
    let mut levels = Vec::new();
    let (mut steps, mut rest, mut prefix) = (root, path, Vec::new());
    loop {
        let (&index, tail) = rest.split_first()?;
        levels.push((prefix.clone(), steps, index as usize));
        if tail.is_empty() {
            return Some(levels);
        }
        prefix.push(index);
        match steps.get(index as usize)? {
            Step::If(condition) => {
                let (&branch, tail) = tail.split_first()?;
                prefix.push(branch);
                steps = if branch == 0 { &condition.then } else { &condition.otherwise };
                rest = tail;
            }
            Step::Try(attempt) => {
                let (&branch, tail) = tail.split_first()?;
                prefix.push(branch);
                steps = if branch == 0 { &attempt.steps } else { &attempt.catch };
                rest = tail;
            }
            Step::ForEach(_) => return Some(levels),
            _ => return None,
        }
    }
}

/// A stable hash (64-bit FNV-1a) of steps as JSON: whether a list changed between versions.
fn fingerprint(steps: &[Step]) -> u64 {
    let json = serde_json::to_vec(steps).unwrap_or_default();
    json.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// `web_app` in templates: what a Web App sent (`data`, parsed as JSON when it is JSON; `raw`,
/// as sent) and the label of the key that opened it.
fn web_app_context(data: &Value) -> Value {
    let raw = data.get("data").and_then(Value::as_str).unwrap_or_default();
    let parsed = serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    json!({"data": parsed, "raw": raw, "button_text": data.get("button_text").cloned().unwrap_or(Value::Null)})
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

fn chat_id_of(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

/// A scope's variables: the declared ones with their defaults, overlaid with what is stored. A
/// scope the file declares no variable in is not read: nothing can be written to it, and a
/// read of one of its variables does not pass the checks (decision 0018).
async fn scope_vars(
    bot: &BotContext,
    declared: &std::collections::BTreeMap<String, schema::Variable>,
    scope: Scope,
) -> Result<Map<String, Value>, EngineError> {
    if declared.is_empty() {
        return Ok(Map::new());
    }
    Ok(with_defaults(declared, bot.store.load_vars(bot.bot_id, scope).await?))
}

/// Declared variables with their defaults (or their type's empty value), overlaid with what
/// is stored.
fn with_defaults(
    declared: &std::collections::BTreeMap<String, schema::Variable>,
    stored: Map<String, Value>,
) -> Map<String, Value> {
    let mut vars: Map<String, Value> = declared.iter().map(|(name, var)| (name.clone(), initial(var))).collect();
    vars.extend(stored);
    vars
}

fn initial(var: &schema::Variable) -> Value {
    var.default.clone().unwrap_or(match var.kind {
        ValueType::String => json!(""),
        ValueType::Number => json!(0),
        ValueType::Bool => json!(false),
        ValueType::List => json!([]),
        ValueType::Object => json!({}),
    })
}

/// A rendered value, typed: as declared, or a number, `true`/`false` or JSON when it reads as one.
pub fn typed(raw: String, declared: Option<ValueType>) -> Result<Value, String> {
    let trimmed = raw.trim();
    let number = || -> Option<Value> {
        let n: f64 = trimmed.parse().ok().filter(|n: &f64| n.is_finite())?;
        Some(number_value(n))
    };
    match declared {
        Some(ValueType::String) => Ok(Value::String(raw)),
        Some(ValueType::Number) => number().ok_or_else(|| format!("{raw:?} is not a number")),
        Some(ValueType::Bool) => match trimmed {
            "true" | "True" => Ok(json!(true)),
            "false" | "False" | "" => Ok(json!(false)),
            _ => Err(format!("{raw:?} is not true or false")),
        },
        Some(ValueType::List) => match serde_json::from_str(trimmed) {
            Ok(Value::Array(list)) => Ok(Value::Array(list)),
            _ => Err(format!("{raw:?} is not a JSON list")),
        },
        Some(ValueType::Object) => match serde_json::from_str(trimmed) {
            Ok(Value::Object(map)) => Ok(Value::Object(map)),
            _ => Err(format!("{raw:?} is not a JSON object")),
        },
        None => Ok(match trimmed {
            "true" | "True" => json!(true),
            "false" | "False" => json!(false),
            _ if trimmed.starts_with(['[', '{']) => serde_json::from_str(trimmed).unwrap_or(Value::String(raw)),
            _ => number().unwrap_or(Value::String(raw)),
        }),
    }
}

/// Whole numbers as integers, so `{{ user.score }}` prints `3`, not `3.0`.
pub fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 { json!(n as i64) } else { json!(n) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed() {
        assert_eq!(typed("3".into(), None), Ok(json!(3)));
        assert_eq!(typed("2.5".into(), None), Ok(json!(2.5)));
        assert_eq!(typed("true".into(), None), Ok(json!(true)));
        assert_eq!(typed("[1, 2]".into(), None), Ok(json!([1, 2])));
        assert_eq!(typed("Ann".into(), None), Ok(json!("Ann")));
        assert_eq!(typed("42".into(), Some(ValueType::String)), Ok(json!("42")));
        assert!(typed("x".into(), Some(ValueType::Number)).is_err());
        assert_eq!(typed("[\"a\"]".into(), Some(ValueType::List)), Ok(json!(["a"])));
    }
}
