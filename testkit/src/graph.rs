//! The workspace's dependency graph from `cargo metadata`, for the architecture test (as Zeebe's ArchitectureTest
//! checks its modules), and a scan of source files for calls a pure module must not make.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::binary::workspace_root;

/// One package of the resolved graph.
#[derive(Debug, Clone, Default)]
pub struct Package {
    /// Its normal (not dev, not build) dependencies as resolved: names of packages.
    pub normal: BTreeSet<String>,
    /// Its manifest's declared dependencies (workspace members only; empty for others): `(name, kind, optional)`
    /// with kind `"normal"`, `"dev"` or `"build"`.
    pub declared: Vec<(String, String, bool)>,
}

/// Package name -> [`Package`], for every package of the workspace's resolve (members and their dependencies).
#[derive(Debug, Clone)]
pub struct Graph {
    pub packages: BTreeMap<String, Package>,
    /// The workspace members' names.
    pub members: BTreeSet<String>,
}

/// Runs `cargo metadata --locked` over the workspace; panics if it fails.
pub fn cargo_metadata_graph() -> Graph {
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(workspace_root())
        .output()
        .expect("Expected cargo metadata to run");
    assert!(
        out.status.success(),
        "Expected cargo metadata to succeed, but: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    Graph::from_metadata(&meta)
}

impl Graph {
    /// The graph of `cargo metadata --format-version 1` output.
    pub fn from_metadata(meta: &Value) -> Graph {
        let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let names: BTreeMap<String, String> = list(&meta["packages"])
            .iter()
            .map(|p| (text(&p["id"]), text(&p["name"])))
            .collect();
        let members: BTreeSet<String> = list(&meta["workspace_members"])
            .iter()
            .map(|id| names[&text(id)].clone())
            .collect();
        let mut packages: BTreeMap<String, Package> = BTreeMap::new();
        for node in list(&meta["resolve"]["nodes"]) {
            let normal = list(&node["deps"])
                .iter()
                .filter(|d| list(&d["dep_kinds"]).iter().any(|k| k["kind"].is_null()))
                .map(|d| names[&text(&d["pkg"])].clone())
                .collect();
            packages
                .entry(names[&text(&node["id"])].clone())
                .or_default()
                .normal = normal;
        }
        for p in list(&meta["packages"]) {
            let name = text(&p["name"]);
            if !members.contains(&name) {
                continue;
            }
            packages.entry(name).or_default().declared = list(&p["dependencies"])
                .iter()
                .map(|d| {
                    let kind = d["kind"].as_str().unwrap_or("normal").to_owned();
                    (text(&d["name"]), kind, d["optional"] == true)
                })
                .collect();
        }
        Graph { packages, members }
    }

    /// The normal dependencies of `package`; panics if the graph has no such package.
    #[track_caller]
    pub fn direct(&self, package: &str) -> &BTreeSet<String> {
        &self.package(package).normal
    }

    #[track_caller]
    pub fn package(&self, name: &str) -> &Package {
        self.packages
            .get(name)
            .unwrap_or_else(|| panic!("Expected {name} in the dependency graph"))
    }

    /// A chain of packages from `from` to `to` through normal dependencies, not walking on through the packages of
    /// `stop_at`, if there is one.
    pub fn dependency_path(&self, from: &str, to: &str, stop_at: &[&str]) -> Option<Vec<String>> {
        let mut stack = vec![vec![from.to_owned()]];
        let mut seen = BTreeSet::new();
        while let Some(chain) = stack.pop() {
            let last = chain.last().expect("a chain is never empty").clone();
            if last == to {
                return Some(chain);
            }
            if !seen.insert(last.clone()) || stop_at.contains(&last.as_str()) {
                continue;
            }
            for dep in self.packages.get(&last).into_iter().flat_map(|p| &p.normal) {
                let mut next = chain.clone();
                next.push(dep.clone());
                stack.push(next);
            }
        }
        None
    }
}

/// Reads every `.rs` file under `paths` (files or folders, relative to the workspace root) and returns how many it
/// read and a `"file: needle"` for every needle a file contains.
pub fn scan_sources(paths: &[&str], needles: &[&str]) -> (usize, Vec<String>) {
    let root = workspace_root();
    let mut stack: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
    let (mut scanned, mut offenders) = (0, Vec::new());
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            let entries = std::fs::read_dir(&path)
                .unwrap_or_else(|e| panic!("Expected to read {}, but: {e}", path.display()));
            stack.extend(entries.flatten().map(|e| e.path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            scanned += 1;
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("Expected to read {}, but: {e}", path.display()));
            let shown = path.strip_prefix(&root).unwrap_or(&path).display();
            offenders.extend(
                needles
                    .iter()
                    .filter(|n| text.contains(*n))
                    .map(|n| format!("{shown}: {n}")),
            );
        } else if !path.exists() {
            panic!("Expected {} to exist", path.display());
        }
    }
    (scanned, offenders)
}
