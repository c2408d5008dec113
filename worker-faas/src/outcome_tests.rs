use serde_json::json;

use super::*;
use crate::callback::Attempt;

const NOW: u64 = 1_700_000_000;

fn claims(mode: Mode, retries: i32, result_variable: Option<&str>) -> Claims {
    Claims {
        call_id: "call-7".into(),
        job_key: 42,
        mode,
        retries,
        result_variable: result_variable.map(str::to_owned),
        expires_at: NOW + 7200,
        trace: Default::default(),
    }
}

fn receive() -> Mode {
    Mode::ReceiveTask {
        message_name: "ortho-done".into(),
    }
}

fn report(status: u16, attempt: Option<(u32, u32)>) -> CallbackReport {
    CallbackReport {
        call_id: "call-7".into(),
        function: Some("otbcli".into()),
        status,
        duration_seconds: Some(1.5),
        attempt: attempt.map(|(retry, max)| Attempt { retry, max }),
        output: if status < 300 {
            json!({"ortho": "/o.tif"})
        } else {
            json!("boom")
        },
        output_truncated: false,
        error_text: if status < 300 {
            String::new()
        } else {
            "ERROR: boom".into()
        },
    }
}

/// The decision's kind and its key numbers, for compact tables.
fn summary(d: &CallbackDecision) -> String {
    match d {
        CallbackDecision::Publish(p) => format!("publish ok={}", p.variables["ok"]),
        CallbackDecision::Complete(_) => "complete".into(),
        CallbackDecision::Fail(f) => format!("fail retries={}", f.retries),
        CallbackDecision::AwaitLastAttempt { retry, max } => format!("await {retry}/{max}"),
    }
}

