//! The pages' frame: the templates (embedded, rendered with minijinja, auto-escaped), the
//! language (English or Russian: the `fg_lang` cookie, else the browser's `Accept-Language`)
//! and theme (the `fg_theme` cookie: light, dark, or the system's), the `/preferences` switch
//! that sets them, and the security headers every dashboard answer carries.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::assets;
use super::session::cookie;

/// The interface's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    fn parse(text: &str) -> Option<Lang> {
        match text.trim().to_ascii_lowercase().split(['-', '_']).next() {
            Some("en") => Some(Lang::En),
            Some("ru") => Some(Lang::Ru),
            _ => None,
        }
    }

    /// The preferred of English and Russian in an `Accept-Language` value (English if neither).
    pub fn from_accept_language(value: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else { continue };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }
}

/// The colour scheme asked for; `Auto` follows the system (`prefers-color-scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Auto,
    Light,
    Dark,
}

impl Theme {
    fn code(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

/// The language and theme of a request.
#[derive(Debug, Clone, Copy)]
pub struct Prefs {
    pub lang: Lang,
    pub theme: Theme,
}

impl Prefs {
    pub fn of(headers: &HeaderMap) -> Prefs {
        let lang = cookie(headers, "fg_lang").and_then(|v| Lang::parse(&v)).unwrap_or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map_or(Lang::En, Lang::from_accept_language)
        });
        let theme = match cookie(headers, "fg_theme").as_deref() {
            Some("light") => Theme::Light,
            Some("dark") => Theme::Dark,
            _ => Theme::Auto,
        };
        Prefs { lang, theme }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Prefs {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Prefs::of(&parts.headers))
    }
}

/// Every text of the interface: (key, English, Russian).
const TEXTS: &[(&str, &str, &str)] = &[
    ("app", "Ferrogram", "Ferrogram"),
    ("skip", "Skip to content", "Перейти к содержимому"),
    ("nav", "Main", "Основное"),
    ("home", "Home", "Главная"),
    ("sessions", "Sessions", "Сеансы"),
    ("sign_in", "Sign in", "Войти"),
    ("sign_out", "Sign out", "Выйти"),
    ("email", "Email", "Эл. почта"),
    ("password", "Password", "Пароль"),
    ("password_again", "Password again", "Пароль ещё раз"),
    ("name", "Your name", "Ваше имя"),
    ("password_hint", "At least 12 characters.", "Не короче 12 символов."),
    ("setup_title", "Create the owner's account", "Создайте учётную запись владельца"),
    (
        "setup_intro",
        "This link works once. The account you create owns every workspace of this server.",
        "Эта ссылка одноразовая. Созданная учётная запись станет владельцем всех пространств этого сервера.",
    ),
    ("create", "Create the account", "Создать учётную запись"),
    ("invite_title", "Join a workspace", "Присоединиться к пространству"),
    (
        "invite_intro",
        "You are invited to the workspace {workspace} as {role}. This link works once.",
        "Вас пригласили в пространство {workspace} с ролью «{role}». Ссылка одноразовая.",
    ),
    (
        "email_taken",
        "An account with this email exists already: sign in with it instead.",
        "Учётная запись с этим адресом уже есть: войдите в неё.",
    ),
    ("link_invalid", "This link is not valid", "Ссылка недействительна"),
    (
        "link_invalid_text",
        "It was used already, it expired, or it never existed. Ask for a new one (restart the server while it has no account, or run `ferrogram user create`).",
        "Она уже использована, истекла или не существовала. Запросите новую (перезапустите сервер, пока в нём нет учётных записей, или выполните `ferrogram user create`).",
    ),
    ("wrong_credentials", "Wrong email or password.", "Неверная эл. почта или пароль."),
    (
        "too_many",
        "Too many failed attempts. Try again in {minutes} min.",
        "Слишком много неудачных попыток. Повторите через {minutes} мин.",
    ),
    ("passwords_differ", "The two passwords differ.", "Пароли не совпадают."),
    ("password_short", "The password is shorter than 12 characters.", "Пароль короче 12 символов."),
    ("password_long", "The password is too long.", "Пароль слишком длинный."),
    ("email_invalid", "This is not an email address.", "Это не адрес эл. почты."),
    ("name_invalid", "Give a name of 1 to 100 characters.", "Укажите имя длиной от 1 до 100 символов."),
    ("welcome", "Hello, {name}", "Здравствуйте, {name}"),
    ("your_workspaces", "Your workspaces", "Ваши пространства"),
    ("no_workspaces", "You belong to no workspace yet.", "Вы пока не состоите ни в одном пространстве."),
    ("workspace", "Workspace", "Пространство"),
    ("role", "Role", "Роль"),
    ("role_owner", "owner", "владелец"),
    ("role_admin", "admin", "администратор"),
    ("role_editor", "editor", "редактор"),
    ("role_viewer", "viewer", "наблюдатель"),
    ("sessions_title", "Your sessions", "Ваши сеансы"),
    ("device", "Browser", "Браузер"),
    ("started", "Signed in", "Вход"),
    ("last_seen", "Last active", "Активность"),
    ("expires", "Expires", "Истекает"),
    ("this_session", "this one", "текущий"),
    ("revoke", "Sign out", "Завершить"),
    ("revoke_label", "Sign out the session of {device}", "Завершить сеанс {device}"),
    ("sign_out_everywhere", "Sign out everywhere", "Выйти на всех устройствах"),
    (
        "sign_out_everywhere_text",
        "Ends every session of your account, this one included.",
        "Завершает все сеансы вашей учётной записи, включая текущий.",
    ),
    ("language", "Language", "Язык"),
    ("other_lang", "Русский", "English"),
    ("theme", "Theme", "Тема"),
    ("theme_light", "Light", "Светлая"),
    ("theme_dark", "Dark", "Тёмная"),
    ("theme_auto", "System", "Системная"),
    ("forbidden", "This form has expired", "Форма устарела"),
    (
        "forbidden_text",
        "Its security token is missing or wrong. Reload the page and try again.",
        "Её токен безопасности отсутствует или неверен. Обновите страницу и повторите.",
    ),
    ("back", "Back", "Назад"),
    ("signed_out_title", "Signed out", "Вы вышли"),
];

