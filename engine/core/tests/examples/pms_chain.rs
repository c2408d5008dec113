//! `examples/pms-chain/`: the P/MS chain contract (examples/pms-chain/README.md) in its three processes, driven as
//! apsis-worker-faas and callback-ack drive them. Receive-task steps complete at once with `{<step>: {callId}}` and
//! their callbacks are published as `function-done` messages; hold-mode jobs are kept until the function answers and
//! then completed with `{<resultVariable>: output}` or failed with the function's error and `retries - 1`.

use super::*;

const CHAIN: &str = "pms-chain/pms-chain.bpmn";
const HOLD: &str = "pms-chain/pms-chain-hold.bpmn";
const BATCH: &str = "pms-chain/pms-batch.bpmn";

const STEPS: [&str; 3] = ["bundle", "ortho", "normalize"];

/// What otbcli-function answers (500) when OrthoRectification fails; the worker fails a hold job with it.
const OTB_ERROR: &str = "Expected otbcli_OrthoRectification to succeed, but it exited with code 1: (FATAL) \
                         OrthoRectification: ImageToGenericRSOutputParameters: No information in the metadata";

/// A pair in `/data/pairs/<name>`, with a DEM or not, with an explicit `.geom` or not.
fn pms_pair(name: &str, dem: bool, geom: bool) -> Value {
    let mut pair = json!({
        "pan": format!("/data/pairs/{name}/IMG_P.TIF"),
        "ms": format!("/data/pairs/{name}/IMG_MS.TIF"),
        "out": format!("/data/out/{name}"),
    });
    if dem {
        pair["dem"] = json!(format!("/data/pairs/{name}/dem"));
    }
    if geom {
        pair["geom"] = json!(format!("/data/geom/{name}-P.geom"));
    }
    pair
}

/// The argv the contract expects for `step` on `pair` (creation variables as given, before the start event's
/// defaults): `-elev.dem` only with a DEM, the `.geom` next to the P image unless `geom` is given.
fn expected_argv(step: &str, pair: &Value) -> Vec<String> {
    let s = |key: &str| pair[key].as_str().unwrap_or_default().to_owned();
    let out = s("out");
    let dem: Vec<String> = match pair.get("dem").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => vec!["-elev.dem".into(), d.into()],
        _ => vec![],
    };
    let geom = match pair.get("geom").and_then(Value::as_str) {
        Some(g) if !g.is_empty() => g.to_owned(),
        _ => match s("pan").rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') => format!("{stem}.geom"),
            _ => format!("{}.geom", s("pan")),
        },
    };
    let mut argv: Vec<String> = match step {
        "bundle" => vec![
            "otbcli_BundleToPerfectSensor".into(),
            "-inp".into(),
            s("pan"),
            "-inxs".into(),
            s("ms"),
            "-out".into(),
            format!("{out}/bundle.tif"),
            "uint16".into(),
        ],
        "ortho" => vec![
            "otbcli_OrthoRectification".into(),
            "-io.in".into(),
            format!("{out}/bundle.tif?&geom={geom}"),
            "-io.out".into(),
            format!("{out}/ortho.tif"),
            "uint16".into(),
        ],
        _ => {
            return vec![
                "normalize-product".into(),
                "--in_ms".into(),
                s("ms"),
                "--in_ortho".into(),
                format!("{out}/ortho.tif"),
                "--out".into(),
                format!("{out}/normalized_ortho.tif"),
            ]
        }
    };
    argv.extend(dem);
    argv
}

