//! Bad input never panics: random mutations of valid bot files (a fixed seed and a fixed count,
//! so the test is bounded and reproducible) either load or give diagnostics with a position.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

const CASES: usize = 2_000;
const SEED: u64 = 0x00f3_3770_9a11;

fn seeds() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = vec![root.join("tests/fixtures/full.yaml")];
    if let Ok(entries) = std::fs::read_dir(root.join("../../examples")) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut seeds = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // The same bot as JSON, to mutate the JSON reader too.
        if let Ok(bot) = ferrogram_schema::load_str(&text, &name)
            && let Ok(json) = serde_json::to_string_pretty(&bot)
        {
            seeds.push((json, "bot.json".to_string()));
        }
        seeds.push((text, name));
    }
    seeds
}

const KEYS: &[&str] = &[
    "ferrogram",
    "bot",
    "name",
    "start",
    "scenes",
    "on",
    "do",
    "reply",
    "replay",
    "goto",
    "call",
    "set",
    "unset",
    "if",
    "condition",
    "then",
    "else",
    "for_each",
    "in",
    "text",
    "buttons",
    "callback",
    "url",
    "form",
    "fields",
    "type",
    "choices",
    "pattern",
    "min",
    "max",
    "variables",
    "user",
    "texts",
    "roles",
    "limits",
    "<<",
    "command",
    "when",
    "return",
    "dice",
    "poll",
    "options",
    "correct",
    "notify",
    "to",
    "message",
    "",
    "x y",
    "ключ",
];

const SCALARS: &[&str] = &[
    "",
    "~",
    "null",
    "[]",
    "{}",
    "[a, b]",
    "{a: b}",
    "- x",
    "1",
    "0",
    "-1",
    "1.5",
    "1e999",
    "99999999999999999999",
    "0x1F",
    "yes",
    "no",
    "true",
    "'q'",
    "\"\\u00e9\"",
    "\"{{\"",
    "\"{{ user.x }}\"",
    "\"{% if %}\"",
    "'@nokey'",
    "\"{{ t('nokey') }}\"",
    "*a",
    "&a x",
    "!!int x",
    "!!str 5",
    "!foo bar",
    "'/(/'",
    "|\n  block",
    ">\n  folded",
    "ü",
    "🎲",
    "\"\\ud800\"",
    "'''",
    "{",
    "[",
    "\"",
    "&a [*a]",
    "*missing",
    "<<: *a",
    "any",
    "menu",
    "start",
    "%YAML 1.2",
];

