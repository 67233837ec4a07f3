//! Checks on the typed model that the JSON Schema cannot express: references between parts of
//! the file (scenes, variables, texts, roles, locales), templates and conditions, regular
//! expressions, and what can never run.
//!
//! [`check`] walks the file in a fixed order and hands each part to the family of checks in
//! its own file; the diagnostics come out in that order.

use crate::source::{Pos, Positions, push_index, push_key};
use crate::templates;
use crate::{BotFile, Diagnostic, Severity};
use minijinja::Environment;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

mod budget;
mod collections;
mod data_steps;
mod feeds;
mod forms;
mod handlers;
mod http;
mod jobs;
mod llm;
mod messages;
mod roles;
mod scenes;
mod sessions;
mod settings;
mod steps;
mod texts;
mod util;
mod variables;
mod webhooks;

pub use handlers::regex_trigger;
pub use messages::DICE;
pub use roles::DEFAULT_ROLE;
pub use texts::text_key;
use variables::Scope;

/// What the structure check lost, when the semantic checks run on what is left of a file with
/// errors: those checks then skip what the losses could make wrong, and their diagnostics are
/// mapped back to the file's own paths.
#[derive(Debug, Default)]
pub struct Damage {
    /// Paths of the structure errors.
    paths: Vec<String>,
    /// For each list that lost items, the indices (in the file) of the items kept.
    kept: HashMap<String, Vec<usize>>,
}

/// Whether `path` is `prefix` or inside it (every path is inside ``).
fn within(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || (path.starts_with(prefix) && matches!(path.as_bytes().get(prefix.len()), Some(b'.' | b'[')))
}

impl Damage {
    pub fn new(paths: Vec<String>, kept: HashMap<String, Vec<usize>>) -> Damage {
        Damage { paths, kept }
    }

    /// Whether anything at or under `prefix` was lost.
    fn under(&self, prefix: &str) -> bool {
        self.paths.iter().any(|p| within(p, prefix))
    }

    /// Whether an entry of the table at `table` (or the table itself) was lost.
    fn entry_lost(&self, table: &str) -> bool {
        self.paths.iter().any(|p| p == table || crate::source::parent(p) == Some(table))
    }

    /// Whether a diagnostic about `key` could come from a loss: at it, inside it or around it.
    pub fn touches(&self, key: &str) -> bool {
        self.paths.iter().any(|p| within(p, key) || within(key, p))
    }

