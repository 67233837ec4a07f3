//! Backups of the store to a folder or an S3-compatible bucket, their retention, and restoring
//! one (decision 0036). A SQLite database is snapshotted whole with `VACUUM INTO` (consistent
//! while `serve` writes); a PostgreSQL database as every bot's export in one document, read in
//! one repeatable-read transaction. Backups are named by the UTC time they were taken
//! ([`names`]); only names of that form are listed, restored or deleted.

pub mod names;
pub mod s3;
pub mod schedule;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ferrogram_store::{Backend, Store};
use names::Kind;

use crate::config::redact;

/// Where backups go: `backup.to`.
#[derive(Clone, Debug)]
pub enum Target {
    Folder(PathBuf),
    S3(s3::Bucket),
}

impl Target {
    /// `to` is a folder path or `s3://BUCKET/PREFIX` (then at `endpoint`, in `region`, with the
    /// credentials of the AWS variables `env` reads).
    pub fn new(
        to: &str,
        endpoint: Option<&str>,
        region: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        if to.starts_with("s3://") {
            let credentials = s3::Credentials::from_env(env)?;
            return s3::Bucket::parse(to, endpoint, region, credentials).map(Target::S3);
        }
        if to.contains("://") {
            return Err(format!("backup.to: expected a folder or s3://BUCKET/PREFIX, found `{to}`"));
        }
        if to.trim().is_empty() {
            return Err("backup.to is not set: give a folder or s3://BUCKET/PREFIX".into());
        }
        Ok(Target::Folder(PathBuf::from(to)))
    }

    /// The target for messages (no credentials).
    pub fn describe(&self) -> String {
        match self {
            Target::Folder(folder) => folder.display().to_string(),
            Target::S3(bucket) => bucket.describe(),
        }
    }

    /// The backups there, oldest first (a missing folder has none).
    pub async fn list(&self) -> Result<Vec<String>, String> {
        let mut found = match self {
            Target::Folder(folder) => match std::fs::read_dir(folder) {
                Ok(entries) => entries
                    .filter_map(|entry| entry.ok())
                    .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
                    .filter_map(|entry| entry.file_name().into_string().ok())
                    .collect(),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(error) => return Err(format!("{}: {error}", folder.display())),
            },
            Target::S3(bucket) => bucket.list().await?,
        };
        found.retain(|name| names::parse(name).is_some());
        found.sort();
        Ok(found)
    }

    async fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        match self {
            Target::Folder(folder) => {
                let path = folder.join(name);
                tokio::fs::read(&path).await.map_err(|e| format!("{}: {e}", path.display()))
            }
            Target::S3(bucket) => bucket.get(name).await,
        }
    }

    async fn delete(&self, name: &str) -> Result<(), String> {
        match self {
            Target::Folder(folder) => {
                let path = folder.join(name);
                tokio::fs::remove_file(&path).await.map_err(|e| format!("{}: {e}", path.display()))
            }
            Target::S3(bucket) => bucket.delete(name).await,
        }
    }

    /// Moves the finished file `staged` in as `name`: renamed within the folder, or uploaded
    /// (and the local file removed, whatever the outcome).
    async fn store(&self, staged: &Path, name: &str) -> Result<(), String> {
        match self {
            Target::Folder(folder) => {
                let path = folder.join(name);
                tokio::fs::rename(staged, &path).await.map_err(|e| format!("{}: {e}", path.display()))
            }
            Target::S3(bucket) => {
                let body = tokio::fs::read(staged).await.map_err(|e| format!("{}: {e}", staged.display()));
                let _ = tokio::fs::remove_file(staged).await;
                bucket.put(name, body?).await
            }
        }
    }
}

/// The file of a `sqlite://PATH[?…]` URL; `None` for PostgreSQL or an in-memory database.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty() && !path.starts_with(':')).then(|| PathBuf::from(path))
}

