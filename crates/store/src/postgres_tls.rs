//! TLS to PostgreSQL: which mode (libpq's `sslmode`) and which CA certificate (`sslrootcert`)
//! a connection uses, from the database URL, the settings given besides it ([`Tls`]: the
//! configuration's `database.tls_mode` and `database.tls_ca`) and libpq's `PGSSLMODE` /
//! `PGSSLROOTCERT`; all checked before connecting (the CA file read and parsed). Connection
//! errors are then explained in words (the certificate, the CA file, the host) instead of sqlx's
//! `invalid peer certificate: UnknownIssuer`. Messages never hold the URL (it may carry a
//! password). Decision 0037.

use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::Error;

/// How a connection to PostgreSQL uses TLS: libpq's `sslmode` values, but `allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP, never TLS.
    Disable,
    /// TLS when the server offers it, plain TCP otherwise; the certificate is not checked.
    Prefer,
    /// TLS or no connection; the certificate is not checked (with a CA given: as `VerifyCa`).
    Require,
    /// TLS with a certificate signed by the CA given (or one of the system's). libpq accepts it
    /// for any host name; the driver here (sqlx 0.8 with rustls 0.23.24 or later) checks the
    /// name as `VerifyFull` does (decision 0037).
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host connected to.
    VerifyFull,
}

/// The modes, for messages.
pub const TLS_MODES: &str = "`disable`, `prefer`, `require`, `verify-ca` or `verify-full`";

impl TlsMode {
    /// The `sslmode` value: `verify-full`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the server's certificate is checked against a CA.
    pub fn verifies(self) -> bool {
        matches!(self, TlsMode::VerifyCa | TlsMode::VerifyFull)
    }

    fn driver(self) -> PgSslMode {
        match self {
            TlsMode::Disable => PgSslMode::Disable,
            TlsMode::Prefer => PgSslMode::Prefer,
            TlsMode::Require => PgSslMode::Require,
            TlsMode::VerifyCa => PgSslMode::VerifyCa,
            TlsMode::VerifyFull => PgSslMode::VerifyFull,
        }
    }
}

impl std::fmt::Display for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TlsMode {
    type Err = String;

    /// libpq's spelling; the error says what was expected.
    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            // sqlx connects without TLS for it, where libpq would retry with TLS.
            "allow" => return Err(format!("`allow` is not supported: expected {TLS_MODES}")),
            other => return Err(format!("expected {TLS_MODES}, found `{other}`")),
        })
    }
}

/// TLS settings given besides the database URL: the configuration's `database.tls_mode` and
/// `database.tls_ca`. Each one set overrides the URL's `sslmode` / `sslrootcert`, which
/// override `PGSSLMODE` / `PGSSLROOTCERT`. For PostgreSQL only: a SQLite URL with either set is
/// refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub mode: Option<TlsMode>,
    /// A PEM file of one or more CA certificates.
    pub ca: Option<PathBuf>,
}

impl Tls {
    pub fn is_set(&self) -> bool {
        self.mode.is_some() || self.ca.is_some()
    }
}

/// The parameters the driver reads from a PostgreSQL URL's query (sqlx 0.8's list); any other
/// is refused rather than ignored (a misspelt `sslmode` would silently connect unchecked).
const URL_PARAMETERS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// Where a setting came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Settings,
    Url,
    Env,
    /// The mode only: no mode given, a CA given.
    Implied,
    Default,
}

impl Origin {
    fn mode(self) -> &'static str {
        match self {
            Origin::Settings => "database.tls_mode",
            Origin::Url => "sslmode in the database URL",
            Origin::Env => "PGSSLMODE",
            Origin::Implied => "a CA given and no mode",
            Origin::Default => "the default",
        }
    }

    fn ca(self) -> &'static str {
        match self {
            Origin::Settings => "database.tls_ca",
            Origin::Url => "sslrootcert in the database URL",
            _ => "PGSSLROOTCERT",
        }
    }
}

/// The TLS settings in force for one PostgreSQL database, and what explains its connection
/// errors.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub mode: TlsMode,
    pub ca: Option<PathBuf>,
    mode_from: Origin,
    /// The host name or address the certificate must name (verify-full).
    host: String,
    /// `HOST:PORT`, or the socket's path.
    server: String,
}

