//! Files: uploads, file_ids, URLs, media messages, media groups and getFile.

use super::messages::{admit, send_to};
use super::text;
use crate::App;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, Upload};
use crate::world::{Sender, State, StoredFile};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// What Telegram lets a bot upload, and the largest file it takes.
const PHOTO_MAX_BYTES: usize = 10 << 20;
const FILE_MAX_BYTES: usize = 50 << 20;
/// getFile serves files up to 20 MB.
const DOWNLOAD_MAX_BYTES: usize = 20 << 20;
const URL_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A kind of media message: the method's file parameter and the Message field it fills.
struct Kind {
    field: &'static str,
    folder: &'static str,
}

fn kind_of(method: &str) -> Option<Kind> {
    let (field, folder) = match method {
        "sendPhoto" => ("photo", "photos"),
        "sendDocument" => ("document", "documents"),
        "sendAudio" => ("audio", "music"),
        "sendVideo" => ("video", "videos"),
        "sendVoice" => ("voice", "voice"),
        "sendAnimation" => ("animation", "animations"),
        "sendVideoNote" => ("video_note", "video_notes"),
        "sendSticker" => ("sticker", "stickers"),
        _ => return None,
    };
    Some(Kind { field, folder })
}

fn kind_of_input_media(kind: &str) -> Option<Kind> {
    match kind {
        "photo" => kind_of("sendPhoto"),
        "video" => kind_of("sendVideo"),
        "document" => kind_of("sendDocument"),
        "audio" => kind_of("sendAudio"),
        "animation" => kind_of("sendAnimation"),
        _ => None,
    }
}

/// Downloads the files a call names by HTTP URL, before the world is locked, as Telegram
/// would. Each becomes an upload named `url:<the url>`.
pub async fn fetch_remote_files(app: &App, params: &mut Params) -> ApiResult<()> {
    let mut urls: Vec<String> = Vec::new();
    for (name, value) in params.values() {
        let is_url = |v: &str| v.starts_with("http://") || v.starts_with("https://");
        match value {
            Value::String(v) if is_url(v) && is_file_field(name) => urls.push(v.clone()),
            Value::Array(items) if name == "media" => {
                urls.extend(items.iter().filter_map(|m| m["media"].as_str()).filter(|v| is_url(v)).map(str::to_string))
            }
            _ => {}
        }
    }
    for url in urls {
        let upload =
            fetch(&app.http, &url).await.map_err(|_| ApiError::bad_request("failed to get HTTP URL content"))?;
        params.insert_upload(format!("url:{url}"), upload);
    }
    Ok(())
}

fn is_file_field(name: &str) -> bool {
    ["photo", "document", "audio", "video", "voice", "animation", "video_note", "sticker", "thumbnail"].contains(&name)
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Upload, reqwest::Error> {
    let response = http.get(url).timeout(URL_FETCH_TIMEOUT).send().await?.error_for_status()?;
    let mime_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let file_name = url.rsplit('/').next().filter(|n| !n.is_empty() && n.contains('.')).map(str::to_string);
    let bytes = response.bytes().await?;
    Ok(Upload { file_name, mime_type, bytes })
}

/// A file a call refers to: its id, and whether the call stored it (so a failed call can
/// forget it again and change nothing).
struct Resolved {
    file_id: String,
    created: bool,
}

/// Resolves a file parameter (an upload, `attach://name`, a file_id or a fetched URL) to a
/// stored file.
fn resolve_file(s: &mut State, p: &Params, kind: &Kind, value: Option<&Value>, field: &str) -> ApiResult<Resolved> {
    let upload = match value.and_then(Value::as_str) {
        None => p.upload(field),
        Some(v) if v.starts_with("attach://") => p.upload(&v["attach://".len()..]),
        Some(v) if v.starts_with("http://") || v.starts_with("https://") => p.upload(&format!("url:{v}")),
        Some(file_id) => {
            return if s.files.contains_key(file_id) {
                Ok(Resolved { file_id: file_id.to_string(), created: false })
            } else {
                Err(ApiError::bad_request("wrong file identifier/HTTP URL specified"))
            };
        }
    };
    let upload = upload
        .ok_or_else(|| ApiError::bad_request(format!("there is no {} in the request", kind.field.replace('_', " "))))?;
    let limit = if kind.field == "photo" { PHOTO_MAX_BYTES } else { FILE_MAX_BYTES };
    if upload.bytes.is_empty() {
        return Err(ApiError::bad_request("file must be non-empty"));
    }
    if upload.bytes.len() > limit {
        return Err(ApiError::bad_request("file is too big"));
    }
    let name = upload.file_name.clone().filter(|n| !n.is_empty());
    let mime = upload
        .mime_type
        .clone()
        .filter(|m| m != "application/octet-stream")
        .or_else(|| name.as_deref().and_then(mime_for));
    Ok(Resolved { file_id: s.store_file(kind.folder, name, mime, upload.bytes.to_vec()), created: true })
}

/// Forgets the files a failed call stored.
fn forget(s: &mut State, files: impl IntoIterator<Item = Resolved>) {
    for file in files.into_iter().filter(|f| f.created) {
        s.forget_file(&file.file_id);
    }
}

fn mime_for(file_name: &str) -> Option<String> {
    let extension = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
    let mime = match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        "csv" => "text/csv",
        "zip" => "application/zip",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "mp4" => "video/mp4",
        _ => return None,
    };
    Some(mime.to_string())
}

