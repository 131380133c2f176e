//! `agentstate apply` and `agentstate replay`: a tenant driven from files, on any engine.

use std::io::{BufRead, Write};
use std::path::Path;

use agentstate_core::wire::to_json;
use agentstate_core::{Actor, Query};
use agentstate_scenario::Engine;

fn read(path: &Path) -> Result<String, String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

pub use agentstate_server::description_json;

/// Loads the tenant from a description (YAML or JSON) or a snapshot (JSON).
pub fn load(engine: &mut dyn Engine, tenant: Option<&Path>, snapshot: Option<&Path>) -> Result<(), String> {
    match (tenant, snapshot) {
        (Some(file), None) => {
            let json = description_json(&read(file)?).map_err(|e| format!("{}: {e}", file.display()))?;
            engine.start(&json).map_err(|e| e.to_string())
        }
        (None, Some(file)) => engine.restore(&read(file)?).map_err(|e| format!("{}: {e}", file.display())),
        (None, None) => Ok(()),
        (Some(_), Some(_)) => Err("give --tenant or --snapshot, not both".into()),
    }
}

/// Decides each command (one JSON object per line; blank lines skipped) and prints each
/// outcome, events included, as one JSON line. Returns how many were rejected.
pub fn apply(engine: &mut dyn Engine, commands: &Path, out: &mut dyn Write) -> Result<usize, String> {
    let text = read(commands)?;
    let mut rejected = 0;
    for line in text.as_bytes().lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let outcome = engine.handle(&line).map_err(|e| e.to_string())?;
        if !outcome.starts_with(r#"{"outcome":"accepted""#) {
            rejected += 1;
        }
        writeln!(out, "{outcome}").map_err(|e| e.to_string())?;
    }
    Ok(rejected)
}

/// Folds an event log (a JSON array, or one event per line) and prints the snapshot, or
/// the answer to `view` (a view query).
pub fn replay(engine: &mut dyn Engine, events: &Path, view: Option<&str>, out: &mut dyn Write) -> Result<(), String> {
    let text = read(events)?;
    let array = if text.trim_start().starts_with('[') {
        text
    } else {
        format!("[{}]", text.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(","))
    };
    engine.apply_events(&array).map_err(|e| format!("{}: {e}", events.display()))?;
    let query = match view {
        Some(text) => serde_json::from_str(text).map_err(|e| format!("--view: not a view query: {e}"))?,
        None => Query::Snapshot { actor: Actor::System },
    };
    let answer = engine.query(&to_json(&query)).map_err(|e| e.to_string())?;
    writeln!(out, "{answer}").map_err(|e| e.to_string())
}
