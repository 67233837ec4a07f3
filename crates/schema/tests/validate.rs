//! One test per check: a small bot file and the exact diagnostics it gets (line, column, key,
//! message and hint, as `ferrogram validate` prints them).

use ferrogram_schema::{Severity, check_str, load_str};

/// Checks `source` as `bot.yaml` and compares every diagnostic, in order.
#[track_caller]
fn assert_diagnostics(source: &str, expected: &[&str]) {
    let got: Vec<String> = check_str(source, "bot.yaml").diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(got, expected, "for:\n{source}");
}

#[test]
fn unknown_key_did_you_mean() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "scenez: {}\n",),
        &["bot.yaml:3:1: error: scenez: unknown key `scenez` (did you mean `scenes`?)"],
    );
}

#[test]
fn unknown_key_lists_allowed_keys() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "colour: red\n",),
        &[
            "bot.yaml:3:1: error: colour: unknown key `colour` (expected one of: `ferrogram`, `bot`, `texts`, `variables`, `roles`, `limits`, `on`, `scenes`, `jobs`, `errors`, `collections`, `webhooks`, `http_sessions`)",
        ],
    );
}

#[test]
fn schema_version() {
    assert_diagnostics(
        concat!("ferrogram: 2\n", "bot: {name: x}\n",),
        &["bot.yaml:1:12: error: ferrogram: unsupported schema version `2` (this Ferrogram reads `ferrogram: 1`)"],
    );
}

#[test]
fn missing_required_key() {
    assert_diagnostics(
        "ferrogram: 1\nbot:\n  token: ${TOKEN}\n",
        &["bot.yaml:3:3: error: bot.name: missing key `name` (add `name:` with a string)"],
    );
}

#[test]
fn misspelt_required_key_is_reported_once() {
    assert_diagnostics(
        "ferrogram: 1\nbot:\n  nam: x\n",
        &["bot.yaml:3:3: error: bot.nam: unknown key `nam` (did you mean `name`?)"],
    );
}

#[test]
fn wrong_type_list_of_steps() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "on:\n", "  - command: start\n", "    do: hi\n",),
        &["bot.yaml:5:9: error: on[0].do: expected a list of steps, got the text `hi`"],
    );
}

#[test]
fn single_value_where_list_expected() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "on:\n", "  command: start\n", "  do: []\n",),
        &["bot.yaml:4:3: error: on: expected a list of handlers, got a mapping (make it a list: put `- ` before it)"],
    );
}

#[test]
fn unknown_step_kind() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - command: start\n",
            "    do:\n",
            "      - replay: hi\n",
        ),
        &["bot.yaml:6:9: error: on[0].do[0].replay: unknown step `replay` (did you mean `reply`?)"],
    );
}

#[test]
fn step_key_belongs_inside() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - command: start\n",
            "    do:\n",
            "      - reply: hi\n",
            "        buttons: []\n",
        ),
        &[
            "bot.yaml:7:9: error: on[0].do[0].buttons: unexpected key `buttons`: a step has exactly one key (indent `buttons` under `reply`: it belongs to the reply)",
        ],
    );
}

#[test]
fn two_steps_in_one_item() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - command: start\n",
            "    do:\n",
            "      - reply: hi\n",
            "        goto: menu\n",
        ),
        &[
            "bot.yaml:7:9: error: on[0].do[0].goto: a step has one key, but this one has `reply` and `goto` (start a new step with `- ` before `goto`)",
        ],
    );
}

#[test]
fn bare_step_name() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "on:\n", "  - command: start\n", "    do:\n", "      - return\n",),
        &[
            "bot.yaml:6:9: error: on[0].do[0]: expected a step (a mapping with one key, like `reply: …`), got the text `return` (write `return: any`)",
        ],
    );
}

#[test]
fn empty_step() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "on:\n", "  - command: start\n", "    do:\n", "      - {}\n",),
        &[
            "bot.yaml:6:9: error: on[0].do[0]: empty step (expected one of: `reply`, `edit`, `answer`, `delete`, `set`, `unset`, `goto`, `call`, `return`, `if`, `for_each`, `dice`, `poll`, `notify`, `answer_inline`, `http`, `insert`, `update`, `remove`, `query`, `count`, `search`, `emit`, `feed`, `llm`, `try`)",
        ],
    );
}

#[test]
fn unknown_key_in_untagged_branch() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - command: start\n",
            "    do:\n",
            "      - reply: {txt: hi}\n",
        ),
        &["bot.yaml:6:17: error: on[0].do[0].reply.txt: unknown key `txt` (did you mean `text`?)"],
    );
}

#[test]
fn missing_do() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "on:\n", "  - command: start\n",),
        &["bot.yaml:4:5: error: on[0].do: missing key `do` (add `do:` with a list of steps)"],
    );
}

