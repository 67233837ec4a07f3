//! A text rendered outside any handler, for one user at a time: a broadcast's message, sent to
//! each recipient with their own variables (decision 0055). Compiled once in the environment of
//! the bot's file ([`Templates::compile`]: the same filters, functions, fuel, recursion limit
//! and output and value caps as the file's own templates), with the values it inserts escaped
//! for the message's parse mode as a handler's message texts are.
//!
//! One difference, on purpose: a variable the user does not have renders as nothing (minijinja's
//! chainable undefined: `{{ user.city }}` and `{{ user.address.city }}` are empty), where a
//! handler's template fails. A broadcast goes to many users, some of whom never set what others
//! did, and failing those would silently leave them out; `{{ user.name | default("friend") }}`
//! names the fallback where nothing would read badly.

use ferrogram_schema::{BotFile, ParseMode};
use minijinja::UndefinedBehavior;
use serde_json::Value;

use super::{
    DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT, Escape, Templates, compile_cap, is_template, render_error, to_jinja,
};
use crate::error::EngineError;

/// A text compiled for per-user rendering.
#[derive(Debug)]
pub struct TextTemplate {
    /// `None` when the text has no template syntax: it renders as itself.
    compiled: Option<(Templates, String)>,
    source: String,
    escape: Escape,
}

impl TextTemplate {
    /// Whether `text` has template syntax (`{{`, `{%`, `{#`); a text without renders as itself.
    pub fn is_template(text: &str) -> bool {
        is_template(text)
    }

    /// Compiles `source` in the environment of `file` (its `t()` texts and default locale; a bare
    /// one when `None`), for a message sent with `parse_mode` (`HTML`, `MarkdownV2`, `Markdown`,
    /// or plain when `None`). A syntax error is an [`EngineError::Templates`] naming it.
    pub fn compile(
        file: Option<&BotFile>,
        source: &str,
        parse_mode: Option<&str>,
    ) -> Result<TextTemplate, EngineError> {
        let escape = Escape::for_parse_mode(match parse_mode {
            Some("HTML") => Some(ParseMode::Html),
            Some("MarkdownV2") => Some(ParseMode::MarkdownV2),
            Some("Markdown") => Some(ParseMode::Markdown),
            _ => None,
        });
        if !is_template(source) {
            return Ok(TextTemplate { compiled: None, source: source.to_owned(), escape });
        }
        let bare;
        let file = match file {
            Some(file) => file,
            None => {
                bare = serde_json::from_value::<BotFile>(serde_json::json!({"ferrogram": 1, "bot": {"name": "text"}}))
                    .map_err(|e| EngineError::Templates(vec![format!("a bare bot file: {e}")]))?;
                &bare
            }
        };
        let mut templates = Templates::compile(file, DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT)?;
        templates.env.set_undefined_behavior(UndefinedBehavior::Chainable);
        // Named apart from the file's own templates; the escape mode's prefix comes first, since
        // the auto-escape callback reads it from there.
        let name = escape.template_name(&format!("\u{0}text:{source}"));
        let compiled = {
            let _cap = compile_cap();
            templates.env.add_template_owned(name.clone(), source.to_owned())
        };
        compiled.map_err(|e| EngineError::Templates(vec![render_error(e).to_string()]))?;
        Ok(TextTemplate { compiled: Some((templates, name)), source: source.to_owned(), escape })
    }

    /// The text for one user: `ctx` is the render's context (a broadcast's: `user`, the user's
    /// variables, and `from`, the user as the bot last saw them).
    pub fn render(&self, ctx: &Value) -> Result<String, EngineError> {
        let Some((templates, name)) = &self.compiled else { return Ok(self.source.clone()) };
        let ctx = to_jinja(ctx);
        templates
            .value_capped(|| match templates.env.get_template(name) {
                Ok(template) => templates.render_capped(&template, &ctx),
                Err(e) => (Err(render_error(e)), 0),
            })
            .0
    }

    /// The escaping the inserted values get (for the parse mode it was compiled for).
    pub fn escapes(&self) -> bool {
        self.escape != Escape::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_user_gets_their_values_and_missing_ones_are_empty() {
        let text =
            TextTemplate::compile(None, "Hi {{ from.first_name }}, plan {{ user.plan }}{{ user.a.b }}!", None).unwrap();
        let ann = text.render(&json!({"from": {"first_name": "Ann"}, "user": {"plan": "pro"}})).unwrap();
        assert_eq!(ann, "Hi Ann, plan pro!");
        assert_eq!(text.render(&json!({"from": {}, "user": {}})).unwrap(), "Hi , plan !");
        let fallback = TextTemplate::compile(None, "Hi {{ user.name | default('friend') }}", None).unwrap();
        assert_eq!(fallback.render(&json!({"user": {}})).unwrap(), "Hi friend");
    }

    #[test]
    fn values_are_escaped_for_the_parse_mode_and_plain_texts_stay() {
        let html = TextTemplate::compile(None, "<b>Hi</b> {{ from.first_name }}", Some("HTML")).unwrap();
        assert!(html.escapes());
        assert_eq!(
            html.render(&json!({"from": {"first_name": "<i>x</i>"}})).unwrap(),
            "<b>Hi</b> &lt;i&gt;x&lt;/i&gt;"
        );
        let plain = TextTemplate::compile(None, "50% off {not a template}", None).unwrap();
        assert_eq!(plain.render(&json!({})).unwrap(), "50% off {not a template}");
    }

    #[test]
    fn a_syntax_error_is_refused_and_a_runaway_loop_stops() {
        assert!(matches!(TextTemplate::compile(None, "Hi {{ user.name ", None), Err(EngineError::Templates(_))));
        let looping = TextTemplate::compile(
            None,
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            None,
        )
        .unwrap();
        assert!(looping.render(&json!({})).is_err());
    }
}
