//! The four frameworks compared, by name and index.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fw {
    Ferrogram,
    Teloxide,
    Aiogram,
    Grammy,
}

impl Fw {
    pub fn parse(name: &str) -> Option<Fw> {
        match name.trim().to_ascii_lowercase().as_str() {
            "ferrogram" => Some(Fw::Ferrogram),
            "teloxide" => Some(Fw::Teloxide),
            "aiogram" => Some(Fw::Aiogram),
            "grammy" => Some(Fw::Grammy),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fw::Ferrogram => "Ferrogram",
            Fw::Teloxide => "teloxide",
            Fw::Aiogram => "aiogram",
            Fw::Grammy => "grammY",
        }
    }

    pub fn index(self) -> i64 {
        self as i64
    }
}

/// The peers' table of form rows in the menu database.
pub fn menu_table(fw: Fw) -> String {
    format!("menu_{}", fw.name().to_lowercase())
}
