//! A stand-in language model with OpenAI's chat completions API, so a bot with an `llm` step
//! can be tried and tested without a model server or the internet: `POST
//! /llm/v1/chat/completions` (streamed as server-sent events or whole) and `GET /llm/v1/models`.
//!
//! It does not write: it answers with the line of its system message, written as a list item
//! (`- …`), that shares the most words (their first five letters) with the user's last message (the knowledge a bot put
//! there after a search), or "I have no note on that." when none does, followed by
//! `(turn N)`, N being the number of user messages it was sent (so a bot's conversation memory
//! shows). The model `overloaded` answers 503, as a busy server does. See docs/sandbox.md.
//!
//! The sandbox serves it under `/llm`; [`serve`] also runs it on a listener of its own, so a
//! bot host can let its bots reach the model without letting them reach the sandbox itself.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// The model names `GET /v1/models` lists; any other name is answered the same way.
const MODELS: [&str; 2] = ["sandbox", "overloaded"];
/// The answer when no line of knowledge matches the question.
const NO_NOTE: &str = "I have no note on that.";

/// The stand-in's routes, to nest under `/llm`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/v1/chat/completions", post(completions)).route("/v1/models", get(models))
}

/// Serves the stand-in alone on `addr` (port 0: a free one), under `/llm` as the sandbox does
/// (`http://<addr>/llm/v1`), and nothing else: the one address `ferrogram serve` allows its
/// bots, instead of the sandbox's port with its control API and every bot's Bot API. Returns
/// the address bound and the server's task; aborting the task stops the server.
pub async fn serve(addr: SocketAddr) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app: Router = Router::new().nest("/llm", router());
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "stand-in language model stopped");
        }
    });
    Ok((addr, server))
}

async fn models() -> Json<Value> {
    let data: Vec<Value> =
        MODELS.iter().map(|id| json!({"id": id, "object": "model", "owned_by": "ferrogram"})).collect();
    Json(json!({"object": "list", "data": data}))
}

async fn completions(headers: HeaderMap, body: Bytes) -> Response {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let bearer = auth.to_str().ok().and_then(|a| a.strip_prefix("Bearer ")).is_some_and(|k| !k.trim().is_empty());
        if !bearer {
            return error(StatusCode::UNAUTHORIZED, "invalid_api_key", "Authorization must be `Bearer <key>`.", None);
        }
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("The body is not JSON: {e}"),
                None,
            );
        }
    };
    let (model, messages) = match read_request(&request) {
        Ok(read) => read,
        Err((message, param)) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &message, Some(param)),
    };
    if model == "overloaded" {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "The model is overloaded. Try again later.",
            None,
        );
    }
    let text = answer(&messages);
    let prompt_tokens: usize = messages.iter().map(|(_, content)| words(content)).sum();
    let usage = json!({
        "prompt_tokens": prompt_tokens, "completion_tokens": words(&text),
        "total_tokens": prompt_tokens + words(&text),
    });
    if request.get("stream") == Some(&Value::Bool(true)) {
        let include_usage = request.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
        return stream(&model, &text, include_usage.then_some(usage));
    }
    Json(json!({
        "id": "chatcmpl-sandbox", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage,
    }))
    .into_response()
}

/// A message of a request: `(role, content)`.
type Message = (String, String);
/// What is wrong with a request, and the parameter at fault.
type Invalid = (String, &'static str);

/// The model and the messages, or what is wrong and where.
fn read_request(request: &Value) -> Result<(String, Vec<Message>), Invalid> {
    let model = request.get("model").and_then(Value::as_str).filter(|m| !m.is_empty());
    let model = model.ok_or(("`model` must be a non-empty string.".to_owned(), "model"))?;
    let list = request.get("messages").and_then(Value::as_array).filter(|m| !m.is_empty());
    let list = list.ok_or(("`messages` must be a non-empty array.".to_owned(), "messages"))?;
    let mut messages = Vec::with_capacity(list.len());
    for (i, message) in list.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str);
        let Some(role) = role.filter(|r| ["system", "developer", "user", "assistant", "tool"].contains(r)) else {
            return Err((
                format!("`messages[{i}].role` must be system, developer, user, assistant or tool."),
                "messages",
            ));
        };
        let Some(content) = message.get("content").and_then(Value::as_str) else {
            return Err((format!("`messages[{i}].content` must be a string."), "messages"));
        };
        messages.push((role.to_owned(), content.to_owned()));
    }
    Ok((model.to_owned(), messages))
}

