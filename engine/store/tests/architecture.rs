//! Dependency rules (see lib.rs): the store knows nothing of the engine, async runtimes or
//! the clock. Checked over this crate's manifest so a new dependency is a deliberate act.

/// Normal dependencies the store may have; redb and fjall only behind `bench-compare`.
const ALLOWED: &[&str] = &["thiserror", "crc32fast", "fs4", "redb", "fjall"];
const OPTIONAL_ONLY: &[&str] = &["redb", "fjall"];

#[test]
fn the_store_depends_only_on_what_it_is_allowed_to() {
    let manifest = include_str!("../Cargo.toml");
    let mut section = String::new();
    let mut found = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        if section != "[dependencies]" || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line
            .split(['=', '.'])
            .next()
            .expect("a dependency line")
            .trim();
        assert!(
            ALLOWED.contains(&name),
            "Expected apsis-store to depend only on {ALLOWED:?}, but found {name}"
        );
        if OPTIONAL_ONLY.contains(&name) {
            assert!(
                line.contains("optional = true"),
                "{name} must stay optional: {line}"
            );
        }
        found.push(name.to_owned());
    }
    assert!(found.contains(&"crc32fast".to_owned()), "parsed {found:?}");
}
