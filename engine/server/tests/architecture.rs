//! Dependency rules of the workspace, checked over `cargo metadata` (as Zeebe's ArchitectureTest checks its
//! modules): the core is pure (no async runtime, RPC, store, server or clock crate), the BPMN crate knows nothing
//! of the engine, and the store knows nothing of either.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

struct Graph {
    /// package name -> names of its normal (non-dev, non-build) dependencies, resolved.
    deps: BTreeMap<String, BTreeSet<String>>,
}

fn graph() -> Graph {
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
    let names: BTreeMap<String, String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut deps = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let name = names[node["id"].as_str().unwrap()].clone();
        let normal: BTreeSet<String> = node["deps"]
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
            .map(|d| names[d["pkg"].as_str().unwrap()].clone())
            .collect();
        deps.insert(name, normal);
    }
    Graph { deps }
}

impl Graph {
    fn direct(&self, pkg: &str) -> &BTreeSet<String> {
        &self.deps[pkg]
    }

    /// Every path (as a chain of names) from `from` to `to`, not walking through `stop_at` packages.
    fn reaches(&self, from: &str, to: &str, stop_at: &[&str]) -> Option<Vec<String>> {
        let mut stack = vec![vec![from.to_owned()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().unwrap().clone();
            if last == to {
                return Some(path);
            }
            if !seen.insert(last.clone()) || stop_at.contains(&last.as_str()) {
                continue;
            }
            for d in self.deps.get(&last).into_iter().flatten() {
                let mut p = path.clone();
                p.push(d.clone());
                stack.push(p);
            }
        }
        None
    }
}

#[test]
fn the_core_is_pure() {
    let g = graph();
    let allowed: BTreeSet<&str> = [
        "apsis-bpmn",
        "serde",
        "serde_json",
        "thiserror",
        "postcard",
        "rustc-hash",
    ]
    .into();
    for d in g.direct("apsis-core") {
        assert!(
            allowed.contains(d.as_str()),
            "Expected apsis-core to depend only on {allowed:?}, but it depends on {d}"
        );
    }
    // FEEL's evaluator (dsntk) links reqwest for Java/PMML externals, which Apsis rejects at parse time; that is the
    // only way an async runtime or HTTP may enter the core's build, and nothing of it is ever called.
    for forbidden in ["tokio", "tonic", "hyper", "apsis-store", "apsis-server"] {
        if let Some(path) = g.reaches(
            "apsis-core",
            forbidden,
            &[
                "dsntk-feel-evaluator",
                "dsntk-feel-temporal",
                "dsntk-feel",
                "dsntk-common",
            ],
        ) {
            panic!(
                "Expected apsis-core not to depend on {forbidden}, but it does: {}",
                path.join(" -> ")
            );
        }
    }
}

#[test]
fn bpmn_and_store_know_nothing_of_the_engine() {
    let g = graph();
    for (pkg, forbidden) in [
        (
            "apsis-bpmn",
            &[
                "apsis-core",
                "apsis-store",
                "apsis-server",
                "tokio",
                "tonic",
            ][..],
        ),
        (
            "apsis-store",
            &[
                "apsis-core",
                "apsis-bpmn",
                "apsis-server",
                "tokio",
                "tonic",
                "serde",
            ][..],
        ),
    ] {
        for f in forbidden {
            assert!(
                !g.direct(pkg).contains(*f),
                "Expected {pkg} not to depend on {f}, but it does"
            );
        }
    }
    let store_all = g.reaches("apsis-store", "tokio", &[]);
    assert!(
        store_all.is_none(),
        "the store must not pull an async runtime: {store_all:?}"
    );
}

/// The core and the BPMN crate never read a clock: time is the record timestamp passed in. (chrono is used by the
/// timer arithmetic as a calendar library; reading its clock is what is forbidden.)
#[test]
fn the_core_never_reads_the_clock() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut offenders = Vec::new();
    for dir in ["engine/core/src", "bpmn/src"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("source dir").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("source file");
                    for needle in [
                        "SystemTime::now",
                        "Instant::now",
                        "Utc::now",
                        "Local::now",
                        "std::time::SystemTime",
                    ] {
                        if text.contains(needle) {
                            offenders.push(format!("{}: {needle}", path.display()));
                        }
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "Expected no clock reads in the pure crates, but found: {offenders:?}"
    );
}
