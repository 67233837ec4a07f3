//! Compiling templates and conditions with minijinja, and finding what they read.

use minijinja::{Environment, UndefinedBehavior};

/// The names a template can read: what the engine puts in every template's context, the
/// functions it adds, and minijinja's own globals.
pub const TEMPLATE_ROOTS: &[&str] = &[
    "from",
    "chat",
    "message",
    "callback",
    "command",
    "user",
    "chat_vars",
    "bot",
    "form",
    "item",
    "result",
    "locale",
    "match",
    "inline",
    "roles",
    "error",
    "now",
    "web_app",
];

/// Functions and globals callable from templates.
pub const TEMPLATE_FUNCTIONS: &[&str] =
    &["t", "range", "dict", "namespace", "debug", "parse_release", "missing_episodes", "distance_km"];

/// What a template or a condition uses.
#[derive(Debug, Default)]
pub struct Uses {
    /// Names read from the context, with nested attribute lookups: `user.score`, `from`.
    pub reads: Vec<String>,
    /// Keys passed to `t("…")` as literal strings.
    pub text_keys: Vec<String>,
}

/// A compile error, in words.
pub struct CompileError(pub String);

pub fn environment<'a>() -> Environment<'a> {
    let mut env = Environment::empty();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

fn describe(error: &minijinja::Error, source: &str) -> String {
    let mut message = error.kind().to_string();
    if let Some(detail) = error.detail() {
        message.push_str(": ");
        message.push_str(detail);
    }
    if let Some(line) = error.line()
        && source.contains('\n')
    {
        message.push_str(&format!(" (line {line} of the template)"));
    }
    message
}

/// Compiling folds constant expressions (`'x' * 100000000 ~ 'x' * 100000000`): within this cap
/// (the engine's default template value cap, decision 0027) a folded constant stays small and a
/// bigger one is left unfolded, so validating a bot file cannot build gigabytes either.
fn folding_cap() -> minijinja::value_cap::ValueCap {
    minijinja::value_cap::ValueCap::enter(1 << 20, 64 << 20)
}

/// Compiles a template (a text with `{{ … }}` and `{% … %}`).
pub fn template<'a>(env: &Environment<'a>, source: &'a str) -> Result<Uses, CompileError> {
    if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
        return Ok(Uses::default());
    }
    let _cap = folding_cap();
    let compiled = env.template_from_str(source).map_err(|e| CompileError(describe(&e, source)))?;
    let mut reads: Vec<String> = compiled.undeclared_variables(true).into_iter().collect();
    reads.sort();
    Ok(Uses { reads, text_keys: text_keys(source, true) })
}

/// Compiles an expression (a condition, or what gives a list).
pub fn expression<'a>(env: &Environment<'a>, source: &'a str) -> Result<Uses, CompileError> {
    let _cap = folding_cap();
    let compiled = env.compile_expression(source).map_err(|e| CompileError(describe(&e, source)))?;
    let mut reads: Vec<String> = compiled.undeclared_variables(true).into_iter().collect();
    reads.sort();
    Ok(Uses { reads, text_keys: text_keys(source, false) })
}

/// Whether a template has no tags at all (its text is what is sent).
pub fn is_static(source: &str) -> bool {
    !source.contains("{{") && !source.contains("{%")
}

/// The literal keys of `t("key")` calls, inside tags (or anywhere, for expressions).
fn text_keys(source: &str, template: bool) -> Vec<String> {
    let mut keys = Vec::new();
    if template {
        let mut rest = source;
        while let Some(open) = rest.find(['{']) {
            let after = &rest[open..];
            let close = if after.starts_with("{{") {
                "}}"
            } else if after.starts_with("{%") {
                "%}"
            } else {
                rest = &rest[open + 1..];
                continue;
            };
            let inner = &after[2..];
            let end = inner.find(close).unwrap_or(inner.len());
            scan_t_calls(&inner[..end], &mut keys);
            rest = &inner[end..];
        }
    } else {
        scan_t_calls(source, &mut keys);
    }
    keys
}

fn scan_t_calls(code: &str, keys: &mut Vec<String>) {
    let bytes = code.as_bytes();
    let mut i = 0;
    while let Some(found) = code.get(i..).and_then(|s| s.find("t(")) {
        let at = i + found;
        i = at + 2;
        let before = at.checked_sub(1).and_then(|b| bytes.get(b)).copied();
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
            continue;
        }
        let args = code.get(at + 2..).unwrap_or("").trim_start();
        let Some(quote) = args.chars().next().filter(|c| *c == '"' || *c == '\'') else { continue };
        let body = &args[1..];
        if let Some(end) = body.find(quote) {
            keys.push(body[..end].to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `VmHWM` (peak resident memory) of this process in KiB, after resetting it to the
    /// current resident memory when `reset`.
    fn peak_kib(reset: bool) -> u64 {
        if reset {
            std::fs::write("/proc/self/clear_refs", "5").expect("the peak memory resets");
        }
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("KiB")
    }

    #[test]
    fn compiling_does_not_fold_huge_constants() {
        let env = environment();
        let huge = "('x' * 100000000)";
        let source = format!("{{{{ ({}) | length }}}}", [huge; 10].join(" ~ "));
        let before = peak_kib(true);
        assert!(template(&env, &source).is_ok());
        assert!(expression(&env, &[huge; 10].join(" ~ ")).is_ok());
        let growth = peak_kib(false).saturating_sub(before);
        // Folded, the constant would take 1 GB.
        assert!(growth < 200 << 10, "compiling grew the peak memory by {growth} KiB");
    }

    #[test]
    fn finds_reads_and_text_keys() {
        let env = environment();
        let uses = template(&env, "Hi {{ from.first_name }}, {{ t('score') }} {{ user.score + 1 }} Don't(x) t(\"no\")")
            .ok()
            .unwrap();
        assert_eq!(uses.reads, ["from.first_name", "t", "user.score"]);
        assert_eq!(uses.text_keys, ["score"]);
        let uses = template(&env, "{% for x in user.items %}{{ loop.index }} {{ x.name }}{% endfor %}").ok().unwrap();
        assert_eq!(uses.reads, ["user.items"]);
        let uses = expression(&env, "user.age >= 18 and t(\"k\") != ''").ok().unwrap();
        assert_eq!(uses.reads, ["t", "user.age"]);
        assert_eq!(uses.text_keys, ["k"]);
        assert!(template(&env, "{{ user.").is_err());
        assert!(expression(&env, "user.age >=").is_err());
    }
}
