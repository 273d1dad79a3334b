//! The checked-in `include/tollgate.h` must be exactly what the pinned cbindgen generates from
//! the current sources. Regenerate with `TOLLGATE_BLESS=1 cargo test -p tollgate-ffi --test header`.

use std::path::PathBuf;

fn generate() -> String {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("ffi/cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn checked_in_header_is_fresh() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../include/tollgate.h");
    let fresh = generate();
    if std::env::var_os("TOLLGATE_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/tollgate.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/tollgate.h is stale: regenerate it with \
         `TOLLGATE_BLESS=1 cargo test -p tollgate-ffi --test header` and commit it"
    );
}

#[test]
fn header_has_the_do_not_edit_banner_and_version_macros() {
    let h = generate();
    assert!(h.contains("DO NOT EDIT"));
    assert!(h.contains("#define TG_ABI_VERSION_MAJOR 1"));
    assert!(h.contains("uint32_t tg_abi_version(void);"));
    // No float type anywhere outside comments.
    for line in h.lines() {
        let code = line.trim_start();
        if code.starts_with('*') || code.starts_with("/*") || code.starts_with("//") {
            continue;
        }
        let words: Vec<&str> = code
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .collect();
        assert!(
            !words.contains(&"float") && !words.contains(&"double"),
            "float in the ABI: {line}"
        );
    }
}

/// Every exported function body goes through the one boundary (`boundary` or
/// `boundary_value`), so no panic can unwind into C.
#[test]
fn every_exported_body_is_inside_the_boundary() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let after = &rest[at..];
            let body_start = after.find('{').expect("function body");
            let body = after[body_start + 1..].trim_start();
            let name: String = after["extern \"C\" fn ".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                body.starts_with("boundary(") || body.starts_with("boundary_value("),
                "{}: `{name}` does not start with boundary(…)",
                path.display()
            );
            checked += 1;
            rest = &after[body_start..];
        }
    }
    assert!(checked >= 4, "found only {checked} exported functions");
}
