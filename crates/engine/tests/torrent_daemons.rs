//! media-desk (`examples/media-desk.yaml`) against the real torrent daemons: Debian's
//! `qbittorrent-nox` and `transmission-daemon`, each started by the test on 127.0.0.1 with a
//! temporary profile, a free port and a known user name and password, and killed when the test
//! ends. The bot logs in for real through its `http_sessions` (qBittorrent's form login and `SID`
//! cookie; Transmission's basic authentication and 409 session-id handshake, decision 0057).
//!
//! Each test adds a made-up magnet (no peers, no internet: it stays at 0 %), lists it, opens its
//! card, pauses, resumes and deletes it with the bot's buttons, and checks each change in the
//! daemon's own state through its API. A wrong password gets the user a clear message, and the
//! bot goes on working once the right one is set.
//!
//! Without the daemons (`conformance/install.sh` installs them as root), each test prints a
//! `SKIPPED` line and passes, unless `FERROGRAM_REQUIRE_CONFORMANCE=1` is set, as in CI.
//! `QBITTORRENT=/path` and `TRANSMISSION=/path` pick other binaries.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha512;

use common::{Bot, World, test_config};

const USER: &str = "ferrogram";
const PASSWORD: &str = "correct horse battery";
/// A made-up info-hash: no peer has it, so the torrent waits for its metadata at 0 %.
const HASH: &str = "0123456789abcdef0123456789abcdef01234567";
const DEADLINE: Duration = Duration::from_secs(20);

fn magnet(name: &str) -> String {
    format!("magnet:?xt=urn:btih:{HASH}&dn={name}")
}

