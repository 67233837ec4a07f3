//! The walk over a list of steps: a step after `goto` or `return` never runs, a job cannot take
//! the steps that need a chat, the control flow (`goto`, `call`, `return`, `if`, `for_each`,
//! `try`) is followed here, and every other step goes to the check of its family.

use super::Checker;
use crate::Step;
use crate::source::{push_index, push_key};

impl<'a> Checker<'a> {
    pub(super) fn steps(&mut self, steps: &'a [Step], path: &str, scene: Option<&'a str>) {
        let mut ended_by: Option<&str> = None;
        for (i, step) in steps.iter().enumerate() {
            let step_path = push_index(path, i);
            if let Some(kind) = ended_by.take() {
                self.warning(
                    &step_path,
                    format!("this step never runs: `{kind}` before it ends the handler"),
                    Some(format!("move it before `{kind}`, or remove it")),
                );
            }
            let chat_step = match step {
                Step::Reply(_) => Some("reply"),
                Step::Edit(_) => Some("edit"),
                Step::Answer(_) => Some("answer"),
                Step::Delete(_) => Some("delete"),
                Step::Goto(_) => Some("goto"),
                Step::Call(_) => Some("call"),
                Step::Return(_) => Some("return"),
                Step::Dice(_) => Some("dice"),
                Step::Poll(_) => Some("poll"),
                Step::AnswerInline(_) => Some("answer_inline"),
                _ => None,
            };
            if let Some(kind) = chat_step {
                self.needs_chat(&step_path, kind);
            }
            match step {
                Step::Reply(reply) => self.reply(reply, &push_key(&step_path, "reply"), scene),
                Step::Edit(reply) => self.reply(reply, &push_key(&step_path, "edit"), scene),
                Step::Answer(answer) => self.answer(answer, &push_key(&step_path, "answer")),
                Step::Delete(_) => {}
                Step::Set(values) => self.set_step(values, &push_key(&step_path, "set")),
                Step::Unset(targets) => self.unset_step(targets, &push_key(&step_path, "unset")),
                Step::Goto(target) => {
                    self.scene_ref(target, &push_key(&step_path, "goto"));
                    self.edge(scene, target);
                    ended_by = Some("goto");
                }
                Step::Call(target) => {
                    self.scene_ref(target, &push_key(&step_path, "call"));
                    self.edge(scene, target);
                    self.called.insert(target.as_str());
                }
                Step::Return(_) => {
                    if let Some(scene) = scene {
                        self.returns.push((scene, push_key(&step_path, "return")));
                    }
                    ended_by = Some("return");
                }
                Step::If(condition) => {
                    let if_path = push_key(&step_path, "if");
                    self.expression(&condition.condition, &push_key(&if_path, "condition"));
                    self.steps(&condition.then, &push_key(&if_path, "then"), scene);
                    self.steps(&condition.otherwise, &push_key(&if_path, "else"), scene);
                    if condition.then.is_empty() && condition.otherwise.is_empty() {
                        self.warning(
                            &if_path,
                            "this `if` does nothing".into(),
                            Some("add `then:` or `else:` steps".into()),
                        );
                    }
                }
                Step::ForEach(for_each) => {
                    let each_path = push_key(&step_path, "for_each");
                    self.expression(&for_each.list, &push_key(&each_path, "in"));
                    self.check_loop_size(&for_each.list, &push_key(&each_path, "in"));
                    self.steps(&for_each.steps, &push_key(&each_path, "do"), scene);
                }
                Step::Try(attempt) => {
                    let try_path = push_key(&step_path, "try");
                    if attempt.steps.is_empty() {
                        self.error(
                            &push_key(&try_path, "do"),
                            "`try` has no steps to try".into(),
                            Some("put the steps that may fail under `do:`".into()),
                        );
                    }
                    self.steps(&attempt.steps, &push_key(&try_path, "do"), scene);
                    self.in_catch += 1;
                    self.steps(&attempt.catch, &push_key(&try_path, "catch"), scene);
                    self.in_catch -= 1;
                }
                Step::Dice(emoji) => self.dice(emoji, &push_key(&step_path, "dice")),
                Step::Poll(poll) => self.poll(poll, &push_key(&step_path, "poll")),
                Step::Notify(notify) => self.notify(notify, &push_key(&step_path, "notify"), scene),
                Step::AnswerInline(inline) => self.answer_inline(inline, &push_key(&step_path, "answer_inline")),
                Step::Http(request) => self.http(request, &push_key(&step_path, "http")),
                Step::Feed(feed) => self.feed(feed, &push_key(&step_path, "feed")),
                Step::Llm(llm) => self.llm(llm, &push_key(&step_path, "llm")),
                Step::Insert(_)
                | Step::Update(_)
                | Step::Remove(_)
                | Step::Query(_)
                | Step::Count(_)
                | Step::Search(_)
                | Step::Emit(_) => self.data_step(step, &step_path),
            }
        }
    }
}
