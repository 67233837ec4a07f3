//! Parsing a bot file (YAML or JSON) into a [`Node`] tree that keeps the line and column of every
//! key and value. Scalars of YAML keep their text until the schema says what type is wanted
//! (`reply: 42` is the text "42", `ferrogram: 1` the number 1).

use crate::{Diagnostic, Severity};
use serde_json::{Number, Value};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span, Tag};
use std::collections::HashMap;

/// Deepest nesting accepted; real bot files stay far below it, and it keeps every recursive
/// walk over the tree (and over the JSON value made from it) shallow.
pub const MAX_DEPTH: usize = 64;
/// Most values a file may hold once aliases are expanded.
pub const MAX_NODES: usize = 200_000;
/// Largest bot file read, in bytes (8 MiB: the largest example is 24 KB). Reading stops one byte
/// past it, so an endless file (`/dev/zero`) or a huge one fails at once, with little memory.
pub const MAX_FILE_BYTES: usize = 8 << 20;

/// Why a file over [`MAX_FILE_BYTES`] is refused.
pub fn too_large() -> String {
    format!("the bot file is larger than {} MiB (the bot file size cap)", MAX_FILE_BYTES >> 20)
}

/// Reads the bot file at `path` as text, refusing one over [`MAX_FILE_BYTES`] after reading
/// at most one byte more. The error is the diagnostic's message.
pub fn read(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read the file: {e}");
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| "cannot read the file: it is not UTF-8 text".into())
}

/// A line and column, both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A value with where it starts.
#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

/// What a [`Node`] holds: a scalar (as it was written), a list or a mapping.
#[derive(Debug, Clone)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Number(Number),
    /// A JSON string, or a quoted, block or `!!str` YAML scalar.
    String(String),
    /// A plain YAML scalar: its type depends on what the schema expects there.
    Plain(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// What a plain YAML scalar means on its own (YAML 1.2 core schema).
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    parse_number(text).map(Value::Number).unwrap_or_else(|| Value::String(text.to_string()))
}

/// A YAML 1.2 core-schema number, or None.
pub fn parse_number(text: &str) -> Option<Number> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1i128, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() {
        return None;
    }
    let radix = if digits.starts_with("0x") {
        Some(16)
    } else if digits.starts_with("0o") {
        Some(8)
    } else {
        None
    };
    if let Some(radix) = radix {
        if sign < 0 || text.starts_with('+') {
            return None;
        }
        let body = &digits[2..];
        if body.is_empty() {
            return None;
        }
        return u64::from_str_radix(body, radix).ok().map(Number::from);
    }
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = digits.parse::<u64>() {
            if sign > 0 {
                return Some(Number::from(n));
            }
            if let Ok(i) = i64::try_from(-(n as i128)) {
                return Some(Number::from(i));
            }
        }
        // Too large for 64 bits: a float, as YAML readers do.
        return text.parse::<f64>().ok().and_then(Number::from_f64);
    }
    if is_float_syntax(digits) {
        return text.parse::<f64>().ok().and_then(Number::from_f64);
    }
    None
}

/// `[0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)?` with at least one digit before the exponent.
fn is_float_syntax(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut mantissa_digits = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == bytes.len()
}

/// What a parse produced: the root (None when the file could not be read as a whole) and the
/// problems found on the way.
pub struct Parsed {
    pub root: Option<Node>,
    pub diagnostics: Vec<Diagnostic>,
}

fn diag(pos: Pos, key: &str, message: impl Into<String>, hint: Option<String>) -> Diagnostic {
    Diagnostic {
        file: String::new(),
        line: pos.line,
        column: pos.column,
        key: key.to_string(),
        message: message.into(),
        hint,
        severity: Severity::Error,
    }
}

// ---------------------------------------------------------------------------------------------
// YAML

fn pos_of(span: &Span) -> Pos {
    Pos { line: span.start.line().max(1), column: span.start.col() + 1 }
}

enum Frame {
    Seq {
        path: String,
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        size: usize,
        depth: usize,
    },
    Map {
        path: String,
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<PendingKey>,
        merges: Vec<Node>,
        size: usize,
        depth: usize,
    },
}

struct PendingKey {
    text: String,
    pos: Pos,
    /// `<<` written plainly: a merge key.
    merge: bool,
    /// The key was not a scalar; its entry is dropped (already reported).
    invalid: bool,
}

