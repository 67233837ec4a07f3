//! Where the key of the secrets at rest comes from (decision 0034): `FERROGRAM_SECRET_KEY` when
//! set, else a key file — `secrets.key_file` (`--secret-key-file`), by default beside a SQLite
//! database file (`PATH.key`) or `data/secret.key` for PostgreSQL.
//!
//! A missing key file is created (32 random bytes in base64, mode 0600, written whole or not at
//! all) only where a command may create it (`serve`, `bot add --token`, an import bringing
//! secrets) and only while the database holds no secret: a new key could not open them. A key
//! file others may read or write is refused, as ssh refuses such a private key. Whatever its
//! origin, a key that is not the one the stored secrets are sealed under is refused with both
//! key ids, before anything runs.
//!
//! `ferrogram secrets rotate` writes the new key beside the key file as `PATH.new` before its
//! transaction and renames it over the key file after the commit. A crash in between leaves
//! `PATH.new`: the next [`load`] looks at the key id the secrets are sealed under and either
//! finishes the rename (the rotation committed) or keeps the key file and leaves `PATH.new`
//! alone (it did not; a later rotation asks for it to be deleted).

use std::path::{Path, PathBuf};

use ferrogram_store::{SecretKey, Store};

/// The environment variable holding the key itself (64 hex digits or base64 of 32 bytes).
pub(crate) const KEY_ENV: &str = "FERROGRAM_SECRET_KEY";
/// The environment variable holding the new key for `ferrogram secrets rotate`.
pub(crate) const NEW_KEY_ENV: &str = "FERROGRAM_NEW_SECRET_KEY";
/// The key file for a database that is not a SQLite file.
const DEFAULT_FILE: &str = "data/secret.key";

/// The key file option of the commands other than `serve` (which reads `secrets.key_file`).
#[derive(clap::Args, Clone, Default)]
pub(crate) struct KeyFileArg {
    /// The secret key file (`secrets.key_file` of serve's configuration): by default beside a
    /// SQLite database file (`PATH.key`), else `data/secret.key`. FERROGRAM_SECRET_KEY, when
    /// set, is the key instead.
    #[arg(id = "secret_key_file", long = "secret-key-file", value_name = "PATH", env = "FERROGRAM_SECRETS_KEY_FILE")]
    pub(crate) path: Option<PathBuf>,
}

/// Where a key came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    Env,
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Env => write!(f, "the key of {KEY_ENV}"),
            Origin::File(path) => write!(f, "the key file {}", path.display()),
        }
    }
}

