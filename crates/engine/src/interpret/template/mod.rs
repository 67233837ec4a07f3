//! Templates and conditions: one minijinja environment per bot version, every template and
//! expression of the bot file compiled into it once at load, rendered with fuel and recursion
//! limits and strict undefined so a typo fails loudly instead of printing nothing, and with
//! its output capped ([`crate::caps`]): a render that would output more fails.
//!
//! A message text sent with a `parse_mode` is rendered with [`Escape`] for that mode: every value
//! a `{{ … }}` inserts is escaped (HTML: `& < > "`; MarkdownV2: Telegram's special characters;
//! legacy Markdown: `_`, `*`, `` ` ``, `[`), so what a user typed arrives as text, never as markup; the
//! template's own text and values marked `| raw` (or `| safe`) are kept as written. Every other
//! render (plain messages, `set`, `http`, conditions, button texts) inserts values as they are.
//! Each file template is compiled once per escape mode the file uses, under a name that carries
//! the mode, and the mode reaches the formatter as minijinja's (custom) auto-escape.
//!
//! The values a render builds are capped too, since fuel counts instructions, not bytes (a
//! string doubled sixty times in a loop is a few hundred instructions): no value may be larger
//! than the output cap (the template value cap), and all the values one render builds may not
//! take more than [`RENDER_BUDGET_VALUES`] times it in total (the template memory cap). Over
//! either the render fails, naming the cap. Minijinja has no hook for this, so it is a
//! patch of the vendored crate (`vendor/minijinja/src/value_cap.rs`, decision 0027) that
//! [`Templates`] switches on around every render.

pub mod i18n;
pub mod markdown;
pub mod releases;
pub mod text;
pub mod times;

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrogram_schema::{BotFile, Buttons, ParseMode, Reply, Step, Text};
use minijinja::value::Value as JinjaValue;
use minijinja::value_cap::{Tripped, ValueCap};
use minijinja::{AutoEscape, Environment, ErrorKind, State, UndefinedBehavior};
use serde_json::Value;

use crate::caps::{self, CappedWriter};
use crate::error::EngineError;

/// Instructions one render may run; stops runaway loops in user templates.
pub const DEFAULT_FUEL: u64 = 50_000;
/// Nesting depth of one render.
pub const DEFAULT_RECURSION_LIMIT: usize = 64;
/// What all the values one render builds may take in total, in multiples of the template value
/// cap (the output cap): the template memory cap.
pub const RENDER_BUDGET_VALUES: usize = 64;

/// Expressions are compiled as templates that store their value in this variable.
const EXPR_VAR: &str = "__value";
const EXPR_PREFIX: &str = "\u{0}expr:";

/// How the values a template inserts are escaped: for the `parse_mode` of the message the text
/// is sent with, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Escape {
    /// Inserted as they are: plain texts, and everything that is not a message text.
    None,
    Html,
    MarkdownV2,
    /// Telegram's legacy `Markdown`.
    Markdown,
}

/// Template names of an escaped compile start with this, then the mode's name and `:`.
const ESCAPED_PREFIX: &str = "\u{0}escape:";

impl Escape {
    /// The escaping for a message sent with `mode`.
    pub fn for_parse_mode(mode: Option<ParseMode>) -> Escape {
        match mode {
            None => Escape::None,
            Some(ParseMode::Html) => Escape::Html,
            Some(ParseMode::MarkdownV2) => Escape::MarkdownV2,
            Some(ParseMode::Markdown) => Escape::Markdown,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Escape::None => "none",
            Escape::Html => "html",
            Escape::MarkdownV2 => "markdownv2",
            Escape::Markdown => "markdown",
        }
    }

    /// The name `source` is compiled under for this escaping (the source itself when none).
    fn template_name(self, source: &str) -> String {
        match self {
            Escape::None => source.to_owned(),
            mode => format!("{ESCAPED_PREFIX}{}:{source}", mode.name()),
        }
    }

    /// The escaping a template name was compiled for (see [`Escape::template_name`]).
    fn of_template_name(name: &str) -> Escape {
        let Some(rest) = name.strip_prefix(ESCAPED_PREFIX) else {
            return Escape::None;
        };
        [Escape::Html, Escape::MarkdownV2, Escape::Markdown]
            .into_iter()
            .find(|mode| rest.strip_prefix(mode.name()).is_some_and(|r| r.starts_with(':')))
            .unwrap_or(Escape::None)
    }