/// Renders a `cmdline` header to an argv with the job's variables, as far as these files need the worker's
/// template rules (worker-faas/src/template, which worker-faas/tests/examples.rs runs on the same headers): words
/// split on whitespace, `{{name}}` substituted within a word, a whole word `{{spread list}}` one argument per item.
fn argv(template: &str, variables: &Value) -> Vec<String> {
    assert!(
        !template.contains(['"', '\'', '\\']),
        "these command lines need no quoting: {template}"
    );
    // Whitespace separates words, except inside `{{...}}`.
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut inside = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        let mark = if inside { "}}" } else { "{{" };
        if rest.starts_with(mark) {
            inside = !inside;
            word.push_str(mark);
            rest = &rest[2..];
            continue;
        }
        if c.is_whitespace() && !inside {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        } else {
            word.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    assert!(!inside, "an unclosed {{{{ in {template}");
    if !word.is_empty() {
        words.push(word);
    }
    let mut out = Vec::new();
    for word in &words {
        match word
            .strip_prefix("{{spread ")
            .and_then(|w| w.strip_suffix("}}"))
        {
            Some(name) => {
                let items = variables[name.trim()].as_array().unwrap_or_else(|| {
                    panic!("Expected '{name}' to be a list in the job's variables {variables}")
                });
                out.extend(
                    items
                        .iter()
                        .map(|i| i.as_str().expect("a string").to_owned()),
                );
            }
            None => out.push(render(word, variables)),
        }
    }
    out
}

fn step_function(step: &str) -> &'static str {
    if step == "normalize" {
        "normalize-product"
    } else {
        "otbcli"
    }
}

fn step_timeout(step: &str) -> &'static str {
    if step == "normalize" {
        "PT4H"
    } else {
        "PT2H"
    }
}

fn ms(duration: &str) -> i64 {
    match duration {
        "PT4H" => 4 * 3_600_000,
        _ => 2 * 3_600_000,
    }
}

/// The worker on a receive-task step: checks the task contract, renders the command line, invokes the function and
/// completes the job at once with `{<step>: {callId}}`. Returns the job and its argv.
fn invoke(h: &mut Harness, step: &str, call_id: &str) -> (ActivatedJob, Vec<String>) {
    let job = one_job(h, "faas");
    assert_eq!(job.element_id, step);
    assert_eq!(header(&job, "function"), step_function(step));
    assert_eq!(header(&job, "mode"), "receive-task");
    assert_eq!(header(&job, "messageName"), "function-done");
    assert_eq!(header(&job, "resultVariable"), step);
    assert_eq!(header(&job, "timeout"), step_timeout(step));
    let argv = argv(header(&job, "cmdline"), &job.variables.0);
    complete(h, &job, json!({ step: {"callId": call_id} }));
    (job, argv)
}

/// The worker activating a hold-mode job (`<step>-rerun` in pms-chain, `<step>` in pms-chain-hold): checks the
/// task contract and returns the job (kept, not settled) and its argv.
fn hold(
    h: &mut Harness,
    element: &str,
    step: &str,
    result_variable: &str,
) -> (ActivatedJob, Vec<String>) {
    let job = one_job(h, "faas");
    assert_eq!(job.element_id, element);
    assert_eq!(header(&job, "function"), step_function(step));
    assert_eq!(header(&job, "mode"), "hold");
    assert_eq!(header(&job, "resultVariable"), result_variable);
    assert_eq!(header(&job, "timeout"), step_timeout(step));
    assert!(
        job.custom_headers.0.get("messageName").is_none(),
        "hold mode refuses messageName: {}",
        job.custom_headers.0
    );
    let argv = argv(header(&job, "cmdline"), &job.variables.0);
    (job, argv)
}

/// The worker failing a held job with the function's error (a failure callback or the deadline).
fn fail(h: &mut Harness, job: &ActivatedJob, retries: i32, message: &str) {
    h.ok(Command::FailJob {
        key: job.key,
        retries,
        error_message: message.into(),
        retry_backoff_ms: 30_000,
        variables: Json(json!({})),
    });
}

/// Runs one pms-chain step to success: invoke, check the argv, callback 200.
fn step_ok(h: &mut Harness, step: &str, pair: &Value, call_id: &str) {
    let (_, argv) = invoke(h, step, call_id);
    assert_eq!(argv, expected_argv(step, pair), "{step}");
    callback(h, call_id, 200, json!({"outputs": [step]}), 0);
}

fn call_id(step: &str, n: usize) -> String {
    format!("call-{}{n}", &step[..1])
}

// pms-chain.bpmn ----------------------------------------------------------------------------------------------------

