//! Layering the configuration: the built-in default, then the TOML file, then the
//! `FERROGRAM_*` environment variables, then the flags, each key taking the value of the
//! highest layer that sets it. Every problem of every layer is reported, with its place
//! (`file:line:column`, the environment variable, the flag), and nothing is started.

use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::keys::{self, KEYS, Kind, Value};
use super::{Config, Loaded, Source};

/// The values given on the command line, by key.
#[derive(Default)]
pub struct Flags {
    values: Vec<(usize, Value)>,
}

impl Flags {
    /// Sets the key `name` (a programming error if there is no such key or it has no flag).
    pub fn set(&mut self, name: &str, value: Value) {
        let (index, key) = keys::find(name).unwrap_or_else(|| panic!("no configuration key {name}"));
        assert!(key.flag.is_some(), "{name} has no flag");
        self.values.push((index, value));
    }
}

/// One problem with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// `file:line:column`, `environment variable NAME`, `flag --name`, or a file's path.
    pub place: String,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: error: {}", self.place, self.message)
    }
}

/// The effective configuration: the defaults, the file at `file` (if any), the environment as
/// `env` reads it (an empty variable counts as unset), then `flags`. All the problems, if any.
pub fn load(
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    flags: &Flags,
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut config = Config::default();
    let mut sources = vec![Source::Default; KEYS.len()];
    let mut problems = Vec::new();
    if let Some(path) = file {
        read_file(path, &mut config, &mut sources, &mut problems);
    }
    for (index, key) in KEYS.iter().enumerate() {
        let Some(text) = env(key.env).filter(|text| !text.is_empty()) else { continue };
        match key.kind.parse(&text).and_then(|value| key.set(&mut config, value)) {
            Ok(()) => sources[index] = Source::Env(key.env),
            Err(message) => problems.push(Diagnostic {
                place: format!("environment variable {}", key.env),
                message: format!("{}: {message}", key.name),
            }),
        }
    }
    for (index, value) in &flags.values {
        let key = &KEYS[*index];
        let flag = key.flag.unwrap_or_default();
        match key.set(&mut config, value.clone()) {
            Ok(()) => sources[*index] = Source::Flag(flag),
            Err(message) => {
                problems.push(Diagnostic { place: format!("flag {flag}"), message: format!("{}: {message}", key.name) })
            }
        }
    }
    if problems.is_empty() { Ok(Loaded { config, sources }) } else { Err(problems) }
}

/// Reads the TOML file at `path` into `config`: each section a table, each key one of
/// [`KEYS`], each value of its key's type.
fn read_file(path: &Path, config: &mut Config, sources: &mut [Source], problems: &mut Vec<Diagnostic>) {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            problems.push(Diagnostic { place: name, message: format!("cannot read the configuration file: {error}") });
            return;
        }
    };
    let at = |span: std::ops::Range<usize>| {
        let (line, column) = line_column(&text, span.start);
        format!("{name}:{line}:{column}")
    };
    let table = match DeTable::parse(&text) {
        Ok(table) => table.into_inner(),
        Err(error) => {
            let place = error.span().map_or_else(|| name.clone(), &at);
            problems.push(Diagnostic { place, message: error.message().trim().to_owned() });
            return;
        }
    };
    // The parsed tables are in name order: the problems are put back in the file's order.
    let mut found: Vec<(usize, Diagnostic)> = Vec::new();
    let mut problem = |span: std::ops::Range<usize>, message: String| {
        found.push((span.start, Diagnostic { place: at(span), message }))
    };
    let sections = keys::sections();
    for (section, entries) in &table {
        let section_name = section.get_ref().as_ref();
        if !sections.contains(&section_name) {
            let message = format!("unknown section `{section_name}`{}", hint(section_name, sections.iter().copied()));
            problem(section.span(), message);
            continue;
        }
        let DeValue::Table(entries) = entries.get_ref() else {
            let message = format!(
                "`{section_name}` must be a table (`[{section_name}]`), found {}",
                kind_name(entries.get_ref())
            );
            problem(section.span(), message);
            continue;
        };
        let fields = || KEYS.iter().filter(|key| key.section() == section_name).map(|key| key.field());
        for (field, value) in entries {
            let field_name = field.get_ref().as_ref();
            let full = format!("{section_name}.{field_name}");
            let Some((index, key)) = keys::find(&full) else {
                let message = format!("unknown key `{full}`{}", hint(field_name, fields()));
                problem(field.span(), message);
                continue;
            };
            let checked = from_toml(value.get_ref(), key.kind)
                .map_err(|found| format!("expected {}, found {found}", key.ty))
                .and_then(|value| key.set(config, value));
            match checked {
                Ok(()) => {
                    let (line, _) = line_column(&text, field.span().start);
                    sources[index] = Source::File { path: name.clone(), line };
                }
                Err(message) => problem(value.span(), format!("{}: {message}", key.name)),
            }
        }
    }
    found.sort_by_key(|(offset, _)| *offset);
    problems.extend(found.into_iter().map(|(_, diagnostic)| diagnostic));
}

