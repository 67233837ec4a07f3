//! In-memory uploads and the request value that carries them.
//!
//! frankenstein's own `InputFile` names a local path; a multi-tenant server holds files as
//! bytes (from the store, from a user, from an HTTP action), so uploads here are [`Upload`]s:
//! bytes plus a file name. Parameters refer to an upload with `attach://<key>`
//! ([`Upload::attach`]) wherever the Bot API takes an `InputFile` — a top-level field such as
//! `photo` or a nested one such as `media` inside `sendMediaGroup` — and the upload travels
//! beside the parameters. One mechanism covers every method, and the request stays plain data
//! that can be queued and re-sent by the flood scheduler.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use frankenstein::input_file::FileUpload;
use reqwest::multipart::{Form, Part};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Error;

const ATTACH: &str = "attach://";

/// Attach keys only need to be unique inside one request; a process-wide counter makes them
/// unique everywhere without asking the caller for names.
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// A file sent with the request, held in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    key: String,
    file_name: String,
    mime: Option<String>,
    bytes: Bytes,
}

impl Upload {
    /// A new upload; `file_name` is what the recipient sees.
    pub fn new(file_name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        let n = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        Upload { key: format!("file{n}"), file_name: file_name.into(), mime: None, bytes: bytes.into() }
    }

    /// Sets the part's content type (Telegram detects it from the content when absent).
    pub fn with_mime(mut self, mime: impl Into<String>) -> Self {
        self.mime = Some(mime.into());
        self
    }

    /// The value to put in an `InputFile` field of the parameters to send this upload there.
    pub fn attach(&self) -> FileUpload {
        FileUpload::String(self.attach_url())
    }

    /// `attach://<key>`, for parameters built as raw JSON.
    pub fn attach_url(&self) -> String {
        format!("{ATTACH}{}", self.key)
    }

    /// The multipart part name of this upload.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    pub fn mime(&self) -> Option<&str> {
        self.mime.as_deref()
    }

    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    fn part(&self) -> Result<Part, Error> {
        let len = self.bytes.len() as u64;
        let part = Part::stream_with_length(self.bytes.clone(), len).file_name(self.file_name.clone());
        match &self.mime {
            Some(mime) => {
                part.mime_str(mime).map_err(|e| Error::InvalidRequest(format!("bad MIME type {mime:?}: {e}")))
            }
            None => Ok(part),
        }
    }
}

/// A file to send: one Telegram already has (file_id) or can fetch (URL), or bytes to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputFile {
    Remote(String),
    Upload(Upload),
}

impl InputFile {
    /// The parameter value and, for an upload, the upload to pass beside the parameters.
    pub fn into_parts(self) -> (FileUpload, Option<Upload>) {
        match self {
            InputFile::Remote(id) => (FileUpload::String(id), None),
            InputFile::Upload(upload) => (upload.attach(), Some(upload)),
        }
    }
}

impl From<Upload> for InputFile {
    fn from(upload: Upload) -> Self {
        InputFile::Upload(upload)
    }
}

impl From<String> for InputFile {
    fn from(id: String) -> Self {
        InputFile::Remote(id)
    }
}

impl From<&str> for InputFile {
    fn from(id: &str) -> Self {
        InputFile::Remote(id.to_owned())
    }
}

/// One Bot API call as plain data: method, parameters as a JSON object, uploads.
///
/// Building it checks that every `attach://` reference has its upload and every upload is
/// referenced, so a malformed request fails before it is queued or sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    method: String,
    params: Map<String, Value>,
    uploads: Vec<Upload>,
}

impl Request {
    /// A request without uploads. `params` must serialise to a JSON object (or to null/unit
    /// for methods without parameters).
    pub fn new<P: Serialize + ?Sized>(method: impl Into<String>, params: &P) -> Result<Self, Error> {
        Self::with_uploads(method, params, Vec::new())
    }

