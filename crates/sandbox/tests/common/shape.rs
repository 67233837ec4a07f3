//! Checks that a JSON answer has the exact shape `api.json` gives its type: every field
//! known, every required field present, every value of a declared type, recursively.

use ferrogram_sandbox::spec::Spec;
use serde_json::Value;

/// Panics, naming the path and the problem, when `value` is not a valid `type_name`.
#[track_caller]
pub fn assert_shape(type_name: &str, value: &Value) {
    if let Err(problem) = check(type_name, value, "$") {
        panic!("not a valid {type_name}: {problem}\n{value:#}");
    }
}

fn check(type_name: &str, value: &Value, path: &str) -> Result<(), String> {
    if let Some(item) = type_name.strip_prefix("Array of ") {
        let items = value.as_array().ok_or_else(|| format!("{path}: expected an array"))?;
        return items.iter().enumerate().try_for_each(|(i, v)| check(item, v, &format!("{path}[{i}]")));
    }
    let scalar_ok = match type_name {
        "Integer" => Some(value.is_i64() || value.is_u64()),
        "Float" => Some(value.is_number()),
        "Boolean" => Some(value.is_boolean()),
        "True" => Some(value == &Value::Bool(true)),
        "String" | "InputFile" => Some(value.is_string()),
        _ => None,
    };
    if let Some(ok) = scalar_ok {
        return if ok { Ok(()) } else { Err(format!("{path}: expected {type_name}, got {value}")) };
    }
    let spec = Spec::get();
    let definition = spec.types.get(type_name).ok_or_else(|| format!("{path}: unknown type {type_name}"))?;
    if !definition.subtypes.is_empty() {
        let mut problems = Vec::new();
        for subtype in &definition.subtypes {
            match check(subtype, value, path) {
                Ok(()) => return Ok(()),
                Err(problem) => problems.push(format!("as {subtype}: {problem}")),
            }
        }
        return Err(problems.join("; "));
    }
    let object = value.as_object().ok_or_else(|| format!("{path}: expected a {type_name} object"))?;
    for (key, field_value) in object {
        let field = definition
            .fields
            .iter()
            .find(|f| &f.name == key)
            .ok_or_else(|| format!("{path}.{key}: not a field of {type_name}"))?;
        let field_path = format!("{path}.{key}");
        let results: Vec<_> = field.types.iter().map(|t| check(t, field_value, &field_path)).collect();
        if !results.iter().any(Result::is_ok) {
            return Err(results.into_iter().filter_map(Result::err).collect::<Vec<_>>().join(" | "));
        }
    }
    match definition.fields.iter().find(|f| f.required && !object.contains_key(&f.name)) {
        Some(missing) => Err(format!("{path}: required field {} of {type_name} is missing", missing.name)),
        None => Ok(()),
    }
}
