//! What the tests that run the built `ferrogram` binary share: its JSON calls to the sandbox it
//! started.

use serde_json::Value;

/// A GET (no `body`) or a JSON POST to `url`: the answer's JSON, or why there is none (a
/// connection refused while the binary starts, a status that is not a success).
pub async fn request(http: &reqwest::Client, url: String, body: Option<Value>) -> Result<Value, String> {
    let builder = match body {
        Some(body) => http.post(url).json(&body),
        None => http.get(url),
    };
    let response = builder.send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    response.json().await.map_err(|e| e.to_string())
}
