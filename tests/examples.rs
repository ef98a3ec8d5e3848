//! Every example verifies, and its canonical text round-trips:
//! `parse(print(m)) == m` and printing is a fixed point.

use std::path::PathBuf;

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "mir"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 8, "expected at least eight examples, found {}", paths.len());
    paths
}

#[test]
fn every_example_verifies() {
    for path in examples() {
        let bytes = std::fs::read(&path).expect("readable example");
        if let Err(diagnostics) = mir13::load(&path.display().to_string(), &bytes) {
            panic!("{diagnostics}");
        }
    }
}

#[test]
fn every_example_round_trips() {
    for path in examples() {
        let text = std::fs::read_to_string(&path).expect("readable example");
        let module = mir::parse(&text).expect("parses").module;
        let printed = mir::print_module(&module);
        let reparsed =
            mir::parse(&printed).unwrap_or_else(|e| panic!("{}: reprint fails: {e:?}", path.display())).module;
        assert!(reparsed == module, "{}: parse(print(m)) != m", path.display());
        assert_eq!(mir::print_module(&reparsed), printed, "{}: print is not a fixed point", path.display());
    }
}

#[test]
fn every_example_is_in_canonical_form_below_its_header() {
    for path in examples() {
        let text = std::fs::read_to_string(&path).expect("readable example");
        let body: String =
            text.lines().skip_while(|l| l.starts_with(';') || l.is_empty()).map(|l| format!("{l}\n")).collect();
        let formatted = mir13::format_source("example", text.as_bytes()).expect("formats");
        assert_eq!(
            body,
            formatted,
            "{} is not in canonical form below its header comment (see `mir13 fmt`)",
            path.display()
        );
    }
}