#[test]
fn unknown_enum_value() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "on:\n", "  - content: foto\n", "    do: []\n",),
        &[
            "bot.yaml:4:14: error: on[0].content: unknown value `foto` (expected one of: `photo`, `document`, `location`, `contact`, `poll_answer`, `member_joined`, `member_left`, `web_app_data`)",
        ],
    );
}

#[test]
fn documented_enum_value() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "scenes:\n",
            "  menu:\n",
            "    form:\n",
            "      fields:\n",
            "        - {name: a, ask: b, type: dat}\n",
        ),
        &[
            "bot.yaml:2:1: error: bot.start: a bot with scenes needs `start`, the scene a new chat starts in (add `start: menu` under `bot`)",
            "bot.yaml:7:35: error: scenes.menu.form.fields[0].type: unknown value `dat` (did you mean `date`?)",
        ],
    );
}

#[test]
fn long_text_policy() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x, long_text: cut}\n", "on:\n", "  - text: any\n", "    do: []\n"),
        &[],
    );
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x, long_text: splt}\n", "on:\n", "  - text: any\n", "    do: []\n"),
        &["bot.yaml:2:27: error: bot.long_text: unknown value `splt` (did you mean `split`?)"],
    );
}

#[test]
fn the_errors_reply_reads_error() {
    let source = concat!(
        "ferrogram: 1\n",
        "bot: {name: x}\n",
        "errors: {reply: \"Not sent: {{ error.reason }}\"}\n",
        "on:\n",
        "  - text: any\n",
        "    do: [{reply: \"{{ error.reason }}\"}]\n",
    );
    assert_diagnostics(
        source,
        &[
            "bot.yaml:6:18: error: on[0].do[0].reply: `error` is only set in the `catch` steps of a `try` and in the `errors` reply (read it in `try: {do: […], catch: […]}`)",
        ],
    );
}

#[test]
fn negative_integer() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "limits: {per_minute: -1}\n",),
        &["bot.yaml:3:22: error: limits.per_minute: expected a whole number from 0 to 4294967295, got `-1`"],
    );
}

#[test]
fn fractional_integer() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "limits: {per_minute: 1.5}\n",),
        &["bot.yaml:3:22: error: limits.per_minute: expected a whole number, got the number `1.5`"],
    );
}

#[test]
fn empty_value() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "on:\n", "  - command: start\n", "    do:\n", "      - reply:\n",),
        &[
            "bot.yaml:6:14: error: on[0].do[0].reply: expected a message (a string, or a mapping with `text`, `buttons`…), got nothing (write the value after the colon)",
        ],
    );
}

#[test]
fn null_where_text_expected() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - command: start\n",
            "    do:\n",
            "      - reply: null\n",
        ),
        &[
            "bot.yaml:6:16: error: on[0].do[0].reply: expected a message (a string, or a mapping with `text`, `buttons`…), got `null` (write \"null\" in quotes to mean the text)",
        ],
    );
}

#[test]
fn duplicate_key() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "bot: {name: y}\n",),
        &["bot.yaml:3:1: error: bot: duplicate key `bot` (it is already set at line 2)"],
    );
}

#[test]
fn yaml_syntax() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x\n",),
        &["bot.yaml:2:6: error: invalid YAML: unclosed bracket '{'"],
    );
}

#[test]
fn empty_file() {
    assert_diagnostics(
        "",
        &["bot.yaml:1:1: error: the file is empty (a bot file starts with `ferrogram: 1` and `bot: {name: …}`)"],
    );
}

#[test]
fn not_a_mapping() {
    assert_diagnostics(
        concat!("- a\n", "- b\n",),
        &["bot.yaml:1:1: error: expected a bot file (a mapping that starts with `ferrogram: 1`), got a list"],
    );
}

#[test]
fn two_documents() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "---\n", "ferrogram: 1\n",),
        &[
            "bot.yaml:3:1: error: a bot file holds one YAML document; this starts a second one (remove the `---` line and what follows, or put that bot in its own file)",
        ],
    );
}

#[test]
fn unsupported_tag() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: !foo {name: x}\n",),
        &["bot.yaml:2:11: error: bot: unsupported tag `!foo` (remove the tag; bot files use plain YAML values)"],
    );
}

#[test]
fn all_errors_at_once() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "scenez: {}\n",
            "on:\n",
            "  - command: start\n",
            "    do:\n",
            "      - replay: hi\n",
            "      - reply: {txt: hi}\n",
            "  - content: foto\n",
            "    do: 1\n",
        ),
        &[
            "bot.yaml:3:1: error: scenez: unknown key `scenez` (did you mean `scenes`?)",
            "bot.yaml:7:9: error: on[0].do[0].replay: unknown step `replay` (did you mean `reply`?)",
            "bot.yaml:8:17: error: on[0].do[1].reply.txt: unknown key `txt` (did you mean `text`?)",
            "bot.yaml:9:14: error: on[1].content: unknown value `foto` (expected one of: `photo`, `document`, `location`, `contact`, `poll_answer`, `member_joined`, `member_left`, `web_app_data`)",
            "bot.yaml:10:9: error: on[1].do: expected a list of steps, got the number `1`",
        ],
    );
}

