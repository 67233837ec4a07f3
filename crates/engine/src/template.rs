//! Templates and conditions: one minijinja environment per bot version, every template and
//! expression of the bot file compiled into it once at load, rendered with fuel and recursion
//! limits and strict undefined so a typo fails loudly instead of printing nothing, and with
//! its output capped ([`crate::caps`]): a render that would output more fails.
//!
//! The values a render builds are capped too, since fuel counts instructions, not bytes (a
//! string doubled sixty times in a loop is a few hundred instructions): no value may be larger
//! than the output cap (the template value cap), and all the values one render builds may not
//! take more than [`RENDER_BUDGET_VALUES`] times it in total (the template memory cap). Over
//! either the render fails, naming the cap. Minijinja has no hook for this, so it is a
//! patch of the vendored crate (`vendor/minijinja/src/value_cap.rs`, decision 0027) that
//! [`Templates`] switches on around every render.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::Value as JinjaValue;
use minijinja::value_cap::{Tripped, ValueCap};
use minijinja::{AutoEscape, Environment, ErrorKind, State, UndefinedBehavior};
use schema::{BotFile, Buttons, Reply, Step, Text};
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

/// The compiled templates of one bot version.
pub struct Templates {
    env: Environment<'static>,
    /// Whether any template or expression may read `now`: building it for every handler
    /// costs two strftimes, so bots that never read it skip that.
    reads_now: bool,
    /// Bytes one render may output (see [`Templates::with_max_output`]).
    max_output: usize,
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
        // Template names are their sources; never let a name ending in `.html` switch escaping on.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        let texts = Arc::new(file.texts.clone());
        let default_locale = file.bot.default_locale.clone();
        env.add_function("t", move |state: &State, key: String| translate(state, &texts, &default_locale, &key));
        crate::releases::register(&mut env);
        crate::times::register(&mut env);
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
            Ok(Templates { env, reads_now, max_output: caps::DEFAULT_TEMPLATE_OUTPUT })
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

    /// Renders a template of the bot file (compiled at load) with `ctx`.
    pub fn render(&self, source: &str, ctx: &JinjaValue) -> Result<String, EngineError> {
        if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
            return Ok(source.to_owned());
        }
        self.value_capped(|| match self.env.get_template(source) {
            Ok(template) => self.render_capped(&template, ctx),
            // Not part of the file (a built-in text): compiled for this one render.
            Err(e) if e.kind() == ErrorKind::TemplateNotFound => {
                self.render_capped(&self.env.template_from_str(source).map_err(render_error)?, ctx)
            }
            Err(e) => Err(render_error(e)),
        })
    }

    /// Runs `render` with the values it builds capped (see the module docs); a render that ran
    /// into a cap fails naming it, whatever `render` returned.
    fn value_capped<T>(&self, render: impl FnOnce() -> Result<T, EngineError>) -> Result<T, EngineError> {
        let cap = ValueCap::enter(self.max_output, self.max_output.saturating_mul(RENDER_BUDGET_VALUES));
        let result = render();
        match cap.tripped() {
            None => result,
            Some(Tripped::Value) => Err(EngineError::Render(format!(
                "a value in the template grew past {} (the template value cap)",
                caps::bytes(self.max_output)
            ))),
            Some(Tripped::Budget) => Err(EngineError::Render(format!(
                "the values the template built grew past {} in total (the template memory cap)",
                caps::bytes(self.max_output.saturating_mul(RENDER_BUDGET_VALUES))
            ))),
        }
    }

    /// Renders into a buffer that takes at most [`Templates::max_output`] bytes.
    fn render_capped(&self, template: &minijinja::Template<'_, '_>, ctx: &JinjaValue) -> Result<String, EngineError> {
        let mut out = CappedWriter::new(Vec::new(), self.max_output);
        match template.render_captured_to(ctx, &mut out) {
            Ok(_) => String::from_utf8(out.into_inner()).map_err(|e| EngineError::Render(e.to_string())),
            Err(_) if out.overflowed => Err(EngineError::Render(format!(
                "the rendered text is larger than {} (the template output cap)",
                caps::bytes(self.max_output)
            ))),
            Err(e) => Err(render_error(e)),
        }
    }

    /// Evaluates an expression of the bot file to a JSON value.
    pub fn eval(&self, expr: &str, ctx: &JinjaValue) -> Result<Value, EngineError> {
        let value = self.eval_jinja(expr, ctx)?;
        if !caps::json_within(&value, self.max_output) {
            return Err(EngineError::Render(format!(
                "the value of {expr:?} is larger than {} (the template output cap)",
                caps::bytes(self.max_output)
            )));
        }
        serde_json::to_value(&value).map_err(|e| EngineError::Render(format!("{expr}: {e}")))
    }

    /// Evaluates a condition: Jinja truthiness of the expression's value.
    pub fn is_true(&self, expr: &str, ctx: &JinjaValue) -> Result<bool, EngineError> {
        Ok(self.eval_jinja(expr, ctx)?.is_true())
    }

    fn eval_jinja(&self, expr: &str, ctx: &JinjaValue) -> Result<JinjaValue, EngineError> {
        self.value_capped(|| self.eval_uncapped(expr, ctx))
    }

    fn eval_uncapped(&self, expr: &str, ctx: &JinjaValue) -> Result<JinjaValue, EngineError> {
        let template = self
            .env
            .get_template(&format!("{EXPR_PREFIX}{expr}"))
            .map_err(|_| EngineError::Render(format!("expression {expr:?} was not compiled with the bot")))?;
        let captured = template.render_captured(ctx).map_err(render_error)?;
        let value = captured.state().lookup(EXPR_VAR).unwrap_or_default();
        if value.is_undefined() {
            return Err(EngineError::Render(format!("{expr:?} is undefined")));
        }
        Ok(value)
    }
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
    if !source.contains("{{") && !source.contains("{%") {
        return Ok(JinjaValue::from(source));
    }
    let template = state.env().get_template(source)?;
    let ctx: BTreeMap<&str, JinjaValue> =
        CONTEXT_KEYS.iter().filter_map(|name| state.lookup(name).map(|value| (*name, value))).collect();
    // Inside the calling render: its output is capped like a value that render builds.
    let limit = ValueCap::current_max_value().unwrap_or(usize::MAX);
    let mut out = CappedWriter::new(Vec::new(), limit);
    let rendered = template.render_captured_to(ctx, &mut out);
    if out.overflowed {
        return Err(minijinja::Error::new(ErrorKind::InvalidOperation, "the text grew past the template value cap"));
    }
    rendered?;
    String::from_utf8(out.into_inner())
        .map(JinjaValue::from)
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string()))
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
    Ok((crate::geo::distance_km(lat1, lon1, lat2, lon2) * 10.0).round() / 10.0)
}

