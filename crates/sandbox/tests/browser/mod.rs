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
