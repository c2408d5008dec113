//! The on-disk format of log entries: explicit event numbers, a format version byte, stable bytes.

use apsis_core::event::{
    ElementRef, Entry, Event, IncidentKind, IncidentRecord, JobRecord, MessageRecord,
    SubscriptionRecord, TimerRecord, FORMAT_VERSION,
};
use apsis_core::{Json, Key};
use serde_json::json;

/// One value of every event variant, in `TYPE_IDS` order.
fn samples() -> Vec<Event> {
    let k = Key(2251799813685249);
    let at = ElementRef {
        process_instance_key: k,
        process_definition_key: k,
        element: 1,
        flow_scope_key: Key::NONE,
    };
    let job = JobRecord {
        job_type: "t".into(),
        retries: 3,
        element_instance_key: k,
        process_instance_key: k,
        process_definition_key: k,
        element: 1,
        custom_headers: Json(json!({})),
    };
    vec![
        Event::ProcessDeployed {
            key: k,
            deployment_key: k,
            bpmn_process_id: "p".into(),
            version: 1,
            resource_name: "p.bpmn".into(),
            checksum: 7,
            resource: "<x/>".into(),
        },
        Event::ProcessDeleted { key: k },
        Event::DeploymentCreated { key: k },
        Event::ElementActivating {
            key: k,
            at: at.clone(),
            via_flow: true,
        },
        Event::ElementActivated { key: k },
        Event::ElementCompleting { key: k },
        Event::ElementCompleted { key: k },
        Event::ElementTerminating { key: k },
        Event::ElementTerminated { key: k },
        Event::SequenceFlowTaken {
            key: k,
            flow_scope_key: k,
            flow: 0,
        },
        Event::GatewayJoined {
            flow_scope_key: k,
            gateway: 2,
        },
        Event::VariableCreated {
            key: k,
            scope_key: k,
            name: "x".into(),
            value: Json(json!(1)),
        },
        Event::VariableUpdated {
            key: k,
            scope_key: k,
            name: "x".into(),
            value: Json(json!(2)),
        },
        Event::JobCreated { key: k, job },
        Event::JobActivated {
            key: k,
            worker: "w".into(),
            deadline: 5,
        },
        Event::JobCompleted { key: k },
        Event::JobFailed {
            key: k,
            retries: 1,
            error_message: "e".into(),
            backoff_until: 0,
        },
        Event::JobRecurred { key: k },
        Event::JobTimedOut { key: k },
        Event::JobRetriesUpdated { key: k, retries: 2 },
        Event::JobTimeoutUpdated {
            key: k,
            deadline: 9,
        },
        Event::JobErrorThrown {
            key: k,
            error_code: "C".into(),
            error_message: "m".into(),
        },
        Event::JobCanceled { key: k },
        Event::IncidentCreated {
            key: k,
            incident: IncidentRecord {
                kind: IncidentKind::JobNoRetries,
                message: "m".into(),
                element_instance_key: k,
                process_instance_key: k,
                job_key: k,
            },
        },
        Event::IncidentResolved { key: k },
        Event::TimerCreated {
            key: k,
            timer: TimerRecord {
                element_instance_key: k,
                process_instance_key: k,
                process_definition_key: k,
                target_element: 1,
                due: 10,
                repetitions: 1,
            },
        },
        Event::TimerTriggered { key: k },
        Event::TimerCanceled { key: k },
        Event::MessagePublished {
            key: k,
            message: MessageRecord {
                name: "n".into(),
                correlation_key: "c".into(),
                message_id: String::new(),
                deadline: 1,
                variables: Json(json!({})),
            },
        },
        Event::MessageExpired { key: k },
        Event::SubscriptionCreated {
            key: k,
            subscription: SubscriptionRecord {
                element_instance_key: k,
                process_instance_key: k,
                process_definition_key: k,
                bpmn_process_id: "p".into(),
                message_name: "n".into(),
                correlation_key: "c".into(),
                target_element: 1,
                interrupting: true,
            },
        },
        Event::SubscriptionCorrelated {
            key: k,
            message_key: k,
        },
        Event::SubscriptionDeleted { key: k },
        Event::MessageStartCorrelated {
            message_key: k,
            process_definition_key: k,
            process_instance_key: k,
            correlation_key: "c".into(),
        },
        Event::ProcessInstanceCreated {
            key: k,
            process_definition_key: k,
            await_result: false,
        },
        Event::MultiInstanceItems {
            key: k,
            items: vec![Json(json!(1))],
        },
        Event::ActivationDeferred {
            key: k,
            element: 3,
            variables: Json(json!({})),
        },
        Event::FlowScopeInterrupted { key: k },
        Event::MultiInstanceConditionMet { key: k },
        Event::JobYielded { key: k },
    ]
}

