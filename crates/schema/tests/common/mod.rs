//! What the validation suites share.

/// Checks that `source` gives exactly the `expected` diagnostics, as `ferrogram validate`
/// prints them.
#[track_caller]
pub fn assert_diagnostics(source: &str, expected: &[&str]) {
    let got: Vec<String> =
        ferrogram_schema::check_str(source, "bot.yaml").diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(got, expected, "for:\n{source}");
}
