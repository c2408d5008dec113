use std::collections::BTreeMap;

use super::*;

fn task(pairs: &[(&str, &str)]) -> Result<Task, Failure> {
    let headers: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Task::from_headers(&headers, "ortho", "eo-chain")
}

fn message(pairs: &[(&str, &str)]) -> String {
    task(pairs).unwrap_err().to_string()
}

#[test]
fn a_function_alone_gets_every_default() {
    let t = task(&[("function", "otbcli")]).unwrap();
    assert_eq!(t.function, "otbcli");
    assert_eq!(t.element_id, "ortho");
    assert_eq!(t.bpmn_process_id, "eo-chain");
    assert_eq!(t.backend, Backend::OpenFaas);
    assert_eq!(t.payload, Payload::Variables);
    assert_eq!(t.mode, Mode::Hold);
    assert_eq!(t.timeout, DEFAULT_TIMEOUT);
    assert_eq!(t.timeout.add_to(0), Some(3_600_000));
    assert_eq!(t.result_variable, None);
    assert_eq!(t.kubernetes, None);
}

#[test]
fn every_header_is_read() {
    let t = task(&[
        ("function", "otbcli.eo-fn"),
        ("backend", "local"),
        ("cmdline", "otbcli_OrthoRectification -io.in {{pan}}"),
        ("mode", "receive-task"),
        ("messageName", "ortho-done"),
        ("timeout", "P1DT30M"),
        ("resultVariable", "ortho_result"),
        ("x-other-tool", "ignored"),
    ])
    .unwrap();
    assert_eq!(t.function, "otbcli.eo-fn");
    assert_eq!(t.backend, Backend::Local);
    assert!(matches!(t.payload, Payload::Cmdline(_)));
    assert_eq!(
        t.mode,
        Mode::ReceiveTask {
            message_name: "ortho-done".into()
        }
    );
    assert_eq!(t.timeout.add_to(0), Some(86_400_000 + 1_800_000));
    assert_eq!(t.result_variable.as_deref(), Some("ortho_result"));
}

#[test]
fn receive_task_mode_has_a_default_message_name() {
    let t = task(&[("function", "otbcli"), ("mode", "receive-task")]).unwrap();
    assert_eq!(
        t.mode,
        Mode::ReceiveTask {
            message_name: "function-done".into()
        }
    );
    assert_eq!(t.mode.as_str(), "receive-task");
}

#[test]
fn empty_values_count_as_absent_and_values_are_trimmed() {
    let t = task(&[("function", " otbcli "), ("backend", ""), ("timeout", " ")]).unwrap();
    assert_eq!(
        (t.function.as_str(), t.backend, t.timeout),
        ("otbcli", Backend::OpenFaas, DEFAULT_TIMEOUT)
    );
    assert_eq!(
        message(&[("function", "  ")]),
        "element 'ortho': Expected header 'function' (the function to run), but the task has no such header"
    );
}

#[test]
fn a_blank_cmdline_is_no_cmdline() {
    assert_eq!(
        task(&[("function", "f"), ("cmdline", " \n ")])
            .unwrap()
            .payload,
        Payload::Variables
    );
}

