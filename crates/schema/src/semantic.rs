//! Checks on the typed model that the JSON Schema cannot express: references between parts of
//! the file (scenes, variables, texts, roles, locales), templates and conditions, regular
//! expressions, and what can never run.

use crate::source::{Pos, Positions, push_index, push_key};
use crate::suggest;
use crate::templates::{self, TEMPLATE_FUNCTIONS, TEMPLATE_ROOTS, Uses};
use crate::{
    BotFile, Button, ButtonList, Buttons, Diagnostic, FieldType, Form, FormStore, Handler, HttpRequest, Key,
    MAX_HTTP_RETRIES, MAX_HTTP_TIMEOUT_MS, Reply, Scene, Severity, Step, Text, ValueType,
};
use minijinja::Environment;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

mod budget;
mod collections;
mod feeds;
mod llm;

/// The dice Telegram can throw.
pub const DICE: &[&str] = &["🎲", "🎯", "🎳", "🏀", "⚽", "🎰"];

/// The role every user has.
pub const DEFAULT_ROLE: &str = "user";

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Scope {
    User,
    Chat,
    Bot,
}

impl Scope {
    fn prefix(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Chat => "chat_vars",
            Scope::Bot => "bot",
        }
    }

    fn section(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Chat => "chat",
            Scope::Bot => "bot",
        }
    }

    fn from_prefix(prefix: &str) -> Option<Scope> {
        match prefix {
            "user" => Some(Scope::User),
            "chat_vars" => Some(Scope::Chat),
            "bot" => Some(Scope::Bot),
            _ => None,
        }
    }
}