/// The settings in force for the PostgreSQL `url` and `tls`; `env` reads libpq's variables.
/// Refuses unknown URL parameters, a mode that cannot use the CA given, and a CA file that
/// cannot be read or holds no certificate. Before the driver parses the URL, whose message
/// for a bad `sslmode` says less.
pub(crate) fn resolve(url: &str, tls: &Tls, env: impl Fn(&str) -> Option<String>) -> Result<Resolved, Error> {
    let (url_mode, url_ca) = url_settings(url)?;
    let env_mode = match env("PGSSLMODE").filter(|text| !text.is_empty()) {
        Some(text) => Some(text.parse::<TlsMode>().map_err(|why| Error::Connect(format!("PGSSLMODE: {why}")))?),
        None => None,
    };
    let env_ca = env("PGSSLROOTCERT").filter(|text| !text.is_empty()).map(PathBuf::from);
    let mode = first(tls.mode, url_mode, env_mode);
    let ca = first(tls.ca.clone(), url_ca, env_ca);
    let (mode, mode_from) = match (mode, &ca) {
        (None, None) => (TlsMode::Prefer, Origin::Default),
        // A CA given is meant to be checked.
        (None, Some(_)) => (TlsMode::VerifyFull, Origin::Implied),
        // As libpq does, for compatibility with its versions before verify-ca.
        (Some((TlsMode::Require, from)), Some(_)) => (TlsMode::VerifyCa, from),
        (Some((mode @ (TlsMode::Disable | TlsMode::Prefer), from)), Some((path, ca_from))) => {
            return Err(Error::Connect(format!(
                "sslmode={mode} ({}) does not check the server's certificate, but a CA certificate is given \
                 ({}: {}): use verify-full (or verify-ca) to check it, or leave the CA out",
                from.mode(),
                ca_from.ca(),
                path.display()
            )));
        }
        (Some((mode, from)), _) => (mode, from),
    };
    let ca = ca.map(|(path, _)| path);
    if let Some(path) = &ca {
        check_ca(path)?;
    }
    Ok(Resolved { mode, ca, mode_from, host: String::new(), server: String::new() })
}

/// The value of the highest layer that sets it, and which.
fn first<T>(settings: Option<T>, url: Option<T>, env: Option<T>) -> Option<(T, Origin)> {
    match (settings, url, env) {
        (Some(value), _, _) => Some((value, Origin::Settings)),
        (None, Some(value), _) => Some((value, Origin::Url)),
        (None, None, Some(value)) => Some((value, Origin::Env)),
        (None, None, None) => None,
    }
}

/// The URL's `sslmode` and `sslrootcert` (under any of the driver's spellings); an unknown
/// parameter is an error naming it (never its value: it may be a password). The URL is read
/// as the driver reads it; one that does not parse is left to the driver to refuse.
fn url_settings(url: &str) -> Result<(Option<TlsMode>, Option<PathBuf>), Error> {
    let (mut mode, mut ca) = (None, None);
    let Ok(url) = url::Url::parse(url) else { return Ok((mode, ca)) };
    for (key, value) in url.query_pairs() {
        match &*key {
            "sslmode" | "ssl-mode" => {
                let parsed =
                    value.parse().map_err(|why| Error::Connect(format!("sslmode in the database URL: {why}")))?;
                mode = Some(parsed);
            }
            "sslrootcert" | "ssl-root-cert" | "ssl-ca" => ca = Some(PathBuf::from(&*value)),
            known if URL_PARAMETERS.contains(&known) || known.starts_with("options[") => {}
            unknown => {
                return Err(Error::Connect(format!(
                    "unknown parameter `{unknown}` in the database URL (known: {})",
                    URL_PARAMETERS.join(", ")
                )));
            }
        }
    }
    Ok((mode, ca))
}

