//! `ferrogram workspace create NAME` and `ferrogram workspace list`: the workspaces (tenants)
//! the REST API's tokens belong to, from the shell, so that a fresh install can be scripted:
//! `workspace create acme` then `token create --workspace acme --role admin`.

#[derive(clap::Args)]
pub(crate) struct WorkspaceArgs {
    #[command(subcommand)]
    command: WorkspaceCommand,
    /// `sqlite://PATH` (created if missing) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, global = true, env = "FERROGRAM_DATABASE_URL", default_value = crate::DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: crate::DatabaseTls,
}

#[derive(clap::Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace; prints `ID NAME`. A name already taken is refused.
    Create {
        /// 1 to 100 characters.
        name: String,
    },
    /// Print every workspace, `ID NAME`, oldest first.
    List,
}

/// Runs `ferrogram workspace …`.
pub(crate) async fn run(args: &WorkspaceArgs) -> Result<(), String> {
    let store = crate::open_store(&args.database, &args.database_tls.tls()?).await?;
    let result = match &args.command {
        WorkspaceCommand::Create { name } => create(&store, name).await,
        WorkspaceCommand::List => list(&store).await,
    };
    store.close().await;
    result
}

async fn create(store: &ferrogram_store::Store, name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("a workspace's name is 1 to 100 characters".into());
    }
    if store.workspace_named(name).await.map_err(|e| e.to_string())?.is_some() {
        return Err(format!("there is already a workspace named {name}"));
    }
    let id = store.create_workspace(name).await.map_err(|e| e.to_string())?;
    crate::cli_audit::write(store, id, "workspace.create", name, &serde_json::json!({})).await;
    println!("{id} {name}");
    Ok(())
}

async fn list(store: &ferrogram_store::Store) -> Result<(), String> {
    for workspace in store.workspaces().await.map_err(|e| e.to_string())? {
        println!("{} {}", workspace.id, workspace.name);
    }
    Ok(())
}
