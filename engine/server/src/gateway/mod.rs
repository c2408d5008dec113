//! The Zeebe gateway over gRPC: translates `gateway_protocol.Gateway` requests into engine commands and the
//! outcomes back, with Zeebe's statuses and wording. It holds no engine state of its own, only waiters
//! (long-polling job requests, awaited results) and open job streams.

pub mod auth;
mod convert;
mod errors;
mod hub;
mod oversize;
pub mod tls;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use apsis_core::command::Resource;
use apsis_core::{Command, Key, Response};
use apsis_proto as pb;
use pb::gateway_server::{Gateway, GatewayServer};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Status};

use crate::streams::{JobSink, StreamSpec};
use crate::{EngineHandle, Reply};
pub(crate) use hub::Hub;

/// The tenant id Zeebe reports when multi-tenancy is off.
pub const DEFAULT_TENANT: &str = "<default>";
/// The Zeebe version the gateway reports in Topology (Camunda Modeler reads it to pick features).
pub const GATEWAY_VERSION: &str = "8.6.0";
/// Zeebe's default long-polling timeout of ActivateJobs when the request says 0.
pub const DEFAULT_LONG_POLL: Duration = Duration::from_secs(10);
/// Zeebe's default request timeout for CreateProcessInstanceWithResult when the request says 0.
pub const DEFAULT_RESULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest request or response message, as in Zeebe.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Jobs buffered per job stream before the stream counts as full (flow control).
pub const STREAM_BUFFER: usize = 32;

/// Connects the gateway to a running engine. Create it before the engine starts, so its effects hook can be put in
/// the engine's options: `opts.on_effects = Some(effects_hook(&hub))`.
#[derive(Debug, Clone, Default)]
pub struct GatewayHub(pub(crate) Arc<Hub>);

impl GatewayHub {
    pub fn new() -> GatewayHub {
        GatewayHub::default()
    }

    /// The hook for [`crate::EngineOptions::on_effects`].
    pub fn effects_hook(&self) -> crate::runtime::EffectsFn {
        let hub = self.0.clone();
        Arc::new(move |effects| hub.on_effects(effects))
    }
}

/// Where the engine lives on the network, for Topology.
#[derive(Debug, Clone)]
pub struct Advertised {
    pub host: String,
    pub port: i32,
}

/// The gRPC service.
#[derive(Debug, Clone)]
pub struct GatewayService {
    engine: EngineHandle,
    hub: Arc<Hub>,
    advertised: Advertised,
    max_message_bytes: usize,
}

impl GatewayService {
    pub fn new(engine: EngineHandle, hub: &GatewayHub, advertised: Advertised) -> GatewayService {
        GatewayService {
            engine,
            hub: hub.0.clone(),
            advertised,
            max_message_bytes: MAX_MESSAGE_BYTES,
        }
    }

    /// Sets the largest request and answer accepted (Zeebe's `maxMessageSize`, 4 MB by default). A larger request
    /// is refused with RESOURCE_EXHAUSTED before it reaches the engine.
    pub fn with_max_message_size(mut self, bytes: usize) -> GatewayService {
        self.max_message_bytes = bytes;
        self
    }

    /// The tonic server for this service, with its message size limit. It accepts gzip-compressed requests,
    /// as Zeebe's gateway (grpc-java) does: @camunda8/sdk compresses every request; answers stay uncompressed.
    pub fn into_server(self) -> oversize::Oversize<GatewayServer<GatewayService>> {
        let limit = self.max_message_bytes;
        oversize::Oversize(
            GatewayServer::new(self)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit)
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
        )
    }

    /// Sends a command and waits for its committed reply. `must_accept` commands (job completion and failure) wait
    /// for room in the queue instead of meeting backpressure, as Zeebe never refuses them.
    async fn call(
        &self,
        command: Command,
        intent: &str,
        must_accept: bool,
    ) -> Result<Response, Status> {
        let (tx, rx) = oneshot::channel::<Reply>();
        let reply = Box::new(move |r: Reply| {
            let _ = tx.send(r);
        });
        let submitted = if must_accept {
            let engine = self.engine.clone();
            tokio::task::spawn_blocking(move || engine.submit_wait(command, reply))
                .await
                .map_err(|_| {
                    Status::internal("Expected to submit the command, but the task failed")
                })?
        } else {
            self.engine.submit(command, reply)
        };
        submitted.map_err(errors::submit)?;
        match rx.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(rejection)) => Err(errors::rejection(intent, &rejection)),
            Err(_) => Err(errors::submit(crate::SubmitError::Stopped)),
        }
    }
}