#[test]
fn start_missing() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "scenes:\n", "  menu: {}\n",),
        &[
            "bot.yaml:2:1: error: bot.start: a bot with scenes needs `start`, the scene a new chat starts in (add `start: menu` under `bot`)",
        ],
    );
}

#[test]
fn start_unknown() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x, start: mnu}\n", "scenes:\n", "  menu: {}\n",),
        &["bot.yaml:2:23: error: bot.start: unknown scene `mnu` (did you mean `menu`?)"],
    );
}

#[test]
fn start_without_scenes() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x, start: menu}\n",),
        &[
            "bot.yaml:2:23: error: bot.start: `bot.start` names the scene `menu`, but the bot has no scenes (add it under `scenes`, or remove `start`)",
        ],
    );
}

#[test]
fn goto_unknown_and_unreachable() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x, start: menu}\n",
            "scenes:\n",
            "  menu:\n",
            "    on:\n",
            "      - command: go\n",
            "        do:\n",
            "          - goto: setings\n",
            "  settings: {}\n",
        ),
        &[
            "bot.yaml:8:19: error: scenes.menu.on[0].do[0].goto: unknown scene `setings` (did you mean `settings`?)",
            "bot.yaml:9:3: warning: scenes.settings: the scene `settings` is never reached from `bot.start` (`menu`) (enter it with `goto: settings` or a button's `goto`, or remove it)",
        ],
    );
}

#[test]
fn button_goto_and_call() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x, start: menu}\n",
            "scenes:\n",
            "  menu:\n",
            "    on_enter:\n",
            "      - call: hlp\n",
            "      - reply: {text: hi, buttons: [[{text: Go, goto: prfile}]]}\n",
            "  help: {}\n",
            "  profile: {}\n",
        ),
        &[
            "bot.yaml:6:15: error: scenes.menu.on_enter[0].call: unknown scene `hlp` (did you mean `help`?)",
            "bot.yaml:7:55: error: scenes.menu.on_enter[1].reply.buttons[0][0].goto: unknown scene `prfile` (did you mean `profile`?)",
            "bot.yaml:8:3: warning: scenes.help: the scene `help` is never reached from `bot.start` (`menu`) (enter it with `goto: help` or a button's `goto`, or remove it)",
            "bot.yaml:9:3: warning: scenes.profile: the scene `profile` is never reached from `bot.start` (`menu`) (enter it with `goto: profile` or a button's `goto`, or remove it)",
        ],
    );
}

#[test]
fn handler_triggers() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - do: []\n",
            "  - command: a\n",
            "    text: b\n",
            "    do: []\n",
            "  - text: c\n",
            "    edited_text: '/(c/'\n",
            "    do: []\n",
        ),
        &[
            "bot.yaml:4:5: error: on[0]: a handler needs a trigger (add one of `command`, `text`, `edited_text`, `callback`, `content`, `inline_query`)",
            "bot.yaml:6:5: error: on[1].text: a handler has one trigger, but this one has `command` and `text` (split it into two handlers)",
            "bot.yaml:9:5: error: on[2].edited_text: a handler has one trigger, but this one has `text` and `edited_text` (split it into two handlers)",
            "bot.yaml:9:18: error: on[2].edited_text: invalid regular expression: unclosed group",
        ],
    );
}

#[test]
fn button_actions_and_callback_size() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - command: a\n",
            "    do:\n",
            "      - reply:\n",
            "          text: hi\n",
            "          buttons:\n",
            "            - - {text: A}\n",
            "              - {text: B, callback: b, url: 'https://x.org'}\n",
            "              - {text: C, callback: 'ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc'}\n",
        ),
        &[
            "bot.yaml:9:17: error: on[0].do[0].reply.buttons[0][0]: a button needs an action (add one of `callback`, `goto`, `url`, `web_app`)",
            "bot.yaml:10:40: error: on[0].do[0].reply.buttons[0][1].url: a button has one action, but this one has `callback` and `url` (keep one of them)",
            "bot.yaml:11:37: error: on[0].do[0].reply.buttons[0][2].callback: callback data is 65 bytes; Telegram accepts 1 to 64 (use a short id, and keep details in variables)",
        ],
    );
}

