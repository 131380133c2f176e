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
