//! `ferrogram serve` installs the metrics recorder at start and serves `/metrics` on its
//! listener: after a user's message to its bot, the scrape counts it for that bot, and says
//! how many bots are in each status and the process's resident memory. (The counts
//! themselves are tested in `crates/server/tests/metrics_route.rs`; this is the wiring.)

#![cfg(unix)]

#[allow(dead_code)]
mod binary;

use std::time::Duration;

use binary::serve::{STARTUP, Serve, scratch};
use tokio::time::Instant;

const ECHO: &str =
    "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do: [{reply: \"You said: {{ message.text }}\"}]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_serves_metrics_on_its_listener() {
    let folder = scratch("serve-metrics");
    std::fs::write(folder.join("bots/echo.yaml"), ECHO).expect("bot file");
    let mut serve = Serve::start(&folder, "serve.log", &[], &[]);
    let bot = serve.running(&["echo"]).await[0];
    let ann = serve.user("Ann").await;
    serve.send(bot, ann, "hello").await.expect("sent");

    let deadline = Instant::now() + STARTUP;
    let (handled, received) = (
        format!("ferrogram_updates_handled_total{{bot=\"{bot}\",outcome=\"ok\"}} 1"),
        format!("ferrogram_updates_received_total{{bot=\"{bot}\"}} 1"),
    );
    loop {
        let log = serve.log();
        let listening = log.lines().find_map(|line| line.strip_prefix("Listening on ")).map(str::to_owned);
        if let Some(listening) = listening
            && let Ok(response) = serve.http.get(format!("{listening}/metrics")).send().await
        {
            assert_eq!(response.status(), 200);
            let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
            assert_eq!(content_type, "text/plain; version=0.0.4");
            let text = response.text().await.expect("text");
            if text.lines().any(|line| line == handled) {
                assert!(text.lines().any(|line| line == received), "{text}");
                // Read at scrape time: the supervisor's one bot running, none in another
                // status, and the process's resident memory.
                assert!(text.lines().any(|line| line == "ferrogram_bots{status=\"running\"} 1"), "{text}");
                assert!(text.lines().any(|line| line == "ferrogram_bots{status=\"failing\"} 0"), "{text}");
                let rss = text
                    .lines()
                    .find_map(|line| line.strip_prefix("ferrogram_process_resident_memory_bytes "))
                    .and_then(|value| value.parse::<f64>().ok());
                assert!(rss.is_some_and(|bytes| bytes > f64::from(1u32 << 20)), "{text}");
                break;
            }
        }
        assert!(Instant::now() < deadline, "no metrics for the handled update; log:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    serve.child.kill().await.expect("ferrogram stopped");
    let _ = std::fs::remove_dir_all(&folder);
}
