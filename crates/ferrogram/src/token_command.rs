//! `ferrogram token create [NAME] [--name N] --workspace W --role ROLE`: an API token for the
//! REST API (docs/api.md), stored as its SHA-256 only: its secret is printed once, on standard
//! output (`export FERROGRAM_API_TOKEN=$(ferrogram token create …)`), what it is on standard
//! error, and it cannot be shown again. `token issue` is the same command under its old name.
//!
//! The workspace must exist (`ferrogram workspace create`), except the default one, which is
//! made on first use as `serve` makes it for a folder's bots.

use ferrogram_store::Role;

use crate::fleet::import;

#[derive(clap::Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(clap::Subcommand)]
enum TokenCommand {
    /// Create an API token and print its secret (once).
    #[command(alias = "issue")]
    Create(CreateArgs),
}

#[derive(clap::Args)]
struct CreateArgs {
    /// What the token is for (shown in listings; the audit log's actor is `token:ID`).
    #[arg(value_name = "NAME", conflicts_with = "name")]
    positional_name: Option<String>,
    /// What the token is for (the same as the positional NAME).
    #[arg(long)]
    name: Option<String>,
    /// `admin` (everything, tokens too), `editor` (bots, their versions, start and stop) or
    /// `viewer` (read only).
    #[arg(long, default_value = "editor")]
    role: Role,
    /// The workspace the token acts in.
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
    let TokenCommand::Create(args) = &args.command;
    let name = args.positional_name.as_deref().or(args.name.as_deref()).unwrap_or("cli").trim().to_owned();
    if name.is_empty() {
        return Err("the token's name is empty".into());
    }
    let store = crate::open_store(&args.database, &args.database_tls.tls()?).await?;
    let issued = create(&store, args, &name).await;
    store.close().await;
    let (id, secret) = issued?;
    let prefix = &secret[..ferrogram_store::TOKEN_PREFIX_LEN];
    eprintln!(
        "token {id} `{name}` ({}) of workspace {}, {prefix}…: shown once, keep it secret",
        args.role, args.workspace
    );
    println!("{secret}");
    Ok(())
}

async fn create(store: &ferrogram_store::Store, args: &CreateArgs, name: &str) -> Result<(i64, String), String> {
    let workspace = match store.workspace_named(&args.workspace).await.map_err(|e| e.to_string())? {
        Some(workspace) => workspace.id,
        None if args.workspace == import::DEFAULT_WORKSPACE => {
            store.create_workspace(&args.workspace).await.map_err(|e| e.to_string())?
        }
        None => {
            return Err(format!(
                "no workspace {}: create it with `ferrogram workspace create {}`",
                args.workspace, args.workspace
            ));
        }
    };
    let issued = store.issue_token(workspace, name, args.role).await.map_err(|e| e.to_string())?;
    let issued = issued.ok_or_else(|| format!("no workspace {}", args.workspace))?;
    let detail = serde_json::json!({"id": issued.id, "role": args.role.as_str()});
    crate::cli_audit::write(store, workspace, "token.create", name, &detail).await;
    Ok((issued.id, issued.secret))
}