pub(super) fn pms_chain_happy_path() {
    let mut h = deployed(CHAIN);
    let pairs = [
        pms_pair("a", true, false),
        pms_pair("b", false, true),
        // No extension on the P image, an empty DEM: the .geom is appended, no DEM arguments.
        json!({"pan": "/data/pairs/c/IMG_P", "ms": "/data/pairs/c/IMG_MS.TIF", "out": "/data/out/c", "dem": ""}),
    ];
    for (n, pair) in pairs.iter().enumerate() {
        let pi = h.create("pms-chain", pair.clone());
        for step in STEPS {
            let id = call_id(step, n);
            let (_, argv) = invoke(&mut h, step, &id);
            assert_eq!(argv, expected_argv(step, pair), "{step} of {pair}");
            assert!(
                h.activate("faas", 10).is_empty(),
                "the step after {step} waits for its callback"
            );
            callback(&mut h, &id, 200, json!({"outputs": [step]}), 0);
        }
        assert!(h.is_completed(pi));
        assert_eq!(
            h.completed_elements(pi),
            [
                "start",
                "bundle",
                "wait-bundle",
                "bundle-ok",
                "ortho",
                "wait-ortho",
                "ortho-ok",
                "normalize",
                "wait-normalize",
                "normalize-ok",
                "product-ready",
                "pms-chain"
            ]
        );
        let vars = h.final_variables(pi);
        let out = pair["out"].as_str().unwrap();
        assert_eq!(
            vars["product"],
            json!(format!("{out}/normalized_ortho.tif"))
        );
        assert_eq!(
            vars["bundle"],
            json!({"callId": call_id("bundle", n), "status": 200, "ok": true, "durationSeconds": 1.5,
                   "output": {"outputs": ["bundle"]}})
        );
        assert_eq!(vars["ortho"]["ok"], json!(true));
        assert_eq!(vars["normalize"]["callId"], json!(call_id("normalize", n)));
        for rerun in ["bundleRerun", "orthoRerun", "normalizeRerun"] {
            assert!(vars.get(rerun).is_none(), "no re-run: {vars}");
        }
    }
    assert!(h.incidents().is_empty());
    h.assert_empty();
}

#[test]
fn pms_chain_start_event_defaults_geom_and_dem() {
    // How this engine's FEEL treats what the start event's mappings read: a missing or null variable is not
    // `is defined`, "" is defined but empty, `matches`/`replace` take regular expressions.
    let mut h = deployed(CHAIN);
    let cases = [
        (json!({"pan": "/d/IMG_P.TIF"}), "/d/IMG_P.geom", json!([])),
        (
            json!({"pan": "/d/IMG_P.TIF", "geom": null, "dem": null}),
            "/d/IMG_P.geom",
            json!([]),
        ),
        (
            json!({"pan": "/d/IMG_P.TIF", "geom": "", "dem": ""}),
            "/d/IMG_P.geom",
            json!([]),
        ),
        (
            json!({"pan": "/d/v1.2/IMG_P.tif", "geom": "/g/P.geom", "dem": "/d/dem"}),
            "/g/P.geom",
            json!(["-elev.dem", "/d/dem"]),
        ),
        (
            json!({"pan": "/d/v1.2/IMG_P"}),
            "/d/v1.2/IMG_P.geom",
            json!([]),
        ),
        (json!({"pan": "/d/a.b.TIF"}), "/d/a.b.geom", json!([])),
    ];
    for (vars, geom, dem_args) in cases {
        let pi = h.create("pms-chain", vars.clone());
        let live = h.variables(pi);
        assert_eq!(live["geom"], json!(geom), "{vars}");
        assert_eq!(live["demArgs"], dem_args, "{vars}");
        h.ok(Command::CancelProcessInstance { key: pi });
    }
    assert!(h.incidents().is_empty(), "{:?}", h.incidents());
}