#[test]
fn web_app_buttons_need_https() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "variables: {bot: {host: {type: string, default: shop.example}}}\n",
            "on:\n",
            "  - command: a\n",
            "    do:\n",
            "      - reply:\n",
            "          text: hi\n",
            "          buttons: [[{text: Shop, web_app: 'http://shop.example'}, {text: Ok, web_app: 'https://ok.example/app'}]]\n",
            "          keyboard:\n",
            "            - [Plain, {text: Order, web_app: 'shop.example'}]\n",
            "            - [{text: Fine, web_app: 'https://{{ bot.host }}/order'}]\n",
            "  - content: web_app_data\n",
            "    do: [{reply: 'Got {{ web_app.data.item }} from {{ web_app.button_text }}'}]\n",
        ),
        &[
            "bot.yaml:9:44: error: on[0].do[0].reply.buttons[0][0].web_app: `http://shop.example` is not an https link; Telegram opens Web Apps only over HTTPS (write the Web App's address as `https://…`, or `/shop` for the shop page Ferrogram serves)",
            "bot.yaml:11:46: error: on[0].do[0].reply.keyboard[0][1].web_app: `shop.example` is not an https link; Telegram opens Web Apps only over HTTPS (write the Web App's address as `https://…`, or `/shop` for the shop page Ferrogram serves)",
        ],
    );
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - command: a\n",
            "    do:\n",
            "      - reply: {text: hi, buttons: [[{text: A, callback: a, web_app: 'https://a.example'}]]}\n",
        ),
        &[
            "bot.yaml:6:61: error: on[0].do[0].reply.buttons[0][0].web_app: a button has one action, but this one has `callback` and `web_app` (keep one of them)",
        ],
    );
}

#[test]
fn form_fields() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x, start: f}\n",
            "scenes:\n",
            "  f:\n",
            "    form:\n",
            "      fields:\n",
            "        - {name: a, ask: A, type: choice}\n",
            "        - {name: b, ask: B, choices: [x]}\n",
            "        - {name: c, ask: C, type: regex, pattern: '(['}\n",
            "        - {name: d, ask: D, type: number, min: 5, max: 1}\n",
            "        - {name: e, ask: E, type: regex}\n",
        ),
        &[
            "bot.yaml:7:11: error: scenes.f.form.fields[0]: the choice field `a` has no `choices` (add `choices: [yes, no]`)",
            "bot.yaml:8:29: error: scenes.f.form.fields[1].choices: `choices` does not apply to a `text` field (`choices` is for choice fields)",
            "bot.yaml:9:51: error: scenes.f.form.fields[2].pattern: invalid regular expression: unclosed character class",
            "bot.yaml:10:48: error: scenes.f.form.fields[3].min: `min` (5) is more than `max` (1)",
            "bot.yaml:11:11: error: scenes.f.form.fields[4]: the regex field `e` has no `pattern` (add `pattern: '^[0-9]{5}$'`)",
        ],
    );
}

#[test]
fn regex_trigger() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x}\n", "on:\n", "  - text: '/(ab/'\n", "    do: []\n",),
        &["bot.yaml:4:11: error: on[0].text: invalid regular expression: unclosed group"],
    );
}

#[test]
fn texts_and_locales() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "texts:\n",
            "  en: {welcome: hi}\n",
            "  de: {welcome: hallo}\n",
            "on:\n",
            "  - command: a\n",
            "    do:\n",
            "      - reply: '@welcom'\n",
            "      - reply: \"{{ t('wellcome') }}\"\n",
            "      - reply: {text: {en: a, ru: b}}\n",
        ),
        &[
            "bot.yaml:5:3: error: texts.de: the locale `de` is not offered by the bot (add `de` to `bot.locales`)",
            "bot.yaml:9:16: error: on[0].do[0].reply: `@welcom`: there is no text `welcom` in `texts.en` (did you mean `welcome`?)",
            "bot.yaml:10:16: error: on[0].do[1].reply: `t(\"wellcome\")`: there is no text `wellcome` in `texts.en` (did you mean `welcome`?)",
            "bot.yaml:11:31: error: on[0].do[2].reply.text.ru: the locale `ru` is not offered by the bot (add `ru` to `bot.locales`)",
        ],
    );
}

#[test]
fn missing_translation() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x, locales: [en, ru]}\n",
            "texts:\n",
            "  en: {hi: Hi, bye: Bye}\n",
            "  ru: {hi: Привет}\n",
        ),
        &["bot.yaml:5:3: warning: texts.ru: texts for `ru` lack `bye` (users with `ru` see the `en` text instead)"],
    );
}

