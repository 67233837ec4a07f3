//! Files: uploads, file_ids, URLs, media messages, media groups and getFile.

use super::messages::{admit, replied_message, send_to};
use super::text;
use crate::App;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, Upload};
use crate::world::{Sender, State, StoredFile};
use serde_json::{Map, Value, json};

/// What Telegram lets a bot upload, and the largest file it takes.
const PHOTO_MAX_BYTES: usize = 10 << 20;
const FILE_MAX_BYTES: usize = 50 << 20;
/// What Telegram downloads from an HTTP URL a bot gives: 5 MB for photos, 20 MB otherwise.
const URL_PHOTO_MAX_BYTES: usize = 5 << 20;
const URL_FILE_MAX_BYTES: usize = 20 << 20;
/// getFile serves files up to 20 MB.
const DOWNLOAD_MAX_BYTES: usize = 20 << 20;

/// A kind of media message: the method's file parameter, the Message field it fills, where
/// its files are kept and TDLib's name for such a file (in type-mismatch errors).
struct MediaKind {
    field: &'static str,
    folder: &'static str,
    type_name: &'static str,
}

static KINDS: [(&str, MediaKind); 8] = [
    ("sendPhoto", MediaKind { field: "photo", folder: "photos", type_name: "Photo" }),
    ("sendDocument", MediaKind { field: "document", folder: "documents", type_name: "Document" }),
    ("sendAudio", MediaKind { field: "audio", folder: "music", type_name: "Audio" }),
    ("sendVideo", MediaKind { field: "video", folder: "videos", type_name: "Video" }),
    ("sendVoice", MediaKind { field: "voice", folder: "voice", type_name: "VoiceNote" }),
    ("sendAnimation", MediaKind { field: "animation", folder: "animations", type_name: "Animation" }),
    ("sendVideoNote", MediaKind { field: "video_note", folder: "video_notes", type_name: "VideoNote" }),
    ("sendSticker", MediaKind { field: "sticker", folder: "stickers", type_name: "Sticker" }),
];

fn kind_of(method: &str) -> Option<&'static MediaKind> {
    KINDS.iter().find(|(name, _)| *name == method).map(|(_, kind)| kind)
}

fn kind_of_field(field: &str) -> Option<&'static MediaKind> {
    KINDS.iter().map(|(_, kind)| kind).find(|kind| kind.field == field)
}

/// The kinds an album may hold (InputMediaPhoto, …Video, …Audio, …Document).
const ALBUM_KINDS: [&str; 4] = ["photo", "video", "audio", "document"];

/// Downloads the files a call names by HTTP URL, before the world is locked, as Telegram
/// would, under the address rule ([`crate::fetcher`]). Each becomes an upload named
/// `url:<the url>`. The chat is checked first: a call that cannot be sent downloads nothing.
pub async fn fetch_remote_files(app: &App, bot_id: i64, params: &mut Params) -> ApiResult<()> {
    let is_url = |v: &str| v.starts_with("http://") || v.starts_with("https://");
    let max_bytes = |field: &str| if field == "photo" { URL_PHOTO_MAX_BYTES } else { URL_FILE_MAX_BYTES };
    let mut urls: Vec<(String, usize)> = Vec::new();
    for (name, value) in params.values() {
        match value {
            Value::String(v) if is_url(v) && is_file_field(name) => urls.push((v.clone(), max_bytes(name))),
            Value::Array(items) if name == "media" => urls.extend(items.iter().filter_map(|item| {
                let url = item["media"].as_str().filter(|v| is_url(v))?;
                Some((url.to_string(), max_bytes(item["type"].as_str().unwrap_or_default())))
            })),
            _ => {}
        }
    }
    if urls.is_empty() {
        return Ok(());
    }
    let chat = params.chat_id()?;
    app.world.with(|s| s.target_for_bot(bot_id, &chat))?;
    for (url, max_bytes) in urls {
        let upload = app
            .files
            .fetch(bot_id, &url, max_bytes)
            .await
            .ok_or_else(|| ApiError::bad_request("failed to get HTTP URL content"))?;
        params.insert_upload(format!("url:{url}"), upload);
    }
    Ok(())
}

fn is_file_field(name: &str) -> bool {
    ["photo", "document", "audio", "video", "voice", "animation", "video_note", "sticker", "thumbnail"].contains(&name)
}

/// A file a call refers to: its id, and whether the call stored it (so a failed call can
/// forget it again and change nothing).
struct Resolved {
    file_id: String,
    created: bool,
}

