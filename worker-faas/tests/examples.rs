//! Every `faas` service task of the repository's example processes is a valid task contract, and the Pleiades
//! chain's and the P/MS chain's command lines render to the argv OTB and normalize-product expect.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use apsis_bpmn::feel::Expression;
use apsis_bpmn::model::{NodeKind, Scope};
use apsis_worker_faas::task::{Payload, Task};
use serde_json::{json, Map, Value};

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
        .find(|(p, e, _)| p == "pleiades-preprocessing" && e == "ortho")
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

// examples/pms-chain/ ------------------------------------------------------------------------------------------------

/// Applies Zeebe variable mappings in order (a later one sees an earlier one's target), evaluating their FEEL with
/// the engine's evaluator, as the engine does before it creates the job.
fn apply_mappings(mappings: &[apsis_bpmn::model::MappingDef], vars: &mut Map<String, Value>) {
    for m in mappings {
        let source = m.source.as_deref().expect("a mapping source");
        let target = m.target.as_deref().expect("a mapping target");
        let expr = source.strip_prefix('=').expect("a FEEL expression");
        let value = Expression::parse(expr)
            .and_then(|e| e.evaluate(&*vars))
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        vars.insert(target.to_owned(), value);
    }
}

/// The variables a `faas` job of the process sees, for each pair: pms-chain and pms-chain-hold create an instance
/// per pair and their start event sets `geom` and `demArgs`; pms-batch creates one instance with `pairs` and each
/// iteration's input mappings make the pair's variables local.
fn pms_job_variables(process: &apsis_bpmn::model::Process, pairs: &[Value]) -> Vec<Value> {
    let node = |scope: &Scope, id: &str| {
        scope
            .nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("{}: no element '{id}'", process.id))
            .clone()
    };
    let start = node(&process.scope, "start");
    pairs
        .iter()
        .enumerate()
        .map(|(i, pair)| {
            let mut vars = Map::new();
            if process.id == "pms-batch" {
                assert!(start.zeebe.outputs.is_empty());
                let iteration = node(&process.scope, "pair-chain");
                vars.insert("pairs".into(), Value::Array(pairs.to_vec()));
                vars.insert("pair".into(), pair.clone());
                vars.insert("loopCounter".into(), json!(i + 1));
                apply_mappings(&iteration.zeebe.inputs, &mut vars);
            } else {
                vars.extend(pair.as_object().expect("a pair object").clone());
                // Output mappings of the start event: evaluated on the creation variables, then set.
                let mut outputs = vars.clone();
                apply_mappings(&start.zeebe.outputs, &mut outputs);
                vars = outputs;
            }
            Value::Object(vars)
        })
        .collect()
}

fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| (*w).to_owned()).collect()
}