    /// As minijinja's auto-escape: a custom one, which [`format_value`] applies.
    fn auto_escape(self) -> AutoEscape {
        match self {
            Escape::None => AutoEscape::None,
            mode => AutoEscape::Custom(mode.name().into()),
        }
    }

    fn of_auto_escape(auto_escape: &AutoEscape) -> Escape {
        match auto_escape {
            AutoEscape::Custom(name) => [Escape::Html, Escape::MarkdownV2, Escape::Markdown]
                .into_iter()
                .find(|mode| mode.name() == name)
                .unwrap_or(Escape::None),
            _ => Escape::None,
        }
    }

    /// `text` escaped so Telegram shows it as written under this parse mode.
    pub fn apply(self, text: &str) -> String {
        let special: &[char] = match self {
            Escape::None => return text.to_owned(),
            Escape::Html => {
                let mut out = String::with_capacity(text.len());
                markdown::escape_html_into(&mut out, text);
                return out;
            }
            Escape::MarkdownV2 => {
                &['_', '*', '[', ']', '(', ')', '~', '`', '>', '#', '+', '-', '=', '|', '{', '}', '.', '!', '\\']
            }
            Escape::Markdown => &['_', '*', '`', '['],
        };
        let mut out = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            if special.contains(&c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }
}

/// The environment's formatter: a value printed under one of the [`Escape`] modes is escaped
/// for it unless marked safe (`| raw`, `| safe`); otherwise minijinja's own formatting.
fn format_value(out: &mut minijinja::Output, state: &mut State, value: &JinjaValue) -> Result<(), minijinja::Error> {
    match Escape::of_auto_escape(state.auto_escape()) {
        Escape::None => minijinja::escape_formatter(out, state, value),
        _ if value.is_safe() => minijinja::escape_formatter(out, state, value),
        mode => out.write_str(&mode.apply(&value.to_string())).map_err(minijinja::Error::from),
    }
}

/// `| raw`: the value as markup, not escaped under a parse mode (the same as `| safe`).
fn raw(value: JinjaValue) -> JinjaValue {
    match value.as_str() {
        Some(text) => JinjaValue::from_safe_string(text.to_owned()),
        None => JinjaValue::from_safe_string(value.to_string()),
    }
}

/// Whether `source` has template syntax (else it renders as itself).
fn is_template(source: &str) -> bool {
    source.contains("{{") || source.contains("{%") || source.contains("{#")
}

/// The compiled templates of one bot version.
pub struct Templates {
    env: Environment<'static>,
    /// Whether any template or expression may read `now`: building it for every handler
    /// costs two strftimes, so bots that never read it skip that.
    reads_now: bool,
    /// Bytes one render may output (see [`Templates::with_max_output`]).
    max_output: usize,
    /// Instructions one render may run.
    fuel: u64,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Templates {
    /// Compiles every template and expression of `file`; reports all that fail.
    pub fn compile(file: &BotFile, fuel: u64, recursion_limit: usize) -> Result<Templates, EngineError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(fuel));
        env.set_recursion_limit(recursion_limit);
        // Template names are their sources (never let a name ending in `.html` switch escaping
        // on), or carry the escape mode they were compiled for.
        env.set_auto_escape_callback(|name| Escape::of_template_name(name).auto_escape());
        env.set_formatter(format_value);
        env.add_filter("raw", raw);
        let texts = Arc::new(file.texts.clone());
        let default_locale = file.bot.default_locale.clone();
        env.add_function("t", move |state: &State, key: String| translate(state, &texts, &default_locale, &key));
        crate::interpret::template::releases::register(&mut env);
        crate::interpret::template::times::register(&mut env);
        env.add_function("distance_km", distance_km);

