//! The `llm` step: a chat completion from an OpenAI-compatible server (`POST
//! {url}/chat/completions`), through the engine's guarded HTTP client ([`crate::interpret::http`]: SSRF
//! guard, retries before the answer starts, circuit breaker).
//!
//! A streamed answer (`stream: true`, server-sent events) is shown as it comes: a placeholder
//! message is sent at once and edited at most once per [`crate::EngineConfig::llm_edit_interval`].
//! Those edits are made as the handler runs (like a dice), so a crash repeats them; the last
//! edit, with the whole answer, is queued in the outbox and committed with the update, so the
//! chat always ends with the complete answer exactly once the update is handled. The
//! conversation (`memory`) and the day's token use (`limits`) are variables, written in the
//! same commit. The tokens are counted in the metrics too (`ferrogram_llm_tokens_total`), once
//! the answer is in: a step failing after it (a limit's write) has still used them.

use std::time::Duration;

use serde_json::{Value, json};
use tracing::Instrument;

use crate::error::EngineError;
use crate::interpret::steps::run::Run;

/// Telegram's longest message text, in characters.
const MAX_MESSAGE_CHARS: usize = 4096;
/// Shown after the text while the answer is still coming.
const CURSOR: &str = " ▌";
/// The placeholder when the step gives none.
const DEFAULT_PLACEHOLDER: &str = "…";

/// What the model answered.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    pub model: String,
    pub finish_reason: String,
    /// `(prompt, completion, total)` tokens, when the server reported them.
    pub usage: Option<(u64, u64, u64)>,
}