/// The knowledge line sharing the most words with the last question, and the turn number.
fn answer(messages: &[Message]) -> String {
    let question = messages.iter().rev().find(|(role, _)| role == "user").map_or("", |(_, c)| c.as_str());
    let asked = word_set(question);
    let facts = messages
        .iter()
        .filter(|(role, _)| role == "system" || role == "developer")
        .flat_map(|(_, content)| content.lines())
        .filter_map(|line| line.trim().strip_prefix("- "));
    let mut best: Option<(usize, &str)> = None;
    for fact in facts {
        let shared = word_set(fact).intersection(&asked).count();
        if shared > 0 && best.is_none_or(|(most, _)| shared > most) {
            best = Some((shared, fact.trim()));
        }
    }
    let turn = messages.iter().filter(|(role, _)| role == "user").count();
    format!("{} (turn {turn})", best.map_or(NO_NOTE, |(_, fact)| fact))
}

/// Words of three letters or more (short words say little about a topic), lowercased and cut
/// to five letters, so `refund` and `refunds` count as one word.
fn word_set(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(|w| w.to_lowercase().chars().take(5).collect())
        .collect()
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// The answer as `chat.completion.chunk` events, a word each, then `[DONE]`.
fn stream(model: &str, text: &str, usage: Option<Value>) -> Response {
    let chunk = |delta: Value, finish: Value| {
        let event = json!({
            "id": "chatcmpl-sandbox", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        format!("data: {event}\n\n")
    };
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    let mut start = 0;
    for (i, c) in text.char_indices().skip(1) {
        if c == ' ' {
            events.push(chunk(json!({"content": &text[start..i]}), Value::Null));
            start = i;
        }
    }
    events.push(chunk(json!({"content": &text[start..]}), Value::Null));
    events.push(chunk(json!({}), json!("stop")));
    if let Some(usage) = usage {
        let event = json!({"id": "chatcmpl-sandbox", "object": "chat.completion.chunk", "created": 0,
                           "model": model, "choices": [], "usage": usage});
        events.push(format!("data: {event}\n\n"));
    }
    events.push("data: [DONE]\n\n".to_owned());
    let body = Body::from_stream(futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>)));
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

fn error(status: StatusCode, kind: &str, message: &str, param: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": param, "code": Value::Null}});
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(list: &[(&str, &str)]) -> Vec<Message> {
        list.iter().map(|(r, c)| ((*r).to_owned(), (*c).to_owned())).collect()
    }

    #[test]
    fn answers_with_the_closest_knowledge_line() {
        let system = "You help.\nKnowledge:\n- Refunds take five business days.\n- Shipping is free over 50 euros.";
        let asked = messages(&[("system", system), ("user", "How long do refunds take?")]);
        assert_eq!(answer(&asked), "Refunds take five business days. (turn 1)");
        let asked = messages(&[("system", system), ("user", "Can I get a refund?")]);
        assert_eq!(answer(&asked), "Refunds take five business days. (turn 1)", "refund is refunds");
        let asked =
            messages(&[("system", system), ("user", "hi"), ("assistant", "hello"), ("user", "Is shipping free?")]);
        assert_eq!(answer(&asked), "Shipping is free over 50 euros. (turn 2)");
        assert_eq!(answer(&messages(&[("user", "What is the meaning of life?")])), "I have no note on that. (turn 1)");
    }

    #[test]
    fn requests_are_checked() {
        assert!(read_request(&json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})).is_ok());
        assert_eq!(read_request(&json!({"messages": []})).unwrap_err().1, "model");
        assert_eq!(read_request(&json!({"model": "m", "messages": []})).unwrap_err().1, "messages");
        let bad_role = read_request(&json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]}));
        assert!(bad_role.unwrap_err().0.contains("messages[0].role"));
    }
}