        let mut collector = Collector::default();
        collector.file(file);
        // A substring test over the whole file (every string, whether collected here or rendered
        // later): a false match ("snow") only costs building the value.
        let reads_now = serde_json::to_string(file).map_or(true, |text| text.contains("now"));
        let mut errors = Vec::new();
        for source in collector.templates {
            // Compiling folds constants (`'x' * 1000 ~ 'y'`); the cap keeps a folded constant
            // small (a bigger one is left to the render, which fails on it).
            let _cap = compile_cap();
            if let Err(e) = env.add_template_owned(source.clone(), source.clone()) {
                errors.push(format!("{source:?}: {e}"));
                continue;
            }
            // Any template may end up in a message text (through `@key` or `t()`): compiled
            // once more for each parse mode the file sends with.
            for mode in &collector.escapes {
                if let Err(e) = env.add_template_owned(mode.template_name(&source), source.clone()) {
                    errors.push(format!("{source:?}: {e}"));
                }
            }
        }
        for expr in collector.expressions {
            let wrapped = format!("{{% set {EXPR_VAR} = ({expr}) %}}");
            let _cap = compile_cap();
            if expr.contains("%}") || env.add_template_owned(format!("{EXPR_PREFIX}{expr}"), wrapped).is_err() {
                let reason = env.compile_expression(&expr).err().map(|e| e.to_string());
                errors.push(format!("{expr:?}: {}", reason.unwrap_or_else(|| "not a valid expression".into())));
            }
        }
        if errors.is_empty() {
            Ok(Templates { env, reads_now, max_output: caps::DEFAULT_TEMPLATE_OUTPUT, fuel })
        } else {
            Err(EngineError::Templates(errors))
        }
    }

    /// Caps what one render outputs at `bytes`, an expression's value at `bytes` of JSON, each
    /// value a render builds at `bytes` and all of them at [`RENDER_BUDGET_VALUES`] times that:
    /// beyond any of these the render fails. Default [`caps::DEFAULT_TEMPLATE_OUTPUT`].
    pub fn with_max_output(mut self, bytes: usize) -> Templates {
        self.max_output = bytes;
        self
    }

    /// Whether the bot's templates may read `now`.
    pub fn reads_now(&self) -> bool {
        self.reads_now
    }

    /// Renders a template of the bot file (compiled at load) with `ctx`, inserting values as
    /// they are.
    pub fn render(&self, source: &str, ctx: &JinjaValue) -> Result<String, EngineError> {
        self.render_fueled(source, ctx, Escape::None).0
    }

    /// Renders a template with `ctx`, the values it inserts escaped by `escape`: a message text
    /// for its parse mode. (Runs render through [`Templates::render_fueled`].)
    #[cfg(test)]
    pub fn render_escaped(&self, source: &str, ctx: &JinjaValue, escape: Escape) -> Result<String, EngineError> {
        self.render_fueled(source, ctx, escape).0
    }

    /// Renders a template with `ctx`, the values it inserts escaped by `escape` (a message text,
    /// for its parse mode), and the instructions it ran (for the update's fuel budget). A render that failed is counted as having run its whole fuel: how much it ran is
    /// unknown.
    pub fn render_fueled(&self, source: &str, ctx: &JinjaValue, escape: Escape) -> (Result<String, EngineError>, u64) {
        if !is_template(source) {
            return (Ok(source.to_owned()), 0);
        }
        let name = escape.template_name(source);
        self.value_capped(|| match self.env.get_template(&name) {
            Ok(template) => self.render_capped(&template, ctx),
            // Not part of the file (a built-in text): compiled for this one render.
            Err(e) if e.kind() == ErrorKind::TemplateNotFound && escape == Escape::None => {
                match self.env.template_from_str(source) {
                    Ok(template) => self.render_capped(&template, ctx),
                    Err(e) => (Err(render_error(e)), 0),
                }
            }
            Err(e) if e.kind() == ErrorKind::TemplateNotFound => {
                // The name carries the escaping, so compile it under that name in a copy.
                let mut env = self.env.clone();
                match env.add_template_owned(name.clone(), source.to_owned()).and_then(|()| env.get_template(&name)) {
                    Ok(template) => self.render_capped(&template, ctx),
                    Err(e) => (Err(render_error(e)), 0),
                }
            }
            Err(e) => (Err(render_error(e)), 0),
        })
    }

    /// Runs `render` with the values it builds capped (see the module docs); a render that ran
    /// into a cap fails naming it, whatever `render` returned. The instructions it ran are
    /// passed on.
    fn value_capped<T>(&self, render: impl FnOnce() -> (Result<T, EngineError>, u64)) -> (Result<T, EngineError>, u64) {
        let cap = ValueCap::enter(self.max_output, self.max_output.saturating_mul(RENDER_BUDGET_VALUES));
        let (result, used) = render();
        let result = match cap.tripped() {
            None => result,
            Some(Tripped::Value) => Err(EngineError::Render(format!(
                "a value in the template grew past {} (the template value cap)",
                caps::bytes(self.max_output)
            ))),
            Some(Tripped::Budget) => Err(EngineError::Render(format!(
                "the values the template built grew past {} in total (the template memory cap)",
                caps::bytes(self.max_output.saturating_mul(RENDER_BUDGET_VALUES))
            ))),
        };
        (result, used)
    }

