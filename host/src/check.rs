//! `agentstate check`: run rule suites and say which expectations hold.

use std::io::Write;
use std::path::{Path, PathBuf};

use agentstate_scenario::{Engine, Scenario, SuiteReport, run};
use serde_json::{Value, json};

/// How a check run ended, as the process exit code: every expectation held (0), some
/// did not (1), or a file is not a scenario (2, which wins).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Verdict {
    Passed = 0,
    Failed = 1,
    Invalid = 2,
}

/// Expands directories into the scenario files below them, sorted.
pub fn scenario_files(args: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for arg in args {
        if arg.is_dir() {
            collect(arg, &mut files);
        } else {
            files.push(arg.clone());
        }
    }
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            // Tenants that suites name with `given:` are not suites.
            if path.file_name().is_some_and(|n| n == agentstate_scenario::TENANTS_DIR) {
                continue;
            }
            collect(&path, files);
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json") {
            files.push(path);
        }
    }
}

/// Runs each file on a fresh engine from `new_engine`, writing a human report (or, with
/// `json`, one JSON document) to `out`.
pub fn check(
    files: &[PathBuf],
    new_engine: &mut dyn FnMut() -> Box<dyn Engine>,
    json: bool,
    verbose: bool,
    out: &mut dyn Write,
) -> std::io::Result<Verdict> {
    let mut verdict = Verdict::Passed;
    let mut documents = Vec::new();
    let (mut passed, mut failed, mut invalid) = (0, 0, 0);
    for file in files {
        let shown = file.display().to_string();
        let report = Scenario::load(file)
            .map_err(|e| e.to_string())
            .and_then(|s| run(&s, new_engine().as_mut()).map_err(|e| format!("engine failed: {e}")));
        match report {
            Err(error) => {
                invalid += 1;
                verdict = verdict.max(Verdict::Invalid);
                if json {
                    documents.push(json!({ "file": shown, "error": error }));
                } else {
                    writeln!(out, "ERROR {shown}: {error}")?;
                }
            }
            Ok(report) => {
                if report.passed() {
                    passed += 1;
                } else {
                    failed += 1;
                    verdict = verdict.max(Verdict::Failed);
                }
                if json {
                    documents.push(suite_json(&shown, &report));
                } else {
                    write_suite(out, &shown, &report, verbose)?;
                }
            }
        }
    }
    if json {
        writeln!(out, "{}", Value::Array(documents))?;
    } else {
        if invalid > 0 {
            writeln!(out, "{invalid} of {} files are not scenarios", files.len())?;
        }
        writeln!(out, "suites: {passed} passed, {failed} failed")?;
    }
    Ok(verdict)
}

fn suite_json(file: &str, report: &SuiteReport) -> Value {
    json!({ "file": file, "name": report.name, "passed": report.passed(), "steps": report.steps })
}

fn write_suite(out: &mut dyn Write, file: &str, report: &SuiteReport, verbose: bool) -> std::io::Result<()> {
    let status = if report.passed() { "ok   " } else { "FAIL " };
    writeln!(out, "{status} {file} — {} ({} steps)", report.name, report.steps.len())?;
    for step in &report.steps {
        if !verbose && step.holds() {
            continue;
        }
        let kind = step.command.get("type").and_then(Value::as_str).unwrap_or("?");
        let actual = step.actual().map_or_else(|| "no outcome".to_owned(), |a| a.to_string());
        let detail = step.message().map(|m| format!(" — {m}")).unwrap_or_default();
        match step.expect {
            Some(expect) if step.actual() != Some(expect) => writeln!(
                out,
                "      step {} (line {}, {kind}): expected {expect}, got {actual}{detail}",
                step.step, step.line
            )?,
            _ if !step.events_hold() => writeln!(
                out,
                "      step {} (line {}, {kind}): expected the events {}, got {}",
                step.step,
                step.line,
                Value::from(step.then.clone().unwrap_or_default()),
                Value::from(step.events().to_vec())
            )?,
            _ => writeln!(out, "      step {} (line {}, {kind}): {actual}{detail}", step.step, step.line)?,
        }
    }
    Ok(())
}
