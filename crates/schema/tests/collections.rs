//! Collections, webhooks and the steps that use them: one test per check, with the exact
//! diagnostics (line, column, key, message and hint).

use ferrogram_schema::{FieldFilter, Step, load_str};

mod common;

use common::assert_diagnostics;

/// A bot with a per-user `subs` collection, and `steps` (indented under `do:`) for `/go`.
fn bot(steps: &str) -> String {
    format!(
        "ferrogram: 1
bot: {{name: x}}
collections:
  subs:
    scope: user
    fields:
      title: {{type: string, required: true, max_length: 20}}
      episode: integer
      done: {{type: boolean, default: false}}
    index: [episode]
    search: [title]
  notes:
    scope: chat
    fields: {{text: string}}
on:
  - command: go
    do:
{steps}"
    )
}

#[test]
fn a_valid_file_loads_with_every_step() {
    let source =
        bot(r#"      - insert: {collection: subs, values: {title: "{{ command.payload }}", episode: 1}, as: sub}
      - update: {collection: subs, id: "{{ sub.id }}", set: {episode: "{{ sub.episode + 1 }}"}}
      - query:
          collection: subs
          where: {episode: {ge: 1, lt: 10}, title: {in: [a, b]}, done: false}
          order_by: episode desc
          limit: 5
          as: found
      - count: {collection: subs, where: {done: false}, as: n}
      - search: {collection: subs, text: "{{ command.payload }}", limit: 3, as: hits}
      - reply: "{{ n }} {{ found | length }} {% for hit in hits %}{{ hit.record.title }} {{ hit.score }}{% endfor %}"
      - remove: {collection: subs, where: {episode: {gt: 100}}, as: removed}
      - emit: {event: watched, data: {title: "{{ sub.title }}", n: "{{ n }}"}}
webhooks:
  - {url: "https://hooks.example.com/in", events: [watched], secret: "${HOOK_SECRET}"}
"#);
    let file = load_str(&source, "bot.yaml").unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(file.collections["subs"].search, ["title"]);
    let steps = &file.on[0].steps;
    let Step::Query(query) = &steps[2] else { panic!("a query: {:?}", steps[2]) };
    assert!(matches!(&query.filter["episode"], FieldFilter::Compare(c) if c.ops().len() == 2));
    assert!(matches!(&query.filter["done"], FieldFilter::Equals(serde_json::Value::Bool(false))));
    assert_eq!(file.webhooks[0].events, ["watched"]);
}

#[test]
fn unknown_collection() {
    assert_diagnostics(
        &bot("      - query: {collection: sub, as: found}\n"),
        &["bot.yaml:18:29: error: on[0].do[0].query.collection: unknown collection `sub` (did you mean `subs`?)"],
    );
}

#[test]
fn unknown_field_in_values() {
    assert_diagnostics(
        &bot("      - insert: {collection: subs, values: {title: x, episod: 2}}\n"),
        &[
            "bot.yaml:18:55: error: on[0].do[0].insert.values.episod: the collection `subs` has no field `episod` (did you mean `episode`?)",
        ],
    );
}

#[test]
fn filter_on_a_field_neither_declared_nor_indexed() {
    assert_diagnostics(
        &bot("      - count: {collection: notes, where: {txt: hi}}\n"),
        &[
            "bot.yaml:18:44: error: on[0].do[0].count.where.txt: the collection `notes` has no field `txt` (did you mean `text`?)",
        ],
    );
}

#[test]
fn search_needs_search_fields() {
    assert_diagnostics(
        &bot("      - search: {collection: notes, text: hi}\n"),
        &[
            "bot.yaml:18:30: error: on[0].do[0].search.collection: the collection `notes` has no `search` fields to search (declare them: `search: [text]` under `collections.notes`)",
        ],
    );
}

#[test]
fn literal_values_must_fit_their_types() {
    assert_diagnostics(
        &bot(concat!(
            "      - insert: {collection: subs, values: {title: x, episode: two}}\n",
            "      - query: {collection: subs, where: {episode: {gt: soon}, done: maybe}}\n",
            "      - update: {collection: subs, id: 1, set: {title: \"this title is far too long\"}}\n",
        )),
        &[
            "bot.yaml:18:64: error: on[0].do[0].insert.values.episode: `episode` is of type `integer`, but \"two\" is not a whole number",
            "bot.yaml:19:57: error: on[0].do[1].query.where.episode.gt: `episode` is of type `integer`, but \"soon\" is not a whole number",
            "bot.yaml:19:70: error: on[0].do[1].query.where.done: `done` is of type `boolean`, but \"maybe\" is not true or false",
            "bot.yaml:20:56: error: on[0].do[2].update.set.title: `title` is of type `string`, but the text is 26 characters long; at most 20 fit",
        ],
    );
}

#[test]
fn required_fields_and_misspelt_comparisons() {
    assert_diagnostics(
        &bot(concat!(
            "      - insert: {collection: subs, values: {episode: 1}}\n",
            "      - query: {collection: subs, where: {episode: {gtt: 3}}}\n",
        )),
        &[
            "bot.yaml:18:44: error: on[0].do[0].insert.values: `title` is required in `subs`, and this record lacks it (add `title: …` to `values`, or give the field a `default`)",
            "bot.yaml:19:53: error: on[0].do[1].query.where.episode.gtt: unknown comparison `gtt` (did you mean `gt`?)",
        ],
    );
}

#[test]
fn update_and_remove_say_which_records() {
    assert_diagnostics(
        &bot(concat!(
            "      - update: {collection: subs, set: {done: true}}\n",
            "      - remove: {collection: subs}\n",
        )),
        &[
            "bot.yaml:18:17: error: on[0].do[0].update: `update` needs `id` or `where` to say which records (`id: \"{{ item.id }}\"`, or `where: {field: value}`)",
            "bot.yaml:19:17: error: on[0].do[1].remove: `remove` needs `id` or `where` to say which records (`id: \"{{ item.id }}\"`, or `where: {field: value}`)",
        ],
    );
}

#[test]
fn names_given_with_as_are_readable_and_checked() {
    assert_diagnostics(
        &bot(concat!(
            "      - count: {collection: subs, as: user}\n",
            "      - reply: \"{{ total }}\"\n",
            "      - count: {collection: subs, as: totl}\n",
        )),
        &[
            "bot.yaml:18:39: error: on[0].do[0].count.as: `user` is already a name templates read (pick another name, like `user_records`)",
            "bot.yaml:19:16: error: on[0].do[1].reply: unknown name `total` in a template (did you mean `totl`?)",
        ],
    );
}

#[test]
fn order_by_and_limits() {
    assert_diagnostics(
        &bot("      - query: {collection: subs, order_by: episod desc, limit: 5000}\n"),
        &[
            "bot.yaml:18:35: error: on[0].do[0].query.order_by: the collection `subs` has no field `episod` (did you mean `episode`?)",
            "bot.yaml:18:65: error: on[0].do[0].query.limit: `limit` is 5000; it can be 1 to 1000",
        ],
    );
}

#[test]
fn a_job_uses_only_per_bot_collections() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "collections:\n",
            "  notes: {scope: chat, fields: {text: string}}\n",
            "jobs:\n",
            "  tidy:\n",
            "    every: 1h\n",
            "    do:\n",
            "      - remove: {collection: notes, where: {text: old}}\n",
        ),
        &[
            "bot.yaml:9:18: error: jobs.tidy.do[0].remove.collection: a job has no chat for the per-chat collection `notes` (jobs use collections with `scope: bot`)",
        ],
    );
}

