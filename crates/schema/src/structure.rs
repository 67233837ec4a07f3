//! Checking the tree against the JSON Schema of [`crate::BotFile`], reporting every problem at
//! once, and building the JSON value serde then reads.
//!
//! The walker understands the part of JSON Schema that schemars emits for the model: objects with
//! `properties`, `required` and `additionalProperties`, arrays with `items`, `enum` and `const`,
//! `anyOf`/`oneOf` (untagged and externally tagged enums), `$ref` into `$defs`, and the primitive
//! types with integer `format`s.

use crate::source::{Entry, Node, NodeKind, Pos, push_index, push_key, resolve_plain};
use crate::suggest;
use crate::{Diagnostic, Severity};
use serde_json::{Map, Value};
use std::collections::HashMap;

pub struct Walker<'s> {
    defs: Option<&'s Map<String, Value>>,
    pub diagnostics: Vec<Diagnostic>,
    /// For each list that lost items with problems, the indices of the items kept: the value's
    /// `do[0]` may be the file's `do[1]`.
    pub kept: HashMap<String, Vec<usize>>,
    /// Keys an unknown key was probably meant to be (`tets` for `texts`): what they hold is
    /// missing because of an error already reported.
    pub meant: Vec<String>,
}

fn diag(pos: Pos, key: &str, message: String, hint: Option<String>) -> Diagnostic {
    Diagnostic {
        file: String::new(),
        line: pos.line,
        column: pos.column,
        key: key.to_string(),
        message,
        hint,
        severity: Severity::Error,
    }
}

/// What the user wrote, in words: "a list", "the text `hi`".
fn describe_node(node: &Node) -> String {
    fn short(s: &str) -> Option<&str> {
        (s.chars().count() <= 30 && !s.contains('\n')).then_some(s)
    }
    match &node.kind {
        NodeKind::Null => "null".into(),
        NodeKind::Bool(b) => format!("`{b}`"),
        NodeKind::Number(n) => format!("the number `{n}`"),
        NodeKind::String(s) => match short(s) {
            Some(s) => format!("the text `{s}`"),
            None => "a text".into(),
        },
        NodeKind::Plain(s) => match resolve_plain(s) {
            Value::Null if s.is_empty() => "nothing".into(),
            Value::Null => format!("`{s}`"),
            Value::Bool(_) => format!("`{s}`"),
            Value::Number(_) => format!("the number `{s}`"),
            _ => match short(s) {
                Some(s) => format!("the text `{s}`"),
                None => "a text".into(),
            },
        },
        NodeKind::Seq(_) => "a list".into(),
        NodeKind::Map(_) => "a mapping".into(),
    }
}

fn is_null(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Null => true,
        NodeKind::Plain(s) => resolve_plain(s).is_null(),
        _ => false,
    }
}

/// The value a node has with no schema to guide it.
pub fn natural(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Bool(b) => Value::Bool(*b),
        NodeKind::Number(n) => Value::Number(n.clone()),
        NodeKind::String(s) => Value::String(s.clone()),
        NodeKind::Plain(s) => resolve_plain(s),
        NodeKind::Seq(items) => Value::Array(items.iter().map(natural).collect()),
        NodeKind::Map(entries) => Value::Object(entries.iter().map(|e| (e.key.clone(), natural(&e.value))).collect()),
    }
}

/// A scalar's text as the user wrote it, for matching it against enum values.
fn scalar_text(node: &Node) -> Option<String> {
    match &node.kind {
        NodeKind::String(s) | NodeKind::Plain(s) => Some(s.clone()),
        NodeKind::Bool(b) => Some(b.to_string()),
        NodeKind::Number(n) => Some(n.to_string()),
        NodeKind::Null => Some("null".into()),
        NodeKind::Seq(_) | NodeKind::Map(_) => None,
    }
}

