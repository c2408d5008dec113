//! Acceptance tests of the P/MS OTB chain (`examples/pms-chain/*.bpmn`) through real processes on loopback: the
//! engine, the local OpenFaaS runtime running the real functions (otbcli with real OTB, normalize-product,
//! callback-ack), and the worker (see `support/mod.rs`), on small pairs written by `pms-generate` under a
//! temporary data root. Each test starts its own stack.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{files_under, product, Stack};

/// The bound on one instance of the chain (three OTB/GDAL steps at 400^2, well under a second each, plus the
/// callbacks), generous for a shared 2-core machine running debug binaries.
const WITHIN: Duration = Duration::from_secs(60);
/// The bound on the retries (3 attempts, 100 ms backoff) that end in an incident.
const INCIDENT: Duration = Duration::from_secs(45);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_task_chain_with_a_dem_completes_with_a_correct_product() {
    let stack = Stack::start().await;
    stack.deploy_example("pms-chain.bpmn").await;
    let pair = stack.pair("scene", 42, true);
    let started = Instant::now();
    let vars = stack.run("pms-chain", pair.variables(true), WITHIN).await;
    let took = started.elapsed();
    let checked = product::check(&pair, &vars["product"]);
    // Each step's callback came back through callback-ack: ok, under the step's result variable.
    for step in ["bundle", "ortho", "normalize"] {
        assert_eq!(vars[step]["ok"], true, "{step}: {vars}");
        assert_eq!(vars[step]["status"], 200, "{step}: {vars}");
    }
    assert!(stack.engine.incidents().is_empty());
    eprintln!(
        "pms-chain (receive-task, DEM): completed in {:.1} s; ortho {}x{}, {} valid and {} NoData band pixels",
        took.as_secs_f64(),
        checked.ortho_size.0,
        checked.ortho_size.1,
        checked.valid,
        checked.nodata
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_chain_without_a_dem_completes_with_a_correct_product() {
    let stack = Stack::start().await;
    stack.deploy_example("pms-chain-hold.bpmn").await;
    let pair = stack.pair("scene", 7, false);
    let started = Instant::now();
    // No `geom`: the default is the P image's .geom; no `dem`.
    let vars = stack
        .run("pms-chain-hold", pair.variables(false), WITHIN)
        .await;
    let took = started.elapsed();
    let checked = product::check(&pair, &vars["product"]);
    assert!(stack.engine.incidents().is_empty());
    eprintln!(
        "pms-chain-hold (no DEM, default geom): completed in {:.1} s; ortho {}x{}",
        took.as_secs_f64(),
        checked.ortho_size.0,
        checked.ortho_size.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_of_two_pairs_makes_both_products() {
    let stack = Stack::start().await;
    for bpmn in ["pms-chain.bpmn", "pms-chain-hold.bpmn", "pms-batch.bpmn"] {
        stack.deploy_example(bpmn).await;
    }
    let pairs = [stack.pair("a", 1, true), stack.pair("b", 2, false)];
    let started = Instant::now();
    let vars = stack
        .run(
            "pms-batch",
            json!({"pairs": [pairs[0].variables(false), pairs[1].variables(true)]}),
            WITHIN * 2,
        )
        .await;
    let took = started.elapsed();
    // In the order of `pairs`.
    let products: Vec<&str> = vars["products"]
        .as_array()
        .unwrap_or_else(|| panic!("Expected a list 'products', but the variables are {vars}"))
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let expected: Vec<String> = pairs
        .iter()
        .map(|p| p.product().display().to_string())
        .collect();
    assert_eq!(products, expected, "{vars}");
    for pair in &pairs {
        product::check(pair, &json!(pair.product().display().to_string()));
    }
    assert!(stack.engine.incidents().is_empty());
    eprintln!(
        "pms-batch of 2 pairs: completed in {:.1} s",
        took.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_input_ends_in_an_incident_with_otbs_error_and_the_repair_completes_the_chain() {
    let stack = Stack::start().await;
    stack.deploy_example("pms-chain.bpmn").await;
    let pair = stack.pair("scene", 3, false);
    std::fs::write(&pair.ms, b"not a TIFF: overwritten by the test").unwrap();
    let engine = &stack.engine;
    let started = Instant::now();
    // The instance is awaited across the incident and its resolution, while the operator acts.
    let operator = async {
        // The bundle step's callback reports ok = false; its re-run in hold mode fails 3 times: an incident.
        let incident = engine
            .wait_incident("an incident of pms-chain", INCIDENT, |i| {
                i["bpmnProcessId"] == "pms-chain"
            })
            .await;
        let to_incident = started.elapsed();
        assert_eq!(incident["errorType"], "JOB_NO_RETRIES", "{incident}");
        let message = incident["errorMessage"].as_str().unwrap().to_owned();
        assert!(
            message.contains("Cannot open image")
                && message.contains(&pair.ms.display().to_string()),
            "Expected the incident to carry OTB's error about {}, but it reads: {message}",
            pair.ms.display()
        );
        assert!(
            message.contains("otbcli"),
            "Expected the incident to name the function, but it reads: {message}"
        );
        assert!(
            !pair.out.join("ortho.tif").exists(),
            "the chain stopped at the bundle"
        );
        assert_eq!(engine.count_instances("pms-chain", "completed"), 0);

        // The operator repairs the input, gives the job retries and resolves the incident.
        pair.regenerate();
        engine.retry_and_resolve(&incident).await;
        (to_incident, message)
    };
    let (result, (to_incident, message)) = tokio::join!(
        engine.run("pms-chain", pair.variables(false), WITHIN * 2),
        operator
    );
    let vars = match result {
        Ok((_, vars)) => vars,
        Err(e) => panic!(
            "Expected the repaired instance to complete, but: {e}; open incidents: {:#?}",
            engine.incidents()
        ),
    };
    let took = started.elapsed();
    product::check(&pair, &vars["product"]);
    // The way it went: the first call's callback reported a failure (OTB's 500; a 503 if the runtime had to
    // restart the function's process, which takes the same path), the hold-mode re-run did the work.
    assert_eq!(vars["bundle"]["ok"], false, "{vars}");
    assert!(vars["bundle"]["status"].as_u64() >= Some(500), "{vars}");
    assert!(
        vars["bundleRerun"]["outputs"].is_array(),
        "Expected the re-run's output (otbcli's report) in bundleRerun, but the variables are {vars}"
    );
    assert_eq!(vars["ortho"]["ok"], true, "{vars}");
    assert!(engine.incidents().is_empty());
    eprintln!(
        "corrupt IMG_MS.TIF: incident after {:.1} s: {message}\nrepaired and resolved: completed after {:.1} s in all",
        to_incident.as_secs_f64(),
        took.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_outside_the_data_root_and_programs_other_than_otb_are_refused_through_the_chain() {
    let stack = Stack::start().await;
    stack.deploy_example("pms-chain.bpmn").await;
    stack.deploy_fixture("not-otb.bpmn").await;
    let engine = &stack.engine;
    let root = stack.root.display().to_string();
    // A real pair outside the root: only the root's confinement keeps the chain from reading it.
    let outside = support::Pair::generate(&stack.dir.path().join("outside"), 5, false);
    let escape = stack.dir.path().join("escape");
    std::fs::create_dir(&escape).unwrap();
    let inside = stack.pair("inside", 5, false);
    let outside_before = files_under(stack.dir.path());

    // 1. `pan` outside the root.
    let mut vars = inside.variables(false);
    vars["pan"] = json!(outside.pan.display().to_string());
    vars["geom"] = json!(outside.geom.display().to_string());
    let pan_outside = engine.create("pms-chain", vars).await;
    // 2. `out` leaving the root through '..'.
    let dotdot = format!("{}/../escape", root);
    let mut vars = inside.variables(false);
    vars["out"] = json!(dotdot);
    let out_dotdot = engine.create("pms-chain", vars).await;
    // 3. A step whose program is not an OTB application, aimed at a file outside the root.
    let marker = escape.join("touched");
    let not_otb = engine
        .create("not-otb", json!({"marker": marker.display().to_string()}))
        .await;

    let cases: [(i64, &str, String); 3] = [
        (
            pan_outside,
            "pan outside the root",
            format!(
                "Expected the path '{}' of -inp to be inside the data roots ({root}), but it is outside them",
                outside.pan.display()
            ),
        ),
        (
            out_dotdot,
            "out with '..'",
            format!(
                "Expected the path '{dotdot}/bundle.tif' of -out to be inside the data roots ({root}), but it contains a '..' component"
            ),
        ),
        (
            not_otb,
            "a program that is not OTB",
            "Expected argv[0] to be an OTB application name such as otbcli_OrthoRectification (otbcli_ then letters and digits), but found 'touch'".to_owned(),
        ),
    ];
    let mut report = Vec::new();
    for (pi, what, expected) in &cases {
        let incident = engine
            .wait_incident(&format!("an incident for {what}"), INCIDENT, |i| {
                i["processInstanceKey"] == *pi
            })
            .await;
        let message = incident["errorMessage"].as_str().unwrap().to_owned();
        assert_eq!(
            incident["errorType"], "JOB_NO_RETRIES",
            "{what}: {incident}"
        );
        assert!(
            message.contains(expected.as_str()),
            "{what}: Expected the incident to say '{expected}', but it reads: {message}"
        );
        report.push(format!("{what}: {message}"));
    }
    // Nothing ran: no output in the root, nothing new outside it.
    assert!(
        files_under(&inside.out).is_empty(),
        "Expected no output, but found {:?}",
        files_under(&inside.out)
    );
    assert!(!marker.exists(), "the refused program ran");
    let outside_after: Vec<_> = files_under(stack.dir.path())
        .into_iter()
        .filter(|p| !p.starts_with(&stack.root))
        .collect();
    let outside_before: Vec<_> = outside_before
        .into_iter()
        .filter(|p| !p.starts_with(&stack.root))
        .collect();
    assert_eq!(
        outside_after, outside_before,
        "nothing written outside the root"
    );
    assert_eq!(engine.count_instances("pms-chain", "completed"), 0);
    assert_eq!(engine.count_instances("not-otb", "completed"), 0);
    eprintln!("refused, each in an incident:\n{}", report.join("\n"));
}
