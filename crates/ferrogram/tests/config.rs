//! `ferrogram config` through the built binary: the layering (default < file < environment <
//! flag) as it prints it, the errors of a bad file or variable, and docs/configuration.md
//! matching what the code generates.

// Not every helper of the module is used here.
#[allow(dead_code)]
mod binary;

use std::path::{Path, PathBuf};
use std::process::Output;

use binary::TempFolder;

impl TempFolder {
    /// Writes `text` to the file `name` in the folder: its path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("written");
        path
    }
}

/// `ferrogram ARGS` in `folder` with only the `FERROGRAM_*` variables of `env` set.
fn ferrogram(folder: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    binary::Run::new(args).current_dir(folder).without_ferrogram_env().envs(env).output()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FILE: &str = r#"# what the operator wrote
[sandbox]
port = 9000
state = "state-from-file.json"

[bots]
folder = "bots-from-file"

[inbox]
keep = "2h"

[log]
format = "json"
"#;

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let folder = TempFolder::new("config-layers");
    folder.file("ferrogram.toml", FILE);
    let env = [("FERROGRAM_SANDBOX_PORT", "9001"), ("FERROGRAM_BOTS_FOLDER", "bots-from-env")];
    let output = ferrogram(&folder.0, &["config", "--config", "ferrogram.toml", "--port", "9002"], &env);
    let printed = text(&output.stdout);
    assert!(output.status.success(), "{printed}{}", text(&output.stderr));
    for line in [
        "port = 9002  # flag --port",
        "folder = \"bots-from-env\"  # env FERROGRAM_BOTS_FOLDER",
        "state = \"state-from-file.json\"  # file ferrogram.toml:4",
        "keep = \"2h\"  # file ferrogram.toml:10",
        "format = \"json\"  # file ferrogram.toml:13",
        "url = \"sqlite://data/ferrogram.db\"  # default",
        "grace = \"10s\"  # default",
    ] {
        assert!(printed.lines().any(|printed| printed == line), "no line {line:?} in\n{printed}");
    }

    // FERROGRAM_CONFIG names the file as --config does; a global flag counts as a flag.
    let env = [("FERROGRAM_CONFIG", "ferrogram.toml"), ("FERROGRAM_INBOX_KEEP", "90m")];
    let output = ferrogram(&folder.0, &["--log-format", "text", "config"], &env);
    let printed = text(&output.stdout);
    assert!(output.status.success(), "{printed}{}", text(&output.stderr));
    for line in [
        "port = 9000  # file ferrogram.toml:3",
        "keep = \"90m\"  # env FERROGRAM_INBOX_KEEP",
        "format = \"text\"  # flag --log-format",
    ] {
        assert!(printed.lines().any(|printed| printed == line), "no line {line:?} in\n{printed}");
    }
}

#[test]
fn the_database_password_is_masked() {
    let folder = TempFolder::new("config-secret");
    let env = [("FERROGRAM_DATABASE_URL", "postgres://bob:s3cret@db:5432/app")];
    let output = ferrogram(&folder.0, &["config"], &env);
    let printed = text(&output.stdout);
    assert!(printed.contains("url = \"postgres://bob:***@db:5432/app\"  # env FERROGRAM_DATABASE_URL"), "{printed}");
    assert!(!printed.contains("s3cret"), "{printed}");
}

