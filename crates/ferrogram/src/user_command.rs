//! `ferrogram user create|list` and `ferrogram member add|remove|list|invite`: the dashboard's
//! accounts and their roles in workspaces, from the shell (decision 0042). A password is read
//! from standard input (`--password-stdin`, its first line) or asked twice on the terminal
//! without echo; it is never a flag's value, which would sit in the shell's history and in
//! `ps`.

use std::io::{BufRead, IsTerminal, Write};

use ferrogram_store::{Role, Store};

use crate::fleet::import;

#[derive(clap::Args)]
pub(crate) struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(clap::Subcommand)]
enum UserCommand {
    /// Create an account that signs in to the dashboard, with a role in a workspace.
    Create(CreateArgs),
    /// List the accounts, each with its workspaces and roles.
    List(DatabaseArgs),
}

#[derive(clap::Args)]
pub(crate) struct MemberArgs {
    #[command(subcommand)]
    command: MemberCommand,
}

#[derive(clap::Subcommand)]
enum MemberCommand {
    /// Give an account a role in a workspace (or change its role there).
    Add(MemberAddArgs),
    /// Take an account out of a workspace (never its last owner).
    Remove(MemberRemoveArgs),
    /// List a workspace's members and their roles.
    List(MemberListArgs),
    /// Print a one-time link that creates an account with a role in a workspace.
    Invite(MemberInviteArgs),
}

#[derive(clap::Args)]
struct MemberInviteArgs {
    #[arg(long, default_value = import::DEFAULT_WORKSPACE)]
    workspace: String,
    /// `owner`, `admin`, `editor` or `viewer`.
    #[arg(long)]
    role: Role,
    /// How long the link works, in hours.
    #[arg(long, default_value_t = 72)]
    hours: u32,
    /// The dashboard's address the link starts with (`server.public_url`).
    #[arg(long, env = "FERROGRAM_SERVER_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    server: String,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(clap::Args)]
struct DatabaseArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = crate::DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: crate::DatabaseTls,
}

