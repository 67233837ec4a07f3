//! The `http` step's checks, with the exact diagnostics `ferrogram validate` prints.

mod common;

use common::assert_diagnostics;

#[test]
fn a_valid_http_step() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "variables: {user: {weather: {type: object}}}\n",
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - http:\n",
            "          url: 'https://api.example.com/w/{{ message.text }}'\n",
            "          method: POST\n",
            "          headers: {Authorization: 'Bearer ${WEATHER_KEY}', X-User: '{{ from.id }}'}\n",
            "          query: {units: metric}\n",
            "          json: {q: '{{ message.text }}', n: [1, '{{ user.weather.json }}']}\n",
            "          save: user.weather\n",
            "      - reply: '{{ user.weather.json.temp }} {{ result.status }}'\n",
        ),
        &[],
    );
}

#[test]
fn http_url_method_timeout_and_retries() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - http: {url: 'api.example.com/x', timeout_ms: 70000, retries: 9}\n",
            "      - http: {url: 'ftp://example.com/'}\n",
            "      - http: {url: 'https://example.com/{{ oops', method: FETCH}\n",
        ),
        &[
            "bot.yaml:6:21: error: on[0].do[0].http.url: `api.example.com/x` is not an absolute http(s) URL (write it whole: `https://api.example.com/…`)",
            "bot.yaml:6:54: error: on[0].do[0].http.timeout_ms: `timeout_ms` is 70000; it can be 1 to 60000",
            "bot.yaml:6:70: error: on[0].do[0].http.retries: `retries` is 9; it can be at most 5",
            "bot.yaml:7:21: error: on[0].do[1].http.url: `ftp://example.com/` is not an absolute http(s) URL (write it whole: `https://api.example.com/…`)",
            "bot.yaml:8:21: error: on[0].do[2].http.url: invalid template: syntax error: unexpected end of input, expected end of variable block",
            "bot.yaml:8:60: error: on[0].do[2].http.method: unknown value `FETCH` (expected one of: `GET`, `POST`, `PUT`, `PATCH`, `DELETE`)",
        ],
    );
}

#[test]
fn http_save_must_be_a_declared_object_variable() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "variables: {user: {weather: {type: object}, city: {type: string}}}\n",
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - http: {url: 'https://example.com/', save: user.wether}\n",
            "      - http: {url: 'https://example.com/', save: user.city}\n",
            "      - http: {url: 'https://example.com/', save: weather}\n",
        ),
        &[
            "bot.yaml:7:45: error: on[0].do[0].http.save: the variable `user.wether` is not declared (did you mean `user.weather`?)",
            "bot.yaml:8:51: error: on[0].do[1].http.save: `user.city` is a `string` variable, but an HTTP answer is an object (declare it with `type: object`; then read `user.city.json`)",
            "bot.yaml:9:45: error: on[0].do[2].http.save: `weather` is not a variable (write the scope first: `user.weather`, `chat_vars.weather` or `bot.weather`)",
        ],
    );
}

#[test]
fn http_headers_with_literal_secrets_and_bad_names() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - http:\n",
            "          url: 'https://example.com/'\n",
            "          headers:\n",
            "            Authorization: 'Bearer abcdef0123456789'\n",
            "            X-Api-Key: 'k-0123456789'\n",
            "            X-Trace: 'abcdef0123456789'\n",
            "            Host: example.org\n",
            "            'Bad Name': x\n",
        ),
        &[
            "bot.yaml:9:28: warning: on[0].do[0].http.headers.Authorization: the header `Authorization` has a secret written in the file (use an environment variable: `Authorization: \"Bearer ${API_TOKEN}\"`)",
            "bot.yaml:10:24: warning: on[0].do[0].http.headers.X-Api-Key: the header `X-Api-Key` has a secret written in the file (use an environment variable: `X-Api-Key: \"${API_TOKEN}\"`)",
            "bot.yaml:12:13: error: on[0].do[0].http.headers.Host: the header `Host` is set by Ferrogram",
            "bot.yaml:13:13: error: on[0].do[0].http.headers[\"Bad Name\"]: `Bad Name` cannot be a header name (use letters, digits and `-`)",
        ],
    );
}

