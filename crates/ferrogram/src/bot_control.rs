//! `ferrogram bot start|stop|reload|status` (and `bot remove` with a token): the running
//! server's bots, through its listener's REST API (`/api/v1/bots…`, `ferrogram_server::api`,
//! docs/api.md) with an API token (`ferrogram token create`).

use serde_json::Value;

/// Where the server listens and the token to show it.
#[derive(clap::Args)]
pub(crate) struct Remote {
    /// The server's listener (`server.listen`).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// An API token (`ferrogram token create`); an editor's at least to act, a viewer's to read.
    #[arg(long, env = "FERROGRAM_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl Remote {
    /// Whether an API token was given (then `bot remove` goes through the server).
    pub(crate) fn has_token(&self) -> bool {
        self.token.as_deref().is_some_and(|token| !token.trim().is_empty())
    }

    /// The server's URL, as given.
    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    /// Whether something answers HTTP at the server's control API (without a token: a
    /// ferrogram server answers 401). A connection refused or timed out: `false`.
    pub(crate) async fn answers(&self) -> bool {
        let Ok(http) = ferrogram_telegram::http_client() else { return false };
        let url = format!("{}/api/v1/bots", self.server.trim_end_matches('/'));
        let probe = http.get(url).timeout(std::time::Duration::from_secs(3)).send().await;
        probe.is_ok()
    }
}

/// What to do to a bot.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Start,
    Stop,
    Reload,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Reload => "reload",
        }
    }
}

/// Calls the API; the answer's JSON, or its error message.
async fn call(remote: &Remote, method: reqwest::Method, path: &str) -> Result<Value, String> {
    let token = remote.token.as_deref().ok_or("an API token is needed: --token or FERROGRAM_API_TOKEN")?;
    let http = ferrogram_telegram::http_client().map_err(|e| e.to_string())?;
    let url = format!("{}{path}", remote.server.trim_end_matches('/'));
    let response =
        http.request(method, &url).bearer_auth(token).send().await.map_err(|e| format!("{}: {e}", remote.server))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    // Errors are problem details (RFC 9457): `detail` says what went wrong.
    match body["detail"].as_str() {
        Some(error) => Err(format!("{error} ({status})")),
        None => Err(format!("{url}: {status}")),
    }
}

/// `bot start|stop|reload NAME`: the bot's status after it; an error when the bot does not run
/// afterwards (start, reload) or still does (stop).
pub(crate) async fn act(remote: &Remote, action: Action, name: &str) -> Result<(), String> {
    let path = format!("/api/v1/bots/{name}/{}", action.as_str());
    let status = call(remote, reqwest::Method::POST, &path).await?;
    println!("{}", describe(&status));
    let now = status["status"].as_str().unwrap_or_default();
    let wanted = if action == Action::Stop { "stopped" } else { "running" };
    if now == wanted {
        return Ok(());
    }
    let last = status["errors"].as_array().and_then(|errors| errors.last()).and_then(|e| e["message"].as_str());
    Err(format!("{name} is {now}{}", last.map(|e| format!(": {e}")).unwrap_or_default()))
}

/// `bot remove NAME` through the server (`DELETE /api/v1/bots/NAME`): it stops the bot and
/// removes it; what was deleted (`fleet::removal_report`).
pub(crate) async fn remove(remote: &Remote, name: &str, keep_data: bool) -> Result<Value, String> {
    let path = format!("/api/v1/bots/{name}{}", if keep_data { "?keep_data=true" } else { "" });
    call(remote, reqwest::Method::DELETE, &path).await
}

/// `removed WORKSPACE/NAME (stopped first): N versions, its stored token, M data rows (TABLE n, …)`.
pub(crate) fn describe_removal(removed: &Value) -> String {
    let (workspace, name) = (removed["workspace"].as_str().unwrap_or("?"), removed["name"].as_str().unwrap_or("?"));
    let stopped = if removed["was_running"] == Value::Bool(true) { " (stopped first)" } else { "" };
    let versions = removed["versions"].as_u64().unwrap_or_default();
    let mut text = format!("removed {workspace}/{name}{stopped}: {versions} version{}", plural(versions));
    let secrets = removed["secrets"].as_u64().unwrap_or_default();
    if secrets > 0 {
        text.push_str(&format!(", {secrets} stored secret{} (its token)", plural(secrets)));
    }
    let id = removed["telegram_id"].as_u64().map(|id| format!(" (bot id {id})")).unwrap_or_default();
    if removed["kept_data"] == Value::Bool(true) {
        text.push_str(&format!("; its data kept{id}: a bot of the same id finds it again"));
        return text;
    }
    let rows: Vec<(String, u64)> = removed["deleted_rows"]
        .as_object()
        .map(|rows| rows.iter().map(|(table, n)| (table.clone(), n.as_u64().unwrap_or_default())).collect())
        .unwrap_or_default();
    let total: u64 = rows.iter().map(|(_, n)| n).sum();
    text.push_str(&format!(", {total} data row{}", plural(total)));
    if !rows.is_empty() {
        let each: Vec<String> = rows.iter().map(|(table, n)| format!("{table} {n}")).collect();
        text.push_str(&format!(" ({})", each.join(", ")));
    }
    text
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `bot status [NAME]`: one bot's status, or every bot's of the token's workspace.
pub(crate) async fn status(remote: &Remote, name: Option<&str>) -> Result<(), String> {
    match name {
        Some(name) => {
            let path = format!("/api/v1/bots/{name}/status");
            println!("{}", describe(&call(remote, reqwest::Method::GET, &path).await?))
        }
        None => {
            // Every page of the list; a bot the server does not run has no status.
            let mut bots = Vec::new();
            let mut cursor = String::new();
            loop {
                let path = format!("/api/v1/bots?limit=200{cursor}");
                let page = call(remote, reqwest::Method::GET, &path).await?;
                bots.extend(page["items"].as_array().cloned().unwrap_or_default());
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = format!("&cursor={next}"),
                    None => break,
                }
            }
            if bots.is_empty() {
                println!("no bots");
            }
            for bot in &bots {
                match bot.get("status").filter(|s| s.is_object()) {
                    Some(status) => println!("{}", describe(status)),
                    None => println!("{}: not run by this server", bot["name"].as_str().unwrap_or("?")),
                }
            }
        }
    }
    Ok(())
}

/// `NAME: STATUS since TIME (version N)`, then the last errors, one an indented line each.
fn describe(status: &Value) -> String {
    let name = status["name"].as_str().unwrap_or("?");
    let state = status["status"].as_str().unwrap_or("?");
    let since = status["since"].as_i64().map(crate::bot_command::utc).unwrap_or_default();
    let version = status["version"].as_i64().map(|v| format!(" (version {v})")).unwrap_or_default();
    let mut text = format!("{name}: {state} since {since}{version}");
    if status["asleep"] == Value::Bool(true) {
        text.push_str(", asleep until its next update");
    }
    if let Some(attempts) = status["attempts"].as_u64().filter(|n| *n > 0 && state == "failing") {
        text.push_str(&format!(", {attempts} failed start{}", if attempts == 1 { "" } else { "s" }));
    }
    for error in status["errors"].as_array().into_iter().flatten() {
        let at = error["at"].as_i64().map(crate::bot_command::utc).unwrap_or_default();
        text.push_str(&format!("\n  {at}: {}", error["message"].as_str().unwrap_or_default()));
    }
    text
}
