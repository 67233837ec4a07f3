//! `ferrogram secrets …`: `set`, `list` and `delete` the secrets bot files read
//! (`secrets_values.rs`, decision 0044), and `rotate`: every secret of the database re-encrypted under a new key in one
//! transaction (decision 0034). The new key is `FERROGRAM_NEW_SECRET_KEY`, or a generated one
//! when the key is a file. A key file is replaced only after the commit: the new key waits as
//! `PATH.new` meanwhile, and a crash in between is settled at the next start
//! (`secret_key.rs`). Neither key is ever printed, only their ids.

use ferrogram_store::{SecretKey, Store};

use crate::secret_key::{self, KEY_ENV, KeyFileArg, NEW_KEY_ENV, Origin};

#[derive(clap::Args)]
pub(crate) struct SecretsArgs {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(clap::Subcommand)]
enum SecretsCommand {
    /// Save (or replace) a secret bot files read as `${NAME}` under serve, encrypted: the value
    /// from standard input (`printf %s "$VALUE" | ferrogram secrets set NAME`). The workspace's
    /// by default; `--bot BOT` for one bot's, which it reads before the workspace's. A running
    /// serve reads it at the bot's next start or reload (`bot reload`).
    Set(crate::secrets_values::SetArgs),
    /// List a workspace's secrets (its own and its bots', their tokens included): name, scope,
    /// key id and when set. Never a value.
    List(crate::secrets_values::ListArgs),
    /// Delete a secret of the workspace, or of a bot with `--bot BOT`.
    Delete(crate::secrets_values::DeleteArgs),
    /// Re-encrypt every secret of the database (the bots' tokens, the stored secrets) under a new key, in one
    /// transaction: FERROGRAM_NEW_SECRET_KEY, or a new random key that replaces the key file.
    /// Restart `serve` afterwards: a running server keeps the old key.
    Rotate(RotateArgs),
}

#[derive(clap::Args)]
struct RotateArgs {
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = crate::DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    key: KeyFileArg,
    #[command(flatten)]
    database_tls: crate::DatabaseTls,
}

/// Runs `ferrogram secrets …`.
pub(crate) async fn run(args: &SecretsArgs) -> Result<(), String> {
    let args = match &args.command {
        SecretsCommand::Set(args) => return crate::secrets_values::set(args).await,
        SecretsCommand::List(args) => return crate::secrets_values::list(args).await,
        SecretsCommand::Delete(args) => return crate::secrets_values::delete(args).await,
        SecretsCommand::Rotate(args) => args,
    };
    let store = crate::open_store(&args.database, &args.database_tls.tls()?).await?;
    let rotated = rotate(&store, args).await;
    if rotated.is_ok() {
        audit(&store).await;
    }
    store.close().await;
    println!("{}", rotated?);
    Ok(())
}

/// Writes the rotation to every workspace's audit log (the key is the database's); the new
/// key's id, never the key.
async fn audit(store: &Store) {
    let (workspaces, ids) = match (store.workspaces().await, store.secret_key_ids().await) {
        (Ok(workspaces), Ok(ids)) => (workspaces, ids),
        (Err(error), _) | (_, Err(error)) => {
            return eprintln!("warning: the rotation was done but not written to the audit log: {error}");
        }
    };
    let detail = serde_json::json!({"key_ids": ids});
    for workspace in workspaces {
        crate::cli_audit::write(store, workspace.id, "secrets.rotate", "secret key", &detail).await;
    }
}

/// The rotation; what was done, for people.
async fn rotate(store: &Store, args: &RotateArgs) -> Result<String, String> {
    let file = secret_key::key_file(args.key.path.as_deref(), &args.database);
    let (old, origin) = secret_key::load(store, &file, false).await?;
    let store = store.with_secret_key(old.clone());
    let new = match std::env::var(NEW_KEY_ENV).ok().filter(|text| !text.trim().is_empty()) {
        Some(text) => SecretKey::parse(&text).map_err(|why| format!("{NEW_KEY_ENV}: not a secret key: {why}"))?,
        None if origin == Origin::Env => {
            return Err(format!(
                "the key comes from {KEY_ENV}: give the new key in {NEW_KEY_ENV} (e.g. `openssl rand -base64 \
                 32`), then set {KEY_ENV} to it once the rotation is done"
            ));
        }
        None => SecretKey::generate().map_err(|e| e.to_string())?,
    };
    if new == old {
        return Err(format!("the new key is the current one (key id {}): nothing to rotate", old.id()));
    }
    let Origin::File(file) = origin else {
        let count = store.rotate_secrets(&new).await.map_err(|e| format!("not rotated: {e}"))?;
        return Ok(format!(
            "re-encrypted {count} secret{} from key {} to key {} ({NEW_KEY_ENV}): set {KEY_ENV} to the new key \
             before the next start",
            plural(count),
            old.id(),
            new.id()
        ));
    };
    let pending = secret_key::pending_file(&file);
    let created = secret_key::write_new(&pending, &new).map_err(|e| format!("{}: {e}", pending.display()))?;
    if !created {
        return Err(format!(
            "{} exists: left by a rotation that did not finish, or one running now; if none runs, delete it \
             and rotate again (nothing was changed)",
            pending.display()
        ));
    }
    let count = match store.rotate_secrets(&new).await {
        Ok(count) => format!("{count} secret{}", plural(count)),
        // Whether the transaction committed is what the database says: an error can come
        // after the commit (its answer lost).
        Err(error) => match store.secret_key_ids().await {
            Ok(ids) if !ids.is_empty() && ids.iter().all(|id| id == new.id()) => "every secret".to_owned(),
            Ok(_) => {
                let _ = std::fs::remove_file(&pending);
                return Err(format!("not rotated: {error} (nothing was changed)"));
            }
            Err(_) => {
                return Err(format!(
                    "the rotation's outcome is unknown ({error}): {} holds the new key; the next start uses \
                     it if the secrets were re-encrypted, else keeps {}",
                    pending.display(),
                    file.display()
                ));
            }
        },
    };
    secret_key::promote(&pending, &file)?;
    Ok(format!(
        "re-encrypted {count} from key {} to key {}; {} now holds the new key: back it up, and restart serve",
        old.id(),
        new.id(),
        file.display()
    ))
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}
