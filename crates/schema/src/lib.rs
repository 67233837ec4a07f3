//! The bot file: its model, loading with positions, validation, the JSON Schema and the docs.
//! This crate is the first stage of the pipeline: a bot file (YAML or JSON) becomes a checked
//! [`BotFile`], which the engine then interprets for each update.
//!
//! The bot schema (`ferrogram: 1`): a bot described as data.
//!
//! [`load`] and [`load_str`] read a bot file (YAML, or JSON by its `.json` extension) and check
//! it completely: its structure against the JSON Schema generated from the [`model`], then what
//! the schema cannot say (scenes, variables, texts, roles and locales that must exist, templates
//! and conditions that must compile, regular expressions, scenes nothing reaches…). Every problem
//! is reported at once, each with its line, column, key and a hint.

pub mod data;
pub mod feed;
pub mod llm;
pub mod model;
pub mod session;

mod docs;
mod jsonschema;
mod schedule;
mod semantic;
mod source;
mod structure;
mod suggest;
mod templates;

/// "Did you mean …?" by the rule bot files use; the server's configuration file uses it too.
pub use suggest::did_you_mean;

pub use data::*;
pub use docs::reference_markdown;
pub use feed::{DEFAULT_FEED_LIMIT, Feed, MAX_FEED_LIMIT};
pub use jsonschema::{SCHEMA_ID, json_schema};
pub use llm::{DEFAULT_LLM_TIMEOUT_MS, DEFAULT_LLM_TURNS, Llm, MAX_LLM_TIMEOUT_MS, MAX_LLM_TURNS, TokenLimit};
pub use model::*;
pub use schedule::{MIN_EVERY, Schedule, ScheduleError, civil_from_days, days_from_civil, parse_cron, parse_every};
pub use semantic::{DEFAULT_ROLE, DICE, regex_trigger, text_key};
pub use session::{BasicAuth, HttpSession, SessionLogin};
pub use source::{MAX_FILE_BYTES, MAX_NODES};
pub use templates::{TEMPLATE_FUNCTIONS, TEMPLATE_ROOTS};

use std::path::Path;
use std::sync::OnceLock;

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    /// The file cannot be used as it is.
    #[default]
    Error,
    /// The file works, but probably not as meant.
    Warning,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem in a bot file, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    /// From 1; 0 when the problem is the file itself (it cannot be read).
    pub line: usize,
    /// From 1, in characters.
    pub column: usize,
    /// The path of the offending key: `scenes.menu.on[0].do[1].goto`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
    pub severity: Severity,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `file:line:column: error: key: message (hint)`.
impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}: ", self.file, self.severity)?;
        } else {
            write!(f, "{}:{}:{}: {}: ", self.file, self.line, self.column, self.severity)?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// The outcome of checking a bot file: the bot when its structure is sound (it may still have
/// other errors: see [`Checked::has_errors`]), and every diagnostic (errors and warnings) sorted
/// by position.
#[derive(Debug, Clone)]
pub struct Checked {
    pub bot: Option<BotFile>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }

    fn into_result(self) -> Result<BotFile, Vec<Diagnostic>> {
        match self.bot {
            Some(bot) if !self.diagnostics.iter().any(Diagnostic::is_error) => Ok(bot),
            _ => Err(self.diagnostics),
        }
    }
}

/// Loads a bot file (YAML, or JSON by its `.json` extension). On error, returns every diagnostic,
/// warnings included; warnings alone do not fail (see [`check`] to read them).
pub fn load(path: &Path) -> Result<BotFile, Vec<Diagnostic>> {
    check(path).into_result()
}

/// Loads a bot file from text; `file_name` names it in diagnostics and picks JSON (`.json`) or
/// YAML.
pub fn load_str(source: &str, file_name: &str) -> Result<BotFile, Vec<Diagnostic>> {
    check_str(source, file_name).into_result()
}

/// Checks a bot file, keeping warnings as well as errors. A file over [`MAX_FILE_BYTES`] is
/// refused after reading one byte more than that.
pub fn check(path: &Path) -> Checked {
    let name = path.display().to_string();
    match source::read(path) {
        Ok(source) => check_str(&source, &name),
        Err(message) => unreadable(name, message),
    }
}

/// The outcome for a file that could not be read at all: one error about the file itself.
fn unreadable(file: String, message: String) -> Checked {
    let diagnostic =
        Diagnostic { file, line: 0, column: 0, key: String::new(), message, hint: None, severity: Severity::Error };
    Checked { bot: None, diagnostics: vec![diagnostic] }
}

/// The schema the validator checks against (built once).
fn schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(json_schema)
}

/// Checks a bot file given as text, keeping warnings as well as errors; text over
/// [`MAX_FILE_BYTES`] is refused unread.
pub fn check_str(source: &str, file_name: &str) -> Checked {
    if source.len() > MAX_FILE_BYTES {
        return unreadable(file_name.to_string(), source::too_large());
    }
    let is_json = Path::new(file_name).extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parsed = if is_json { source::parse_json(source) } else { source::parse_yaml(source) };
    let mut diagnostics = parsed.diagnostics;
    let mut bot = None;
    if let Some(root) = parsed.root {
        let schema = schema();
        let mut walker = structure::Walker::new(schema);
        let value = walker.walk(schema, &root, "");
        // With structure errors, the semantic checks still run on what is left (the parts with
        // errors left out), so that one pass reports as much as it can; they then report only
        // errors, and none that could come from the parts left out. (A duplicate key loses
        // nothing the checks rely on: the first one is kept, and reported.)
        let mut lost: Vec<String> = walker.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.key.clone()).collect();
        lost.extend(walker.meant);
        diagnostics.extend(walker.diagnostics);
        let partial = diagnostics.iter().any(Diagnostic::is_error);
        let damage = semantic::Damage::new(lost, walker.kept);
        match value.map(serde_json::from_value::<BotFile>) {
            Some(Ok(file)) => {
                let positions = source::Positions::new(&root);
                let found = semantic::check(&file, &positions, &damage);
                if partial {
                    diagnostics.extend(found.into_iter().filter(|d| d.is_error() && !damage.touches(&d.key)));
                } else {
                    diagnostics.extend(found);
                    bot = Some(file);
                }
            }
            _ if partial => {}
            // A clean walk always deserializes; if it ever does not, say so rather than panic.
            other => diagnostics.push(Diagnostic {
                file: String::new(),
                line: root.pos.line,
                column: root.pos.column,
                key: String::new(),
                message: match other {
                    Some(Err(error)) => format!("the file does not fit the model: {error}"),
                    _ => "the file does not fit the model".into(),
                },
                hint: Some("this is a bug in Ferrogram's validator; please report it".into()),
                severity: Severity::Error,
            }),
        }
    }
    for d in &mut diagnostics {
        d.file = file_name.to_string();
    }
    diagnostics.sort_by_key(|d| (d.line, d.column, d.severity));
    diagnostics.dedup();
    Checked { bot, diagnostics }
}
