//! Golden wire bytes: each message is encoded with prost and compared with bytes derived by
//! hand from Zeebe's published field numbers and types, so a renumbered or retyped field
//! (which would silently break every Zeebe client) fails here.
//!
//! Protobuf reminders used below: a field key is `(number << 3) | wire_type` as a varint;
//! wire type 0 = varint (int32, int64, uint64, bool, enum), 2 = length-delimited (string,
//! bytes, message, packed). A negative int32/int64 is a 10-byte varint. proto3 scalars equal
//! to their default are not written; `optional` fields are written whenever set.

use apsis_proto::{
    activated_job, partition, process_instance_creation_runtime_instruction, ActivateJobsRequest,
    ActivatedJob, BrokerInfo, CreateProcessInstanceRequest, Partition,
    ProcessInstanceCreationRuntimeInstruction, ProcessInstanceCreationStartInstruction,
    PublishMessageRequest, TerminateProcessInstanceInstruction, TopologyResponse,
    UserTaskProperties,
};
use prost::Message;

/// -1 as an int32 or int64 varint: ten bytes, sign-extended to 64 bits.
const MINUS_ONE: [u8; 10] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Length-delimited field: key byte, one-byte length, payload.
fn ld(key: u8, payload: &[u8]) -> Vec<u8> {
    assert!(
        payload.len() < 128,
        "test helper writes one-byte lengths only"
    );
    cat(&[&[key, payload.len() as u8], payload])
}

fn assert_wire<M: Message + Default + PartialEq + std::fmt::Debug>(msg: &M, expected: &[u8]) {
    assert_eq!(
        msg.encode_to_vec(),
        expected,
        "encoding of {msg:?} differs from the hand-derived bytes"
    );
    assert_eq!(
        &M::decode(expected).unwrap(),
        msg,
        "decoding the hand-derived bytes"
    );
}

#[test]
fn activate_jobs_request() {
    let msg = ActivateJobsRequest {
        r#type: "t".into(),
        worker: "w".into(),
        timeout: 300,
        max_jobs_to_activate: 32,
        fetch_variable: vec!["a".into(), "b".into()],
        request_timeout: -1,
        tenant_ids: vec!["<default>".into()],
    };
    let expected = cat(&[
        &ld(0x0A, b"t"),         // 1 type: string
        &ld(0x12, b"w"),         // 2 worker: string
        &[0x18, 0xAC, 0x02],     // 3 timeout: int64 300 = 0b10_0101100
        &[0x20, 0x20],           // 4 maxJobsToActivate: int32 32
        &ld(0x2A, b"a"),         // 5 fetchVariable: repeated string
        &ld(0x2A, b"b"),         //
        &[0x30],                 // 6 requestTimeout: int64 -1 (int64, not sint64)
        &MINUS_ONE,              //
        &ld(0x3A, b"<default>"), // 7 tenantIds: repeated string
    ]);
    assert_wire(&msg, &expected);
}

