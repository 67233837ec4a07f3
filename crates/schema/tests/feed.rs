//! The `feed` step's checks, and the template functions for release titles.

use ferrogram_schema::check_str;

fn diagnostics(source: &str) -> Vec<String> {
    check_str(source, "bot.yaml").diagnostics.iter().map(ToString::to_string).collect()
}

#[test]
fn a_valid_feed_step_in_a_job() {
    let source = concat!(
        "ferrogram: 1\n",
        "bot: {name: x}\n",
        "variables: {bot: {feed_url: {type: string, default: 'https://example.org/rss'}, last: {type: number}}}\n",
        "jobs:\n",
        "  ingest:\n",
        "    every: 15m\n",
        "    do:\n",
        "      - feed: {url: '{{ bot.feed_url }}', limit: 50, as: feed}\n",
        "      - for_each:\n",
        "          in: feed.items\n",
        "          do:\n",
        "            - if:\n",
        "                condition: 'missing_episodes(bot.last, parse_release(item.title).episode)'\n",
        "                then: [{set: {bot.last: '{{ parse_release(item.title).episode }}'}}]\n",
    );
    assert_eq!(diagnostics(source), Vec::<String>::new());
}

#[test]
fn feed_url_limit_timeout_retries_and_name() {
    let source = concat!(
        "ferrogram: 1\n",
        "bot: {name: x}\n",
        "on:\n",
        "  - text: any\n",
        "    do:\n",
        "      - feed: {url: 'ftp://example.org/rss', limit: 0, timeout_ms: 0, retries: 9, as: result}\n",
    );
    let got = diagnostics(source);
    assert_eq!(got.len(), 5, "{got:#?}");
    for expected in ["not an absolute http(s) URL", "`limit` is 0", "`timeout_ms` is 0", "`retries` is 9", "`result`"] {
        assert!(got.iter().any(|d| d.contains(expected)), "no {expected:?} in {got:#?}");
    }
}

#[test]
fn an_unknown_feed_key_is_an_error() {
    let source = concat!(
        "ferrogram: 1\n",
        "bot: {name: x}\n",
        "on:\n",
        "  - text: any\n",
        "    do:\n",
        "      - feed: {url: 'https://example.org/rss', method: POST}\n",
    );
    assert_eq!(diagnostics(source).len(), 1);
}
