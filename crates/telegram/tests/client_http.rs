//! What the client sends and how much it reads, against a bare HTTP server that records the
//! requests it gets and answers with fixed bytes (the sandbox always answers well).

mod common;

use std::sync::Arc;
use std::time::Duration;

use ferrogram_telegram::{Client, Error};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers every request with `answer`, then keeps the connection open without a word more
/// (`Connection: close` answers end it). Keeps the head of each request.
struct Server {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Server {
    async fn start(answer: &'static [u8]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.lock().push(String::from_utf8_lossy(&request).to_ascii_lowercase());
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                    // Hold the connection: a body shorter than announced stalls the client.
                    let _ = socket.read(&mut buf).await;
                });
            }
        });
        Server { url, heads }
    }

    fn user_agents(&self) -> Vec<String> {
        self.heads
            .lock()
            .iter()
            .flat_map(|head| head.lines().filter_map(|l| l.strip_prefix("user-agent: ").map(str::to_owned)))
            .collect()
    }
}

const TRUE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 25\r\nConnection: close\r\n\r\n{\"ok\":true,\"result\":true}";

fn client(server: &Server) -> ferrogram_telegram::ClientBuilder {
    Client::builder(common::TOKEN).api_url(&server.url).retry(ferrogram_telegram::Backoff::none())
}

#[tokio::test]
async fn the_user_agent_is_sent_with_any_http_client() {
    let server = Server::start(TRUE).await;
    let expected = ferrogram_telegram::USER_AGENT.to_ascii_lowercase();
    let pooled = client(&server).build().expect("client");
    let _: bool = pooled.call("close", &serde_json::json!({})).await.expect("answered");
    // A reqwest client without a User-Agent of its own.
    let bare = client(&server).http_client(reqwest::Client::new()).build().expect("client");
    let _: bool = bare.call("close", &serde_json::json!({})).await.expect("answered");
    let _ = bare.download_file("documents/a.txt").await.expect("downloaded");
    assert_eq!(server.user_agents(), [expected.clone(), expected.clone(), expected]);
}

#[tokio::test]
async fn downloads_stop_at_the_size_limit_even_without_a_length() {
    // 2 chunks of 64 bytes, no Content-Length.
    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
40\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\
40\r\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n0\r\n\r\n";
    let server = Server::start(CHUNKED).await;
    let strict = client(&server).max_download_bytes(100).build().expect("client");
    let mut written = Vec::new();
    let err = strict.download_to("documents/big.bin", &mut written).await.expect_err("over the limit");
    assert!(matches!(err, Error::TooLarge { limit: 100, .. }), "{err:?}");
    assert!(written.len() <= 100, "wrote {} bytes", written.len());
    let err = strict.download_file("documents/big.bin").await.expect_err("over the limit");
    assert!(matches!(err, Error::TooLarge { limit: 100, .. }), "{err:?}");

    let roomy = client(&server).max_download_bytes(128).build().expect("client");
    let mut written = Vec::new();
    assert_eq!(roomy.download_to("documents/big.bin", &mut written).await.expect("fits"), 128);
    assert_eq!(&written[..64], [b'a'; 64].as_slice());
}

#[tokio::test]
async fn a_stalled_download_times_out_by_its_own_limit() {
    // Announces 1000 bytes, sends 10, then nothing.
    const STALLED: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789";
    let server = Server::start(STALLED).await;
    let client = client(&server)
        .request_timeout(Duration::from_secs(3600))
        .download_timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let mut written = Vec::new();
    let outcome = tokio::time::timeout(Duration::from_secs(60), client.download_to("videos/v.mp4", &mut written)).await;
    let err = outcome.expect("the download timeout ends it").expect_err("stalled");
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert_eq!(written, b"0123456789");
}

#[tokio::test]
async fn oversized_answers_are_refused() {
    let server = Server::start(TRUE).await;
    let small = client(&server).max_answer_bytes(10).build().expect("client");
    let err = small.call::<_, bool>("close", &serde_json::json!({})).await.expect_err("25 bytes > 10");
    assert!(matches!(err, Error::TooLarge { limit: 10, .. }), "{err:?}");
    assert!(err.to_string().contains("larger than the limit of 10 bytes"), "{err}");
    assert!(!err.is_retryable());
}

const NO_UPDATES: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 23\r\nConnection: close\r\n\r\n{\"ok\":true,\"result\":[]}";

/// A getUpdates batch over the general limit must still be read: failing it would fetch the
/// same batch again forever and the bot would never move on.
#[tokio::test]
async fn get_updates_answers_are_read_past_the_general_limit() {
    let server = Server::start(NO_UPDATES).await;
    let small = client(&server).max_answer_bytes(10).build().expect("client");
    let updates: Vec<serde_json::Value> =
        small.call("getUpdates", &serde_json::json!({"timeout": 0})).await.expect("23 bytes read despite the 10");
    assert!(updates.is_empty());
    let err = small.call::<_, Vec<serde_json::Value>>("getMyCommands", &serde_json::json!({})).await;
    assert!(matches!(err, Err(Error::TooLarge { limit: 10, .. })), "{err:?}");
}