/// The key file: `configured`, else `PATH.key` beside the SQLite database file of
/// `database_url`, else `data/secret.key` (PostgreSQL, an in-memory SQLite database).
pub(crate) fn key_file(configured: Option<&Path>, database_url: &str) -> PathBuf {
    if let Some(path) = configured {
        return path.to_path_buf();
    }
    let sqlite_file = database_url
        .strip_prefix("sqlite://")
        .filter(|rest| !rest.starts_with(':') && !rest.contains("mode=memory"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|path| !path.is_empty());
    match sqlite_file {
        Some(path) => with_suffix(Path::new(path), ".key"),
        None => PathBuf::from(DEFAULT_FILE),
    }
}

/// Where a rotation writes the new key until its commit: `PATH.new`.
pub(crate) fn pending_file(file: &Path) -> PathBuf {
    with_suffix(file, ".new")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `store` with its secret key from [`load`].
pub(crate) async fn attach(store: Store, file: &Path, create: bool) -> Result<Store, String> {
    let (key, _) = load(&store, file, create).await?;
    Ok(store.with_secret_key(key))
}

/// The key of `store`'s secrets and where it came from: [`KEY_ENV`] when set, else the key file
/// `file` (finishing a rotation that committed but did not replace it; with `create`, created
/// when missing and the store holds no secret). Refused, with both key ids, when the stored
/// secrets are sealed under another key. The messages never hold a key.
pub(crate) async fn load(store: &Store, file: &Path, create: bool) -> Result<(SecretKey, Origin), String> {
    load_with(store, std::env::var(KEY_ENV).ok().as_deref(), file, create).await
}

/// [`load`] with `env` as the value of [`KEY_ENV`] (an empty one counts as unset).
async fn load_with(store: &Store, env: Option<&str>, file: &Path, create: bool) -> Result<(SecretKey, Origin), String> {
    let ids = store.secret_key_ids().await.map_err(|e| format!("the secrets of the database: {e}"))?;
    if let Some(text) = env.filter(|text| !text.trim().is_empty()) {
        let key = SecretKey::parse(text).map_err(|why| format!("{KEY_ENV}: not a secret key: {why}"))?;
        return matching(key, Origin::Env, &ids);
    }
    let origin = Origin::File(file.to_path_buf());
    let pending = pending_file(file);
    if let Some(new) = read(&pending)? {
        if !ids.is_empty() && ids.iter().all(|id| id == new.id()) {
            promote(&pending, file)?;
            eprintln!(
                "ferrogram: {}: finished the secret key rotation that committed before it could replace \
                 the key file (key id {})",
                file.display(),
                new.id()
            );
            return Ok((new, origin));
        }
        eprintln!(
            "ferrogram: {}: left by a secret key rotation that did not commit (the secrets are not sealed \
             under its key {}); {} is used. Delete it unless a rotation is running now",
            pending.display(),
            new.id(),
            file.display()
        );
    }
    if let Some(key) = read(file)? {
        return matching(key, origin, &ids);
    }
    if !create {
        return Err(format!(
            "no secret key: set {KEY_ENV}, or give the key file (--secret-key-file, secrets.key_file); \
             {} does not exist",
            file.display()
        ));
    }
    if !ids.is_empty() {
        return Err(format!(
            "the database holds secrets encrypted with key {}, and there is neither {KEY_ENV} nor a key file \
             at {}: give the key they were encrypted with (restore its file from the backup, or set \
             {KEY_ENV}); a new key could not decrypt them",
            ids.join(", "),
            file.display()
        ));
    }
    let key = SecretKey::generate().map_err(|e| e.to_string())?;
    if write_new(file, &key).map_err(|e| format!("{}: cannot create the secret key file: {e}", file.display()))? {
        eprintln!(
            "ferrogram: created the secret key file {} (key id {}, mode 0600): back it up apart from the \
             database; without it the tokens kept in the database cannot be read",
            file.display(),
            key.id()
        );
        return Ok((key, origin));
    }
    // Another process created it meanwhile: that one is the key.
    let key = read(file)?.ok_or_else(|| format!("{}: vanished while it was created", file.display()))?;
    matching(key, origin, &ids)
}

/// `key` when the stored secrets (`ids`) are sealed under it, or there are none.
fn matching(key: SecretKey, origin: Origin, ids: &[String]) -> Result<(SecretKey, Origin), String> {
    if ids.is_empty() || ids.iter().all(|id| id == key.id()) {
        return Ok((key, origin));
    }
    Err(format!(
        "the secrets of the database were encrypted with another key (key id {}) than {origin} (key id {}): \
         give the key they were encrypted with ({KEY_ENV}, or --secret-key-file / secrets.key_file)",
        ids.join(", "),
        key.id()
    ))
}

/// The key in the file at `path`, `None` when there is no file. Refused when it is not a file,
/// when others may read or write it, or when it does not hold a key.
fn read(path: &Path) -> Result<Option<SecretKey>, String> {
    let shown = path.display();
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("{shown}: {error}")),
    };
    if !metadata.is_file() {
        return Err(format!("{shown}: the secret key file is not a file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{shown}: the secret key file may be read or written by others (mode {mode:03o}): \
                 `chmod 600 {shown}`, then start again"
            ));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    SecretKey::parse(&text).map(Some).map_err(|why| format!("{shown}: not a secret key: {why}"))
}

/// Writes `key` to a new file at `path` (mode 0600), whole or not at all: written and synced
/// under a temporary name, then linked to `path` only if nothing is there. `false` when a file
/// was there already (another process's key); the folder is created when missing.
pub(crate) fn write_new(path: &Path, key: &SecretKey) -> std::io::Result<bool> {
    use std::io::Write;
    let folder = path.parent().filter(|folder| !folder.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let temporary = with_suffix(path, &format!(".tmp-{}-{nanos}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&temporary)?;
        let mut text = key.encoded();
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            sync_folder(folder);
            Ok(true)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error),
    }
}

/// Replaces the key file `file` with the pending key `pending` (one rename: a reader sees the
/// old key or the new one, never a mix).
pub(crate) fn promote(pending: &Path, file: &Path) -> Result<(), String> {
    std::fs::rename(pending, file)
        .map_err(|e| format!("cannot move {} over {}: {e}", pending.display(), file.display()))?;
    if let Some(folder) = file.parent() {
        sync_folder(if folder.as_os_str().is_empty() { Path::new(".") } else { folder });
    }
    Ok(())
}

/// Makes a folder's new or renamed entries durable (Unix); best effort.
fn sync_folder(folder: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = std::fs::File::open(folder) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = folder;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh SQLite database in a fresh folder: the folder and the store.
    async fn scratch(name: &str) -> (PathBuf, Store) {
        let folder = std::env::temp_dir().join(format!("ferrogram-key-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        let store = Store::open(&format!("sqlite://{}", folder.join("db.sqlite").display())).await.unwrap();
        (folder, store)
    }

    /// A workspace with a bot whose token is sealed under `key`: the workspace and bot ids.
    async fn stored_token(store: &Store, key: &SecretKey) -> (i64, i64) {
        let keyed = store.with_secret_key(key.clone());
        let workspace = keyed.create_workspace("w").await.unwrap();
        let bot = keyed.create_bot(workspace, "b", None).await.unwrap().unwrap();
        assert!(keyed.put_secret(workspace, Some(bot), "token", "1:t").await.unwrap());
        (workspace, bot)
    }

    #[test]
    fn the_key_file_sits_beside_a_sqlite_file_else_in_the_data_folder() {
        assert_eq!(key_file(None, "sqlite://data/ferrogram.db"), PathBuf::from("data/ferrogram.db.key"));
        assert_eq!(key_file(None, "sqlite:///var/lib/f/bots.db?mode=rwc"), PathBuf::from("/var/lib/f/bots.db.key"));
        assert_eq!(key_file(None, "postgres://u@h/db"), PathBuf::from("data/secret.key"));
        assert_eq!(key_file(None, "sqlite::memory:"), PathBuf::from("data/secret.key"));
        assert_eq!(key_file(None, "sqlite://file.db?mode=memory"), PathBuf::from("data/secret.key"));
        assert_eq!(key_file(Some(Path::new("/etc/k")), "sqlite://a.db"), PathBuf::from("/etc/k"));
        assert_eq!(pending_file(Path::new("data/a.db.key")), PathBuf::from("data/a.db.key.new"));
    }

    #[tokio::test]
    async fn keys_are_created_once_checked_and_never_replaced_blindly() {
        #[cfg(unix)]
        use std::os::unix::fs::PermissionsExt;
        let (folder, store) = scratch("load").await;
        let file = folder.join("sub/db.key");

        // Missing, not to be created: refused, naming the file.
        let refused = load_with(&store, None, &file, false).await.unwrap_err();
        assert!(refused.contains("no secret key") && refused.contains("sub/db.key"), "{refused}");
        // Created once, 0600, and read back the same.
        let (key, origin) = load_with(&store, None, &file, true).await.unwrap();
        assert_eq!(origin, Origin::File(file.clone()));
        #[cfg(unix)]
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_with(&store, None, &file, true).await.unwrap().0, key);
        assert!(!write_new(&file, &SecretKey::generate().unwrap()).unwrap(), "never overwritten");
        assert_eq!(load_with(&store, None, &file, false).await.unwrap().0, key);
        let leftovers: Vec<_> =
            std::fs::read_dir(folder.join("sub")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, ["db.key"]);

        // Readable by others: refused, saying how to fix it.
        #[cfg(unix)]
        {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let refused = load_with(&store, None, &file, true).await.unwrap_err();
            assert!(refused.contains("mode 644") && refused.contains("chmod 600"), "{refused}");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }

        // Secrets under this key: another key file is refused with both ids; a missing one is
        // not created over them.
        stored_token(&store, &key).await;
        let other = folder.join("other.key");
        let other_key = SecretKey::generate().unwrap();
        assert!(write_new(&other, &other_key).unwrap());
        let refused = load_with(&store, None, &other, false).await.unwrap_err();
        assert!(refused.contains(key.id()) && refused.contains(other_key.id()), "{refused}");
        assert!(refused.contains("encrypted with another key"), "{refused}");
        let refused = load_with(&store, None, &folder.join("none.key"), true).await.unwrap_err();
        assert!(refused.contains("a new key could not decrypt them"), "{refused}");
        assert!(!folder.join("none.key").exists());

        // A file that holds no key: refused without repeating it.
        std::fs::write(&other, "not-a-key-at-all\n").unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
        let refused = load_with(&store, None, &other, false).await.unwrap_err();
        assert!(refused.contains("not a secret key") && !refused.contains("not-a-key-at-all"), "{refused}");

        // FERROGRAM_SECRET_KEY wins over any file, and is checked the same way; empty is unset.
        let (from_env, origin) = load_with(&store, Some(&key.encoded()), &other, false).await.unwrap();
        assert_eq!((from_env, origin), (key.clone(), Origin::Env));
        let refused = load_with(&store, Some(&other_key.encoded()), &file, false).await.unwrap_err();
        assert!(refused.contains(KEY_ENV) && refused.contains(key.id()), "{refused}");
        let refused = load_with(&store, Some("c2hvcnQ="), &file, false).await.unwrap_err();
        assert!(refused.starts_with("FERROGRAM_SECRET_KEY: not a secret key: 5 bytes long"), "{refused}");
        assert_eq!(load_with(&store, Some(" "), &file, false).await.unwrap().1, Origin::File(file.clone()));

        store.close().await;
        std::fs::remove_dir_all(folder).unwrap();
    }

    #[tokio::test]
    async fn an_interrupted_rotation_is_finished_or_left_by_what_the_database_holds() {
        let (folder, store) = scratch("pending").await;
        let file = folder.join("db.key");
        let pending = pending_file(&file);
        let (old, new) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
        assert!(write_new(&file, &old).unwrap());
        let (workspace, bot) = stored_token(&store, &old).await;

        // The new key written, the transaction not committed: the old key file stays in use
        // and the pending one is left alone.
        assert!(write_new(&pending, &new).unwrap());
        assert_eq!(load_with(&store, None, &file, false).await.unwrap().0, old);
        assert!(pending.exists());

        // Committed, then the crash before the rename: the next start finishes it.
        store.with_secret_key(old.clone()).rotate_secrets(&new).await.unwrap();
        let (key, origin) = load_with(&store, None, &file, false).await.unwrap();
        assert_eq!((key.clone(), origin), (new.clone(), Origin::File(file.clone())));
        assert!(!pending.exists());
        assert_eq!(load_with(&store, None, &file, false).await.unwrap().0, new);
        let token = store.with_secret_key(key).secret(workspace, Some(bot), "token").await.unwrap();
        assert_eq!(token.as_deref(), Some("1:t"));

        store.close().await;
        std::fs::remove_dir_all(folder).unwrap();
    }
}
