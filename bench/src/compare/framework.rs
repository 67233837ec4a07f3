//! The frameworks compared (teloxide twice: bare, and in its production setup), by name and index.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fw {
    Ferrogram,
    /// teloxide's `Dispatcher` over `Throttle<Bot>`: the idiomatic production setup.
    Teloxide,
    Aiogram,
    Grammy,
    /// teloxide's `Dispatcher` over the plain `Bot`, no limiter: the framework's capacity, to
    /// compare with Ferrogram's capacity (echo and menu only; bulk needs a limiter).
    TeloxidePlain,
}

impl Fw {
    /// Every framework `--frameworks` knows, by its key.
    pub const ALL: [Fw; 5] = [Fw::Ferrogram, Fw::TeloxidePlain, Fw::Teloxide, Fw::Aiogram, Fw::Grammy];

    pub fn parse(name: &str) -> Option<Fw> {
        let name = name.trim().to_ascii_lowercase();
        Fw::ALL.into_iter().find(|fw| fw.key() == name)
    }

    /// The name on the command line, in file names and in the menu's table.
    pub fn key(self) -> &'static str {
        match self {
            Fw::Ferrogram => "ferrogram",
            Fw::TeloxidePlain => "teloxide-plain",
            Fw::Teloxide => "teloxide",
            Fw::Aiogram => "aiogram",
            Fw::Grammy => "grammy",
        }
    }

    /// The name in the report's rows: each teloxide row says which setup it is.
    pub fn name(self) -> &'static str {
        match self {
            Fw::Ferrogram => "Ferrogram",
            Fw::TeloxidePlain => "teloxide (plain)",
            Fw::Teloxide => "teloxide (Throttle)",
            Fw::Aiogram => "aiogram",
            Fw::Grammy => "grammY",
        }
    }

    /// Stable per framework: bot ids are a scenario's base plus this.
    pub fn index(self) -> i64 {
        self as i64
    }

    /// Whether the framework runs the bulk and many-bots scenarios: the plain teloxide row has
    /// no limiter for a broadcast and keeps no other many-bots setup than the Throttle row's.
    pub fn in_bulk_and_many(self) -> bool {
        self != Fw::TeloxidePlain
    }
}

/// The peers' table of form rows in the menu database.
pub fn menu_table(fw: Fw) -> String {
    format!("menu_{}", fw.key().replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_back_and_tables_are_sql_names() {
        for fw in Fw::ALL {
            assert_eq!(Fw::parse(fw.key()), Some(fw));
            assert!(menu_table(fw).chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{}", menu_table(fw));
        }
        assert_eq!(Fw::parse(" Teloxide-Plain "), Some(Fw::TeloxidePlain));
        assert_eq!(menu_table(Fw::Teloxide), "menu_teloxide");
        assert_eq!(Fw::parse("teloxide-throttle"), None);
    }
}