    /// Renders into a buffer that takes at most [`Templates::max_output`] bytes; with the
    /// instructions it ran.
    fn render_capped(
        &self,
        template: &minijinja::Template<'_, '_>,
        ctx: &JinjaValue,
    ) -> (Result<String, EngineError>, u64) {
        let mut out = CappedWriter::new(Vec::new(), self.max_output);
        match template.render_captured_to(ctx, &mut out) {
            Ok(captured) => {
                let used = fuel_used(captured.state());
                drop(captured);
                (String::from_utf8(out.into_inner()).map_err(|e| EngineError::Render(e.to_string())), used)
            }
            Err(_) if out.overflowed => (
                Err(EngineError::Render(format!(
                    "the rendered text is larger than {} (the template output cap)",
                    caps::bytes(self.max_output)
                ))),
                self.fuel,
            ),
            Err(e) => (Err(render_error(e)), self.fuel),
        }
    }

    /// Evaluates an expression of the bot file to a JSON value, and the instructions it ran
    /// (see [`Templates::render_fueled`]). A value over the output cap (as JSON) fails.
    pub fn eval_fueled(&self, expr: &str, ctx: &JinjaValue) -> (Result<Value, EngineError>, u64) {
        let (value, used) = self.eval_jinja(expr, ctx);
        let value = value.and_then(|value| {
            if !caps::json_within(&value, self.max_output) {
                return Err(EngineError::Render(format!(
                    "the value of {expr:?} is larger than {} (the template output cap)",
                    caps::bytes(self.max_output)
                )));
            }
            serde_json::to_value(&value).map_err(|e| EngineError::Render(format!("{expr}: {e}")))
        });
        (value, used)
    }

    /// Evaluates a condition (Jinja truthiness of the expression's value), and the instructions
    /// it ran (see [`Templates::render_fueled`]).
    pub fn is_true_fueled(&self, expr: &str, ctx: &JinjaValue) -> (Result<bool, EngineError>, u64) {
        let (value, used) = self.eval_jinja(expr, ctx);
        (value.map(|value| value.is_true()), used)
    }

    fn eval_jinja(&self, expr: &str, ctx: &JinjaValue) -> (Result<JinjaValue, EngineError>, u64) {
        self.value_capped(|| self.eval_uncapped(expr, ctx))
    }

    fn eval_uncapped(&self, expr: &str, ctx: &JinjaValue) -> (Result<JinjaValue, EngineError>, u64) {
        let template = match self.env.get_template(&format!("{EXPR_PREFIX}{expr}")) {
            Ok(template) => template,
            Err(_) => {
                return (Err(EngineError::Render(format!("expression {expr:?} was not compiled with the bot"))), 0);
            }
        };
        let captured = match template.render_captured(ctx) {
            Ok(captured) => captured,
            Err(e) => return (Err(render_error(e)), self.fuel),
        };
        let used = fuel_used(captured.state());
        let value = captured.state().lookup(EXPR_VAR).unwrap_or_default();
        if value.is_undefined() {
            return (Err(EngineError::Render(format!("{expr:?} is undefined"))), used);
        }
        (Ok(value), used)
    }
}

/// The instructions a finished render ran.
fn fuel_used(state: &State) -> u64 {
    state.fuel_levels().map_or(0, |(consumed, _)| consumed)
}

/// The expression of a template that is exactly one `{{ expression }}` (no whitespace control).
pub fn single_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let expr = inner.trim();
    let plain = !inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%") && !inner.contains("%}");
    (plain && !expr.is_empty() && !expr.starts_with('-') && !expr.ends_with('-')).then_some(expr)
}

/// A serializable value as a template value.
pub fn to_jinja<T: serde::Serialize>(value: T) -> JinjaValue {
    JinjaValue::from(minijinja::value::Serde(value))
}

/// The value cap while compiling (constant folding): the default template value cap.
fn compile_cap() -> ValueCap {
    ValueCap::enter(caps::DEFAULT_TEMPLATE_OUTPUT, caps::DEFAULT_TEMPLATE_OUTPUT.saturating_mul(RENDER_BUDGET_VALUES))
}

fn render_error(e: minijinja::Error) -> EngineError {
    let mut message = e.to_string();
    if let Some(source) = std::error::Error::source(&e) {
        message.push_str(&format!(": {source}"));
    }
    EngineError::Render(message)
}

