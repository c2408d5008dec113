//! The worker is a Zeebe client like any other: it must not depend on the engine's core, store or server (so it
//! works unchanged against Camunda 8), and its pure modules read no clock. Checked over `cargo metadata`, as
//! `engine/server/tests/architecture.rs` does for the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// package name -> names of its normal (non-dev, non-build) dependencies.
fn dependency_graph() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
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
                .map(|d| names[d["pkg"].as_str().unwrap()].to_owned())
                .collect();
            (names[node["id"].as_str().unwrap()].to_owned(), normal)
        })
        .collect()
}

/// A chain of packages from `from` to `to`, if `from` depends on `to` at all.
fn path(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(chain) = stack.pop() {
        let last = chain.last().unwrap().clone();
        if last == to {
            return Some(chain);
        }
        if seen.insert(last.clone()) {
            for d in graph.get(&last).into_iter().flatten() {
                let mut next = chain.clone();
                next.push(d.clone());
                stack.push(next);
            }
        }
    }
    None
}

#[test]
fn the_worker_knows_nothing_of_the_engine() {
    let graph = dependency_graph();
    assert!(
        graph.contains_key("apsis-worker-faas"),
        "the worker is a workspace member"
    );
    for forbidden in ["apsis-core", "apsis-store", "apsis-server"] {
        if let Some(chain) = path(&graph, "apsis-worker-faas", forbidden) {
            panic!(
                "Expected apsis-worker-faas not to depend on {forbidden}, but it does: {}",
                chain.join(" -> ")
            );
        }
    }
    // The check itself can fail: the server does reach the core.
    assert!(path(&graph, "apsis-server", "apsis-core").is_some());
}

#[test]
fn the_pure_modules_read_no_clock() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source dir").flatten() {
            let file = entry.path();
            if file.is_dir() {
                stack.push(file);
            } else if file.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&file).expect("source file");
                for needle in [
                    "SystemTime",
                    "Instant::now",
                    "Utc::now",
                    "Local::now",
                    "thread_rng",
                    "rand::",
                ] {
                    if text.contains(needle) {
                        offenders.push(format!("{}: {needle}", file.display()));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "Expected no clock or randomness in the pure modules, but found: {offenders:?}"
    );
}