/// The TOML value as a [`Value`] of `kind`, or what it is instead ("a float", …).
fn from_toml(value: &DeValue<'_>, kind: Kind) -> Result<Value, String> {
    match (value, kind) {
        (DeValue::String(text), Kind::Text) => Ok(Value::Text(text.to_string())),
        (DeValue::Boolean(flag), Kind::Bool) => Ok(Value::Bool(*flag)),
        (DeValue::Integer(integer), Kind::Integer) => i64::from_str_radix(integer.as_str(), integer.radix())
            .map(Value::Integer)
            .map_err(|_| "an integer out of range".to_owned()),
        (DeValue::Array(items), Kind::List) => items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(text) => Ok(text.to_string()),
                other => Err(format!("an array holding {}", kind_name(other))),
            })
            .collect::<Result<_, _>>()
            .map(Value::List),
        (other, _) => Err(kind_name(other).to_owned()),
    }
}

fn kind_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// ` (did you mean `x`?)`, or the list of what is allowed when nothing is close.
fn hint<'a>(word: &str, candidates: impl Iterator<Item = &'a str> + Clone) -> String {
    match ferrogram_schema::did_you_mean(word, candidates.clone()) {
        Some(best) => format!(" (did you mean `{best}`?)"),
        None => {
            let all: Vec<String> = candidates.map(|c| format!("`{c}`")).collect();
            format!(" (expected one of: {})", all.join(", "))
        }
    }
}