#[test]
fn declarations_are_checked() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "collections:\n",
            "  items:\n",
            "    scope: team\n",
            "    fields: {name: string}\n",
            "  votes:\n",
            "    scope: bot\n",
            "    fields:\n",
            "      id: integer\n",
            "      score: {type: number, default: high, max_length: 3}\n",
            "      tags: list\n",
            "    index: [scor, created_at]\n",
            "    search: [score]\n",
        ),
        &[
            "bot.yaml:5:12: error: collections.items.scope: unknown value `team` (expected one of: `user`, `chat`, `bot`)",
            "bot.yaml:10:7: error: collections.votes.fields.id: every record has `id` already (remove it, or name the field otherwise; the record fields are `id`, `created_at`, `updated_at`)",
            "bot.yaml:11:38: error: collections.votes.fields.score.default: the default does not fit the field's type `number`: \"high\" is not a number",
            "bot.yaml:11:44: error: collections.votes.fields.score.max_length: `max_length` does not apply to a `number` field (`max_length` is for string fields)",
            "bot.yaml:13:13: error: collections.votes.index[0]: the collection `votes` has no field `scor` (did you mean `score`?)",
            "bot.yaml:14:14: error: collections.votes.search[0]: `score` is a `number` field; search looks in text (search `string` fields (or lists of texts))",
        ],
    );
}

#[test]
fn webhooks_and_emit() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "webhooks:\n",
            "  - {url: hooks.example.com, events: [joined], secret: hunter2hunter2}\n",
            "on:\n",
            "  - command: go\n",
            "    do:\n",
            "      - emit: {event: left, data: {who: \"{{ from.id }}\"}}\n",
        ),
        &[
            "bot.yaml:4:11: error: webhooks[0].url: `hooks.example.com` is not an absolute http(s) URL (write it whole: `https://example.com/hooks/ferrogram`)",
            "bot.yaml:4:56: warning: webhooks[0].secret: the webhook's secret is written in the file (use an environment variable: `secret: ${WEBHOOK_SECRET}`)",
            "bot.yaml:8:23: warning: on[0].do[0].emit.event: no webhook receives the event `left` (add `left` to the `events` of a webhook)",
        ],
    );
}
