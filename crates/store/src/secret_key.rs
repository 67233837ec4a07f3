//! The key that encrypts the secrets at rest, and the sealing of one secret with it
//! (decision 0034).
//!
//! A key is 32 random bytes. Each secret is sealed with XChaCha20-Poly1305 under a fresh random
//! 24-byte nonce, with its place (workspace, bot, name) as associated data: a ciphertext copied
//! to another row does not open there. A key is known by its id, 16 hex digits of a SHA-256 of
//! the key: stored beside each sealed value, it tells "encrypted with another key" apart from a
//! value that was altered, and it says nothing usable about the key.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// The length of a key, in bytes.
pub const SECRET_KEY_BYTES: usize = 32;
/// The length of a nonce, in bytes (XChaCha20's extended nonce: random ones never collide in
/// practice).
pub(crate) const NONCE_BYTES: usize = 24;

/// A key for the secrets at rest. Its bytes are wiped when it is dropped; its `Debug` shows
/// only its id.
#[derive(Clone)]
pub struct SecretKey {
    bytes: Zeroizing<[u8; SECRET_KEY_BYTES]>,
    id: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.bytes.ct_eq(&*other.bytes))
    }
}

impl Eq for SecretKey {}

/// Where a secret belongs: what its ciphertext is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place<'a> {
    pub workspace: i64,
    /// The dashboard's bot id for a bot's own secret; `None` for the workspace's.
    pub bot: Option<i64>,
    pub name: &'a str,
}

impl Place<'_> {
    /// The associated data: the format's version and the place, each part length-free because
    /// ids are numbers and a name has no NUL ([`check_name`]).
    fn associated_data(&self) -> Vec<u8> {
        let bot = self.bot.map_or_else(|| "-".to_owned(), |bot| bot.to_string());
        format!("ferrogram secret v1\0workspace {}\0bot {bot}\0name {}", self.workspace, self.name).into_bytes()
    }
}

/// A sealed secret as stored: the key's id, the nonce and the ciphertext (with its tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl SecretKey {
    /// A new key from the operating system's random numbers.
    pub fn generate() -> Result<SecretKey> {
        let mut bytes = Zeroizing::new([0u8; SECRET_KEY_BYTES]);
        getrandom::getrandom(&mut *bytes).map_err(|e| Error::Refused(format!("no secure random numbers: {e}")))?;
        Ok(SecretKey::from_bytes(bytes))
    }

    fn from_bytes(bytes: Zeroizing<[u8; SECRET_KEY_BYTES]>) -> SecretKey {
        let mut hasher = Sha256::new();
        hasher.update(b"ferrogram secret key id\0");
        hasher.update(bytes.as_slice());
        let id = hasher.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
        SecretKey { bytes, id }
    }

    /// Reads a key written as 64 hex digits or as base64 (standard or URL-safe, padded or not)
    /// of 32 bytes, surrounding whitespace ignored. The error says what was expected and never
    /// repeats the text.
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let text = Zeroizing::new(text.trim().to_owned());
        let expected = "expected 32 bytes written as 64 hex digits or as base64 (e.g. `openssl rand -base64 32`)";
        if text.is_empty() {
            return Err(format!("empty; {expected}"));
        }
        // Hex when every character is a hex digit (base64 of 32 random bytes never is, in practice).
        let decoded: Zeroizing<Vec<u8>> = if text.bytes().all(|b| b.is_ascii_hexdigit()) {
            if text.len() != 64 {
                return Err(format!("{} hex digits; {expected}", text.len()));
            }
            Zeroizing::new(
                (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or_default()).collect(),
            )
        } else {
            use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
            let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text.as_bytes()).ok())
                .ok_or_else(|| format!("neither hex nor base64 ({} characters); {expected}", text.chars().count()))?;
            Zeroizing::new(decoded)
        };
        let bytes: [u8; SECRET_KEY_BYTES] =
            decoded.as_slice().try_into().map_err(|_| format!("{} bytes long; {expected}", decoded.len()))?;
        Ok(SecretKey::from_bytes(Zeroizing::new(bytes)))
    }

    /// The key as standard base64 (what a key file holds, [`SecretKey::parse`] reads it back).
    pub fn encoded(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*self.bytes))
    }

    /// The key's id: 16 hex digits, the same for the same key everywhere.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.bytes).into())
    }

    /// Seals `value` for `place` under a fresh random nonce.
    pub(crate) fn seal(&self, place: Place<'_>, value: &str) -> Result<Sealed> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::getrandom(&mut nonce).map_err(|e| Error::Refused(format!("no secure random numbers: {e}")))?;
        let aad = place.associated_data();
        let ciphertext = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: value.as_bytes(), aad: &aad })
            .map_err(|_| Error::Refused("the secret could not be encrypted".to_owned()))?;
        Ok(Sealed { key_id: self.id.clone(), nonce: nonce.to_vec(), ciphertext })
    }

    /// Opens a value sealed for `place`: [`Error::WrongSecretKey`] when it was sealed under
    /// another key, [`Error::SecretAltered`] when it does not open under this one (changed, or
    /// copied from another place).
    pub(crate) fn open(&self, place: Place<'_>, sealed: &Sealed) -> Result<String> {
        if sealed.key_id != self.id {
            return Err(Error::WrongSecretKey { stored: sealed.key_id.clone(), given: self.id.clone() });
        }
        let altered = || Error::SecretAltered { name: place.name.to_owned(), key_id: self.id.clone() };
        if sealed.nonce.len() != NONCE_BYTES {
            return Err(altered());
        }
        let aad = place.associated_data();
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(XNonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad: &aad })
                .map_err(|_| altered())?,
        );
        String::from_utf8(plain.to_vec()).map_err(|_| altered())
    }
}

