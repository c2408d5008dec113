//! The client crate links no engine: a worker depending on it must not pull in the core, the store, the server or
//! the BPMN compiler. Checked over `cargo metadata`, as engine/server/tests/architecture.rs checks the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Every package `apsis-client` reaches through normal (non-dev, non-build) dependencies.
fn reachable() -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let name = |id: &str| -> String {
        meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let normal = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| name(d["pkg"].as_str().unwrap()))
            .collect();
        deps.insert(name(node["id"].as_str().unwrap()), normal);
    }
    let mut seen = BTreeSet::new();
    let mut stack = vec!["apsis-client".to_owned()];
    while let Some(p) = stack.pop() {
        if seen.insert(p.clone()) {
            stack.extend(deps.get(&p).into_iter().flatten().cloned());
        }
    }
    seen
}

#[test]
fn the_client_does_not_depend_on_the_engine() {
    let reached = reachable();
    assert!(
        reached.contains("apsis-proto"),
        "the generated client is used"
    );
    for forbidden in ["apsis-core", "apsis-store", "apsis-server", "apsis-bpmn"] {
        assert!(
            !reached.contains(forbidden),
            "apsis-client reaches {forbidden}"
        );
    }
}
