//! The `try` step's checks, with the exact diagnostics `ferrogram validate` prints.

mod common;

use common::assert_diagnostics;

#[test]
fn a_valid_try_reads_error_in_catch() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - try:\n",
            "          do:\n",
            "            - http: {url: 'https://api.example.com/x'}\n",
            "            - reply: '{{ result.status }}'\n",
            "          catch:\n",
            "            - reply: '{{ error.kind }}: {{ error.message }}'\n",
            "      - try: {do: [{reply: 'no catch: a failure is ignored'}]}\n",
        ),
        &[],
    );
}

#[test]
fn empty_do_unknown_keys_and_error_outside_catch() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - try: {do: [], catch: [{reply: oops}]}\n",
            "      - try: {do: [{reply: a}], cach: [{reply: b}]}\n",
            "      - try: {catch: [{reply: b}]}\n",
            "      - reply: '{{ error.message }}'\n",
            "      - try:\n",
            "          do: [{reply: a}]\n",
            "          catch: [{reply: '{{ eror.kind }}'}]\n",
        ),
        &[
            "bot.yaml:6:19: error: on[0].do[0].try.do: `try` has no steps to try (put the steps that may fail under `do:`)",
            "bot.yaml:7:33: error: on[0].do[1].try.cach: unknown key `cach` (did you mean `catch`?)",
            "bot.yaml:8:14: error: on[0].do[2].try.do: missing key `do` (add `do:` with a list of steps)",
            "bot.yaml:9:16: error: on[0].do[3].reply: `error` is only set in the `catch` steps of a `try` and in the `errors` reply (read it in `try: {do: […], catch: […]}`)",
            "bot.yaml:12:27: error: on[0].do[4].try.catch[0].reply: unknown name `eror` in a template (did you mean `error`?)",
        ],
    );
}