/// The longest name a secret may have, in bytes.
pub const MAX_SECRET_NAME: usize = 64;
/// The largest value a secret may have, in bytes.
pub const MAX_SECRET_VALUE: usize = 64 * 1024;

/// A secret's name: 1 to [`MAX_SECRET_NAME`] bytes of ASCII letters, digits, `_`, `-` and `.`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_SECRET_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "a secret's name is 1 to {MAX_SECRET_NAME} letters, digits, `_`, `-` or `.`, not {name:?}"
        )))
    }
}

/// A secret's value: at most [`MAX_SECRET_VALUE`] bytes (the error gives only its length).
pub(crate) fn check_value(value: &str) -> Result<()> {
    if value.len() <= MAX_SECRET_VALUE {
        Ok(())
    } else {
        Err(Error::Refused(format!("a secret's value is at most {MAX_SECRET_VALUE} bytes, not {}", value.len())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn place(name: &str) -> Place<'_> {
        Place { workspace: 1, bot: Some(7), name }
    }

    #[test]
    fn keys_read_from_hex_or_any_base64_alike() {
        let hex = SecretKey::parse(HEX).unwrap();
        let base64 = SecretKey::parse(&hex.encoded()).unwrap();
        assert_eq!(hex, base64);
        assert_eq!(hex.id(), base64.id());
        assert_eq!(hex.id().len(), 16);
        let bytes: Vec<u8> = (0u8..32).collect();
        use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        for engine in [STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            assert_eq!(SecretKey::parse(&format!("  {}\n", engine.encode(&bytes))).unwrap(), hex);
        }
        assert_eq!(SecretKey::parse(&HEX.to_uppercase()).unwrap(), hex);
        assert_ne!(SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
        assert_eq!(format!("{hex:?}"), format!("SecretKey({})", hex.id()));
    }

    #[test]
    fn a_bad_key_is_refused_without_repeating_it() {
        for (bad, says) in [
            ("", "empty"),
            ("short-not-a-key!", "neither hex nor base64 (16 characters)"),
            (&HEX[..62], "62 hex digits"),
            ("c2VjcmV0LWJ1dC10b28tc2hvcnQ=", "20 bytes long"),
        ] {
            let error = SecretKey::parse(bad).unwrap_err();
            assert!(error.contains(says) && error.contains("64 hex digits or as base64"), "{bad}: {error}");
            if !bad.is_empty() {
                assert!(!error.contains(bad), "{error}");
            }
        }
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_place_under_its_key() {
        let key = SecretKey::parse(HEX).unwrap();
        let sealed = key.seal(place("token"), "123:secret").unwrap();
        assert_eq!(sealed.key_id, key.id());
        assert_eq!(sealed.nonce.len(), NONCE_BYTES);
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"secret"));
        assert_eq!(key.open(place("token"), &sealed).unwrap(), "123:secret");
        // A fresh nonce each time.
        assert_ne!(key.seal(place("token"), "123:secret").unwrap(), sealed);
        // Another place: the associated data differs.
        for other in [
            Place { workspace: 2, bot: Some(7), name: "token" },
            Place { workspace: 1, bot: Some(8), name: "token" },
            Place { workspace: 1, bot: None, name: "token" },
            Place { workspace: 1, bot: Some(7), name: "other" },
        ] {
            assert!(matches!(key.open(other, &sealed), Err(Error::SecretAltered { .. })), "{other:?}");
        }
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(matches!(key.open(place("token"), &flipped), Err(Error::SecretAltered { .. })));
        // Another key: said so, with both ids.
        let other = SecretKey::generate().unwrap();
        let error = other.open(place("token"), &sealed).unwrap_err();
        assert!(matches!(&error, Error::WrongSecretKey { stored, given } if stored == key.id() && given == other.id()));
        let message = error.to_string();
        assert!(message.contains("another key") && message.contains(key.id()), "{message}");
    }

    #[test]
    fn names_and_values_are_checked() {
        assert!(check_name("token").is_ok() && check_name("sonarr.api-key_2").is_ok());
        for bad in ["", "a b", "a\0b", "ключ", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_value(&"x".repeat(MAX_SECRET_VALUE)).is_ok());
        let error = check_value(&"y".repeat(MAX_SECRET_VALUE + 1)).unwrap_err().to_string();
        assert!(!error.contains("yyyy"), "{error}");
    }
}