/// A finished node with its size (nodes inside, itself included) and depth (1 for a scalar).
struct Done {
    node: Node,
    size: usize,
    depth: usize,
    plain: bool,
}

struct YamlBuilder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize, usize)>,
    root: Option<Node>,
    total: usize,
    /// Whether an anchor or alias counted towards `total` (then too many values may come from
    /// aliases expanding).
    aliased: bool,
    diagnostics: Vec<Diagnostic>,
}

/// Why building had to stop.
struct Fatal(Diagnostic);

impl YamlBuilder {
    /// The path of the node being read (for a key: its mapping's).
    fn here(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq { path, items, .. }) => push_index(path, items.len()),
            Some(Frame::Map { path, key: Some(k), .. }) if !k.invalid && !k.merge => push_key(path, &k.text),
            Some(Frame::Map { path, .. }) => path.clone(),
        }
    }

    fn finish_node(&mut self, done: Done, anchor: usize) -> Result<(), Fatal> {
        let here = self.here();
        if anchor != 0 {
            // The copy kept for aliases counts too, so anchors cannot multiply memory.
            self.aliased = true;
            self.count(done.size, done.node.pos)?;
            self.anchors.insert(anchor, (done.node.clone(), done.size, done.depth));
        }
        let parent_depth = self.stack.len();
        if parent_depth + done.depth > MAX_DEPTH {
            return Err(Fatal(diag(
                done.node.pos,
                "",
                format!("the file nests values more than {MAX_DEPTH} levels deep"),
                None,
            )));
        }
        let Some(top) = self.stack.last_mut() else {
            if self.root.is_none() {
                self.root = Some(done.node);
            }
            return Ok(());
        };
        match top {
            Frame::Seq { items, size, depth, .. } => {
                *size += done.size;
                *depth = (*depth).max(done.depth + 1);
                items.push(done.node);
            }
            Frame::Map { entries, key, merges, size, depth, .. } => {
                *size += done.size;
                *depth = (*depth).max(done.depth + 1);
                match key.take() {
                    None => {
                        let (text, invalid) = match &done.node.kind {
                            NodeKind::Plain(s) | NodeKind::String(s) => (s.clone(), false),
                            NodeKind::Null => ("null".to_string(), false),
                            NodeKind::Bool(b) => (b.to_string(), false),
                            NodeKind::Number(n) => (n.to_string(), false),
                            NodeKind::Seq(_) | NodeKind::Map(_) => {
                                self.diagnostics.push(diag(
                                    done.node.pos,
                                    &here,
                                    "a key must be a single value, not a list or a mapping",
                                    None,
                                ));
                                (String::new(), true)
                            }
                        };
                        let merge = done.plain && text == "<<";
                        *key = Some(PendingKey { text, pos: done.node.pos, merge, invalid });
                    }
                    Some(k) if k.invalid => {}
                    Some(k) if k.merge => merges.push(done.node),
                    Some(k) => entries.push(Entry { key: k.text, key_pos: k.pos, value: done.node }),
                }
            }
        }
        Ok(())
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), Fatal> {
        self.total = self.total.saturating_add(n);
        if self.total > MAX_NODES {
            let why = if self.aliased { " (are aliases expanding too much?)" } else { "" };
            return Err(Fatal(diag(pos, "", format!("the file holds more than {MAX_NODES} values{why}"), None)));
        }
        Ok(())
    }

    fn scalar(&mut self, text: String, style: ScalarStyle, tag: Option<&Tag>, pos: Pos) -> Node {
        let plain = matches!(style, ScalarStyle::Plain);
        let here = self.here();
        let kind = match tag {
            None if plain => NodeKind::Plain(text),
            None => NodeKind::String(text),
            Some(tag) => match tag.core_suffix() {
                Some("str") => NodeKind::String(text),
                Some("null") => NodeKind::Null,
                Some("bool") => match resolve_plain(&text) {
                    Value::Bool(b) => NodeKind::Bool(b),
                    _ => {
                        self.diagnostics.push(diag(pos, &here, format!("`{text}` is not true or false"), None));
                        NodeKind::String(text)
                    }
                },
                Some("int") | Some("float") => match parse_number(&text) {
                    Some(n) => NodeKind::Number(n),
                    None => {
                        self.diagnostics.push(diag(pos, &here, format!("`{text}` is not a number"), None));
                        NodeKind::String(text)
                    }
                },
                _ => {
                    self.diagnostics.push(diag(
                        pos,
                        &here,
                        format!("unsupported tag `{}{}`", tag.original_handle(), tag.suffix()),
                        Some("remove the tag; bot files use plain YAML values".into()),
                    ));
                    if plain { NodeKind::Plain(text) } else { NodeKind::String(text) }
                }
            },
        };
        Node { pos, kind }
    }

    fn check_collection_tag(&mut self, tag: Option<&Tag>, pos: Pos, expected: &str) {
        if let Some(tag) = tag
            && tag.core_suffix() != Some(expected)
        {
            let here = self.here();
            self.diagnostics.push(diag(
                pos,
                &here,
                format!("unsupported tag `{}{}`", tag.original_handle(), tag.suffix()),
                Some("remove the tag; bot files use plain YAML values".into()),
            ));
        }
    }

    fn end_map(&mut self) -> Result<(), Fatal> {
        let Some(Frame::Map { path, pos, anchor, mut entries, key, merges, size, depth }) = self.stack.pop() else {
            return Ok(());
        };
        if let Some(k) = key
            && !k.invalid
        {
            // A key without a value cannot come from the parser, but be safe.
            entries.push(Entry { key: k.text, key_pos: k.pos, value: Node { pos: k.pos, kind: NodeKind::Null } });
        }
        // Duplicate keys: report, keep the first.
        let mut seen: HashMap<String, Pos> = HashMap::new();
        let mut kept = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Some(first) = seen.get(&entry.key) {
                self.diagnostics.push(diag(
                    entry.key_pos,
                    &push_key(&path, &entry.key),
                    format!("duplicate key `{}`", entry.key),
                    Some(format!("it is already set at line {}", first.line)),
                ));
                continue;
            }
            seen.insert(entry.key.clone(), entry.key_pos);
            kept.push(entry);
        }
        // Merge keys (`<<: *defaults`): entries the mapping does not set itself.
        for merge in merges {
            let sources = match merge.kind {
                NodeKind::Map(m) => vec![m],
                NodeKind::Seq(items) => {
                    let mut maps = Vec::new();
                    for item in items {
                        match item.kind {
                            NodeKind::Map(m) => maps.push(m),
                            _ => self.diagnostics.push(diag(item.pos, &path, "`<<` merges mappings only", None)),
                        }
                    }
                    maps
                }
                _ => {
                    self.diagnostics.push(diag(
                        merge.pos,
                        &path,
                        "`<<` merges a mapping",
                        Some("write `<<: *name` with an anchored mapping `&name`".into()),
                    ));
                    Vec::new()
                }
            };
            for source in sources {
                for entry in source {
                    if !seen.contains_key(&entry.key) {
                        seen.insert(entry.key.clone(), entry.key_pos);
                        kept.push(entry);
                    }
                }
            }
        }
        let done = Done { node: Node { pos, kind: NodeKind::Map(kept) }, size, depth, plain: false };
        self.finish_node(done, anchor)
    }

    fn end_seq(&mut self) -> Result<(), Fatal> {
        let Some(Frame::Seq { pos, anchor, items, size, depth, .. }) = self.stack.pop() else {
            return Ok(());
        };
        let done = Done { node: Node { pos, kind: NodeKind::Seq(items) }, size, depth, plain: false };
        self.finish_node(done, anchor)
    }

    fn event(&mut self, event: Event<'_>, span: &Span, documents: &mut usize) -> Result<bool, Fatal> {
        let pos = pos_of(span);
        match event {
            Event::DocumentStart(..) => {
                *documents += 1;
                if *documents > 1 {
                    return Ok(false);
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, pos)?;
                let plain = matches!(style, ScalarStyle::Plain) && tag.is_none();
                let mut text = text.into_owned();
                if plain && span.start.index() == span.end.index() {
                    // An empty value (`key:` and nothing after it); the parser calls it `~`.
                    text.clear();
                }
                let node = self.scalar(text, style, tag.as_deref(), pos);
                self.finish_node(Done { node, size: 1, depth: 1, plain }, anchor)?;
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.count(1, pos)?;
                self.check_collection_tag(tag.as_deref(), pos, "seq");
                let path = self.here();
                self.push_frame(Frame::Seq { path, pos, anchor, items: Vec::new(), size: 1, depth: 1 }, pos)?;
            }
            Event::MappingStart(_, anchor, tag) => {
                self.count(1, pos)?;
                self.check_collection_tag(tag.as_deref(), pos, "map");
                let frame = Frame::Map {
                    path: self.here(),
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    merges: Vec::new(),
                    size: 1,
                    depth: 1,
                };
                self.push_frame(frame, pos)?;
            }
            Event::SequenceEnd => self.end_seq()?,
            Event::MappingEnd => self.end_map()?,
            Event::Alias(id) => {
                let (node, size, depth) = match self.anchors.get(&id) {
                    Some((node, size, depth)) => (node.clone(), *size, *depth),
                    None => {
                        let here = self.here();
                        self.diagnostics.push(diag(pos, &here, "this alias refers to a value that contains it", None));
                        (Node { pos, kind: NodeKind::Null }, 1, 1)
                    }
                };
                self.aliased = true;
                self.count(size, pos)?;
                let node = Node { pos, kind: node.kind };
                self.finish_node(Done { node, size, depth, plain: false }, 0)?;
            }
            _ => {}
        }
        Ok(true)
    }

    fn push_frame(&mut self, frame: Frame, pos: Pos) -> Result<(), Fatal> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Fatal(diag(pos, "", format!("the file nests values more than {MAX_DEPTH} levels deep"), None)));
        }
        self.stack.push(frame);
        Ok(())
    }
}