#[test]
fn a_body_template_is_compiled() {
    let t = task(&[
        ("function", "normalize"),
        ("body", r#"{"in": {{json input}}}"#),
    ])
    .unwrap();
    let Payload::Body(body) = t.payload else {
        panic!("expected a body")
    };
    assert_eq!(
        body.render(&serde_json::json!({"input": [1, "a"]}))
            .unwrap(),
        r#"{"in": [1,"a"]}"#
    );
}

#[test]
fn kubernetes_reads_its_container_settings() {
    let t = task(&[
        ("function", "ortho-big"),
        ("backend", "kubernetes"),
        ("image", "registry.example/otb:9.1"),
        ("cpu", "500m"),
        ("memory", "8Gi"),
    ])
    .unwrap();
    assert_eq!(
        t.kubernetes,
        Some(Kubernetes {
            image: "registry.example/otb:9.1".into(),
            cpu: Some("500m".into()),
            memory: Some("8Gi".into())
        })
    );
    let t = task(&[
        ("function", "f"),
        ("backend", "kubernetes"),
        ("image", "otb"),
    ])
    .unwrap();
    assert_eq!(t.kubernetes.unwrap().cpu, None);
}

#[test]
fn contract_errors_name_the_element_the_header_and_what_was_expected() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("function", "f"), ("timeout", "2 hours")],
            "element 'ortho': Expected header 'timeout' to be a positive ISO-8601 duration such as PT2H, but found '2 hours'",
        ),
        (
            &[("function", "f"), ("timeout", "PT0S")],
            "element 'ortho': Expected header 'timeout' to be a positive ISO-8601 duration such as PT2H, but found 'PT0S'",
        ),
        (
            &[("function", "f"), ("backend", "lambda")],
            "element 'ortho': Expected header 'backend' to be one of 'openfaas', 'kubernetes', 'local', but found 'lambda'",
        ),
        (
            &[("function", "f"), ("mode", "async")],
            "element 'ortho': Expected header 'mode' to be one of 'hold', 'receive-task', but found 'async'",
        ),
        (
            &[("function", "../system/functions")],
            "element 'ortho': Expected header 'function' to be a function name such as 'otbcli' or 'otbcli.eo-fn' (lowercase letters, digits and '-'), but found '../system/functions'",
        ),
        (
            &[("function", "f"), ("cmdline", "a"), ("body", "b")],
            "element 'ortho': Expected at most one of the headers 'cmdline' and 'body', but found both",
        ),
        (
            &[("function", "f"), ("messageName", "m")],
            "element 'ortho': Expected header 'messageName' only with mode 'receive-task', but the task has mode 'hold'",
        ),
        (
            &[("function", "f"), ("memory", "8Gi")],
            "element 'ortho': Expected header 'memory' only with backend 'kubernetes', but the task has backend 'openfaas'",
        ),
        (
            &[("function", "f"), ("backend", "local"), ("image", "otb")],
            "element 'ortho': Expected header 'image' only with backend 'kubernetes', but the task has backend 'local'",
        ),
        (
            &[("function", "f"), ("backend", "kubernetes")],
            "element 'ortho': Expected header 'image' (the container image, required by backend 'kubernetes'), but the task has no such header",
        ),
        (
            &[("function", "f"), ("backend", "kubernetes"), ("image", "otb"), ("body", "{}")],
            "element 'ortho': Expected header 'body' only with backend 'openfaas' or 'local', but the task has backend 'kubernetes'",
        ),
        (
            &[("function", "f"), ("backend", "kubernetes"), ("image", "otb"), ("memory", "8GB")],
            "element 'ortho': Expected header 'memory' to be a Kubernetes quantity such as '2', '500m' or '8Gi' (the unit is one of Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent such as e3), but found '8GB'",
        ),
        (
            &[("function", "f"), ("backend", "kubernetes"), ("image", "otb"), ("cpu", "-1")],
            "element 'ortho': Expected header 'cpu' to be a Kubernetes quantity such as '2', '500m' or '8Gi' (a resource quantity cannot be signed), but found '-1'",
        ),
        (
            &[("function", "f"), ("backend", "kubernetes"), ("image", "otb"), ("mode", "receive-task")],
            "element 'ortho': Expected header 'mode' to be 'hold' with backend 'kubernetes' (the worker completes the job when its Job ends; no callback publishes a message), but found 'receive-task'",
        ),
        (
            &[("function", "f"), ("resultVariable", "out.tif")],
            "element 'ortho': Expected header 'resultVariable' to be a variable name such as 'ortho' (letters, digits and '_', not starting with a digit), but found 'out.tif'",
        ),
        (
            &[("function", "f"), ("cmdline", "echo 'unterminated")],
            "element 'ortho': Expected header 'cmdline' to be a command line, but the quote ' opened at character 6 is not closed",
        ),
    ];
    for (headers, expected) in cases {
        assert_eq!(&message(headers), expected, "{headers:?}");
    }
}

#[test]
fn function_names_are_dns_labels() {
    for ok in [
        "otbcli",
        "a",
        "otb-cli2",
        "otbcli.openfaas-fn",
        &"a".repeat(63),
    ] {
        assert!(is_function_name(ok), "{ok}");
    }
    for bad in [
        "",
        "Otbcli",
        "otb_cli",
        "-otb",
        "otb-",
        "a.b.c",
        "a/b",
        "a?x=1",
        "a..b",
        &"a".repeat(64),
        "a b",
    ] {
        assert!(!is_function_name(bad), "{bad}");
    }
}
