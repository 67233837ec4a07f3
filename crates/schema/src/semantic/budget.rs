//! The step budget, checked where it can be seen: loops whose literal sizes (`range(1000)`, a
//! written list) multiply past the steps one update may run are rejected, since such a handler
//! could only ever fail. A loop over a list the bot computes counts once here (its size is
//! known only when it runs, where the engine's budget stops it).

use minijinja::Environment;

use super::Checker;
use crate::source::{push_index, push_key};
use crate::{DEFAULT_UPDATE_STEPS, MAX_FOR_EACH_ITEMS, Step};

impl<'a> Checker<'a> {
    /// Checks every top-level step list of the file against the step budget.
    pub(super) fn check_step_budget(&mut self) {
        let bot = self.bot;
        for (i, handler) in bot.on.iter().enumerate() {
            self.budget_list(&handler.steps, &push_key(&push_index("on", i), "do"));
        }
        for (name, scene) in &bot.scenes {
            let path = push_key("scenes", name);
            self.budget_list(&scene.on_enter, &push_key(&path, "on_enter"));
            for (i, handler) in scene.on.iter().enumerate() {
                self.budget_list(&handler.steps, &push_key(&push_index(&push_key(&path, "on"), i), "do"));
            }
            if let Some(form) = &scene.form {
                let form_path = push_key(&path, "form");
                self.budget_list(&form.on_done, &push_key(&form_path, "on_done"));
                self.budget_list(&form.on_cancel, &push_key(&form_path, "on_cancel"));
            }
        }
        for (name, job) in &bot.jobs {
            self.budget_list(&job.steps, &push_key(&push_key("jobs", name), "do"));
        }
    }

    /// Reports the outermost loops of `steps` that can run more steps than the budget, or the
    /// list itself when only their sum is over it.
    fn budget_list(&mut self, steps: &'a [Step], path: &str) {
        let total = steps_cost(self, steps);
        if total > DEFAULT_UPDATE_STEPS && !self.budget_loops(steps, path) {
            self.error(
                path,
                format!("these steps can run {total} steps, more than the {DEFAULT_UPDATE_STEPS} one update may run"),
                Some("loop over fewer elements: loops one after another add up".into()),
            );
        }
    }

    /// Reports each outermost `for_each` under `steps` that alone is over the budget; whether
    /// there was one.
    fn budget_loops(&mut self, steps: &'a [Step], path: &str) -> bool {
        let mut found = false;
        for (i, step) in steps.iter().enumerate() {
            let step_path = push_index(path, i);
            found |= match step {
                Step::ForEach(each) => {
                    let each_path = push_key(&step_path, "for_each");
                    let cost = step_cost(self, step);
                    if cost > DEFAULT_UPDATE_STEPS {
                        self.error(
                            &push_key(&each_path, "in"),
                            format!(
                                "this loop can run {cost} steps, more than the {DEFAULT_UPDATE_STEPS} one update may run"
                            ),
                            Some(
                                "loop over fewer elements: nested loops multiply (`range(100)` inside `range(100)` \
                                 runs 10000 times)"
                                    .into(),
                            ),
                        );
                        true
                    } else {
                        self.budget_loops(&each.steps, &push_key(&each_path, "do"))
                    }
                }
                Step::If(condition) => {
                    let if_path = push_key(&step_path, "if");
                    let then = self.budget_loops(&condition.then, &push_key(&if_path, "then"));
                    self.budget_loops(&condition.otherwise, &push_key(&if_path, "else")) | then
                }
                Step::Try(attempt) => {
                    let try_path = push_key(&step_path, "try");
                    let tried = self.budget_loops(&attempt.steps, &push_key(&try_path, "do"));
                    self.budget_loops(&attempt.catch, &push_key(&try_path, "catch")) | tried
                }
                _ => false,
            };
        }
        found
    }

    /// Warns about a `for_each` over a written list longer than a loop visits.
    pub(super) fn check_loop_size(&mut self, list: &str, path: &str) {
        if let Some(len) = literal_len(&self.env, list)
            && len > MAX_FOR_EACH_ITEMS as u64
        {
            self.warning(
                path,
                format!("the list has {len} elements; a loop visits the first {MAX_FOR_EACH_ITEMS} only"),
                Some("loop over fewer elements".into()),
            );
        }
    }
}

/// The most steps `steps` can run as far as the file tells: each step counts one, a loop its
/// elements times (one plus its body), an `if` its larger branch, a `try` both parts.
fn steps_cost(checker: &Checker<'_>, steps: &[Step]) -> u64 {
    steps.iter().fold(0u64, |sum, step| sum.saturating_add(step_cost(checker, step)))
}

fn step_cost(checker: &Checker<'_>, step: &Step) -> u64 {
    let inner = match step {
        Step::ForEach(each) => {
            let elements = literal_len(&checker.env, &each.list).map_or(1, |len| len.min(MAX_FOR_EACH_ITEMS as u64));
            elements.saturating_mul(1u64.saturating_add(steps_cost(checker, &each.steps)))
        }
        Step::If(condition) => steps_cost(checker, &condition.then).max(steps_cost(checker, &condition.otherwise)),
        Step::Try(attempt) => steps_cost(checker, &attempt.steps).saturating_add(steps_cost(checker, &attempt.catch)),
        _ => 0,
    };
    inner.saturating_add(1)
}

