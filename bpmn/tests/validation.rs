//! The invalid corpus (`tests/invalid/*.bpmn`, one problem family per file, saved as Camunda Modeler 5 saves them):
//! every file's problems, exactly, in order. Each expectation is (line, column, element id, message fragment); the
//! positions were read off the files by hand and point at the element's start tag (`<`) or at its offending child
//! (the timer's `timeDuration`, the `zeebe:input`, the `zeebe:subscription`, ...).

use std::path::{Path, PathBuf};

use apsis_bpmn::{compile, read, Error, Problem};

/// (line, column, element id, a fragment of the message).
type Expect = (u32, u32, Option<&'static str>, &'static str);

#[rustfmt::skip]
const CASES: &[(&str, &[Expect])] = &[
    ("no-task-definition.bpmn", &[
        (7, 5, Some("charge-card"), "Expected bpmn:serviceTask to have a 'zeebe:taskDefinition' with a job 'type', but found none"),
        (11, 5, Some("send-receipt"), "Expected bpmn:sendTask to have a 'zeebe:taskDefinition' with a job 'type', but found none"),
    ]),
    ("empty-job-type.bpmn", &[
        (9, 9, Some("empty-type"), "Expected 'zeebe:taskDefinition' to have a non-empty 'type', but it is empty"),
        (16, 9, Some("blank-type"), "Expected 'zeebe:taskDefinition' to have a non-empty 'type', but it is empty"),
        (23, 9, Some("no-type"), "Expected 'zeebe:taskDefinition' to have a 'type', but it has none"),
    ]),
    ("unknown-flow-target.bpmn", &[
        (15, 5, Some("Flow_2"), "Expected 'targetRef' to reference a flow node, but found no element with id 'ship-order'"),
        (16, 5, Some("Flow_3"), "Expected 'sourceRef' to reference a flow node, but found no element with id 'ship-order'"),
    ]),
    ("flow-crosses-subprocess.bpmn", &[
        (24, 7, Some("Flow_escape"), "Expected 'targetRef' to reference a flow node in the same scope as the sequence flow, but 'end' is in another (sub)process"),
        (33, 5, Some("Flow_shortcut"), "Expected 'targetRef' to reference a flow node in the same scope as the sequence flow, but 'fix' is in another (sub)process"),
    ]),
    ("bad-feel.bpmn", &[
        (9, 9, Some("fetch-quote"), "Expected the job type to be a static value or a valid FEEL expression, but failed to parse expression '\"quote-\" +'"),
        (11, 11, Some("fetch-quote"), "Expected the input source for 'customerId' to be a static value or a valid FEEL expression, but failed to parse expression 'customer.(id'"),
        (30, 5, Some("Flow_expensive"), "Expected the condition to be a valid FEEL expression, but failed to parse expression '(quote.amount > 1000'"),
    ]),
    ("static-condition.bpmn", &[
        (19, 5, Some("Flow_yes"), "Expected the condition to be a FEEL expression starting with '=' (e.g. '=stock > 0'), but found the static value 'stock > 0'"),
    ]),
    ("bad-timer-values.bpmn", &[
        (7, 9, Some("every-night"), "Expected a timer cycle like 'R5/PT10S' or a cron expression, but found 'every night at 2'"),
        (14, 9, Some("wait-a-bit"), "Expected a timer duration like 'PT10S' or 'P1DT2H', but found 'PT5X'"),
        (21, 9, Some("wait-until"), "Expected a timer date like '2019-10-01T12:00:00Z'"),
    ]),
    ("timer-cycle-not-allowed.bpmn", &[
        (15, 9, Some("cool-down"), "Expected a timeDuration or timeDate on an intermediate catch event, but found a timeCycle"),
        (24, 9, Some("escalate"), "Expected a timeDuration or timeDate on an interrupting boundary event, but found a timeCycle (only a non-interrupting boundary event may repeat)"),
    ]),
    ("missing-correlation-key.bpmn", &[
        (31, 3, Some("Message_payment"), "Expected the message to have a 'zeebe:subscription' with a 'correlationKey', because a catch event or receive task waits for it, but found none"),
        (34, 7, Some("Message_confirmation"), "Expected 'zeebe:subscription' to have a non-empty 'correlationKey', but found none"),
        (39, 7, Some("Message_cancel"), "Expected 'zeebe:subscription' to have a non-empty 'correlationKey', but found none"),
    ]),
    ("unknown-message-ref.bpmn", &[
        (10, 7, Some("signed"), "Expected 'messageRef' to reference a bpmn:message, but found no message with id 'Message_signed'"),
        (12, 5, Some("await-countersign"), "Expected 'messageRef' to reference a bpmn:message, but found no message with id 'Message_countersigned'"),
        (19, 7, Some("archived"), "Expected a 'messageRef' referencing a bpmn:message, but found none"),
    ]),
    ("message-without-name.bpmn", &[
        (19, 3, Some("Message_order"), "Expected the message to have a non-empty 'name', but it has none"),
        (20, 3, Some("Message_paid"), "Expected the message to have a non-empty 'name', but it has none"),
    ]),
    ("error-end-events.bpmn", &[
        (16, 7, Some("no-error-ref"), "Expected an error end event to reference a bpmn:error with 'errorRef', but found none"),
        (20, 7, Some("unknown-error"), "Expected 'errorRef' to reference a bpmn:error, but found no error with id 'Error_missing'"),
        (28, 7, Some("error-code-expression"), "found an error end event whose errorCode is a FEEL expression ('=failure.code' of error 'Error_computed'), which Zeebe executes but Apsis does not support yet"),
        (36, 3, Some("Error_nocode"), "Expected the error to have a non-empty 'errorCode', because an error end event throws it, but it has none"),
    ]),
    ("error-boundaries.bpmn", &[
        (28, 5, Some("declined-again"), "Expected at most one error boundary event per error code on 'charge', but found another for error code 'CARD_DECLINED'"),
        (36, 5, Some("any-error-again"), "Expected at most one error boundary event per error code on 'refund', but found another that catches every error"),
        (42, 7, Some("computed-code"), "Expected the errorCode of an error catch event to be static, but error 'Error_computed' has the expression '=code'"),
    ]),
    ("unsupported-elements.bpmn", &[
        (7, 5, Some("inclusive"), "Expected a BPMN element that Apsis executes, but found an inclusive gateway, which Zeebe executes but Apsis does not support yet"),
        (11, 5, Some("complex"), "found a complex gateway, which Zeebe does not execute either"),
        (15, 5, Some("booking"), "found a transaction subprocess, which Zeebe does not execute either"),
        (20, 5, Some("call-billing"), "found a call activity, which Zeebe executes but Apsis does not support yet"),
        (30, 7, Some("wait-signal"), "found an intermediate catch event with a signal event definition, which Zeebe executes"),
        (35, 7, Some("retry-loop"), "found a standard loop marker (bpmn:standardLoopCharacteristics), which Zeebe does not execute either"),
        (39, 9, Some("decide-discount"), "found a business rule task calling a DMN decision (zeebe:calledDecision), which Zeebe executes"),
        (46, 7, Some("to-end"), "found an intermediate throw event with a link event definition, which Zeebe executes"),
        (50, 7, Some("from-start"), "found an intermediate catch event with a link event definition, which Zeebe executes"),
        (54, 7, Some("escalate"), "found an end event with an escalation event definition, which Zeebe executes"),
        (57, 7, Some("undo-billing"), "found a boundary event with a compensation event definition, which Zeebe executes"),
        (60, 5, Some("on-cancel"), "found an event subprocess, which Zeebe executes but Apsis does not support yet"),
    ]),
    ("duplicate-extension-elements.bpmn", &[
        (13, 9, Some("ship"), "Expected at most one 'zeebe:taskDefinition' on bpmn:serviceTask, but found another"),
        (14, 9, Some("ship"), "Expected at most one 'zeebe:ioMapping' on bpmn:serviceTask, but found another"),
        (23, 11, Some("ship"), "Expected at most one 'zeebe:loopCharacteristics' on bpmn:serviceTask, but found another"),
    ]),
    ("duplicate-message-names.bpmn", &[
        (8, 5, Some("order-from-shop"), "Expected the message start events of a process to wait for different messages, but 'order-from-web' also waits for message 'order'"),
        (12, 5, Some("await-answer"), "Expected a receive task and its boundary events to wait for different messages, but 'answered-early' also waits for message 'answer'"),
        (17, 5, Some("first-reply"), "Expected the events after an event-based gateway to wait for different messages, but 'reply-by-mail' and 'reply-by-phone' both wait for message 'reply'"),
        (44, 5, Some("withdrawn-again"), "Expected the boundary events of 'await-answer' to wait for different messages, but 'withdrawn' also waits for message 'withdraw'"),
    ]),
    ("exclusive-unconditioned-flow.bpmn", &[
        (26, 5, Some("Flow_large"), "Expected the sequence flow leaving exclusive gateway 'size' to have a condition or be the gateway's default flow, but it has neither"),
    ]),
    ("default-flow-elsewhere.bpmn", &[
        (7, 5, Some("first"), "Expected the default flow 'Flow_1' to be an outgoing sequence flow of the gateway, but it leaves 'start'"),
        (11, 5, Some("second"), "Expected the default flow 'Flow_typo' to be an outgoing sequence flow of the gateway, but found no sequence flow with that id"),
    ]),
    ("event-based-gateway.bpmn", &[
        (7, 5, Some("single-path"), "Expected an event-based gateway to have at least two outgoing sequence flows, but found 1"),
        (18, 5, Some("race"), "Expected every flow of an event-based gateway to lead to an intermediate message or timer catch event with no other incoming flow, but 'Flow_5' leads to 'call-customer'"),
    ]),
    ("boundary-events.bpmn", &[
        (18, 5, Some("detached"), "Expected a boundary event to have an 'attachedToRef', but found none"),
        (24, 5, Some("on-gateway"), "Expected 'attachedToRef' to reference an activity, but 'gateway' is not an activity"),
        (30, 5, Some("with-incoming"), "Expected a boundary event to have no incoming sequence flow, but found one"),
        (37, 5, Some("no-definition"), "Expected a boundary event to have an event definition, but found none"),
    ]),
    ("start-with-incoming.bpmn", &[
        (4, 5, Some("start"), "Expected a start event to have no incoming sequence flow, but found one"),
    ]),
    ("two-none-starts.bpmn", &[
        (7, 5, Some("start-phone"), "Expected at most one none start event per (sub)process, but found another besides 'start-web'"),
    ]),
    ("subprocess-without-start.bpmn", &[
        (7, 5, Some("checks"), "Expected an embedded subprocess to have exactly one none start event, but found none"),
    ]),
    ("process-without-start.bpmn", &[
        (3, 3, Some("process-without-start"), "Expected a process to have at least one start event, but found none"),
    ]),
    ("no-executable-process.bpmn", &[
        (3, 3, None, "Expected at least one executable process (isExecutable=\"true\"), but found none"),
    ]),
    ("no-process.bpmn", &[
        (2, 1, None, "Expected at least one executable process (isExecutable=\"true\"), but found none"),
    ]),
    ("duplicate-ids.bpmn", &[
        (11, 5, Some("review"), "Expected element ids to be unique, but 'review' is also used at 7:5"),
        (20, 5, Some("start"), "Expected element ids to be unique, but 'start' is also used at 4:5"),
        (22, 3, Some("duplicate-ids"), "Expected element ids to be unique, but 'duplicate-ids' is also used at 3:3"),
    ]),
    ("missing-ids.bpmn", &[
        (10, 5, None, "Expected bpmn:serviceTask to have an 'id', but it has none"),
        (16, 5, None, "Expected bpmn:sequenceFlow to have an 'id', but it has none"),
    ]),
    ("multi-instance.bpmn", &[
        (10, 7, Some("no-loop-extension"), "Expected a multi-instance activity to have 'zeebe:loopCharacteristics' with an 'inputCollection', but found none"),
        (17, 11, Some("no-input-collection"), "Expected 'zeebe:loopCharacteristics' to have an 'inputCollection', but found none"),
        (26, 11, Some("no-output-element"), "Expected 'outputElement' together with 'outputCollection', but found only 'outputCollection'"),
        (35, 11, Some("no-output-collection"), "Expected 'outputCollection' together with 'outputElement', but found only 'outputElement'"),
    ]),
    ("io-mappings.bpmn", &[
        (11, 11, Some("geocode"), "Expected 'zeebe:input' to have a non-empty 'target', but found none"),
        (12, 11, Some("geocode"), "Expected 'zeebe:input' to have a non-empty 'source', but found none"),
        (13, 11, Some("geocode"), "Expected the input target to be a variable name or a dotted path like 'a.b' (letters, digits and '_'), but found 'address..zip'"),
        (14, 11, Some("geocode"), "Expected the input target to be a variable name or a dotted path like 'a.b' (letters, digits and '_'), but found 'order-country'"),
        (15, 11, Some("geocode"), "Expected the output target to be a variable name or a dotted path like 'a.b' (letters, digits and '_'), but found '1x'"),
        (16, 11, Some("geocode"), "Expected the output target to be a variable name, but found the reserved word 'null'"),
        (17, 11, Some("geocode"), "Expected 'zeebe:output' to have a non-empty 'target', but found none"),
        (17, 11, Some("geocode"), "Expected 'zeebe:output' to have a non-empty 'source', but found none"),
    ]),
    ("script-task.bpmn", &[
        (9, 9, Some("no-result-variable"), "Expected 'zeebe:script' to have a non-empty 'resultVariable', but found none"),
        (17, 9, Some("script-and-job"), "Expected a script task to have either 'zeebe:script' or 'zeebe:taskDefinition', but found both"),
        (22, 5, Some("neither"), "Expected a script task to have either 'zeebe:script' or 'zeebe:taskDefinition', but found neither"),
        (28, 9, Some("static-script"), "Expected the script expression to be a FEEL expression starting with '=' (e.g. '=1 + 1'), but found the static value '1 + 1'"),
    ]),
    ("static-expressions.bpmn", &[
        (11, 11, Some("notify-all"), "Expected the output source for 'status' to be a FEEL expression starting with '=' (e.g. '=sent'), but found the static value 'sent'"),
        (18, 11, Some("notify-all"), "Expected the inputCollection to be a FEEL expression starting with '=' (e.g. '=recipients'), but found the static value 'recipients'"),
        (18, 11, Some("notify-all"), "Expected the outputElement to be a FEEL expression starting with '=' (e.g. '=receipt'), but found the static value 'receipt'"),
        (36, 7, Some("Message_ack"), "Expected the correlationKey to be a FEEL expression starting with '=' (e.g. '=orderId'), but found the static value 'orderId'"),
    ]),
    ("malformed-attribute-entity.bpmn", &[
        (4, 5, None, "Expected a predefined XML entity in attribute 'name' of <bpmn:startEvent>, but found '&pound;'"),
    ]),
    ("malformed-duplicate-attribute.bpmn", &[
        (4, 5, None, "Expected attribute 'name' only once in <bpmn:startEvent>, but found it twice"),
    ]),
    ("malformed-undeclared-prefix.bpmn", &[
        (11, 7, None, "Expected the namespace prefix 'xsi' to be declared (xmlns:xsi=\"...\"), but it is not"),
    ]),
    ("malformed-mismatched-tag.bpmn", &[
        (9, 5, None, "Expected well-formed XML, but ill-formed document: expected `</bpmn:userTask>`, but `</bpmn:serviceTask>` was found"),
    ]),
    ("malformed-unknown-entity.bpmn", &[
        (4, 39, None, "Expected a predefined XML entity, but found '&nbsp;'"),
    ]),
    ("malformed-truncated.bpmn", &[
        (3, 3, None, "Expected a closing tag for <bpmn:process>, but the document ended"),
    ]),
    ("wrong-root.bpmn", &[
        (2, 1, None, "Expected the root element to be 'bpmn:definitions' in namespace 'http://www.omg.org/spec/BPMN/20100524/MODEL', but found 'definitions' in namespace 'https://www.omg.org/spec/DMN/20191111/MODEL/'"),
    ]),
    // Every problem of the file at once, sorted by position although they are found in another order (flows first,
    // then elements, then mappings, then the shape of the graph; the message's problem is at the end of the file).
    ("several-problems.bpmn", &[
        (7, 5, Some("reserve"), "Expected bpmn:serviceTask to have a 'zeebe:taskDefinition' with a job 'type', but found none"),
        (20, 9, Some("wait"), "Expected a timer duration like 'PT10S' or 'P1DT2H', but found 'soon'"),
        (26, 11, Some("confirm"), "Expected the output target to be a variable name or a dotted path like 'a.b' (letters, digits and '_'), but found 'a..b'"),
        (38, 5, Some("Flow_yes"), "Expected the condition to be a FEEL expression starting with '=' (e.g. '=reserved'), but found the static value 'reserved'"),
        (41, 5, Some("Flow_no"), "Expected the sequence flow leaving exclusive gateway 'ok' to have a condition or be the gateway's default flow, but it has neither"),
        (43, 5, Some("Flow_4"), "Expected 'targetRef' to reference a flow node, but found no element with id 'finish'"),
        (45, 3, Some("Message_confirm"), "Expected the message to have a non-empty 'name', but it has none"),
    ]),
];