fn unexpected(r: Response) -> Status {
    Status::internal(format!(
        "Expected another response from the engine, but got {r:?}"
    ))
}

type JobStream = Pin<Box<dyn Stream<Item = Result<pb::ActivatedJob, Status>> + Send>>;
type ActivateStream = Pin<Box<dyn Stream<Item = Result<pb::ActivateJobsResponse, Status>> + Send>>;

/// A job stream's sink: a bounded channel to the client's response stream.
struct ChannelSink(mpsc::Sender<Result<pb::ActivatedJob, Status>>);

impl JobSink for ChannelSink {
    fn capacity(&self) -> usize {
        if self.0.is_closed() {
            0
        } else {
            self.0.capacity()
        }
    }

    fn push(
        &self,
        job: Box<apsis_core::command::ActivatedJob>,
    ) -> Result<(), Box<apsis_core::command::ActivatedJob>> {
        let message = convert::activated_job((*job).clone(), DEFAULT_TENANT);
        self.0.try_send(Ok(message)).map_err(|_| job)
    }
}

/// Closes the engine-side stream when the client's response stream is dropped (client gone).
struct StreamGuard {
    engine: EngineHandle,
    id: u64,
    inner: ReceiverStream<Result<pb::ActivatedJob, Status>>,
}

impl Stream for StreamGuard {
    type Item = Result<pb::ActivatedJob, Status>;
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.engine.close_stream(self.id);
    }
}

fn validate_job_request(job_type: &str, worker: &str, timeout: i64) -> Result<(), Status> {
    if job_type.trim().is_empty() {
        return Err(errors::invalid(
            "Expected to activate jobs of a type, but the type is blank",
        ));
    }
    if worker.trim().is_empty() {
        return Err(errors::invalid(
            "Expected to activate jobs for a worker, but the worker name is blank",
        ));
    }
    if timeout < 1 {
        return Err(errors::invalid(format!(
            "Expected to activate jobs with a timeout of at least 1 ms, but the timeout is {timeout}"
        )));
    }
    Ok(())
}

#[tonic::async_trait]
impl Gateway for GatewayService {
    type ActivateJobsStream = ActivateStream;
    type StreamActivatedJobsStream = JobStream;