#[test]
fn templates_compile() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - command: a\n",
            "    when: user.age >=\n",
            "    do:\n",
            "      - reply: \"{{ from.first_name \"\n",
            "      - reply: \"{{ usr.name }}\"\n",
        ),
        &[
            "bot.yaml:5:11: error: on[0].when: invalid expression: syntax error: unexpected end of input, expected expression",
            "bot.yaml:7:16: error: on[0].do[0].reply: invalid template: syntax error: unexpected end of input, expected end of variable block",
            "bot.yaml:8:16: error: on[0].do[1].reply: unknown name `usr` in a template (did you mean `user`?)",
        ],
    );
}

#[test]
fn variables() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "variables:\n",
            "  user:\n",
            "    score: {type: number}\n",
            "    name: {type: string}\n",
            "on:\n",
            "  - command: a\n",
            "    do:\n",
            "      - reply: \"{{ user.scor }} {{ user.name }}\"\n",
            "      - set: {user.nme: x, score: 1}\n",
            "      - unset: [user.age]\n",
        ),
        &[
            "bot.yaml:6:5: warning: variables.user.name: `user.name` is read but never set, and has no default (give it a `default`, or set it: `set: {user.name: …}`)",
            "bot.yaml:10:16: error: on[0].do[0].reply: the variable `user.scor` is not declared (did you mean `user.score`?)",
            "bot.yaml:11:15: error: on[0].do[1].set[\"user.nme\"]: the variable `user.nme` is not declared (did you mean `user.name`?)",
            "bot.yaml:11:28: error: on[0].do[1].set.score: `score` is not a variable (write the scope first: `user.score`, `chat_vars.score` or `bot.score`)",
            "bot.yaml:12:17: error: on[0].do[2].unset[0]: the variable `user.age` is not declared (declare it under `variables.user` with its `type`)",
        ],
    );
}

#[test]
fn chat_scope_spelling() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "variables:\n",
            "  chat: {topic: {type: string, default: ''}}\n",
            "on:\n",
            "  - command: a\n",
            "    do:\n",
            "      - set: {chat.topic: x}\n",
        ),
        &[
            "bot.yaml:8:15: warning: on[0].do[0].set[\"chat.topic\"]: `chat.topic` means the chat variable `chat_vars.topic` (write `chat_vars.topic` as templates do; there `chat` is the Telegram chat)",
        ],
    );
}

#[test]
fn roles() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "roles:\n",
            "  admin: {users: [1]}\n",
            "limits: {exempt: [admins, moderator]}\n",
            "on:\n",
            "  - command: a\n",
            "    roles: [user, admn]\n",
            "    do: []\n",
        ),
        &[
            "bot.yaml:5:19: error: limits.exempt[0]: unknown role `admins` (did you mean `admin`?)",
            "bot.yaml:5:27: error: limits.exempt[1]: unknown role `moderator` (declare it under `roles:` with its users: `moderator: {users: [123456789]}`)",
            "bot.yaml:8:19: error: on[0].roles[1]: unknown role `admn` (did you mean `admin`?)",
        ],
    );
}

#[test]
fn scene_roles() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x, start: home}\n",
            "roles:\n",
            "  admin: {users: [1]}\n",
            "on:\n",
            "  - command: panel\n",
            "    do: [{goto: panel}]\n",
            "scenes:\n",
            "  home: {roles: [admin], on_enter: [{reply: hi}]}\n",
            "  panel: {roles: [admin, admn], on_enter: [{reply: panel}]}\n",
        ),
        &[
            "bot.yaml:9:17: error: scenes.home.roles: `home` is the start scene, where every new chat begins: it cannot be limited to roles (start in an open scene and `goto` this one from there)",
            "bot.yaml:10:26: error: scenes.panel.roles[1]: unknown role `admn` (did you mean `admin`?)",
        ],
    );
}

#[test]
fn a_scene_only_role_limited_handlers_lead_to_should_carry_the_roles() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x, start: home}\n",
            "roles:\n",
            "  admin: {users: [1]}\n",
            "on:\n",
            "  - command: panel\n",
            "    roles: [admin]\n",
            "    do: [{goto: panel}]\n",
            "  - command: guarded\n",
            "    roles: [admin]\n",
            "    do: [{goto: guarded}]\n",
            "  - command: help\n",
            "    do: [{goto: help}]\n",
            "scenes:\n",
            "  home: {on_enter: [{reply: hi}]}\n",
            "  help: {on_enter: [{reply: help}]}\n",
            "  panel: {on_enter: [{reply: panel}]}\n",
            "  guarded: {roles: [admin], on_enter: [{reply: guarded}]}\n",
        ),
        &[
            "bot.yaml:17:3: warning: scenes.panel: only handlers limited to roles lead to the scene `panel`, but the scene itself is open: anyone who sees its `goto` buttons, or shares the chat, acts in it (add `roles: [admin]` to the scene)",
        ],
    );
}