#[test]
fn activated_job() {
    // Zeebe keys carry the partition in the top bits: (1 << 51) + n.
    let key = (1_i64 << 51) + 7;
    let msg = ActivatedJob {
        key,
        r#type: "pay".into(),
        process_instance_key: 2,
        bpmn_process_id: "order".into(),
        process_definition_version: 3,
        process_definition_key: 4,
        element_id: "task".into(),
        element_instance_key: 5,
        custom_headers: "{}".into(),
        worker: "w".into(),
        retries: 3,
        deadline: 1000,
        variables: r#"{"x":1}"#.into(),
        tenant_id: "<default>".into(),
        user_task: Some(UserTaskProperties {
            assignee: Some("x".into()),
            ..Default::default()
        }),
        kind: activated_job::JobKind::ExecutionListener as i32,
        listener_event_type: activated_job::ListenerEventType::Start as i32,
    };
    let expected = cat(&[
        // 1 key: int64; 7 | bit 51 -> groups of 7 bits: 7, 0 x 6, then 1 << (51 - 49) = 4
        &[0x08, 0x87, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x04],
        &ld(0x12, b"pay"),          // 2 type
        &[0x18, 0x02],              // 3 processInstanceKey
        &ld(0x22, b"order"),        // 4 bpmnProcessId
        &[0x28, 0x03],              // 5 processDefinitionVersion: int32
        &[0x30, 0x04],              // 6 processDefinitionKey
        &ld(0x3A, b"task"),         // 7 elementId
        &[0x40, 0x05],              // 8 elementInstanceKey
        &ld(0x4A, b"{}"),           // 9 customHeaders: JSON string
        &ld(0x52, b"w"),            // 10 worker
        &[0x58, 0x03],              // 11 retries: int32
        &[0x60, 0xE8, 0x07],        // 12 deadline: int64 1000 = 7 * 128 + 104
        &ld(0x6A, br#"{"x":1}"#),   // 13 variables: JSON string
        &ld(0x72, b"<default>"),    // 14 tenantId
        &ld(0x7A, &ld(0x12, b"x")), // 15 userTask { 2 assignee }
        &[0x80, 0x01, 0x01],        // 16 kind: key 128 = two-byte varint; EXECUTION_LISTENER = 1
        &[0x88, 0x01, 0x05],        // 17 listenerEventType: key 136; START = 5
    ]);
    assert_wire(&msg, &expected);
}

#[test]
fn activated_job_defaults_are_not_written() {
    // kind BPMN_ELEMENT and listenerEventType ASSIGNING are 0, userTask absent: nothing but key.
    let msg = ActivatedJob {
        key: 1,
        ..Default::default()
    };
    assert_wire(&msg, &[0x08, 0x01]);
}

#[test]
fn create_process_instance_request_with_variables() {
    let msg = CreateProcessInstanceRequest {
        process_definition_key: 0,
        bpmn_process_id: "order".into(),
        version: -1,
        variables: r#"{"x":1}"#.into(),
        start_instructions: vec![ProcessInstanceCreationStartInstruction {
            element_id: "a".into(),
        }],
        tenant_id: "<default>".into(),
        operation_reference: Some(5),
        runtime_instructions: vec![ProcessInstanceCreationRuntimeInstruction {
            instruction: Some(
                process_instance_creation_runtime_instruction::Instruction::Terminate(
                    TerminateProcessInstanceInstruction {
                        after_element_id: "b".into(),
                    },
                ),
            ),
        }],
    };
    let expected = cat(&[
        // 1 processDefinitionKey 0: not written
        &ld(0x12, b"order"),                   // 2 bpmnProcessId
        &[0x18],                               // 3 version: int32 -1 (latest)
        &MINUS_ONE,                            //
        &ld(0x22, br#"{"x":1}"#),              // 4 variables: JSON string
        &ld(0x2A, &ld(0x0A, b"a")),            // 5 startInstructions { 1 elementId }
        &ld(0x32, b"<default>"),               // 6 tenantId
        &[0x38, 0x05],                         // 7 operationReference: optional uint64
        &ld(0x42, &ld(0x0A, &ld(0x0A, b"b"))), // 8 runtimeInstructions { oneof 1 terminate { 1 afterElementId } }
    ]);
    assert_wire(&msg, &expected);
}

#[test]
fn optional_fields_have_presence() {
    // `optional uint64 operationReference = 7`: a set zero is written, an unset one is not.
    let set = CreateProcessInstanceRequest {
        operation_reference: Some(0),
        ..Default::default()
    };
    assert_wire(&set, &[0x38, 0x00]);
    assert_wire(&CreateProcessInstanceRequest::default(), &[]);
}

#[test]
fn publish_message_request() {
    let msg = PublishMessageRequest {
        name: "m".into(),
        correlation_key: "k".into(),
        time_to_live: 60_000,
        message_id: "id".into(),
        variables: "{}".into(),
        tenant_id: String::new(),
    };
    let expected = cat(&[
        &ld(0x0A, b"m"),           // 1 name
        &ld(0x12, b"k"),           // 2 correlationKey
        &[0x18, 0xE0, 0xD4, 0x03], // 3 timeToLive: int64 60000 = 3 * 16384 + 84 * 128 + 96
        &ld(0x22, b"id"),          // 4 messageId
        &ld(0x2A, b"{}"),          // 5 variables
                                   // 6 tenantId "": not written
    ]);
    assert_wire(&msg, &expected);
}

#[test]
fn topology_response() {
    let msg = TopologyResponse {
        brokers: vec![BrokerInfo {
            node_id: 3,
            host: "127.0.0.1".into(),
            port: 26501,
            partitions: vec![
                Partition {
                    partition_id: 1,
                    role: partition::PartitionBrokerRole::Leader as i32,
                    health: partition::PartitionBrokerHealth::Healthy as i32,
                },
                Partition {
                    partition_id: 2,
                    role: partition::PartitionBrokerRole::Follower as i32,
                    health: partition::PartitionBrokerHealth::Unhealthy as i32,
                },
            ],
            version: "8.8.0".into(),
        }],
        cluster_size: 1,
        partitions_count: 2,
        replication_factor: 1,
        gateway_version: "8.8.0".into(),
    };
    let broker = cat(&[
        &[0x08, 0x03],                                    // 1 nodeId: int32
        &ld(0x12, b"127.0.0.1"),                          // 2 host
        &[0x18, 0x85, 0xCF, 0x01], // 3 port: int32 26501 = 16384 + 79 * 128 + 5
        &ld(0x22, &[0x08, 0x01]),  // 4 partitions { 1 partitionId; LEADER, HEALTHY = 0 }
        &ld(0x22, &[0x08, 0x02, 0x10, 0x01, 0x18, 0x01]), // { 1 id; 2 role FOLLOWER; 3 health UNHEALTHY }
        &ld(0x2A, b"8.8.0"),                              // 5 version
    ]);
    let expected = cat(&[
        &ld(0x0A, &broker),  // 1 brokers
        &[0x10, 0x01],       // 2 clusterSize
        &[0x18, 0x02],       // 3 partitionsCount
        &[0x20, 0x01],       // 4 replicationFactor
        &ld(0x2A, b"8.8.0"), // 5 gatewayVersion
    ]);
    assert_wire(&msg, &expected);
}

#[test]
fn enum_values_match_zeebe() {
    use activated_job::{JobKind, ListenerEventType};
    use partition::{PartitionBrokerHealth, PartitionBrokerRole};

    let kinds = [
        (JobKind::BpmnElement, 0),
        (JobKind::ExecutionListener, 1),
        (JobKind::TaskListener, 2),
        (JobKind::AdHocSubProcess, 3),
    ];
    for (kind, n) in kinds {
        assert_eq!(kind as i32, n, "{kind:?}");
    }
    let events = [
        (ListenerEventType::Assigning, 0),
        (ListenerEventType::Canceling, 1),
        (ListenerEventType::Completing, 2),
        (ListenerEventType::Creating, 3),
        (ListenerEventType::End, 4),
        (ListenerEventType::Start, 5),
        (ListenerEventType::Unspecified, 6),
        (ListenerEventType::Updating, 7),
    ];
    for (event, n) in events {
        assert_eq!(event as i32, n, "{event:?}");
    }
    let roles = [
        (PartitionBrokerRole::Leader, 0),
        (PartitionBrokerRole::Follower, 1),
        (PartitionBrokerRole::Inactive, 2),
    ];
    for (role, n) in roles {
        assert_eq!(role as i32, n, "{role:?}");
    }
    let healths = [
        (PartitionBrokerHealth::Healthy, 0),
        (PartitionBrokerHealth::Unhealthy, 1),
        (PartitionBrokerHealth::Dead, 2),
    ];
    for (health, n) in healths {
        assert_eq!(health as i32, n, "{health:?}");
    }
}
