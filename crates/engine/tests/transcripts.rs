//! Transcript tests: every `examples/NAME.yaml` with an `examples/NAME.transcript.md` is played
//! by the transcript player (`transcript/mod.rs`, which documents the grammar) and must match.

mod common;
mod transcript;

use std::path::{Path, PathBuf};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_follow_their_transcripts() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut transcripts: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(&examples)
        .expect("examples/ exists")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .filter_map(|yaml| {
            let transcript = yaml.with_extension("transcript.md");
            transcript.exists().then_some((yaml, transcript))
        })
        .collect();
    transcripts.sort();
    assert!(transcripts.len() >= 2, "expected transcripts for hello and menu-form, found {transcripts:?}");
    let mut failures = Vec::new();
    for (yaml, transcript) in &transcripts {
        let played = transcript::play(yaml, transcript).await;
        played.world.engine.stop(played.bot.handle).await.expect("bot stops");
        failures.extend(played.failures);
    }
    assert!(failures.is_empty(), "transcripts differ:\n{}", failures.join("\n"));
}
