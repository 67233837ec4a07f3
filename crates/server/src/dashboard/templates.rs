//! What a new bot can start from: a minimal valid file ([`scratch`]), or one of the example
//! bots of `examples/` (embedded in the binary), each described in one sentence in English and
//! Russian ([`TEMPLATES`]).

/// An example bot to start from.
pub struct Template {
    /// Its file's `bot.name`, and the name a bot made from it gets unless another is given.
    pub name: &'static str,
    pub source: &'static str,
    pub en: &'static str,
    pub ru: &'static str,
}

/// Every bot of `examples/`.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "hello",
        source: include_str!("../../../../examples/hello.yaml"),
        en: "Greets on /start and repeats what it is told.",
        ru: "Здоровается на /start и повторяет сказанное.",
    },
    Template {
        name: "menu-form",
        source: include_str!("../../../../examples/menu-form.yaml"),
        en: "A menu with inline buttons and a profile form with checked answers, in English and Russian.",
        ru: "Меню с кнопками и анкета с проверкой ответов, на английском и русском.",
    },
    Template {
        name: "catalog",
        source: include_str!("../../../../examples/catalog.yaml"),
        en: "A list of buttons longer than a page, paged through with ‹ › buttons.",
        ru: "Список кнопок длиннее страницы, листается кнопками ‹ ›.",
    },
    Template {
        name: "watchlist",
        source: include_str!("../../../../examples/watchlist.yaml"),
        en: "A per-user watch list kept in a collection, with fuzzy search by title.",
        ru: "Личный список к просмотру в коллекции, с нечётким поиском по названию.",
    },
    Template {
        name: "constructor",
        source: include_str!("../../../../examples/constructor.yaml"),
        en: "Six frames (text, photo, poll, quiz, dice, web app) joined by buttons, with a shop Web App.",
        ru: "Шесть кадров (текст, фото, опрос, викторина, кубик, веб-приложение), связанных кнопками, и магазин.",
    },
    Template {
        name: "dating",
        source: include_str!("../../../../examples/dating.yaml"),
        en: "Dating profiles, browsing by preference and distance, mutual likes, reports and moderation.",
        ru: "Анкеты знакомств, подбор по предпочтениям и расстоянию, взаимные симпатии, жалобы и модерация.",
    },
    Template {
        name: "ai-assistant",
        source: include_str!("../../../../examples/ai-assistant.yaml"),
        en: "An AI assistant that answers from admins' notes through an OpenAI-compatible model.",
        ru: "ИИ-ассистент, отвечающий по заметкам администраторов через OpenAI-совместимую модель.",
    },
    Template {
        name: "anime-tracker",
        source: include_str!("../../../../examples/anime-tracker.yaml"),
        en: "Follows an anime season per chat and tells subscribers when a new episode is out.",
        ru: "Следит за аниме-сезоном в чате и сообщает подписчикам о новых сериях.",
    },
    Template {
        name: "media-desk",
        source: include_str!("../../../../examples/media-desk.yaml"),
        en: "Drives Sonarr, Radarr and qBittorrent from Telegram: search, add, queue and calendar.",
        ru: "Управляет Sonarr, Radarr и qBittorrent из Telegram: поиск, добавление, очередь, календарь.",
    },
];

/// The template of this name.
pub fn named(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

/// A minimal valid bot file named `name`: it greets on /start and repeats what it is told.
pub fn scratch(name: &str) -> String {
    format!(
        "ferrogram: 1\nbot:\n  name: {name}\non:\n  - command: start\n    do:\n      - reply: \"Hello, {{{{ from.first_name }}}}!\"\n  - text: any\n    do:\n      - reply: \"You said: {{{{ message.text }}}}\"\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_and_the_scratch_file_validate() {
        for template in TEMPLATES {
            let checked = ferrogram_schema::check_str(template.source, "bot.yaml");
            assert!(!checked.has_errors(), "{}: {:?}", template.name, checked.diagnostics);
            assert!(template.source.contains(template.name), "{}", template.name);
        }
        let checked = ferrogram_schema::check_str(&scratch("fresh"), "bot.yaml");
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    }

    #[test]
    fn every_example_is_a_template() {
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        for entry in std::fs::read_dir(examples).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let stem = path.file_stem().unwrap().to_str().unwrap();
                assert!(named(stem).is_some(), "examples/{stem}.yaml has no template");
            }
        }
    }
}
