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

/// The pure modules: decisions only. The daemon's shell (config, worker, backend, request's caller, monitor, main)
/// does the I/O and reads the clock.
const PURE: &[&str] = &[
    "task.rs",
    "template",
    "token.rs",
    "callback.rs",
    "outcome.rs",
    "failure.rs",
    "quantity.rs",
    "request.rs",
];

#[test]
fn the_pure_modules_read_no_clock() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut stack: Vec<_> = PURE.iter().map(|p| src.join(p)).collect();
    let mut scanned = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("source dir").flatten() {
                stack.push(entry.path());
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            scanned += 1;
            let text = std::fs::read_to_string(&path).expect("source file");
            for needle in [
                "SystemTime",
                "Instant::now",
                "Utc::now",
                "Local::now",
                "thread_rng",
                "rand::",
                "Uuid::new_v4",
                "tokio::",
                "reqwest::",
            ] {
                if text.contains(needle) {
                    offenders.push(format!("{}: {needle}", path.display()));
                }
            }
        }
    }
    assert!(
        scanned >= PURE.len(),
        "every pure module was read ({scanned} files)"
    );
    assert!(
        offenders.is_empty(),
        "Expected no clock, randomness or I/O in the pure modules, but found: {offenders:?}"
    );
}