#[test]
fn a_valid_http_session() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "variables: {bot: {url: {type: string, default: 'http://localhost:8080'}, pass: {type: string, default: ''}}}\n",
            "http_sessions:\n",
            "  qbit:\n",
            "    login: {url: '{{ bot.url }}/api/v2/auth/login', form: {username: admin, password: '{{ bot.pass }}'}}\n",
            "  tr:\n",
            "    handshake: X-Transmission-Session-Id\n",
            "    basic_auth: {username: admin, password: '${TR_PASSWORD}'}\n",
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - http: {url: '{{ bot.url }}/api/v2/torrents/pause', method: POST, session: qbit, form: {hashes: '{{ message.text }}'}}\n",
            "      - http: {url: 'http://localhost:9091/transmission/rpc', method: POST, session: tr, json: {method: torrent-get}}\n",
        ),
        &[],
    );
}

#[test]
fn http_session_mistakes_are_placed_and_explained() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "http_sessions:\n",
            "  qbit:\n",
            "    login:\n",
            "      url: 'localhost:8080/login'\n",
            "      form: {username: admin, password: hunter2}\n",
            "      json: {a: 1}\n",
            "      timeout_ms: 0\n",
            "  empty: {}\n",
            "  tr:\n",
            "    handshake: 'X Session'\n",
            "    basic_auth: {username: admin, password: 'literal-password'}\n",
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - http: {url: 'https://example.com/', session: qbt}\n",
            "      - http: {url: 'https://example.com/', session: nope, form: {a: b}, json: {a: b}}\n",
            "      - http: {url: 'https://example.com/', session: [qbit]}\n",
            "      - http: {url: 'https://example.com/', sesion: qbit}\n",
        ),
        &[
            "bot.yaml:6:12: error: http_sessions.qbit.login.url: `localhost:8080/login` is not an absolute http(s) URL (write it whole: `https://api.example.com/login`)",
            "bot.yaml:7:7: error: http_sessions.qbit.login.form: a request has one body: `form` or `json`, not both (keep `form` for an API that reads form fields, `json` for one that reads JSON)",
            "bot.yaml:9:19: error: http_sessions.qbit.login.timeout_ms: `timeout_ms` is 0; it can be 1 to 60000",
            "bot.yaml:10:3: error: http_sessions.empty: the session `empty` does nothing (give it a `login`, a `handshake` header or `basic_auth`)",
            "bot.yaml:12:16: error: http_sessions.tr.handshake: `X Session` cannot be a header name (use letters, digits and `-`)",
            "bot.yaml:17:54: error: on[0].do[0].http.session: unknown session `qbt` (did you mean `qbit`?)",
            "bot.yaml:18:54: error: on[0].do[1].http.session: unknown session `nope` (the sessions are: `empty`, `qbit`, `tr`)",
            "bot.yaml:18:60: error: on[0].do[1].http.form: a request has one body: `form` or `json`, not both (keep `form` for an API that reads form fields, `json` for one that reads JSON)",
            "bot.yaml:19:54: error: on[0].do[2].http.session: expected a string, got a list",
            "bot.yaml:20:45: error: on[0].do[3].http.sesion: unknown key `sesion` (did you mean `session`?)",
        ],
    );
}

#[test]
fn an_http_session_must_be_declared() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - http: {url: 'https://example.com/', session: api}\n",
        ),
        &[
            "bot.yaml:6:54: error: on[0].do[0].http.session: unknown session `api` (declare it: `http_sessions: {api: {login: {url: …, form: {…}}}}`)",
        ],
    );
}

#[test]
fn passwords_written_in_a_session_are_warned_about() {
    assert_diagnostics(
        concat!(
            "ferrogram: 1\n",
            "bot: {name: x}\n",
            "http_sessions:\n",
            "  qbit:\n",
            "    login: {url: 'http://localhost:8080/login', form: {username: admin, password: hunter2}}\n",
            "  tr:\n",
            "    basic_auth: {username: admin, password: 'literal-password'}\n",
            "on:\n",
            "  - text: any\n",
            "    do:\n",
            "      - http: {url: 'http://localhost:8080/x', session: qbit}\n",
            "      - http: {url: 'http://localhost:9091/x', session: tr}\n",
        ),
        &[
            "bot.yaml:5:83: warning: http_sessions.qbit.login.form.password: the field `password` has a secret written in the file (use a secret: `password: \"${API_PASSWORD}\"`, or a bot variable an admin sets)",
            "bot.yaml:7:45: warning: http_sessions.tr.basic_auth.password: the password is written in the file (use a secret: `password: \"${API_PASSWORD}\"`, or a bot variable an admin sets)",
        ],
    );
}
