//! The layers point one way. Inside the server, every module's paths to the rest of the
//! crate (`crate::…`, `super::…`) are read from its source and resolved to the file they
//! name: no two of its top-level modules (`http`, `service`, `store`, `demo`, …) may use
//! each other, and no circle may run through its files — except a file's use of the modules
//! it sits in, which is how Rust splits one module over files. And the runtime, a host of
//! the plugin ABI, depends on the ABI's vocabulary, not on the rules.
//!
//! The core is checked the same way: its model below its rules, its rules below its views.

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
            // Comments name modules without using them (a doc link is not a layer's edge).
            let text: Vec<&str> = text.lines().map(|line| line.split("//").next().unwrap_or(line)).collect();
            let text = text.join("\n");
            found.insert(parts.join("::"), text);
        }
    }
    found
}

/// The paths in `text` that start at the crate or a parent module, as their segments; a
/// group (`crate::a::{b, c::{d, self}}`) gives one path per item.
fn paths(text: &str) -> Vec<Vec<&str>> {
    // A file's unit tests may reach anywhere; they are not part of its layer.
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    for start in ["crate::", "super::"].iter().flat_map(|head| text.match_indices(head).map(|(at, _)| at)) {
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || b"_:".contains(&bytes[start - 1])) {
            continue; // `agentstate_crate::…`, or the second `super` of `super::super::…`
        }
        expand(&text[start..], Vec::new(), &mut found);
    }
    found
}

/// The path at the start of `text` after `prefix`, expanding a group into its items.
/// Returns how much of `text` the path took.
fn expand<'t>(text: &'t str, prefix: Vec<&'t str>, found: &mut Vec<Vec<&'t str>>) -> usize {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(text.len());
    let mut path = prefix;
    path.extend(text[..end].split("::").filter(|s| !s.is_empty()));
    if !text[end..].starts_with('{') || !text[..end].ends_with("::") {
        found.push(path);
        return end;
    }
    // A group: items separated by commas, each a path of its own, up to the closing brace.
    let mut at = end + 1;
    loop {
        at += text[at..].len() - text[at..].trim_start_matches([' ', '\n', ',', '\r', '\t']).len();
        match text[at..].chars().next() {
            None => return at,
            Some('}') => return at + 1,
            Some(_) => {
                let took = expand(&text[at..], path.clone(), found);
                if took == 0 {
                    return at; // not a path (`*`, a comment): the rest of the group says nothing more
                }
                at += took;
            }
        }
    }
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

/// The crate's top-level modules and which of them each uses; fails on a circle between
/// them or through the crate's files.
fn layers(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let edges = uses(&modules);
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_owned();
    let mut layers: BTreeMap<String, BTreeSet<String>> = modules.keys().map(|m| (top(m), BTreeSet::new())).collect();
    for (from, targets) in &edges {
        for to in targets {
            let (from, to) = (top(from), top(to));
            // The crate root only names and re-exports its modules.
            if from != to && !from.is_empty() && !to.is_empty() {
                layers.entry(from).or_default().insert(to);
            }
        }
    }
    let graph: BTreeMap<&str, BTreeSet<&str>> =
        layers.iter().map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect())).collect();
    assert_eq!(
        circles(&graph),
        Vec::<Vec<&str>>::new(),
        "modules of {} that use each other: {layers:#?}",
        src.display()
    );

    // Its files, without a file's uses of the modules it sits in.
    let files: BTreeMap<&str, BTreeSet<&str>> = edges
        .iter()
        .map(|(from, to)| {
            let outward = to.iter().copied().filter(|t| !(t.is_empty() || from.starts_with(&format!("{t}::"))));
            (*from, outward.collect())
        })
        .collect();
    assert_eq!(circles(&files), Vec::<Vec<&str>>::new(), "files of {} that use each other", src.display());
    layers
}

#[test]
fn the_servers_layers_point_one_way() {
    let layers = layers(&workspace().join("server/src"));
    // `http` may use `service`, never the other way round; the store knows no service.
    assert!(layers["http"].contains("service") && !layers["store"].contains("service"), "{layers:#?}");
    assert!(!layers["demo"].contains("http"), "the demo uses the service, not the web layer: {layers:#?}");
}

#[test]
fn the_cores_layers_point_one_way() {
    let layers = layers(&workspace().join("core/src"));
    // The model is below everything: no rule, view or wire form in it.
    assert_eq!(layers["model"], BTreeSet::new(), "the model uses {:?}", layers["model"]);
    assert_eq!(layers["rules"], BTreeSet::from(["model".to_owned()]), "the rules use {:?}", layers["rules"]);
    assert!(layers["views"].contains("rules") && !layers["rules"].contains("views"), "{layers:#?}");
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
        ("f", "use crate::{g::{h, self}, a};"),
        ("g", ""),
        ("g::h", ""),
    ]
    .into_iter()
    .map(|(m, t)| (m.to_owned(), t.to_owned()))
    .collect();
    let edges = uses(&modules);
    assert_eq!(edges["d::e"], BTreeSet::from(["c"]));
    assert_eq!(edges["f"], BTreeSet::from(["a", "g", "g::h"]), "a group names each of its items");
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