/// The Message field for a stored file: a PhotoSize array for photos, an object otherwise.
fn media_value(kind: &Kind, file_id: &str, file: &StoredFile, extra: &Map<String, Value>) -> Value {
    let number = |key: &str, default: i64| extra.get(key).and_then(Value::as_i64).unwrap_or(default);
    let mut object = json!({"file_id": file_id, "file_unique_id": file.file_unique_id, "file_size": file.bytes.len()});
    if kind.field == "photo" {
        let (width, height) = image_size(&file.bytes).unwrap_or((320, 320));
        object["width"] = json!(width);
        object["height"] = json!(height);
        return json!([object]);
    }
    let (width, height) = image_size(&file.bytes).unwrap_or((0, 0));
    let fields: &[(&str, Value)] = match kind.field {
        "audio" | "voice" => &[("duration", json!(number("duration", 0)))],
        "video" | "animation" => &[
            ("width", json!(number("width", width as i64))),
            ("height", json!(number("height", height as i64))),
            ("duration", json!(number("duration", 0))),
        ],
        "video_note" => &[("length", json!(number("length", 240))), ("duration", json!(number("duration", 0)))],
        "sticker" => &[
            ("type", json!("regular")),
            ("width", json!(512)),
            ("height", json!(512)),
            ("is_animated", json!(false)),
            ("is_video", json!(false)),
        ],
        _ => &[],
    };
    for (key, value) in fields {
        object[*key] = value.clone();
    }
    if kind.field != "video_note" && kind.field != "sticker" {
        if let Some(name) = &file.file_name {
            object["file_name"] = json!(name);
        }
        if let Some(mime) = &file.mime_type {
            object["mime_type"] = json!(mime);
        }
    }
    if kind.field == "voice" {
        object.as_object_mut().map(|o| o.remove("file_name"));
    }
    for optional in ["performer", "title", "emoji"] {
        if let Some(v) = extra.get(optional).filter(|_| ["audio", "sticker"].contains(&kind.field)) {
            object[optional] = v.clone();
        }
    }
    object
}

/// Width and height from a PNG, GIF or JPEG header.
pub fn image_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]) as u32;
    if bytes.len() >= 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some((be32(&bytes[16..20]), be32(&bytes[20..24])));
    }
    if bytes.len() >= 10 && bytes.starts_with(b"GIF8") {
        return Some((
            u16::from_le_bytes([bytes[6], bytes[7]]) as u32,
            u16::from_le_bytes([bytes[8], bytes[9]]) as u32,
        ));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut i = 2;
        while i + 9 < bytes.len() {
            if bytes[i] != 0xFF {
                return None;
            }
            let marker = bytes[i + 1];
            let length = be16(&bytes[i + 2..i + 4]) as usize;
            // Start-of-frame markers carry the size; C4, C8 and CC are not frames.
            if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
                return Some((be16(&bytes[i + 7..i + 9]), be16(&bytes[i + 5..i + 7])));
            }
            i += 2 + length;
        }
    }
    None
}

pub fn send_file(s: &mut State, bot_id: i64, method: &str, p: &Params) -> ApiResult<Value> {
    let kind = kind_of(method).expect("dispatched only for media methods");
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    let caption = text::caption(p)?;
    let file = resolve_file(s, p, &kind, p.value(kind.field), kind.field)?;
    let mut content = Map::new();
    content.insert(kind.field.into(), media_value(&kind, &file.file_id, &s.files[&file.file_id], p.values()));
    if let Some(caption) = caption.filter(|_| kind.field != "sticker" && kind.field != "video_note") {
        caption.write_to(&mut content, "caption", "caption_entities");
    }
    if p.bool("has_spoiler") {
        content.insert("has_media_spoiler".into(), json!(true));
    }
    send_to(s, bot_id, target, p, content).inspect_err(|_| forget(s, [file]))
}