/// Parses YAML into a tree.
pub fn parse_yaml(source: &str) -> Parsed {
    let mut builder = YamlBuilder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        total: 0,
        aliased: false,
        diagnostics: Vec::new(),
    };
    let mut documents = 0usize;
    for next in Parser::new_from_str(source) {
        match next {
            Ok((event, span)) => match builder.event(event, &span, &mut documents) {
                Ok(true) => {}
                Ok(false) => {
                    builder.diagnostics.push(diag(
                        pos_of(&span),
                        "",
                        "a bot file holds one YAML document; this starts a second one",
                        Some("remove the `---` line and what follows, or put that bot in its own file".into()),
                    ));
                    break;
                }
                Err(Fatal(d)) => {
                    builder.diagnostics.push(d);
                    return Parsed { root: None, diagnostics: builder.diagnostics };
                }
            },
            Err(error) => {
                let marker = error.marker();
                let pos = Pos { line: marker.line().max(1), column: marker.col() + 1 };
                let mut message = error.info();
                if message.is_empty() {
                    message = "invalid YAML".into();
                }
                builder.diagnostics.push(diag(pos, "", format!("invalid YAML: {message}"), yaml_hint(&message)));
                return Parsed { root: None, diagnostics: builder.diagnostics };
            }
        }
    }
    if builder.root.is_none() && builder.diagnostics.is_empty() {
        builder.diagnostics.push(diag(
            Pos { line: 1, column: 1 },
            "",
            "the file is empty",
            Some("a bot file starts with `ferrogram: 1` and `bot: {name: …}`".into()),
        ));
    }
    Parsed { root: builder.root, diagnostics: builder.diagnostics }
}