/// Resolves a file parameter (an upload, `attach://name`, a file_id or a fetched URL) to a
/// stored file.
fn resolve_file(
    s: &mut State,
    p: &Params,
    kind: &MediaKind,
    value: Option<&Value>,
    field: &str,
) -> ApiResult<Resolved> {
    let upload = match value.and_then(Value::as_str) {
        None => p.upload(field),
        Some(v) if v.starts_with("attach://") => p.upload(&v["attach://".len()..]),
        Some(v) if v.starts_with("http://") || v.starts_with("https://") => p.upload(&format!("url:{v}")),
        Some(file_id) => {
            let file = s
                .files
                .get(file_id)
                .ok_or_else(|| ApiError::bad_request("wrong file identifier/HTTP URL specified"))?;
            check_file_type(kind, file)?;
            return Ok(Resolved { file_id: file_id.to_string(), created: false });
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
    if kind.field == "photo" && !is_image(&upload.bytes) {
        return Err(ApiError::bad_request("IMAGE_PROCESS_FAILED"));
    }
    let name = upload.file_name.clone().filter(|n| !n.is_empty());
    let mime = upload
        .mime_type
        .clone()
        .filter(|m| m != "application/octet-stream")
        .or_else(|| name.as_deref().and_then(mime_for));
    Ok(Resolved { file_id: s.store_file(kind.folder, name, mime, upload.bytes.to_vec()), created: true })
}

/// A photo's file_id can be sent only as a photo, and any other file's not as a photo: TDLib
/// keeps photos and documents (audio, video… included) in separate classes of files.
fn check_file_type(kind: &MediaKind, file: &StoredFile) -> ApiResult<()> {
    let folder = file.file_path.split('/').next().unwrap_or_default();
    let stored = KINDS.iter().map(|(_, k)| k).find(|k| k.folder == folder).map_or("Document", |k| k.type_name);
    if (kind.field == "photo") != (folder == "photos") {
        return Err(ApiError::bad_request(format!("can't use file of type {stored} as {}", kind.type_name)));
    }
    Ok(())
}

/// Whether bytes are an image Telegram can make a photo of (JPEG, PNG, GIF, WebP, BMP).
fn is_image(bytes: &[u8]) -> bool {
    let webp = bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP";
    image_size(bytes).is_some() || webp || bytes.starts_with(b"BM")
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
fn media_value(kind: &MediaKind, file_id: &str, file: &StoredFile, extra: &Map<String, Value>) -> Value {
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
    let file = resolve_file(s, p, kind, p.value(kind.field), kind.field)?;
    let mut content = Map::new();
    content.insert(kind.field.into(), media_value(kind, &file.file_id, &s.files[&file.file_id], p.values()));
    if let Some(caption) = caption.filter(|_| kind.field != "sticker" && kind.field != "video_note") {
        caption.write_to(&mut content, "caption", "caption_entities");
    }
    if p.bool("has_spoiler") {
        content.insert("has_media_spoiler".into(), json!(true));
    }
    send_to(s, bot_id, target, p, content).inspect_err(|_| forget(s, [file]))
}

/// Sends 2–10 photos and videos, or audios, or documents as one album.
pub fn send_media_group(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    let items = match p.value("media") {
        None => return Err(ApiError::bad_request("parameter \"media\" is required")),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::bad_request("expected an Array of InputMedia")),
    };
    match items.len() {
        0 => return Err(ApiError::bad_request("there are no messages to send")),
        11.. => return Err(ApiError::bad_request("too many messages to send as an album")),
        // Telegram's server sends a lone item as a plain message; the documented range is 2–10.
        1 => return Err(ApiError::bad_request("wrong number of media specified: must be from 2 to 10")),
        _ => {}
    }
    let kinds = items.iter().map(album_kind).collect::<ApiResult<Vec<_>>>()?;
    for field in ["document", "audio"] {
        if kinds.iter().any(|k| k.field == field) && kinds.iter().any(|k| k.field != field) {
            return Err(ApiError::bad_request(format!("{field} can't be mixed with other media types")));
        }
    }
    let replied = replied_message(s, target, p)?;
    let mut contents = Vec::with_capacity(items.len());
    let mut files = Vec::with_capacity(items.len());
    let mut resolve_all = |s: &mut State| -> ApiResult<()> {
        for (item, kind) in items.iter().zip(&kinds) {
            let caption = text::caption_of(
                item["caption"].as_str().unwrap_or_default(),
                item["parse_mode"].as_str(),
                item.get("caption_entities"),
            )?;
            let file = resolve_file(s, p, kind, item.get("media"), kind.field)?;
            let extra = item.as_object().cloned().unwrap_or_default();
            let mut content = Map::new();
            content.insert(kind.field.into(), media_value(kind, &file.file_id, &s.files[&file.file_id], &extra));
            if let Some(caption) = caption {
                caption.write_to(&mut content, "caption", "caption_entities");
            }
            if let Some(replied) = &replied {
                content.insert("reply_to_message".into(), replied.clone());
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

/// The kind of one album item: a photo, video, audio or document that names its file.
fn album_kind(item: &Value) -> ApiResult<&'static MediaKind> {
    let kind = item["type"].as_str().unwrap_or_default();
    if kind == "animation" {
        return Err(ApiError::bad_request(
            "can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup",
        ));
    }
    let kind = Some(kind)
        .filter(|k| ALBUM_KINDS.contains(k))
        .and_then(kind_of_field)
        .ok_or_else(|| ApiError::bad_request("can't parse InputMedia: unsupported media type"))?;
    if item["media"].as_str().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request("can't parse InputMedia: media not found"));
    }
    Ok(kind)
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
    let kind = kind_of_field(field).ok_or_else(|| ApiError::bad_request(format!("unsupported media {field}")))?;
    let mime = upload.mime_type.or_else(|| upload.file_name.as_deref().and_then(mime_for));
    let file_id = s.store_file(kind.folder, upload.file_name, mime, upload.bytes.to_vec());
    Ok(media_value(kind, &file_id, &s.files[&file_id], &Map::new()))
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