#[test]
fn default_locale_offered() {
    assert_diagnostics(
        concat!("ferrogram: 1\n", "bot: {name: x, locales: [ru, de]}\n",),
        &[
            "bot.yaml:2:6: error: bot.default_locale: the default locale `en` is not in `bot.locales` (add `en` to `bot.locales`)",
        ],
    );
}

#[test]
fn steps_after_goto_and_stray_return() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x, start: a}\n",
            "scenes:\n",
            "  a:\n",
            "    on_enter:\n",
            "      - goto: b\n",
            "      - reply: never\n",
            "  b:\n",
            "    on_enter:\n",
            "      - return: any\n",
        ),
        &[
            "bot.yaml:7:9: warning: scenes.a.on_enter[1]: this step never runs: `goto` before it ends the handler (move it before `goto`, or remove it)",
            "bot.yaml:10:17: warning: scenes.b.on_enter[0].return: `return` in the scene `b`, which no `call` enters (enter it with `call: b`, or use `goto`)",
        ],
    );
}

#[test]
fn dice_and_poll() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - command: a\n",
            "    do:\n",
            "      - dice: 🎱\n",
            "      - poll: {question: Q, options: [A], correct: 3}\n",
            "      - dice: ⚽️\n",
        ),
        &[
            "bot.yaml:6:15: error: on[0].do[0].dice: Telegram has no dice `🎱` (use one of 🎲 🎯 🎳 🏀 ⚽ 🎰)",
            "bot.yaml:7:38: error: on[0].do[1].poll.options: a poll needs at least 2 options",
            "bot.yaml:7:52: error: on[0].do[1].poll.correct: `correct` is 3, but the options are numbered from 0 to 0 (`correct` is the index of the right option, the first being 0)",
        ],
    );
}

#[test]
fn menu_commands_and_token() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot:\n",
            "  name: x\n",
            "  token: '123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh'\n",
            "  commands:\n",
            "    - {command: /start, description: S}\n",
            "    - {command: Help, description: H}\n",
            "    - {command: about, description: A}\n",
        ),
        &[
            "bot.yaml:4:10: warning: bot.token: the bot token is written in the file (use an environment variable: `token: ${MY_BOT_TOKEN}`)",
            "bot.yaml:6:17: error: bot.commands[0].command: a command is written without the slash (write `command: start`)",
            "bot.yaml:7:17: error: bot.commands[1].command: `Help` cannot be a menu command (Telegram accepts 1 to 32 lowercase letters, digits and underscores)",
            "bot.yaml:8:17: warning: bot.commands[2].command: no handler answers the menu command `/about` (add a handler with `command: about`)",
        ],
    );
}

#[test]
fn form_store_needs_declared_variables() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x, start: f}\n",
            "scenes:\n",
            "  f:\n",
            "    form:\n",
            "      store: user\n",
            "      fields:\n",
            "        - {name: age, ask: A, type: number}\n",
        ),
        &[
            "bot.yaml:8:18: error: scenes.f.form.fields[0].name: the form stores `age` as `user.age`, which is not declared (declare it: `variables: {user: {age: {type: …}}}`)",
        ],
    );
}

#[test]
fn variable_names_and_defaults() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "variables:\n",
            "  user:\n",
            "    score: {type: number, default: 'zero'}\n",
            "    1bad: {type: string}\n",
        ),
        &[
            "bot.yaml:5:36: error: variables.user.score.default: the default is a string, but the variable's type is `number`",
            "bot.yaml:6:5: error: variables.user.1bad: `1bad` cannot be a variable name (use letters, digits and `_`, starting with a letter)",
        ],
    );
}

#[test]
fn quoted_schema_version() {
    assert_diagnostics(
        "ferrogram: \"1\"\nbot: {name: x}\n",
        &["bot.yaml:1:12: error: ferrogram: the schema version is a number, not a text (write `ferrogram: 1`)"],
    );
}

#[test]
fn diagnostic_fields() {
    let diagnostics =
        load_str("ferrogram: 1\nbot: {name: x}\non:\n  - command: a\n    do:\n      - replay: hi\n", "b.yaml")
            .expect_err("an unknown step");
    let d = &diagnostics[0];
    assert_eq!((d.file.as_str(), d.line, d.column), ("b.yaml", 6, 9));
    assert_eq!(d.key, "on[0].do[0].replay");
    assert_eq!(d.message, "unknown step `replay`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `reply`?"));
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(diagnostics.len(), 1);
}

#[test]
fn warnings_alone_load_and_errors_bring_the_warnings_along() {
    let warned = "ferrogram: 1\nbot: {name: x, start: a}\nscenes:\n  a: {}\n  b: {}\n";
    assert!(load_str(warned, "w.yaml").is_ok());
    let checked = check_str(warned, "w.yaml");
    assert!(!checked.has_errors());
    assert_eq!(checked.warnings().count(), 1);
    assert!(checked.bot.is_some());

    let failed = "ferrogram: 1\nbot: {name: x, start: a}\nscenes:\n  a: {on_enter: [goto: c]}\n  b: {}\n";
    let diagnostics = load_str(failed, "e.yaml").expect_err("unknown scene");
    let severities: Vec<Severity> = diagnostics.iter().map(|d| d.severity).collect();
    assert_eq!(severities, [Severity::Error, Severity::Warning]);
}