/// `t("key")`: the key's text for the current locale, rendered with the current context.
fn translate(
    state: &State,
    texts: &BTreeMap<String, BTreeMap<String, String>>,
    default_locale: &str,
    key: &str,
) -> Result<JinjaValue, minijinja::Error> {
    let locale = state.lookup("locale").and_then(|l| l.as_str().map(str::to_owned)).unwrap_or_default();
    let source = lookup_text(texts, &locale, default_locale, key).ok_or_else(|| {
        minijinja::Error::new(ErrorKind::InvalidOperation, format!("no text {key:?} for locale {locale:?}"))
    })?;
    // In a message text with a parse mode, the text is the bot's markup (kept as written) and
    // the values it inserts are escaped as the caller's are.
    let escape = Escape::of_auto_escape(state.auto_escape());
    let rendered = if is_template(source) {
        let template = state.env().get_template(&escape.template_name(source))?;
        let ctx: BTreeMap<&str, JinjaValue> =
            CONTEXT_KEYS.iter().filter_map(|name| state.lookup(name).map(|value| (*name, value))).collect();
        // Inside the calling render: its output is capped like a value that render builds.
        let limit = ValueCap::current_max_value().unwrap_or(usize::MAX);
        let mut out = CappedWriter::new(Vec::new(), limit);
        let rendered = template.render_captured_to(ctx, &mut out);
        if out.overflowed {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "the text grew past the template value cap",
            ));
        }
        rendered?;
        String::from_utf8(out.into_inner())
            .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string()))?
    } else {
        source.to_owned()
    };
    Ok(match escape {
        Escape::None => JinjaValue::from(rendered),
        _ => JinjaValue::from_safe_string(rendered),
    })
}

/// `distance_km(lat1, lon1, lat2, lon2)`: the great-circle distance between two points in
/// kilometres (haversine), to one decimal.
fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> Result<f64, minijinja::Error> {
    let all_finite = [lat1, lon1, lat2, lon2].iter().all(|x| x.is_finite());
    if !all_finite || lat1.abs() > 90.0 || lat2.abs() > 90.0 {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("distance_km: ({lat1}, {lon1}) – ({lat2}, {lon2}) are not coordinates"),
        ));
    }
    Ok((crate::interpret::geo::distance_km(lat1, lon1, lat2, lon2) * 10.0).round() / 10.0)
}

/// The top-level names of the template context; the validator checks templates against the same list.
pub const CONTEXT_KEYS: &[&str] = ferrogram_schema::TEMPLATE_ROOTS;

/// A text of `texts` for `locale`, falling back to the default locale.
pub fn lookup_text<'a>(
    texts: &'a BTreeMap<String, BTreeMap<String, String>>,
    locale: &str,
    default_locale: &str,
    key: &str,
) -> Option<&'a str> {
    texts
        .get(locale)
        .and_then(|t| t.get(key))
        .or_else(|| texts.get(default_locale).and_then(|t| t.get(key)))
        .map(String::as_str)
}

/// Walks a bot file and gathers its templates and expressions.
#[derive(Default)]
struct Collector {
    templates: std::collections::BTreeSet<String>,
    expressions: std::collections::BTreeSet<String>,
    /// The escape modes of the parse modes the file sends texts with.
    escapes: std::collections::BTreeSet<Escape>,
}

impl Collector {
    fn file(&mut self, file: &BotFile) {
        self.parse_mode(file.bot.parse_mode);
        for texts in file.texts.values() {
            texts.values().for_each(|t| self.template(t));
        }
        for command in &file.bot.commands {
            self.text(&command.description);
        }
        if let Some(limits) = &file.limits {
            limits.reply.iter().for_each(|t| self.text(t));
        }
        if let Some(errors) = &file.errors {
            self.text(&errors.reply);
        }
        let handlers = file.on.iter().chain(file.scenes.values().flat_map(|s| s.on.iter()));
        for handler in handlers {
            handler.when.iter().for_each(|w| self.expression(w));
            self.steps(&handler.steps);
        }
        for job in file.jobs.values() {
            self.steps(&job.steps);
        }
        for session in file.http_sessions.values() {
            if let Some(login) = &session.login {
                self.template(&login.url);
                login.headers.values().chain(login.form.values()).for_each(|v| self.template(v));
                login.json.iter().for_each(|body| self.json(body));
            }
            if let Some(auth) = &session.basic_auth {
                self.template(&auth.username);
                self.template(&auth.password);
            }
        }
        for scene in file.scenes.values() {
            self.steps(&scene.on_enter);
            if let Some(form) = &scene.form {
                for field in &form.fields {
                    self.text(&field.ask);
                    field.invalid.iter().for_each(|t| self.text(t));
                }
                self.steps(&form.on_done);
                self.steps(&form.on_cancel);
            }
        }
    }