#[test]
fn the_pms_chain_steps_render_to_the_contracts_argv() {
    let pairs = [
        // A DEM; the .geom next to the P image (the default); an output directory whose name a shell would split.
        json!({"pan": "/data/in/IMG_P.TIF", "ms": "/data/in/IMG_MS.TIF", "out": "/data/out/run 1; rm -rf ~",
               "dem": "/data/dem"}),
        // No DEM; an explicit .geom.
        json!({"pan": "/data/in/b/IMG_P.TIF", "ms": "/data/in/b/IMG_MS.TIF", "out": "/data/out/b",
               "geom": "/data/geom/b.geom"}),
        // An empty DEM is no DEM; a P image without an extension gets .geom appended.
        json!({"pan": "/data/in.v2/IMG_P", "ms": "/data/in.v2/IMG_MS.TIF", "out": "/data/out/c", "dem": ""}),
    ];
    let expected = |pair: usize, step: &str| -> Vec<String> {
        match (pair, step) {
            (0, "bundle") => words(&[
                "otbcli_BundleToPerfectSensor",
                "-inp",
                "/data/in/IMG_P.TIF",
                "-inxs",
                "/data/in/IMG_MS.TIF",
                "-out",
                "/data/out/run 1; rm -rf ~/bundle.tif",
                "uint16",
                "-elev.dem",
                "/data/dem",
            ]),
            (0, "ortho") => words(&[
                "otbcli_OrthoRectification",
                "-io.in",
                "/data/out/run 1; rm -rf ~/bundle.tif?&geom=/data/in/IMG_P.geom",
                "-io.out",
                "/data/out/run 1; rm -rf ~/ortho.tif",
                "uint16",
                "-elev.dem",
                "/data/dem",
            ]),
            (0, "normalize") => words(&[
                "normalize-product",
                "--in_ms",
                "/data/in/IMG_MS.TIF",
                "--in_ortho",
                "/data/out/run 1; rm -rf ~/ortho.tif",
                "--out",
                "/data/out/run 1; rm -rf ~/normalized_ortho.tif",
            ]),
            (1, "bundle") => words(&[
                "otbcli_BundleToPerfectSensor",
                "-inp",
                "/data/in/b/IMG_P.TIF",
                "-inxs",
                "/data/in/b/IMG_MS.TIF",
                "-out",
                "/data/out/b/bundle.tif",
                "uint16",
            ]),
            (1, "ortho") => words(&[
                "otbcli_OrthoRectification",
                "-io.in",
                "/data/out/b/bundle.tif?&geom=/data/geom/b.geom",
                "-io.out",
                "/data/out/b/ortho.tif",
                "uint16",
            ]),
            (1, "normalize") => words(&[
                "normalize-product",
                "--in_ms",
                "/data/in/b/IMG_MS.TIF",
                "--in_ortho",
                "/data/out/b/ortho.tif",
                "--out",
                "/data/out/b/normalized_ortho.tif",
            ]),
            (2, "bundle") => words(&[
                "otbcli_BundleToPerfectSensor",
                "-inp",
                "/data/in.v2/IMG_P",
                "-inxs",
                "/data/in.v2/IMG_MS.TIF",
                "-out",
                "/data/out/c/bundle.tif",
                "uint16",
            ]),
            (2, "ortho") => words(&[
                "otbcli_OrthoRectification",
                "-io.in",
                "/data/out/c/bundle.tif?&geom=/data/in.v2/IMG_P.geom",
                "-io.out",
                "/data/out/c/ortho.tif",
                "uint16",
            ]),
            (2, "normalize") => words(&[
                "normalize-product",
                "--in_ms",
                "/data/in.v2/IMG_MS.TIF",
                "--in_ortho",
                "/data/out/c/ortho.tif",
                "--out",
                "/data/out/c/normalized_ortho.tif",
            ]),
            other => panic!("no expectation for {other:?}"),
        }
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pms-chain");
    let mut rendered = 0;
    for (file, process_id, tasks_per_file) in [
        ("pms-chain.bpmn", "pms-chain", 6),
        ("pms-chain-hold.bpmn", "pms-chain-hold", 3),
        ("pms-batch.bpmn", "pms-batch", 6),
    ] {
        let path = dir.join(file);
        let xml = std::fs::read_to_string(&path).expect("example file");
        let defs = apsis_bpmn::read(file, &xml).expect("example parses");
        let [process] = defs.processes.as_slice() else {
            panic!(
                "{file}: Expected one process, but found {}",
                defs.processes.len()
            )
        };
        assert_eq!(process.id, process_id);
        let jobs = pms_job_variables(process, &pairs);
        let mut found = Vec::new();
        faas_tasks(&process.scope, &mut found);
        assert_eq!(found.len(), tasks_per_file, "{file}: {found:?}");
        for (element, headers) in found {
            let task = Task::from_headers(&headers, &element, process_id)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let step = element.strip_suffix("-rerun").unwrap_or(&element);
            let hold = process_id == "pms-chain-hold" || element.ends_with("-rerun");
            let (mode, result_variable) = if hold {
                let result = if process_id == "pms-chain-hold" {
                    step.to_owned()
                } else {
                    format!("{step}Rerun")
                };
                ("hold", result)
            } else {
                ("receive-task", step.to_owned())
            };
            assert_eq!(task.mode.as_str(), mode, "{file}: {element}");
            if let apsis_worker_faas::task::Mode::ReceiveTask { message_name } = &task.mode {
                assert_eq!(message_name, "function-done");
            }
            assert_eq!(
                task.result_variable.as_deref(),
                Some(result_variable.as_str()),
                "{file}: {element}"
            );
            let function = if step == "normalize" {
                "normalize-product"
            } else {
                "otbcli"
            };
            assert_eq!(task.function, function, "{file}: {element}");
            let Payload::Cmdline(cmdline) = &task.payload else {
                panic!(
                    "{file}: {element}: Expected a cmdline, but found {:?}",
                    task.payload
                )
            };
            for (i, vars) in jobs.iter().enumerate() {
                let argv = cmdline
                    .render(vars)
                    .unwrap_or_else(|e| panic!("{file}: {element}: {e}"));
                assert_eq!(argv, expected(i, step), "{file}: {element}, pair {i}");
                rendered += 1;
            }
        }
    }
    assert_eq!(rendered, 15 * 3);
}
