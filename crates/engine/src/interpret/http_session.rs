//! What a bot's HTTP sessions keep between calls (decision 0057): per session, the cookies its
//! login got (with the origin they belong to) and the handshake header the API handed out (with
//! its origin). In memory only, per bot ([`crate::interpret::context::BotContext`]): a restart
//! or a new bot logs in again. The values are credentials: this type's `Debug` shows none, and
//! nothing here logs them.

use std::collections::HashMap;

use parking_lot::Mutex;
use reqwest::Url;
use reqwest::header::HeaderMap;

/// The sessions of one bot, by name.
#[derive(Default)]
pub struct HttpSessions {
    kept: Mutex<HashMap<String, Kept>>,
}

#[derive(Default)]
struct Kept {
    /// The login's origin and the cookies its answer set, by name.
    cookies: Option<(String, Vec<(String, String)>)>,
    /// The origin that handed out the handshake header, and its value.
    handshake: Option<(String, String)>,
}

impl std::fmt::Debug for HttpSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSessions").field("sessions", &self.kept.lock().len()).finish_non_exhaustive()
    }
}

/// `scheme://host:port` of a URL, the unit cookies and handshake headers are kept for; `None`
/// when it does not parse.
pub fn origin(url: &str) -> Option<String> {
    Url::parse(url).ok().map(|u| u.origin().ascii_serialization())
}

/// The `name=value` of each `Set-Cookie` of an answer (attributes dropped; an empty value, which
/// is how a server deletes a cookie, kept as empty).
pub fn set_cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| {
            let pair = value.split(';').next()?.trim();
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            (!name.is_empty()).then(|| (name.to_owned(), value.trim().trim_matches('"').to_owned()))
        })
        .collect()
}

impl HttpSessions {
    /// Whether the session holds cookies of a login (at any origin).
    pub fn logged_in(&self, session: &str) -> bool {
        self.kept.lock().get(session).is_some_and(|k| k.cookies.is_some())
    }

    /// The `Cookie` header the session sends to `origin`: its login's cookies when the login was
    /// made there.
    pub fn cookie_header(&self, session: &str, origin: &str) -> Option<String> {
        let kept = self.kept.lock();
        let (at, cookies) = kept.get(session)?.cookies.as_ref()?;
        let header = cookies.iter().filter(|(_, v)| !v.is_empty()).map(|(n, v)| format!("{n}={v}"));
        (at == origin).then(|| header.collect::<Vec<_>>().join("; ")).filter(|h| !h.is_empty())
    }

    /// Keeps what a login at `origin` set, in place of any earlier login's cookies.
    pub fn keep_login(&self, session: &str, origin: String, cookies: Vec<(String, String)>) {
        self.kept.lock().entry(session.to_owned()).or_default().cookies = Some((origin, cookies));
    }

    /// Forgets the session's login (its cookies were refused).
    pub fn forget_login(&self, session: &str) {
        if let Some(kept) = self.kept.lock().get_mut(session) {
            kept.cookies = None;
        }
    }

    /// The handshake header's value the session sends to `origin`.
    pub fn handshake(&self, session: &str, origin: &str) -> Option<String> {
        let kept = self.kept.lock();
        let (at, value) = kept.get(session)?.handshake.as_ref()?;
        (at == origin).then(|| value.clone())
    }

    /// Keeps the handshake header `origin` handed out.
    pub fn keep_handshake(&self, session: &str, origin: String, value: String) {
        self.kept.lock().entry(session.to_owned()).or_default().handshake = Some((origin, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_go_only_to_the_login_origin() {
        let mut headers = HeaderMap::new();
        headers.append("set-cookie", "SID=abc/1+; HttpOnly; path=/; SameSite=Strict".parse().unwrap());
        headers.append("set-cookie", "lang=\"en\"".parse().unwrap());
        headers.append("set-cookie", "broken".parse().unwrap());
        let cookies = set_cookies(&headers);
        assert_eq!(cookies, vec![("SID".into(), "abc/1+".into()), ("lang".into(), "en".into())]);
        let sessions = HttpSessions::default();
        assert!(!sessions.logged_in("qbit"));
        let at = origin("http://127.0.0.1:8080/api/v2/auth/login").unwrap();
        assert_eq!(at, "http://127.0.0.1:8080");
        sessions.keep_login("qbit", at.clone(), cookies);
        assert!(sessions.logged_in("qbit"));
        assert_eq!(sessions.cookie_header("qbit", &at).as_deref(), Some("SID=abc/1+; lang=en"));
        assert_eq!(sessions.cookie_header("qbit", "http://127.0.0.1:8081"), None);
        assert_eq!(sessions.cookie_header("other", &at), None);
        assert!(!format!("{sessions:?}").contains("abc"));
        sessions.forget_login("qbit");
        assert_eq!(sessions.cookie_header("qbit", &at), None);
        sessions.keep_handshake("tr", at.clone(), "xyz".into());
        assert_eq!(sessions.handshake("tr", &at).as_deref(), Some("xyz"));
        assert_eq!(sessions.handshake("tr", "https://127.0.0.1:8080"), None);
    }
}