#[test]
fn yaml_scalars_take_the_type_the_schema_wants() {
    let bot = load_str(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: 42}\n",
            "on:\n",
            "  - command: '1'\n",
            "    do:\n",
            "      - reply: 1.50\n",
            "      - answer: {text: yes, alert: yes}\n",
            "      - reply: true\n",
        ),
        "s.yaml",
    )
    .expect("valid");
    assert_eq!(bot.bot.name, "42");
    assert_eq!(bot.on[0].command.as_deref(), Some("1"));
    assert!(
        matches!(&bot.on[0].steps[0], ferrogram_schema::Step::Reply(ferrogram_schema::Reply::Text(t)) if t == "1.50")
    );
    assert!(matches!(&bot.on[0].steps[1], ferrogram_schema::Step::Answer(ferrogram_schema::Answer::Full(a))
        if a.alert && a.text == Some(ferrogram_schema::Text::One("yes".into()))));
    assert!(
        matches!(&bot.on[0].steps[2], ferrogram_schema::Step::Reply(ferrogram_schema::Reply::Text(t)) if t == "true")
    );
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let bot = load_str(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - &greet\n",
            "    command: start\n",
            "    do: [reply: hi]\n",
            "  - <<: *greet\n",
            "    command: hello\n",
        ),
        "a.yaml",
    )
    .expect("valid");
    assert_eq!(bot.on.len(), 2);
    assert_eq!(bot.on[1].command.as_deref(), Some("hello"));
    assert_eq!(bot.on[1].steps, bot.on[0].steps);
}

#[test]
fn too_many_values_blames_aliases_only_when_there_are_aliases() {
    let messages = |source: &str| -> Vec<String> {
        check_str(source, "a.yaml").diagnostics.iter().map(|d| d.message.clone()).collect()
    };
    // Many plain values, no alias: the count is the reason, not aliases.
    let plain = format!("ferrogram: 1\nbot: {{name: x}}\nlist:\n{}", "- 1\n".repeat(ferrogram_schema::MAX_NODES));
    assert!(plain.len() < ferrogram_schema::MAX_FILE_BYTES, "the size cap is not what refuses it");
    assert_eq!(messages(&plain), [format!("the file holds more than {} values", ferrogram_schema::MAX_NODES)]);
    // Aliases that multiply: then they are the likely cause.
    let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        let p = i - 1;
        laughs
            .push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    let got = messages(&laughs);
    assert!(got.len() == 1 && got[0].ends_with("(are aliases expanding too much?)"), "{got:?}");
}

#[test]
fn text_over_the_file_size_cap_is_refused_unread() {
    let huge = format!("ferrogram: 1\nbot: {{name: x}}\n#{}\n", " ".repeat(ferrogram_schema::MAX_FILE_BYTES));
    let got: Vec<String> = check_str(&huge, "big.yaml").diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(got, ["big.yaml: error: the bot file is larger than 8 MiB (the bot file size cap)"]);
}

#[test]
fn json_files_are_checked_the_same_way() {
    let json = concat!(
        "{\n",
        "  \"ferrogram\": 1,\n",
        "  \"bot\": {\"name\": \"x\", \"strt\": \"a\"},\n",
        "  \"on\": [{\"command\": \"a\", \"do\": [{\"replay\": \"hi\"}]}]\n",
        "}\n",
    );
    let got: Vec<String> = check_str(json, "bot.json").diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "bot.json:3:24: error: bot.strt: unknown key `strt` (did you mean `start`?)",
            "bot.json:4:35: error: on[0].do[0].replay: unknown step `replay` (did you mean `reply`?)",
        ]
    );
    let got: Vec<String> = check_str("{\"ferrogram\": 1,\n \"bot\": {\"name\": \"x\"},}", "bot.json")
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "bot.json:2:23: error: invalid JSON: expected a key in double quotes, found `}` (remove the comma before `}`)"
        ]
    );
    let got: Vec<String> = check_str("{\"ferrogram\": 1,\n \"bot\": {\"name\": \"x\"}, \"bot\": 1}", "bot.json")
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, ["bot.json:2:24: error: bot: duplicate key `bot` (it is already set at line 2)"]);
}