/// Whether a name can follow a dot in a template: `user.first_visit`.
/// What is wrong with a pattern, in one line: the `regex` crate draws the pattern with a caret
/// above its last line, `error: unclosed group`.
fn regex_error(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default();
    one_line(last.trim().trim_start_matches("error: "))
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The key of a text that is exactly `@key`.
pub fn text_key(text: &str) -> Option<&str> {
    let key = text.strip_prefix('@')?;
    (!key.is_empty() && !key.chars().any(char::is_whitespace)).then_some(key)
}

/// The regular expression of a text trigger written `/…/`.
pub fn regex_trigger(text: &str) -> Option<&str> {
    text.strip_prefix('/')?.strip_suffix('/').filter(|pattern| !pattern.is_empty())
}

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
        locals: collections::locals(bot),
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

    // ------------------------------------------------------------------------------------------
    // Settings, texts, variables, roles

    fn check_settings(&mut self) {
        let settings = &self.bot.bot;
        if settings.name.trim().is_empty() {
            self.error("bot.name", "the bot's name is empty".into(), None);
        }
        if let Some(token) = &settings.token
            && !token.contains("${")
            && looks_like_token(token)
        {
            self.warning(
                "bot.token",
                "the bot token is written in the file".into(),
                Some("use an environment variable: `token: ${MY_BOT_TOKEN}`".into()),
            );
        }
        if !settings.locales.is_empty() && !settings.locales.contains(&settings.default_locale) {
            self.error(
                "bot.default_locale",
                format!("the default locale `{}` is not in `bot.locales`", settings.default_locale),
                Some(format!("add `{}` to `bot.locales`", settings.default_locale)),
            );
        }
        let mut seen = HashSet::new();
        for (i, locale) in settings.locales.iter().enumerate() {
            if !seen.insert(locale.as_str()) {
                self.error(&push_index("bot.locales", i), format!("`{locale}` is listed twice"), None);
            }
        }
        let mut seen = HashSet::new();
        for (i, spec) in settings.commands.iter().enumerate() {
            let path = push_index("bot.commands", i);
            let command_path = push_key(&path, "command");
            if let Some(stripped) = spec.command.strip_prefix('/') {
                self.error(
                    &command_path,
                    "a command is written without the slash".into(),
                    Some(format!("write `command: {stripped}`")),
                );
            } else if !valid_menu_command(&spec.command) {
                self.error(
                    &command_path,
                    format!("`{}` cannot be a menu command", spec.command),
                    Some("Telegram accepts 1 to 32 lowercase letters, digits and underscores".into()),
                );
            }
            if !seen.insert(spec.command.as_str()) {
                self.error(&command_path, format!("the command `{}` is listed twice", spec.command), None);
            }
            self.text(&spec.description, &push_key(&path, "description"));
        }
        match (&settings.start, self.bot.scenes.is_empty()) {
            (None, false) => {
                let first = self.bot.scenes.keys().next().map(String::as_str).unwrap_or("menu");
                self.error_at_key(
                    "bot.start",
                    "a bot with scenes needs `start`, the scene a new chat starts in".into(),
                    Some(format!("add `start: {first}` under `bot`")),
                );
            }
            (Some(_), true) if self.damage.entry_lost("scenes") => {}
            (Some(start), true) => self.error(
                "bot.start",
                format!("`bot.start` names the scene `{start}`, but the bot has no scenes"),
                Some("add it under `scenes`, or remove `start`".into()),
            ),
            (Some(start), false) => {
                let start = start.clone();
                self.scene_ref(&start, "bot.start");
            }
            (None, true) => {}
        }
    }

    fn check_texts(&mut self) {
        let bot = self.bot;
        let default = bot.bot.default_locale.as_str();
        let default_keys: BTreeSet<&str> =
            bot.texts.get(default).map(|t| t.keys().map(String::as_str).collect()).unwrap_or_default();
        for (locale, table) in &bot.texts {
            let path = push_key("texts", locale);
            if !self.locales.contains(locale.as_str()) && !self.locales_lost() {
                let hint = suggest::did_you_mean(locale, self.locales.iter().copied())
                    .map(|best| format!("did you mean `{best}`?"))
                    .or_else(|| Some(format!("add `{locale}` to `bot.locales`")));
                self.error_at_key(&path, format!("the locale `{locale}` is not offered by the bot"), hint);
            }
            for (key, text) in table {
                self.text_string(text, &push_key(&path, key));
            }
            if locale != default && !default_keys.is_empty() {
                let missing: Vec<&str> = default_keys.iter().copied().filter(|k| !table.contains_key(*k)).collect();
                if !missing.is_empty() {
                    let list: Vec<String> = missing.iter().map(|k| format!("`{k}`")).collect();
                    self.warning_at_key(
                        &path,
                        format!("texts for `{locale}` lack {}", list.join(", ")),
                        Some(format!("users with `{locale}` see the `{default}` text instead")),
                    );
                }
            }
        }
    }

    fn check_variables(&mut self) {
        let variables = &self.bot.variables;
        for (scope, table) in
            [(Scope::User, &variables.user), (Scope::Chat, &variables.chat), (Scope::Bot, &variables.bot)]
        {
            for (name, variable) in table {
                let path = push_key(&push_key("variables", scope.section()), name);
                if !is_identifier(name) {
                    self.error_at_key(
                        &path,
                        format!("`{name}` cannot be a variable name"),
                        Some("use letters, digits and `_`, starting with a letter".into()),
                    );
                }
                if let Some(default) = &variable.default {
                    let fits = match variable.kind {
                        ValueType::String => default.is_string(),
                        ValueType::Number => default.is_number(),
                        ValueType::Bool => default.is_boolean(),
                        ValueType::List => default.is_array(),
                        ValueType::Object => default.is_object(),
                    };
                    if !fits && !default.is_null() {
                        let kind = serde_json::to_value(variable.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default();
                        self.error(
                            &push_key(&path, "default"),
                            format!("the default is {}, but the variable's type is `{kind}`", json_kind(default)),
                            None,
                        );
                    }
                }
            }
        }
    }

    fn check_roles_and_limits(&mut self) {
        if let Some(limits) = &self.bot.limits {
            for (i, role) in limits.exempt.iter().enumerate() {
                self.role_ref(role, &push_index("limits.exempt", i));
            }
            if let Some(reply) = &limits.reply {
                self.text(reply, "limits.reply");
            }
        }
    }

    /// A scene's `roles`: known roles, and none on the start scene (every new chat is put
    /// there without entering it, so its guard could not hold).
    fn scene_roles(&mut self, name: &str, scene: &Scene, path: &str) {
        let roles_path = push_key(path, "roles");
        for (i, role) in scene.roles.iter().enumerate() {
            self.role_ref(role, &push_index(&roles_path, i));
        }
        if !scene.roles.is_empty() && self.bot.bot.start.as_deref() == Some(name) {
            self.error(
                &roles_path,
                format!("`{name}` is the start scene, where every new chat begins: it cannot be limited to roles"),
                Some("start in an open scene and `goto` this one from there".into()),
            );
        }
    }

    fn role_ref(&mut self, role: &str, path: &str) {
        if role == DEFAULT_ROLE || self.bot.roles.contains_key(role) || self.lost("roles") {
            return;
        }
        let names: Vec<&str> = self.bot.roles.keys().map(String::as_str).chain(std::iter::once(DEFAULT_ROLE)).collect();
        let hint = suggest::did_you_mean(role, names.iter().copied())
            .map(|best| format!("did you mean `{best}`?"))
            .unwrap_or_else(|| format!("declare it under `roles:` with its users: `{role}: {{users: [123456789]}}`"));
        self.error(path, format!("unknown role `{role}`"), Some(hint));
    }

    // ------------------------------------------------------------------------------------------
    // Jobs

    fn check_jobs(&mut self) {
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
    fn needs_chat(&mut self, step_path: &str, kind: &str) {
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

    // ------------------------------------------------------------------------------------------
    // Handlers and steps

    fn handler(&mut self, handler: &'a Handler, path: &str, scene: Option<&'a str>) {
        let triggers: Vec<&str> = [
            handler.command.as_ref().map(|_| "command"),
            handler.text.as_ref().map(|_| "text"),
            handler.edited_text.as_ref().map(|_| "edited_text"),
            handler.callback.as_ref().map(|_| "callback"),
            handler.content.as_ref().map(|_| "content"),
            handler.inline_query.as_ref().map(|_| "inline_query"),
        ]
        .into_iter()
        .flatten()
        .collect();
        match triggers.as_slice() {
            [] => self.error(
                path,
                "a handler needs a trigger".into(),
                Some("add one of `command`, `text`, `edited_text`, `callback`, `content`, `inline_query`".into()),
            ),
            [_] => {}
            [first, rest @ ..] => {
                for other in rest {
                    self.error_at_key(
                        &push_key(path, other),
                        format!("a handler has one trigger, but this one has `{first}` and `{other}`"),
                        Some("split it into two handlers".into()),
                    );
                }
            }
        }
        if let Some(command) = &handler.command {
            let command_path = push_key(path, "command");
            if let Some(stripped) = command.strip_prefix('/') {
                self.error(
                    &command_path,
                    "a command is written without the slash".into(),
                    Some(format!("write `command: {stripped}`")),
                );
            } else if command.is_empty()
                || command.len() > 64
                || !command.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                self.error(
                    &command_path,
                    format!("`{command}` cannot be a command"),
                    Some("use letters, digits and `_`".into()),
                );
            }
            self.commands.insert(command.as_str());
        }
        for (key, text) in [("text", &handler.text), ("edited_text", &handler.edited_text)] {
            let Some(text) = text else { continue };
            let text_path = push_key(path, key);
            if let Some(pattern) = regex_trigger(text) {
                if let Err(e) = regex::Regex::new(pattern) {
                    self.error(&text_path, format!("invalid regular expression: {}", regex_error(&e)), None);
                }
            } else if text.len() > 2
                && text.starts_with('/')
                && let Some(end) = text.rfind('/')
                && end > 0
                && text[end + 1..].chars().all(|c| c.is_ascii_alphabetic())
            {
                self.warning(
                    &text_path,
                    format!("`{text}` is matched as exact text, not as a regular expression with flags"),
                    Some(format!("put flags inside: `/(?{}){}/`", &text[end + 1..], &text[1..end])),
                );
            }
        }
        if let Some(when) = &handler.when {
            self.expression(when, &push_key(path, "when"));
        }
        for (i, role) in handler.roles.iter().enumerate() {
            self.role_ref(role, &push_index(&push_key(path, "roles"), i));
        }
        let outer = std::mem::replace(&mut self.handler_roles, &handler.roles);
        self.steps(&handler.steps, &push_key(path, "do"), scene);
        self.handler_roles = outer;
    }

    /// A way from `from` (None: a global handler) into the scene `to`.
    fn edge(&mut self, from: Option<&'a str>, to: &'a str) {
        self.edges.push((from, to));
        self.entries.push((to, self.handler_roles));
    }

    fn steps(&mut self, steps: &'a [Step], path: &str, scene: Option<&'a str>) {
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
                Step::Answer(answer) => {
                    let answer_path = push_key(&step_path, "answer");
                    match answer {
                        crate::Answer::Text(text) => self.text_string(text, &answer_path),
                        crate::Answer::Full(spec) => {
                            if let Some(text) = &spec.text {
                                self.text(text, &push_key(&answer_path, "text"));
                            }
                        }
                    }
                }
                Step::Delete(_) => {}
                Step::Set(values) => {
                    let set_path = push_key(&step_path, "set");
                    for (target, value) in values {
                        let target_path = push_key(&set_path, target);
                        if let Some((scope, name)) = self.variable_target(target, &target_path) {
                            self.job_scope(scope, target, &target_path);
                            self.set.insert((scope, name.to_string()));
                        }
                        self.template(value, &target_path);
                    }
                }
                Step::Unset(targets) => {
                    for (j, target) in targets.iter().enumerate() {
                        let target_path = push_index(&push_key(&step_path, "unset"), j);
                        if let Some((scope, _)) = self.variable_target(target, &target_path) {
                            self.job_scope(scope, target, &target_path);
                        }
                    }
                }
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
                Step::Dice(emoji) => {
                    let plain: String = emoji.chars().filter(|c| *c != '\u{fe0f}').collect();
                    if !DICE.contains(&plain.as_str()) {
                        self.error(
                            &push_key(&step_path, "dice"),
                            format!("Telegram has no dice `{emoji}`"),
                            Some(format!("use one of {}", DICE.join(" "))),
                        );
                    }
                }
                Step::Poll(poll) => {
                    let poll_path = push_key(&step_path, "poll");
                    self.text(&poll.question, &push_key(&poll_path, "question"));
                    let options_path = push_key(&poll_path, "options");
                    for (j, option) in poll.options.iter().enumerate() {
                        self.text(option, &push_index(&options_path, j));
                    }
                    if poll.options.len() < 2 {
                        self.error(&options_path, "a poll needs at least 2 options".into(), None);
                    }
                    if let Some(correct) = poll.correct
                        && correct as usize >= poll.options.len()
                    {
                        self.error(
                            &push_key(&poll_path, "correct"),
                            format!(
                                "`correct` is {correct}, but the options are numbered from 0 to {}",
                                poll.options.len().saturating_sub(1)
                            ),
                            Some("`correct` is the index of the right option, the first being 0".into()),
                        );
                    }
                }
                Step::Notify(notify) => {
                    let notify_path = push_key(&step_path, "notify");
                    self.expression(&notify.to, &push_key(&notify_path, "to"));
                    self.reply(&notify.message, &push_key(&notify_path, "message"), scene);
                }
                Step::AnswerInline(inline) => {
                    let inline_path = push_key(&step_path, "answer_inline");
                    self.expression(&inline.from, &push_key(&inline_path, "from"));
                    self.text_string(&inline.title, &push_key(&inline_path, "title"));
                    self.text_string(&inline.message, &push_key(&inline_path, "message"));
                    if let Some(description) = &inline.description {
                        self.text_string(description, &push_key(&inline_path, "description"));
                    }
                }
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

    fn http(&mut self, request: &'a HttpRequest, path: &str) {
        let url_path = push_key(path, "url");
        self.template(&request.url, &url_path);
        if templates::is_static(&request.url) && !is_http_url(&request.url) {
            self.error(
                &url_path,
                format!("`{}` is not an absolute http(s) URL", request.url),
                Some("write it whole: `https://api.example.com/…`".into()),
            );
        }
        let headers_path = push_key(path, "headers");
        for (name, value) in &request.headers {
            let header_path = push_key(&headers_path, name);
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
                self.error_at_key(
                    &header_path,
                    format!("`{name}` cannot be a header name"),
                    Some("use letters, digits and `-`".into()),
                );
            } else if ["host", "content-length", "transfer-encoding", "connection"]
                .contains(&name.to_ascii_lowercase().as_str())
            {
                self.error_at_key(&header_path, format!("the header `{name}` is set by Ferrogram"), None);
            }
            self.template(value, &header_path);
            if looks_like_literal_secret(name, value) {
                let example = match value.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} ${{API_TOKEN}}"),
                    None => "${API_TOKEN}".into(),
                };
                self.warning(
                    &header_path,
                    format!("the header `{name}` has a secret written in the file"),
                    Some(format!("use an environment variable: `{name}: \"{example}\"`")),
                );
            }
        }
        for (name, value) in &request.query {
            self.template(value, &push_key(&push_key(path, "query"), name));
        }
        if let Some(json) = &request.json {
            self.json_templates(json, &push_key(path, "json"));
        }
        if !(1..=MAX_HTTP_TIMEOUT_MS).contains(&request.timeout_ms) {
            self.error(
                &push_key(path, "timeout_ms"),
                format!("`timeout_ms` is {}; it can be 1 to {MAX_HTTP_TIMEOUT_MS}", request.timeout_ms),
                None,
            );
        }
        if request.retries > MAX_HTTP_RETRIES {
            self.error(
                &push_key(path, "retries"),
                format!("`retries` is {}; it can be at most {MAX_HTTP_RETRIES}", request.retries),
                None,
            );
        }
        if let Some(target) = &request.save {
            let save_path = push_key(path, "save");
            if let Some((scope, name)) = self.variable_target(target, &save_path) {
                self.set.insert((scope, name.to_string()));
                let variables = &self.bot.variables;
                let table = match scope {
                    Scope::User => &variables.user,
                    Scope::Chat => &variables.chat,
                    Scope::Bot => &variables.bot,
                };
                let kind = table.get(name).map(|v| v.kind);
                if let Some(kind) = kind.filter(|k| *k != ValueType::Object) {
                    let kind = serde_json::to_value(kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    self.error(
                        &save_path,
                        format!("`{target}` is a `{kind}` variable, but an HTTP answer is an object"),
                        Some(format!("declare it with `type: object`; then read `{target}.json`")),
                    );
                }
            }
        }
    }

    /// The strings of a JSON body, each a template.
    fn json_templates(&mut self, value: &'a serde_json::Value, path: &str) {
        match value {
            serde_json::Value::String(s) => self.template(s, path),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.json_templates(item, &push_index(path, i));
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    self.json_templates(item, &push_key(path, key));
                }
            }
            _ => {}
        }
    }

    fn reply(&mut self, reply: &'a Reply, path: &str, scene: Option<&'a str>) {
        match reply {
            Reply::Text(text) => self.text_string(text, path),
            Reply::Full(spec) => {
                if spec.text.is_none() && spec.photo.is_none() {
                    self.error(path, "a message needs `text` or `photo`".into(), None);
                }
                if let Some(text) = &spec.text {
                    self.text(text, &push_key(path, "text"));
                }
                if let Some(photo) = &spec.photo {
                    self.template(photo, &push_key(path, "photo"));
                }
                match &spec.buttons {
                    Some(Buttons::Rows(rows)) => {
                        let buttons_path = push_key(path, "buttons");
                        for (r, row) in rows.iter().enumerate() {
                            for (c, button) in row.iter().enumerate() {
                                self.button(button, &push_index(&push_index(&buttons_path, r), c), scene);
                            }
                        }
                    }
                    Some(Buttons::FromList(list)) => self.button_list(list, &push_key(path, "buttons"), scene),
                    None => {}
                }
                if let Some(keyboard) = &spec.keyboard {
                    let keyboard_path = push_key(path, "keyboard");
                    for (r, row) in keyboard.iter().enumerate() {
                        for (c, key) in row.iter().enumerate() {
                            let key_path = push_index(&push_index(&keyboard_path, r), c);
                            match key {
                                Key::Text(label) => self.text_string(label, &key_path),
                                Key::WebApp(key) => {
                                    self.text_string(&key.text, &push_key(&key_path, "text"));
                                    self.web_app_url(&key.web_app, &push_key(&key_path, "web_app"));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn button_list(&mut self, list: &'a ButtonList, path: &str, scene: Option<&'a str>) {
        self.expression(&list.from, &push_key(path, "from"));
        self.button(&list.button, &push_key(path, "button"), scene);
        for (name, value) in [("columns", list.columns), ("page_size", list.page_size)] {
            if value == Some(0) {
                self.error(&push_key(path, name), format!("`{name}` must be at least 1"), None);
            }
        }
    }

    fn button(&mut self, button: &'a Button, path: &str, scene: Option<&'a str>) {
        self.text(&button.text, &push_key(path, "text"));
        let actions: Vec<&str> = [
            button.callback.as_ref().map(|_| "callback"),
            button.goto.as_ref().map(|_| "goto"),
            button.url.as_ref().map(|_| "url"),
            button.web_app.as_ref().map(|_| "web_app"),
        ]
        .into_iter()
        .flatten()
        .collect();
        match actions.as_slice() {
            [] => self.error(
                path,
                "a button needs an action".into(),
                Some("add one of `callback`, `goto`, `url`, `web_app`".into()),
            ),
            [_] => {}
            [first, rest @ ..] => {
                for other in rest {
                    self.error_at_key(
                        &push_key(path, other),
                        format!("a button has one action, but this one has `{first}` and `{other}`"),
                        Some("keep one of them".into()),
                    );
                }
            }
        }
        if let Some(callback) = &button.callback {
            let callback_path = push_key(path, "callback");
            self.template(callback, &callback_path);
            if templates::is_static(callback) && (callback.is_empty() || callback.len() > 64) {
                self.error(
                    &callback_path,
                    format!("callback data is {} bytes; Telegram accepts 1 to 64", callback.len()),
                    Some("use a short id, and keep details in variables".into()),
                );
            }
        }
        if let Some(target) = &button.goto {
            self.scene_ref(target, &push_key(path, "goto"));
            self.edge(scene, target);
        }
        if let Some(url) = &button.url {
            let url_path = push_key(path, "url");
            self.template(url, &url_path);
            if templates::is_static(url) && !["https://", "http://", "tg://"].iter().any(|p| url.starts_with(p)) {
                self.error(&url_path, format!("`{url}` is not a link"), Some("links start with `https://`".into()));
            }
        }
        if let Some(url) = &button.web_app {
            self.web_app_url(url, &push_key(path, "web_app"));
        }
    }

    /// A Web App's URL: a template; when fixed, an `https://` link (Telegram refuses others).
    fn web_app_url(&mut self, url: &'a str, path: &str) {
        self.template(url, path);
        if templates::is_static(url) && !is_https_url(url) {
            self.error(
                path,
                format!("`{url}` is not an https link; Telegram opens Web Apps only over HTTPS"),
                Some("write the Web App's address as `https://…`".into()),
            );
        }
    }

    fn form(&mut self, form: &'a Form, path: &str, scene: &'a str) {
        let fields_path = push_key(path, "fields");
        if form.fields.is_empty() {
            self.error(&fields_path, "a form needs at least one field".into(), None);
        }
        let mut names = HashSet::new();
        for (i, field) in form.fields.iter().enumerate() {
            let field_path = push_index(&fields_path, i);
            let name_path = push_key(&field_path, "name");
            if !is_identifier(&field.name) {
                self.error(
                    &name_path,
                    format!("`{}` cannot be a field name", field.name),
                    Some(
                        "use letters, digits and `_`, starting with a letter (it is `form.<name>` in templates)".into(),
                    ),
                );
            }
            if !names.insert(field.name.as_str()) {
                self.error(&name_path, format!("the field `{}` is asked twice", field.name), None);
            }
            self.text(&field.ask, &push_key(&field_path, "ask"));
            if let Some(invalid) = &field.invalid {
                self.text(invalid, &push_key(&field_path, "invalid"));
            }
            let kind = field.kind;
            let kind_name =
                serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            // Options that only some types take.
            let misplaced = [
                ("choices", !field.choices.is_empty(), kind == FieldType::Choice, "choice"),
                ("pattern", field.pattern.is_some(), kind == FieldType::Regex, "regex"),
                ("min", field.min.is_some(), kind == FieldType::Number, "number"),
                ("max", field.max.is_some(), kind == FieldType::Number, "number"),
                (
                    "min_length",
                    field.min_length.is_some(),
                    matches!(kind, FieldType::Text | FieldType::Regex),
                    "text and regex",
                ),
                (
                    "max_length",
                    field.max_length.is_some(),
                    matches!(kind, FieldType::Text | FieldType::Regex),
                    "text and regex",
                ),
                ("clean", field.clean, matches!(kind, FieldType::Text | FieldType::Regex), "text and regex"),
            ];
            for (option, present, allowed, for_types) in misplaced {
                if present && !allowed {
                    self.error_at_key(
                        &push_key(&field_path, option),
                        format!("`{option}` does not apply to a `{kind_name}` field"),
                        Some(format!("`{option}` is for {for_types} fields")),
                    );
                }
            }
            if kind == FieldType::Choice && field.choices.is_empty() {
                self.error(
                    &field_path,
                    format!("the choice field `{}` has no `choices`", field.name),
                    Some("add `choices: [yes, no]`".into()),
                );
            }
            if kind == FieldType::Choice {
                let mut seen = HashSet::new();
                for (j, choice) in field.choices.iter().enumerate() {
                    let choice_path = push_index(&push_key(&field_path, "choices"), j);
                    if !seen.insert(choice.as_str()) {
                        self.error(&choice_path, format!("the choice `{choice}` is listed twice"), None);
                    }
                    self.text_string(choice, &choice_path);
                }
            }
            if kind == FieldType::Regex {
                match &field.pattern {
                    None => self.error(
                        &field_path,
                        format!("the regex field `{}` has no `pattern`", field.name),
                        Some("add `pattern: '^[0-9]{5}$'`".into()),
                    ),
                    Some(pattern) => {
                        if let Err(e) = regex::Regex::new(pattern) {
                            self.error(
                                &push_key(&field_path, "pattern"),
                                format!("invalid regular expression: {}", regex_error(&e)),
                                None,
                            );
                        }
                    }
                }
            }
            if let (Some(min), Some(max)) = (field.min, field.max)
                && min > max
            {
                self.error(&push_key(&field_path, "min"), format!("`min` ({min}) is more than `max` ({max})"), None);
            }
            if let (Some(min), Some(max)) = (field.min_length, field.max_length)
                && min > max
            {
                self.error(
                    &push_key(&field_path, "min_length"),
                    format!("`min_length` ({min}) is more than `max_length` ({max})"),
                    None,
                );
            }
            if form.store == FormStore::User {
                if self.declared.get(&Scope::User).is_some_and(|d| d.contains(field.name.as_str())) {
                    self.set.insert((Scope::User, field.name.clone()));
                } else if !self.lost("variables") {
                    self.error(
                        &name_path,
                        format!("the form stores `{0}` as `user.{0}`, which is not declared", field.name),
                        Some(format!("declare it: `variables: {{user: {{{}: {{type: …}}}}}}`", field.name)),
                    );
                }
            }
        }
        if let Some(cancel) = &form.cancel
            && cancel.trim().is_empty()
        {
            self.error(&push_key(path, "cancel"), "`cancel` is empty".into(), None);
        }
        // A form's cancel text (`/cancel` unless it says otherwise) answers that command.
        let cancel = form.cancel.as_deref().unwrap_or("/cancel");
        if let Some(command) = cancel.strip_prefix('/') {
            let command = command.split([' ', '@']).next().unwrap_or_default();
            self.commands.insert(command);
        }
        self.steps(&form.on_done, &push_key(path, "on_done"), Some(scene));
        self.steps(&form.on_cancel, &push_key(path, "on_cancel"), Some(scene));
    }

    // ------------------------------------------------------------------------------------------
    // References

    fn scene_ref(&mut self, target: &str, path: &str) {
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

    /// In a job, only `bot.…` variables can be set: there is no user or chat.
    fn job_scope(&mut self, scope: Scope, target: &str, path: &str) {
        if self.in_job && scope != Scope::Bot {
            self.error_at_key(
                path,
                format!("a job has no {} to set `{target}` for", if scope == Scope::User { "user" } else { "chat" }),
                Some("jobs set `bot.…` variables".into()),
            );
        }
    }

    /// A `set`/`unset` target: `user.score`, `chat_vars.topic`, `bot.subscribers`.
    fn variable_target<'t>(&mut self, target: &'t str, path: &str) -> Option<(Scope, &'t str)> {
        let all = self.declared_names();
        let Some((prefix, name)) = target.split_once('.') else {
            let hint = suggest::did_you_mean(target, all.iter().map(String::as_str))
                .map(|best| format!("did you mean `{best}`?"))
                .unwrap_or_else(|| {
                    format!("write the scope first: `user.{target}`, `chat_vars.{target}` or `bot.{target}`")
                });
            self.error_at_key(path, format!("`{target}` is not a variable"), Some(hint));
            return None;
        };
        let scope = match Scope::from_prefix(prefix) {
            Some(scope) => scope,
            None if prefix == "chat" => {
                // The engine takes `chat.x` for `chat_vars.x`; one spelling reads better.
                self.warning_at_key(
                    path,
                    format!("`{target}` means the chat variable `chat_vars.{name}`"),
                    Some(format!("write `chat_vars.{name}` as templates do; there `chat` is the Telegram chat")),
                );
                Scope::Chat
            }
            None => {
                let hint = suggest::did_you_mean(target, all.iter().map(String::as_str))
                    .map(|best| format!("did you mean `{best}`?"))
                    .unwrap_or_else(|| "variables are `user.…`, `chat_vars.…` or `bot.…`".into());
                self.error_at_key(path, format!("`{target}` is not a variable"), Some(hint));
                return None;
            }
        };
        if self.declared.get(&scope).is_some_and(|d| d.contains(name)) {
            return Some((scope, name));
        }
        self.undeclared(scope, name, path, true);
        None
    }

    fn declared_names(&self) -> Vec<String> {
        self.declared
            .iter()
            .flat_map(|(scope, names)| names.iter().map(move |n| format!("{}.{n}", scope.prefix())))
            .collect()
    }

    fn undeclared(&mut self, scope: Scope, name: &str, path: &str, at_key: bool) {
        if self.lost("variables") {
            return;
        }
        let declared: Vec<&str> = self.declared.get(&scope).map(|d| d.iter().copied().collect()).unwrap_or_default();
        let hint = suggest::did_you_mean(name, declared.iter().copied())
            .map(|best| format!("did you mean `{}.{best}`?", scope.prefix()))
            .unwrap_or_else(|| format!("declare it under `variables.{}` with its `type`", scope.section()));
        let message = format!("the variable `{}.{name}` is not declared", scope.prefix());
        if at_key {
            self.error_at_key(path, message, Some(hint));
        } else {
            self.error(path, message, Some(hint));
        }
    }

    // ------------------------------------------------------------------------------------------
    // Texts, templates, expressions

    fn text(&mut self, text: &'a Text, path: &str) {
        match text {
            Text::One(s) => self.text_string(s, path),
            Text::PerLocale(per_locale) => {
                let default = self.bot.bot.default_locale.as_str();
                if !per_locale.contains_key(default) && !self.locales_lost() {
                    self.error(
                        path,
                        format!("no text for the default locale `{default}`"),
                        Some(format!("add `{default}: …`; users of other languages see it")),
                    );
                }
                for (locale, s) in per_locale {
                    let locale_path = push_key(path, locale);
                    if !self.locales.contains(locale.as_str()) && !self.locales_lost() {
                        let hint = suggest::did_you_mean(locale, self.locales.iter().copied())
                            .map(|best| format!("did you mean `{best}`?"))
                            .unwrap_or_else(|| format!("add `{locale}` to `bot.locales`"));
                        self.error_at_key(
                            &locale_path,
                            format!("the locale `{locale}` is not offered by the bot"),
                            Some(hint),
                        );
                    }
                    self.text_string(s, &locale_path);
                }
            }
        }
    }

    /// A text: `@key`, or a template.
    fn text_string(&mut self, text: &'a str, path: &str) {
        match text_key(text) {
            Some(key) => self.text_key_ref(key, path, false),
            None => self.template(text, path),
        }
    }

    fn text_key_ref(&mut self, key: &str, path: &str, in_template: bool) {
        let default = self.bot.bot.default_locale.as_str();
        let table = self.bot.texts.get(default);
        if table.is_some_and(|t| t.contains_key(key)) || self.lost("texts") || self.lost("bot.default_locale") {
            return;
        }
        let shown = if in_template { format!("t(\"{key}\")") } else { format!("@{key}") };
        let hint = match table {
            Some(table) => suggest::did_you_mean(key, table.keys().map(String::as_str))
                .map(|best| format!("did you mean `{best}`?"))
                .unwrap_or_else(|| format!("add `{key}: …` under `texts.{default}`")),
            None => format!("add it: `texts: {{{default}: {{{key}: …}}}}`"),
        };
        self.error(path, format!("`{shown}`: there is no text `{key}` in `texts.{default}`"), Some(hint));
    }

    fn template(&mut self, source: &'a str, path: &str) {
        match templates::template(&self.env, source) {
            Ok(uses) => self.uses(uses, path),
            Err(e) => self.error(path, format!("invalid template: {}", e.0), None),
        }
    }

    fn expression(&mut self, source: &'a str, path: &str) {
        match templates::expression(&self.env, source) {
            Ok(uses) => self.uses(uses, path),
            Err(e) => self.error(path, format!("invalid expression: {}", e.0), None),
        }
    }

    fn uses(&mut self, uses: Uses, path: &str) {
        for key in &uses.text_keys {
            self.text_key_ref(key, path, true);
        }
        let mut reported = HashSet::new();
        for read in &uses.reads {
            let mut parts = read.split('.');
            let root = parts.next().unwrap_or_default();
            if let Some(scope) = Scope::from_prefix(root) {
                let Some(name) = parts.next() else { continue };
                if self.declared.get(&scope).is_some_and(|d| d.contains(name)) {
                    self.read.insert((scope, name.to_string()));
                } else if reported.insert(read.clone()) {
                    self.undeclared(scope, name, path, false);
                }
                continue;
            }
            if root == "error" && self.in_catch == 0 {
                if reported.insert(root.to_string()) {
                    self.error(
                        path,
                        "`error` is only set in the `catch` steps of a `try` and in the `errors` reply".into(),
                        Some("read it in `try: {do: […], catch: […]}`".into()),
                    );
                }
                continue;
            }
            if TEMPLATE_ROOTS.contains(&root) || TEMPLATE_FUNCTIONS.contains(&root) || self.locals.contains(root) {
                continue;
            }
            if reported.insert(root.to_string()) {
                let known = TEMPLATE_ROOTS
                    .iter()
                    .chain(TEMPLATE_FUNCTIONS)
                    .copied()
                    .chain(self.locals.iter().map(String::as_str));
                let hint =
                    suggest::did_you_mean(root, known).map(|best| format!("did you mean `{best}`?")).or_else(|| {
                        let candidates = self.declared_names();
                        suggest::did_you_mean(root, candidates.iter().map(String::as_str))
                            .map(|best| format!("did you mean `{best}`?"))
                    });
                let hint = hint.or_else(|| Some(format!("templates read {}", TEMPLATE_ROOTS.join(", "))));
                self.error(path, format!("unknown name `{root}` in a template"), hint);
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Whole-file checks

    fn check_commands_answered(&mut self) {
        for (i, spec) in self.bot.bot.commands.iter().enumerate() {
            // A command that cannot be in the menu is already an error.
            if valid_menu_command(&spec.command) && !self.commands.contains(spec.command.as_str()) {
                self.warning(
                    &push_key(&push_index("bot.commands", i), "command"),
                    format!("no handler answers the menu command `/{}`", spec.command),
                    Some(format!("add a handler with `command: {}`", spec.command)),
                );
            }
        }
    }

    fn check_variables_set(&mut self) {
        let variables = &self.bot.variables;
        for (scope, table) in
            [(Scope::User, &variables.user), (Scope::Chat, &variables.chat), (Scope::Bot, &variables.bot)]
        {
            for (name, variable) in table {
                let key = (scope, name.clone());
                if variable.default.is_none() && self.read.contains(&key) && !self.set.contains(&key) {
                    self.warning_at_key(
                        &push_key(&push_key("variables", scope.section()), name),
                        format!("`{}.{name}` is read but never set, and has no default", scope.prefix()),
                        Some(format!("give it a `default`, or set it: `set: {{{}.{name}: …}}`", scope.prefix())),
                    );
                }
            }
        }
    }

    /// A scene without `roles` that only role-limited handlers lead to: the limit does not
    /// hold once the chat is there (a group's other members, a `goto` button they see).
    fn check_scene_guards(&mut self) {
        for (name, scene) in &self.bot.scenes {
            if !scene.roles.is_empty() || self.bot.bot.start.as_deref() == Some(name.as_str()) {
                continue;
            }
            let entries: Vec<&[String]> =
                self.entries.iter().filter(|(to, _)| *to == name.as_str()).map(|(_, roles)| *roles).collect();
            if entries.is_empty() || entries.iter().any(|roles| roles.is_empty()) {
                continue;
            }
            let roles: BTreeSet<&str> = entries.iter().flat_map(|roles| roles.iter().map(String::as_str)).collect();
            let roles = roles.into_iter().collect::<Vec<_>>().join(", ");
            self.warning_at_key(
                &push_key("scenes", name),
                format!(
                    "only handlers limited to roles lead to the scene `{name}`, but the scene itself is open: \
                     anyone who sees its `goto` buttons, or shares the chat, acts in it"
                ),
                Some(format!("add `roles: [{roles}]` to the scene")),
            );
        }
    }

    fn check_reachability(&mut self) {
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

/// `http://host…` or `https://host…`.
fn is_https_url(url: &str) -> bool {
    url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")) && is_http_url(url)
}

fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        !host.is_empty() && !host.starts_with(':') && !host.chars().any(char::is_whitespace)
    })
}

/// A header value that is a credential written out: `Authorization: Bearer abc…`, an API key.
fn looks_like_literal_secret(name: &str, value: &str) -> bool {
    if value.contains("${") || value.contains("{{") || value.contains("{%") {
        return false;
    }
    let name = name.to_ascii_lowercase();
    let sensitive = matches!(name.as_str(), "authorization" | "proxy-authorization" | "cookie")
        || ["token", "key", "secret", "password", "auth"].iter().any(|word| name.contains(word));
    let secret = value.split_once(' ').map_or(value, |(_, rest)| rest).trim();
    sensitive && secret.len() >= 8
}

fn valid_menu_command(command: &str) -> bool {
    (1..=32).contains(&command.len())
        && command.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `123456789:AA…` (digits, a colon, 30 or more characters).
fn looks_like_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.chars().all(|c| c.is_ascii_digit())
                && secret.len() >= 30
                && secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        None => false,
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "`true`/`false`",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
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

    #[test]
    fn text_keys_and_regex_triggers() {
        assert_eq!(text_key("@welcome"), Some("welcome"));
        assert_eq!(text_key("@ hi"), None);
        assert_eq!(text_key("@"), None);
        assert_eq!(regex_trigger("/^\\d+$/"), Some("^\\d+$"));
        assert_eq!(regex_trigger("//"), None);
        assert_eq!(regex_trigger("/start"), None);
    }
}
