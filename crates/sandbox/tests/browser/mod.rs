//! What a real-browser test needs, found or explained: Chromium and the node packages that drive
//! it from `conformance/js`. Shared by the web chat's test (here) and the dashboard's
//! (`crates/server/tests/dashboard_browser.rs`, which includes this file by its path).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The browser to drive: `$CHROMIUM`, else Debian's or another distribution's Chromium.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Why a browser test cannot run here, if it cannot: no Chromium, one of `packages` missing
/// from `js/node_modules`, or no node.
pub fn missing(js: &Path, packages: &[&str]) -> Option<String> {
    if chromium().is_none() {
        return Some("no Chromium (apt-get install chromium, or set CHROMIUM)".into());
    }
    for package in packages {
        if !js.join(format!("node_modules/{package}/package.json")).exists() {
            return Some(format!("{}/node_modules/{package} is missing", js.display()));
        }
    }
    match std::process::Command::new("node").arg("--version").stdout(Stdio::null()).status() {
        Ok(status) if status.success() => None,
        _ => Some("node does not run".into()),
    }
}

/// [`missing`], acted on: when a browser test cannot run here it fails if CI requires the
/// conformance tools (`FERROGRAM_REQUIRE_CONFORMANCE=1`), else prints a `SKIPPED` line past the
/// harness's output capture. True when the caller should return.
pub fn cannot_run(suite: &str, js: &Path, packages: &[&str]) -> bool {
    let Some(why) = missing(js, packages) else { return false };
    if std::env::var("FERROGRAM_REQUIRE_CONFORMANCE").is_ok_and(|v| v == "1") {
        panic!("{suite}: {why} (FERROGRAM_REQUIRE_CONFORMANCE=1; run conformance/install.sh)");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "\nSKIPPED {suite}: {why} (run conformance/install.sh)\n");
    true
}