/// Drives pms-chain to `step`, whose first call fails (`late`: its callback never comes, else it reports 500), and
/// returns the instance with the hold-mode re-run's job activated, after checking its argv is the step's.
fn chain_until_rerun(h: &mut Harness, pair: &Value, step: &str, late: bool) -> (Key, ActivatedJob) {
    let pi = h.create("pms-chain", pair.clone());
    for s in STEPS {
        if s == step {
            break;
        }
        step_ok(h, s, pair, &call_id(s, 1));
    }
    let (_, first) = invoke(h, step, &call_id(step, 1));
    if late {
        h.advance(ms(step_timeout(step)) - 1);
        assert!(
            h.activate("faas", 10).is_empty(),
            "{step}: still waiting just before the deadline"
        );
        h.advance(1);
    } else {
        callback(h, &call_id(step, 1), 500, json!({"error": OTB_ERROR}), 0);
    }
    let (job, again) = hold(h, &format!("{step}-rerun"), step, &format!("{step}Rerun"));
    assert_eq!(again, first, "the re-run runs the same command line");
    assert_eq!(job.retries, 3);
    (pi, job)
}

#[test]
fn pms_chain_reruns_a_failed_or_late_step_in_hold_mode_and_goes_on() {
    for step in STEPS {
        for late in [false, true] {
            let mut h = deployed(CHAIN);
            let pair = pms_pair("a", true, false);
            let (pi, job) = chain_until_rerun(&mut h, &pair, step, late);
            complete(
                &mut h,
                &job,
                json!({ format!("{step}Rerun"): {"outputs": [step]} }),
            );
            let rest = STEPS.iter().skip_while(|s| **s != step).skip(1);
            for s in rest {
                step_ok(&mut h, s, &pair, &call_id(s, 2));
            }
            assert!(h.is_completed(pi), "{step} late={late}");
            let path = h.completed_elements(pi);
            let rerun = format!("{step}-rerun");
            assert_eq!(count(&path, &rerun), 1, "{path:?}");
            if late {
                assert_visits(
                    &path,
                    &[step, &format!("{step}-deadline"), &rerun, "product-ready"],
                );
                assert_eq!(h.terminated_elements(pi), [format!("wait-{step}")]);
                // The callback arriving after the deadline finds nobody waiting and changes nothing.
                callback(&mut h, &call_id(step, 1), 200, json!({}), 0);
            } else {
                assert_visits(
                    &path,
                    &[
                        &format!("wait-{step}"),
                        &format!("{step}-ok"),
                        &rerun,
                        "product-ready",
                    ],
                );
            }
            let vars = h.final_variables(pi);
            assert_eq!(vars[format!("{step}Rerun")], json!({"outputs": [step]}));
            let first = &vars[step];
            if late {
                assert_eq!(first, &json!({"callId": call_id(step, 1)}));
            } else {
                assert_eq!(
                    first["ok"],
                    json!(false),
                    "{step} keeps the first call's record"
                );
            }
            assert_eq!(vars["product"], json!("/data/out/a/normalized_ortho.tif"));
            assert!(h.incidents().is_empty());
            h.assert_empty();
        }
    }
}

#[test]
fn pms_chain_failed_rerun_ends_in_an_incident_and_goes_on_once_resolved() {
    let mut h = deployed(CHAIN);
    let pair = pms_pair("b", false, true);
    let (pi, job) = chain_until_rerun(&mut h, &pair, "ortho", false);
    // The worker fails the held job with OTB's message; Zeebe retries it after the backoff.
    fail(&mut h, &job, 2, OTB_ERROR);
    assert!(h.activate("faas", 10).is_empty(), "backing off");
    h.advance(30_000);
    let (job, _) = hold(&mut h, "ortho-rerun", "ortho", "orthoRerun");
    assert_eq!(job.retries, 2);
    fail(&mut h, &job, 1, OTB_ERROR);
    h.advance(30_000);
    let (job, _) = hold(&mut h, "ortho-rerun", "ortho", "orthoRerun");
    fail(&mut h, &job, 0, OTB_ERROR);
    let incidents = h.incidents();
    let [(incident, record)] = incidents.as_slice() else {
        panic!("Expected one incident, but found {incidents:?}")
    };
    assert_eq!(record.kind, IncidentKind::JobNoRetries);
    assert_eq!(record.message, OTB_ERROR);
    assert_eq!(record.process_instance_key, pi);
    h.advance(3_600_000);
    assert!(
        h.activate("faas", 10).is_empty(),
        "the incident holds the step"
    );
    // The operator repairs the input, gives retries and resolves the incident: the re-run runs again.
    h.ok(Command::UpdateJobRetries {
        key: job.key,
        retries: 1,
    });
    h.ok(Command::ResolveIncident { key: *incident });
    let (job, argv) = hold(&mut h, "ortho-rerun", "ortho", "orthoRerun");
    assert_eq!(argv, expected_argv("ortho", &pair));
    complete(&mut h, &job, json!({"orthoRerun": {"outputs": ["ortho"]}}));
    step_ok(&mut h, "normalize", &pair, "call-n2");
    assert!(h.is_completed(pi));
    assert_visits(
        &h.completed_elements(pi),
        &[
            "wait-ortho",
            "ortho-ok",
            "ortho-rerun",
            "normalize",
            "product-ready",
        ],
    );
    assert!(h.incidents().is_empty());
    assert_eq!(
        h.final_variables(pi)["product"],
        json!("/data/out/b/normalized_ortho.tif")
    );
    h.assert_empty();
}

