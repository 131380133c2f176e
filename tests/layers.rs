//! The layers point one way. Inside the server, every module's paths to the rest of the
//! crate (`crate::…`, `super::…`) are read from its source and resolved to the file they
//! name: no two of its top-level modules (`http`, `service`, `store`, `demo`, …) may use
//! each other, and no circle may run through its files — except a file's use of the modules
//! it sits in, which is how Rust splits one module over files. And the runtime, a host of
//! the plugin ABI, depends on the ABI's vocabulary, not on the rules.
//!
//! (The core joins this check once its model is apart from its rules — issue 20.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module of the crate whose sources are under `src`, by path (`http::api`), with its
/// source text.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src").with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            found.insert(parts.join("::"), text);
        }
    }
    found
}

/// The paths in `text` that start at the crate or a parent module, as their segments.
fn paths(text: &str) -> Vec<Vec<&str>> {
    // A file's unit tests may reach anywhere; they are not part of its layer.
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    for start in ["crate::", "super::"].iter().flat_map(|head| text.match_indices(head).map(|(at, _)| at)) {
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || b"_:".contains(&bytes[start - 1])) {
            continue; // `agentstate_crate::…`, or the second `super` of `super::super::…`
        }
        let rest = &text[start..];
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        found.push(rest[..end].split("::").filter(|s| !s.is_empty()).collect());
    }
    found
}

/// Which modules each module uses, resolved to the deepest module file a path names.
fn uses(modules: &BTreeMap<String, String>) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (module, text) in modules {
        let here: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let entry = edges.entry(module.as_str()).or_default();
        for path in paths(text) {
            let mut base: Vec<&str> = Vec::new();
            let mut rest = path.as_slice();
            if rest.first() == Some(&"crate") {
                rest = &rest[1..];
            } else {
                // `super` from `a::b` (a file `a/b.rs`) is `a`.
                base = here.clone();
                while rest.first() == Some(&"super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            let target = (0..=rest.len())
                .rev()
                .map(|n| [base.as_slice(), &rest[..n]].concat().join("::"))
                .find(|m| modules.contains_key(m));
            if let Some(target) = target.and_then(|t| modules.get_key_value(&t).map(|(k, _)| k.as_str()))
                && target != module
            {
                entry.insert(target);
            }
        }
    }
    edges
}

/// The circles of a graph: each strongly connected part of more than one node.
fn circles<'a>(edges: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    // Reachability by repeated search: the graphs are a few dozen nodes.
    let reach = |from: &'a str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(node) = todo.pop() {
            for next in edges.get(node).into_iter().flatten() {
                if seen.insert(*next) {
                    todo.push(next);
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&str, BTreeSet<&str>> = edges.keys().map(|n| (*n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for node in edges.keys() {
        if done.contains(node) {
            continue;
        }
        let circle: Vec<&str> = reached[node]
            .iter()
            .copied()
            .filter(|other| reached.get(other).is_some_and(|r| r.contains(node)))
            .collect();
        done.extend(circle.iter().copied());
        if circle.len() > 1 {
            found.push(circle);
        }
    }
    found
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace")
}

#[test]
fn the_servers_layers_point_one_way() {
    let modules = modules(&workspace().join("server/src"));
    assert!(modules.contains_key("service::round") && modules.contains_key("http::api"), "read the server");
    let edges = uses(&modules);

    // Its top-level modules: `http` may use `service`, never the other way round.
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_owned();
    let tops: BTreeSet<String> = modules.keys().map(|m| top(m)).collect();
    let mut layers: BTreeMap<&str, BTreeSet<&str>> = tops.iter().map(|t| (t.as_str(), BTreeSet::new())).collect();
    for (from, targets) in &edges {
        for to in targets {
            let (from, to) = (top(from), top(to));
            if from != to && !from.is_empty() && !to.is_empty() {
                let from = tops.get(&from).map(String::as_str).unwrap_or_default();
                let to = tops.get(&to).map(String::as_str).unwrap_or_default();
                layers.entry(from).or_default().insert(to);
            }
        }
    }
    assert_eq!(circles(&layers), Vec::<Vec<&str>>::new(), "modules that use each other: {layers:#?}");
    assert!(layers["http"].contains("service") && !layers["store"].contains("service"), "{layers:#?}");

    // Its files, without a file's uses of the modules it sits in.
    let files: BTreeMap<&str, BTreeSet<&str>> = edges
        .iter()
        .map(|(from, to)| {
            let outward = to.iter().copied().filter(|t| !(t.is_empty() || from.starts_with(&format!("{t}::"))));
            (*from, outward.collect())
        })
        .collect();
    assert_eq!(circles(&files), Vec::<Vec<&str>>::new(), "files that use each other");
}

/// The check finds what it is for: a circle of two files; `super` resolves to the file it
/// names.
#[test]
fn a_circle_of_modules_is_found() {
    let modules: BTreeMap<String, String> = [
        ("a", "use crate::b::x;"),
        ("b", "fn f() { crate::a::y(); }"),
        ("c", "use super::d;"),
        ("d::e", "use super::super::c::z;"),
        ("d", ""),
    ]
    .into_iter()
    .map(|(m, t)| (m.to_owned(), t.to_owned()))
    .collect();
    let edges = uses(&modules);
    assert_eq!(edges["d::e"], BTreeSet::from(["c"]));
    assert_eq!(circles(&edges), [vec!["a", "b"]]);
}

#[test]
fn the_runtime_depends_on_the_abi_not_on_the_rules() {
    let manifest = std::fs::read_to_string(workspace().join("runtime/Cargo.toml")).expect("the runtime's manifest");
    let dependencies: Vec<&str> = manifest
        .split("\n[")
        .filter(|section| section.starts_with("dependencies]"))
        .flat_map(|section| section.lines().skip(1))
        .filter_map(|line| line.split(['.', '=', ' ']).next().filter(|name| !name.is_empty() && !name.starts_with('#')))
        .collect();
    assert!(dependencies.contains(&"agentstate-abi"), "{dependencies:?}");
    for rules in ["agentstate-core", "agentstate-wasm", "agentstate-scenario"] {
        assert!(!dependencies.contains(&rules), "the runtime links {rules}: {dependencies:?}");
    }
}