fn yaml_hint(message: &str) -> Option<String> {
    let m = message.to_ascii_lowercase();
    if m.contains("tab") {
        Some("indent with spaces; YAML does not allow tabs for indentation".into())
    } else if m.contains("mapping values are not allowed") || m.contains("block mapping") {
        Some("check the indentation, and quote texts that contain `: `".into())
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

struct JsonParser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    i: usize,
    line: usize,
    line_start: usize,
    total: usize,
    /// Problems that do not stop reading (duplicate keys).
    diagnostics: Vec<Diagnostic>,
}

impl<'a> JsonParser<'a> {
    fn pos_at(&self, byte: usize) -> Pos {
        let start = self.line_start.min(byte);
        let column = self.src.get(start..byte).map(|s| s.chars().count()).unwrap_or(0) + 1;
        Pos { line: self.line, column }
    }

    fn pos(&self) -> Pos {
        self.pos_at(self.i)
    }

    fn error(&self, message: impl Into<String>) -> Diagnostic {
        diag(self.pos(), "", format!("invalid JSON: {}", message.into()), None)
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.i) {
            match b {
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                b' ' | b'\t' | b'\r' => self.i += 1,
                _ => break,
            }
        }
    }

    fn describe_here(&self) -> String {
        match self.src.get(self.i..).and_then(|s| s.chars().next()) {
            Some(c) => format!("`{c}`"),
            None => "the end of the file".into(),
        }
    }

    fn value(&mut self, depth: usize, path: &str) -> Result<Node, Diagnostic> {
        self.skip_ws();
        let pos = self.pos();
        if depth > MAX_DEPTH {
            return Err(diag(pos, "", format!("the file nests values more than {MAX_DEPTH} levels deep"), None));
        }
        self.total += 1;
        if self.total > MAX_NODES {
            return Err(diag(pos, "", format!("the file holds more than {MAX_NODES} values"), None));
        }
        match self.bytes.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut entries: Vec<Entry> = Vec::new();
                self.skip_ws();
                if self.bytes.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Node { pos, kind: NodeKind::Map(entries) });
                }
                loop {
                    self.skip_ws();
                    if self.bytes.get(self.i) != Some(&b'"') {
                        let mut error =
                            self.error(format!("expected a key in double quotes, found {}", self.describe_here()));
                        if self.bytes.get(self.i) == Some(&b'}') && !entries.is_empty() {
                            error.hint = Some("remove the comma before `}`".into());
                        }
                        return Err(error);
                    }
                    let key_pos = self.pos();
                    let key = self.string()?;
                    self.skip_ws();
                    if self.bytes.get(self.i) != Some(&b':') {
                        return Err(self.error(format!("expected `:` after the key, found {}", self.describe_here())));
                    }
                    self.i += 1;
                    let key_path = push_key(path, &key);
                    let value = self.value(depth + 1, &key_path)?;
                    match entries.iter().find(|e| e.key == key) {
                        Some(first) => self.diagnostics.push(diag(
                            key_pos,
                            &key_path,
                            format!("duplicate key `{key}`"),
                            Some(format!("it is already set at line {}", first.key_pos.line)),
                        )),
                        None => entries.push(Entry { key, key_pos, value }),
                    }
                    self.skip_ws();
                    match self.bytes.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Node { pos, kind: NodeKind::Map(entries) });
                        }
                        _ => return Err(self.error(format!("expected `,` or `}}`, found {}", self.describe_here()))),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.bytes.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Node { pos, kind: NodeKind::Seq(items) });
                }
                loop {
                    self.skip_ws();
                    if self.bytes.get(self.i) == Some(&b']') && !items.is_empty() {
                        let mut error = self.error("expected a value, found `]`");
                        error.hint = Some("remove the comma before `]`".into());
                        return Err(error);
                    }
                    let item_path = push_index(path, items.len());
                    items.push(self.value(depth + 1, &item_path)?);
                    self.skip_ws();
                    match self.bytes.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Node { pos, kind: NodeKind::Seq(items) });
                        }
                        _ => return Err(self.error(format!("expected `,` or `]`, found {}", self.describe_here()))),
                    }
                }
            }
            Some(b'"') => Ok(Node { pos, kind: NodeKind::String(self.string()?) }),
            Some(b't') if self.bytes[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Node { pos, kind: NodeKind::Bool(true) })
            }
            Some(b'f') if self.bytes[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Node { pos, kind: NodeKind::Bool(false) })
            }
            Some(b'n') if self.bytes[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Node { pos, kind: NodeKind::Null })
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.bytes.get(self.i) {
                    self.i += 1;
                }
                let text = self.src.get(start..self.i).unwrap_or("");
                match serde_json::from_str::<Number>(text) {
                    Ok(n) => Ok(Node { pos, kind: NodeKind::Number(n) }),
                    Err(_) => Err(diag(pos, "", format!("invalid JSON: `{text}` is not a number"), None)),
                }
            }
            _ => Err(self.error(format!("expected a value, found {}", self.describe_here()))),
        }
    }

    /// A string token starting at a `"`; escapes are decoded by serde_json.
    fn string(&mut self) -> Result<String, Diagnostic> {
        let start = self.i;
        let pos = self.pos();
        self.i += 1;
        loop {
            match self.bytes.get(self.i) {
                None | Some(b'\n') => {
                    return Err(diag(
                        pos,
                        "",
                        "invalid JSON: a string is not closed",
                        Some("add the closing `\"`".into()),
                    ));
                }
                Some(b'\\') => self.i += 2,
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(_) => self.i += 1,
            }
        }
        let raw = self.src.get(start..self.i).unwrap_or("\"\"");
        serde_json::from_str::<String>(raw).map_err(|e| {
            let mut message = e.to_string();
            if let Some(at) = message.find(" at line ") {
                message.truncate(at);
            }
            diag(pos, "", format!("invalid JSON string: {message}"), None)
        })
    }
}