    fn template(&mut self, source: &str) {
        if is_template(source) {
            self.templates.insert(source.to_owned());
        }
    }

    fn parse_mode(&mut self, mode: Option<ParseMode>) {
        if mode.is_some() {
            self.escapes.insert(Escape::for_parse_mode(mode));
        }
    }

    fn expression(&mut self, expr: &str) {
        self.expressions.insert(expr.to_owned());
    }

    /// The strings of a JSON body: templates, or expressions when one `{{ … }}` is all.
    fn json(&mut self, value: &Value) {
        match value {
            Value::String(source) => match single_expression(source) {
                Some(expr) => self.expression(expr),
                None => self.template(source),
            },
            Value::Array(items) => items.iter().for_each(|v| self.json(v)),
            Value::Object(map) => map.values().for_each(|v| self.json(v)),
            _ => {}
        }
    }

    fn text(&mut self, text: &Text) {
        match text {
            Text::One(s) => self.template(s),
            Text::PerLocale(map) => map.values().for_each(|s| self.template(s)),
        }
    }

    fn reply(&mut self, reply: &Reply) {
        let spec = match reply {
            Reply::Text(text) => return self.template(text),
            Reply::Full(spec) => spec,
        };
        self.parse_mode(spec.parse_mode);
        spec.text.iter().for_each(|t| self.text(t));
        spec.photo.iter().for_each(|p| self.template(p));
        for key in spec.keyboard.iter().flatten().flatten() {
            self.template(key.label());
            if let ferrogram_schema::Key::WebApp(key) = key {
                self.template(&key.web_app);
            }
        }
        let buttons: Vec<&ferrogram_schema::Button> = match &spec.buttons {
            Some(Buttons::Rows(rows)) => rows.iter().flatten().collect(),
            Some(Buttons::FromList(list)) => {
                self.expression(&list.from);
                vec![&list.button]
            }
            None => Vec::new(),
        };
        for button in buttons {
            self.text(&button.text);
            button.callback.iter().chain(button.url.iter()).chain(button.web_app.iter()).for_each(|s| self.template(s));
        }
    }

    /// The values of a `where`: values, templates or expressions.
    fn filters(&mut self, filters: &BTreeMap<String, ferrogram_schema::FieldFilter>) {
        for filter in filters.values() {
            match filter {
                ferrogram_schema::FieldFilter::Equals(value) => self.json(value),
                ferrogram_schema::FieldFilter::Compare(comparison) => {
                    comparison.ops().into_iter().for_each(|(_, v)| self.json(v))
                }
            }
        }
    }

    fn steps(&mut self, steps: &[Step]) {
        for step in steps {
            match step {
                Step::Reply(reply) | Step::Edit(reply) => self.reply(reply),
                Step::Answer(ferrogram_schema::Answer::Text(text)) => self.template(text),
                Step::Answer(ferrogram_schema::Answer::Full(spec)) => spec.text.iter().for_each(|t| self.text(t)),
                Step::Set(values) => values.values().for_each(|v| self.template(v)),
                Step::If(condition) => {
                    self.expression(&condition.condition);
                    self.steps(&condition.then);
                    self.steps(&condition.otherwise);
                }
                Step::ForEach(each) => {
                    self.expression(&each.list);
                    self.steps(&each.steps);
                }
                Step::Poll(poll) => {
                    self.text(&poll.question);
                    poll.options.iter().for_each(|o| self.text(o));
                }
                Step::Notify(notify) => {
                    self.expression(&notify.to);
                    self.reply(&notify.message);
                }
                Step::AnswerInline(inline) => {
                    self.expression(&inline.from);
                    self.template(&inline.title);
                    self.template(&inline.message);
                    inline.description.iter().for_each(|d| self.template(d));
                }
                Step::Http(request) => {
                    self.template(&request.url);
                    request
                        .headers
                        .values()
                        .chain(request.query.values())
                        .chain(request.form.values())
                        .for_each(|v| self.template(v));
                    request.json.iter().for_each(|body| self.json(body));
                }
                Step::Insert(insert) => insert.values.values().for_each(|v| self.json(v)),
                Step::Update(update) => {
                    update.id.iter().for_each(|v| self.json(v));
                    self.filters(&update.filter);
                    update.set.values().for_each(|v| self.json(v));
                }
                Step::Remove(remove) => {
                    remove.id.iter().for_each(|v| self.json(v));
                    self.filters(&remove.filter);
                }
                Step::Query(query) => {
                    query.id.iter().chain(query.offset.iter()).for_each(|v| self.json(v));
                    if let Some(near) = &query.near {
                        [&near.lat, &near.lon, &near.within_km].into_iter().for_each(|v| self.json(v));
                    }
                    self.filters(&query.filter);
                }
                Step::Count(count) => self.filters(&count.filter),
                Step::Search(search) => self.template(&search.text),
                Step::Emit(emit) => emit.data.iter().for_each(|v| self.json(v)),
                Step::Feed(feed) => self.template(&feed.url),
                Step::Llm(llm) => {
                    [&llm.url, &llm.model]
                        .into_iter()
                        .chain(&llm.key)
                        .chain(&llm.prompt)
                        .for_each(|t| self.template(t));
                    llm.system.iter().chain(&llm.placeholder).for_each(|t| self.text(t));
                }
                Step::Try(attempt) => {
                    self.steps(&attempt.steps);
                    self.steps(&attempt.catch);
                }
                Step::Delete(_) | Step::Unset(_) | Step::Goto(_) | Step::Call(_) | Step::Return(_) | Step::Dice(_) => {}
            }
        }
    }
}