/// The number of elements of a list written in the expression: `range(…)` with whole numbers,
/// or a list literal of constants; `None` for a list the bot computes.
fn literal_len(env: &Environment<'_>, expr: &str) -> Option<u64> {
    let expr = expr.trim();
    if let Some(args) = expr.strip_prefix("range(").and_then(|rest| rest.strip_suffix(')')) {
        let args: Vec<i64> = args.split(',').map(|a| a.trim().parse().ok()).collect::<Option<_>>()?;
        let (start, stop, step) = match args[..] {
            [stop] => (0, stop, 1),
            [start, stop] => (start, stop, 1),
            [start, stop, step] if step != 0 => (start, stop, step),
            _ => return None,
        };
        let span = if step > 0 { stop.saturating_sub(start) } else { start.saturating_sub(stop) };
        let len = (span.max(0) as u64).div_ceil(step.unsigned_abs());
        return Some(len);
    }
    if expr.starts_with('[') && expr.ends_with(']') {
        let value = env.compile_expression(expr).ok()?.eval(()).ok()?;
        return (value.kind() == minijinja::value::ValueKind::Seq).then(|| value.len()).flatten().map(|n| n as u64);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::literal_len;
    use crate::load_str;

    fn errors(yaml: &str) -> Vec<crate::Diagnostic> {
        match load_str(yaml, "bot.yaml") {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics.into_iter().filter(|d| d.is_error()).collect(),
        }
    }

    #[test]
    fn nested_literal_loops_past_the_budget_are_rejected_at_the_outer_loop() {
        let yaml = r#"ferrogram: 1
bot: {name: spin}
on:
  - command: spin
    do:
      - for_each: {in: "range(1000)", do: [{for_each: {in: "range(1000)", do: [{for_each: {in: "range(1000)", do: [{set: {user.s: "{{ item }}"}}]}}]}}]}
"#;
        // The issue's file as it was reported (its `user.s` undeclared, an error of its own).
        let found: Vec<_> = errors(yaml).into_iter().filter(|d| d.message.contains("steps")).collect();
        assert_eq!(found.len(), 1, "only the outermost loop is reported: {found:?}");
        let error = &found[0];
        assert_eq!(error.key, "on[0].do[0].for_each.in");
        assert_eq!((error.line, error.column), (6, 24), "{error}");
        assert!(error.message.contains("more than the 100000"), "{error}");
        assert!(error.hint.as_deref().is_some_and(|h| h.contains("multiply")), "{error}");
    }

    #[test]
    fn loops_within_the_budget_and_computed_lists_pass() {
        let yaml = r#"ferrogram: 1
bot: {name: fine}
variables:
  bot: {size: {type: number, default: 1000}}
on:
  - command: a
    do:
      - for_each: {in: "range(100)", do: [{for_each: {in: "range(100)", do: [{set: {bot.size: "{{ item }}"}}]}}]}
  - command: b
    do:
      - for_each: {in: "range(bot.size)", do: [{for_each: {in: "range(bot.size)", do: [{reply: "{{ item }}"}]}}]}
  - command: c
    do:
      - for_each: {in: "[1, 2, 3]", do: [{reply: "{{ item }}"}]}
"#;
        assert_eq!(errors(yaml), Vec::new());
    }

    #[test]
    fn loops_that_add_up_past_the_budget_are_rejected_at_their_list() {
        let mut yaml = String::from("ferrogram: 1\nbot: {name: sum}\non:\n  - command: a\n    do:\n");
        for _ in 0..60 {
            yaml.push_str("      - {for_each: {in: \"range(1000)\", do: [{reply: \"{{ item }}\"}]}}\n");
        }
        let found = errors(&yaml);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "on[0].do", "{found:?}");
        assert!(found[0].message.contains("120060 steps"), "{}", found[0]);
    }

    #[test]
    fn literal_sizes() {
        let env = crate::templates::environment();
        assert_eq!(literal_len(&env, "range(1000)"), Some(1000));
        assert_eq!(literal_len(&env, " range(10, 20) "), Some(10));
        assert_eq!(literal_len(&env, "range(0, 10, 3)"), Some(4));
        assert_eq!(literal_len(&env, "range(10, 0, -1)"), Some(10));
        assert_eq!(literal_len(&env, "range(5, 1)"), Some(0));
        assert_eq!(literal_len(&env, "[1, 2, 'three']"), Some(3));
        assert_eq!(literal_len(&env, "range(bot.size)"), None);
        assert_eq!(literal_len(&env, "[user.a, 2]"), None);
        assert_eq!(literal_len(&env, "user.list"), None);
    }

    #[test]
    fn a_written_list_longer_than_a_loop_visits_is_warned_about() {
        let yaml = "ferrogram: 1\nbot: {name: w}\non:\n  - command: a\n    do:\n      - for_each: {in: \"range(5000)\", do: [{reply: hi}]}\n";
        let checked = crate::check_str(yaml, "bot.yaml");
        let warnings: Vec<_> = checked.diagnostics.iter().filter(|d| !d.is_error()).collect();
        assert!(
            warnings.iter().any(|d| d.key == "on[0].do[0].for_each.in" && d.message.contains("first 1000")),
            "{warnings:?}"
        );
    }
}