#[test]
fn a_full_bot_is_clean_in_yaml_and_in_json() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/full.yaml");
    let checked = ferrogram_schema::check(&path);
    assert_eq!(checked.diagnostics, []);
    let bot = checked.bot.expect("loads");
    let json = serde_json::to_string_pretty(&bot).expect("serializes");
    let again = check_str(&json, "full.json");
    assert_eq!(again.diagnostics, []);
    assert_eq!(again.bot.as_ref(), Some(&bot));
}

/// Every example bot validates with no error and no warning.
#[test]
fn examples_validate_clean() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples in {}", dir.display());
    let mut problems = Vec::new();
    for file in &files {
        problems.extend(ferrogram_schema::check(file).diagnostics.iter().map(ToString::to_string));
    }
    assert!(problems.is_empty(), "examples have problems:\n{}", problems.join("\n"));
}

/// Structure errors do not hide the other checks: they run on what is left, at the file's own
/// positions (a step left out does not shift the next one's index), without echoes of what was
/// left out, and without warnings.
#[test]
fn structure_and_reference_errors_at_once() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x, start: menu}\n",
            "scenes:\n",
            "  menu:\n",
            "    on:\n",
            "      - command: a\n",
            "        do:\n",
            "          - replay: hi\n",
            "          - goto: mnu\n",
            "      - content: foto\n",
            "        do: [goto: nowhere, reply: '{{ usr }}']\n",
            "  unreachable: {}\n",
        ),
        &[
            "bot.yaml:8:13: error: scenes.menu.on[0].do[0].replay: unknown step `replay` (did you mean `reply`?)",
            "bot.yaml:9:19: error: scenes.menu.on[0].do[1].goto: unknown scene `mnu` (did you mean `menu`?)",
            "bot.yaml:10:18: error: scenes.menu.on[1].content: unknown value `foto` (expected one of: `photo`, `document`, `location`, `contact`, `poll_answer`, `member_joined`, `member_left`, `web_app_data`)",
            "bot.yaml:11:20: error: scenes.menu.on[1].do[0].goto: unknown scene `nowhere` (the scenes are: `menu`, `unreachable`)",
            "bot.yaml:11:36: error: scenes.menu.on[1].do[1].reply: unknown name `usr` in a template (did you mean `user`?)",
        ],
    );
    // A scene lost to an error: references to scenes are not checked, as any could be it.
    assert_diagnostics(
        "ferrogram: 1\nbot: {name: x, start: menu}\nscenes:\n  menu: []\n",
        &["bot.yaml:4:9: error: scenes.menu: expected a scene, got a list"],
    );
}

#[test]
fn duplicate_keys_do_not_hide_other_errors() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x, start: menu}\n",
            "scenes:\n",
            "  menu:\n",
            "    on_enter: [goto: mnu]\n",
            "  menu: {}\n",
        ),
        &[
            "bot.yaml:5:22: error: scenes.menu.on_enter[0].goto: unknown scene `mnu` (did you mean `menu`?)",
            "bot.yaml:6:3: error: scenes.menu: duplicate key `menu` (it is already set at line 4)",
        ],
    );
}

#[test]
fn jobs() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "variables:\n",
            "  bot: {ticks: {type: number}}\n",
            "  user: {seen: {type: bool}}\n",
            "jobs:\n",
            "  both: {cron: \"0 9 * * *\", every: 1h, do: [{set: {bot.ticks: \"{{ bot.ticks + 1 }}\"}}]}\n",
            "  none: {do: [{notify: {to: \"[1]\", message: hi}}]}\n",
            "  badcron: {cron: \"0 25 * * *\", do: [{reply: hi}]}\n",
            "  fast: {every: 0s, do: [{set: {user.seen: \"true\"}}]}\n",
            "  ok: {every: 30s, do: [{notify: {to: \"[1]\", message: \"{{ bot.ticks }}\"}}]}\n",
        ),
        &[
            "bot.yaml:7:29: error: jobs.both.every: the job `both` has both `cron` and `every` (keep one of them)",
            "bot.yaml:8:3: error: jobs.none: the job `none` has no schedule (add `every: 1h` or `cron: \"0 9 * * *\"`)",
            "bot.yaml:9:19: error: jobs.badcron.cron: invalid cron expression: field 2 (hour) `25`, at character 3: number out of bounds (5 fields: minute hour day-of-month month day-of-week, like `0 9 * * MON`)",
            "bot.yaml:9:39: error: jobs.badcron.do[0].reply: a job has no chat to reply to; use notify (send with `notify: {to: bot.subscribers, message: …}`)",
            "bot.yaml:10:17: error: jobs.fast.every: `0s` is shorter than the minimum of 1s (a whole number and `s`, `m`, `h` or `d`: `30s`, `5m`, `1h`, `1d`)",
            "bot.yaml:10:33: error: jobs.fast.do[0].set[\"user.seen\"]: a job has no user to set `user.seen` for (jobs set `bot.…` variables)",
        ],
    );
}
