//! A configuration file changes what `ferrogram serve` does: with no flags but `--config`, the
//! sandbox listens on the file's port and runs the bots of the file's folder, on the file's
//! database and state file.
//!
//! One process of the built binary. Every wait has a deadline. The process is killed when
//! dropped; its log is in the test's temporary folder.

#![cfg(unix)]

mod binary;

use std::time::Duration;

use binary::request;
use tokio::time::Instant;

const STARTUP: Duration = Duration::from_secs(30);

const BOT: &str = "ferrogram: 1\nbot: {name: configured}\non:\n  - command: start\n    do: [{reply: hi}]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_listens_on_the_port_of_its_configuration_file() {
    let folder = std::env::temp_dir().join(format!("ferrogram-serve-config-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(folder.join("my-bots")).expect("temporary folder");
    std::fs::write(folder.join("my-bots/configured.yaml"), BOT).expect("bot file");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port();
    std::fs::write(
        folder.join("ferrogram.toml"),
        format!(
            "[database]\nurl = \"sqlite://db/bots.db\"\n\n[server]\nlisten = \"127.0.0.1:0\"\n\n\
             [sandbox]\nport = {port}\nstate = \"sandbox/state.json\"\n\n\
             [bots]\nfolder = \"my-bots\"\n\n[inbox]\nkeep = \"1h\"\n\n[shutdown]\ngrace = \"5s\"\n"
        ),
    )
    .expect("configuration file");
    let mut child = binary::spawn(&folder, "serve.log", &["serve", "--config", "ferrogram.toml"]);
    let (http, url) = (ferrogram_telegram::http_client().expect("http client"), format!("http://127.0.0.1:{port}"));

    // The bot of the file's folder runs in the sandbox on the file's port.
    let bot_id = ferrogram_core::sandbox_bot_id("configured");
    let deadline = Instant::now() + STARTUP;
    loop {
        let bots = request(&http, format!("{url}/sandbox/bots"), None).await.unwrap_or_default();
        if bots.as_array().is_some_and(|bots| bots.iter().any(|bot| bot["id"].as_u64() == Some(bot_id))) {
            break;
        }
        assert!(
            Instant::now() < deadline && child.try_wait().expect("the process").is_none(),
            "the bot did not start; see {}",
            folder.join("serve.log").display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The file's database, created where it says.
    assert!(folder.join("db/bots.db").exists(), "no database at db/bots.db");

    child.kill().await.expect("ferrogram stopped");
    let _ = std::fs::remove_dir_all(&folder);
}