    async fn activate_jobs(
        &self,
        request: Request<pb::ActivateJobsRequest>,
    ) -> Result<tonic::Response<Self::ActivateJobsStream>, Status> {
        let r = request.into_inner();
        validate_job_request(&r.r#type, &r.worker, r.timeout)?;
        if r.max_jobs_to_activate < 1 {
            return Err(errors::invalid(format!(
                "Expected to activate at least 1 job, but maxJobsToActivate is {}",
                r.max_jobs_to_activate
            )));
        }
        let wait = match r.request_timeout {
            0 => Some(DEFAULT_LONG_POLL),
            t if t < 0 => None,
            t => Some(Duration::from_millis(t as u64)),
        };
        let deadline = wait.map(|w| tokio::time::Instant::now() + w);
        let notify = self.hub.job_notify(&r.r#type);
        loop {
            // Subscribe before asking, so a job created between the answer and the wait still wakes us.
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let command = Command::ActivateJobs {
                job_type: r.r#type.clone(),
                worker: r.worker.clone(),
                timeout_ms: r.timeout,
                max_jobs: r.max_jobs_to_activate,
                fetch_variables: r.fetch_variable.clone(),
            };
            let jobs = match self.call(command, "ACTIVATE", false).await? {
                Response::JobsActivated { jobs } => jobs,
                other => return Err(unexpected(other)),
            };
            if !jobs.is_empty() {
                let message = pb::ActivateJobsResponse {
                    jobs: jobs
                        .into_iter()
                        .map(|j| convert::activated_job(j, DEFAULT_TENANT))
                        .collect(),
                };
                return Ok(tonic::Response::new(Box::pin(tokio_stream::once(Ok(
                    message,
                )))));
            }
            let Some(deadline) = deadline else {
                return Ok(tonic::Response::new(Box::pin(tokio_stream::empty())));
            };
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(tonic::Response::new(Box::pin(tokio_stream::empty())));
            }
        }
    }

    async fn stream_activated_jobs(
        &self,
        request: Request<pb::StreamActivatedJobsRequest>,
    ) -> Result<tonic::Response<Self::StreamActivatedJobsStream>, Status> {
        let r = request.into_inner();
        validate_job_request(&r.r#type, &r.worker, r.timeout)?;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let spec = StreamSpec {
            job_type: r.r#type,
            worker: r.worker,
            timeout_ms: r.timeout,
            fetch_variables: r.fetch_variable,
        };
        let id = self
            .engine
            .open_stream(spec, Arc::new(ChannelSink(tx)))
            .map_err(errors::submit)?;
        let guard = StreamGuard {
            engine: self.engine.clone(),
            id,
            inner: ReceiverStream::new(rx),
        };
        Ok(tonic::Response::new(Box::pin(guard)))
    }

    async fn cancel_process_instance(
        &self,
        request: Request<pb::CancelProcessInstanceRequest>,
    ) -> Result<tonic::Response<pb::CancelProcessInstanceResponse>, Status> {
        let key = Key(request.into_inner().process_instance_key);
        self.call(Command::CancelProcessInstance { key }, "CANCEL", false)
            .await?;
        Ok(tonic::Response::new(pb::CancelProcessInstanceResponse {}))
    }

    async fn complete_job(
        &self,
        request: Request<pb::CompleteJobRequest>,
    ) -> Result<tonic::Response<pb::CompleteJobResponse>, Status> {
        let r = request.into_inner();
        let variables = convert::variables("variables", &r.variables)?;
        self.call(
            Command::CompleteJob {
                key: Key(r.job_key),
                variables,
            },
            "COMPLETE",
            true,
        )
        .await?;
        Ok(tonic::Response::new(pb::CompleteJobResponse {}))
    }

    async fn create_process_instance(
        &self,
        request: Request<pb::CreateProcessInstanceRequest>,
    ) -> Result<tonic::Response<pb::CreateProcessInstanceResponse>, Status> {
        let r = request.into_inner();
        if !r.start_instructions.is_empty() {
            return Err(Status::unimplemented(
                "Expected to create a process instance at its start event, but start instructions are not supported yet",
            ));
        }
        let command = Command::CreateProcessInstance {
            process: convert::selector(&r)?,
            variables: convert::variables("variables", &r.variables)?,
            await_result: false,
        };
        match self.call(command, "CREATE", false).await? {
            Response::ProcessInstanceCreated {
                process_definition_key,
                bpmn_process_id,
                version,
                process_instance_key,
            } => Ok(tonic::Response::new(pb::CreateProcessInstanceResponse {
                process_definition_key: process_definition_key.0,
                bpmn_process_id,
                version,
                process_instance_key: process_instance_key.0,
                tenant_id: DEFAULT_TENANT.into(),
            })),
            other => Err(unexpected(other)),
        }
    }

    async fn create_process_instance_with_result(
        &self,
        request: Request<pb::CreateProcessInstanceWithResultRequest>,
    ) -> Result<tonic::Response<pb::CreateProcessInstanceWithResultResponse>, Status> {
        let r = request.into_inner();
        let inner = r.request.unwrap_or_default();
        let command = Command::CreateProcessInstance {
            process: convert::selector(&inner)?,
            variables: convert::variables("variables", &inner.variables)?,
            await_result: true,
        };
        let timeout = if r.request_timeout > 0 {
            Duration::from_millis(r.request_timeout as u64)
        } else {
            DEFAULT_RESULT_TIMEOUT
        };
        // The waiter is registered in the reply callback (runtime thread), before the batch's effects run.
        let (tx, rx) = oneshot::channel();
        let hub = self.hub.clone();
        let reply = Box::new(move |reply: Reply| {
            let waiter = match &reply {
                Ok(Response::ProcessInstanceCreated {
                    process_instance_key,
                    ..
                }) => Some(hub.await_result(*process_instance_key)),
                _ => None,
            };
            let _ = tx.send((reply, waiter));
        });
        self.engine.submit(command, reply).map_err(errors::submit)?;
        let (reply, waiter) = rx
            .await
            .map_err(|_| errors::submit(crate::SubmitError::Stopped))?;
        let created =
            reply.map_err(|rej| errors::rejection("CREATE_WITH_AWAITING_RESULT", &rej))?;
        let Response::ProcessInstanceCreated {
            process_definition_key,
            bpmn_process_id,
            version,
            process_instance_key,
        } = created
        else {
            return Err(unexpected(created));
        };
        let waiter = waiter.ok_or_else(|| Status::internal("Expected a result waiter"))?;
        match tokio::time::timeout(timeout, waiter).await {
            Ok(Ok(hub::InstanceEnd::Completed(vars))) => Ok(tonic::Response::new(pb::CreateProcessInstanceWithResultResponse {
                process_definition_key: process_definition_key.0,
                bpmn_process_id,
                version,
                process_instance_key: process_instance_key.0,
                variables: convert::filter(vars, &r.fetch_variables),
                tenant_id: DEFAULT_TENANT.into(),
            })),
            Ok(Ok(hub::InstanceEnd::Terminated)) => Err(Status::failed_precondition(format!(
                "Expected to receive the result of process instance '{process_instance_key}', but it was terminated"
            ))),
            Ok(Err(_)) => Err(errors::submit(crate::SubmitError::Stopped)),
            Err(_) => {
                self.hub.forget_result(process_instance_key);
                Err(Status::deadline_exceeded(format!(
                    "Time out between gateway and broker: Request timed out after {} ms waiting for the result of process instance '{process_instance_key}'",
                    timeout.as_millis()
                )))
            }
        }
    }

    async fn evaluate_decision(
        &self,
        _request: Request<pb::EvaluateDecisionRequest>,
    ) -> Result<tonic::Response<pb::EvaluateDecisionResponse>, Status> {
        Err(Status::unimplemented(
            "Expected to evaluate a decision, but DMN is not supported yet",
        ))
    }

    async fn deploy_process(
        &self,
        request: Request<pb::DeployProcessRequest>,
    ) -> Result<tonic::Response<pb::DeployProcessResponse>, Status> {
        let r = request.into_inner();
        let resources = r
            .processes
            .into_iter()
            .map(|p| (p.name, p.definition))
            .collect();
        let (key, processes) = self.deploy(resources).await?;
        Ok(tonic::Response::new(pb::DeployProcessResponse {
            key,
            processes,
        }))
    }

    async fn deploy_resource(
        &self,
        request: Request<pb::DeployResourceRequest>,
    ) -> Result<tonic::Response<pb::DeployResourceResponse>, Status> {
        let r = request.into_inner();
        let resources = r
            .resources
            .into_iter()
            .map(|p| (p.name, p.content))
            .collect();
        let (key, processes) = self.deploy(resources).await?;
        Ok(tonic::Response::new(pb::DeployResourceResponse {
            key,
            deployments: processes
                .into_iter()
                .map(|p| pb::Deployment {
                    metadata: Some(pb::deployment::Metadata::Process(p)),
                })
                .collect(),
            tenant_id: DEFAULT_TENANT.into(),
        }))
    }

    async fn fail_job(
        &self,
        request: Request<pb::FailJobRequest>,
    ) -> Result<tonic::Response<pb::FailJobResponse>, Status> {
        let r = request.into_inner();
        let command = Command::FailJob {
            key: Key(r.job_key),
            retries: r.retries,
            error_message: r.error_message,
            retry_backoff_ms: r.retry_back_off,
            variables: convert::variables("variables", &r.variables)?,
        };
        self.call(command, "FAIL", true).await?;
        Ok(tonic::Response::new(pb::FailJobResponse {}))
    }

    async fn throw_error(
        &self,
        request: Request<pb::ThrowErrorRequest>,
    ) -> Result<tonic::Response<pb::ThrowErrorResponse>, Status> {
        let r = request.into_inner();
        let command = Command::ThrowError {
            key: Key(r.job_key),
            error_code: r.error_code,
            error_message: r.error_message,
            variables: convert::variables("variables", &r.variables)?,
        };
        self.call(command, "THROW_ERROR", true).await?;
        Ok(tonic::Response::new(pb::ThrowErrorResponse {}))
    }

    async fn publish_message(
        &self,
        request: Request<pb::PublishMessageRequest>,
    ) -> Result<tonic::Response<pb::PublishMessageResponse>, Status> {
        let r = request.into_inner();
        if r.name.trim().is_empty() {
            return Err(errors::invalid(
                "Expected to publish a message with a name, but the name is blank",
            ));
        }
        let command = Command::PublishMessage {
            name: r.name,
            correlation_key: r.correlation_key,
            ttl_ms: r.time_to_live,
            message_id: r.message_id,
            variables: convert::variables("variables", &r.variables)?,
        };
        match self.call(command, "PUBLISH", false).await? {
            Response::MessagePublished { key } => {
                Ok(tonic::Response::new(pb::PublishMessageResponse {
                    key: key.0,
                    tenant_id: DEFAULT_TENANT.into(),
                }))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn resolve_incident(
        &self,
        request: Request<pb::ResolveIncidentRequest>,
    ) -> Result<tonic::Response<pb::ResolveIncidentResponse>, Status> {
        let key = Key(request.into_inner().incident_key);
        self.call(Command::ResolveIncident { key }, "RESOLVE", false)
            .await?;
        Ok(tonic::Response::new(pb::ResolveIncidentResponse {}))
    }

    async fn set_variables(
        &self,
        request: Request<pb::SetVariablesRequest>,
    ) -> Result<tonic::Response<pb::SetVariablesResponse>, Status> {
        let r = request.into_inner();
        let command = Command::SetVariables {
            element_instance_key: Key(r.element_instance_key),
            variables: convert::variables("variables", &r.variables)?,
            local: r.local,
        };
        match self.call(command, "UPDATE", false).await? {
            Response::VariablesSet { key } => Ok(tonic::Response::new(pb::SetVariablesResponse {
                key: key.0,
            })),
            other => Err(unexpected(other)),
        }
    }

    async fn topology(
        &self,
        _request: Request<pb::TopologyRequest>,
    ) -> Result<tonic::Response<pb::TopologyResponse>, Status> {
        Ok(tonic::Response::new(pb::TopologyResponse {
            brokers: vec![pb::BrokerInfo {
                node_id: 0,
                host: self.advertised.host.clone(),
                port: self.advertised.port,
                partitions: vec![pb::Partition {
                    partition_id: apsis_core::key::PARTITION_ID as i32,
                    role: pb::partition::PartitionBrokerRole::Leader as i32,
                    health: pb::partition::PartitionBrokerHealth::Healthy as i32,
                }],
                version: GATEWAY_VERSION.into(),
            }],
            cluster_size: 1,
            partitions_count: 1,
            replication_factor: 1,
            gateway_version: GATEWAY_VERSION.into(),
        }))
    }

    async fn update_job_retries(
        &self,
        request: Request<pb::UpdateJobRetriesRequest>,
    ) -> Result<tonic::Response<pb::UpdateJobRetriesResponse>, Status> {
        let r = request.into_inner();
        if r.retries < 1 {
            return Err(errors::invalid(format!(
                "Expected to update job retries to a number greater than zero, but it is {}",
                r.retries
            )));
        }
        self.call(
            Command::UpdateJobRetries {
                key: Key(r.job_key),
                retries: r.retries,
            },
            "UPDATE_RETRIES",
            false,
        )
        .await?;
        Ok(tonic::Response::new(pb::UpdateJobRetriesResponse {}))
    }

    async fn modify_process_instance(
        &self,
        _request: Request<pb::ModifyProcessInstanceRequest>,
    ) -> Result<tonic::Response<pb::ModifyProcessInstanceResponse>, Status> {
        Err(Status::unimplemented(
            "Expected to modify a process instance, but modification is not supported yet",
        ))
    }

    async fn migrate_process_instance(
        &self,
        _request: Request<pb::MigrateProcessInstanceRequest>,
    ) -> Result<tonic::Response<pb::MigrateProcessInstanceResponse>, Status> {
        Err(Status::unimplemented(
            "Expected to migrate a process instance, but migration is not supported yet",
        ))
    }

    async fn update_job_timeout(
        &self,
        request: Request<pb::UpdateJobTimeoutRequest>,
    ) -> Result<tonic::Response<pb::UpdateJobTimeoutResponse>, Status> {
        let r = request.into_inner();
        self.call(
            Command::UpdateJobTimeout {
                key: Key(r.job_key),
                timeout_ms: r.timeout,
            },
            "UPDATE_TIMEOUT",
            false,
        )
        .await?;
        Ok(tonic::Response::new(pb::UpdateJobTimeoutResponse {}))
    }

    async fn delete_resource(
        &self,
        request: Request<pb::DeleteResourceRequest>,
    ) -> Result<tonic::Response<pb::DeleteResourceResponse>, Status> {
        let key = Key(request.into_inner().resource_key);
        self.call(Command::DeleteResource { key }, "DELETE", false)
            .await?;
        Ok(tonic::Response::new(pb::DeleteResourceResponse {}))
    }

    async fn broadcast_signal(
        &self,
        _request: Request<pb::BroadcastSignalRequest>,
    ) -> Result<tonic::Response<pb::BroadcastSignalResponse>, Status> {
        Err(Status::unimplemented(
            "Expected to broadcast a signal, but signal events are not supported yet: no process can catch it",
        ))
    }
}

impl GatewayService {
    async fn deploy(
        &self,
        resources: Vec<(String, Vec<u8>)>,
    ) -> Result<(i64, Vec<pb::ProcessMetadata>), Status> {
        let mut list = Vec::with_capacity(resources.len());
        for (name, bytes) in resources {
            let content = String::from_utf8(bytes).map_err(|_| {
                errors::invalid(format!(
                    "Expected resource '{name}' to be UTF-8 text (BPMN XML), but it is not"
                ))
            })?;
            list.push(Resource { name, content });
        }
        match self
            .call(Command::Deploy { resources: list }, "CREATE", false)
            .await?
        {
            Response::Deployed { key, processes } => Ok((
                key.0,
                processes
                    .into_iter()
                    .map(|p| convert::process_metadata(p, DEFAULT_TENANT))
                    .collect(),
            )),
            other => Err(unexpected(other)),
        }
    }
}

/// How the gateway protects its port. The default is plain TCP and no authentication, as on loopback.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Serve TLS with this identity.
    pub tls: Option<tls::TlsIdentity>,
    /// Check every call's bearer token with this.
    pub auth: Option<auth::Authenticator>,
}

/// Serves the gateway on `listener` until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    service: GatewayService,
    listener: tokio::net::TcpListener,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    use tokio_stream::StreamExt as _;
    // Small request/response messages must not wait for Nagle's algorithm (40 ms delayed-ACK stalls otherwise).
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|s| {
        if let Ok(s) = &s {
            let _ = s.set_nodelay(true);
        }
        s
    });
    let mut builder = tonic::transport::Server::builder();
    if let Some(identity) = &options.tls {
        tls::install_provider();
        builder = builder.tls_config(identity.server_config())?;
    }
    // grpc.health.v1.Health, as Zeebe's gateway serves it: SERVING for "" (the whole server) and for
    // "gateway_protocol.Gateway". The engine has recovered before the gateway listens, so it serves from the start.
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<GatewayServer<GatewayService>>().await;
    builder
        .layer(auth::AuthLayer(options.auth))
        .add_service(health_service)
        .add_service(service.into_server())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