fn yaml_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn as_str_list(value: Option<&Value>) -> Vec<&str> {
    value.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// Words for a definition's name: `ButtonList` → "button list".
fn noun(def: &str) -> String {
    match def {
        "Reply" | "ReplySpec" => return "message".into(),
        "AnswerSpec" => return "answer".into(),
        "CommandSpec" => return "command".into(),
        "ForEach" => return "`for_each`".into(),
        "AnswerInline" => return "inline answer".into(),
        "AnyMarker" => return "`any`".into(),
        _ => {}
    }
    let mut words = String::new();
    for (i, c) in def.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            words.push(' ');
        }
        words.extend(c.to_lowercase());
    }
    words
}

fn with_article(words: &str) -> String {
    if words.starts_with('`') || words.ends_with('s') {
        return words.to_string();
    }
    let article = if words.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {words}")
}

fn plural(words: &str) -> String {
    if words.ends_with('s') || words.starts_with('`') { words.to_string() } else { format!("{words}s") }
}

impl<'s> Walker<'s> {
    pub fn new(root: &'s Value) -> Walker<'s> {
        Walker {
            defs: root.get("$defs").and_then(Value::as_object),
            diagnostics: Vec::new(),
            kept: HashMap::new(),
            meant: Vec::new(),
        }
    }

    fn def_name(schema: &Value) -> Option<&str> {
        schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/"))
    }

    /// Follows `$ref`s to the schema that says something.
    fn resolve(&self, mut schema: &'s Value) -> &'s Value {
        for _ in 0..16 {
            match Self::def_name(schema).and_then(|name| self.defs?.get(name)) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn branches(schema: &'s Value) -> Option<&'s Vec<Value>> {
        schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array)
    }

    fn types(schema: &'s Value) -> Vec<&'s str> {
        match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ if schema.get("properties").is_some() => vec!["object"],
            _ => Vec::new(),
        }
    }

    // --------------------------------------------------------------------------------------
    // Words for what a schema expects.

    /// "a list of steps", "a text (a string, or one per locale)", "one of `a`, `b`".
    pub fn describe(&self, schema: &'s Value) -> String {
        self.describe_depth(schema, 0)
    }

    fn describe_depth(&self, schema: &'s Value, depth: usize) -> String {
        if depth > 6 {
            return "a value".into();
        }
        if let Some(name) = Self::def_name(schema) {
            let target = self.resolve(schema);
            let special = match name {
                "Text" => Some("a text (a string, or one string per locale)"),
                "Reply" => Some("a message (a string, or a mapping with `text`, `buttons`…)"),
                "Answer" => Some("an answer (a string, or a mapping with `text` and `alert`)"),
                "Buttons" => Some("buttons (a list of rows of buttons, or a mapping with `from` and `button`)"),
                "Step" => Some("a step (a mapping with one key, like `reply: …`)"),
                _ => None,
            };
            if let Some(special) = special {
                return special.into();
            }
            if target.get("enum").is_some() || target.get("const").is_some() || Self::branches(target).is_some() {
                return self.describe_depth(target, depth + 1);
            }
            return with_article(&noun(name));
        }
        if let Some(c) = schema.get("const") {
            return format!("`{}`", scalar_words(c));
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return one_of_words(values);
        }
        if let Some(branches) = Self::branches(schema) {
            // Enums split over branches (some values documented) read as one enum.
            let mut enum_values = Vec::new();
            if branches.iter().all(|b| self.collect_enum(b, &mut enum_values)) {
                return one_of_words(&enum_values);
            }
            let mut parts: Vec<String> = Vec::new();
            for branch in branches {
                if Self::types(self.resolve(branch)) == ["null"] {
                    continue;
                }
                let words = self.describe_depth(branch, depth + 1);
                if !parts.contains(&words) {
                    parts.push(words);
                }
            }
            return parts.join(" or ");
        }
        let types: Vec<&str> = Self::types(schema).into_iter().filter(|t| *t != "null").collect();
        let words: Vec<String> = types.iter().map(|t| self.describe_type(t, schema, depth)).collect();
        if words.is_empty() { "a value".into() } else { words.join(" or ") }
    }

    fn describe_type(&self, t: &str, schema: &'s Value, depth: usize) -> String {
        match t {
            "string" => "a string".into(),
            "boolean" => "`true` or `false`".into(),
            "number" => "a number".into(),
            "integer" => match schema.get("minimum").and_then(Value::as_f64) {
                Some(min) if min >= 0.0 => "a whole number (0 or more)".into(),
                _ => "a whole number".into(),
            },
            "array" => match schema.get("items") {
                Some(items) => format!("a list of {}", self.plural_of(items, depth)),
                None => "a list".into(),
            },
            "object" => match (schema.get("properties"), schema.get("additionalProperties")) {
                (None, Some(addl)) if addl.is_object() => {
                    format!("a mapping of names to {}", self.plural_of(addl, depth))
                }
                _ => "a mapping".into(),
            },
            other => format!("a {other}"),
        }
    }

    fn plural_of(&self, schema: &'s Value, depth: usize) -> String {
        if let Some(name) = Self::def_name(schema) {
            let target = self.resolve(schema);
            if target.get("enum").is_none() && target.get("const").is_none() {
                return plural(&noun(name));
            }
        }
        let single = self.describe_depth(schema, depth + 1);
        let single = single.strip_prefix("a list of ").map(|rest| format!("lists of {rest}")).unwrap_or(single);
        match single.split_once(' ') {
            Some(("a" | "an", rest)) => match rest.split_once(' ') {
                Some((head, tail)) => format!("{} {tail}", plural(head)),
                None => plural(rest),
            },
            _ => single,
        }
    }

    /// Adds the values of an enum-only schema; false when it is not one.
    fn collect_enum(&self, schema: &'s Value, out: &mut Vec<Value>) -> bool {
        let schema = self.resolve(schema);
        if let Some(c) = schema.get("const") {
            out.push(c.clone());
            return true;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            out.extend(values.iter().cloned());
            return true;
        }
        false
    }

    // --------------------------------------------------------------------------------------
    // The walk.

    /// Checks `node` against `schema`, reporting problems, and returns the value it stands for:
    /// None when it has a problem that leaves nothing usable. Keys and list items with problems
    /// are left out of their mapping or list, so that the rest of a file with errors can still be
    /// read and checked; a mapping that loses a required key is itself unusable.
    pub fn walk(&mut self, schema: &'s Value, node: &Node, path: &str) -> Option<Value> {
        let original = schema;
        let name = Self::def_name(schema);
        let schema = self.resolve(schema);
        if let Some(branches) = Self::branches(schema) {
            return self.walk_branches(original, name, branches, node, path);
        }
        if let Some(c) = schema.get("const") {
            return self.walk_enum(schema, std::slice::from_ref(c), node, path);
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return self.walk_enum(schema, values, node, path);
        }
        let types = Self::types(schema);
        if types.is_empty() {
            return Some(natural(node));
        }
        if types.contains(&"null") && is_null(node) {
            return Some(Value::Null);
        }
        let exact = types.iter().copied().find(|t| matches_exactly(t, node));
        let chosen = exact.or_else(|| match &node.kind {
            // A plain scalar is a text wherever a text is wanted: `reply: 42` says "42".
            NodeKind::Plain(_) if !is_null(node) && types.contains(&"string") => Some("string"),
            NodeKind::Plain(s) if types.contains(&"boolean") && yaml_bool(s).is_some() => Some("boolean"),
            _ => None,
        });
        match chosen {
            Some(t) => self.walk_type(t, schema, node, path),
            None => {
                self.mismatch(original, node, path);
                None
            }
        }
    }

    fn mismatch(&mut self, schema: &'s Value, node: &Node, path: &str) {
        let expected = if path.is_empty() {
            "a bot file (a mapping that starts with `ferrogram: 1`)".to_string()
        } else {
            self.describe(schema)
        };
        let mut hint = None;
        let resolved = self.resolve(schema);
        let some_text = Node { pos: node.pos, kind: NodeKind::String("…".into()) };
        if Self::types(resolved).contains(&"array")
            && let Some(items) = resolved.get("items")
            && self.accepts(items, node)
            && !matches!(node.kind, NodeKind::Seq(_))
        {
            hint = Some("make it a list: put `- ` before it".to_string());
        } else if is_null(node) && self.accepts(schema, &some_text) {
            hint = Some(match &node.kind {
                NodeKind::Plain(s) if !s.is_empty() => format!("write \"{s}\" in quotes to mean the text"),
                _ => "write the value after the colon".into(),
            });
        }
        self.diagnostics.push(diag(node.pos, path, format!("expected {expected}, got {}", describe_node(node)), hint));
    }

    fn walk_type(&mut self, t: &str, schema: &'s Value, node: &Node, path: &str) -> Option<Value> {
        match t {
            "object" => match &node.kind {
                NodeKind::Map(entries) => self.walk_object(schema, entries, node, path),
                _ => None,
            },
            "array" => match &node.kind {
                NodeKind::Seq(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    let mut kept = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let p = push_index(path, i);
                        let value = match schema.get("items") {
                            Some(items_schema) => self.walk(items_schema, item, &p),
                            None => Some(natural(item)),
                        };
                        if let Some(value) = value {
                            out.push(value);
                            kept.push(i);
                        }
                    }
                    if kept.len() < items.len() {
                        self.kept.insert(path.to_string(), kept);
                    }
                    Some(Value::Array(out))
                }
                _ => None,
            },
            "string" => match &node.kind {
                NodeKind::String(s) | NodeKind::Plain(s) => Some(Value::String(s.clone())),
                _ => None,
            },
            "boolean" => match &node.kind {
                NodeKind::Bool(b) => Some(Value::Bool(*b)),
                NodeKind::Plain(s) => yaml_bool(s).map(Value::Bool),
                _ => None,
            },
            "integer" | "number" => {
                let number = match &node.kind {
                    NodeKind::Number(n) => Some(n.clone()),
                    NodeKind::Plain(s) => match resolve_plain(s) {
                        Value::Number(n) => Some(n),
                        _ => None,
                    },
                    _ => None,
                };
                let number = number?;
                if t == "integer" && !self.check_integer(schema, &number, node, path) {
                    return None;
                }
                Some(Value::Number(number))
            }
            _ => Some(natural(node)),
        }
    }

    /// Whether a number fits an integer schema (reported when it does not).
    fn check_integer(&mut self, schema: &'s Value, number: &serde_json::Number, node: &Node, path: &str) -> bool {
        let (mut low, mut high): (i128, i128) = match schema.get("format").and_then(Value::as_str) {
            Some("uint8") => (0, u8::MAX.into()),
            Some("uint16") => (0, u16::MAX.into()),
            Some("uint32") => (0, u32::MAX.into()),
            Some("uint64" | "uint") => (0, u64::MAX.into()),
            Some("int8") => (i8::MIN.into(), i8::MAX.into()),
            Some("int16") => (i16::MIN.into(), i16::MAX.into()),
            Some("int32") => (i32::MIN.into(), i32::MAX.into()),
            _ => (i64::MIN.into(), u64::MAX.into()),
        };
        if let Some(min) = schema.get("minimum").and_then(Value::as_i64) {
            low = low.max(min.into());
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_i64) {
            high = high.min(max.into());
        }
        let value: Option<i128> = number.as_i64().map(i128::from).or_else(|| number.as_u64().map(i128::from));
        let message = match value {
            None => format!("expected a whole number, got the number `{number}`"),
            Some(v) if v < low || v > high => {
                format!("expected a whole number from {low} to {high}, got `{number}`")
            }
            Some(_) => return true,
        };
        self.diagnostics.push(diag(node.pos, path, message, None));
        false
    }

    fn walk_object(&mut self, schema: &'s Value, entries: &[Entry], node: &Node, path: &str) -> Option<Value> {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let required = as_str_list(schema.get("required"));
        let mut out = Map::new();
        let mut usable = true;
        // Keys that unknown keys were probably meant to be: not reported again as missing.
        let mut meant: Vec<&str> = Vec::new();
        for entry in entries {
            let p = push_key(path, &entry.key);
            if let Some(property) = properties.and_then(|props| props.get(&entry.key)) {
                match self.walk(property, &entry.value, &p) {
                    Some(value) => {
                        out.insert(entry.key.clone(), value);
                    }
                    None => usable &= !required.contains(&entry.key.as_str()),
                }
                continue;
            }
            match additional {
                Some(Value::Bool(false)) => {
                    let known: Vec<&str> =
                        properties.map(|props| props.keys().map(String::as_str).collect()).unwrap_or_default();
                    if let Some(best) = suggest::did_you_mean(&entry.key, known.iter().copied()) {
                        self.meant.push(push_key(path, best));
                        meant.push(best);
                    }
                    let hint = suggest::hint(&entry.key, known.iter().copied());
                    self.diagnostics.push(diag(entry.key_pos, &p, format!("unknown key `{}`", entry.key), hint));
                }
                Some(additional @ Value::Object(_)) => {
                    if let Some(value) = self.walk(additional, &entry.value, &p) {
                        out.insert(entry.key.clone(), value);
                    }
                }
                _ => {
                    out.insert(entry.key.clone(), natural(&entry.value));
                }
            }
        }
        for required in required {
            if entries.iter().any(|e| e.key == required) {
                continue;
            }
            usable = false;
            if meant.contains(&required) {
                continue;
            }
            let hint = properties
                .and_then(|props| props.get(required))
                .map(|property| format!("add `{required}:` with {}", self.describe(property)));
            self.diagnostics.push(diag(node.pos, &push_key(path, required), format!("missing key `{required}`"), hint));
        }
        usable.then_some(Value::Object(out))
    }

    fn walk_enum(&mut self, schema: &'s Value, values: &[Value], node: &Node, path: &str) -> Option<Value> {
        let natural_value = natural(node);
        if let Some(found) = values.iter().find(|v| **v == natural_value) {
            return Some(found.clone());
        }
        let text = scalar_text(node);
        if let Some(text) = &text
            && let Some(found) = values.iter().find(|v| v.as_str() == Some(text.as_str()))
        {
            return Some(found.clone());
        }
        let words: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        if path == "ferrogram" {
            let (message, hint) = match (&node.kind, &text) {
                (NodeKind::String(_), _) => {
                    ("the schema version is a number, not a text".to_string(), "write `ferrogram: 1`")
                }
                (_, Some(text)) => {
                    (format!("unsupported schema version `{text}`"), "this Ferrogram reads `ferrogram: 1`")
                }
                (_, None) => {
                    (format!("expected the schema version, got {}", describe_node(node)), "write `ferrogram: 1`")
                }
            };
            self.diagnostics.push(diag(node.pos, path, message, Some(hint.into())));
            return None;
        }
        let (message, hint) = match &text {
            Some(text)
                if matches!(node.kind, NodeKind::String(_) | NodeKind::Plain(_))
                    && !is_null(node)
                    && !words.is_empty() =>
            {
                (format!("unknown value `{text}`"), suggest::hint(text, words.iter().copied()))
            }
            _ => (format!("expected {}, got {}", self.describe(schema), describe_node(node)), None),
        };
        self.diagnostics.push(diag(node.pos, path, message, hint));
        None
    }

    /// Whether a schema could take this kind of node (without looking inside it).
    fn accepts(&self, schema: &'s Value, node: &Node) -> bool {
        self.accepts_depth(schema, node, 0)
    }

    fn accepts_depth(&self, schema: &'s Value, node: &Node, depth: usize) -> bool {
        let schema = self.resolve(schema);
        if depth > 8 {
            return true;
        }
        if let Some(branches) = Self::branches(schema) {
            return branches.iter().any(|b| self.accepts_depth(b, node, depth + 1));
        }
        if schema.get("enum").is_some() || schema.get("const").is_some() {
            return !matches!(node.kind, NodeKind::Seq(_) | NodeKind::Map(_)) && !is_null(node);
        }
        let types = Self::types(schema);
        if types.is_empty() {
            return true;
        }
        types.iter().any(|t| match *t {
            "null" => is_null(node),
            "string" => {
                matches!(node.kind, NodeKind::String(_)) || (matches!(node.kind, NodeKind::Plain(_)) && !is_null(node))
            }
            "boolean" => match &node.kind {
                NodeKind::Bool(_) => true,
                NodeKind::Plain(s) => yaml_bool(s).is_some(),
                _ => false,
            },
            other => matches_exactly(other, node),
        })
    }

    fn walk_branches(
        &mut self,
        schema: &'s Value,
        name: Option<&str>,
        branches: &'s [Value],
        node: &Node,
        path: &str,
    ) -> Option<Value> {
        // Enums whose values are split over branches: one enum.
        let mut enum_values = Vec::new();
        if branches.iter().all(|b| self.collect_enum(b, &mut enum_values)) {
            return self.walk_enum(schema, &enum_values, node, path);
        }
        if is_null(node) && branches.iter().any(|b| Self::types(self.resolve(b)) == ["null"]) {
            return Some(Value::Null);
        }
        if let Some(tags) = self.tags(branches) {
            return self.walk_tagged(name, &tags, node, path);
        }
        let candidates: Vec<&'s Value> = branches.iter().filter(|b| self.accepts(b, node)).collect();
        match candidates.as_slice() {
            [] => {
                self.mismatch(schema, node, path);
                None
            }
            [only] => self.walk(only, node, path),
            _ => {
                // Try each; keep the first that fits, or the one that fits best.
                let keys: Vec<&str> = match &node.kind {
                    NodeKind::Map(entries) => entries.iter().map(|e| e.key.as_str()).collect(),
                    _ => Vec::new(),
                };
                type Trial = (Option<Value>, Vec<Diagnostic>, HashMap<String, Vec<usize>>);
                let mut best: Option<(usize, usize, Trial)> = None;
                for candidate in candidates {
                    let saved = (std::mem::take(&mut self.diagnostics), std::mem::take(&mut self.kept));
                    let value = self.walk(candidate, node, path);
                    let found = std::mem::replace(&mut self.diagnostics, saved.0);
                    let kept = std::mem::replace(&mut self.kept, saved.1);
                    let errors = found.iter().filter(|d| d.severity == Severity::Error).count();
                    if errors == 0 {
                        self.diagnostics.extend(found);
                        self.kept.extend(kept);
                        return value;
                    }
                    let properties = self.resolve(candidate).get("properties").and_then(Value::as_object);
                    let unknown = keys.iter().filter(|k| !properties.is_some_and(|p| p.contains_key(**k))).count();
                    let better = match &best {
                        None => true,
                        Some((u, e, _)) => (unknown, errors) < (*u, *e),
                    };
                    if better {
                        best = Some((unknown, errors, (value, found, kept)));
                    }
                }
                let (_, _, (value, found, kept)) = best?;
                self.diagnostics.extend(found);
                self.kept.extend(kept);
                value
            }
        }
    }

    /// For an externally tagged enum (every branch a mapping with one required key), the tags and
    /// the schema of each tag's value.
    fn tags(&self, branches: &'s [Value]) -> Option<Vec<(&'s str, &'s Value)>> {
        let mut tags = Vec::new();
        for branch in branches {
            let branch = self.resolve(branch);
            let properties = branch.get("properties").and_then(Value::as_object)?;
            let required = as_str_list(branch.get("required"));
            if properties.len() != 1
                || required.len() != 1
                || branch.get("additionalProperties") != Some(&Value::Bool(false))
            {
                return None;
            }
            let (tag, inner) = properties.iter().next()?;
            if required[0] != tag {
                return None;
            }
            tags.push((tag.as_str(), inner));
        }
        (!tags.is_empty()).then_some(tags)
    }

    fn walk_tagged(
        &mut self,
        name: Option<&str>,
        tags: &[(&'s str, &'s Value)],
        node: &Node,
        path: &str,
    ) -> Option<Value> {
        let what = noun(name.unwrap_or("Variant"));
        let names: Vec<&str> = tags.iter().map(|(t, _)| *t).collect();
        let entries = match &node.kind {
            NodeKind::Map(entries) => entries,
            _ => {
                let text = scalar_text(node);
                let hint = match text.as_deref() {
                    Some(t) if names.contains(&t) => {
                        let inner = tags.iter().find(|(tag, _)| *tag == t).map(|(_, s)| *s);
                        match inner.map(|s| self.describe(s)) {
                            Some(words) if words == "`any`" => Some(format!("write `{t}: any`")),
                            Some(words) => Some(format!("write `{t}: ` followed by {words}")),
                            None => None,
                        }
                    }
                    Some(t) if !is_null(node) => suggest::did_you_mean(t, names.iter().copied())
                        .map(|best| format!("a {what} is written `{best}: …`")),
                    _ => None,
                };
                let message = format!(
                    "expected {} (a mapping with one key, like `{}: …`), got {}",
                    with_article(&what),
                    names[0],
                    describe_node(node)
                );
                self.diagnostics.push(diag(
                    node.pos,
                    path,
                    message,
                    hint.or_else(|| suggest::one_of(names.iter().copied())),
                ));
                return None;
            }
        };
        let present: Vec<&Entry> = entries.iter().filter(|e| names.contains(&e.key.as_str())).collect();
        let Some(first) = present.first() else {
            if entries.is_empty() {
                self.diagnostics.push(diag(
                    node.pos,
                    path,
                    format!("empty {what}"),
                    suggest::one_of(names.iter().copied()),
                ));
            }
            for entry in entries {
                self.diagnostics.push(diag(
                    entry.key_pos,
                    &push_key(path, &entry.key),
                    format!("unknown {what} `{}`", entry.key),
                    suggest::hint(&entry.key, names.iter().copied()),
                ));
            }
            return None;
        };
        for extra in present.iter().skip(1) {
            self.diagnostics.push(diag(
                extra.key_pos,
                &push_key(path, &extra.key),
                format!("a {what} has one key, but this one has `{}` and `{}`", first.key, extra.key),
                Some(format!("start a new {what} with `- ` before `{}`", extra.key)),
            ));
        }
        let inner = tags.iter().find(|(t, _)| *t == first.key).map(|(_, s)| *s);
        for entry in entries {
            if names.contains(&entry.key.as_str()) {
                continue;
            }
            let belongs_inside = inner.is_some_and(|s| self.has_property(s, &entry.key, 0));
            let hint = if belongs_inside {
                Some(format!("indent `{}` under `{}`: it belongs to the {}", entry.key, first.key, first.key))
            } else {
                suggest::did_you_mean(&entry.key, names.iter().copied())
                    .map(|best| format!("did you mean `{best}`? A new {what} starts with `- `"))
            };
            self.diagnostics.push(diag(
                entry.key_pos,
                &push_key(path, &entry.key),
                format!("unexpected key `{}`: a {what} has exactly one key", entry.key),
                hint,
            ));
        }
        // The step as its one key says, when that is usable (extra keys are left out).
        let value = self.walk(inner?, &first.value, &push_key(path, &first.key))?;
        let mut out = Map::new();
        out.insert(first.key.clone(), value);
        Some(Value::Object(out))
    }

    /// Whether a schema (or one of its branches) is a mapping with this key.
    fn has_property(&self, schema: &'s Value, key: &str, depth: usize) -> bool {
        let schema = self.resolve(schema);
        if depth > 4 {
            return false;
        }
        if let Some(branches) = Self::branches(schema) {
            return branches.iter().any(|b| self.has_property(b, key, depth + 1));
        }
        schema.get("properties").and_then(Value::as_object).is_some_and(|p| p.contains_key(key))
    }
}

fn matches_exactly(t: &str, node: &Node) -> bool {
    let plain = match &node.kind {
        NodeKind::Plain(s) => Some(resolve_plain(s)),
        _ => None,
    };
    match t {
        "object" => matches!(node.kind, NodeKind::Map(_)),
        "array" => matches!(node.kind, NodeKind::Seq(_)),
        "string" => matches!(node.kind, NodeKind::String(_)) || matches!(plain, Some(Value::String(_))),
        "boolean" => matches!(node.kind, NodeKind::Bool(_)) || matches!(plain, Some(Value::Bool(_))),
        "integer" | "number" => matches!(node.kind, NodeKind::Number(_)) || matches!(plain, Some(Value::Number(_))),
        "null" => is_null(node),
        _ => false,
    }
}

fn scalar_words(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn one_of_words(values: &[Value]) -> String {
    let words: Vec<String> = values.iter().map(|v| format!("`{}`", scalar_words(v))).collect();
    match words.as_slice() {
        [one] => one.clone(),
        _ => format!("one of {}", words.join(", ")),
    }
}