/// The 1-based line and column (in characters) of the byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn file(text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("ferrogram-config-{}-{}.toml", std::process::id(), next()));
        std::fs::write(&path, text).expect("written");
        path
    }

    /// A number of its own per file, for tests running at once.
    fn next() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    fn errors(text: &str) -> Vec<String> {
        let path = file(text);
        let result = load(Some(&path), |_| None, &Flags::default());
        let _ = std::fs::remove_file(&path);
        let name = path.display().to_string();
        result.expect_err("refused").iter().map(|d| d.to_string().replace(&name, "f.toml")).collect()
    }

    #[test]
    fn a_file_sets_keys_and_says_where() {
        let path =
            file("[sandbox]\nport = 9000\n\n[inbox]\nkeep = \"2h\"\n[http]\nallow_private = [\"localhost:8000\"]\n");
        let loaded = load(Some(&path), |_| None, &Flags::default()).expect("loaded");
        let _ = std::fs::remove_file(&path);
        assert_eq!(loaded.config.sandbox_port, 9000);
        assert_eq!(loaded.config.inbox_keep, Duration::from_secs(7200));
        assert_eq!(loaded.config.http_allow_private, [("localhost".to_owned(), 8000)]);
        let (port, _) = keys::find("sandbox.port").expect("key");
        assert_eq!(loaded.sources[port], Source::File { path: path.display().to_string(), line: 2 });
        let (url, _) = keys::find("database.url").expect("key");
        assert_eq!(loaded.sources[url], Source::Default);
    }

    #[test]
    fn the_environment_beats_the_file_and_flags_beat_both() {
        let path = file("sandbox.port = 9000\nlog.format = \"json\"\n");
        let env = |name: &str| match name {
            "FERROGRAM_SANDBOX_PORT" => Some("9001".to_owned()),
            "FERROGRAM_LOG_FORMAT" => Some("text".to_owned()),
            "FERROGRAM_INBOX_KEEP" => Some(String::new()),
            _ => None,
        };
        let mut flags = Flags::default();
        flags.set("sandbox.port", Value::Integer(9002));
        let loaded = load(Some(&path), env, &flags).expect("loaded");
        let _ = std::fs::remove_file(&path);
        assert_eq!(loaded.config.sandbox_port, 9002);
        assert_eq!(loaded.config.log_format, super::super::LogFormat::Text);
        let source = |name| loaded.sources[keys::find(name).expect("key").0].clone();
        assert_eq!(source("sandbox.port"), Source::Flag("--port"));
        assert_eq!(source("log.format"), Source::Env("FERROGRAM_LOG_FORMAT"));
        assert_eq!(source("inbox.keep"), Source::Default, "an empty variable is unset");
    }

    #[test]
    fn unknown_keys_and_sections_get_a_did_you_mean_at_their_place() {
        assert_eq!(
            errors("[sandbox]\nport = 1\n  prot = 2\n"),
            ["f.toml:3:3: error: unknown key `sandbox.prot` (did you mean `port`?)"]
        );
        assert_eq!(errors("[sandbx]\n"), ["f.toml:1:2: error: unknown section `sandbx` (did you mean `sandbox`?)"]);
        let far = errors("[log]\nzzz = 1\n");
        assert_eq!(far, ["f.toml:2:1: error: unknown key `log.zzz` (expected one of: `format`)"]);
    }

    #[test]
    fn bad_values_say_what_was_expected_at_the_value() {
        assert_eq!(
            errors("[sandbox]\nport = 70000\nflood_limits = \"no\"\n[inbox]\nkeep = \"1 day\"\n"),
            [
                "f.toml:2:8: error: sandbox.port: expected a port (0–65535), found 70000",
                "f.toml:3:16: error: sandbox.flood_limits: expected `true` or `false`, found a string",
                "f.toml:5:8: error: inbox.keep: expected a duration such as `500ms`, `30s`, `10m` or `24h`, found `1 day`",
            ]
        );
        let wildcard = errors("http.allow_private = [\"*:80\"]\n");
        assert!(wildcard[0].starts_with("f.toml:1:22: error: http.allow_private: \"*:80\": wildcards"), "{wildcard:?}");
        let syntax = errors("[sandbox\n");
        assert!(syntax[0].starts_with("f.toml:1:"), "{syntax:?}");
        assert_eq!(
            errors("sandbox = 3\n"),
            ["f.toml:1:1: error: `sandbox` must be a table (`[sandbox]`), found an integer"]
        );
    }

    #[test]
    fn a_bad_environment_variable_is_named() {
        let env = |name: &str| (name == "FERROGRAM_SANDBOX_PORT").then(|| "80a".to_owned());
        let problems = load(None, env, &Flags::default()).expect_err("refused");
        assert_eq!(
            problems[0].to_string(),
            "environment variable FERROGRAM_SANDBOX_PORT: error: sandbox.port: expected an integer, found `80a`"
        );
        let env = |name: &str| (name == "FERROGRAM_DATABASE_URL").then(|| "mysql://u:secret@h/db".to_owned());
        let problems = load(None, env, &Flags::default()).expect_err("refused");
        assert!(!problems[0].to_string().contains("secret"), "{}", problems[0]);
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(line_column("a\nbé c", 6), (2, 4));
        assert_eq!(line_column("abc", 0), (1, 1));
    }
}
