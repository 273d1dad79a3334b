//! README's "Embed it (C ABI)" snippets are the marked regions (`readme:start` …
//! `readme:end`) of example files that their suites run and check, so the README cannot drift
//! from tested code.

use std::path::PathBuf;

fn region(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join(path)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("readme:start"))
        .unwrap();
    let end = lines.iter().position(|l| l.contains("readme:end")).unwrap();
    let body = &lines[start + 1..end];
    let indent = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    body.iter()
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn readme_snippets_are_the_tested_examples() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    for (file, fence) in [
        ("ffi/c/example.c", "c"),
        ("ffi/go/example_test.go", "go"),
        ("ffi/node/examples/quickstart.js", "js"),
        ("ffi/python/examples/quickstart.py", "python"),
    ] {
        let block = format!("```{fence}\n{}\n```", region(file));
        assert!(
            readme.contains(&block),
            "README does not show the marked region of {file} verbatim"
        );
    }
}