fn dir(which: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(which)
}

fn load(which: &str, file: &str) -> String {
    let path = dir(which).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn show(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| {
            format!(
                "    ({}, {}, {:?}, {:?}),",
                p.pos.line, p.pos.column, p.element_id, p.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares one file's problems with its expectations; returns a description of every mismatch.
fn check(file: &str, expected: &[Expect]) -> Vec<String> {
    let text = load("invalid", file);
    let err = match compile(file, &text) {
        Ok(_) => {
            return vec![format!(
                "{file}: compiled, but expected {} problems",
                expected.len()
            )]
        }
        Err(e) => e,
    };
    let rendered = err.to_string();
    let Error::Invalid { resource, problems } = err;
    let mut out = Vec::new();
    if resource != file {
        out.push(format!("{file}: the error names resource '{resource}'"));
    }
    if problems.len() != expected.len() {
        out.push(format!(
            "{file}: expected {} problems, found {}:\n{}",
            expected.len(),
            problems.len(),
            show(&problems)
        ));
        return out;
    }
    for (i, (p, &(line, column, id, fragment))) in problems.iter().zip(expected).enumerate() {
        let ok = p.pos.line == line
            && p.pos.column == column
            && p.element_id.as_deref() == id
            && p.message.contains(fragment);
        if !ok {
            out.push(format!(
                "{file}: problem {i}: expected ({line}, {column}, {id:?}, {fragment:?}), found\n{}",
                show(std::slice::from_ref(p))
            ));
        }
        // The rendered error lists every problem as `- file:line:col: element 'id': message`.
        let element = id.map(|id| format!("element '{id}': ")).unwrap_or_default();
        let line_text = format!("- {file}:{line}:{column}: {element}{}", p.message);
        if !rendered.lines().any(|l| l == line_text) {
            out.push(format!(
                "{file}: the rendered error lacks the line {line_text:?}:\n{rendered}"
            ));
        }
    }
    let count = problems.len();
    let header = format!(
        "'{file}': {count} problem{} found",
        if count == 1 { "" } else { "s" }
    );
    if rendered.lines().next() != Some(header.as_str()) {
        out.push(format!(
            "{file}: the rendered error starts otherwise:\n{rendered}"
        ));
    }
    out
}

#[test]
fn every_invalid_file_reports_exactly_its_problems() {
    let failures: Vec<String> = CASES
        .iter()
        .flat_map(|(file, expected)| check(file, expected))
        .collect();
    assert!(
        failures.is_empty(),
        "{} mismatch(es):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_invalid_file_has_expectations() {
    let mut files: Vec<String> = std::fs::read_dir(dir("invalid"))
        .expect("tests/invalid")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".bpmn"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(f, _)| (*f).to_owned()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "tests/invalid and CASES must list the same files"
    );
    assert!(
        files.len() >= 30,
        "the corpus shrank to {} files",
        files.len()
    );
}

#[test]
fn problems_are_sorted_by_position() {
    for (file, _) in CASES {
        if let Err(Error::Invalid { problems, .. }) = compile(file, &load("invalid", file)) {
            let positions: Vec<(u32, u32)> = problems
                .iter()
                .map(|p| (p.pos.line, p.pos.column))
                .collect();
            let mut sorted = positions.clone();
            sorted.sort();
            assert_eq!(positions, sorted, "{file}");
        }
    }
}

#[test]
fn read_reports_only_what_the_xml_itself_breaks() {
    // The model is a faithful reading: a file whose XML is fine reads, whatever validation says about it.
    let defs = read(
        "several-problems.bpmn",
        &load("invalid", "several-problems.bpmn"),
    )
    .expect("well-formed XML reads");
    assert_eq!(defs.processes.len(), 1);
    assert_eq!(defs.processes[0].scope.nodes.len(), 6);
    // A file that is not XML, or not BPMN, does not.
    for (file, line, column) in [
        ("malformed-mismatched-tag.bpmn", 9, 5),
        ("malformed-unknown-entity.bpmn", 4, 39),
        ("wrong-root.bpmn", 2, 1),
    ] {
        let Err(Error::Invalid { problems, .. }) = read(file, &load("invalid", file)) else {
            panic!("{file} read without error");
        };
        let at: Vec<(u32, u32)> = problems
            .iter()
            .map(|p| (p.pos.line, p.pos.column))
            .collect();
        assert_eq!(at, vec![(line, column)], "{file}");
    }
}

/// What Zeebe accepts and Apsis therefore accepts too, although an older Apsis (or older Zeebe) rejected it:
/// a boundary event without outgoing flows (a token sink; Zeebe accepts it since camunda/camunda#33589, 8.6+),
/// an error boundary whose error has no errorCode (it catches every error, as Zeebe's `CatchEventTransformer` makes
/// it), a static input-mapping source, and a message start event whose message has no subscription.
#[test]
fn what_zeebe_accepts_compiles() {
    let compiled = compile("zeebe-accepts.bpmn", &load("valid", "zeebe-accepts.bpmn"))
        .unwrap_or_else(|e| panic!("{e}"));
    let graph = &compiled.processes[0];
    let sink = graph.element(graph.find("cancelled").expect("cancelled"));
    assert!(sink.outgoing.is_empty());
    let catch_all = graph.element(graph.find("any-failure").expect("any-failure"));
    match &catch_all.kind {
        apsis_bpmn::graph::ElementKind::Boundary(b) => assert!(
            matches!(
                &b.trigger,
                apsis_bpmn::graph::BoundaryTrigger::Error { code: None }
            ),
            "{:?}",
            b.trigger
        ),
        other => panic!("{other:?}"),
    }
}

/// Positions are characters from the start of the line: Windows line endings and a byte-order mark (Notepad's
/// habits) do not move them, and neither do multi-byte characters earlier on the line.
#[test]
fn positions_survive_crlf_a_bom_and_non_ascii_text() {
    let file = "several-problems.bpmn";
    let text = load("invalid", file);
    let expected: Vec<(u32, u32)> = CASES
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, e)| {
            e.iter()
                .map(|&(line, column, _, _)| (line, column))
                .collect()
        })
        .expect("several-problems.bpmn is in CASES");
    let windows = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    let Err(Error::Invalid { problems, .. }) = compile(file, &windows) else {
        panic!("compiled");
    };
    let at: Vec<(u32, u32)> = problems
        .iter()
        .map(|p| (p.pos.line, p.pos.column))
        .collect();
    assert_eq!(at, expected, "with CRLF and a BOM");

    // "Réserver" and an emoji before the offending start tag on the same line: the column counts characters
    // (Unicode scalar values, as rustc does), so `<!-- Réserver 📦 -->` is 19 columns wide whatever its bytes.
    let accented = text.replace(
        "    <bpmn:serviceTask id=\"reserve\" name=\"Reserve\">",
        "<!-- Réserver 📦 --><bpmn:serviceTask id=\"reserve\" name=\"Reserve\">",
    );
    let Err(Error::Invalid { problems, .. }) = compile(file, &accented) else {
        panic!("compiled");
    };
    assert_eq!(
        (problems[0].pos.line, problems[0].pos.column),
        (7, 20),
        "{:?}",
        problems[0]
    );
}
