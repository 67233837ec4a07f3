//! The `llm` step: a chat completion from an OpenAI-compatible server.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::Text;

/// `llm`: asks an OpenAI-compatible server (`POST {url}/chat/completions`) and answers in the
/// chat. The answer is streamed: a `placeholder` message is sent at once and edited as the text
/// arrives (at most once per the engine's edit interval), and the last edit, with the whole
/// answer, goes through the outbox like every reply. An answer longer than a Telegram message
/// continues in new messages.
///
/// Its result is `{text, tokens: {prompt, completion, total}, model, finish_reason, limited}`.
/// `limited` is true when one of `limits` was already used up today: the model is not asked,
/// nothing is sent, and the bot can say so (`if: result.limited`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Llm {
    /// The API's base URL (a template), without `/chat/completions`:
    /// `https://api.openai.com/v1`, or `"{{ bot.llm_url }}"`. Only `http://` and `https://`.
    pub url: String,
    /// The API key (a template): `"${OPENAI_API_KEY}"` reads the environment variable when the
    /// step runs, and is never logged. Sent as `Authorization: Bearer …`; none when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The model (a template): `gpt-4o-mini`.
    pub model: String,
    /// The system message (a template, or one per locale): who the assistant is, and the
    /// knowledge it may use (`{% for hit in hits %}…{% endfor %}` after a `search`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<Text>,
    /// The user's turn (a template). Default: the message's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// A `user.` or `chat_vars.` variable holding the conversation (a list of `{role, content}`):
    /// sent before the prompt, then the prompt and the answer are added to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// How many past exchanges (a question and its answer) `memory` keeps (1 to 100).
    #[serde(default = "default_turns")]
    pub turns: u32,
    /// Daily token budgets, each kept in a variable as `{day, tokens}` (UTC days):
    /// `{usage: user.ai_usage, daily_tokens: 20000}` for each user, `bot.ai_usage` for the bot
    /// (a tenant). Tokens are what the server reports, or about 4 characters per token when it
    /// reports none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<TokenLimit>,
    /// The first message, shown while the model writes (a template, or one per locale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<Text>,
    /// Streams the answer into the chat (`true`), or sends it whole when done (`false`).
    #[serde(default = "crate::model::yes")]
    pub stream: bool,
    /// Shows the Markdown models write (bold, italics, code blocks, links, lists) as Telegram
    /// formatting (`true`), or sends the text as it is (`false`).
    #[serde(default = "crate::model::yes")]
    pub markdown: bool,
    /// Answers in the chat (`true`), or only sets the result (`false`, e.g. in a job).
    #[serde(default = "crate::model::yes")]
    pub reply: bool,
    /// The longest answer, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Time limit of the whole answer, in milliseconds (1 to 600000). The update's own time
    /// budget (the engine's `update_budget`, 30 s by default) still applies.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
    /// Retries before the answer starts, after a network error, a 5xx or a 429 (0 to 5).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// A name for the result: `as: answer`, then `{{ answer.text }}`.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
}

/// A daily token budget of the `llm` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenLimit {
    /// The variable counting the day's tokens: `user.ai_usage`, `chat_vars.ai_usage` or `bot.ai_usage`.
    pub usage: String,
    /// Tokens allowed per UTC day.
    pub daily_tokens: u64,
}

/// The default `turns` of `llm`.
pub const DEFAULT_LLM_TURNS: u32 = 10;
/// The largest `turns` of `llm`.
pub const MAX_LLM_TURNS: u32 = 100;
/// The default `timeout_ms` of `llm`.
pub const DEFAULT_LLM_TIMEOUT_MS: u32 = 120_000;
/// The largest `timeout_ms` of `llm`.
pub const MAX_LLM_TIMEOUT_MS: u32 = 600_000;

fn default_turns() -> u32 {
    DEFAULT_LLM_TURNS
}

fn default_timeout() -> u32 {
    DEFAULT_LLM_TIMEOUT_MS
}

fn default_retries() -> u32 {
    crate::model::DEFAULT_HTTP_RETRIES
}