/// The top-level names of the template context; the validator checks templates against the same list.
pub const CONTEXT_KEYS: &[&str] = schema::TEMPLATE_ROOTS;

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
}

impl Collector {
    fn file(&mut self, file: &BotFile) {
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
        if source.contains("{{") || source.contains("{%") || source.contains("{#") {
            self.templates.insert(source.to_owned());
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
        spec.text.iter().for_each(|t| self.text(t));
        spec.photo.iter().for_each(|p| self.template(p));
        for key in spec.keyboard.iter().flatten().flatten() {
            self.template(key.label());
            if let schema::Key::WebApp(key) = key {
                self.template(&key.web_app);
            }
        }
        let buttons: Vec<&schema::Button> = match &spec.buttons {
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
    fn filters(&mut self, filters: &BTreeMap<String, schema::FieldFilter>) {
        for filter in filters.values() {
            match filter {
                schema::FieldFilter::Equals(value) => self.json(value),
                schema::FieldFilter::Compare(comparison) => {
                    comparison.ops().into_iter().for_each(|(_, v)| self.json(v))
                }
            }
        }
    }

    fn steps(&mut self, steps: &[Step]) {
        for step in steps {
            match step {
                Step::Reply(reply) | Step::Edit(reply) => self.reply(reply),
                Step::Answer(schema::Answer::Text(text)) => self.template(text),
                Step::Answer(schema::Answer::Full(spec)) => spec.text.iter().for_each(|t| self.text(t)),
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
                    request.headers.values().chain(request.query.values()).for_each(|v| self.template(v));
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
#[path = "../tests/common/memory_attacks.rs"]
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
        assert!(templates.is_true("user.n > 2", &ctx).unwrap());
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
    fn fuel_stops_runaway_loops() {
        let source = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let bot = file(None, source);
        let templates = Templates::compile(&bot, 1000, DEFAULT_RECURSION_LIMIT).expect("compiles");
        assert!(templates.render(source, &JinjaValue::from(())).is_err());
    }
}
