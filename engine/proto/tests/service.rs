//! The `Gateway` service has exactly Zeebe 8.8's RPCs, with Zeebe's request and response
//! types and streaming kinds, under Zeebe's service name (clients call
//! `/gateway_protocol.Gateway/<Rpc>`). Checked on the descriptor set the crate was built from.

use apsis_proto::{FILE_DESCRIPTOR_SET, SERVICE_NAME};
use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet, ServiceDescriptorProto};
use tonic::server::NamedService;

/// How a response comes back: one message, or a server stream. (Zeebe has no client- or
/// bidirectional-streaming RPC.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unary,
    ServerStream,
}
use Kind::{ServerStream, Unary};

/// Zeebe 8.8's `service Gateway`, in its declaration order: (rpc, request, response, kind).
const ZEEBE_RPCS: &[(&str, &str, &str, Kind)] = &[
    (
        "ActivateJobs",
        "ActivateJobsRequest",
        "ActivateJobsResponse",
        ServerStream,
    ),
    (
        "StreamActivatedJobs",
        "StreamActivatedJobsRequest",
        "ActivatedJob",
        ServerStream,
    ),
    (
        "CancelProcessInstance",
        "CancelProcessInstanceRequest",
        "CancelProcessInstanceResponse",
        Unary,
    ),
    (
        "CompleteJob",
        "CompleteJobRequest",
        "CompleteJobResponse",
        Unary,
    ),
    (
        "CreateProcessInstance",
        "CreateProcessInstanceRequest",
        "CreateProcessInstanceResponse",
        Unary,
    ),
    (
        "CreateProcessInstanceWithResult",
        "CreateProcessInstanceWithResultRequest",
        "CreateProcessInstanceWithResultResponse",
        Unary,
    ),
    (
        "EvaluateDecision",
        "EvaluateDecisionRequest",
        "EvaluateDecisionResponse",
        Unary,
    ),
    (
        "DeployProcess",
        "DeployProcessRequest",
        "DeployProcessResponse",
        Unary,
    ),
    (
        "DeployResource",
        "DeployResourceRequest",
        "DeployResourceResponse",
        Unary,
    ),
    ("FailJob", "FailJobRequest", "FailJobResponse", Unary),
    (
        "ThrowError",
        "ThrowErrorRequest",
        "ThrowErrorResponse",
        Unary,
    ),
    (
        "PublishMessage",
        "PublishMessageRequest",
        "PublishMessageResponse",
        Unary,
    ),
    (
        "ResolveIncident",
        "ResolveIncidentRequest",
        "ResolveIncidentResponse",
        Unary,
    ),
    (
        "SetVariables",
        "SetVariablesRequest",
        "SetVariablesResponse",
        Unary,
    ),
    ("Topology", "TopologyRequest", "TopologyResponse", Unary),
    (
        "UpdateJobRetries",
        "UpdateJobRetriesRequest",
        "UpdateJobRetriesResponse",
        Unary,
    ),
    (
        "ModifyProcessInstance",
        "ModifyProcessInstanceRequest",
        "ModifyProcessInstanceResponse",
        Unary,
    ),
    (
        "MigrateProcessInstance",
        "MigrateProcessInstanceRequest",
        "MigrateProcessInstanceResponse",
        Unary,
    ),
    (
        "UpdateJobTimeout",
        "UpdateJobTimeoutRequest",
        "UpdateJobTimeoutResponse",
        Unary,
    ),
    (
        "DeleteResource",
        "DeleteResourceRequest",
        "DeleteResourceResponse",
        Unary,
    ),
    (
        "BroadcastSignal",
        "BroadcastSignalRequest",
        "BroadcastSignalResponse",
        Unary,
    ),
];

fn gateway_file() -> FileDescriptorProto {
    let set =
        FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("embedded descriptor set decodes");
    let mut files: Vec<_> = set
        .file
        .into_iter()
        .filter(|f| f.package() == "gateway_protocol")
        .collect();
    assert_eq!(
        files.len(),
        1,
        "exactly one file declares package gateway_protocol"
    );
    files.pop().unwrap()
}