/// Runs an `llm` step: checks the limits, asks the model, answers in the chat and sets
/// `result` (and the `as` name).
pub async fn step<'a>(run: &mut Run<'a>, llm: &'a ferrogram_schema::Llm) -> Result<(), EngineError> {
    if llm.reply && run.is_job() {
        return Err(EngineError::Step("llm: a job has no chat for the answer (add `reply: false`)".into()));
    }
    let today = utc_day(run.bot.clock.now());
    for limit in &llm.limits {
        let used = used_today(&run.var_value(&limit.usage)?, &today);
        if used >= limit.daily_tokens {
            tracing::info!(bot_id = run.bot.bot_id, usage = %limit.usage, used, "llm: daily token limit reached");
            return finish(run, llm, json!({"text": "", "limited": true, "tokens": tokens_value(0, 0, 0)}));
        }
    }

    let memory = match &llm.memory {
        Some(key) => remembered(&run.var_value(key)?),
        None => Vec::new(),
    };
    let prompt = match &llm.prompt {
        Some(source) => run.render_raw(source)?,
        None => run.message_text().unwrap_or_default(),
    };
    if prompt.trim().is_empty() {
        return Err(EngineError::Step("llm: the prompt is empty (the message has no text)".into()));
    }
    let mut messages = Vec::with_capacity(memory.len() + 2);
    if let Some(system) = &llm.system {
        messages.push(json!({"role": "system", "content": run.text(system)?}));
    }
    messages.extend(memory.iter().cloned());
    messages.push(json!({"role": "user", "content": prompt}));

    let url = run.render_raw(&llm.url)?;
    let host = crate::interpret::http::host_or_url(&url);
    let fail = |reason: String| EngineError::Http(format!("llm {host}: {reason}"));
    let mut headers =
        vec![("Accept".to_owned(), if llm.stream { "text/event-stream" } else { "application/json" }.to_owned())];
    if let Some(source) = &llm.key {
        let key = run.bot.expand(source, &run.render_raw(source)?).map_err(|e| fail(format!("key: {e}")))?;
        if !key.is_empty() {
            headers.push(("Authorization".into(), format!("Bearer {key}")));
        }
    }
    let mut body = json!({"model": run.render_raw(&llm.model)?, "messages": messages, "stream": llm.stream});
    if llm.stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if let Some(max_tokens) = llm.max_tokens {
        body["max_tokens"] = json!(max_tokens);
    }
    if let Some(temperature) = llm.temperature {
        body["temperature"] = json!(temperature);
    }
    let prepared = crate::interpret::http::Prepared {
        bot_id: run.bot.bot_id,
        method: ferrogram_schema::HttpMethod::Post,
        url: format!("{}/chat/completions", url.trim_end_matches('/')),
        headers,
        query: Vec::new(),
        json: Some(body),
        form: Vec::new(),
        timeout: Duration::from_millis(u64::from(llm.timeout_ms.clamp(1, ferrogram_schema::MAX_LLM_TIMEOUT_MS))),
        retries: llm.retries.min(ferrogram_schema::MAX_HTTP_RETRIES),
    };

    let streaming = llm.stream && llm.reply;
    let mut shown = None;
    if streaming {
        let placeholder = match &llm.placeholder {
            Some(text) => run.text(text)?,
            None => DEFAULT_PLACEHOLDER.to_owned(),
        };
        let sent = run.call("sendMessage", json!({"chat_id": run.event.chat_id, "text": placeholder})).await?;
        shown = sent.get("message_id").and_then(Value::as_i64);
    }
    let started = tokio::time::Instant::now();
    let span = crate::traces::step("llm", run.bot.bot_id, "POST", &crate::traces::host_of(&url));
    let asked = async {
        match run.bot.http.open(prepared).await {
            Ok(response) => {
                tracing::Span::current().record("http.response.status_code", response.status().as_u16());
                read_answer(run, response, shown, llm.markdown).await
            }
            Err(error) => Err(error),
        }
    }
    .instrument(span.clone())
    .await;
    if let Err(error) = &asked {
        crate::traces::failed(&span, error);
    }
    drop(span);
    let asked = asked.and_then(|answer| match answer.text.trim().is_empty() {
        true => Err(format!("the model answered nothing (finish reason {:?})", answer.finish_reason)),
        false => Ok(answer),
    });
    let answer = match asked {
        Ok(answer) => answer,
        Err(error) => {
            // The error reply follows; a placeholder left behind would look like an answer coming.
            if let Some(message_id) = shown {
                let params = json!({"chat_id": run.event.chat_id, "message_id": message_id});
                if let Err(error) = run.call("deleteMessage", params).await {
                    tracing::debug!(bot_id = run.bot.bot_id, %error, "llm: deleting the placeholder failed");
                }
            }
            return Err(fail(error));
        }
    };
    tracing::debug!(
        bot_id = run.bot.bot_id, %host, chars = answer.text.chars().count(), elapsed = ?started.elapsed(),
        "llm step answered"
    );

    if llm.reply {
        let chat_id = run.event.chat_id;
        for (i, part) in split_message(&answer.text).into_iter().enumerate() {
            let mut params = text_params(chat_id, &part, "", llm.markdown);
            match shown.filter(|_| i == 0) {
                Some(message_id) => {
                    params["message_id"] = json!(message_id);
                    run.send("editMessageText", params)
                }
                None => run.send("sendMessage", params),
            }
        }
    }

    let (prompt_tokens, completion_tokens, total) = answer.usage.unwrap_or_else(|| {
        let prompt_chars: usize =
            messages.iter().filter_map(|m| m["content"].as_str()).map(|c| c.chars().count()).sum();
        let (p, c) = (estimate_tokens(prompt_chars), estimate_tokens(answer.text.chars().count()));
        (p, c, p + c)
    });
    crate::telemetry::llm_tokens(run.bot.bot_id, prompt_tokens, completion_tokens);
    for limit in &llm.limits {
        // Read again once the write is ours: a bot-wide budget is counted by every chat at once
        // (`before_write` takes the bot's variable lock and reloads its variables).
        run.before_write(&limit.usage).await?;
        let used = used_today(&run.var_value(&limit.usage)?, &today);
        run.set_var(&limit.usage, Some(json!({"day": today, "tokens": used + total}).to_string()))?;
    }
    if let Some(key) = &llm.memory {
        let mut kept = memory;
        kept.push(json!({"role": "user", "content": prompt}));
        kept.push(json!({"role": "assistant", "content": answer.text}));
        let keep = 2 * llm.turns.clamp(1, ferrogram_schema::MAX_LLM_TURNS) as usize;
        let kept = kept.split_off(kept.len().saturating_sub(keep));
        run.before_write(key).await?;
        run.set_var(key, Some(Value::Array(kept).to_string()))?;
    }
    let result = json!({
        "text": answer.text, "model": answer.model, "finish_reason": answer.finish_reason, "limited": false,
        "tokens": tokens_value(prompt_tokens, completion_tokens, total), "message_id": shown,
    });
    finish(run, llm, result)
}