    /// A request whose parameters refer to `uploads` through `attach://` values.
    pub fn with_uploads<P: Serialize + ?Sized>(
        method: impl Into<String>,
        params: &P,
        uploads: Vec<Upload>,
    ) -> Result<Self, Error> {
        let method = method.into();
        let params = match serde_json::to_value(params) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) => Map::new(),
            Ok(other) => {
                return Err(Error::InvalidRequest(format!(
                    "parameters of {method} must be a JSON object, not {other}"
                )));
            }
            Err(e) => {
                return Err(Error::InvalidRequest(format!("cannot serialise parameters of {method}: {e}")));
            }
        };
        let request = Request { method, params, uploads };
        request.check_attachments()?;
        Ok(request)
    }

    pub fn method(&self) -> &str {
        &self.method
    }

    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    pub fn uploads(&self) -> &[Upload] {
        &self.uploads
    }

    /// Sets a top-level parameter, e.g. a file field whose frankenstein type cannot hold
    /// `attach://` (setWebhook's `certificate`).
    pub(crate) fn set_param(&mut self, name: &str, value: Value) {
        self.params.insert(name.to_owned(), value);
    }

    pub(crate) fn push_upload(&mut self, upload: Upload) {
        self.uploads.push(upload);
    }

    /// The `chat_id` parameter, which scopes flood limits.
    pub fn chat_id(&self) -> Option<&Value> {
        self.params.get("chat_id")
    }

    /// Catches the usual mistakes of hand-built upload requests. Requests without uploads
    /// are not scanned: a message text may well start with `attach://`.
    fn check_attachments(&self) -> Result<(), Error> {
        if self.uploads.is_empty() {
            return Ok(());
        }
        let mut referenced = HashSet::new();
        for value in self.params.values() {
            collect_attachments(value, &mut referenced);
        }
        if let Some(upload) = self.uploads.iter().find(|u| !referenced.contains(u.key.as_str())) {
            return Err(Error::InvalidRequest(format!(
                "upload {:?} ({}) is not referenced by the parameters of {}",
                upload.file_name,
                upload.attach_url(),
                self.method
            )));
        }
        let keys: HashSet<&str> = self.uploads.iter().map(|u| u.key.as_str()).collect();
        if let Some(missing) = referenced.iter().find(|k| !keys.contains(*k)) {
            return Err(Error::InvalidRequest(format!(
                "{} refers to {ATTACH}{missing} but no such upload was given",
                self.method
            )));
        }
        Ok(())
    }

    /// The multipart body: a text part per parameter and a file part per upload. An upload
    /// referenced directly by a top-level field is sent under that field's name, the form
    /// every Bot API server accepts; nested references keep `attach://` and their own part.
    pub(crate) fn multipart(&self) -> Result<Form, Error> {
        let by_key: HashMap<&str, &Upload> = self.uploads.iter().map(|u| (u.key.as_str(), u)).collect();
        let mut nested = HashSet::new();
        let mut form = Form::new();
        for (name, value) in &self.params {
            match value {
                Value::Null => {}
                Value::String(s) => match s.strip_prefix(ATTACH).and_then(|k| by_key.get(k)) {
                    Some(upload) => form = form.part(name.clone(), upload.part()?),
                    None => form = form.text(name.clone(), s.clone()),
                },
                Value::Array(_) | Value::Object(_) => {
                    collect_attachments(value, &mut nested);
                    form = form.text(name.clone(), value.to_string());
                }
                Value::Bool(_) | Value::Number(_) => form = form.text(name.clone(), value.to_string()),
            }
        }
        for key in nested {
            if let Some(upload) = by_key.get(key) {
                form = form.part(key.to_owned(), upload.part()?);
            }
        }
        Ok(form)
    }
}

fn collect_attachments<'a>(value: &'a Value, out: &mut HashSet<&'a str>) {
    match value {
        Value::String(s) => {
            if let Some(key) = s.strip_prefix(ATTACH) {
                out.insert(key);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_attachments(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_attachments(v, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upload_keys_are_unique() {
        let a = Upload::new("a.png", vec![1]);
        let b = Upload::new("a.png", vec![1]);
        assert_ne!(a.key(), b.key());
        assert_eq!(a.attach(), FileUpload::String(format!("attach://{}", a.key())));
    }

    #[test]
    fn params_must_be_an_object() {
        assert!(Request::new("getMe", &()).is_ok());
        let err = Request::new("sendMessage", &[1, 2]).unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
    }

    #[test]
    fn unreferenced_upload_is_refused() {
        let up = Upload::new("a.png", vec![1]);
        let err = Request::with_uploads("sendPhoto", &json!({"chat_id": 1, "photo": "id"}), vec![up]).unwrap_err();
        assert!(err.to_string().contains("not referenced"), "{err}");
    }

    #[test]
    fn reference_without_upload_is_refused() {
        let up = Upload::new("a.png", vec![1]);
        let params = json!({"chat_id": 1, "photo": up.attach_url(), "thumbnail": "attach://nope"});
        let err = Request::with_uploads("sendPhoto", &params, vec![up]).unwrap_err();
        assert!(err.to_string().contains("attach://nope"), "{err}");
    }

    #[test]
    fn plain_text_looking_like_a_reference_is_left_alone() {
        let req = Request::new("sendMessage", &json!({"chat_id": 1, "text": "attach://x"}));
        assert!(req.is_ok());
    }

    #[test]
    fn nested_and_top_level_references_are_accepted() {
        let a = Upload::new("a.png", vec![1]);
        let b = Upload::new("b.png", vec![2]);
        let params = json!({
            "chat_id": 1,
            "photo": a.attach_url(),
            "media": [{"type": "photo", "media": b.attach_url()}],
        });
        let req = Request::with_uploads("x", &params, vec![a, b]).unwrap();
        assert_eq!(req.uploads().len(), 2);
        assert!(req.multipart().is_ok());
    }

    #[test]
    fn input_file_parts() {
        let (value, upload) = InputFile::from("AgAD").into_parts();
        assert_eq!(value, FileUpload::String("AgAD".into()));
        assert!(upload.is_none());
        let up = Upload::new("x.jpg", vec![0xff]).with_mime("image/jpeg");
        let (value, upload) = InputFile::from(up.clone()).into_parts();
        assert_eq!(value, up.attach());
        assert_eq!(upload, Some(up));
    }

    #[test]
    fn bad_mime_is_an_invalid_request() {
        let up = Upload::new("x", vec![1]).with_mime("not a mime");
        let req = Request::with_uploads("sendDocument", &json!({"document": up.attach_url()}), vec![up]).unwrap();
        assert!(matches!(req.multipart(), Err(Error::InvalidRequest(_))));
    }
}
