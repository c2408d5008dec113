//! Finding (or building) a binary of another workspace package.
//!
//! A test may use `env!("CARGO_BIN_EXE_<name>")` only for its own package's binaries; the engine's tests should
//! pass that path in. Other packages (the worker, callback-ack) need `apsis` from `apsis-server`, which they do
//! not depend on, not even for tests.
//!
//! The test executable lives in `<target>/<profile>/deps/`, so the binary is first looked for at
//! `<target>/<profile>/<name>`. `cargo test --workspace` has always built it there before any test runs (it is a
//! binary of a tested package), so it is as fresh as the tests.
//!
//! When it is missing (`cargo test -p apsis-worker-faas` alone), it is built with
//! `cargo build -p <package> --bin <name>`. That build cannot use `<target>` itself: the `cargo test` running us
//! holds that directory's lock until every test has finished, so a nested build there would wait forever. It goes
//! to `<target>/testkit/` instead, a directory with a lock of its own, inside the target directory so that
//! `cargo clean` removes it. Concurrent test processes needing the same binary queue on that lock; the first one
//! builds, the others find it fresh. Within one process the path is remembered after the first call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The path of binary `name` of workspace package `package`, built for the test executable's profile if it is not
/// next to the test executable (see the module documentation). Panics if the build fails.
pub fn binary(name: &str, package: &str) -> PathBuf {
    static FOUND: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    found
        .entry(name.to_owned())
        .or_insert_with(|| find_or_build(name, package))
        .clone()
}

fn find_or_build(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("Expected to know the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("Expected the test executable in <target>/<profile>/deps/");
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let next_to_us = profile_dir.join(&file);
    if next_to_us.exists() {
        return next_to_us;
    }
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a profile directory name");
    let own_target = profile_dir
        .parent()
        .expect("a target directory")
        .join("testkit");
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build
        .current_dir(workspace_root())
        .args(["build", "-p", package, "--bin", name, "--target-dir"])
        .arg(&own_target);
    // The directory is named after the profile, except that the dev and test profiles share `debug`.
    match profile {
        "debug" => {}
        "release" => {
            build.arg("--release");
        }
        other => {
            build.args(["--profile", other]);
        }
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("Expected to run cargo to build {name}, but: {e}"));
    assert!(
        status.success(),
        "Expected `cargo build -p {package} --bin {name}` to succeed, but it ended with {status}"
    );
    own_target.join(profile).join(file)
}

/// The workspace's root folder (this crate's parent).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ is a folder of the workspace")
        .to_path_buf()
}
