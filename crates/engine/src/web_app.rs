//! Telegram Web Apps (Mini Apps) served by Ferrogram: checking the `initData` a Web App page
//! sends, signed by Telegram with a key derived from the bot's token ("Validating data received
//! via the Mini App" in Telegram's docs), and what the bundled shop page lists.
//!
//! The check: the `initData` query string without its `hash`, its pairs sorted by key and joined
//! `key=value` with newlines, must have the HMAC-SHA256 `hash` under the secret key
//! HMAC-SHA256(key: "WebAppData", message: the bot's token); and its `auth_date` must not be
//! older than the allowed age.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How old an `initData` may be (its `auth_date`): a day, as a Web App stays open for a while.
pub const INIT_DATA_MAX_AGE: u64 = 24 * 60 * 60;

/// The bot file's bot variable whose default lists the shop page's products.
pub const PRODUCTS_VARIABLE: &str = "products";

/// A running bot, as its Web App pages see it ([`crate::Engine::web_app`]).
#[derive(Clone)]
pub struct WebAppBot {
    /// The key its `initData` is signed with ([`secret_key`]).
    pub key: [u8; 32],
    /// What its shop page lists ([`products`]).
    pub products: Vec<Value>,
}

/// The secret key of a bot's Web App data: HMAC-SHA256 of the token under "WebAppData".
pub fn secret_key(token: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(b"WebAppData").expect("HMAC takes any key");
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Why an `initData` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitDataError {
    #[error("initData is missing")]
    Missing,
    #[error("initData has no hash")]
    NoHash,
    #[error("initData's signature does not match")]
    BadSignature,
    #[error("initData has no valid auth_date")]
    NoAuthDate,
    #[error("initData is too old (auth_date {auth_date}, now {now})")]
    TooOld { auth_date: u64, now: u64 },
}

/// Checks `init_data` (the raw query string `Telegram.WebApp.initData`) with the bot's
/// [`secret_key`] at `now` (Unix seconds): its fields, decoded, without `hash`, when it is signed
/// by Telegram for this bot and not older than `max_age`.
pub fn check_init_data(
    init_data: &str,
    key: &[u8; 32],
    now: u64,
    max_age: u64,
) -> Result<BTreeMap<String, String>, InitDataError> {
    if init_data.trim().is_empty() {
        return Err(InitDataError::Missing);
    }
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut hash = None;
    for (name, value) in form_urlencoded::parse(init_data.as_bytes()) {
        if name == "hash" {
            hash = Some(value.into_owned());
        } else {
            fields.insert(name.into_owned(), value.into_owned());
        }
    }
    let hash = hash.ok_or(InitDataError::NoHash)?;
    let expected = decode_hex(&hash).ok_or(InitDataError::BadSignature)?;
    let check: Vec<String> = fields.iter().map(|(name, value)| format!("{name}={value}")).collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(check.join("\n").as_bytes());
    // verify_slice compares in constant time.
    mac.verify_slice(&expected).map_err(|_| InitDataError::BadSignature)?;
    let auth_date: u64 = fields.get("auth_date").and_then(|d| d.parse().ok()).ok_or(InitDataError::NoAuthDate)?;
    if now.saturating_sub(auth_date) > max_age {
        return Err(InitDataError::TooOld { auth_date, now });
    }
    Ok(fields)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

/// The products the shop page lists: the default of the bot variable [`PRODUCTS_VARIABLE`], a
/// list of names (strings) or of objects with a `name`; none when it is not declared.
pub fn products(file: &ferrogram_schema::BotFile) -> Vec<Value> {
    let default = file.variables.bot.get(PRODUCTS_VARIABLE).and_then(|v| v.default.clone());
    let Some(Value::Array(items)) = default else { return Vec::new() };
    items
        .into_iter()
        .filter_map(|item| match item {
            Value::String(name) => Some(serde_json::json!({"name": name})),
            Value::Object(ref object) if object.get("name").is_some_and(Value::is_string) => Some(item),
            _ => None,
        })
        .collect()
}

/// Signs `fields` as Telegram would for the bot of `key`: an `initData` string with its `hash`.
/// For tests, and for the sandbox's web chat.
pub fn sign_init_data(fields: &[(&str, &str)], key: &[u8; 32]) -> String {
    let mut sorted: Vec<&(&str, &str)> = fields.iter().collect();
    sorted.sort();
    let check: Vec<String> = sorted.iter().map(|(name, value)| format!("{name}={value}")).collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(check.join("\n").as_bytes());
    let hash: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        query.append_pair(name, value);
    }
    query.append_pair("hash", &hash);
    query.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";

    #[test]
    fn a_signed_init_data_passes_and_a_tampered_one_does_not() {
        let key = secret_key(TOKEN);
        let user = r#"{"id":1000001,"first_name":"Ann"}"#;
        let signed = sign_init_data(&[("query_id", "AAH1"), ("user", user), ("auth_date", "1000")], &key);
        let fields = check_init_data(&signed, &key, 1060, INIT_DATA_MAX_AGE).unwrap();
        assert_eq!(fields["user"], user);
        assert!(!fields.contains_key("hash"));
        let tampered = signed.replace("Ann", "Eve");
        assert_ne!(tampered, signed);
        assert_eq!(check_init_data(&tampered, &key, 1060, INIT_DATA_MAX_AGE), Err(InitDataError::BadSignature));
        let other_bot = secret_key("654321:other");
        assert_eq!(check_init_data(&signed, &other_bot, 1060, INIT_DATA_MAX_AGE), Err(InitDataError::BadSignature));
        let unsigned = signed.split("&hash=").next().unwrap();
        assert_eq!(check_init_data(unsigned, &key, 1060, INIT_DATA_MAX_AGE), Err(InitDataError::NoHash));
        assert_eq!(check_init_data("", &key, 1060, INIT_DATA_MAX_AGE), Err(InitDataError::Missing));
    }

    #[test]
    fn an_old_auth_date_is_refused() {
        let key = secret_key(TOKEN);
        let signed = sign_init_data(&[("auth_date", "1000")], &key);
        assert!(check_init_data(&signed, &key, 1000 + INIT_DATA_MAX_AGE, INIT_DATA_MAX_AGE).is_ok());
        let late = 1001 + INIT_DATA_MAX_AGE;
        assert_eq!(
            check_init_data(&signed, &key, late, INIT_DATA_MAX_AGE),
            Err(InitDataError::TooOld { auth_date: 1000, now: late })
        );
        let undated = sign_init_data(&[("user", "{}")], &key);
        assert_eq!(check_init_data(&undated, &key, 1000, INIT_DATA_MAX_AGE), Err(InitDataError::NoAuthDate));
    }

    /// The example of Telegram's docs is not public with its token; the derivation is checked
    /// against an independent computation instead: HMAC-SHA256("WebAppData", token).
    #[test]
    fn the_secret_key_is_the_token_under_web_app_data() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"WebAppData").unwrap();
        mac.update(TOKEN.as_bytes());
        assert_eq!(secret_key(TOKEN).as_slice(), mac.finalize().into_bytes().as_slice());
        assert_ne!(secret_key(TOKEN), secret_key("123456:other"));
    }
}