// pms-chain-hold.bpmn -----------------------------------------------------------------------------------------------

pub(super) fn pms_chain_hold() {
    let mut h = deployed(HOLD);
    for pair in [pms_pair("a", true, false), pms_pair("b", false, true)] {
        let pi = h.create("pms-chain-hold", pair.clone());
        for step in STEPS {
            let (job, argv) = hold(&mut h, step, step, step);
            assert_eq!(job.retries, 3);
            assert_eq!(argv, expected_argv(step, &pair));
            assert!(h.activate("faas", 10).is_empty(), "one step at a time");
            complete(&mut h, &job, json!({ step: {"outputs": [step]} }));
        }
        assert!(h.is_completed(pi));
        assert_eq!(
            h.completed_elements(pi),
            [
                "start",
                "bundle",
                "ortho",
                "normalize",
                "product-ready",
                "pms-chain-hold"
            ]
        );
        let vars = h.final_variables(pi);
        let out = pair["out"].as_str().unwrap();
        assert_eq!(
            vars["product"],
            json!(format!("{out}/normalized_ortho.tif"))
        );
        assert_eq!(vars["ortho"], json!({"outputs": ["ortho"]}));
    }
    assert!(h.incidents().is_empty());
    h.assert_empty();
}

#[test]
fn pms_chain_hold_failure_ends_in_an_incident_and_goes_on_once_resolved() {
    let mut h = deployed(HOLD);
    let pair = pms_pair("a", true, false);
    let pi = h.create("pms-chain-hold", pair.clone());
    let (job, _) = hold(&mut h, "bundle", "bundle", "bundle");
    complete(&mut h, &job, json!({"bundle": {}}));
    for retries in [2, 1, 0] {
        let (job, argv) = hold(&mut h, "ortho", "ortho", "ortho");
        assert_eq!(argv, expected_argv("ortho", &pair));
        assert_eq!(job.retries, retries + 1);
        fail(&mut h, &job, retries, OTB_ERROR);
        h.advance(30_000);
    }
    let (incident, record) = h.incidents().remove(0);
    assert_eq!(record.kind, IncidentKind::JobNoRetries);
    assert_eq!(record.message, OTB_ERROR);
    h.ok(Command::UpdateJobRetries {
        key: record.job_key,
        retries: 1,
    });
    h.ok(Command::ResolveIncident { key: incident });
    let (job, _) = hold(&mut h, "ortho", "ortho", "ortho");
    complete(&mut h, &job, json!({"ortho": {}}));
    let (job, _) = hold(&mut h, "normalize", "normalize", "normalize");
    complete(&mut h, &job, json!({"normalize": {}}));
    assert!(h.is_completed(pi));
    assert!(h.incidents().is_empty());
    h.assert_empty();
}

// pms-batch.bpmn ----------------------------------------------------------------------------------------------------