fn finish(run: &mut Run<'_>, llm: &ferrogram_schema::Llm, result: Value) -> Result<(), EngineError> {
    if let Some(name) = &llm.save_as {
        run.set_ctx(name, result.clone());
    }
    run.set_ctx("result", result);
    Ok(())
}

fn tokens_value(prompt: u64, completion: u64, total: u64) -> Value {
    json!({"prompt": prompt, "completion": completion, "total": total})
}

/// About four characters a token, as OpenAI's documentation estimates for English.
fn estimate_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// The UTC day of a unix time, as `YYYY-MM-DD`.
fn utc_day(unix_secs: u64) -> String {
    let (year, month, day) = ferrogram_schema::civil_from_days((unix_secs / 86_400) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The tokens a usage variable (`{day, tokens}`) counts for `today`; another day's count is 0.
fn used_today(usage: &Value, today: &str) -> u64 {
    if usage.get("day").and_then(Value::as_str) == Some(today) {
        usage.get("tokens").and_then(Value::as_u64).unwrap_or(0)
    } else {
        0
    }
}

/// The well-formed turns of a memory variable: `{role: user|assistant, content: "…"}`.
fn remembered(memory: &Value) -> Vec<Value> {
    let Some(turns) = memory.as_array() else { return Vec::new() };
    turns
        .iter()
        .filter(|turn| {
            matches!(turn.get("role").and_then(Value::as_str), Some("user" | "assistant"))
                && turn.get("content").is_some_and(Value::is_string)
        })
        .map(|turn| json!({"role": turn["role"], "content": turn["content"]}))
        .collect()
}

/// Reads the server's answer: server-sent events as they come (editing `shown` on the way), or
/// one JSON completion. An error status is reported with the server's own message.
async fn read_answer(
    run: &mut Run<'_>,
    mut response: reqwest::Response,
    shown: Option<i64>,
    markdown: bool,
) -> Result<Answer, String> {
    let status = response.status();
    let max_body = run.bot.http.max_body();
    let streamed = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/event-stream"));
    if !status.is_success() || !streamed {
        // An error, or a whole completion: read (bounded) as the `http` step reads.
        let read = run.bot.http.read(response).await?;
        let body = read["text"].as_str().unwrap_or_default();
        let parsed = serde_json::from_str::<Value>(body);
        if !status.is_success() {
            let message = parsed.as_ref().ok().and_then(|v| v.pointer("/error/message")).and_then(Value::as_str);
            let detail = message.map_or_else(|| body.chars().take(200).collect(), str::to_owned);
            return Err(format!("answered {status}: {detail}"));
        }
        return completion(&parsed.map_err(|e| format!("the answer is not JSON: {e}"))?);
    }
    let read_chunk = |e: reqwest::Error| format!("reading the answer: {e}");
    let mut bytes = 0usize;
    let interval = run.bot.llm_edit_interval;
    let mut events = EventStream::default();
    let mut answer = Answer::default();
    let mut last_edit = tokio::time::Instant::now();
    let mut edited_len = 0;
    while let Some(chunk) = response.chunk().await.map_err(read_chunk)? {
        bytes += chunk.len();
        if bytes > max_body {
            return Err(format!("the answer is larger than {max_body} bytes"));
        }
        let mut done = false;
        for data in events.push(&chunk) {
            if data == "[DONE]" {
                done = true;
                break;
            }
            let value: Value = serde_json::from_str(&data).map_err(|e| format!("a streamed chunk is not JSON: {e}"))?;
            delta(&mut answer, &value)?;
        }
        if let Some(message_id) = shown
            && answer.text.len() > edited_len
            && last_edit.elapsed() >= interval
            && !done
        {
            edit_partial(run, message_id, &answer.text, markdown).await;
            edited_len = answer.text.len();
            last_edit = tokio::time::Instant::now();
        }
        if done {
            break;
        }
    }
    Ok(answer)
}

/// Shows the answer so far; a failed edit only costs the view (the final edit still comes).
async fn edit_partial(run: &mut Run<'_>, message_id: i64, text: &str, markdown: bool) {
    let head = split_message(text).into_iter().next().unwrap_or_default();
    let mut params = text_params(run.event.chat_id, &head, CURSOR, markdown);
    params["message_id"] = json!(message_id);
    if let Err(error) = run.call("editMessageText", params).await {
        tracing::debug!(bot_id = run.bot.bot_id, %error, "llm: a streamed edit failed");
    }
}

/// A message's `chat_id`, `text` (`suffix` after it) and, for Markdown, its `parse_mode`.
fn text_params(chat_id: i64, text: &str, suffix: &str, markdown: bool) -> Value {
    if markdown {
        let html = crate::interpret::template::markdown::to_html(text);
        json!({"chat_id": chat_id, "text": format!("{html}{suffix}"), "parse_mode": "HTML"})
    } else {
        json!({"chat_id": chat_id, "text": format!("{text}{suffix}")})
    }
}

/// Adds one streamed chunk (`chat.completion.chunk`) to the answer.
fn delta(answer: &mut Answer, chunk: &Value) -> Result<(), String> {
    if let Some(message) = chunk.pointer("/error/message").and_then(Value::as_str) {
        return Err(format!("the model failed: {message}"));
    }
    if let Some(model) = chunk.get("model").and_then(Value::as_str) {
        answer.model = model.to_owned();
    }
    if let Some(choice) = chunk.pointer("/choices/0") {
        if let Some(content) = choice.pointer("/delta/content").and_then(Value::as_str) {
            answer.text.push_str(content);
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            answer.finish_reason = reason.to_owned();
        }
    }
    if let Some(usage) = chunk.get("usage").and_then(usage) {
        answer.usage = Some(usage);
    }
    Ok(())
}

/// A whole (not streamed) `chat.completion`.
fn completion(value: &Value) -> Result<Answer, String> {
    if let Some(message) = value.pointer("/error/message").and_then(Value::as_str) {
        return Err(format!("the model failed: {message}"));
    }
    let choice = value.pointer("/choices/0").ok_or("the answer has no choices")?;
    Ok(Answer {
        text: choice.pointer("/message/content").and_then(Value::as_str).unwrap_or_default().to_owned(),
        model: value.get("model").and_then(Value::as_str).unwrap_or_default().to_owned(),
        finish_reason: choice.get("finish_reason").and_then(Value::as_str).unwrap_or_default().to_owned(),
        usage: value.get("usage").and_then(usage),
    })
}

fn usage(usage: &Value) -> Option<(u64, u64, u64)> {
    let field = |name: &str| usage.get(name).and_then(Value::as_u64);
    let (prompt, completion) = (field("prompt_tokens")?, field("completion_tokens")?);
    Some((prompt, completion, field("total_tokens").unwrap_or(prompt + completion)))
}

/// Splits a text into Telegram messages, at a line break or a space near the end of each.
fn split_message(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > MAX_MESSAGE_CHARS {
        let limit = rest.char_indices().nth(MAX_MESSAGE_CHARS).map_or(rest.len(), |(i, _)| i);
        let head = &rest[..limit];
        let cut = head.rfind('\n').or_else(|| head.rfind(' ')).filter(|&i| i > limit / 2).unwrap_or(limit);
        parts.push(rest[..cut].trim_end().to_owned());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_owned());
    }
    parts
}

/// Server-sent events cut from arbitrary chunks: each event's `data:` lines, joined.
#[derive(Debug, Default)]
struct EventStream {
    pending: Vec<u8>,
}

impl EventStream {
    fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some((end, separator)) = find_event_end(&self.pending) {
            let event: Vec<u8> = self.pending.drain(..end + separator).collect();
            let text = String::from_utf8_lossy(&event[..end]);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|data| data.strip_prefix(' ').unwrap_or(data))
                .collect();
            if !data.is_empty() {
                events.push(data.join("\n"));
            }
        }
        events
    }
}

