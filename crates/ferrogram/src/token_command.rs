//! `ferrogram token issue NAME [--role ROLE] [--workspace W]`: an API token for the control API
//! (`bot start|stop|reload|status`), stored as its SHA-256 only: its secret is printed once, on
//! standard output, and cannot be shown again.

use ferrogram_store::Role;

use crate::fleet::import;

#[derive(clap::Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(clap::Subcommand)]
enum TokenCommand {
    /// Issue an API token and print its secret (once): `export FERROGRAM_API_TOKEN=$(ferrogram
    /// token issue ops)`.
    Issue(IssueArgs),
}

#[derive(clap::Args)]
struct IssueArgs {
    /// What the token is for (shown in listings and the audit log's actor is `token:ID`).
    name: String,
    /// `admin`, `editor` (start, stop, reload bots) or `viewer` (read only).
    #[arg(long, default_value = "editor")]
    role: Role,
    /// The workspace whose bots the token acts on (created if missing).
    #[arg(long, default_value = import::DEFAULT_WORKSPACE)]
    workspace: String,
    /// `sqlite://PATH` (created if missing) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = crate::DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: crate::DatabaseTls,
}

/// Runs `ferrogram token …`.
pub(crate) async fn run(args: &TokenArgs) -> Result<(), String> {
    let TokenCommand::Issue(args) = &args.command;
    let store = crate::open_store(&args.database, &args.database_tls.tls()?).await?;
    let issued = issue(&store, args).await;
    store.close().await;
    let (id, secret) = issued?;
    eprintln!("token {id} ({}) of workspace {}: shown once, keep it secret", args.role, args.workspace);
    println!("{secret}");
    Ok(())
}

async fn issue(store: &ferrogram_store::Store, args: &IssueArgs) -> Result<(i64, String), String> {
    let workspace = match store.workspace_named(&args.workspace).await.map_err(|e| e.to_string())? {
        Some(workspace) => workspace.id,
        None => store.create_workspace(&args.workspace).await.map_err(|e| e.to_string())?,
    };
    let issued = store.issue_token(workspace, &args.name, args.role).await.map_err(|e| e.to_string())?;
    let issued = issued.ok_or_else(|| format!("no workspace {}", args.workspace))?;
    let detail = serde_json::json!({"id": issued.id, "role": args.role.as_str()});
    crate::cli_audit::write(store, workspace, "token.issue", &args.name, &detail).await;
    Ok((issued.id, issued.secret))
}
