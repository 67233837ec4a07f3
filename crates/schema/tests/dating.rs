//! The syntax the dating reference bot brought: `clean` and `city` form fields, `near` and
//! `not_in` on queries, `roles.<name>` and `distance_km(…)` in templates.

use ferrogram_schema::{FieldType, Step, load_str};

mod common;

use common::assert_diagnostics;

/// A bot with a per-bot `people` collection, and `steps` (indented under `do:`) for `/go`.
fn bot(steps: &str) -> String {
    format!(
        "ferrogram: 1
bot: {{name: x}}
roles:
  admins: {{users: [1]}}
collections:
  people:
    scope: bot
    fields:
      name: string
      lat: number
      lon: number
      floor: integer
    index: [lat, lon]
on:
  - command: go
    do:
{steps}"
    )
}

/// A bot with one form of `fields` (indented under `fields:`).
fn form(fields: &str) -> String {
    format!(
        "ferrogram: 1
bot: {{name: x, start: s}}
scenes:
  s:
    form:
      fields:
{fields}      on_done:
        - reply: \"{{{{ form }}}}\"
"
    )
}

#[test]
fn clean_and_city_fields_load() {
    let source = form(concat!(
        "        - {name: bio, ask: Bio?, clean: true, max_length: 300}\n",
        "        - {name: code, ask: Code?, type: regex, pattern: '^[a-z]+$', clean: true}\n",
        "        - {name: city, ask: City?, type: city}\n",
    ));
    assert_diagnostics(&source, &[]);
    let file = load_str(&source, "bot.yaml").expect("valid");
    let fields = &file.scenes["s"].form.as_ref().expect("a form").fields;
    assert!(fields[0].clean && fields[1].clean);
    assert_eq!(fields[2].kind, FieldType::City);
    assert!(!fields[2].clean);
}

#[test]
fn clean_is_for_text_fields_only() {
    assert_diagnostics(
        &form(concat!(
            "        - {name: age, ask: Age?, type: number, clean: true}\n",
            "        - {name: city, ask: City?, type: city, min_length: 2}\n",
        )),
        &[
            "bot.yaml:7:48: error: scenes.s.form.fields[0].clean: `clean` does not apply to a `number` field (`clean` is for text and regex fields)",
            "bot.yaml:8:48: error: scenes.s.form.fields[1].min_length: `min_length` does not apply to a `city` field (`min_length` is for text and regex fields)",
        ],
    );
}

#[test]
fn near_and_not_in_load() {
    let source = bot(concat!(
        "      - query: {collection: people, first: true, as: me}\n",
        "      - query:\n",
        "          collection: people\n",
        "          where: {name: {not_in: \"{{ [me.name] }}\", ne: x}, floor: {not_in: [1, 2]}}\n",
        "          near: {lat: \"{{ me.lat }}\", lon: 13.4, within_km: 50}\n",
        "          limit: 5\n",
        "          as: nearby\n",
        "      - reply: \"{% for p in nearby %}{{ p.name }} {{ p.distance_km }} {{ distance_km(p.lat, p.lon, 0, 0) }}{% endfor %}\"\n",
        "      - notify: {to: roles.admins, message: hi}\n",
    ));
    assert_diagnostics(&source, &[]);
    let file = load_str(&source, "bot.yaml").expect("valid");
    let Step::Query(query) = &file.on[0].steps[1] else { panic!("a query") };
    let near = query.near.as_ref().expect("near");
    assert_eq!(near.field_names(), ("lat", "lon"));
    assert_eq!(near.within_km, serde_json::json!(50));
}

#[test]
fn near_is_checked() {
    assert_diagnostics(
        &bot(concat!(
            "      - query: {collection: people, near: {lat: north, lon: 1, within_km: 5, fields: [name, lon]}}\n",
            "      - query: {collection: people, id: 1, near: {lat: 1, lon: 1, within_km: 5, fields: [lat, lng]}}\n",
            "      - query: {collection: people, near: {lat: 1, lon: 1}}\n",
        )),
        &[
            "bot.yaml:17:49: error: on[0].do[0].query.near.lat: `lat` is of type `number`, but \"north\" is not a number",
            "bot.yaml:17:87: error: on[0].do[0].query.near.fields[0]: `near` reads `name` as a coordinate, and it is of type `string` (declare `name: number` under `collections.people.fields`)",
            "bot.yaml:18:44: error: on[0].do[1].query.near: `near` does not apply to a query by `id`",
            "bot.yaml:18:95: error: on[0].do[1].query.near.fields[1]: the collection `people` has no field `lng` (declare it under `collections.people.fields`)",
            "bot.yaml:19:43: error: on[0].do[2].query.near.within_km: missing key `within_km` (add `within_km:` with a value)",
        ],
    );
}

#[test]
fn not_in_takes_a_list() {
    assert_diagnostics(
        &bot(concat!(
            "      - count: {collection: people, where: {floor: {not_in: 3}}}\n",
            "      - count: {collection: people, where: {floor: {nin: [1]}}}\n",
        )),
        &[
            "bot.yaml:17:61: error: on[0].do[0].count.where.floor.not_in: `not_in` takes a list, got a number (write `not_in: [a, b]`, or a template giving a list)",
            "bot.yaml:18:53: error: on[0].do[1].count.where.floor.nin: unknown comparison `nin` (did you mean `in`?)",
        ],
    );
}