/// Where the first event of `bytes` ends (a blank line), and the separator's length.
fn find_event_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: &str, content: &str) -> Value {
        json!({"role": role, "content": content})
    }

    #[test]
    fn events_are_cut_from_any_chunking() {
        let stream = "data: {\"a\":1}\n\ndata: [DONE]\n\n";
        for size in 1..stream.len() {
            let mut events = EventStream::default();
            let mut got = Vec::new();
            for chunk in stream.as_bytes().chunks(size) {
                got.extend(events.push(chunk));
            }
            assert_eq!(got, vec!["{\"a\":1}".to_owned(), "[DONE]".to_owned()], "chunks of {size}");
        }
        let mut events = EventStream::default();
        assert_eq!(events.push(b": comment\r\n\r\ndata: x\r\ndata: y\r\n\r\n"), vec!["x\ny".to_owned()]);
    }

    #[test]
    fn deltas_make_the_answer() {
        let mut answer = Answer::default();
        delta(&mut answer, &json!({"model": "m", "choices": [{"delta": {"role": "assistant"}}]})).unwrap();
        delta(&mut answer, &json!({"choices": [{"delta": {"content": "Hel"}}]})).unwrap();
        delta(&mut answer, &json!({"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]})).unwrap();
        delta(&mut answer, &json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}})).unwrap();
        assert_eq!(answer.text, "Hello");
        assert_eq!((answer.model.as_str(), answer.finish_reason.as_str()), ("m", "stop"));
        assert_eq!(answer.usage, Some((5, 2, 7)));
        let failed = delta(&mut answer, &json!({"error": {"message": "overloaded"}}));
        assert_eq!(failed, Err("the model failed: overloaded".into()));
    }

    #[test]
    fn long_answers_are_split_between_words() {
        let word = "word ";
        let text = word.repeat(2000);
        let parts = split_message(&text);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS && p.ends_with("word")));
        assert_eq!(parts.join(" "), text.trim());
        assert_eq!(split_message("short"), vec!["short".to_owned()]);
        let unbroken = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let parts = split_message(&unbroken);
        assert_eq!(parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(), vec![MAX_MESSAGE_CHARS, 10]);
    }

    #[test]
    fn memory_keeps_well_formed_turns_and_usage_counts_today() {
        let memory = json!([turn("user", "hi"), {"role": "system", "content": "x"}, {"role": "user"}, turn("assistant", "hello")]);
        assert_eq!(remembered(&memory), vec![turn("user", "hi"), turn("assistant", "hello")]);
        assert!(remembered(&json!("not a list")).is_empty());
        assert_eq!(used_today(&json!({"day": "2026-11-21", "tokens": 40}), "2026-11-21"), 40);
        assert_eq!(used_today(&json!({"day": "2026-11-20", "tokens": 40}), "2026-11-21"), 0);
        assert_eq!(used_today(&Value::Null, "2026-11-21"), 0);
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(1_795_000_000), "2026-11-18");
    }
}