/// Takes a backup of `store` (whose URL is `url`) into `target`; its name.
///
/// The backup is written next to where it goes under a hidden `.NAME.partial` name and only
/// then renamed or uploaded, so a backup listed is always complete.
pub async fn take(store: &Store, url: &str, target: &Target) -> Result<String, String> {
    let kind = match store.backend() {
        Backend::Sqlite => Kind::Sqlite,
        Backend::Postgres => Kind::Json,
    };
    let name = names::name(kind, SystemTime::now());
    let staging = match target {
        Target::Folder(folder) => folder.clone(),
        Target::S3(_) => sqlite_file(url)
            .and_then(|file| file.parent().map(Path::to_path_buf))
            .filter(|folder| kind == Kind::Sqlite && !folder.as_os_str().is_empty())
            .unwrap_or_else(std::env::temp_dir),
    };
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let staged = staging.join(format!(".{name}.partial"));
    let written = match kind {
        Kind::Sqlite => store.backup_to(&staged).await.map_err(|e| e.to_string()),
        Kind::Json => match store.export_all_bots().await {
            Ok(document) => {
                let text = serde_json::to_vec(&document).map_err(|e| e.to_string())?;
                tokio::fs::write(&staged, text).await.map_err(|e| format!("{}: {e}", staged.display()))
            }
            Err(error) => Err(error.to_string()),
        },
    };
    let stored = match written {
        Ok(()) => target.store(&staged, &name).await,
        Err(error) => Err(error),
    };
    if stored.is_err() {
        let _ = tokio::fs::remove_file(&staged).await;
    }
    stored.map(|()| name)
}

/// Deletes the oldest backups of `target` until `keep` are left; the names deleted.
pub async fn prune(target: &Target, keep: usize) -> Result<Vec<String>, String> {
    let names = target.list().await?;
    let excess = names.len().saturating_sub(keep.max(1));
    let mut deleted = Vec::new();
    for name in names.into_iter().take(excess) {
        target.delete(&name).await?;
        deleted.push(name);
    }
    Ok(deleted)
}

/// What [`restore`] brought back.
#[derive(Debug)]
pub struct Restored {
    pub name: String,
    /// Bots in the restored database.
    pub bots: usize,
}

/// Restores the backup `name` of `target` (by default the newest) into the database at
/// `url`. A database with bots is refused unless `force`, which replaces it (a SQLite file
/// whole; on PostgreSQL each bot of the backup, bots absent from it staying). `serve` must not
/// be running on that database.
pub async fn restore(
    target: &Target,
    name: Option<&str>,
    url: &str,
    tls: &ferrogram_store::Tls,
    force: bool,
) -> Result<Restored, String> {
    let names = target.list().await?;
    let name = match name {
        Some(name) if names.iter().any(|n| n == name) => name.to_owned(),
        Some(name) => {
            return Err(format!(
                "no backup named {name} at {} (`ferrogram backup list` shows them)",
                target.describe()
            ));
        }
        None => names.last().cloned().ok_or_else(|| format!("no backups at {}", target.describe()))?,
    };
    let kind = names::parse(&name).ok_or_else(|| format!("{name} is not a backup name"))?;
    let bytes = target.read(&name).await?;
    let bots = match (kind, sqlite_file(url)) {
        (Kind::Sqlite, Some(file)) => restore_file(&bytes, &file, url, force).await?,
        (Kind::Sqlite, None) => {
            // Into PostgreSQL: the snapshot's bots, exported from a temporary copy.
            let scratch = std::env::temp_dir().join(format!(".{name}.{}.restoring", std::process::id()));
            tokio::fs::write(&scratch, &bytes).await.map_err(|e| format!("{}: {e}", scratch.display()))?;
            let document = read_snapshot(&scratch).await;
            let _ = tokio::fs::remove_file(&scratch).await;
            restore_document(&document?, url, tls, force).await?
        }
        (Kind::Json, _) => {
            let document = serde_json::from_slice(&bytes).map_err(|e| format!("{name}: not JSON: {e}"))?;
            restore_document(&document, url, tls, force).await?
        }
    };
    Ok(Restored { name, bots })
}

