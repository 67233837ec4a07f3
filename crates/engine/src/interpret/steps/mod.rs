//! The interpreter of a bot file's steps. A [`run::Run`] is one update's (or job's) run of a
//! handler; the step dispatcher here sends each step to its family:
//!
//! - [`run`]: the run, its entry points ([`run::handle_update`], [`run::run_job`]), its state,
//!   context and effects, and the choice of the handler;
//! - [`control`]: step lists, `if`, `for_each`, `try`, `goto`, `call`, `return`, scenes;
//! - [`messages`]: `reply`, `edit`, `answer`, `notify`, `answer_inline`, `delete`, `dice`,
//!   `poll`, and the `errors` reply; [`keyboards`]: their buttons, keys and list pages;
//!   [`long_text`]: texts over Telegram's length;
//! - [`variables`]: `set`, `unset` and the variable scopes;
//! - [`http_step`]: `http`; [`feeds`]: `feed`; [`llm`]: `llm`;
//! - [`records`]: the collection steps (`insert`, `update`, `remove`, `query`, `count`,
//!   `search`, `emit`), with [`near`] for places;
//! - [`forms`]: a scene's form, field by field.
//!
//! Every step started and every `for_each` iteration is counted against the update's step
//! budget, and every template render against its fuel budget, across nesting, `call`s and
//! scene entries (see the budget module); the step loop also yields to the runtime regularly
//! and checks the update's deadline. A spent budget ends the update with
//! [`EngineError::Budget`], which no `try` catches.

pub mod control;
pub mod feeds;
pub mod forms;
pub mod http_step;
pub mod keyboards;
pub mod llm;
pub mod long_text;
pub mod messages;
pub mod near;
pub mod records;
pub mod run;
pub mod variables;

use ferrogram_schema::Step;

use crate::error::EngineError;
use crate::interpret::steps::control::Flow;
use crate::interpret::steps::run::Run;

impl<'a> Run<'a> {
    /// Runs one step: sends it to its family. A job's run has no chat: it refuses the steps
    /// that need one.
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
            Step::Delete(_) => self.delete()?,
            Step::Set(values) => self.set(values).await?,
            Step::Unset(keys) => self.unset(keys).await?,
            Step::Goto(scene) => return self.goto(scene).await,
            Step::Call(scene) => return self.call_scene(scene).await,
            Step::Return(_) => return self.return_to_caller().await,
            Step::If(condition) => return self.if_else(condition).await,
            Step::ForEach(each) => return self.for_each(each).await,
            Step::Dice(emoji) => self.dice(emoji).await?,
            Step::Poll(poll) => self.poll(poll).await?,
            Step::Notify(notify) => self.notify(notify)?,
            Step::AnswerInline(inline) => self.answer_inline(inline)?,
            Step::Http(request) => self.http_step(request).await?,
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
}
