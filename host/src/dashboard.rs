//! Where the dashboard's files and the browser package are, for `agentstate serve`.

use std::path::{Path, PathBuf};

/// The dashboard's files and the browser package: `--web`/`--pkg`, else `web-demo/dist`
/// and `wasm/pkg` of the workspace above this binary, else of the one it was built from.
pub fn locate_dashboard() -> (Option<PathBuf>, Option<PathBuf>) {
    let Ok(exe) = std::env::current_exe() else { return (None, None) };
    let find = |inner: &str, marker: &str| {
        exe.ancestors().map(|dir| dir.join(inner)).find(|candidate| candidate.join(marker).is_file())
    };
    // A target folder outside the workspace (CARGO_TARGET_DIR) has no workspace above it:
    // then the workspace this binary was built from.
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    let beside = |inner: &str, marker: &str| {
        find(inner, marker).or_else(|| built_from.map(|ws| ws.join(inner)).filter(|c| c.join(marker).is_file()))
    };
    (beside("web-demo/dist", "index.html"), beside("wasm/pkg", "agentstate.js"))
}