/// Reads the CA file as sqlx will, and refuses one that cannot be read, is not PEM, holds no
/// certificate or a certificate rustls cannot take as a trust anchor.
fn check_ca(path: &Path) -> Result<(), Error> {
    let name = path.display();
    let pem = std::fs::read(path)
        .map_err(|error| Error::Connect(format!("the CA certificate file {name} cannot be read: {error}")))?;
    let mut roots = rustls::RootCertStore::empty();
    for (index, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let cert = cert.map_err(|error| {
            Error::Connect(format!("the CA certificate file {name} is not a PEM file of certificates: {error}"))
        })?;
        roots.add(cert).map_err(|error| {
            Error::Connect(format!(
                "certificate {} in the CA certificate file {name} is not usable: {error}",
                index + 1
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(Error::Connect(format!(
            "the CA certificate file {name} holds no certificate (expected PEM: `-----BEGIN CERTIFICATE-----`)"
        )));
    }
    Ok(())
}

impl Resolved {
    /// `options` (the URL as the driver parsed it) with this mode and CA; the server they name
    /// is the one [`Resolved::explain`] speaks of.
    pub fn apply(&mut self, options: PgConnectOptions) -> PgConnectOptions {
        self.host = options.get_host().to_owned();
        self.server = match options.get_socket() {
            Some(socket) => socket.display().to_string(),
            None if self.host.contains(':') => format!("[{}]:{}", self.host, options.get_port()),
            None => format!("{}:{}", self.host, options.get_port()),
        };
        let options = options.ssl_mode(self.mode.driver());
        match &self.ca {
            Some(ca) => options.ssl_root_cert(ca),
            None => options,
        }
    }

    /// A connection error in words where sqlx's would be unclear: TLS refused or failed, the
    /// certificate not signed by the CA, not for this host, expired; the server refusing a
    /// connection without TLS. Other errors are kept as they are.
    pub fn explain(&self, error: sqlx::Error) -> Error {
        let mode = self.mode;
        let server = &self.server;
        let message = match &error {
            sqlx::Error::Tls(inner) if inner.to_string() == "server does not support TLS" => format!(
                "the server at {server} does not accept TLS (its `ssl` setting is off), and sslmode={mode} ({}) \
                 requires it",
                self.mode_from.mode()
            ),
            sqlx::Error::Io(io) => match io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                Some(rustls::Error::InvalidCertificate(why)) => self.certificate(why),
                Some(other) => format!("the TLS handshake with {server} failed: {other}"),
                None => match &self.ca {
                    // sqlx reads the CA file at each new connection: it may have gone since.
                    Some(ca) if std::fs::metadata(ca).is_err() => {
                        format!("the CA certificate file {} cannot be read: {io}", ca.display())
                    }
                    _ => return Error::Database(error),
                },
            },
            sqlx::Error::Database(db)
                if mode == TlsMode::Disable
                    && db.code().as_deref() == Some("28000")
                    && db.message().contains("no encryption") =>
            {
                format!(
                    "the server at {server} accepts this user and database only over TLS (its pg_hba.conf has \
                     `hostssl` for them), and sslmode=disable ({}) does not use TLS: use require or verify-full",
                    self.mode_from.mode()
                )
            }
            _ => return Error::Database(error),
        };
        Error::Connect(message)
    }

    /// Why the server's certificate was refused.
    fn certificate(&self, why: &rustls::CertificateError) -> String {
        use rustls::CertificateError as Why;
        let mode = self.mode;
        match why {
            Why::UnknownIssuer | Why::BadSignature => match &self.ca {
                Some(ca) => {
                    format!("the server's certificate is not signed by the CA in {} (sslmode={mode})", ca.display())
                }
                None => format!(
                    "the server's certificate is not signed by a CA this system trusts (sslmode={mode}): give the \
                     CA that signed it with database.tls_ca or sslrootcert=FILE in the URL"
                ),
            },
            // sqlx 0.8 checks the name under verify-ca too: it lets only the old form of this
            // error through, and rustls 0.23.24 on gives the new one (sqlx issue #3793).
            Why::NotValidForName | Why::NotValidForNameContext { .. } => format!(
                "the server's certificate is not valid for the host {} (sslmode={mode} checks the name{}): \
                 connect by a name or address the certificate lists",
                self.host,
                if mode == TlsMode::VerifyCa { " too, with this build's driver" } else { "" }
            ),
            Why::Expired | Why::ExpiredContext { .. } => "the server's certificate has expired".to_owned(),
            Why::NotValidYet | Why::NotValidYetContext { .. } => "the server's certificate is not valid yet".to_owned(),
            other => format!("the server's certificate is refused (sslmode={mode}): {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, tls: &Tls, env: &[(&str, &str)]) -> Result<(TlsMode, Option<PathBuf>), String> {
        let lookup = |name: &str| env.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned());
        resolve(url, tls, lookup).map(|resolved| (resolved.mode, resolved.ca)).map_err(|e| e.to_string())
    }

    /// A PEM file holding a self-signed CA certificate made for the test.
    fn a_ca_file() -> PathBuf {
        let key = rcgen::KeyPair::generate().expect("a key");
        let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("a certificate");
        let path =
            std::env::temp_dir().join(format!("ferrogram-tls-unit-{}-{}.pem", std::process::id(), fastrand::u64(..)));
        std::fs::write(&path, cert.pem()).expect("written");
        path
    }

    #[test]
    fn modes_read_as_libpq_spells_them() {
        for mode in [TlsMode::Disable, TlsMode::Prefer, TlsMode::Require, TlsMode::VerifyCa, TlsMode::VerifyFull] {
            assert_eq!(mode.as_str().parse::<TlsMode>(), Ok(mode));
        }
        assert!("allow".parse::<TlsMode>().unwrap_err().contains("`allow` is not supported"));
        assert!("verify_full".parse::<TlsMode>().unwrap_err().contains("found `verify_full`"));
    }

    #[test]
    fn settings_override_the_url_which_overrides_the_environment() {
        let url = "postgres://u@db.example/app?sslmode=require";
        assert_eq!(settings("postgres://u@db.example/app", &Tls::default(), &[]), Ok((TlsMode::Prefer, None)));
        assert_eq!(settings(url, &Tls::default(), &[]), Ok((TlsMode::Require, None)));
        assert_eq!(settings(url, &Tls::default(), &[("PGSSLMODE", "disable")]), Ok((TlsMode::Require, None)));
        let key = Tls { mode: Some(TlsMode::VerifyFull), ca: None };
        assert_eq!(settings(url, &key, &[]), Ok((TlsMode::VerifyFull, None)));
        assert_eq!(
            settings("postgres://u@h/app?ssl-mode=disable", &Tls::default(), &[("PGSSLMODE", "require")]),
            Ok((TlsMode::Disable, None))
        );
        assert_eq!(
            settings("postgres://u@h/app", &Tls::default(), &[("PGSSLMODE", "verify-ca")]),
            Ok((TlsMode::VerifyCa, None))
        );
    }

    #[test]
    fn a_ca_given_is_checked() {
        let ca = a_ca_file();
        let with_ca = format!("postgres://u@h/app?sslrootcert={}", ca.display());
        // No mode: verify-full; require with a CA: verify-ca, as libpq.
        assert_eq!(settings(&with_ca, &Tls::default(), &[]), Ok((TlsMode::VerifyFull, Some(ca.clone()))));
        let key = Tls { mode: None, ca: Some(ca.clone()) };
        assert_eq!(
            settings("postgres://u@h/app?sslmode=require", &key, &[]),
            Ok((TlsMode::VerifyCa, Some(ca.clone())))
        );
        let error = settings(&format!("{with_ca}&sslmode=prefer"), &Tls::default(), &[]).unwrap_err();
        assert!(error.contains("sslmode=prefer (sslmode in the database URL) does not check"), "{error}");
        assert!(error.contains(&format!("(sslrootcert in the database URL: {})", ca.display())), "{error}");
        let key = Tls { mode: Some(TlsMode::Disable), ca: None };
        let error = settings("postgres://u@h/app", &key, &[("PGSSLROOTCERT", ca.to_str().unwrap())]).unwrap_err();
        assert!(error.contains("sslmode=disable (database.tls_mode)") && error.contains("(PGSSLROOTCERT:"), "{error}");
        let _ = std::fs::remove_file(ca);
    }

    #[test]
    fn a_ca_file_that_cannot_serve_is_refused_before_connecting() {
        let missing = std::env::temp_dir().join("ferrogram-no-such-ca.pem");
        let tls = |path: &Path| Tls { mode: Some(TlsMode::VerifyFull), ca: Some(path.to_owned()) };
        let error = settings("postgres://u@h/app", &tls(&missing), &[]).unwrap_err();
        assert!(
            error.starts_with(&format!("the CA certificate file {} cannot be read: ", missing.display())),
            "{error}"
        );

        let not_pem = std::env::temp_dir().join(format!("ferrogram-not-pem-{}.pem", std::process::id()));
        std::fs::write(&not_pem, "just text\n").unwrap();
        let error = settings("postgres://u@h/app", &tls(&not_pem), &[]).unwrap_err();
        assert!(error.contains("holds no certificate (expected PEM"), "{error}");
        let _ = std::fs::remove_file(&not_pem);
    }

    #[test]
    fn unknown_url_parameters_are_refused_by_name_only() {
        let error = settings("postgres://u@h/app?ssl_mode=verify-full", &Tls::default(), &[]).unwrap_err();
        assert!(error.starts_with("unknown parameter `ssl_mode` in the database URL (known: sslmode,"), "{error}");
        let error = settings("postgres://u@h/app?pasword=s3cret", &Tls::default(), &[]).unwrap_err();
        assert!(error.contains("`pasword`") && !error.contains("s3cret"), "{error}");
        // A `?` in a password ends the URL's host part, for the driver as here: nothing of the
        // password becomes a parameter's name.
        assert_eq!(settings("postgres://u:pa?ss@h/app", &Tls::default(), &[]), Ok((TlsMode::Prefer, None)));
        let error = settings("postgres://u@h/app?sslmode=verify-fuller", &Tls::default(), &[]).unwrap_err();
        assert!(error.contains("sslmode in the database URL: expected"), "{error}");
        let known = "postgres://u@h/app?statement-cache-capacity=10&options[search_path]=x&application_name=a";
        assert_eq!(settings(known, &Tls::default(), &[]), Ok((TlsMode::Prefer, None)));
    }
}
