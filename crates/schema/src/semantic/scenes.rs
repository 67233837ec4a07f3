//! Checks of the scene graph: the scenes `goto`, `call` and buttons name exist, every scene is
//! reached from `bot.start`, and a scene that `return`s is entered by some `call`.

use super::Checker;
use crate::source::push_key;
use crate::suggest;
use std::collections::{HashSet, VecDeque};

impl<'a> Checker<'a> {
    pub(super) fn scene_ref(&mut self, target: &str, path: &str) {
        // A scene is lost only when its own value is wrong (it has no required keys).
        if self.bot.scenes.contains_key(target) || self.damage.entry_lost("scenes") {
            return;
        }
        let hint = if self.bot.scenes.is_empty() {
            Some(format!("declare it: `scenes: {{{target}: {{on_enter: […]}}}}`"))
        } else {
            let names = self.bot.scenes.keys().map(String::as_str);
            suggest::did_you_mean(target, names.clone())
                .map(|best| format!("did you mean `{best}`?"))
                .or_else(|| suggest::one_of(names).map(|list| list.replace("expected one of", "the scenes are")))
        };
        self.error(path, format!("unknown scene `{target}`"), hint);
    }

    /// A way from `from` (None: a global handler) into the scene `to`.
    pub(super) fn edge(&mut self, from: Option<&'a str>, to: &'a str) {
        self.edges.push((from, to));
        self.entries.push((to, self.handler_roles));
    }

    pub(super) fn check_reachability(&mut self) {
        let Some(start) = self.bot.bot.start.as_deref() else { return };
        if !self.bot.scenes.contains_key(start) {
            return;
        }
        let mut reached: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        queue.push_back(start);
        // Global handlers apply in every scene.
        for (from, to) in &self.edges {
            if from.is_none() {
                queue.push_back(to);
            }
        }
        while let Some(scene) = queue.pop_front() {
            if !reached.insert(scene) {
                continue;
            }
            for (from, to) in &self.edges {
                if *from == Some(scene) && !reached.contains(to) {
                    queue.push_back(to);
                }
            }
        }
        for name in self.bot.scenes.keys() {
            if !reached.contains(name.as_str()) {
                self.warning_at_key(
                    &push_key("scenes", name),
                    format!("the scene `{name}` is never reached from `bot.start` (`{start}`)"),
                    Some(format!("enter it with `goto: {name}` or a button's `goto`, or remove it")),
                );
            }
        }
        let returns = std::mem::take(&mut self.returns);
        for (scene, path) in returns {
            if !self.called.contains(scene) {
                self.warning(
                    &path,
                    format!("`return` in the scene `{scene}`, which no `call` enters"),
                    Some(format!("enter it with `call: {scene}`, or use `goto`")),
                );
            }
        }
    }
}
