//! `ferrogram config`: the effective configuration as a TOML file, each value followed by where
//! it came from, secrets masked.

use super::keys::{KEYS, Value};
use super::{Loaded, redact};

/// The effective configuration as TOML; `file` is the configuration file read, if any.
pub fn effective(loaded: &Loaded, file: Option<&std::path::Path>) -> String {
    let mut out =
        String::from("# The effective configuration of `ferrogram serve`: after each value, where it came from\n");
    match file {
        Some(path) => out.push_str(&format!("# (configuration file: {}).\n", path.display())),
        None => out.push_str("# (no configuration file: --config PATH or FERROGRAM_CONFIG).\n"),
    }
    let mut section = "";
    for (key, source) in KEYS.iter().zip(&loaded.sources) {
        if key.section() != section {
            section = key.section();
            out.push_str(&format!("\n[{section}]\n"));
        }
        let mut value = key.get(&loaded.config);
        if key.secret
            && let Value::Text(text) = &value
        {
            value = Value::Text(redact(text));
        }
        out.push_str(&format!("{} = {}  # {}\n", key.field(), toml_value(&value), source));
    }
    out
}

/// A value written as TOML.
pub fn toml_value(value: &Value) -> String {
    match value {
        Value::Text(text) => toml_string(text),
        Value::Integer(n) => n.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::List(items) => {
            format!("[{}]", items.iter().map(|item| toml_string(item)).collect::<Vec<_>>().join(", "))
        }
    }
}

/// A TOML basic string: quoted, with `"`, `\` and control characters escaped.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Source};

    #[test]
    fn strings_are_escaped_for_toml() {
        assert_eq!(toml_string("a\"b\\c\u{7f}"), "\"a\\\"b\\\\c\\u007F\"");
        assert_eq!(toml_value(&Value::List(vec!["[::1]:9000".into(), "x:1".into()])), "[\"[::1]:9000\", \"x:1\"]");
    }

    #[test]
    fn the_output_is_toml_with_the_password_masked() {
        let mut loaded = Loaded { config: Config::default(), sources: vec![Source::Default; KEYS.len()] };
        loaded.config.database_url = "postgres://bob:s3cret@db/app".into();
        loaded.sources[0] = Source::Env("FERROGRAM_DATABASE_URL");
        let text = effective(&loaded, None);
        assert!(text.contains("url = \"postgres://bob:***@db/app\"  # env FERROGRAM_DATABASE_URL\n"), "{text}");
        assert!(!text.contains("s3cret"));
        assert!(toml::de::DeTable::parse(&text).is_ok(), "{text}");
    }
}