#[derive(clap::Args)]
struct CreateArgs {
    /// The email the person signs in with (unique, without regard to case).
    email: String,
    /// The name the dashboard shows (by default the email's part before `@`).
    #[arg(long)]
    name: Option<String>,
    /// The workspace the account gets its role in (created if missing).
    #[arg(long, default_value = import::DEFAULT_WORKSPACE)]
    workspace: String,
    /// `owner`, `admin`, `editor` or `viewer`.
    #[arg(long, default_value = "viewer")]
    role: Role,
    /// Read the password from standard input's first line instead of asking on the terminal.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(clap::Args)]
struct MemberAddArgs {
    /// The account's email.
    email: String,
    #[arg(long, default_value = import::DEFAULT_WORKSPACE)]
    workspace: String,
    /// `owner`, `admin`, `editor` or `viewer`.
    #[arg(long)]
    role: Role,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(clap::Args)]
struct MemberRemoveArgs {
    /// The account's email.
    email: String,
    #[arg(long, default_value = import::DEFAULT_WORKSPACE)]
    workspace: String,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(clap::Args)]
struct MemberListArgs {
    #[arg(long, default_value = import::DEFAULT_WORKSPACE)]
    workspace: String,
    #[command(flatten)]
    db: DatabaseArgs,
}

async fn open(db: &DatabaseArgs) -> Result<Store, String> {
    crate::open_store(&db.database, &db.database_tls.tls()?).await
}

/// Runs `ferrogram user …`.
pub(crate) async fn run_user(args: &UserArgs) -> Result<(), String> {
    match &args.command {
        UserCommand::Create(args) => {
            // Asked before the database is opened: a wrong password changes nothing.
            let password = read_password(args.password_stdin)?;
            if let Some(problem) = ferrogram_store::password_problem(&password) {
                return Err(problem);
            }
            let store = open(&args.db).await?;
            let created = create(&store, args, &password).await;
            store.close().await;
            created
        }
        UserCommand::List(db) => {
            let store = open(db).await?;
            let listed = list(&store).await;
            store.close().await;
            listed
        }
    }
}

/// Runs `ferrogram member …`.
pub(crate) async fn run_member(args: &MemberArgs) -> Result<(), String> {
    let db = match &args.command {
        MemberCommand::Add(a) => &a.db,
        MemberCommand::Remove(a) => &a.db,
        MemberCommand::List(a) => &a.db,
        MemberCommand::Invite(a) => &a.db,
    };
    let store = open(db).await?;
    let result = member(&store, &args.command).await;
    store.close().await;
    result
}

async fn workspace_id(store: &Store, name: &str, create: bool) -> Result<i64, String> {
    match store.workspace_named(name).await.map_err(|e| e.to_string())? {
        Some(workspace) => Ok(workspace.id),
        None if create => store.create_workspace(name).await.map_err(|e| e.to_string()),
        None => Err(format!("no workspace `{name}`")),
    }
}

async fn account_id(store: &Store, email: &str) -> Result<i64, String> {
    let account = store.account_by_email(email).await.map_err(|e| e.to_string())?;
    account.map(|a| a.id).ok_or_else(|| format!("no account with the email `{email}`"))
}

async fn create(store: &Store, args: &CreateArgs, password: &str) -> Result<(), String> {
    let hash = ferrogram_store::hash_password(password).await.map_err(|e| e.to_string())?;
    let name = args.name.clone().unwrap_or_else(|| args.email.split('@').next().unwrap_or_default().to_owned());
    // The account and its membership commit together: a failure leaves neither.
    let mut tx = store.transaction().await.map_err(|e| e.to_string())?;
    let account = tx.create_account(&args.email, &name, &hash).await.map_err(|e| e.to_string())?;
    let Some(account) = account else {
        return Err(format!("an account with the email `{}` exists already", args.email.trim()));
    };
    let workspace = match tx.workspace_named(&args.workspace).await.map_err(|e| e.to_string())? {
        Some(workspace) => workspace.id,
        None => tx.create_workspace(&args.workspace).await.map_err(|e| e.to_string())?,
    };
    tx.set_member(workspace, account.id, args.role).await.map_err(|e| e.to_string())?;
    let actor = format!("account:{}", account.id);
    let detail = serde_json::json!({ "email": account.email, "role": args.role.as_str(), "by": "command line" });
    tx.audit(workspace, "cli", "member.add", &actor, &detail).await.map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    println!("account {} <{}>: {} of workspace {}", account.id, account.email, args.role, args.workspace);
    Ok(())
}

async fn list(store: &Store) -> Result<(), String> {
    let accounts = store.accounts().await.map_err(|e| e.to_string())?;
    if accounts.is_empty() {
        println!("no accounts");
    }
    for account in accounts {
        let memberships = store.memberships(account.id).await.map_err(|e| e.to_string())?;
        let roles: Vec<String> = memberships.iter().map(|m| format!("{}:{}", m.workspace_name, m.role)).collect();
        let disabled = if account.disabled_at.is_some() { " (disabled)" } else { "" };
        println!(
            "{}\t{}\t{}{disabled}\t{}",
            account.id,
            account.email,
            account.display_name,
            if roles.is_empty() { "-".to_owned() } else { roles.join(",") }
        );
    }
    Ok(())
}

async fn member(store: &Store, command: &MemberCommand) -> Result<(), String> {
    match command {
        MemberCommand::Add(args) => {
            let workspace = workspace_id(store, &args.workspace, false).await?;
            let account = account_id(store, &args.email).await?;
            store.set_member(workspace, account, args.role).await.map_err(|e| e.to_string())?;
            let detail = serde_json::json!({ "email": args.email, "role": args.role.as_str(), "by": "command line" });
            store
                .audit(workspace, "cli", "member.add", &format!("account:{account}"), &detail)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}: {} of workspace {}", args.email, args.role, args.workspace);
        }
        MemberCommand::Remove(args) => {
            let workspace = workspace_id(store, &args.workspace, false).await?;
            let account = account_id(store, &args.email).await?;
            if !store.remove_member(workspace, account).await.map_err(|e| e.to_string())? {
                return Err(format!("{} is not a member of workspace {}", args.email, args.workspace));
            }
            let detail = serde_json::json!({ "email": args.email, "by": "command line" });
            store
                .audit(workspace, "cli", "member.remove", &format!("account:{account}"), &detail)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}: removed from workspace {}", args.email, args.workspace);
        }
        MemberCommand::Invite(args) => {
            let workspace = workspace_id(store, &args.workspace, false).await?;
            let kind = ferrogram_store::LinkKind::Invite { workspace, role: args.role };
            let link = store.create_link(kind, i64::from(args.hours) * 3600).await.map_err(|e| e.to_string())?;
            let link = link.ok_or_else(|| format!("no workspace `{}`", args.workspace))?;
            let detail = serde_json::json!({ "role": args.role.as_str(), "hours": args.hours, "by": "command line" });
            store
                .audit(workspace, "cli", "member.invite", &format!("link:{}", link.id), &detail)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "an invite to workspace {} as {} (works once, for {} hours):",
                args.workspace, args.role, args.hours
            );
            println!("{}/invite/{}", args.server.trim_end_matches('/'), link.secret);
        }
        MemberCommand::List(args) => {
            let workspace = workspace_id(store, &args.workspace, false).await?;
            let members = store.members(workspace).await.map_err(|e| e.to_string())?;
            if members.is_empty() {
                println!("no members");
            }
            for member in members {
                println!("{}\t{}\t{}\t{}", member.account, member.email, member.display_name, member.role);
            }
        }
    }
    Ok(())
}

/// The password: standard input's first line (`--password-stdin`), else asked twice on the
/// terminal without echo.
fn read_password(from_stdin: bool) -> Result<String, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to ask the password on: pipe it with --password-stdin".into());
    }
    let first = prompt("Password (at least 12 characters): ")?;
    let second = prompt("The same password again: ")?;
    if first != second {
        return Err("the two passwords differ; nothing was created".into());
    }
    Ok(first)
}

/// Asks on the terminal with echo off, restoring it afterwards.
fn prompt(question: &str) -> Result<String, String> {
    let mut err = std::io::stderr();
    let _ = write!(err, "{question}");
    let _ = err.flush();
    let fd = libc::STDIN_FILENO;
    // SAFETY: tcgetattr and tcsetattr on standard input (a terminal, checked by the caller)
    // with a termios value they fill; the previous settings are restored before returning.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err("cannot read the terminal's settings".into());
    }
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    read.map_err(|e| format!("reading the password: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