/// Parses JSON into a tree. Syntax errors stop at the first one, with its position.
pub fn parse_json(source: &str) -> Parsed {
    let src = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut parser =
        JsonParser { src, bytes: src.as_bytes(), i: 0, line: 1, line_start: 0, total: 0, diagnostics: Vec::new() };
    parser.skip_ws();
    if parser.i >= parser.bytes.len() {
        let d = diag(Pos { line: 1, column: 1 }, "", "the file is empty", Some("a bot file is a JSON object".into()));
        return Parsed { root: None, diagnostics: vec![d] };
    }
    let result = parser.value(1, "").and_then(|node| {
        parser.skip_ws();
        if parser.i < parser.bytes.len() {
            Err(parser.error(format!("unexpected {} after the end of the value", parser.describe_here())))
        } else {
            Ok(node)
        }
    });
    match result {
        Ok(node) => Parsed { root: Some(node), diagnostics: parser.diagnostics },
        Err(d) => Parsed { root: None, diagnostics: vec![d] },
    }
}

// ---------------------------------------------------------------------------------------------
// Paths and positions

/// Appends a key to a path: `scenes.menu`, or `set["user.score"]` for keys that are not plain
/// words.
pub fn push_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_string())),
    }
}

/// Appends an index to a path: `on[0]`.
pub fn push_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// Where each path's key and value are.
#[derive(Debug, Default)]
pub struct Positions {
    map: HashMap<String, (Option<Pos>, Pos)>,
}