fn gateway_service(file: &FileDescriptorProto) -> &ServiceDescriptorProto {
    assert_eq!(file.service.len(), 1, "gateway.proto declares one service");
    let service = &file.service[0];
    assert_eq!(service.name(), "Gateway");
    service
}

#[test]
fn service_name_is_zeebes() {
    assert_eq!(SERVICE_NAME, "gateway_protocol.Gateway");
    assert_eq!(
        <apsis_proto::gateway_server::GatewayServer<()> as NamedService>::NAME,
        SERVICE_NAME
    );
}

#[test]
fn rpcs_are_exactly_zeebes_with_their_streaming_kinds() {
    let file = gateway_file();
    let actual: Vec<(String, String, String, Kind)> = gateway_service(&file)
        .method
        .iter()
        .map(|m| {
            assert!(
                !m.client_streaming(),
                "{} must not be client-streaming",
                m.name()
            );
            let kind = if m.server_streaming() {
                ServerStream
            } else {
                Unary
            };
            (
                m.name().to_owned(),
                m.input_type().to_owned(),
                m.output_type().to_owned(),
                kind,
            )
        })
        .collect();
    let expected: Vec<(String, String, String, Kind)> = ZEEBE_RPCS
        .iter()
        .map(|&(name, req, resp, kind)| {
            (
                name.to_owned(),
                format!(".gateway_protocol.{req}"),
                format!(".gateway_protocol.{resp}"),
                kind,
            )
        })
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn deploy_process_is_marked_deprecated() {
    let file = gateway_file();
    let deprecated: Vec<&str> = gateway_service(&file)
        .method
        .iter()
        .filter(|m| m.options.as_ref().is_some_and(|o| o.deprecated()))
        .map(|m| m.name())
        .collect();
    assert_eq!(deprecated, ["DeployProcess"]);
}

#[test]
fn every_field_number_and_type_is_pinned() {
    // One line per field and enum value, grouped by message or enum and ordered by number (so
    // moving declarations around, which does not change the wire, does not fail this), compared
    // with a listing reviewed against Zeebe's gateway.proto. A difference is a wire change for
    // every Zeebe client: update the listing only when Zeebe's protocol changed the same way.
    let file = gateway_file();
    let mut entries = Vec::new();
    for message in &file.message_type {
        list_message(&mut entries, "", message);
    }
    entries.sort();
    let actual: String = entries
        .iter()
        .map(|(_, _, line)| format!("{line}\n"))
        .collect();
    let expected = include_str!("golden/gateway_fields.txt");
    if actual != expected {
        panic!(
            "gateway.proto fields differ from tests/golden/gateway_fields.txt.\n\
             actual listing:\n{actual}"
        );
    }
}

/// (group, number, line) for every field and enum value of `message` and its nested types.
fn list_message(
    entries: &mut Vec<(String, i32, String)>,
    prefix: &str,
    message: &prost_types::DescriptorProto,
) {
    use prost_types::field_descriptor_proto::{Label, Type};

    let name = format!("{prefix}{}", message.name());
    for field in &message.field {
        let label = if field.proto3_optional() {
            "optional "
        } else if field.label() == Label::Repeated {
            "repeated "
        } else {
            ""
        };
        let ty = match field.r#type() {
            Type::Message | Type::Enum => field
                .type_name()
                .trim_start_matches(".gateway_protocol.")
                .to_owned(),
            other => other
                .as_str_name()
                .trim_start_matches("TYPE_")
                .to_lowercase(),
        };
        let oneof = match field.oneof_index {
            Some(i) if !field.proto3_optional() => {
                format!(" (oneof {})", message.oneof_decl[i as usize].name())
            }
            _ => String::new(),
        };
        let line = format!(
            "{name}.{} = {} {label}{ty}{oneof}",
            field.name(),
            field.number()
        );
        entries.push((name.clone(), field.number(), line));
    }
    for nested in &message.enum_type {
        let group = format!("{name}.{}", nested.name());
        for value in &nested.value {
            let line = format!("{group}.{} = {}", value.name(), value.number());
            entries.push((group.clone(), value.number(), line));
        }
    }
    for nested in &message.nested_type {
        list_message(entries, &format!("{name}."), nested);
    }
}
