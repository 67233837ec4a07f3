//! The dashboard's accounts from the built binary: `user create|list` and `member
//! add|remove|list` on a SQLite file (the password piped with `--password-stdin`, refused
//! without a terminal otherwise), and `serve`'s first start, which prints a one-time setup link
//! that answers while there is no account, and none once there is one.

#![cfg(unix)]

mod binary;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use binary::serve::{Serve, database_url, scratch};
use binary::text;
use tokio::time::Instant;

/// `ferrogram ARGS` in `folder` with `stdin` piped in, run to its end.
fn ferrogram(folder: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let run = binary::Run::new(args).current_dir(folder).env("FERROGRAM_DATABASE_URL", &database_url(folder));
    match stdin {
        Some(input) => run.input(input).output(),
        None => run.output(),
    }
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{}{}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
}

fn refused(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{}{}", text(&output.stdout), text(&output.stderr));
    text(&output.stderr)
}

#[test]
fn users_and_members_from_the_shell() {
    let folder = scratch("accounts-cli");
    let password = "a long shell password\n";
    // A short password, a missing terminal: refused, nothing created.
    let short =
        refused(&ferrogram(&folder, &["user", "create", "ann@example.org", "--password-stdin"], Some("short\n")));
    assert!(short.contains("at least 12 characters"), "{short}");
    let no_tty = refused(&ferrogram(&folder, &["user", "create", "ann@example.org"], None));
    assert!(no_tty.contains("--password-stdin"), "{no_tty}");
    assert_eq!(ok(&ferrogram(&folder, &["user", "list"], None)), "no accounts\n");

    let created = ok(&ferrogram(
        &folder,
        &[
            "user",
            "create",
            "Ann@Example.org",
            "--name",
            "Ann",
            "--workspace",
            "shop",
            "--role",
            "owner",
            "--password-stdin",
        ],
        Some(password),
    ));
    assert_eq!(created, "account 1 <Ann@Example.org>: owner of workspace shop\n");
    let again =
        refused(&ferrogram(&folder, &["user", "create", "ann@EXAMPLE.org", "--password-stdin"], Some(password)));
    assert!(again.contains("exists already"), "{again}");
    ok(&ferrogram(
        &folder,
        &["user", "create", "bob@example.org", "--workspace", "shop", "--password-stdin"],
        Some(password),
    ));

    assert_eq!(
        ok(&ferrogram(&folder, &["member", "add", "bob@example.org", "--workspace", "shop", "--role", "editor"], None)),
        "bob@example.org: editor of workspace shop\n"
    );
    assert_eq!(
        ok(&ferrogram(&folder, &["member", "list", "--workspace", "shop"], None)),
        "1\tAnn@Example.org\tAnn\towner\n2\tbob@example.org\tbob\teditor\n"
    );
    let last = refused(&ferrogram(&folder, &["member", "remove", "ann@example.org", "--workspace", "shop"], None));
    assert!(last.contains("last owner"), "{last}");
    let nowhere = refused(&ferrogram(
        &folder,
        &["member", "add", "bob@example.org", "--workspace", "nope", "--role", "viewer"],
        None,
    ));
    assert!(nowhere.contains("no workspace `nope`"), "{nowhere}");
    let nobody = refused(&ferrogram(
        &folder,
        &["member", "add", "eve@example.org", "--workspace", "shop", "--role", "viewer"],
        None,
    ));
    assert!(nobody.contains("no account"), "{nobody}");
    ok(&ferrogram(&folder, &["member", "remove", "bob@example.org", "--workspace", "shop"], None));
    assert_eq!(
        ok(&ferrogram(&folder, &["user", "list"], None)),
        "1\tAnn@Example.org\tAnn\tshop:owner\n2\tbob@example.org\tbob\t-\n"
    );
    // An invite: a link under the server's address, printed once.
    let invite = ok(&ferrogram(
        &folder,
        &["member", "invite", "--workspace", "shop", "--role", "viewer", "--server", "https://bots.example.org/"],
        None,
    ));
    let secret = invite.trim().strip_prefix("https://bots.example.org/invite/").expect(&invite);
    assert_eq!(secret.len(), 43, "{invite}");
    let nowhere = refused(&ferrogram(&folder, &["member", "invite", "--workspace", "nope", "--role", "viewer"], None));
    assert!(nowhere.contains("no workspace `nope`"), "{nowhere}");
    let _ = std::fs::remove_dir_all(&folder);
}

const ECHO: &str = "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do: [{reply: \"{{ message.text }}\"}]\n";

/// Waits until `serve`'s output has a line containing `needle`; returns that line.
async fn line_with(serve: &mut Serve, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(line) = serve.log().lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        if let Ok(Some(status)) = serve.child.try_wait() {
            panic!("serve exited with {status}:\n{}", serve.log());
        }
        assert!(Instant::now() < deadline, "no `{needle}` in serve's output:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_first_start_prints_a_setup_link_until_there_is_an_account() {
    let folder = scratch("accounts-serve");
    std::fs::write(folder.join("bots/echo.yaml"), ECHO).unwrap();
    let mut serve = Serve::start(&folder, "first.log", &[], &[]);
    let line = line_with(&mut serve, "create the owner's account at ").await;
    let link = line.split("account at ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
    assert!(link.starts_with("http://127.0.0.1:") && link.contains("/setup/"), "{line}");
    let http = reqwest::Client::new();
    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Create the owner"));
    // The secret is printed once, on that line, and in no log line about the request.
    let secret = link.rsplit('/').next().unwrap();
    assert_eq!(serve.log().matches(secret).count(), 1, "{}", serve.log());
    serve.signal("TERM").await;
    let _ = serve.child.wait().await;

    // With an account, no link: the old one is dead and the start says where the dashboard is.
    ok(&ferrogram(
        &folder,
        &["user", "create", "ann@example.org", "--role", "owner", "--password-stdin"],
        Some("a long shell password\n"),
    ));
    let mut serve = Serve::start(&folder, "second.log", &[], &[]);
    let line = line_with(&mut serve, "Dashboard: http://").await;
    assert!(line.ends_with('/'), "{line}");
    assert!(!serve.log().contains("/setup/"), "{}", serve.log());
    let dashboard = line.trim_start_matches("Dashboard: ");
    let dead = http.get(format!("{dashboard}{}", &link[link.find("setup/").unwrap()..])).send().await.unwrap();
    assert_eq!(dead.status(), 404);
    serve.signal("TERM").await;
    let _ = serve.child.wait().await;
    let _ = std::fs::remove_dir_all(&folder);
}
