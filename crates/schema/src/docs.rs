//! docs/schema.md: the reference of bot files, generated from the same JSON Schema editors use,
//! so it never drifts from the model.

use crate::json_schema;
use serde_json::Value;

/// The hand-written part at the top of docs/schema.md.
const INTRO: &str = r#"# Bot file reference

A Ferrogram bot is a file: YAML (or JSON, by its `.json` extension) that says what the bot
answers, in which scenes, with which texts, buttons, forms and variables. This is the smallest
one, `examples/hello.yaml`:

```yaml
HELLO
```

Check a file with `ferrogram validate bot.yaml`: every problem is listed at once, as
`file:line:column: error: key: message (hint)`, and the command fails when there is an error.

Editors can check and complete bot files as you type: `ferrogram schema > ferrogram.schema.json`
writes the JSON Schema, and a first line `# yaml-language-server: $schema=ferrogram.schema.json`
makes the YAML extension of VS Code (and other editors using yaml-language-server) use it.

Texts are [minijinja](https://docs.rs/minijinja) templates: `Hello, {{ from.first_name }}!`.
They read `from`, `chat`, `message`, `callback`, `command`, `user`, `chat_vars`, `bot`, `form`,
`item`, `result`, `locale`, `match`, `inline`, `roles` (each role's user ids: `roles.admins`),
`error` (inside the `catch` steps of a `try`: `error.message`, `error.kind`), `now` and
the names collection steps give their results with `as` (`query: {collection: shows, as: shows}`);
reading something undefined is an error, and
every `user.…`, `chat_vars.…` and `bot.…` a template reads must be declared under `variables`.
A text that is exactly `@key` is the entry `key` of `texts` in the user's locale; `t("key")` does
the same inside a template. `distance_km(lat1, lon1, lat2, lon2)` is the great-circle distance
between two points, in kilometres to one decimal. `parse_release(title)` splits a release title
(`[SubsPlease] Sousou no Frieren - 05 (1080p) [ABCD1234].mkv`) into `{group, title, episode,
resolution, version, crc}` (a part not found is `none`), and `missing_episodes(last, episode)`
lists the episodes between two releases (`missing_episodes(4, 7)` is `[5, 6]`; `[]` when `last`
is `none`), to detect gaps.

`now` is the current time in UTC (the same for every step of one update or job run): `{timestamp,
tz, iso, date, time, year, month, day, hour, minute, second, weekday, isoweekday}`, with `date`
like `2026-11-21`, `time` like `23:05`, `weekday` like `Saturday` and `isoweekday` 1 (Monday) to 7.
The filter `in_tz("Europe/Berlin")` gives the same for an IANA time zone, and takes `now`, Unix
seconds (`record.created_at`) or an RFC 3339 text (`2026-11-22T02:00:00Z`, as APIs write them):
`{% if (now | in_tz(bot.timezone)).hour >= 23 %}`. The filter `strftime("%a %d %b %H:%M")`
formats any of these with strftime directives, in the time's own zone (UTC for seconds and
texts): `{{ now | in_tz(bot.timezone) | strftime("%A %H:%M") }}`.

A message text sent with a `parse_mode` (`HTML`, `MarkdownV2` or the legacy `Markdown`, set on
the reply or as `bot.parse_mode`) is the bot's markup, but every value a `{{ … }}` inserts into
it is escaped for that mode: `Hi <b>{{ from.first_name }}</b>, you said: {{ message.text }}`
shows a user's `<a href="…">` or `a < b` as the text they typed. Texts of `texts:` (`@key`,
`t("key")`) count as the bot's markup too. To insert a value as markup on purpose (one the bot
made itself, never what a user sent), write `{{ value | raw }}` (`| safe` is the same). Plain
texts, button labels, polls, `set`, `http`, conditions and every other template insert values
as they are.

A scene with `roles: [admins]` is only for those users, whichever way leads there: a `goto`
button, a `goto` or `call` step (even in a handler without `roles`), a `return`, a page of a
list it shows; anyone else is told "Sorry, this is not available to you." and nothing the
handler did is kept (a `try` may catch it as `error.kind` `forbidden`). While a chat (a group)
is in such a scene, its handlers and form answer only those users. A pressed button counts only
if the pressed message, as Telegram delivers it, has a button with exactly that data: a forged
or stale press is answered "This button is no longer valid." and changes nothing.

The rest of this page is generated from the schema (`cargo run -p ferrogram -- schema --markdown
> docs/schema.md`); do not edit it by hand.
"#;

/// The reference of bot files, in Markdown (docs/schema.md): the intro, then every type with its
/// keys. It ends with a newline.
pub fn reference_markdown() -> String {
    let schema = json_schema();
    let hello = include_str!("../../../examples/hello.yaml").trim_end();
    let mut out = INTRO.replace("HELLO", hello);
    let defs = schema.get("$defs").and_then(Value::as_object);
    out.push('\n');
    section(&mut out, "BotFile", &schema);
    if let Some(defs) = defs {
        for (name, def) in defs {
            section(&mut out, name, def);
        }
    }
    let end = out.trim_end().len();
    out.truncate(end);
    out.push('\n');
    out
}

