//! Which locale a user gets, and which template a [`Text`] means in it.

use ferrogram_schema::{BotFile, Text};

use crate::interpret::template::lookup_text;

/// The bot's locale matching the user's Telegram language (`ru-RU` → `ru`), else the default.
pub fn user_locale(file: &BotFile, language_code: Option<&str>) -> String {
    let default = &file.bot.default_locale;
    let Some(code) = language_code else {
        return default.clone();
    };
    let offered = |locale: &str| {
        if file.bot.locales.is_empty() {
            file.texts.contains_key(locale) || locale == default
        } else {
            file.bot.locales.iter().any(|l| l == locale)
        }
    };
    let code = code.to_ascii_lowercase();
    let base = code.split(['-', '_']).next().unwrap_or(&code);
    [code.as_str(), base].into_iter().find(|c| offered(c)).map(str::to_owned).unwrap_or_else(|| default.clone())
}

/// The template source of `text` for `locale`: a per-locale entry, an `@key` of `texts`, or
/// the text itself.
pub fn source<'a>(file: &'a BotFile, text: &'a Text, locale: &str) -> &'a str {
    let default = file.bot.default_locale.as_str();
    let one = match text {
        Text::One(one) => one.as_str(),
        Text::PerLocale(map) => {
            return map
                .get(locale)
                .or_else(|| map.get(default))
                .or_else(|| map.values().next())
                .map(String::as_str)
                .unwrap_or_default();
        }
    };
    key_source(file, one, locale)
}

/// `@key` → the key's text; any other string is itself.
pub fn key_source<'a>(file: &'a BotFile, one: &'a str, locale: &str) -> &'a str {
    match ferrogram_schema::text_key(one) {
        Some(key) => lookup_text(&file.texts, locale, &file.bot.default_locale, key).unwrap_or(one),
        None => one,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_user_locale_or_the_default() {
        let file = ferrogram_schema::load_str(
            "ferrogram: 1\nbot: {name: t, locales: [en, ru]}\ntexts: {en: {hi: Hi}, ru: {hi: Привет}}\n",
            "t.yaml",
        )
        .expect("valid");
        assert_eq!(user_locale(&file, Some("ru-RU")), "ru");
        assert_eq!(user_locale(&file, Some("de")), "en");
        assert_eq!(user_locale(&file, None), "en");
        assert_eq!(source(&file, &Text::One("@hi".into()), "ru"), "Привет");
        assert_eq!(source(&file, &Text::One("@nope".into()), "ru"), "@nope");
    }
}