#[cfg(test)]
#[path = "../../../tests/common/memory_attacks.rs"]
mod memory_attacks;

#[cfg(test)]
mod tests {
    use super::memory_attacks::MEMORY_ATTACKS;
    use super::*;

    /// A bot file with one handler, deserialized without the loader's validation (these tests
    /// check what the engine itself catches).
    fn file(when: Option<&str>, reply: &str) -> BotFile {
        let mut handler = serde_json::json!({"text": "any", "do": [{"reply": reply}]});
        if let Some(when) = when {
            handler["when"] = when.into();
        }
        serde_json::from_value(serde_json::json!({"ferrogram": 1, "bot": {"name": "t"}, "on": [handler]}))
            .expect("a bot file")
    }

    #[test]
    fn renders_and_evaluates_with_strict_undefined() {
        let bot = file(Some("user.n > 2"), "{{ from.first_name }}!");
        let templates = Templates::compile(&bot, DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT).expect("compiles");
        let ctx = to_jinja(serde_json::json!({"from": {"first_name": "Ann"}, "user": {"n": 3}}));
        assert_eq!(templates.render("{{ from.first_name }}!", &ctx).unwrap(), "Ann!");
        assert!(templates.is_true_fueled("user.n > 2", &ctx).0.unwrap());
        let missing = to_jinja(serde_json::json!({"from": {}}));
        assert!(templates.render("{{ from.first_name }}!", &missing).is_err());
    }

    #[test]
    fn syntax_errors_are_all_reported_at_load() {
        let bot = file(Some("1 +"), "{{ oops");
        match Templates::compile(&bot, DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT) {
            Err(EngineError::Templates(errors)) => assert_eq!(errors.len(), 2, "{errors:?}"),
            other => panic!("expected template errors, got {other:?}"),
        }
    }

    #[test]
    fn only_a_file_that_mentions_now_gets_it() {
        let compile = |bot: BotFile| Templates::compile(&bot, DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT).expect("compiles");
        assert!(!compile(file(None, "Hello {{ from.first_name }}")).reads_now());
        assert!(compile(file(None, "It is {{ now.time }}")).reads_now());
        assert!(compile(file(Some("now.hour > 8"), "hi")).reads_now());
    }

    #[test]
    fn distance_km_is_a_function() {
        let source = "{{ distance_km(52.52437, 13.41053, 53.55073, 9.99302) }} {{ distance_km(1, 2, 1, 2) }}";
        let bot = file(None, source);
        let templates = Templates::compile(&bot, DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT).expect("compiles");
        assert_eq!(templates.render(source, &JinjaValue::from(())).unwrap(), "255.4 0.0");
        let bad = "{{ distance_km(100, 0, 0, 0) }}";
        let templates = Templates::compile(&file(None, bad), DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT).expect("compiles");
        assert!(templates.render(bad, &JinjaValue::from(())).is_err());
    }