/// The texts of `lang`, by key.
pub fn texts(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    all_texts().map(|(key, en, ru)| (*key, if lang == Lang::Ru { *ru } else { *en })).collect()
}

/// The frame's texts, then each page group's.
fn all_texts() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    TEXTS
        .iter()
        .chain(super::texts::BOTS)
        .chain(super::texts::RUN)
        // Broadcasts' pages.
        .chain(super::texts::BROADCASTS)
        // The code view.
        .chain(super::texts::BUILDER)
}

/// The text `key` in `lang` (the key itself if unknown).
pub fn text(lang: Lang, key: &'static str) -> &'static str {
    all_texts().find(|(k, ..)| *k == key).map_or(key, |(_, en, ru)| if lang == Lang::Ru { ru } else { en })
}

/// The templates, parsed once.
pub struct Pages {
    env: minijinja::Environment<'static>,
}

impl Default for Pages {
    fn default() -> Self {
        Self::new()
    }
}

impl Pages {
    pub fn new() -> Self {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("sign_in.html", include_str!("templates/sign_in.html")),
            ("setup.html", include_str!("templates/setup.html")),
            ("home.html", include_str!("templates/home.html")),
            ("sessions.html", include_str!("templates/sessions.html")),
            ("sessions_list.html", include_str!("templates/sessions_list.html")),
            ("message.html", include_str!("templates/message.html")),
            ("bots.html", include_str!("templates/bots.html")),
            ("bot_new.html", include_str!("templates/bot_new.html")),
            ("bot_delete.html", include_str!("templates/bot_delete.html")),
            ("bot_history.html", include_str!("templates/bot_history.html")),
            ("audit.html", include_str!("templates/audit.html")),
            ("tokens.html", include_str!("templates/tokens.html")),
            // The run-it pages.
            ("bot_nav.html", include_str!("templates/bot_nav.html")),
            ("users.html", include_str!("templates/users.html")),
            ("user.html", include_str!("templates/user.html")),
            ("collections.html", include_str!("templates/collections.html")),
            ("collection.html", include_str!("templates/collection.html")),
            ("record.html", include_str!("templates/record.html")),
            ("record_delete.html", include_str!("templates/record_delete.html")),
            ("charts.html", include_str!("templates/charts.html")),
            ("members.html", include_str!("templates/members.html")),
            // Broadcasts' pages.
            ("broadcasts.html", include_str!("templates/broadcasts.html")),
            ("broadcast_preview.html", include_str!("templates/broadcast_preview.html")),
            ("broadcast.html", include_str!("templates/broadcast.html")),
            ("broadcast_progress.html", include_str!("templates/broadcast_progress.html")),
            // The code view (decision 0056).
            ("bot_edit.html", include_str!("templates/bot_edit.html")),
        ] {
            env.add_template(name, source).expect("the embedded templates parse");
        }
        env.add_filter("when", |at: i64| -> String { when(at) });
        Self { env }
    }

    /// Renders `template` with the frame's values (language, theme, texts, the signed-in
    /// person and their CSRF token, the assets' paths) and `page`'s, with `status`.
    pub fn render(&self, status: StatusCode, template: &str, frame: &Frame<'_>, page: Value) -> Response {
        let mut context = Map::new();
        context.insert("lang".into(), json!(frame.prefs.lang.code()));
        context.insert("theme".into(), json!(frame.prefs.theme.code()));
        context.insert("t".into(), json!(texts(frame.prefs.lang)));
        context.insert("path".into(), json!(frame.path));
        context.insert("htmx".into(), json!(assets::HTMX_PATH));
        context.insert("css".into(), json!(assets::css_path()));
        if let Some((name, csrf)) = frame.person {
            context.insert("person".into(), json!({ "name": name }));
            context.insert("csrf".into(), json!(csrf));
        }
        if let Value::Object(fields) = page {
            context.extend(fields);
        }
        let rendered =
            self.env.get_template(template).and_then(|t| t.render(minijinja::value::Serde(Value::Object(context))));
        match rendered {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, template, "a dashboard page failed to render");
                (StatusCode::INTERNAL_SERVER_ERROR, "the page failed to render").into_response()
            }
        }
    }
}