#[test]
fn callback_decisions_by_status_mode_retries_and_attempt() {
    // status, hold mode?, job retries, OpenFaaS Pro (X-Retry, X-Retry-Max), decision
    type Row = (u16, bool, i32, Option<(u32, u32)>, &'static str);
    let table: &[Row] = &[
        (200, false, 3, None, "publish ok=true"),
        (204, false, 3, None, "publish ok=true"),
        (500, false, 3, None, "publish ok=false"),
        (404, false, 1, None, "publish ok=false"),
        (503, false, 0, None, "publish ok=false"),
        (200, true, 3, None, "complete"),
        (201, true, 1, None, "complete"),
        (500, true, 3, None, "fail retries=2"),
        (500, true, 1, None, "fail retries=0"),
        (500, true, 0, None, "fail retries=0"),
        (404, true, 3, None, "fail retries=2"),
        (302, true, 3, None, "fail retries=2"),
        // OpenFaaS Pro: a retryable status with attempts left is not final, whatever the mode.
        (503, true, 3, Some((1, 5)), "await 1/5"),
        (429, false, 3, Some((4, 5)), "await 4/5"),
        (408, true, 3, Some((2, 3)), "await 2/3"),
        (500, true, 3, Some((5, 5)), "fail retries=2"),
        (504, false, 3, Some((5, 5)), "publish ok=false"),
        // Not retryable by Pro: final at once.
        (400, true, 3, Some((1, 5)), "fail retries=2"),
        (200, true, 3, Some((1, 5)), "complete"),
        (200, false, 3, Some((1, 5)), "publish ok=true"),
    ];
    for (status, hold, retries, attempt, expected) in table {
        let mode = if *hold { Mode::Hold } else { receive() };
        let d = on_callback(
            &claims(mode, *retries, None),
            &report(*status, *attempt),
            &Policy::default(),
            NOW,
        );
        assert_eq!(
            summary(&d),
            *expected,
            "status {status} hold {hold} retries {retries} attempt {attempt:?}"
        );
    }
}

#[test]
fn receive_task_mode_publishes_the_call_with_its_record() {
    let d = on_callback(
        &claims(receive(), 3, None),
        &report(200, None),
        &Policy::default(),
        NOW,
    );
    assert_eq!(
        d,
        CallbackDecision::Publish(PublishMessage {
            name: "ortho-done".into(),
            correlation_key: "call-7".into(),
            message_id: "call-7".into(),
            ttl: Duration::from_secs(7200),
            variables: json!({"status": 200, "ok": true, "durationSeconds": 1.5, "output": {"ortho": "/o.tif"}}),
        })
    );
    let mut truncated = report(500, None);
    truncated.output_truncated = true;
    truncated.duration_seconds = None;
    let CallbackDecision::Publish(p) = on_callback(
        &claims(receive(), 3, Some("ortho")),
        &truncated,
        &Policy::default(),
        NOW,
    ) else {
        panic!("expected a publish")
    };
    assert_eq!(
        p.variables,
        json!({"ortho": {
            "status": 500, "ok": false, "durationSeconds": null, "output": "boom", "outputTruncated": true,
            "callId": "call-7"
        }})
    );
}

#[test]
fn a_message_lives_until_the_token_expires_but_at_least_the_minimum() {
    let policy = Policy::default();
    let ttl = |now| match on_callback(
        &claims(receive(), 3, None),
        &report(200, None),
        &policy,
        now,
    ) {
        CallbackDecision::Publish(p) => p.ttl,
        other => panic!("{other:?}"),
    };
    assert_eq!(ttl(NOW), Duration::from_secs(7200));
    assert_eq!(ttl(NOW + 7200 - 10), Duration::from_secs(60));
    assert_eq!(ttl(NOW + 9999), Duration::from_secs(60));
}

#[test]
fn hold_mode_completes_with_the_result_variable_or_nothing() {
    let policy = Policy::default();
    let complete =
        |rv| match on_callback(&claims(Mode::Hold, 3, rv), &report(200, None), &policy, NOW) {
            CallbackDecision::Complete(c) => c,
            other => panic!("{other:?}"),
        };
    assert_eq!(
        complete(Some("ortho")),
        CompleteJob {
            job_key: 42,
            variables: json!({"ortho": {"ortho": "/o.tif"}})
        }
    );
    assert_eq!(complete(None).variables, json!({}));
}

#[test]
fn hold_mode_fails_with_the_functions_error_text() {
    let policy = Policy::default();
    let fail = |r: &CallbackReport, retries| match on_callback(
        &claims(Mode::Hold, retries, None),
        r,
        &policy,
        NOW,
    ) {
        CallbackDecision::Fail(f) => f,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        fail(&report(500, None), 3),
        FailJob {
            job_key: 42,
            retries: 2,
            error_message: "Expected function 'otbcli' to succeed, but it answered HTTP 500 after 1.5 s: ERROR: boom".into(),
            retry_backoff: Duration::from_secs(30),
        }
    );
    // The last retry raises an incident: no backoff then.
    assert_eq!(fail(&report(500, None), 1).retry_backoff, Duration::ZERO);
    let mut silent = report(503, None);
    silent.error_text.clear();
    silent.duration_seconds = None;
    silent.function = None;
    assert_eq!(
        fail(&silent, 3).error_message,
        "Expected function '(unnamed)' to succeed, but it answered HTTP 503: no output (503: the function could not be reached)"
    );
}

#[test]
fn invocation_decisions_by_answer_and_attempt() {
    let policy = Policy::default();
    let ms = |n| InvocationDecision::RetryAfter(Duration::from_millis(n));
    let answered = |status: u16| InvocationResult::Answered {
        status,
        body: "no such function".into(),
    };
    let refused = InvocationResult::Unreachable {
        reason: "connection refused".into(),
    };
    let table: &[(InvocationResult, u32, Option<InvocationDecision>)] = &[
        (answered(202), 1, Some(InvocationDecision::Accepted)),
        (answered(200), 5, Some(InvocationDecision::Accepted)),
        (answered(500), 1, Some(ms(500))),
        (answered(502), 2, Some(ms(1000))),
        (answered(503), 3, Some(ms(2000))),
        (answered(429), 4, Some(ms(4000))),
        (refused.clone(), 1, Some(ms(500))),
        (refused.clone(), 4, Some(ms(4000))),
        (answered(500), 5, None),
        (refused.clone(), 5, None),
        (answered(400), 1, None),
        (answered(404), 1, None),
        (answered(301), 1, None),
    ];
    for (result, attempt, expected) in table {
        let inv = Invocation {
            job_key: 9,
            job_retries: 3,
            function: "otbcli",
            attempt: *attempt,
        };
        let d = on_invocation(&inv, result, &policy, Jitter::None);
        match expected {
            Some(e) => assert_eq!(&d, e, "{result:?} attempt {attempt}"),
            None => assert!(
                matches!(&d, InvocationDecision::Fail(f) if f.retries == 2 && f.job_key == 9),
                "{result:?} attempt {attempt}: {d:?}"
            ),
        }
    }
}

#[test]
fn a_failed_invocation_names_the_function_and_the_gateways_answer() {
    let policy = Policy::default();
    let inv = |attempt| Invocation {
        job_key: 9,
        job_retries: 1,
        function: "otbcli",
        attempt,
    };
    let message = |d: InvocationDecision| match d {
        InvocationDecision::Fail(f) => (f.retries, f.error_message),
        other => panic!("{other:?}"),
    };
    let bad = InvocationResult::Answered {
        status: 400,
        body: "bad X-Callback-Url\n".into(),
    };
    assert_eq!(
        message(on_invocation(&inv(1), &bad, &policy, Jitter::None)),
        (
            0,
            "Expected the gateway to accept a call of function 'otbcli', but it gave HTTP 400: bad X-Callback-Url".into()
        )
    );
    let empty = InvocationResult::Answered {
        status: 500,
        body: String::new(),
    };
    assert_eq!(
        message(on_invocation(&inv(5), &empty, &policy, Jitter::None)).1,
        "Expected the gateway to accept a call of function 'otbcli', but it gave HTTP 500: (empty), after 5 attempts"
    );
    let down = InvocationResult::Unreachable {
        reason: "timed out after 10 s".into(),
    };
    assert_eq!(
        message(on_invocation(&inv(5), &down, &policy, Jitter::None)).1,
        "Expected the gateway to accept a call of function 'otbcli', but it gave no answer (timed out after 10 s), after 5 attempts"
    );
}

#[test]
fn backoff_doubles_is_capped_and_jitter_stays_within_half() {
    let policy = Policy::default();
    let exact: Vec<u128> = (1..=9)
        .map(|a| backoff(a, &policy, Jitter::None).as_millis())
        .collect();
    assert_eq!(
        exact,
        [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
    );
    assert_eq!(
        backoff(u32::MAX, &policy, Jitter::None),
        Duration::from_secs(30)
    );
    assert_eq!(
        backoff(3, &policy, Jitter::Equal(0.0)),
        Duration::from_millis(1000)
    );
    assert_eq!(
        backoff(3, &policy, Jitter::Equal(0.5)),
        Duration::from_millis(1500)
    );
    assert_eq!(
        backoff(3, &policy, Jitter::Equal(1.0)),
        Duration::from_millis(2000)
    );
    assert_eq!(
        backoff(3, &policy, Jitter::Equal(7.0)),
        Duration::from_millis(2000),
        "clamped"
    );
}

#[test]
fn deadlines_and_incidents() {
    let policy = Policy::default();
    let f = on_deadline(42, 2, "otbcli", "PT2H", &policy);
    assert_eq!(
        (f.retries, f.error_message.as_str(), f.retry_backoff),
        (
            1,
            "Expected a callback from function 'otbcli' within PT2H, but none arrived",
            Duration::from_secs(30)
        )
    );
    let failure = Failure::MissingVariable {
        element: "ortho".into(),
        place: crate::Place::word("cmdline", 3, "{{pan}}"),
        variable: "pan".into(),
    };
    assert_eq!(
        incident(42, &failure),
        FailJob {
            job_key: 42,
            retries: 0,
            error_message: "element 'ortho': Expected variable 'pan' for word 3 `{{pan}}` of header 'cmdline', \
                            but the job has no such variable"
                .into(),
            retry_backoff: Duration::ZERO,
        }
    );
}

#[test]
fn duplicates_settle_as_already_done() {
    use Command::*;
    let table = [
        (CompleteJob, code::OK, Settlement::Done),
        (CompleteJob, code::NOT_FOUND, Settlement::AlreadyDone),
        (FailJob, code::NOT_FOUND, Settlement::AlreadyDone),
        (UpdateJobTimeout, code::NOT_FOUND, Settlement::AlreadyDone),
        (
            PublishMessage,
            code::ALREADY_EXISTS,
            Settlement::AlreadyDone,
        ),
        (PublishMessage, code::OK, Settlement::Done),
        (PublishMessage, code::NOT_FOUND, Settlement::Failed),
        (CompleteJob, code::ALREADY_EXISTS, Settlement::Failed),
        (FailJob, 9, Settlement::Failed),
        (CompleteJob, 14, Settlement::Failed),
    ];
    for (command, grpc, expected) in table {
        assert_eq!(settle(command, grpc), expected, "{command:?} {grpc}");
    }
}

#[test]
fn an_accepted_call_completes_in_receive_task_mode_and_holds_otherwise() {
    let mut headers: std::collections::BTreeMap<String, String> =
        [("function", "otbcli"), ("mode", "receive-task")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
    let task = |h: &std::collections::BTreeMap<String, String>| {
        Task::from_headers(h, "ortho", "p").unwrap()
    };
    let hour = Duration::from_secs(3600);
    let variables = |d| match d {
        AcceptedDecision::Complete(c) => (c.job_key, c.variables),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        variables(on_accepted(&task(&headers), 42, "call-7", hour)),
        (42, json!({"callId": "call-7"}))
    );
    headers.insert("resultVariable".into(), "ortho".into());
    assert_eq!(
        variables(on_accepted(&task(&headers), 42, "call-7", hour)),
        (42, json!({"ortho": {"callId": "call-7"}}))
    );
    headers.insert("mode".into(), "hold".into());
    assert_eq!(
        on_accepted(&task(&headers), 42, "call-7", hour),
        AcceptedDecision::Hold {
            job_key: 42,
            job_timeout: Duration::from_secs(3660)
        }
    );
}
