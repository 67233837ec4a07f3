//! The session cookie and CSRF: reading cookies, setting and clearing the session's, the
//! [`SignedIn`] extractor of the pages, the anonymous forms' double-submit token, and
//! [`session_access`], which the REST API's extractor calls to accept a session as a second
//! kind of credential beside Bearer tokens.
//!
//! The cookie holds the session's secret (the store keeps its SHA-256): `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, and `Secure` with the `__Host-` name prefix when the server is
//! reached over https (`server.public_url`). Every POST of a signed-in page carries the
//! session's CSRF token, in the form's `csrf` field or the `X-CSRF-Token` header (htmx sends
//! the header, set on `<body hx-headers>`); a missing or wrong one is a 403 that changes
//! nothing.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use ferrogram_store::{Membership, SessionAccess, Store, csrf_matches};
use serde_json::json;

use super::Dashboard;
use super::layout::{Frame, Prefs};

/// The session cookie's name over plain http.
pub const COOKIE: &str = "fg_session";
/// The session cookie's name over https: the `__Host-` prefix makes browsers refuse it unless
/// it is `Secure`, for this host only and `Path=/`.
pub const SECURE_COOKIE: &str = "__Host-fg_session";
/// The header htmx and scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The anonymous forms' (sign-in, setup) double-submit cookie.
const FORM_COOKIE: &str = "fg_form";

/// The value of the cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
}

/// The session cookie's value, under either name.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SECURE_COOKIE).or_else(|| cookie(headers, COOKIE))
}

/// A `Set-Cookie` value for the session: `secret` for `max_age` seconds (0 with an empty
/// secret clears it).
pub fn session_set_cookie(secret: &str, max_age: i64, secure: bool) -> HeaderValue {
    let (name, secure) = if secure { (SECURE_COOKIE, "; Secure") } else { (COOKIE, "") };
    HeaderValue::from_str(&format!("{name}={secret}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"))
        .expect("a base64url secret is a valid header")
}

/// A signed-in person seen through a session (what the API's extractor gets).
#[derive(Debug, Clone)]
pub struct SessionCredential {
    pub access: SessionAccess,
    /// The workspaces the account belongs to, with its role in each.
    pub memberships: Vec<Membership>,
    /// Whether the request carried the session's CSRF token: required for anything that
    /// changes (every method but GET, HEAD and OPTIONS).
    pub csrf_verified: bool,
}

/// The account and memberships of the session whose cookie value is `cookie_value`, if it is
/// live; `csrf_header` is the request's `X-CSRF-Token`, checked in constant time (`None` or a
/// wrong one: `csrf_verified` is false; the caller refuses a change then). `None` also when the
/// store fails (logged).
pub async fn session_access(store: &Store, cookie_value: &str, csrf_header: Option<&str>) -> Option<SessionCredential> {
    let lifetime = i64::try_from(super::SESSION_IDLE.as_secs()).unwrap_or(i64::MAX);
    let access = match store.session(cookie_value, lifetime).await {
        Ok(access) => access?,
        Err(error) => {
            tracing::warn!(%error, "a session could not be checked");
            return None;
        }
    };
    let memberships = match store.memberships(access.account.id).await {
        Ok(memberships) => memberships,
        Err(error) => {
            tracing::warn!(%error, "a session's memberships could not be read");
            return None;
        }
    };
    let csrf_verified = csrf_header.is_some_and(|given| csrf_matches(&access.csrf, given));
    Some(SessionCredential { access, memberships, csrf_verified })
}

/// A page's signed-in person. Without a live session: GET is sent to `/sign-in?next=PATH`,
/// any other method gets 401.
pub struct SignedIn {
    pub credential: SessionCredential,
    pub prefs: Prefs,
    /// The request's `X-CSRF-Token`, for [`SignedIn::csrf_refusal`].
    header_csrf: Option<String>,
}

impl SignedIn {
    pub fn name(&self) -> &str {
        &self.credential.access.account.display_name
    }

    pub fn csrf(&self) -> &str {
        &self.credential.access.csrf
    }