/// The iteration-local variables of pms-batch: none may reach the process.
const ITERATION_LOCALS: &[&str] = &[
    "pan",
    "ms",
    "out",
    "geom",
    "demArgs",
    "bundle",
    "ortho",
    "normalize",
    "bundleRerun",
    "orthoRerun",
    "normalizeRerun",
    "product",
    "pair",
    "loopCounter",
];

/// Which pair (index into `pairs`) a job belongs to, by its `out`.
fn pair_of(job: &ActivatedJob, pairs: &[Value]) -> usize {
    pairs
        .iter()
        .position(|p| p["out"] == job.variables.0["out"])
        .unwrap_or_else(|| panic!("a job of no pair: {}", job.variables.0))
}

/// Activates every waiting `faas` job, checks each is `step` with its own pair's argv, completes it with a call id
/// naming the pair, and returns the call ids by pair.
fn invoke_all(
    h: &mut Harness,
    step: &str,
    pairs: &[Value],
    expected: usize,
) -> Vec<(usize, String)> {
    let jobs = h.activate("faas", 10);
    assert_eq!(
        jobs.len(),
        expected,
        "one {step} job per waiting pair: {jobs:?}"
    );
    let mut calls = Vec::new();
    for job in &jobs {
        assert_eq!(job.element_id, step);
        assert_eq!(header(job, "mode"), "receive-task");
        let n = pair_of(job, pairs);
        assert_eq!(
            argv(header(job, "cmdline"), &job.variables.0),
            expected_argv(step, &pairs[n])
        );
        if step != "bundle" {
            // The previous step's callback of this very pair, not another iteration's.
            let prev = if step == "ortho" { "bundle" } else { "ortho" };
            assert_eq!(
                job.variables.0[prev]["callId"],
                json!(format!("{}-p{n}", call_id(prev, 0)))
            );
        }
        let id = format!("{}-p{n}", call_id(step, 0));
        complete(h, job, json!({ step: {"callId": id} }));
        calls.push((n, id));
    }
    calls.sort();
    calls
}

fn batch_pairs() -> Vec<Value> {
    vec![
        pms_pair("p0", true, false),
        pms_pair("p1", false, true),
        pms_pair("p2", true, true),
    ]
}

pub(super) fn pms_batch() {
    let mut h = deployed(BATCH);
    let pairs = batch_pairs();
    let pi = h.create("pms-batch", json!({ "pairs": pairs }));
    // All pairs run at once; their callbacks come back in any order.
    let bundles = invoke_all(&mut h, "bundle", &pairs, 3);
    for n in [2, 0] {
        callback(&mut h, &bundles[n].1, 200, json!({}), 0);
    }
    let orthos = invoke_all(&mut h, "ortho", &pairs, 2);
    assert_eq!(orthos.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [0, 2]);
    callback(&mut h, &orthos[1].1, 200, json!({}), 0); // p2's ortho
    let normalizes = invoke_all(&mut h, "normalize", &pairs, 1);
    callback(&mut h, &bundles[1].1, 200, json!({}), 0); // p1's bundle, late
    let p1_ortho = invoke_all(&mut h, "ortho", &pairs, 1);
    callback(&mut h, &normalizes[0].1, 200, json!({}), 0); // p2 done
    callback(&mut h, &p1_ortho[0].1, 200, json!({}), 0);
    callback(&mut h, &orthos[0].1, 200, json!({}), 0); // p0's ortho
    let rest = invoke_all(&mut h, "normalize", &pairs, 2);
    assert!(!h.is_completed(pi));
    for (_, id) in rest.iter().rev() {
        callback(&mut h, id, 200, json!({}), 0);
    }
    assert!(h.is_completed(pi));
    let vars = h.final_variables(pi);
    assert_eq!(
        vars["products"],
        json!([
            "/data/out/p0/normalized_ortho.tif",
            "/data/out/p1/normalized_ortho.tif",
            "/data/out/p2/normalized_ortho.tif"
        ]),
        "in the order of pairs"
    );
    for local in ITERATION_LOCALS {
        assert!(
            vars.get(*local).is_none(),
            "'{local}' stays local to its iteration: {vars}"
        );
    }
    let path = h.completed_elements(pi);
    assert_eq!(
        count(&path, "pair-chain"),
        4,
        "three iterations and the body: {path:?}"
    );
    assert_eq!(count(&path, "chain-end"), 3);
    assert_skips(&path, &["bundle-rerun", "ortho-rerun", "normalize-rerun"]);
    assert_visits(
        &path,
        &["start", "pair-chain", "products-ready", "pms-batch"],
    );
    assert!(h.incidents().is_empty());
    h.assert_empty();
}

