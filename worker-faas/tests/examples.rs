//! Every `faas` service task of the repository's example processes is a valid task contract, and the Pleiades
//! chain's command lines render to the argv OTB expects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use apsis_bpmn::model::{NodeKind, Scope};
use apsis_worker_faas::task::{Payload, Task};
use serde_json::json;

fn bpmn_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("examples dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            bpmn_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "bpmn") {
            out.push(path);
        }
    }
}

/// (element id, headers) of every service task of type `faas` in `scope` and its subprocesses.
fn faas_tasks(scope: &Scope, out: &mut Vec<(String, BTreeMap<String, String>)>) {
    for node in &scope.nodes {
        if let NodeKind::SubProcess { scope, .. } = &node.kind {
            faas_tasks(scope, out);
        }
        let job_type = node
            .zeebe
            .task_definition
            .as_ref()
            .and_then(|t| t.job_type.as_deref());
        if job_type == Some("faas") {
            out.push((
                node.id.clone(),
                node.zeebe.headers.iter().cloned().collect(),
            ));
        }
    }
}

fn example_tasks() -> Vec<(String, String, Task)> {
    let mut files = Vec::new();
    bpmn_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"),
        &mut files,
    );
    let mut tasks = Vec::new();
    for file in files {
        let xml = std::fs::read_to_string(&file).expect("example file");
        let defs = apsis_bpmn::read(&file.display().to_string(), &xml).expect("example parses");
        for process in &defs.processes {
            let mut found = Vec::new();
            faas_tasks(&process.scope, &mut found);
            for (element, headers) in found {
                let task = Task::from_headers(&headers, &element, &process.id)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                tasks.push((process.id.clone(), element, task));
            }
        }
    }
    tasks
}

#[test]
fn every_example_faas_task_is_a_valid_contract() {
    let tasks = example_tasks();
    assert!(
        tasks
            .iter()
            .filter(|(p, ..)| p == "pleiades-preprocessing")
            .count()
            >= 3,
        "Expected the Pleiades chain's three faas tasks, but found {:?}",
        tasks
            .iter()
            .map(|(p, e, _)| format!("{p}/{e}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn the_pleiades_ortho_step_renders_to_otbs_argv() {
    let tasks = example_tasks();
    let (_, _, ortho) = tasks
        .iter()
        .find(|(_, e, _)| e == "ortho")
        .expect("the ortho task");
    let Payload::Cmdline(cmdline) = &ortho.payload else {
        panic!("Expected a cmdline, but found {:?}", ortho.payload)
    };
    let argv = cmdline
        .render(&json!({
            "work": "/data/work/pair 1",
            "panGeom": "/data/in/IMG_P.geom",
            "dem": "/data/dem; rm -rf /",
        }))
        .unwrap();
    assert_eq!(
        argv,
        [
            "otbcli_OrthoRectification",
            "-io.in",
            "/data/work/pair 1/bundle.tif?&geom=/data/in/IMG_P.geom",
            "-io.out",
            "/data/work/pair 1/ortho.tif",
            "uint16",
            "-elev.dem",
            "/data/dem; rm -rf /",
        ]
    );
}
