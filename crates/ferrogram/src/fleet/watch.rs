//! Watching a folder of bot files with the standard library only: each poll compares every
//! file's modification time and size with the last poll's. A file is reported written once it
//! has stayed the same for one whole poll after changing (an editor or a copy still writing it
//! changes it again in between), and removed when it is gone. Polling rather than inotify: see
//! `docs/decisions/0031-bots-live-in-the-store.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often `serve` polls its folder; a saved file is picked up within about two of these.
pub(crate) const POLL_EVERY: Duration = Duration::from_secs(1);

/// What a file looks like from outside: when it was last modified, and its size.
type Signature = (Option<SystemTime>, u64);

/// A change to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// A new or changed file, unchanged since the previous poll.
    Written(PathBuf),
    /// A file that was there and is gone.
    Removed(PathBuf),
}

/// The bot files of a folder as the last poll saw them.
pub(crate) struct Watched {
    folder: PathBuf,
    /// The signature each file had when last reported (or when watching began).
    settled: BTreeMap<PathBuf, Signature>,
    /// Files changed since then, with the signature they had at the last poll.
    changing: BTreeMap<PathBuf, Signature>,
}

impl Watched {
    /// Starts watching: the files there now count as seen (read them after this, so a write
    /// racing the first read is reported by a later poll).
    pub(crate) fn new(folder: &Path) -> Watched {
        Watched { folder: folder.to_path_buf(), settled: scan(folder), changing: BTreeMap::new() }
    }

    /// One poll: the files removed, then those written (settled) since the last, each in name
    /// order. A folder that cannot be read reports nothing, so a folder briefly unreadable does
    /// not read as every file removed.
    pub(crate) fn poll(&mut self) -> Vec<Change> {
        if std::fs::read_dir(&self.folder).is_err() {
            return Vec::new();
        }
        let now = scan(&self.folder);
        let mut changes = Vec::new();
        for path in self.settled.keys() {
            if !now.contains_key(path) {
                changes.push(Change::Removed(path.clone()));
            }
        }
        for change in &changes {
            if let Change::Removed(path) = change {
                self.settled.remove(path);
            }
        }
        self.changing.retain(|path, _| now.contains_key(path));
        for (path, signature) in now {
            if self.settled.get(&path) == Some(&signature) {
                self.changing.remove(&path);
                continue;
            }
            if self.changing.get(&path) == Some(&signature) {
                self.changing.remove(&path);
                self.settled.insert(path.clone(), signature);
                changes.push(Change::Written(path));
            } else {
                self.changing.insert(path, signature);
            }
        }
        changes
    }
}

/// Whether `path` names a bot file: `*.yaml`, `*.yml` or `*.json`.
pub(crate) fn is_bot_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

/// Every bot file of the folder with its signature (none if the folder cannot be read).
fn scan(folder: &Path) -> BTreeMap<PathBuf, Signature> {
    let Ok(entries) = std::fs::read_dir(folder) else { return BTreeMap::new() };
    entries
        .filter_map(Result::ok)
        .filter(|entry| is_bot_file(&entry.path()))
        .filter_map(|entry| {
            let metadata = entry.metadata().ok().filter(std::fs::Metadata::is_file)?;
            Some((entry.path(), (metadata.modified().ok(), metadata.len())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("ferrogram-watch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    #[test]
    fn a_file_is_written_once_it_stays_the_same_for_a_poll() {
        let dir = folder("written");
        std::fs::write(dir.join("old.yaml"), "old").unwrap();
        std::fs::write(dir.join("notes.txt"), "not a bot").unwrap();
        let mut watched = Watched::new(&dir);
        assert_eq!(watched.poll(), [], "what was there is seen");

        let new = dir.join("new.yaml");
        std::fs::write(&new, "half").unwrap();
        assert_eq!(watched.poll(), [], "still being written, perhaps");
        // Written again between two polls (the size tells, whatever the clock's resolution).
        std::fs::write(&new, "half and the rest").unwrap();
        assert_eq!(watched.poll(), [], "changed since the last poll: not settled");
        assert_eq!(watched.poll(), [Change::Written(new.clone())]);
        assert_eq!(watched.poll(), [], "reported once");

        std::fs::write(dir.join("old.yaml"), "old, edited").unwrap();
        std::fs::write(dir.join("other.txt"), "ignored").unwrap();
        assert_eq!(watched.poll(), []);
        assert_eq!(watched.poll(), [Change::Written(dir.join("old.yaml"))]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_removed_file_is_reported_once_and_a_vanished_folder_reports_nothing() {
        let dir = folder("removed");
        std::fs::write(dir.join("a.yml"), "a").unwrap();
        std::fs::write(dir.join("b.json"), "b").unwrap();
        let mut watched = Watched::new(&dir);
        std::fs::remove_file(dir.join("a.yml")).unwrap();
        assert_eq!(watched.poll(), [Change::Removed(dir.join("a.yml"))]);
        assert_eq!(watched.poll(), []);
        // A file removed while being written is forgotten, not reported.
        std::fs::write(dir.join("c.yaml"), "c").unwrap();
        assert_eq!(watched.poll(), []);
        std::fs::remove_file(dir.join("c.yaml")).unwrap();
        assert_eq!(watched.poll(), []);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(watched.poll(), [], "not every file removed");
    }
}