impl Positions {
    pub fn new(root: &Node) -> Positions {
        let mut positions = Positions::default();
        positions.map.insert(String::new(), (None, root.pos));
        positions.index(root, "");
        positions
    }

    fn index(&mut self, node: &Node, path: &str) {
        match &node.kind {
            NodeKind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = push_index(path, i);
                    self.map.insert(p.clone(), (None, item.pos));
                    self.index(item, &p);
                }
            }
            NodeKind::Map(entries) => {
                for entry in entries {
                    let p = push_key(path, &entry.key);
                    self.map.insert(p.clone(), (Some(entry.key_pos), entry.value.pos));
                    self.index(&entry.value, &p);
                }
            }
            _ => {}
        }
    }

    /// Where the value at `path` is, or the nearest enclosing value that the file has.
    pub fn value(&self, path: &str) -> Pos {
        self.lookup(path, false)
    }

    /// Where the key of `path` is (the value for list items), or the nearest enclosing one.
    pub fn key(&self, path: &str) -> Pos {
        self.lookup(path, true)
    }

    fn lookup(&self, path: &str, key: bool) -> Pos {
        let mut p = path;
        loop {
            if let Some((k, v)) = self.map.get(p) {
                return if key { k.unwrap_or(*v) } else { *v };
            }
            match parent(p) {
                Some(up) => p = up,
                None => return Pos { line: 1, column: 1 },
            }
        }
    }
}

/// The enclosing path: `a.b[0]` → `a.b` → `a` → ``.
pub fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        // `[index]` or `["key"]`: the last `[` outside quotes.
        let open = outside_quotes(path).filter(|&(_, c)| c == '[').last().map(|(i, _)| i);
        return Some(&path[..open.unwrap_or(0)]);
    }
    // `.key`: the last `.` outside brackets.
    let mut depth = 0i32;
    let mut last_dot = None;
    for (i, c) in outside_quotes(path) {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => last_dot = Some(i),
            _ => {}
        }
    }
    Some(&path[..last_dot.unwrap_or(0)])
}

/// The characters of a path outside its quoted keys (`["a.b"]`), with their byte offsets.
fn outside_quotes(path: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let (mut in_string, mut escaped) = (false, false);
    path.char_indices().filter(move |&(_, c)| {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            false
        } else if c == '"' {
            in_string = true;
            false
        } else {
            true
        }
    })
}

#[cfg(test)]
mod path_tests {
    use super::parent;

    #[test]
    fn parents_of_paths_with_quoted_keys() {
        assert_eq!(parent("scenes.menu.on[0].do[1]"), Some("scenes.menu.on[0].do"));
        assert_eq!(parent("scenes.menu.on[0]"), Some("scenes.menu.on"));
        assert_eq!(parent("texts[\"a.b[1]\"]"), Some("texts"));
        assert_eq!(parent("texts[\"a.b\"].key"), Some("texts[\"a.b\"]"));
        assert_eq!(parent("bot"), Some(""));
        assert_eq!(parent(""), None);
    }
}