    /// The frame of a page at `path` for this person.
    pub fn frame<'a>(&'a self, path: &'a str) -> Frame<'a> {
        Frame { prefs: self.prefs, path, person: Some((self.name(), self.csrf())) }
    }

    /// `None` (go ahead) when the form's `csrf` field or the `X-CSRF-Token` header is the
    /// session's token; otherwise the 403 page to answer (nothing may be changed then).
    pub fn csrf_refusal(&self, dashboard: &Dashboard, form_field: Option<&str>) -> Option<Response> {
        let expected = self.csrf();
        let ok =
            [form_field, self.header_csrf.as_deref()].into_iter().flatten().any(|given| csrf_matches(expected, given));
        (!ok).then(|| forbidden(dashboard, self.prefs))
    }
}

/// The 403 page of a form whose CSRF token is missing or wrong.
pub fn forbidden(dashboard: &Dashboard, prefs: Prefs) -> Response {
    let frame = Frame { prefs, path: "/", person: None };
    dashboard.pages.render(
        StatusCode::FORBIDDEN,
        "message.html",
        &frame,
        json!({ "title_key": "forbidden", "text_key": "forbidden_text" }),
    )
}

impl FromRequestParts<Dashboard> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, dashboard: &Dashboard) -> Result<Self, Self::Rejection> {
        let prefs = Prefs::of(&parts.headers);
        let header_csrf = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let credential = match session_cookie(&parts.headers) {
            Some(value) => session_access(&dashboard.store, &value, header_csrf.as_deref()).await,
            None => None,
        };
        match credential {
            Some(credential) => Ok(SignedIn { credential, prefs, header_csrf }),
            None if parts.method == Method::GET || parts.method == Method::HEAD => {
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
                Err(Redirect::to(&format!("/sign-in?next={next}")).into_response())
            }
            None => Err((StatusCode::UNAUTHORIZED, "sign in first").into_response()),
        }
    }
}

/// The anonymous forms' CSRF defence (sign-in, setup: there is no session yet): a random value
/// in an `HttpOnly; SameSite=Strict` cookie that the form must repeat in its `form_token`
/// field. Returns the value and, when the request had none, the `Set-Cookie` to send.
pub fn form_token(headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    if let Some(value) = cookie(headers, FORM_COOKIE).filter(|v| v.len() == 43) {
        return (value, None);
    }
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("the system's random numbers");
    let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()[..43].to_owned();
    let secure = if secure { "; Secure" } else { "" };
    let set = HeaderValue::from_str(&format!("{FORM_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{secure}"))
        .expect("hex is a valid header");
    (value, Some(set))
}

/// Whether an anonymous form's `form_token` field repeats its cookie.
pub fn form_token_matches(headers: &HeaderMap, field: Option<&str>) -> bool {
    match (cookie(headers, FORM_COOKIE), field) {
        (Some(cookie), Some(field)) => cookie.len() == 43 && csrf_matches(&cookie, field),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; fg_session=abc ; fg_lang=ru"));
        headers.append(header::COOKIE, HeaderValue::from_static("__Host-fg_session=xyz"));
        assert_eq!(cookie(&headers, "fg_lang").as_deref(), Some("ru"));
        assert_eq!(session_cookie(&headers).as_deref(), Some("xyz"), "the secure name first");
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_over_https() {
        let plain = session_set_cookie("s", 60, false);
        assert_eq!(plain.to_str().unwrap(), "fg_session=s; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
        let secure = session_set_cookie("s", 60, true);
        assert_eq!(secure.to_str().unwrap(), "__Host-fg_session=s; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure");
    }

    #[test]
    fn form_tokens_repeat_their_cookie() {
        let (value, set) = form_token(&HeaderMap::new(), false);
        assert!(set.is_some());
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&format!("fg_form={value}")).unwrap());
        assert_eq!(form_token(&headers, false), (value.clone(), None));
        assert!(form_token_matches(&headers, Some(&value)));
        assert!(!form_token_matches(&headers, Some("x")));
        assert!(!form_token_matches(&headers, None));
        assert!(!form_token_matches(&HeaderMap::new(), Some(&value)));
    }
}
