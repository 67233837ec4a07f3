//! The engine's folders follow the path of an update (docs/architecture.md): `receive/` →
//! `interpret/` → `deliver/`. A stage may use the stages after it and the shared modules, never
//! one before it, so no import circle can form between stages. This reads the `use crate::…`
//! paths of every source file and fails naming the file and the path that breaks the order.

use std::path::{Path, PathBuf};

/// The stages in order; a file of one may use its own stage and the ones after it.
const STAGES: [&str; 3] = ["receive", "interpret", "deliver"];

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the engine's sources are readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The stage of a path under `src/`, if it is in one.
fn stage_of(relative: &Path) -> Option<usize> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    STAGES.iter().position(|stage| *stage == first)
}

/// The first segment after each `crate::` outside comments.
fn crate_paths(source: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                paths.push(name);
            }
            rest = after;
        }
    }
    paths
}

#[test]
fn no_stage_uses_a_stage_before_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 30, "found the engine's sources: {}", files.len());
    let mut staged = [0usize; 3];
    let mut breaks = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let Some(stage) = stage_of(relative) else { continue };
        staged[stage] += 1;
        let source = std::fs::read_to_string(file).expect("a readable source");
        for used in crate_paths(&source) {
            if let Some(target) = STAGES.iter().position(|s| *s == used)
                && target < stage
            {
                breaks.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(staged.iter().all(|n| *n > 0), "every stage has files: {staged:?}");
    assert!(breaks.is_empty(), "a stage uses one before it:\n{}", breaks.join("\n"));
}

#[test]
fn the_checker_sees_a_backward_use() {
    let source = "use crate::interpret::dispatch::Job; // crate::receive in a comment is not a use\n\
                  fn f() { crate::receive::mark_handled(); }";
    assert_eq!(crate_paths(source), ["interpret", "receive"]);
    assert_eq!(stage_of(Path::new("deliver/outbox.rs")), Some(2));
    assert_eq!(stage_of(Path::new("host.rs")), None);
}
