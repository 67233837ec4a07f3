//! The Bot API description (`spec/api.json`, Bot API 10.1), loaded once.
//! It drives parameter conversion, and tests use it to check answers.

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

const API_JSON: &str = include_str!("../spec/api.json");

#[derive(Debug, Deserialize)]
pub struct Field {
    pub name: String,
    pub types: Vec<String>,
    pub required: bool,
}

#[derive(Debug, Deserialize)]
pub struct Method {
    pub name: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub returns: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct TypeDef {
    pub name: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub subtypes: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Spec {
    pub version: String,
    pub methods: HashMap<String, Method>,
    pub types: HashMap<String, TypeDef>,
    #[serde(skip)]
    by_lowercase: HashMap<String, String>,
}

impl Spec {
    /// The spec shipped with the sandbox.
    pub fn get() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| {
            let mut spec: Spec = serde_json::from_str(API_JSON).expect("spec/api.json is valid");
            spec.by_lowercase = spec.methods.keys().map(|name| (name.to_ascii_lowercase(), name.clone())).collect();
            spec
        })
    }

    /// Finds a method by its name in any letter case, as the Bot API does.
    pub fn method(&self, name: &str) -> Option<&Method> {
        self.by_lowercase.get(&name.to_ascii_lowercase()).and_then(|canonical| self.methods.get(canonical))
    }
}

impl Method {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.name == name)
    }
}

impl Spec {
    /// Checks a JSON value against a type expression of the spec (`Message`, `Array of
    /// Update`, `Integer`…). Returns every mismatch as `path: what is wrong`; empty when the
    /// value has exactly the documented field names, types and required fields.
    pub fn check(&self, value: &serde_json::Value, type_expr: &str) -> Vec<String> {
        let mut errors = Vec::new();
        self.check_at(value, type_expr, type_expr, &mut errors);
        errors
    }

    /// Checks against any of several type expressions (a method's `returns`, a field's `types`).
    pub fn check_any(&self, value: &serde_json::Value, types: &[String]) -> Vec<String> {
        let mut best: Option<Vec<String>> = None;
        for t in types {
            let errors = self.check(value, t);
            if errors.is_empty() {
                return errors;
            }
            if best.as_ref().is_none_or(|b| errors.len() < b.len()) {
                best = Some(errors);
            }
        }
        best.unwrap_or_default()
    }

    fn check_at(&self, value: &serde_json::Value, type_expr: &str, path: &str, errors: &mut Vec<String>) {
        use serde_json::Value;
        if let Some(item) = type_expr.strip_prefix("Array of ") {
            match value.as_array() {
                Some(items) => {
                    items.iter().enumerate().for_each(|(i, v)| self.check_at(v, item, &format!("{path}[{i}]"), errors))
                }
                None => errors.push(format!("{path}: expected an array, got {value}")),
            }
            return;
        }
        let ok = match type_expr {
            "Integer" => value.is_i64() || value.is_u64(),
            "Float" => value.is_number(),
            "String" => value.is_string(),
            "Boolean" => value.is_boolean(),
            "True" => value == &Value::Bool(true),
            "InputFile" => value.is_string(),
            name => return self.check_object(value, name, path, errors),
        };
        if !ok {
            errors.push(format!("{path}: expected {type_expr}, got {value}"));
        }
    }

    fn check_object(&self, value: &serde_json::Value, name: &str, path: &str, errors: &mut Vec<String>) {
        let Some(def) = self.types.get(name) else {
            errors.push(format!("{path}: unknown type {name}"));
            return;
        };
        if !def.subtypes.is_empty() {
            let mut best: Option<Vec<String>> = None;
            for subtype in &def.subtypes {
                let mut sub_errors = Vec::new();
                self.check_object(value, subtype, path, &mut sub_errors);
                if sub_errors.is_empty() {
                    return;
                }
                if best.as_ref().is_none_or(|b| sub_errors.len() < b.len()) {
                    best = Some(sub_errors);
                }
            }
            errors.extend(best.unwrap_or_default());
            return;
        }
        let Some(object) = value.as_object() else {
            errors.push(format!("{path}: expected a {name} object, got {value}"));
            return;
        };
        for key in object.keys() {
            if def.fields.iter().all(|f| &f.name != key) {
                errors.push(format!("{path}: {name} has no field {key:?}"));
            }
        }
        for field in &def.fields {
            match object.get(&field.name) {
                None if field.required => errors.push(format!("{path}: {name} lacks required field {:?}", field.name)),
                None => {}
                Some(v) => {
                    let field_path = format!("{path}.{}", field.name);
                    let mut best: Option<Vec<String>> = None;
                    for t in &field.types {
                        let mut e = Vec::new();
                        self.check_at(v, t, &field_path, &mut e);
                        if e.is_empty() {
                            best = None;
                            break;
                        }
                        if best.as_ref().is_none_or(|b| e.len() < b.len()) {
                            best = Some(e);
                        }
                    }
                    errors.extend(best.unwrap_or_default());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Spec;
    use serde_json::json;

    #[test]
    fn a_documented_user_passes() {
        let spec = Spec::get();
        assert!(spec.check(&json!({"id": 1, "is_bot": false, "first_name": "Ann"}), "User").is_empty());
    }

    #[test]
    fn wrong_missing_and_unknown_fields_are_reported() {
        let errors = Spec::get().check(&json!({"id": "1", "first_name": "Ann", "nick": "x"}), "User");
        assert!(errors.iter().any(|e| e.contains("expected Integer")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("required field \"is_bot\"")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("no field \"nick\"")), "{errors:?}");
    }

    #[test]
    fn unions_and_arrays_are_checked() {
        let spec = Spec::get();
        let member = json!({"status": "member", "user": {"id": 1, "is_bot": false, "first_name": "A"}});
        assert!(spec.check(&member, "ChatMember").is_empty());
        assert!(!spec.check(&json!({"status": "member"}), "ChatMember").is_empty());
        assert!(!spec.check(&json!([1, "x"]), "Array of Integer").is_empty());
        assert!(spec.check_any(&json!(true), &["Message".into(), "True".into()]).is_empty());
    }
}
