//! The dependency rule of `lib.rs`: the local runtime knows OpenFaaS, not Zeebe, so it depends on no Apsis crate.

use std::process::Command;

#[test]
fn depends_on_no_engine_or_worker_crate() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "apsis-faas-local")
        .expect("Expected the workspace to hold apsis-faas-local");
    let names: Vec<&str> = package["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"axum"), "the listing is real: {names:?}");
    let apsis: Vec<&&str> = names.iter().filter(|n| n.starts_with("apsis")).collect();
    assert!(
        apsis.is_empty(),
        "Expected no Apsis crate among the dependencies, but found {apsis:?}"
    );
}
