//! In-process gRPC round trip: a minimal `Gateway` that answers Topology and UNIMPLEMENTED for
//! everything else, served by tonic on 127.0.0.1:0, called through the generated client.

use std::net::SocketAddr;
use std::pin::Pin;

use apsis_proto::gateway_client::GatewayClient;
use apsis_proto::gateway_server::{Gateway, GatewayServer};
use apsis_proto::*;
use tokio::sync::oneshot;
use tokio_stream::Stream;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};

type Answer<T> = Result<Response<T>, Status>;
type Streamed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn topology() -> TopologyResponse {
    TopologyResponse {
        brokers: vec![BrokerInfo {
            node_id: 0,
            host: "127.0.0.1".into(),
            port: 26501,
            partitions: vec![Partition {
                partition_id: 1,
                role: partition::PartitionBrokerRole::Leader as i32,
                health: partition::PartitionBrokerHealth::Healthy as i32,
            }],
            version: "8.8.0".into(),
        }],
        cluster_size: 1,
        partitions_count: 1,
        replication_factor: 1,
        gateway_version: "8.8.0".into(),
    }
}

#[derive(Debug)]
struct TopologyOnly;

/// The `Gateway` impl: Topology answers, every listed RPC is UNIMPLEMENTED with its name. (A
/// macro producing the whole impl, because `async_trait` must see the expanded methods.)
macro_rules! topology_only_gateway {
    ($($rpc:ident($req:ty) -> $resp:ty;)*) => {
        #[tonic::async_trait]
        impl Gateway for TopologyOnly {
            type ActivateJobsStream = Streamed<ActivateJobsResponse>;
            type StreamActivatedJobsStream = Streamed<ActivatedJob>;

            async fn topology(&self, _: Request<TopologyRequest>) -> Answer<TopologyResponse> {
                Ok(Response::new(topology()))
            }

            $(
                async fn $rpc(&self, _: Request<$req>) -> Answer<$resp> {
                    Err(Status::unimplemented(stringify!($rpc)))
                }
            )*
        }
    };
}

topology_only_gateway! {
    activate_jobs(ActivateJobsRequest) -> Self::ActivateJobsStream;
    stream_activated_jobs(StreamActivatedJobsRequest) -> Self::StreamActivatedJobsStream;
    cancel_process_instance(CancelProcessInstanceRequest) -> CancelProcessInstanceResponse;
    complete_job(CompleteJobRequest) -> CompleteJobResponse;
    create_process_instance(CreateProcessInstanceRequest) -> CreateProcessInstanceResponse;
    create_process_instance_with_result(CreateProcessInstanceWithResultRequest)
        -> CreateProcessInstanceWithResultResponse;
    evaluate_decision(EvaluateDecisionRequest) -> EvaluateDecisionResponse;
    deploy_process(DeployProcessRequest) -> DeployProcessResponse;
    deploy_resource(DeployResourceRequest) -> DeployResourceResponse;
    fail_job(FailJobRequest) -> FailJobResponse;
    throw_error(ThrowErrorRequest) -> ThrowErrorResponse;
    publish_message(PublishMessageRequest) -> PublishMessageResponse;
    resolve_incident(ResolveIncidentRequest) -> ResolveIncidentResponse;
    set_variables(SetVariablesRequest) -> SetVariablesResponse;
    update_job_retries(UpdateJobRetriesRequest) -> UpdateJobRetriesResponse;
    modify_process_instance(ModifyProcessInstanceRequest) -> ModifyProcessInstanceResponse;
    migrate_process_instance(MigrateProcessInstanceRequest) -> MigrateProcessInstanceResponse;
    update_job_timeout(UpdateJobTimeoutRequest) -> UpdateJobTimeoutResponse;
    delete_resource(DeleteResourceRequest) -> DeleteResourceResponse;
    broadcast_signal(BroadcastSignalRequest) -> BroadcastSignalResponse;
}

/// A running server and how to stop it.
struct Running {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

async fn serve() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, stop) = oneshot::channel::<()>();
    let served = tokio::spawn(
        Server::builder()
            .add_service(GatewayServer::new(TopologyOnly))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stop.await;
                },
            ),
    );
    Running {
        addr,
        shutdown,
        served,
    }
}

async fn client(addr: SocketAddr) -> GatewayClient<Channel> {
    GatewayClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

#[tokio::test]
async fn topology_round_trips() {
    let server = serve().await;
    let mut client = client(server.addr).await;

    let answer = client
        .topology(TopologyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer, topology());

    server.shutdown.send(()).unwrap();
    server.served.await.unwrap().unwrap();
}

fn assert_unimplemented<T: std::fmt::Debug>(rpc: &str, answer: Result<T, Status>) {
    let status = answer.expect_err(rpc);
    assert_eq!(status.code(), Code::Unimplemented, "{rpc}: {status:?}");
    // The server's own message proves the call reached our method, not a missing route.
    assert_eq!(status.message(), rpc, "{rpc}: {status:?}");
}

#[tokio::test]
#[allow(deprecated)] // DeployProcess is deprecated in Zeebe's protocol, and still served.
async fn every_other_rpc_reaches_the_server_and_is_unimplemented() {
    let server = serve().await;
    let mut c = client(server.addr).await;

    macro_rules! check {
        ($($rpc:ident($req:ident),)*) => {
            $(
                let answer = c.$rpc($req::default()).await.map(|_| ());
                assert_unimplemented(stringify!($rpc), answer);
            )*
        };
    }
    check! {
        activate_jobs(ActivateJobsRequest),
        stream_activated_jobs(StreamActivatedJobsRequest),
        cancel_process_instance(CancelProcessInstanceRequest),
        complete_job(CompleteJobRequest),
        create_process_instance(CreateProcessInstanceRequest),
        create_process_instance_with_result(CreateProcessInstanceWithResultRequest),
        evaluate_decision(EvaluateDecisionRequest),
        deploy_process(DeployProcessRequest),
        deploy_resource(DeployResourceRequest),
        fail_job(FailJobRequest),
        throw_error(ThrowErrorRequest),
        publish_message(PublishMessageRequest),
        resolve_incident(ResolveIncidentRequest),
        set_variables(SetVariablesRequest),
        update_job_retries(UpdateJobRetriesRequest),
        modify_process_instance(ModifyProcessInstanceRequest),
        migrate_process_instance(MigrateProcessInstanceRequest),
        update_job_timeout(UpdateJobTimeoutRequest),
        delete_resource(DeleteResourceRequest),
        broadcast_signal(BroadcastSignalRequest),
    }

    server.shutdown.send(()).unwrap();
    server.served.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_rpc_zeebe_does_not_have_is_unimplemented() {
    // A newer client calling an RPC this protocol does not define gets UNIMPLEMENTED from
    // tonic's router, as Zeebe's gateway answers for unknown methods.
    let server = serve().await;
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/gateway_protocol.Gateway/EvaluateConditional",
    );
    let codec = tonic_prost::ProstCodec::<TopologyRequest, TopologyResponse>::default();
    let status = grpc
        .unary(Request::new(TopologyRequest {}), path, codec)
        .await
        .expect_err("no such RPC");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");

    server.shutdown.send(()).unwrap();
    server.served.await.unwrap().unwrap();
}
