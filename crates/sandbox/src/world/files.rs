//! The files bots upload or send by URL: their bytes, ids and the paths getFile hands out.

use super::{State, random_id};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredFile {
    pub file_unique_id: String,
    pub file_path: String,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    #[serde(with = "crate::persist::base64_bytes")]
    pub bytes: Vec<u8>,
}

impl State {
    /// Stores file bytes and returns the new file's id.
    pub fn store_file(
        &mut self,
        folder: &str,
        file_name: Option<String>,
        mime_type: Option<String>,
        bytes: Vec<u8>,
    ) -> String {
        let number = self.next_file_number;
        self.next_file_number += 1;
        let extension = file_name
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, ext)| ext.to_string())
            .unwrap_or_else(|| default_extension(folder).to_string());
        let file_id = format!("{}{}", random_id(24), number);
        let file = StoredFile {
            file_unique_id: format!("AQAD{}", random_id(12)),
            file_path: format!("{folder}/file_{number}.{extension}"),
            file_name,
            mime_type,
            bytes,
        };
        self.file_paths.insert(file.file_path.clone(), file_id.clone());
        self.files.insert(file_id.clone(), file);
        file_id
    }

    pub fn forget_file(&mut self, file_id: &str) {
        if let Some(file) = self.files.remove(file_id) {
            self.file_paths.remove(&file.file_path);
        }
    }

    pub fn file_by_path(&self, path: &str) -> Option<&StoredFile> {
        self.files.get(self.file_paths.get(path)?)
    }
}

fn default_extension(folder: &str) -> &'static str {
    match folder {
        "photos" => "jpg",
        "videos" => "mp4",
        "voice" => "oga",
        "music" => "mp3",
        "animations" => "mp4",
        _ => "bin",
    }
}
