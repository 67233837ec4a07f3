//! TLS to PostgreSQL against a cluster the test makes itself: `initdb` in a temporary folder, a
//! CA and a server certificate made here (rcgen), `ssl = on` and a `pg_hba.conf` that takes
//! only TLS connections (`hostssl`), started with `pg_ctl` on a free port and stopped (and the
//! folder removed) by a guard when the test ends, passed or failed.
//!
//! The binaries are looked for in `/usr/lib/postgresql/*/bin`, then on the `PATH`; without them
//! the test is skipped loudly, unless `FERROGRAM_REQUIRE_POSTGRES=1` (CI), when it fails. As
//! root (which `initdb` refuses) the cluster runs as the `postgres` user.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ferrogram_core::ChatState;
use ferrogram_store::{Error, Options, Store, Tls, TlsMode};
use sqlx::Connection;

/// In every URL below: it must never show in an error (trust authentication ignores it).
const PASSWORD: &str = "pw-never-shown";

/// A PostgreSQL cluster of this test's own; stopped and deleted on drop.
struct Cluster {
    /// The temporary folder: `data/`, the certificates, the log.
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// The `postgres` user's uid and gid when this test runs as root.
    owner: Option<(u32, u32)>,
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a file the server reads, owned by the user it runs as.
    fn write_owned(&self, path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).expect("written");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
        }
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres:{PASSWORD}@{host}:{}/postgres{query}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.file("server.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            let _ = self
                .command("pg_ctl")
                .args(["stop", "-m", "immediate", "-w", "-t", "30", "-D"])
                .arg(self.data())
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The folder holding `initdb` and `pg_ctl`: the newest `/usr/lib/postgresql/N/bin`, else the `PATH`'s.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .collect();
    versions.sort();
    let path = std::env::var_os("PATH").unwrap_or_default();
    versions
        .into_iter()
        .rev()
        .map(|(_, bin)| bin)
        .chain(std::env::split_paths(&path))
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

/// The output of `id ARGS`, a number.
fn id(args: &[&str]) -> Option<u32> {
    let output = Command::new("id").args(args).output().ok().filter(|output| output.status.success())?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// Skips loudly, or fails under `FERROGRAM_REQUIRE_POSTGRES=1`.
fn unavailable(why: &str) {
    if std::env::var("FERROGRAM_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("PostgreSQL's binaries are required (FERROGRAM_REQUIRE_POSTGRES=1): {why}");
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "\nSKIPPED postgres TLS: {why} (FERROGRAM_REQUIRE_POSTGRES=1 fails instead)\n"
    );
}

/// The certificates: a CA, the server's (for `localhost` and 127.0.0.1, signed by the CA) and
/// another CA that signed nothing here. Returns (ca.pem, other-ca.pem).
fn certificates(cluster: &Cluster) -> (PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("a key");
    let mut ca = rcgen::CertificateParams::new(Vec::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "ferrogram test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).expect("the CA");

    let server_key = rcgen::KeyPair::generate().expect("a key");
    let mut server =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("params");
    server.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    let server = server.signed_by(&server_key, &ca).expect("the server's certificate");

    let other_key = rcgen::KeyPair::generate().expect("a key");
    let mut other = rcgen::CertificateParams::new(Vec::new()).expect("params");
    other.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    other.distinguished_name.push(rcgen::DnType::CommonName, "ferrogram test CA");
    let other = other.self_signed(&other_key).expect("the other CA");

    cluster.write_owned(&cluster.file("server.crt"), &server.pem(), 0o644);
    // PostgreSQL refuses a key others can read.
    cluster.write_owned(&cluster.file("server.key"), &server_key.serialize_pem(), 0o600);
    let (ca_file, other_file) = (cluster.file("ca.pem"), cluster.file("other-ca.pem"));
    std::fs::write(&ca_file, ca.pem()).expect("written");
    std::fs::write(&other_file, other.pem()).expect("written");
    (ca_file, other_file)
}

/// A new cluster taking only TLS connections, started; `None` when it cannot be made here.
fn start() -> Option<(Cluster, PathBuf, PathBuf)> {
    let Some(bin) = binaries() else {
        unavailable("no initdb and pg_ctl in /usr/lib/postgresql/*/bin or on the PATH");
        return None;
    };
    let owner = if id(&["-u"]) == Some(0) {
        match (id(&["-u", "postgres"]), id(&["-g", "postgres"])) {
            (Some(uid), Some(gid)) => Some((uid, gid)),
            _ => {
                unavailable("running as root, which initdb refuses, and there is no `postgres` user to run it as");
                return None;
            }
        }
    } else {
        None
    };
    let dir = std::env::temp_dir().join(format!("ferrogram-pgtls-{}-{:08x}", std::process::id(), fastrand::u32(..)));
    std::fs::create_dir(&dir).expect("a temporary folder");
    let mut cluster = Cluster { dir, bin, port: 0, owner };
    std::fs::set_permissions(&cluster.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&cluster.dir, Some(uid), Some(gid)).expect("chown");
    }

    let initdb = cluster
        .command("initdb")
        .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-locale", "--no-sync", "-D"])
        .arg(cluster.data())
        .output()
        .expect("initdb runs");
    assert!(initdb.status.success(), "initdb failed: {}", String::from_utf8_lossy(&initdb.stderr));
    let (ca, other_ca) = certificates(&cluster);
    let hba = "hostssl all all 127.0.0.0/8 trust\n";
    cluster.write_owned(&cluster.data().join("pg_hba.conf"), hba, 0o600);

    // A free port, taken back a moment later by the server: another process may take it first,
    // so a start that fails is tried again on another.
    for _ in 0..3 {
        cluster.port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port").local_addr().unwrap().port();
        let dir = cluster.dir.display();
        let conf = format!(
            "listen_addresses = '127.0.0.1,127.0.0.2'\nport = {port}\nunix_socket_directories = ''\n\
             ssl = on\nssl_cert_file = '{dir}/server.crt'\nssl_key_file = '{dir}/server.key'\n\
             fsync = off\nshared_buffers = 16MB\nmax_connections = 40\n",
            port = cluster.port
        );
        cluster.write_owned(&cluster.data().join("postgresql.auto.conf"), &conf, 0o600);
        let started = cluster
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(cluster.data())
            .arg("-l")
            .arg(cluster.file("server.log"))
            .output()
            .expect("pg_ctl runs");
        if started.status.success() {
            return Some((cluster, ca, other_ca));
        }
        eprintln!("pg_ctl start failed on port {}: {}", cluster.port, cluster.log());
    }
    panic!("the cluster did not start: {}", cluster.log());
}

fn options(tls: Tls) -> Options {
    Options { max_connections: 2, acquire_timeout: Duration::from_secs(10), tls, ..Options::default() }
}

/// The store opened (its migrations run) at `url` with `tls`, after a round trip through it.
async fn round_trip(url: &str, tls: Tls) -> Store {
    let store = Store::open_with(url, &options(tls)).await.unwrap_or_else(|error| panic!("{url}: {error}"));
    let state = ChatState { scene: Some(format!("via {url}")), ..ChatState::default() };
    store.save_chat(7, 70, &state).await.expect("saved");
    assert_eq!(store.load_chat(7, 70).await.expect("loaded"), Some(state));
    store
}

/// The error of opening the store at `url` with `tls`: an explained connection error, without
/// the URL's password.
async fn refused(url: &str, tls: Tls) -> String {
    let error = Store::open_with(url, &options(tls)).await.err().unwrap_or_else(|| panic!("{url} connected"));
    let message = error.to_string();
    assert!(matches!(error, Error::Connect(_)), "{url}: {error:?}");
    assert!(!message.contains(PASSWORD), "{message}");
    message
}

/// Whether every connection of the store's (application `ferrogram`) uses TLS, asked over a
/// connection of the test's own; `None` when the store has none open.
async fn store_uses_tls(cluster: &Cluster, sslmode: &str) -> Option<bool> {
    let mut admin =
        sqlx::PgConnection::connect(&cluster.url("127.0.0.1", &format!("?sslmode={sslmode}"))).await.expect("admin");
    let sql = "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
               WHERE a.application_name = 'ferrogram'";
    let all: Option<bool> = sqlx::query_scalar(sql).fetch_one(&mut admin).await.expect("pg_stat_ssl");
    admin.close().await.ok();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_modes_against_a_cluster_that_demands_tls() {
    let Some((cluster, ca, other_ca)) = start() else { return };
    let local = |query: &str| cluster.url("127.0.0.1", query);
    let key = |mode, ca: &Path| Tls { mode: Some(mode), ca: Some(ca.to_owned()) };

    // require: TLS, the certificate unchecked; the migrations run and a write reads back.
    let store = round_trip(&local("?sslmode=require"), Tls::default()).await;
    assert_eq!(store_uses_tls(&cluster, "require").await, Some(true));
    store.close().await;

    // verify-full with the CA that signed the server's certificate, from the URL or the keys.
    let in_url = local(&format!("?sslmode=verify-full&sslrootcert={}", ca.display()));
    round_trip(&in_url, Tls::default()).await.close().await;
    let store = round_trip(&local(""), key(TlsMode::VerifyFull, &ca)).await;
    assert_eq!(store_uses_tls(&cluster, "require").await, Some(true));
    store.close().await;
    // A CA alone means verify-full.
    round_trip(
        &format!("postgres://postgres@localhost:{}/postgres", cluster.port),
        Tls { mode: None, ca: Some(ca.clone()) },
    )
    .await
    .close()
    .await;

    // verify-full with another CA: refused, saying so.
    let message = refused(&local(""), key(TlsMode::VerifyFull, &other_ca)).await;
    assert_eq!(
        message,
        format!("the server's certificate is not signed by the CA in {} (sslmode=verify-full)", other_ca.display())
    );
    let message =
        refused(&local(&format!("?sslmode=verify-ca&sslrootcert={}", other_ca.display())), Tls::default()).await;
    assert_eq!(
        message,
        format!("the server's certificate is not signed by the CA in {} (sslmode=verify-ca)", other_ca.display())
    );
    // The keys override the URL: its CA would do, the key's does not.
    let message = refused(&in_url, Tls { mode: None, ca: Some(other_ca.clone()) }).await;
    assert!(message.contains(&format!("not signed by the CA in {}", other_ca.display())), "{message}");

    // The certificate names 127.0.0.1, not 127.0.0.2: verify-full refuses. So does verify-ca,
    // which in libpq would not check the name: sqlx 0.8 does (decision 0037); when the driver
    // changes, this says so.
    TcpStream::connect(("127.0.0.2", cluster.port)).expect("the server listens on 127.0.0.2 too");
    let other_host = cluster.url("127.0.0.2", "");
    let message = refused(&other_host, key(TlsMode::VerifyFull, &ca)).await;
    assert_eq!(
        message,
        "the server's certificate is not valid for the host 127.0.0.2 (sslmode=verify-full checks the name): \
         connect by a name or address the certificate lists"
    );
    let message = refused(&other_host, key(TlsMode::VerifyCa, &ca)).await;
    assert_eq!(
        message,
        "the server's certificate is not valid for the host 127.0.0.2 (sslmode=verify-ca checks the name too, \
         with this build's driver): connect by a name or address the certificate lists"
    );
    // verify-ca by a name the certificate lists.
    round_trip(&local(""), key(TlsMode::VerifyCa, &ca)).await.close().await;

    // disable against a server that takes only TLS (hostssl): refused, saying why.
    let message = refused(&local("?sslmode=disable"), Tls::default()).await;
    assert_eq!(
        message,
        format!(
            "the server at 127.0.0.1:{} accepts this user and database only over TLS (its pg_hba.conf has `hostssl` \
             for them), and sslmode=disable (sslmode in the database URL) does not use TLS: use require or verify-full",
            cluster.port
        )
    );
    // prefer (the default) takes the TLS the server offers.
    let store = round_trip(&local(""), Tls::default()).await;
    assert_eq!(store_uses_tls(&cluster, "require").await, Some(true));
    store.close().await;

    // Now without TLS on the server (`ssl = off`, plain connections allowed): require is refused,
    // prefer connects without TLS.
    let mut admin = sqlx::PgConnection::connect(&local("?sslmode=require")).await.expect("admin");
    sqlx::query("ALTER SYSTEM SET ssl = off").execute(&mut admin).await.expect("ssl off");
    cluster.write_owned(&cluster.data().join("pg_hba.conf"), "host all all 127.0.0.0/8 trust\n", 0o600);
    sqlx::query("SELECT pg_reload_conf()").execute(&mut admin).await.expect("reloaded");
    admin.close().await.ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let tls = sqlx::PgConnection::connect(&local("?sslmode=require")).await;
        if tls.is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "the server still offers TLS 20 s after its reload: {}", cluster.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let message = refused(&local("?sslmode=require"), Tls::default()).await;
    assert_eq!(
        message,
        format!(
            "the server at 127.0.0.1:{} does not accept TLS (its `ssl` setting is off), and sslmode=require \
             (sslmode in the database URL) requires it",
            cluster.port
        )
    );
    let message = refused(&local(""), key(TlsMode::VerifyFull, &ca)).await;
    assert!(
        message.contains("does not accept TLS") && message.contains("sslmode=verify-full (database.tls_mode)"),
        "{message}"
    );
    let store = round_trip(&local(""), Tls::default()).await;
    assert_eq!(store_uses_tls(&cluster, "disable").await, Some(false));
    store.close().await;
}