    /// Renders `source` (a bot's reply) with the default caps: the result and how long it took.
    fn render_timed(source: &str) -> (Result<String, EngineError>, std::time::Duration) {
        let templates =
            Templates::compile(&file(None, source), DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT).expect("compiles");
        let started = std::time::Instant::now();
        let result = templates.render(source, &JinjaValue::from(()));
        (result, started.elapsed())
    }

    #[test]
    fn values_a_render_builds_are_capped() {
        for (source, cap) in MEMORY_ATTACKS {
            let (result, took) = render_timed(source);
            let error = match result {
                Err(EngineError::Render(error)) => error,
                other => panic!("{source}: expected a render error, got {other:?}"),
            };
            use super::memory_attacks::Cap;
            let expected = match cap {
                Cap::Value => "a value in the template grew past 1 MiB (the template value cap)",
                Cap::Memory => "the values the template built grew past 64 MiB in total (the template memory cap)",
            };
            assert_eq!(error, expected, "{source}");
            assert!(took < std::time::Duration::from_secs(5), "{source}: took {took:?}");
        }
    }

    #[test]
    fn big_values_under_the_caps_still_render() {
        let cases = [
            ("{% set a = 'x' * 1000000 %}{{ (a ~ 'y')|length }}", "1000001"),
            (
                "{% set ns = namespace(s='ab') %}{% for i in range(19) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
                "1048576",
            ),
            ("{{ (range(40000)|join(','))|length }}", "228889"),
            (
                "{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = ns.l + ['x' * 1000] %}{% endfor %}{{ (ns.l|join)|length }}",
                "1000000",
            ),
            ("{{ ('%10s|'|format('x')) ~ ('a\nb'|indent(4)) ~ ('ab'|replace('b', 'cd')) }}", "         x|a\n    bacd"),
        ];
        for (source, expected) in cases {
            let (result, _) = render_timed(source);
            assert_eq!(result.unwrap_or_else(|e| panic!("{source}: {e}")), expected, "{source}");
        }
        // Outside a render the crate is uncapped.
        let big = minijinja::Environment::new().render_str("{{ ('x' * 2000000)|length }}", ()).expect("renders");
        assert_eq!(big, "2000000");
    }

    #[test]
    fn escapes_are_per_parse_mode() {
        let text = r#"<a href="x">A & B</a> 1.5-2_ *c* [d](e) `f` \"#;
        assert_eq!(Escape::None.apply(text), text);
        assert_eq!(
            Escape::Html.apply(text),
            r#"&lt;a href=&quot;x&quot;&gt;A &amp; B&lt;/a&gt; 1.5-2_ *c* [d](e) `f` \"#
        );
        assert_eq!(Escape::MarkdownV2.apply(text), r#"<a href\="x"\>A & B</a\> 1\.5\-2\_ \*c\* \[d\]\(e\) \`f\` \\"#);
        assert_eq!(Escape::Markdown.apply(text), r#"<a href="x">A & B</a> 1.5-2\_ \*c\* \[d](e) \`f\` \"#);
    }

    #[test]
    fn only_message_texts_are_escaped_and_raw_is_not() {
        let source = "<b>{{ from.first_name }}</b> {{ '<i>x</i>' | raw }} {{ t('hi') }}";
        let mut bot = file(None, source);
        bot.bot.parse_mode = Some(ParseMode::Html);
        bot.texts.insert("en".into(), BTreeMap::from([("hi".into(), "<u>{{ from.first_name }}</u>".into())]));
        let templates = Templates::compile(&bot, DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT).expect("compiles");
        let ctx = to_jinja(serde_json::json!({"from": {"first_name": "<Ann>"}, "locale": "en"}));
        assert_eq!(
            templates.render_escaped(source, &ctx, Escape::Html).unwrap(),
            "<b>&lt;Ann&gt;</b> <i>x</i> <u>&lt;Ann&gt;</u>"
        );
        assert_eq!(templates.render(source, &ctx).unwrap(), "<b><Ann></b> <i>x</i> <u><Ann></u>");
        // A template that is not the file's (compiled for the one render) is escaped as well;
        // its own text is the bot's markup.
        let other = "{{ from.first_name }}!";
        assert_eq!(templates.render_escaped(other, &ctx, Escape::MarkdownV2).unwrap(), "<Ann\\>!");
    }

    #[test]
    fn fuel_stops_runaway_loops() {
        let source = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let bot = file(None, source);
        let templates = Templates::compile(&bot, 1000, DEFAULT_RECURSION_LIMIT).expect("compiles");
        assert!(templates.render(source, &JinjaValue::from(())).is_err());
    }
}