#[test]
fn pms_batch_failed_pair_holds_an_incident_while_the_others_finish() {
    let mut h = deployed(BATCH);
    let pairs: Vec<Value> = batch_pairs().into_iter().take(2).collect();
    let pi = h.create("pms-batch", json!({ "pairs": pairs }));
    let bundles = invoke_all(&mut h, "bundle", &pairs, 2);
    callback(&mut h, &bundles[0].1, 200, json!({}), 0);
    callback(
        &mut h,
        &bundles[1].1,
        500,
        json!({"error": "bad P image"}),
        0,
    );
    // p1's bundle re-runs in hold mode while p0 goes on.
    let jobs = h.activate("faas", 10);
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let rerun = jobs
        .iter()
        .find(|j| j.element_id == "bundle-rerun")
        .expect("p1's re-run");
    let ortho = jobs
        .iter()
        .find(|j| j.element_id == "ortho")
        .expect("p0's ortho");
    assert_eq!(pair_of(rerun, &pairs), 1);
    assert_eq!(pair_of(ortho, &pairs), 0);
    assert_eq!(ortho.variables.0["bundle"]["callId"], json!(bundles[0].1));
    assert_eq!(rerun.variables.0["bundle"]["callId"], json!(bundles[1].1));
    assert_eq!(
        argv(header(rerun, "cmdline"), &rerun.variables.0),
        expected_argv("bundle", &pairs[1])
    );
    fail(
        &mut h,
        rerun,
        0,
        "Expected otbcli_BundleToPerfectSensor to succeed, but it exited with code 1",
    );
    let incidents = h.incidents();
    assert_eq!(incidents.len(), 1);
    complete(&mut h, ortho, json!({"ortho": {"callId": "call-o-p0"}}));
    callback(&mut h, "call-o-p0", 200, json!({}), 0);
    let normalize = one_job(&mut h, "faas");
    assert_eq!(normalize.element_id, "normalize");
    complete(
        &mut h,
        &normalize,
        json!({"normalize": {"callId": "call-n-p0"}}),
    );
    callback(&mut h, "call-n-p0", 200, json!({}), 0);
    assert!(!h.is_completed(pi), "p1 waits in its incident");
    // Resolved: p1 goes on with its own variables.
    h.ok(Command::UpdateJobRetries {
        key: rerun.key,
        retries: 1,
    });
    h.ok(Command::ResolveIncident {
        key: incidents[0].0,
    });
    let rerun = one_job(&mut h, "faas");
    assert_eq!(rerun.element_id, "bundle-rerun");
    complete(&mut h, &rerun, json!({"bundleRerun": {}}));
    for step in ["ortho", "normalize"] {
        let (job, argv) = invoke(&mut h, step, &format!("{}-p1", call_id(step, 0)));
        assert_eq!(argv, expected_argv(step, &pairs[1]));
        assert_eq!(
            job.variables.0["bundle"]["ok"],
            json!(false),
            "p1's own bundle record"
        );
        callback(
            &mut h,
            &format!("{}-p1", call_id(step, 0)),
            200,
            json!({}),
            0,
        );
    }
    assert!(h.is_completed(pi));
    assert_eq!(
        h.final_variables(pi)["products"],
        json!([
            "/data/out/p0/normalized_ortho.tif",
            "/data/out/p1/normalized_ortho.tif"
        ])
    );
    let vars = h.final_variables(pi);
    for local in ITERATION_LOCALS {
        assert!(
            vars.get(*local).is_none(),
            "'{local}' stays local to its iteration: {vars}"
        );
    }
    h.assert_empty();
}