/// Every bot of the SQLite snapshot at `file`, as an all-bots document.
async fn read_snapshot(file: &Path) -> Result<serde_json::Value, String> {
    let url = format!("sqlite://{}", file.display());
    let store = Store::open(&url).await.map_err(|e| format!("the snapshot: {e}"))?;
    let document = store.export_all_bots().await.map_err(|e| format!("the snapshot: {e}"));
    store.close().await;
    document
}

/// Imports an all-bots document into the database at `url`; its bot count after.
async fn restore_document(
    document: &serde_json::Value,
    url: &str,
    tls: &ferrogram_store::Tls,
    force: bool,
) -> Result<usize, String> {
    let store = crate::open_store(url, tls).await?;
    let result = async {
        let count = store.bot_count().await.map_err(|e| e.to_string())?;
        if count > 0 && !force {
            return Err(format!(
                "database {} has {count} bot(s): restoring would replace them; pass --force to replace",
                redact(url)
            ));
        }
        store.import_all_bots(document, force).await.map_err(|e| e.to_string())?;
        store.bot_count().await.map_err(|e| e.to_string())
    }
    .await;
    store.close().await;
    result
}

/// Puts the SQLite snapshot `bytes` in place of `file`; its bot count.
///
/// The snapshot is written beside it, checked (it opens, migrates and counts its bots), then
/// renamed over it, the old write-ahead log removed first (it belongs to the old file).
async fn restore_file(bytes: &[u8], file: &Path, url: &str, force: bool) -> Result<usize, String> {
    if !force && file.metadata().is_ok_and(|m| m.len() > 0) {
        let held = match Store::connect(url).await {
            Ok(store) => {
                let count = store.bot_count().await;
                store.close().await;
                count.map_err(|e| e.to_string())
            }
            Err(error) => Err(error.to_string()),
        };
        match held {
            Ok(0) => {}
            Ok(count) => {
                return Err(format!(
                    "{} has {count} bot(s): restoring would replace it; stop `serve` and pass --force",
                    file.display()
                ));
            }
            Err(error) => {
                return Err(format!(
                    "{} exists and is not an empty Ferrogram database ({error}); pass --force to replace it",
                    file.display()
                ));
            }
        }
    }
    if let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    }
    let staged = PathBuf::from(format!("{}.restoring", file.display()));
    tokio::fs::write(&staged, bytes).await.map_err(|e| format!("{}: {e}", staged.display()))?;
    let checked = async {
        let store = Store::open(&format!("sqlite://{}", staged.display())).await?;
        let count = store.bot_count().await;
        store.close().await;
        count
    }
    .await
    .map_err(|e| format!("the backup is not a usable database: {e}"));
    // Closing leaves no write-ahead log beside the staged copy; remove any all the same.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", staged.display()));
    }
    let count = match checked {
        Ok(count) => count,
        Err(error) => {
            let _ = std::fs::remove_file(&staged);
            return Err(error);
        }
    };
    for suffix in ["-wal", "-shm"] {
        let old = format!("{}{suffix}", file.display());
        if let Err(error) = std::fs::remove_file(&old)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            return Err(format!("{old}: {error}"));
        }
    }
    std::fs::rename(&staged, file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_folders_or_s3_buckets() {
        let none = |_: &str| None;
        assert!(matches!(Target::new("backups", None, "us-east-1", none), Ok(Target::Folder(_))));
        assert!(Target::new("", None, "us-east-1", none).is_err());
        assert!(Target::new("gs://bucket", None, "us-east-1", none).unwrap_err().contains("expected a folder"));
        let error = Target::new("s3://bucket/x", None, "us-east-1", none).unwrap_err();
        assert!(error.contains("AWS_ACCESS_KEY_ID"), "{error}");
        assert_eq!(sqlite_file("sqlite://data/f.db?mode=rwc"), Some(PathBuf::from("data/f.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }
}