    /// The file's path for a path of what was kept (list items that were left out shift the
    /// indices after them).
    pub fn translate(&self, path: &str) -> String {
        if self.kept.is_empty() {
            return path.to_string();
        }
        let mut out = String::with_capacity(path.len());
        let mut rest = path;
        while let Some(c) = rest.chars().next() {
            if c == '[' && !rest.starts_with("[\"") {
                let end = rest.find(']').unwrap_or(rest.len());
                let index = rest.get(1..end).and_then(|i| i.parse::<usize>().ok());
                match index {
                    Some(i) => {
                        let original = self.kept.get(&out).and_then(|kept| kept.get(i)).copied().unwrap_or(i);
                        out.push_str(&format!("[{original}]"));
                    }
                    None => out.push_str(rest.get(..=end).unwrap_or(rest)),
                }
                rest = rest.get(end + 1..).unwrap_or("");
            } else if rest.starts_with("[\"") {
                // A quoted key: up to the closing `"]`, past escaped quotes.
                let bytes = rest.as_bytes();
                let mut j = 2;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                let end = (j + 2).min(rest.len());
                out.push_str(rest.get(..end).unwrap_or(rest));
                rest = rest.get(end..).unwrap_or("");
            } else {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        out
    }
}

struct Checker<'a> {
    bot: &'a BotFile,
    positions: &'a Positions,
    damage: &'a Damage,
    env: Environment<'a>,
    diagnostics: Vec<Diagnostic>,
    locales: BTreeSet<&'a str>,
    /// Declared variables, by scope.
    declared: BTreeMap<Scope, BTreeSet<&'a str>>,
    /// Variables something sets (`set`, a form with `store: user`).
    set: HashSet<(Scope, String)>,
    /// Variables some template reads.
    read: HashSet<(Scope, String)>,
    /// Scene edges: from a scene (None: a global handler) to a scene.
    edges: Vec<(Option<&'a str>, &'a str)>,
    /// Each way into a scene, with the `roles` of the handler it is in (empty: anyone's).
    entries: Vec<(&'a str, &'a [String])>,
    /// The `roles` of the handler whose steps are being checked (empty outside one).
    handler_roles: &'a [String],
    called: HashSet<&'a str>,
    returns: Vec<(&'a str, String)>,
    commands: HashSet<&'a str>,
    /// Whether the steps being checked are a job's (no chat, user or message).
    in_job: bool,
    /// How many `catch` blocks the steps being checked are in (`error` is readable there).
    in_catch: u32,
    /// Names that steps give their results with `as:`, readable by templates.
    locals: BTreeSet<String>,
}

/// Runs every semantic check (on what is left of the file when `damage` is not empty).
pub fn check(bot: &BotFile, positions: &Positions, damage: &Damage) -> Vec<Diagnostic> {
    let mut locales: BTreeSet<&str> = bot.bot.locales.iter().map(String::as_str).collect();
    locales.insert(bot.bot.default_locale.as_str());
    let declared = [
        (Scope::User, bot.variables.user.keys().map(String::as_str).collect()),
        (Scope::Chat, bot.variables.chat.keys().map(String::as_str).collect()),
        (Scope::Bot, bot.variables.bot.keys().map(String::as_str).collect()),
    ]
    .into_iter()
    .collect();
    let mut checker = Checker {
        bot,
        positions,
        damage,
        env: templates::environment(),
        diagnostics: Vec::new(),
        locales,
        declared,
        set: HashSet::new(),
        read: HashSet::new(),
        edges: Vec::new(),
        entries: Vec::new(),
        handler_roles: &[],
        called: HashSet::new(),
        returns: Vec::new(),
        commands: HashSet::new(),
        in_job: false,
        in_catch: 0,
        locals: data_steps::locals(bot),
    };
    checker.run();
    checker.diagnostics
}

impl<'a> Checker<'a> {
    /// Reports at the value (or the key) of `path`, a path of the model.
    fn push(&mut self, severity: Severity, at_key: bool, path: &str, message: String, hint: Option<String>) {
        let path = self.damage.translate(path);
        let pos: Pos = if at_key { self.positions.key(&path) } else { self.positions.value(&path) };
        self.diagnostics.push(Diagnostic {
            file: String::new(),
            line: pos.line,
            column: pos.column,
            key: path,
            message,
            hint,
            severity,
        });
    }

    /// An error about the value at `path`.
    fn error(&mut self, path: &str, message: String, hint: Option<String>) {
        self.push(Severity::Error, false, path, message, hint);
    }

    /// An error about the key of `path` (or where it would be).
    fn error_at_key(&mut self, path: &str, message: String, hint: Option<String>) {
        self.push(Severity::Error, true, path, message, hint);
    }

    fn warning_at_key(&mut self, path: &str, message: String, hint: Option<String>) {
        self.push(Severity::Warning, true, path, message, hint);
    }

    fn warning(&mut self, path: &str, message: String, hint: Option<String>) {
        self.push(Severity::Warning, false, path, message, hint);
    }

    /// Whether a table the references point into lost entries (so a reference may look
    /// unknown only because of an error reported already).
    fn lost(&self, table: &str) -> bool {
        self.damage.under(table)
    }

    fn locales_lost(&self) -> bool {
        self.lost("bot.locales") || self.lost("bot.default_locale")
    }

    fn run(&mut self) {
        let bot = self.bot;
        if bot.ferrogram != 1 {
            self.error(
                "ferrogram",
                format!("unsupported schema version {}", bot.ferrogram),
                Some("this Ferrogram reads `ferrogram: 1`".into()),
            );
        }
        self.check_settings();
        self.check_texts();
        self.check_variables();
        self.check_roles_and_limits();
        self.check_collections();
        self.check_webhooks();
        self.check_http_sessions();
        for (i, handler) in bot.on.iter().enumerate() {
            self.handler(handler, &push_index("on", i), None);
        }
        for (name, scene) in &bot.scenes {
            let path = push_key("scenes", name);
            self.scene_roles(name, scene, &path);
            self.steps(&scene.on_enter, &push_key(&path, "on_enter"), Some(name));
            for (i, handler) in scene.on.iter().enumerate() {
                self.handler(handler, &push_index(&push_key(&path, "on"), i), Some(name));
            }
            if let Some(form) = &scene.form {
                self.form(form, &push_key(&path, "form"), name);
            }
        }
        self.check_jobs();
        if let Some(errors) = &bot.errors {
            // The `errors` reply sees the failure as `error`, as a `catch` does.
            self.in_catch += 1;
            self.text(&errors.reply, "errors.reply");
            self.in_catch -= 1;
        }
        self.check_step_budget();
        self.check_commands_answered();
        self.check_variables_set();
        self.check_reachability();
        self.check_scene_guards();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_paths_past_items_left_out() {
        let kept = HashMap::from([("on".to_string(), vec![1, 3]), ("on[3].do".to_string(), vec![0, 2])]);
        let damage = Damage::new(vec!["on[0]".into()], kept);
        assert_eq!(damage.translate("on[1].do[1].goto"), "on[3].do[2].goto");
        assert_eq!(damage.translate("on[0].do[0].set[\"user.x[0]\"]"), "on[1].do[0].set[\"user.x[0]\"]");
        assert_eq!(damage.translate("scenes.menu"), "scenes.menu");
        assert!(damage.touches("on[0].do") && damage.touches("on") && !damage.touches("on[1]"));
        assert!(damage.under("on") && !damage.under("scenes"));
    }
}
