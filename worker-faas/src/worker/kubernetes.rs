//! A kubernetes task's job: rendered into a [`Launch`], run to its end by the Kubernetes backend while the job's
//! timeout is kept extended, then completed or failed here.
//!
//! The job holds its in-flight permit for the whole run: the worker is working on it (watching, extending), and
//! the bound keeps one worker from watching more Jobs than it is sized for; give memory-heavy steps their own job
//! type and worker when they must not take permits from short functions. On shutdown the run is dropped and the
//! job given back with its retries unchanged: the next worker to activate it re-attaches to the same Job.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apsis_proto::gateway_protocol as pb;
use serde_json::Value;
use tracing::info;

use super::job::{fail_job, give_back, incident};
use super::Shared;
use crate::backend::kubernetes::{spec, Finished, KeepAlive, Kubernetes, Launch};
use crate::metrics;
use crate::outcome::Settlement;
use crate::request;
use crate::task::{Payload, Task};

/// UpdateJobTimeout through the worker's gateway connection.
struct Extend<'a> {
    shared: &'a Shared,
    job_key: i64,
}

impl KeepAlive for Extend<'_> {
    fn extend(
        &self,
        timeout: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Settlement> + Send + '_>> {
        Box::pin(self.shared.update_timeout(self.job_key, timeout))
    }
}

pub(super) async fn run(
    shared: &Arc<Shared>,
    job: &pb::ActivatedJob,
    task: &Task,
    variables: &Value,
    backend: &Kubernetes,
    received: Instant,
) {
    let argv = match &task.payload {
        Payload::Cmdline(cmdline) => match cmdline.render(variables) {
            Ok(argv) => Some(argv),
            Err(failure) => return incident(shared, job.key, &failure, &task.function).await,
        },
        // `body` is refused with backend=kubernetes when the task is read; no template: the image's own command.
        Payload::Body(_) | Payload::Variables => None,
    };
    let Some(container) = &task.kubernetes else {
        // Task::from_headers sets it for every kubernetes task.
        return;
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let launch = Launch {
        function: task.function.clone(),
        job_key: job.key,
        retries: job.retries,
        process_instance_key: job.process_instance_key,
        element_id: job.element_id.clone(),
        bpmn_process_id: job.bpmn_process_id.clone(),
        image: container.image.clone(),
        cpu: container.cpu.clone(),
        memory: container.memory.clone(),
        argv,
        timeout: request::timeout(task, now_ms),
    };
    let job_name = spec::job_name(&launch.function, launch.job_key, launch.retries);
    tracing::Span::current().record("call_id", job_name.as_str());
    let extend = Extend {
        shared,
        job_key: job.key,
    };
    let finished = tokio::select! {
        finished = backend.run(&launch, task.result_variable.as_deref(), &extend) => finished,
        _ = shared.until_stopped() => return give_back(shared, job).await,
    };
    match finished {
        Finished::Complete(complete) => {
            if shared.complete(&complete).await != Settlement::Failed {
                metrics::completed(&task.function);
                metrics::job(&task.function, "kubernetes", received.elapsed());
                info!(job_name, "Kubernetes Job complete; job completed");
            }
        }
        Finished::Fail(fail) => fail_job(shared, &fail, &task.function, "kubernetes").await,
        Finished::Gone => info!(job_name, "job gone while its Kubernetes Job ran"),
    }
}