#[test]
fn every_event_variant_has_its_explicit_number() {
    let samples = samples();
    assert_eq!(
        samples.len(),
        Event::TYPE_IDS.len(),
        "add a sample for every new variant"
    );
    for (event, (id, name)) in samples.iter().zip(Event::TYPE_IDS) {
        let bytes = postcard::to_stdvec(event).unwrap();
        // postcard writes the variant number first, as a varint; ids < 128 are one byte.
        assert_eq!(u16::from(bytes[0]), *id, "{name} must keep number {id}");
        assert!(
            format!("{event:?}").starts_with(name),
            "TYPE_IDS names {name} at {id}, but the variant is {event:?}"
        );
    }
}

#[test]
fn entries_carry_the_format_version_and_round_trip() {
    let entry = Entry {
        timestamp: 1_700_000_000_000,
        events: samples(),
    };
    let mut bytes = Vec::new();
    entry.encode_into(&mut bytes).unwrap();
    assert_eq!(bytes[0], FORMAT_VERSION);
    assert_eq!(FORMAT_VERSION, 1, "bump only with a migration");
    assert_eq!(Entry::decode(&bytes).unwrap(), entry);
    let mut wrong = bytes.clone();
    wrong[0] = 99;
    assert!(Entry::decode(&wrong)
        .unwrap_err()
        .to_string()
        .contains("version 99"));
}

#[test]
fn golden_bytes_of_a_small_entry() {
    let entry = Entry {
        timestamp: 5,
        events: vec![
            Event::ElementActivated {
                key: Key(2251799813685249),
            },
            Event::VariableCreated {
                key: Key(1),
                scope_key: Key(2),
                name: "x".into(),
                value: Json(json!({"a": 1})),
            },
        ],
    };
    let mut bytes = Vec::new();
    entry.encode_into(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // version 1 | timestamp 5 (zigzag varint 0x0a) | 2 events | ElementActivated(4) key | VariableCreated(11) ...
    // version 1 | timestamp 5 (zigzag varint) | 2 events | ElementActivated = 4, key (zigzag varint)
    // | VariableCreated = 11, key 1, scope 2, name "x", value as JSON text
    assert_eq!(hex, "010a020482808080808080080b02040178077b2261223a317d");
}

/// Pins the snapshot layout: a state reached through a fixed command sequence must encode to the same bytes. When
/// this fails, a field of the state changed: bump `SNAPSHOT_FORMAT_VERSION` and update the fingerprint.
#[test]
fn snapshot_layout_is_pinned_by_its_version() {
    use apsis_core::command::{ProcessSelector, Resource};
    use apsis_core::state::SNAPSHOT_FORMAT_VERSION;
    use apsis_core::{process, Command, Context, State};

    let xml = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="t" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t" />
  </bpmn:process>
</bpmn:definitions>"#;
    let mut state = State::default();
    let ctx = Context::at(1_700_000_000_000);
    let deploy = Command::Deploy {
        resources: vec![Resource {
            name: "p.bpmn".into(),
            content: xml.into(),
        }],
    };
    assert!(matches!(
        process(&mut state, deploy, &ctx).result,
        Some(Ok(_))
    ));
    let create = Command::CreateProcessInstance {
        process: ProcessSelector::Id {
            bpmn_process_id: "p".into(),
            version: -1,
        },
        variables: Json(json!({"x": 1})),
        await_result: false,
    };
    assert!(matches!(
        process(&mut state, create, &ctx).result,
        Some(Ok(_))
    ));
    let bytes = state.to_snapshot().unwrap();
    assert_eq!(bytes[0], SNAPSHOT_FORMAT_VERSION);
    assert_eq!(
        SNAPSHOT_FORMAT_VERSION, 2,
        "bump with every change of the state's fields"
    );
    // FNV-1a over the whole snapshot.
    let fingerprint = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    assert_eq!(
        (bytes.len(), format!("{fingerprint:016x}")),
        (733, "1d7a8e78926d1bb5".to_owned()),
        "the snapshot layout changed: bump SNAPSHOT_FORMAT_VERSION, then update the length and fingerprint"
    );
    assert_eq!(State::from_snapshot(&bytes).unwrap(), state);
    let mut old = bytes.clone();
    old[0] = 1;
    assert!(State::from_snapshot(&old)
        .unwrap_err()
        .to_string()
        .contains("format version 2, but found version 1"));
}
