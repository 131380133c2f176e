//! The fuzz corpora (`fuzz/corpus/<target>/`, minimized by `cargo xtask fuzz`) as
//! regression tests: every input a campaign kept, and every finding, runs again here.

use std::path::Path;

#[test]
fn every_corpus_input_keeps_the_promises() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut ran = 0;
    for (name, target) in agentstate_tests::fuzzing::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no corpus for {name} at {}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "the corpus of {name} is empty");
        for file in files {
            let input = std::fs::read(&file).expect("reads");
            let result = std::panic::catch_unwind(|| target(&input));
            assert!(result.is_ok(), "{name} fails on {}", file.display());
            ran += 1;
        }
    }
    eprintln!("{ran} corpus inputs");
}
