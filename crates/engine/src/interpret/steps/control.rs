//! The control flow of a run: step lists with their depth and step budget, `if`, `for_each`,
//! `try`, and scenes (`goto`, `call` and `return`, a scene's `roles` and `on_enter`), with where
//! a `call`'s caller resumes after `return`.

use ferrogram_schema::{BotFile, Scene, Step};
use serde_json::{Value, json};

use crate::error::EngineError;
use crate::interpret::guards;
use crate::interpret::steps::forms;
use crate::interpret::steps::run::Run;
use crate::interpret::steps::variables::with_defaults;
use ferrogram_core::{BoxFuture, Frame, Resume, Scope, StepsAt};

/// How deep `goto` chains (a scene's `on_enter` going to another) and nested steps may go.
const MAX_DEPTH: u32 = 32;

/// Whether the handler goes on after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Next,
    /// `goto`, `call` or `return` ended the handler.
    End,
}

/// A top-level step list being run, and the path to the running step in it (see [`Resume`]).
pub(super) struct Cursor {
    pub(super) at: StepsAt,
    pub(super) path: Vec<u32>,
}

impl<'a> Run<'a> {
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
    pub(super) async fn run_branch(&mut self, branch: u32, steps: &'a [Step]) -> Result<Flow, EngineError> {
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

    /// `goto`: moves the chat to the scene, which ends the handler.
    pub(super) async fn goto(&mut self, scene: &str) -> Result<Flow, EngineError> {
        self.enter(scene).await?;
        Ok(Flow::End)
    }

    /// `call`: moves the chat to the scene, keeping the current one (and the step to resume
    /// after) on the chat's stack for `return`; it ends the handler.
    pub(super) async fn call_scene(&mut self, scene: &str) -> Result<Flow, EngineError> {
        let file = self.file();
        let resume = self.cursor.last().and_then(|cursor| {
            let root = steps_at(file, &cursor.at)?;
            Some(Resume { at: cursor.at.clone(), path: cursor.path.clone(), fingerprint: fingerprint(root) })
        });
        if let Some(current) = self.state.scene.clone().or_else(|| file.bot.start.clone()) {
            self.state.stack.push(Frame { scene: current, resume });
        }
        self.enter(scene).await?;
        Ok(Flow::End)
    }

    /// `return`: back to the scene that `call`ed (or the start scene), running the steps that
    /// followed the `call`; it ends the handler.
    pub(super) async fn return_to_caller(&mut self) -> Result<Flow, EngineError> {
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
        Ok(Flow::End)
    }

    /// `if`: runs `then` or `else`.
    pub(super) async fn if_else(&mut self, condition: &'a ferrogram_schema::Condition) -> Result<Flow, EngineError> {
        let (branch, steps) =
            if self.is_true(&condition.condition)? { (0, &condition.then) } else { (1, &condition.otherwise) };
        self.run_branch(branch, steps).await
    }

    /// `try`: runs `do`; when a step of it fails, undoes what it queued and set (its Bot API
    /// calls, variable writes, template names and the chat's scene) and runs `catch` with
    /// `error`. Collection writes and calls made at once (`dice`, `poll`) stay.
    pub(super) async fn attempt(&mut self, attempt: &'a ferrogram_schema::Try) -> Result<Flow, EngineError> {
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

    /// Refuses a scene the user's roles do not allow ([`EngineError::Forbidden`]), with a log
    /// line; a scene that does not exist is left to the caller.
    pub(super) fn check_scene(&self, name: &str) -> Result<(), EngineError> {
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

    pub(super) async fn for_each(&mut self, each: &'a ferrogram_schema::ForEach) -> Result<Flow, EngineError> {
        let list = match self.eval(&each.list)? {
            Value::Array(list) => list,
            Value::Null => Vec::new(),
            other => return Err(EngineError::Step(format!("for_each: {:?} is not a list but {other}", each.list))),
        };
        let saved = self.ctx.get("item").cloned();
        let mut flow = Flow::Next;
        for item in list.into_iter().take(ferrogram_schema::MAX_FOR_EACH_ITEMS) {
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