/// What the frame of a page shows about the request.
pub struct Frame<'a> {
    pub prefs: Prefs,
    /// The page's own path, where the language and theme switches come back to.
    pub path: &'a str,
    /// The signed-in person's name and CSRF token.
    pub person: Option<(&'a str, &'a str)>,
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`.
fn when(at: i64) -> String {
    let days = at.div_euclid(86_400);
    let secs = at.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

#[derive(Deserialize)]
pub struct PrefsQuery {
    lang: Option<String>,
    theme: Option<String>,
    next: Option<String>,
}

/// A path of this site to go back to: absolute, not `//host` (an open redirect), else `/`.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_owned(),
        _ => "/".to_owned(),
    }
}

/// `GET /preferences?lang=ru|en&theme=light|dark|auto&next=/path`: sets the language and theme
/// cookies (a year; not secrets, so readable by no script anyway: HttpOnly) and goes back.
pub async fn preferences(Query(query): Query<PrefsQuery>) -> Response {
    let mut response = Redirect::to(&local_path(query.next.as_deref())).into_response();
    let set = |name: &str, value: &str| {
        HeaderValue::from_str(&format!("{name}={value}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"))
            .expect("an ASCII cookie")
    };
    if let Some(lang) = query.lang.as_deref().and_then(Lang::parse) {
        response.headers_mut().append(header::SET_COOKIE, set("fg_lang", lang.code()));
    }
    if let Some(theme) = query.theme.as_deref().filter(|t| ["light", "dark", "auto"].contains(t)) {
        response.headers_mut().append(header::SET_COOKIE, set("fg_theme", theme));
    }
    response
}

/// The Content-Security-Policy of every dashboard answer (ending in `;`, so that a page may add
/// a directive).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none';";

/// The headers of every dashboard answer: a Content-Security-Policy allowing only this origin's
/// scripts and styles (no inline script), no framing, no referrer (a setup link's secret must
/// not leak), no MIME sniffing, and `no-store` for pages (assets set their own caching).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // A page that frames another origin (the code view's try-it chat) sets its own policy:
    // this one with a `frame-src` added.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_of_ours() {
        assert_eq!(Lang::from_accept_language("ru-RU,ru;q=0.9,en;q=0.8"), Lang::Ru);
        assert_eq!(Lang::from_accept_language("de-DE,en;q=0.5,ru;q=0.7"), Lang::Ru);
        assert_eq!(Lang::from_accept_language("de, fr"), Lang::En);
        assert_eq!(Lang::from_accept_language("en-GB"), Lang::En);
    }

    #[test]
    fn every_text_has_both_languages_and_one_key() {
        let mut keys = std::collections::HashSet::new();
        for (key, en, ru) in all_texts() {
            assert!(keys.insert(key), "{key} twice");
            assert!(!en.is_empty() && !ru.is_empty(), "{key}");
        }
    }

    #[test]
    fn only_local_paths_are_gone_back_to() {
        assert_eq!(local_path(Some("/account/sessions")), "/account/sessions");
        for bad in [None, Some("//evil.example"), Some("https://evil.example"), Some("/\\evil")] {
            assert_eq!(local_path(bad), "/");
        }
    }

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_765_000_000), "2025-12-06 05:46 UTC");
    }

    #[test]
    fn every_template_renders() {
        let pages = Pages::new();
        let frame = Frame { prefs: Prefs { lang: Lang::Ru, theme: Theme::Dark }, path: "/", person: None };
        for name in ["sign_in.html", "setup.html", "message.html"] {
            let response = pages.render(StatusCode::OK, name, &frame, json!({}));
            assert_eq!(response.status(), StatusCode::OK, "{name}");
        }
    }
}
