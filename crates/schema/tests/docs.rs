//! docs/schema.md is generated from the model; it must match what the code generates now.

use std::path::Path;

#[test]
fn docs_schema_md_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema.md");
    let generated = ferrogram_schema::reference_markdown();
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != generated {
        let first_difference = on_disk
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .unwrap_or_else(|| on_disk.lines().count().min(generated.lines().count()) + 1);
        panic!(
            "docs/schema.md is out of date (first difference at line {first_difference}); regenerate it with\n\n    \
             cargo run -p ferrogram -- schema --markdown > docs/schema.md\n"
        );
    }
}

#[test]
fn json_schema_is_for_editors() {
    let schema = ferrogram_schema::json_schema();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["$id"], ferrogram_schema::SCHEMA_ID);
    assert_eq!(schema["title"], "Ferrogram bot file");
    assert_eq!(schema["properties"]["ferrogram"]["const"], 1);
    assert_eq!(schema["required"], serde_json::json!(["ferrogram", "bot"]));
    // Every reference points at a definition.
    let text = schema.to_string();
    let defs = schema["$defs"].as_object().expect("$defs");
    for reference in text.split("\"$ref\":\"#/$defs/").skip(1) {
        let name = reference.split('"').next().unwrap_or_default();
        assert!(defs.contains_key(name), "dangling $ref to {name}");
    }
    // Each step kind is documented, for editors' hovers.
    for branch in schema["$defs"]["Step"]["oneOf"].as_array().expect("Step is oneOf") {
        assert!(branch["description"].is_string(), "undocumented step: {branch}");
    }
}