const NOISE: &[char] = &[
    ':', '-', '[', ']', '{', '}', '"', '\'', '&', '*', '!', '|', '>', '%', '@', '`', '#', ',', '?', '\t', '\n', ' ',
    '\\', '\u{feff}', 'é', '\u{0}',
];

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let i = rng.usize(..lines.len());
    match rng.u8(..10) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let line = lines[i].clone();
            lines.insert(i, line);
        }
        2 => {
            let j = rng.usize(..lines.len());
            lines.swap(i, j);
        }
        3 => {
            // Rename a key.
            let line = &lines[i];
            if let Some(colon) = line.find(':') {
                let indent = line.len() - line.trim_start_matches([' ', '-']).len();
                let key = pick(rng, KEYS);
                lines[i] = format!("{}{key}{}", &line[..indent.min(colon)], &line[colon..]);
            }
        }
        4 => {
            // Change a scalar.
            let line = &lines[i];
            let cut = line.find(": ").map(|c| c + 2).unwrap_or(line.len());
            lines[i] = format!("{}{}", &line[..cut], pick(rng, SCALARS));
        }
        5 => {
            // Indent or dedent.
            if rng.bool() {
                lines[i].insert_str(0, "  ");
            } else if lines[i].starts_with("  ") {
                lines[i].drain(..2);
            }
        }
        6 => {
            // Insert a new key somewhere.
            let indent = " ".repeat(rng.usize(..8));
            lines.insert(i, format!("{indent}{}: {}", pick(rng, KEYS), pick(rng, SCALARS)));
        }
        _ => {
            // Character noise: insert, delete or replace characters; or truncate.
            let mut chars: Vec<char> = lines.join("\n").chars().collect();
            if chars.is_empty() {
                return String::new();
            }
            match rng.u8(..4) {
                0 => chars.truncate(rng.usize(..chars.len())),
                1 => {
                    let at = rng.usize(..chars.len());
                    chars.remove(at);
                }
                2 => {
                    let at = rng.usize(..chars.len());
                    chars[at] = *pick(rng, NOISE);
                }
                _ => {
                    let at = rng.usize(..=chars.len());
                    chars.insert(at, *pick(rng, NOISE));
                }
            }
            return chars.into_iter().collect();
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Loads `source`, checking that it either loads or fails with positioned diagnostics; true when
/// it loads.
fn assert_sound(source: &str, name: &str, case: usize) -> bool {
    let outcome = catch_unwind(AssertUnwindSafe(|| ferrogram_schema::load_str(source, name)));
    match outcome {
        Err(_) => panic!("case {case}: the loader panicked on this {name}:\n{source}"),
        Ok(Ok(_)) => true,
        Ok(Err(diagnostics)) => {
            assert!(!diagnostics.is_empty(), "case {case}: an error without diagnostics for:\n{source}");
            assert!(diagnostics.iter().any(|d| d.is_error()), "case {case}: failed with warnings only:\n{source}");
            for d in &diagnostics {
                assert!(d.line >= 1 && d.column >= 1, "case {case}: no position in `{d}` for:\n{source}");
                assert_eq!(d.file, name);
                // The structure walker and serde must agree: a clean walk always deserializes.
                assert!(!d.message.starts_with("the file does not fit the model"), "case {case}: {d} for:\n{source}");
            }
            if std::env::var_os("FUZZ_VERBOSE").is_some() {
                eprintln!("case {case}: {}", diagnostics[0]);
            }
            false
        }
    }
}

#[test]
fn mutated_files_never_panic() {
    let seeds = seeds();
    assert!(!seeds.is_empty());
    // CI runs the fixed count and seed; `FUZZ_CASES=100000 FUZZ_SEED=7` runs a longer search.
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let cases = env("FUZZ_CASES").map_or(CASES, |n| n as usize);
    let mut rng = fastrand::Rng::with_seed(env("FUZZ_SEED").unwrap_or(SEED));
    let started = std::time::Instant::now();
    let mut loaded = 0;
    for case in 0..cases {
        let (seed, name) = &seeds[case % seeds.len()];
        let mut text = seed.clone();
        for _ in 0..rng.usize(1..=4) {
            text = mutate(&mut rng, &text);
        }
        if assert_sound(&text, name, case) {
            loaded += 1;
        }
    }
    eprintln!("{cases} mutated files in {:?}, {loaded} still valid", started.elapsed());
}

#[test]
fn hostile_inputs_never_panic() {
    let deep_flow = format!("ferrogram: 1\nbot: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let deep_block: String = (0..300).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let laughs = {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        s
    };
    let deep_default = format!(
        "ferrogram: 1\nbot: {{name: x}}\nvariables: {{user: {{v: {{type: list, default: {}{}}}}}}}\n",
        "[".repeat(60),
        "]".repeat(60)
    );
    let cases: Vec<(String, &str)> = vec![
        (deep_flow, "a.yaml"),
        (deep_block, "a.yaml"),
        (deep_json.clone(), "a.json"),
        (deep_json, "a.yaml"),
        (laughs, "a.yaml"),
        (deep_default, "a.yaml"),
        ("&a [*a]".into(), "a.yaml"),
        ("ferrogram: 1\nbot: &b {name: x, <<: *b}\n".into(), "a.yaml"),
        ("\u{feff}ferrogram: 1\nbot: {name: x}\n".into(), "a.yaml"),
        ("\u{feff}{\"ferrogram\": 1, \"bot\": {\"name\": \"x\"}}".into(), "a.json"),
        ("{\"a\": \"\\ud800\"}".into(), "a.json"),
        ("{\"a\": 1e99999}".into(), "a.json"),
        ("\0\0\0".into(), "a.yaml"),
        ("? [a, b]\n: c\n".into(), "a.yaml"),
        ("%YAML 1.2\n---\nferrogram: 1\n".into(), "a.yaml"),
        ("ferrogram: 1\nbot: {name: x}\non: [{command: a, do: [{reply: \"{{ 1 +\"}]}]\n".into(), "a.yaml"),
        (
            format!(
                "ferrogram: 1\nbot: {{name: x}}\non: [{{command: a, do: [{{reply: \"{}\"}}]}}]\n",
                "{{ (".repeat(500)
            ),
            "a.yaml",
        ),
        (format!("ferrogram: 1\nbot: {{name: x}}\non: [{{text: '/{}/', do: []}}]\n", "(".repeat(5000)), "a.yaml"),
    ];
    for (i, (source, name)) in cases.iter().enumerate() {
        assert_sound(source, name, i);
    }
}

/// The deepest file accepted loads on a small stack (tokio's workers have 2 MiB).
#[test]
fn deepest_nesting_fits_a_small_stack() {
    fn nested_ifs(depth: usize) -> serde_json::Value {
        let mut steps = serde_json::json!([{"reply": "deep"}]);
        for _ in 0..depth {
            steps = serde_json::json!([{"if": {"condition": "true", "then": steps}}]);
        }
        serde_json::json!({"ferrogram": 1, "bot": {"name": "x"}, "on": [{"command": "a", "do": steps}]})
    }
    let worker = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(|| {
            let mut deepest_loaded = 0;
            for depth in [5, 10, 15, 19, 20, 21, 22, 25, 40] {
                let file = nested_ifs(depth);
                // JSON is YAML too: the same file through both readers.
                let json = file.to_string();
                let yaml_loads = assert_sound(&json, "deep.yaml", depth);
                let json_loads = assert_sound(&json, "deep.json", depth);
                assert_eq!(yaml_loads, json_loads);
                if json_loads {
                    deepest_loaded = depth;
                }
            }
            deepest_loaded
        })
        .expect("thread");
    let deepest = worker.join().expect("no stack overflow");
    assert!(deepest >= 19, "only {deepest} nested ifs load");
}