/// Sends 2–10 photos, videos, documents or audios as one album.
pub fn send_media_group(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    let items = p
        .value("media")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("expected an Array of InputMedia"))?;
    if !(2..=10).contains(&items.len()) {
        return Err(ApiError::bad_request("wrong number of media specified: must be from 2 to 10"));
    }
    let kinds = items
        .iter()
        .map(|item| {
            item["type"]
                .as_str()
                .and_then(kind_of_input_media)
                .ok_or_else(|| ApiError::bad_request("can't parse InputMedia: unsupported media type"))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let separate = |field: &str| kinds.iter().any(|k| k.field == field) && kinds.iter().any(|k| k.field != field);
    if separate("document") || separate("audio") {
        return Err(ApiError::bad_request("documents and audios can't be mixed with other media types"));
    }
    let mut contents = Vec::with_capacity(items.len());
    let mut files = Vec::with_capacity(items.len());
    let mut resolve_all = |s: &mut State| -> ApiResult<()> {
        for (item, kind) in items.iter().zip(&kinds) {
            let caption = text::format(
                item["caption"].as_str().unwrap_or_default(),
                item["parse_mode"].as_str(),
                item.get("caption_entities"),
            )?;
            let file = resolve_file(s, p, kind, item.get("media"), kind.field)?;
            let extra = item.as_object().cloned().unwrap_or_default();
            let mut content = Map::new();
            content.insert(kind.field.into(), media_value(kind, &file.file_id, &s.files[&file.file_id], &extra));
            if !caption.text.is_empty() {
                caption.write_to(&mut content, "caption", "caption_entities");
            }
            files.push(file);
            contents.push(content);
        }
        // An album counts as one send: Telegram takes up to 10 items in one go.
        admit(s, bot_id, target)
    };
    if let Err(error) = resolve_all(s) {
        forget(s, files);
        return Err(error);
    }
    let group_id = fastrand::u64(10_000_000_000_000..99_999_999_999_999).to_string();
    let mut messages = Vec::with_capacity(contents.len());
    for mut content in contents {
        content.insert("media_group_id".into(), json!(group_id));
        let message = s.post(target, Sender::Bot(bot_id), Value::Object(content), None);
        s.record(bot_id, Some(target.chat_id()), "sent", Some(message.clone()), None);
        messages.push(message);
    }
    Ok(Value::Array(messages))
}

pub fn get_file(s: &mut State, p: &Params) -> ApiResult<Value> {
    let file_id = p.require_str("file_id", "file_id not specified")?;
    let file = s
        .files
        .get(file_id)
        .ok_or_else(|| ApiError::bad_request("wrong file_id or the file is temporarily unavailable"))?;
    if file.bytes.len() > DOWNLOAD_MAX_BYTES {
        return Err(ApiError::bad_request("file is too big"));
    }
    Ok(
        json!({"file_id": file_id, "file_unique_id": file.file_unique_id, "file_size": file.bytes.len(), "file_path": file.file_path}),
    )
}

/// The Message field for a photo or document a user sends (the control API's uploads).
pub fn user_media(s: &mut State, field: &str, upload: Upload) -> ApiResult<Value> {
    let kind = kind_of_input_media(field).ok_or_else(|| ApiError::bad_request(format!("unsupported media {field}")))?;
    let mime = upload.mime_type.or_else(|| upload.file_name.as_deref().and_then(mime_for));
    let file_id = s.store_file(kind.folder, upload.file_name, mime, upload.bytes.to_vec());
    Ok(media_value(&kind, &file_id, &s.files[&file_id], &Map::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_sizes_from_headers() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\x2c\0\0\0\xc8rest";
        assert_eq!(image_size(png), Some((300, 200)));
        let gif = b"GIF89a\x10\x00\x20\x00rest";
        assert_eq!(image_size(gif), Some((16, 32)));
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 50, 0, 100, 3, 0, 0, 0];
        assert_eq!(image_size(&jpeg), Some((100, 50)));
        assert_eq!(image_size(b"not an image"), None);
    }
}
