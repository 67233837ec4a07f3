//! The `llm` step's checks.

use ferrogram_schema::check_str;

fn diagnostics(source: &str) -> Vec<String> {
    check_str(source, "bot.yaml").diagnostics.iter().map(ToString::to_string).collect()
}

const HEAD: &str = concat!(
    "ferrogram: 1\n",
    "bot: {name: x}\n",
    "variables:\n",
    "  user: {usage: {type: object}}\n",
    "  chat: {history: {type: list}}\n",
    "  bot: {usage: {type: object}, shared: {type: list}, url: {type: string, default: 'https://api.openai.com/v1'}}\n",
);

#[test]
fn a_valid_llm_step_keeps_its_variables_set() {
    let source = format!(
        "{HEAD}{}",
        concat!(
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - llm:\n",
            "          url: '{{ bot.url }}'\n",
            "          key: '${OPENAI_API_KEY}'\n",
            "          model: gpt-4o-mini\n",
            "          system: 'You help.'\n",
            "          memory: chat_vars.history\n",
            "          limits: [{usage: user.usage, daily_tokens: 100}, {usage: bot.usage, daily_tokens: 1000}]\n",
            "          as: answer\n",
            "      - reply: '{{ answer.tokens.total }} {{ user.usage.tokens }} {{ chat_vars.history | length }}'\n",
        )
    );
    assert_eq!(diagnostics(&source), Vec::<String>::new());
}

#[test]
fn llm_mistakes_are_each_reported_where_they_are() {
    let source = format!(
        "{HEAD}{}",
        concat!(
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - llm:\n",
            "          url: 'ftp://example.org'\n",
            "          model: m\n",
            "          memory: bot.shared\n",
            "          limits: [{usage: user.usag, daily_tokens: 0}]\n",
            "          turns: 0\n",
            "          temperature: 3\n",
            "          max_tokens: 0\n",
            "          timeout_ms: 0\n",
            "          retries: 9\n",
            "          as: message\n",
        )
    );
    let got = diagnostics(&source);
    let expected = [
        "bot.yaml:11:16: error: on[0].do[0].llm.url: `ftp://example.org` is not an absolute http(s) URL",
        "bot.yaml:13:11: error: on[0].do[0].llm.memory: `bot.shared` would share one conversation",
        "did you mean `user.usage`?",
        "`daily_tokens` is 0",
        "`turns` is 0",
        "`temperature` is 3",
        "`max_tokens` is 0",
        "`timeout_ms` is 0",
        "`retries` is 9",
        "`message` is already a name templates read",
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for expected in expected {
        assert!(got.iter().any(|d| d.contains(expected)), "no {expected:?} in {got:#?}");
    }
}

#[test]
fn a_job_asks_without_answering_in_a_chat() {
    let job = |reply: &str| {
        format!(
            "{HEAD}jobs:\n  digest:\n    every: 1h\n    do:\n      - llm: {{url: 'https://x.org/v1', model: m, prompt: 'Hi', reply: {reply}, memory: chat_vars.history}}\n"
        )
    };
    let got = diagnostics(&job("true"));
    assert!(got.iter().any(|d| d.contains("a job has no chat for the answer")), "{got:#?}");
    assert!(got.iter().any(|d| d.contains("a job has no chat to set `chat_vars.history`")), "{got:#?}");
    let got = diagnostics(&job("false"));
    assert_eq!(got.len(), 1, "only the chat variable: {got:#?}");
}
