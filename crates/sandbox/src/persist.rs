//! Saving the sandbox's state to a file and loading it back (`--state FILE`).
//!
//! The file is the state as JSON plus a `version`. Fields added later take their defaults when
//! an older file lacks them; a change older files cannot follow raises the version, and a file
//! of a version this build does not read is refused with a clear error.

use crate::world::{State, World};
use serde::{Deserialize, Serialize};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use tokio::sync::watch;

/// The format version this build writes.
pub const STATE_VERSION: u32 = 1;
/// The versions this build reads; 0 is a file written before versions were recorded.
const READABLE_VERSIONS: RangeInclusive<u32> = 0..=STATE_VERSION;

#[derive(Serialize)]
struct StateFile<'a> {
    version: u32,
    #[serde(flatten)]
    state: &'a State,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    version: u32,
}

/// Loads a saved state; a missing file is a fresh world.
pub fn load(path: &Path) -> Result<State, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let not_state = |e: serde_json::Error| format!("{}: not a sandbox state file: {e}", path.display());
    let header: Header = serde_json::from_slice(&bytes).map_err(not_state)?;
    if !READABLE_VERSIONS.contains(&header.version) {
        return Err(format!(
            "{}: a sandbox state file of format version {}, which this build cannot read (it reads versions up to {STATE_VERSION}); use a matching ferrogram or another --state file",
            path.display(),
            header.version
        ));
    }
    serde_json::from_slice(&bytes).map_err(not_state)
}

/// The state file's contents.
fn to_bytes(state: &State) -> Result<Vec<u8>, String> {
    serde_json::to_vec(&StateFile { version: STATE_VERSION, state }).map_err(|e| e.to_string())
}

/// Writes a file durably: to a temporary file that is synced, renamed over the old one, and
/// the folder synced, so a crash leaves either the old file or the new one.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let in_path = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut tmp_name = path.file_name().ok_or_else(|| format!("{}: not a file name", path.display()))?.to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(in_path)?;
    file.write_all(bytes).and_then(|_| file.sync_all()).map_err(in_path)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(in_path)?;
    sync_folder(path).map_err(in_path)
}

/// Makes a rename in the file's folder durable.
#[cfg(unix)]
fn sync_folder(path: &Path) -> std::io::Result<()> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(folder)?.sync_all()
}

#[cfg(not(unix))]
fn sync_folder(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Saves a running world to its state file: skips a save that would write what the file
/// already holds, and never lets two saves interleave.
pub struct Saver {
    path: PathBuf,
    /// A hash of the bytes last written; its lock is held through a save.
    written: parking_lot::Mutex<Option<u64>>,
    /// Counts the writes, for whoever awaits the next one.
    saves: watch::Sender<u64>,
}

impl Saver {
    pub fn new(path: PathBuf) -> Self {
        Self { path, written: parking_lot::Mutex::new(None), saves: watch::channel(0).0 }
    }

    /// Writes the world to the file unless the file holds it already; blocks on the disk.
    pub fn save(&self, world: &World) -> Result<(), String> {
        let mut written = self.written.lock();
        let bytes = world.read(to_bytes)?;
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        let hash = hasher.finish();
        if *written == Some(hash) {
            return Ok(());
        }
        write_durably(&self.path, &bytes)?;
        *written = Some(hash);
        self.saves.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Changes each time the state file is written.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.saves.subscribe()
    }
}

/// File contents as base64 text inside the JSON state file.
pub mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}
