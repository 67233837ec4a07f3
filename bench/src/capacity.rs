//! The rig's limit: how many Bot API round trips the sandbox answers per second with a null
//! client (a client that does nothing but send the requests), on loopback. Used by the
//! `sandbox_capacity` binary and by `compare`'s first scenario.
//!
//! - `sendMessage`: one closed loop per user sending to its own chat;
//! - `update round trip`: users act through the control API and one bot's long-polling
//!   getUpdates receives it; latency is from the act to the update's arrival.

use crate::Latencies;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What one capacity scenario measured.
#[derive(Debug, Clone)]
pub struct Throughput {
    pub count: usize,
    pub duration: Duration,
    pub latencies: Option<Latencies>,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.duration.as_secs_f64()
    }
}

/// Both scenarios against the sandbox at `url` (flood limits off), `clients` loops each.
pub async fn measure(url: &str, clients: usize, duration: Duration) -> (Throughput, Throughput) {
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients * 2).build().expect("client");
    let users = create_users(&http, url, clients).await;
    let (count, latencies) = send_messages(&http, url, &users, duration).await;
    let sends = Throughput { count, duration, latencies };
    let (count, latencies) = update_round_trips(&http, url, &users, duration).await;
    (sends, Throughput { count, duration, latencies })
}

const TOKEN: &str = "777:bench";

/// One user per client loop, each with a private chat the bot may write to.
async fn create_users(http: &reqwest::Client, url: &str, n: usize) -> Vec<i64> {
    post(http, &format!("{url}/bot{TOKEN}/getMe"), json!({})).await;
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let user: Value = post(http, &format!("{url}/sandbox/users"), json!({"first_name": format!("u{i}")})).await;
        let id = user["id"].as_i64().expect("user id");
        post(http, &format!("{url}/sandbox/act/text"), json!({"bot_id": 777, "user_id": id, "text": "hi"})).await;
        users.push(id);
    }
    post(http, &format!("{url}/bot{TOKEN}/getUpdates"), json!({"offset": -1})).await;
    users
}

pub async fn post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    http.post(url).json(&body).send().await.expect("request").json().await.expect("json")
}

async fn send_messages(
    http: &reqwest::Client,
    url: &str,
    users: &[i64],
    duration: Duration,
) -> (usize, Option<Latencies>) {
    let endpoint = format!("{url}/bot{TOKEN}/sendMessage");
    let loops = closed_loops(http, users, Instant::now() + duration, move |http, chat| {
        let endpoint = endpoint.clone();
        async move {
            let start = Instant::now();
            let answer = post(&http, &endpoint, json!({"chat_id": chat, "text": "bench"})).await;
            assert_eq!(answer["ok"], true, "{answer}");
            start.elapsed()
        }
    });
    let mut samples = Vec::new();
    for handle in loops {
        samples.extend(handle.await.expect("client loop"));
    }
    (samples.len(), Latencies::from_samples(samples))
}

/// One task per user, each repeating `call` until the deadline and keeping what it returns.
pub fn closed_loops<T, F, Fut>(
    http: &reqwest::Client,
    users: &[i64],
    deadline: Instant,
    call: F,
) -> Vec<tokio::task::JoinHandle<Vec<T>>>
where
    T: Send + 'static,
    F: Fn(reqwest::Client, i64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = T> + Send,
{
    users
        .iter()
        .map(|&user| {
            let (http, call) = (http.clone(), call.clone());
            tokio::spawn(async move {
                let mut results = Vec::new();
                while Instant::now() < deadline {
                    results.push(call(http.clone(), user).await);
                }
                results
            })
        })
        .collect()
}

/// Users act in closed loops while one bot long-polls; latency is from the start of a user's
/// act to the moment its update reaches the bot.
async fn update_round_trips(
    http: &reqwest::Client,
    url: &str,
    users: &[i64],
    duration: Duration,
) -> (usize, Option<Latencies>) {
    let deadline = Instant::now() + duration;
    let act = format!("{url}/sandbox/act/text");
    let actors = closed_loops(http, users, deadline, move |http, user| {
        let act = act.clone();
        async move {
            let start = Instant::now();
            let answer = post(&http, &act, json!({"bot_id": 777, "user_id": user, "text": "ping"})).await;
            (answer["update_id"].as_i64().expect("update_id"), start)
        }
    });
    let poll = format!("{url}/bot{TOKEN}/getUpdates");
    let mut arrivals = HashMap::new();
    let mut offset = 0;
    while Instant::now() < deadline + Duration::from_secs(1) {
        let answer = post(http, &poll, json!({"offset": offset, "timeout": 1})).await;
        let now = Instant::now();
        for update in answer["result"].as_array().expect("updates") {
            let id = update["update_id"].as_i64().expect("update_id");
            arrivals.insert(id, now);
            offset = id + 1;
        }
    }
    let mut samples = Vec::new();
    for actor in actors {
        for (id, start) in actor.await.expect("actor") {
            if let Some(arrived) = arrivals.get(&id) {
                samples.push(arrived.saturating_duration_since(start));
            }
        }
    }
    (samples.len(), Latencies::from_samples(samples))
}
