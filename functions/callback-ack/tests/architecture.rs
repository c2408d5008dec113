//! callback-ack is a Zeebe client like the worker: it must not link the engine (core, store, server), so it works
//! unchanged against Camunda 8. Checked over `cargo metadata`, as the engine and the worker check theirs.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// The packages `apsis-callback-ack` depends on through normal (non-dev, non-build) dependencies, transitively.
fn normal_dependencies() -> BTreeSet<String> {
    let out = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("Expected cargo metadata to run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let name: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let deps = node["deps"].as_array().unwrap().iter().filter(|d| {
            d["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null())
        });
        edges.insert(
            name[node["id"].as_str().unwrap()],
            deps.map(|d| name[d["pkg"].as_str().unwrap()]).collect(),
        );
    }
    let mut seen = BTreeSet::new();
    let mut todo = vec!["apsis-callback-ack"];
    while let Some(package) = todo.pop() {
        for dep in edges.get(package).into_iter().flatten() {
            if seen.insert((*dep).to_owned()) {
                todo.push(dep);
            }
        }
    }
    seen
}

#[test]
fn callback_ack_does_not_link_the_engine() {
    let deps = normal_dependencies();
    assert!(
        deps.contains("apsis-worker-faas") && deps.contains("apsis-client"),
        "{deps:?}"
    );
    for engine in ["apsis-core", "apsis-store", "apsis-server"] {
        assert!(
            !deps.contains(engine),
            "apsis-callback-ack depends on {engine}"
        );
    }
}
