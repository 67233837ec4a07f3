//! Checks of `jobs`: one schedule each (`cron` or `every`, well written), and their steps,
//! which run without a chat, a user or a message.

use super::{Checker, Scope};
use crate::source::push_key;

impl<'a> Checker<'a> {
    pub(super) fn check_jobs(&mut self) {
        for (name, job) in &self.bot.jobs {
            let path = push_key("jobs", name);
            match (&job.cron, &job.every) {
                (Some(_), Some(_)) => self.error_at_key(
                    &push_key(&path, "every"),
                    format!("the job `{name}` has both `cron` and `every`"),
                    Some("keep one of them".into()),
                ),
                (None, None) => self.error_at_key(
                    &path,
                    format!("the job `{name}` has no schedule"),
                    Some("add `every: 1h` or `cron: \"0 9 * * *\"`".into()),
                ),
                (Some(cron), None) => {
                    if let Err(e) = crate::schedule::parse_cron(cron) {
                        self.error(
                            &push_key(&path, "cron"),
                            e.message,
                            Some("5 fields: minute hour day-of-month month day-of-week, like `0 9 * * MON`".into()),
                        );
                    }
                }
                (None, Some(every)) => {
                    if let Err(e) = crate::schedule::parse_every(every) {
                        self.error(
                            &push_key(&path, "every"),
                            e.message,
                            Some("a whole number and `s`, `m`, `h` or `d`: `30s`, `5m`, `1h`, `1d`".into()),
                        );
                    }
                }
            }
            self.in_job = true;
            self.steps(&job.steps, &push_key(&path, "do"), None);
            self.in_job = false;
        }
    }

    /// In a job, a step that needs the chat of an update.
    pub(super) fn needs_chat(&mut self, step_path: &str, kind: &str) {
        if self.in_job {
            let message = match kind {
                "goto" | "call" | "return" => format!("a job has no chat to move with `{kind}`"),
                _ => "a job has no chat to reply to; use notify".to_string(),
            };
            self.error_at_key(
                &push_key(step_path, kind),
                message,
                Some("send with `notify: {to: bot.subscribers, message: …}`".into()),
            );
        }
    }

    /// In a job, only `bot.…` variables can be set: there is no user or chat.
    pub(super) fn job_scope(&mut self, scope: Scope, target: &str, path: &str) {
        if self.in_job && scope != Scope::Bot {
            self.error_at_key(
                path,
                format!("a job has no {} to set `{target}` for", if scope == Scope::User { "user" } else { "chat" }),
                Some("jobs set `bot.…` variables".into()),
            );
        }
    }
}