#[test]
fn postgres_tls_settings_are_layered_and_checked_before_connecting() {
    let folder = TempFolder::new("config-tls");
    let url = "postgres://bob:s3cret@127.0.0.1:1/app?sslmode=require";
    folder.file(
        "ferrogram.toml",
        &format!("[database]\nurl = \"{url}\"\ntls_mode = \"verify-full\"\ntls_ca = \"missing-ca.pem\"\n"),
    );
    let env = [("FERROGRAM_DATABASE_TLS_CA", "db-ca.pem")];
    let output = ferrogram(&folder.0, &["config", "--config", "ferrogram.toml"], &env);
    let printed = text(&output.stdout);
    assert!(output.status.success(), "{printed}{}", text(&output.stderr));
    for line in [
        "tls_mode = \"verify-full\"  # file ferrogram.toml:3",
        "tls_ca = \"db-ca.pem\"  # env FERROGRAM_DATABASE_TLS_CA",
    ] {
        assert!(printed.lines().any(|printed| printed == line), "no line {line:?} in\n{printed}");
    }

    // The CA file is read before connecting (port 1 answers nothing): a missing one stops `serve`
    // and `migrate`, named, and the URL shown without its password.
    let expected = "ferrogram: database postgres://bob:***@127.0.0.1:1/app?sslmode=require: the CA certificate file \
                    missing-ca.pem cannot be read: No such file or directory (os error 2)";
    let migrate = ["migrate", "--database", url, "--database-tls-ca", "missing-ca.pem"];
    for args in [&["serve", "--config", "ferrogram.toml"][..], &migrate] {
        let output = ferrogram(&folder.0, args, &[]);
        let errors = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {errors}");
        assert!(errors.lines().any(|line| line == expected), "{args:?}: {errors}");
        assert!(!errors.contains("s3cret") && !text(&output.stdout).contains("s3cret"), "{args:?}");
    }

    // A mode that is not one is refused at its place; empty is unset.
    folder.file("bad.toml", "[database]\ntls_mode = \"verify\"\ntls_ca = \"\"\n");
    let output = ferrogram(&folder.0, &["config", "--config", "bad.toml"], &[]);
    assert_eq!(
        text(&output.stderr).lines().next(),
        Some(
            "bad.toml:2:12: error: database.tls_mode: expected `disable`, `prefer`, `require`, `verify-ca` or \
             `verify-full`, found `verify`"
        )
    );
    let output =
        ferrogram(&folder.0, &["migrate", "--database", "sqlite://x.db"], &[("FERROGRAM_DATABASE_TLS_MODE", "allow")]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "ferrogram: --database-tls-mode (or FERROGRAM_DATABASE_TLS_MODE): `allow` is not supported: expected \
         `disable`, `prefer`, `require`, `verify-ca` or `verify-full`\n"
    );
    // The settings are for PostgreSQL: with SQLite they are an error, not ignored.
    let output =
        ferrogram(&folder.0, &["migrate", "--database", "sqlite://x.db", "--database-tls-mode", "require"], &[]);
    assert_eq!(
        text(&output.stderr),
        "ferrogram: database sqlite://x.db: database.tls_mode and database.tls_ca are for PostgreSQL; this database \
         is SQLite\n"
    );
    assert!(!folder.0.join("x.db").exists());
}

#[test]
fn an_unknown_key_is_an_error_with_its_place_and_a_did_you_mean() {
    let folder = TempFolder::new("config-typo");
    folder.file("ferrogram.toml", "[sandbox]\nport = 9000\nprot = 9001\n\n[sandbx]\nstate = \"s.json\"\n");
    for args in [&["config", "--config", "ferrogram.toml"][..], &["serve", "--config", "ferrogram.toml"]] {
        let output = ferrogram(&folder.0, args, &[]);
        let errors = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {errors}");
        assert_eq!(
            errors,
            "ferrogram.toml:3:1: error: unknown key `sandbox.prot` (did you mean `port`?)\n\
             ferrogram.toml:5:2: error: unknown section `sandbx` (did you mean `sandbox`?)\n\
             ferrogram: 2 configuration errors; nothing started\n",
            "{args:?}"
        );
        assert!(output.stdout.is_empty(), "{args:?}: {}", text(&output.stdout));
    }
    // `serve` started nothing: not even the database's folder.
    assert!(!folder.0.join("data").exists());
}

#[test]
fn a_bad_value_says_its_key_and_what_was_expected() {
    let folder = TempFolder::new("config-value");
    folder.file("ferrogram.toml", "[sandbox]\nport = \"eighty\"\n[http]\nallow_private = [\"*:80\"]\n");
    let output = ferrogram(&folder.0, &["config", "--config", "ferrogram.toml"], &[]);
    let errors = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(
        lines[0],
        "ferrogram.toml:2:8: error: sandbox.port: expected a port, 0–65535 (0 for a free one), found a string"
    );
    assert!(
        lines[1].starts_with("ferrogram.toml:4:17: error: http.allow_private: \"*:80\": wildcards are not allowed"),
        "{errors}"
    );

    // A bad environment variable is named; so is a file that is missing.
    let output = ferrogram(&folder.0, &["serve"], &[("FERROGRAM_SANDBOX_PORT", "80a")]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr).lines().next(),
        Some("environment variable FERROGRAM_SANDBOX_PORT: error: sandbox.port: expected an integer, found `80a`")
    );
    let output = ferrogram(&folder.0, &["config"], &[("FERROGRAM_CONFIG", "missing.toml")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).starts_with("missing.toml: error: cannot read the configuration file: "));
}

#[test]
fn docs_configuration_md_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let output = ferrogram(Path::new(env!("CARGO_MANIFEST_DIR")), &["config", "--markdown"], &[]);
    assert!(output.status.success());
    let generated = text(&output.stdout);
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != generated {
        let first_difference = on_disk
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .unwrap_or_else(|| on_disk.lines().count().min(generated.lines().count()) + 1);
        panic!(
            "docs/configuration.md is out of date (first difference at line {first_difference}); regenerate it \
             with\n\n    cargo run -p ferrogram -- config --markdown > docs/configuration.md\n"
        );
    }
}
