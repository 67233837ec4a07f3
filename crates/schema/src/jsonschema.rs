//! The JSON Schema of bot files, generated from the model with schemars (draft 2020-12).

use crate::BotFile;
use serde_json::{Value, json};

/// The schema's `$id`.
pub const SCHEMA_ID: &str = "https://ferrogram.dev/schema/bot-v1.json";

/// The JSON Schema of a bot file, for editors (yaml-language-server, VS Code, JetBrains) and for
/// the validator itself, which checks files against exactly this schema.
pub fn json_schema() -> Value {
    let mut schema = schemars::SchemaGenerator::new(schemars::generate::SchemaSettings::draft2020_12())
        .into_root_schema_for::<BotFile>()
        .to_value();
    if let Some(root) = schema.as_object_mut() {
        // `$schema` first, then `$id`, then the rest.
        let mut ordered = serde_json::Map::new();
        if let Some(dialect) = root.remove("$schema") {
            ordered.insert("$schema".into(), dialect);
        }
        ordered.insert("$id".into(), json!(SCHEMA_ID));
        root.insert("title".into(), json!("Ferrogram bot file"));
        ordered.append(root);
        if let Some(version) = ordered.get_mut("properties").and_then(|p| p.get_mut("ferrogram")) {
            version["const"] = json!(1);
        }
        *root = ordered;
    }
    schema
}