fn anchor(name: &str) -> String {
    name.to_lowercase()
}

fn escape_cell(text: &str) -> String {
    text.split('\n').map(str::trim).collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

fn section(out: &mut String, name: &str, schema: &Value) {
    out.push_str(&format!("## {name}\n\n"));
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        out.push_str(description);
        out.push_str("\n\n");
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        // An externally tagged variant has one key; a struct several.
        out.push_str("| key | type | required | default | description |\n|---|---|---|---|---|\n");
        for (key, property) in properties {
            let required = if required.contains(&key.as_str()) { "yes" } else { "" };
            let default = property.get("default").map(|d| format!("`{}`", d)).unwrap_or_default();
            let description = property.get("description").and_then(Value::as_str).unwrap_or("");
            out.push_str(&format!(
                "| `{key}` | {} | {required} | {} | {} |\n",
                escape_cell(&type_words(property)),
                escape_cell(&default),
                escape_cell(description)
            ));
        }
        out.push('\n');
        if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
            out.push_str("No other keys are allowed.\n\n");
        }
    } else if let Some(branches) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
        let tagged = branches.iter().all(|b| {
            b.get("properties").and_then(Value::as_object).is_some_and(|p| p.len() == 1)
                && b.get("additionalProperties") == Some(&Value::Bool(false))
        });
        if tagged {
            out.push_str("Written as a mapping with exactly one of these keys:\n\n");
            out.push_str("| key | value | description |\n|---|---|---|\n");
            for branch in branches {
                let Some((key, inner)) =
                    branch.get("properties").and_then(Value::as_object).and_then(|p| p.iter().next())
                else {
                    continue;
                };
                let description = branch.get("description").and_then(Value::as_str).unwrap_or("");
                out.push_str(&format!(
                    "| `{key}` | {} | {} |\n",
                    escape_cell(&type_words(inner)),
                    escape_cell(description)
                ));
            }
            out.push('\n');
        } else if let Some(values) = enum_values(schema) {
            out.push_str("One of these values:\n\n");
            for (value, description) in values {
                match description {
                    Some(d) => out.push_str(&format!("- `{value}`: {}\n", d.replace('\n', " "))),
                    None => out.push_str(&format!("- `{value}`\n")),
                }
            }
            out.push('\n');
        } else {
            out.push_str("One of:\n\n");
            for branch in branches {
                let words = type_words(branch);
                match branch.get("description").and_then(Value::as_str) {
                    Some(d) => out.push_str(&format!("- {words}: {}\n", d.replace('\n', " "))),
                    None => out.push_str(&format!("- {words}\n")),
                }
            }
            out.push('\n');
        }
    } else if let Some(values) = enum_values(schema) {
        out.push_str("One of these values:\n\n");
        for (value, _) in values {
            out.push_str(&format!("- `{value}`\n"));
        }
        out.push('\n');
    }
}

/// The values of an enum (split over documented branches or not), with their descriptions.
fn enum_values(schema: &Value) -> Option<Vec<(String, Option<String>)>> {
    let words = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(values.iter().map(|v| (words(v), None)).collect());
    }
    if let Some(c) = schema.get("const") {
        let description = schema.get("description").and_then(Value::as_str).map(str::to_string);
        return Some(vec![(words(c), description)]);
    }
    let branches = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array)?;
    let mut all = Vec::new();
    for branch in branches {
        let mut values = enum_values(branch)?;
        if let (Some(description), [(_, own)]) =
            (branch.get("description").and_then(Value::as_str), values.as_mut_slice())
        {
            own.get_or_insert_with(|| description.to_string());
        }
        all.extend(values);
    }
    Some(all)
}

/// A type in words, with links: "list of [Handler](#handler)".
fn type_words(schema: &Value) -> String {
    if let Some(name) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        return format!("[{name}](#{})", anchor(name));
    }
    if let Some(c) = schema.get("const") {
        return format!("`{c}`");
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let words: Vec<String> = values
            .iter()
            .map(|v| format!("`{}`", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect();
        return format!("one of {}", words.join(", "));
    }
    if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
        let words: Vec<String> =
            branches.iter().filter(|b| b.get("type") != Some(&Value::from("null"))).map(type_words).collect();
        return words.join(" or ");
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        return "any value".into();
    }
    let words: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "array" => match schema.get("items") {
                Some(items) => format!("list of {}", type_words(items)),
                None => "list".into(),
            },
            "object" => match schema.get("additionalProperties") {
                Some(addl) if addl.is_object() => format!("map of names to {}", type_words(addl)),
                _ => "mapping".into(),
            },
            "integer" => match schema.get("minimum").and_then(Value::as_f64) {
                Some(min) if min >= 0.0 => "whole number ≥ 0".into(),
                _ => "whole number".into(),
            },
            "boolean" => "`true` or `false`".into(),
            other => other.to_string(),
        })
        .collect();
    words.join(" or ")
}
