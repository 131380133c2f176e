//! Where the plugin module is: `AGENTSTATE_MODULE`, or the one `cargo xtask` builds into
//! the target directory this binary was built in.

use std::path::{Path, PathBuf};

/// Path of the plugin module inside a target directory.
pub const IN_TARGET: &str = "wasm32-unknown-unknown/wasm-speed/agentstate_wasm.wasm";

pub fn locate() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("AGENTSTATE_MODULE") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))?;
    exe.ancestors().map(|dir| dir.join(IN_TARGET)).find(|candidate| candidate.is_file()).ok_or_else(|| {
        format!(
            "the plugin module was not found next to {}; build it with `cargo xtask wasm` or set AGENTSTATE_MODULE",
            exe.display()
        )
    })
}

/// The compile cache: `AGENTSTATE_CACHE`, or a `cache` folder beside the module.
pub fn cache_dir(module: &Path) -> PathBuf {
    std::env::var_os("AGENTSTATE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| module.parent().unwrap_or(Path::new(".")).join("agentstate-cache"))
}

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