/// The daemon's binary: `$VAR`, else `name` on the `PATH`; `None` after saying why.
fn daemon_binary(name: &str, var: &str) -> Option<PathBuf> {
    let found = std::env::var_os(var).map(PathBuf::from).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let why = format!("{name} is not installed");
        if std::env::var("FERROGRAM_REQUIRE_CONFORMANCE").is_ok_and(|v| v == "1") {
            panic!("media-desk against {name}: {why} (FERROGRAM_REQUIRE_CONFORMANCE=1; run conformance/install.sh)");
        }
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr().lock(),
            "\nSKIPPED media-desk against {name}: {why} (run conformance/install.sh as root)\n"
        );
    }
    found
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// A daemon the test started: killed, waited for and its directory removed when dropped.
struct Daemon {
    child: Child,
    dir: PathBuf,
    port: u16,
    name: &'static str,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The daemon's own account of what happened, next to the test's failure.
            let log = std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default();
            eprintln!("--- {} log ({}) ---\n{log}", self.name, self.url());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Daemon {
    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrogram-{name}-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn spawn(name: &'static str, mut command: Command, dir: PathBuf, port: u16) -> Daemon {
        let log = std::fs::File::create(dir.join("daemon.log")).expect("log file");
        command.stdin(Stdio::null()).stdout(log.try_clone().expect("log file")).stderr(log);
        let child = command.spawn().unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Daemon { child, dir, port, name }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until the daemon answers HTTP on its port (any status).
    async fn wait_ready(&mut self, path: &str) {
        let client = ferrogram_telegram::http_client().expect("http client");
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if client.get(format!("{}{path}", self.url())).send().await.is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default();
                panic!("{} exited ({status}) before answering:\n{log}", self.name);
            }
            assert!(tokio::time::Instant::now() < deadline, "{} did not answer within {DEADLINE:?}", self.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// qBittorrent with a Web UI on a free port of 127.0.0.1, its login `USER`/`PASSWORD` (set
    /// as the PBKDF2 hash qBittorrent keeps in its configuration), no DHT, LSD or PeX.
    async fn qbittorrent(binary: &Path) -> Daemon {
        let dir = Daemon::temp_dir("qbittorrent");
        let port = free_port();
        let config = dir.join("qBittorrent/config");
        std::fs::create_dir_all(&config).expect("config dir");
        let conf = format!(
            "[LegalNotice]\nAccepted=true\n\n\
             [BitTorrent]\nSession\\DHTEnabled=false\nSession\\LSDEnabled=false\nSession\\PeXEnabled=false\n\
             Session\\Port={}\nSession\\DefaultSavePath={}\n\n\
             [Preferences]\nWebUI\\Address=127.0.0.1\nWebUI\\Port={port}\nWebUI\\Username={USER}\n\
             WebUI\\Password_PBKDF2=\"{}\"\nWebUI\\LocalHostAuth=true\n",
            free_port(),
            dir.join("downloads").display(),
            qbittorrent_password_hash(PASSWORD),
        );
        std::fs::write(config.join("qBittorrent.conf"), conf).expect("config written");
        let mut command = Command::new(binary);
        command.arg(format!("--profile={}", dir.display())).arg(format!("--webui-port={port}"));
        command.env("HOME", &dir);
        let mut daemon = Daemon::spawn("qbittorrent-nox", command, dir, port);
        daemon.wait_ready("/api/v2/app/version").await;
        daemon
    }

    /// transmission-daemon in the foreground, RPC on a free port of 127.0.0.1 with
    /// authentication `USER`/`PASSWORD`, no DHT or port mapping.
    async fn transmission(binary: &Path) -> Daemon {
        let dir = Daemon::temp_dir("transmission");
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .arg("-f")
            .arg("-g")
            .arg(dir.join("config"))
            .args(["--rpc-bind-address", "127.0.0.1", "-p", &port.to_string()])
            .args(["-t", "-u", USER, "-v", PASSWORD])
            .arg("-w")
            .arg(dir.join("downloads"))
            .args(["-P", &free_port().to_string(), "-O", "-M"]);
        command.env("HOME", &dir);
        let mut daemon = Daemon::spawn("transmission-daemon", command, dir, port);
        daemon.wait_ready("/transmission/rpc").await;
        daemon
    }
}

/// `@ByteArray(salt:key)`: PBKDF2-HMAC-SHA512, 100 000 iterations, a 16-byte salt and a 64-byte
/// key, both in base64, as qBittorrent writes `WebUI\Password_PBKDF2`. Computed once per run
/// (100 000 unoptimised HMACs take seconds).
fn qbittorrent_password_hash(password: &str) -> String {
    static HASH: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (for_password, hash) = HASH.get_or_init(|| (password.to_owned(), pbkdf2_sha512(password)));
    assert_eq!(for_password, password, "one password per run");
    hash.clone()
}

fn pbkdf2_sha512(password: &str) -> String {
    let salt: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    let mut block = [0u8; 64];
    let mut mac = Hmac::<Sha512>::new_from_slice(password.as_bytes()).expect("any key length");
    mac.update(&salt);
    mac.update(&1u32.to_be_bytes());
    let mut u = mac.finalize().into_bytes();
    block.copy_from_slice(&u);
    for _ in 1..100_000 {
        let mut mac = Hmac::<Sha512>::new_from_slice(password.as_bytes()).expect("any key length");
        mac.update(&u);
        u = mac.finalize().into_bytes();
        block.iter_mut().zip(u.iter()).for_each(|(b, x)| *b ^= x);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("@ByteArray({}:{})", b64.encode(salt), b64.encode(block))
}

/// The test's own client of qBittorrent's Web API (its own login), to check the daemon's state.
struct QbitApi {
    client: reqwest::Client,
    url: String,
    cookie: String,
}

impl QbitApi {
    async fn login(url: &str) -> QbitApi {
        let client = ferrogram_telegram::http_client().expect("http client");
        let response = client
            .post(format!("{url}/api/v2/auth/login"))
            .form(&[("username", USER), ("password", PASSWORD)])
            .send()
            .await
            .expect("login answered");
        let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
        assert!(cookie.starts_with("SID="), "qBittorrent's login set no SID: {:?}", response.text().await);
        QbitApi { client, url: url.to_owned(), cookie }
    }

    async fn torrents(&self) -> Vec<Value> {
        let response = self
            .client
            .get(format!("{}/api/v2/torrents/info", self.url))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .expect("torrents/info answered");
        assert!(response.status().is_success(), "torrents/info: {}", response.status());
        response.json().await.expect("a JSON list")
    }

    /// Waits until the torrent `HASH` (or its absence: `None`) meets `check`.
    async fn wait_for(&self, what: &str, check: impl Fn(Option<&Value>) -> bool) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let torrents = self.torrents().await;
            let torrent = torrents.iter().find(|t| t["hash"] == HASH);
            if check(torrent) {
                return torrent.cloned();
            }
            assert!(tokio::time::Instant::now() < deadline, "qBittorrent: {what}; its torrents: {torrents:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The test's own client of Transmission's RPC (basic authentication, the 409 handshake).
struct TransmissionApi {
    client: reqwest::Client,
    url: String,
}

impl TransmissionApi {
    async fn call(&self, body: Value) -> Value {
        let mut session = String::new();
        for _ in 0..2 {
            let response = self
                .client
                .post(format!("{}/transmission/rpc", self.url))
                .basic_auth(USER, Some(PASSWORD))
                .header("X-Transmission-Session-Id", &session)
                .json(&body)
                .send()
                .await
                .expect("rpc answered");
            if response.status() == 409 {
                session = response.headers()["x-transmission-session-id"].to_str().expect("ascii").to_owned();
                continue;
            }
            assert!(response.status().is_success(), "rpc: {}", response.status());
            return response.json().await.expect("JSON");
        }
        panic!("Transmission answered 409 twice");
    }

    async fn wait_for(&self, what: &str, check: impl Fn(Option<&Value>) -> bool) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let body = json!({"method": "torrent-get", "arguments": {"fields": ["hashString", "name", "status"]}});
            let answer = self.call(body).await;
            let torrents = answer["arguments"]["torrents"].as_array().cloned().unwrap_or_default();
            let torrent = torrents.iter().find(|t| t["hashString"] == HASH);
            if check(torrent) {
                return torrent.cloned();
            }
            assert!(tokio::time::Instant::now() < deadline, "Transmission: {what}; its torrents: {torrents:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// media-desk in the engine against the sandbox, played by Ann (its admin).
struct Desk {
    world: World,
    bot: Bot,
    ann: i64,
    handled: u64,
    seen: u64,
    /// The inline buttons of the latest message that had some: (message id, label, data).
    buttons: Vec<(i64, String, String)>,
}

impl Desk {
    async fn start(daemon_port: u16) -> Desk {
        let mut config = test_config();
        config.http.allow_private.push(("127.0.0.1".into(), daemon_port));
        config.schedule_jobs = false;
        let mut world = World::start(config).await;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/media-desk.yaml");
        let file = ferrogram_schema::load(&path).expect("media-desk is valid");
        let bot = world.bot_file(file).await;
        // The sandbox numbers users from 1000001: Ann is media-desk's admin.
        let ann = world.user("Ann", "en").await;
        Desk { world, bot, ann, handled: 0, seen: 0, buttons: Vec::new() }
    }

    /// Sends `/command payload` and returns what the bot did, once it shows `expect`.
    async fn command(&mut self, line: &str, expect: &str) -> String {
        let (name, payload) =
            line.trim_start_matches('/').split_once(' ').unwrap_or((line.trim_start_matches('/'), ""));
        let mut body = json!({"command": name});
        if !payload.is_empty() {
            body["payload"] = json!(payload);
        }
        self.act("command", body, line, expect).await
    }

    /// Presses the button labelled `label` of the latest message with buttons.
    async fn press(&mut self, label: &str, expect: &str) -> String {
        let (message_id, _, data) = self
            .buttons
            .iter()
            .find(|(_, text, _)| text == label)
            .cloned()
            .unwrap_or_else(|| panic!("no button {label:?} among {:?}", self.buttons));
        self.act("callback", json!({"message_id": message_id, "data": data}), label, expect).await
    }

    async fn act(&mut self, kind: &str, body: Value, what: &str, expect: &str) -> String {
        self.world.act(self.bot, kind, self.ann, body).await;
        self.handled += 1;
        self.world.wait_handled(self.bot, self.handled).await;
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let mut shown = Vec::new();
        loop {
            let (events, seq) = self.world.events(self.bot, self.ann, self.seen, 1).await;
            self.seen = seq;
            for event in &events {
                let message = &event["message"];
                match event["kind"].as_str().unwrap_or_default() {
                    "sent" | "edited" => {
                        let rows = message["reply_markup"]["inline_keyboard"].as_array().cloned().unwrap_or_default();
                        let buttons: Vec<(i64, String, String)> = rows
                            .iter()
                            .flat_map(|row| row.as_array().cloned().unwrap_or_default())
                            .map(|b| {
                                let id = message["message_id"].as_i64().unwrap_or_default();
                                let text = b["text"].as_str().unwrap_or_default().to_owned();
                                (id, text, b["callback_data"].as_str().unwrap_or_default().to_owned())
                            })
                            .collect();
                        if !buttons.is_empty() {
                            self.buttons = buttons;
                        }
                        shown.push(message["text"].as_str().unwrap_or_default().to_owned());
                    }
                    "callback_answered" => {
                        shown.push(format!("({})", event["detail"]["text"].as_str().unwrap_or_default()));
                    }
                    _ => {}
                }
            }
            let text = shown.join(" / ");
            if text.contains(expect) {
                return text;
            }
            assert!(tokio::time::Instant::now() < deadline, "{what}: the bot showed {text:?}, not {expect:?}");
        }
    }

    async fn stop(self) {
        self.world.engine.stop(self.bot.handle).await.expect("bot stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_desk_drives_a_real_qbittorrent() {
    let Some(binary) = daemon_binary("qbittorrent-nox", "QBITTORRENT") else { return };
    let daemon = Daemon::qbittorrent(&binary).await;
    let api = QbitApi::login(&daemon.url()).await;
    assert!(api.torrents().await.is_empty(), "a fresh profile has no torrents");
    let mut desk = Desk::start(daemon.port).await;
    desk.command(&format!("/setqbit {}", daemon.url()), "qBittorrent: http://127.0.0.1").await;
    desk.command(&format!("/setqbitlogin {USER} {PASSWORD}"), "qBittorrent login set for ferrogram.").await;

    desk.command(&format!("/addmagnet {}", magnet("Ferrogram.Test.S01E01")), "➕ Added to qBittorrent").await;
    let added = api.wait_for("the magnet is added", |t| t.is_some()).await.expect("added");
    assert_eq!(added["name"], "Ferrogram.Test.S01E01");
    assert_eq!(added["progress"], 0);

    let list = desk.command("/torrents", "⬇️ Downloading (1):").await;
    assert!(list.contains("Ferrogram.Test.S01E01\n░░░░░░░░░░ 0%"), "{list}");
    let card = desk.press("Ferrogram.Test.S01E01", "░░░░░░░░░░ 0%").await;
    assert!(card.starts_with("Ferrogram.Test.S01E01\n"), "{card}");

    desk.press("⏸ Pause", "(Paused.)").await;
    api.wait_for("the torrent is paused", |t| {
        t.is_some_and(|t| t["state"].as_str().unwrap_or("").starts_with("paused"))
    })
    .await;
    let card = desk.press("🔄 Refresh", "pausedDL").await;
    assert!(card.contains("0% · pausedDL"), "the refreshed card shows the pause: {card}");

    desk.press("▶️ Resume", "(Resumed.)").await;
    api.wait_for("the torrent is resumed", |t| {
        t.is_some_and(|t| !t["state"].as_str().unwrap_or("paused").starts_with("paused"))
    })
    .await;

    desk.press("🗑 Delete", "Delete this torrent from qBittorrent?").await;
    assert!(api.wait_for("still there before the confirmation", |t| t.is_some()).await.is_some());
    desk.press("🗑 Yes, delete", "🗑 Deleted from qBittorrent.").await;
    api.wait_for("the torrent is deleted", |t| t.is_none()).await;
    desk.command("/torrents", "Nothing is downloading.").await;
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_qbittorrent_password_is_told_and_the_right_one_works() {
    let Some(binary) = daemon_binary("qbittorrent-nox", "QBITTORRENT") else { return };
    let daemon = Daemon::qbittorrent(&binary).await;
    let mut desk = Desk::start(daemon.port).await;
    desk.command(&format!("/setqbit {}", daemon.url()), "qBittorrent: http://127.0.0.1").await;
    desk.command(&format!("/setqbitlogin {USER} not-the-password"), "login set").await;
    let told = desk.command("/torrents", "🔒 qBittorrent refused the login").await;
    assert!(!told.contains("not-the-password"), "the password is never shown: {told}");
    let told = desk.command(&format!("/addmagnet {}", magnet("Nope")), "🔒 qBittorrent refused the login").await;
    assert!(!told.contains("Added"), "{told}");
    let api = QbitApi::login(&daemon.url()).await;
    assert!(api.torrents().await.is_empty(), "nothing was added without a login");
    desk.command(&format!("/setqbitlogin {USER} {PASSWORD}"), "login set").await;
    desk.command("/torrents", "Nothing is downloading.").await;
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_desk_drives_a_real_transmission() {
    let Some(binary) = daemon_binary("transmission-daemon", "TRANSMISSION") else { return };
    let daemon = Daemon::transmission(&binary).await;
    let api = TransmissionApi { client: ferrogram_telegram::http_client().expect("http client"), url: daemon.url() };
    let mut desk = Desk::start(daemon.port).await;
    desk.command(&format!("/settr {}", daemon.url()), "Transmission: http://127.0.0.1").await;
    desk.command(&format!("/settrlogin {USER} {PASSWORD}"), "Transmission login set for ferrogram.").await;
    desk.command("/tr", "Nothing in Transmission.").await;

    desk.command(&format!("/traddmagnet {}", magnet("Ferrogram.Test.S01E02")), "➕ Added to Transmission").await;
    let added = api.wait_for("the magnet is added", |t| t.is_some()).await.expect("added");
    assert_eq!(added["name"], "Ferrogram.Test.S01E02");

    let list = desk.command("/tr", "⬇️ Transmission (1):").await;
    assert!(list.contains("Ferrogram.Test.S01E02\n░░░░░░░░░░ 0%"), "{list}");
    desk.press("Ferrogram.Test.S01E02", "░░░░░░░░░░ 0%").await;

    desk.press("⏸ Pause", "(Paused.)").await;
    api.wait_for("the torrent is stopped", |t| t.is_some_and(|t| t["status"] == 0)).await;
    let card = desk.press("🔄 Refresh", "stopped").await;
    assert!(card.contains("0% · stopped"), "{card}");

    desk.press("▶️ Resume", "(Resumed.)").await;
    api.wait_for("the torrent is started", |t| t.is_some_and(|t| t["status"] != 0)).await;

    desk.press("🗑 Delete", "Delete this torrent from Transmission?").await;
    desk.press("🗑 Yes, delete", "🗑 Deleted from Transmission.").await;
    api.wait_for("the torrent is removed", |t| t.is_none()).await;

    // A wrong password: Transmission answers 401, and the user is told so.
    desk.command(&format!("/settrlogin {USER} not-the-password"), "login set").await;
    let told = desk.command("/tr", "🔒 Transmission refused the login").await;
    assert!(!told.contains("not-the-password"), "{told}");
    desk.command(&format!("/settrlogin {USER} {PASSWORD}"), "login set").await;
    desk.command("/tr", "Nothing in Transmission.").await;
    desk.stop().await;
}
