//! docs/configuration.md, generated from [`KEYS`]: `ferrogram config --markdown`.

use super::keys::{KEYS, sections};
use super::print::toml_value;
use super::{CONFIG_ENV, Config};

/// The reference of the configuration in Markdown.
pub fn markdown() -> String {
    let defaults = Config::default();
    let mut out = String::new();
    out.push_str(
        "# Configuration\n\n\
         <!-- Generated from crates/ferrogram/src/config/keys.rs by\n     \
         `cargo run -p ferrogram -- config --markdown > docs/configuration.md`; edit the keys, not this file. -->\n\n",
    );
    out.push_str(&format!(
        "`ferrogram serve` (and `ferrogram` alone) reads its settings from four layers, each \
         overriding the one before ([decision 0030](decisions/0030-configuration-file.md)):\n\n\
         1. the built-in defaults below;\n\
         2. a TOML file, named by `--config PATH` or `{CONFIG_ENV}` (none by default);\n\
         3. the environment: each key has its variable, `FERROGRAM_<SECTION>_<KEY>` (`bots.env` \
         keeps its earlier `FERROGRAM_BOT_ENV`); lists are comma-separated, and an empty variable \
         counts as unset;\n\
         4. the flags of `serve`, for the keys that have one (a list given by flags replaces the \
         file's).\n\n\
         `ferrogram config` prints the effective configuration as TOML, each value followed by \
         where it came from (`# default`, `# file ferrogram.toml:3`, `# env FERROGRAM_DATABASE_URL`, \
         `# flag --database`), with a database password masked; it takes the same `--config` and \
         flags as `serve`. The other commands (`run`, `sandbox`, `migrate`, …) take their flags \
         and environment variables as before and do not read the file.\n\n\
         An unknown section or key, a value of the wrong type or one that does not parse stops \
         the start before anything runs (the process exits with status 1), with every problem at \
         once:\n\n\
         ```text\n\
         ferrogram.toml:3:1: error: unknown key `sandbox.prot` (did you mean `port`?)\n\
         ferrogram.toml:5:8: error: sandbox.port: expected a port (0–65535), found 70000\n\
         environment variable FERROGRAM_INBOX_KEEP: error: inbox.keep: expected a duration such as `500ms`, `30s`, `10m` or `24h`, found `1 day`\n\
         ```\n\n\
         Durations are written as a whole number and a unit: `500ms`, `30s`, `10m`, `24h`, `1d`.\n\n"
    ));
    out.push_str("A file that sets every key to its default:\n\n```toml\n");
    let mut section = "";
    for key in KEYS {
        if key.section() != section {
            if !section.is_empty() {
                out.push('\n');
            }
            section = key.section();
            out.push_str(&format!("[{section}]\n"));
        }
        out.push_str(&format!("{} = {}\n", key.field(), toml_value(&key.get(&defaults))));
    }
    out.push_str("```\n");
    for section in sections() {
        out.push_str(&format!("\n## `[{section}]`\n\n"));
        out.push_str("| key | type | default | environment variable | flag |\n|---|---|---|---|---|\n");
        let keys: Vec<_> = KEYS.iter().filter(|key| key.section() == section).collect();
        for key in &keys {
            out.push_str(&format!(
                "| `{}` | {} | `{}` | `{}` | {} |\n",
                key.name,
                key.ty,
                toml_value(&key.get(&defaults)),
                key.env,
                key.flag.map_or_else(|| "—".to_owned(), |flag| format!("`{flag}`")),
            ));
        }
        out.push('\n');
        for key in &keys {
            out.push_str(&format!("- `{}`: {}\n", key.name, key.doc));
        }
    }
    out
}
