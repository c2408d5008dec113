//! The Kubernetes backend, for long, memory-heavy steps: the task runs as a batch/v1 Job and the worker itself
//! completes or fails the Zeebe job (there is no callback).
//!
//! One run ([`Kubernetes::run`]):
//! 1. create the Job of [`spec::job`]; a 409 means the Job of this very attempt exists already (its name is
//!    deterministic: job key and retries), so the worker re-attaches to it instead of starting a second one;
//! 2. watch it (`await_condition`, list + watch) until its `Complete` or `Failed` condition, within the task's
//!    timeout plus [`WATCH_MARGIN`] (Kubernetes' `activeDeadlineSeconds` normally fails it first); meanwhile extend
//!    the Zeebe job's timeout every `keep_alive_interval` to that interval plus [`KEEP_ALIVE_MARGIN`], so that a
//!    worker that dies lets the job come back within a minute or so, and the next worker re-attaches;
//! 3. Complete: the job is completed with `{<resultVariable>: {jobName, durationSeconds, logTail}}` (no variables
//!    without a result variable); Failed: the pod's container state (`OOMKilled (exit code 137)`) and its last log
//!    lines go into the error message, retries - 1; watch timeout: the Job is deleted (propagation Background) and
//!    the job failed, retries - 1.
//!
//! API errors: 5xx, 429, 410 and lost connections are retried with the invocation backoff of
//! [`crate::outcome::Policy`]; a 403 fails the job with a message naming the missing RBAC permission
//! ([`verdict::api_failure`]); anything else fails the job with the API server's answer.
//!
//! The client is made from the in-cluster service account or KUBECONFIG (`kube::Client::try_default`) when the
//! first kubernetes task arrives, so that a worker that never sees one needs no cluster credentials.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::runtime::wait::{self, await_condition};
use kube::runtime::watcher;
use serde_json::{json, Map, Value};
use tokio::sync::OnceCell;
use tracing::{info, warn};

use super::jitter;
use crate::outcome::{self, CompleteJob, FailJob, Policy, Settlement};
use verdict::{ApiError, Class, Op};

mod settings;
pub mod spec;
pub mod verdict;

pub use settings::{Settings, Volume};
pub use spec::Launch;

/// How much longer than the task's timeout the watch waits before deleting the Job itself.
pub const WATCH_MARGIN: Duration = Duration::from_secs(60);
/// How much longer than the keep-alive interval each extension of the Zeebe job's timeout lasts.
pub const KEEP_ALIVE_MARGIN: Duration = Duration::from_secs(30);
/// The most log bytes asked of the API server (the message keeps the last 4 KiB of them).
pub const LOG_LIMIT_BYTES: i64 = 64 * 1024;
/// A watch that ran this long before failing starts its retries afresh.
const WATCH_HEALTHY: Duration = Duration::from_secs(60);

/// The Zeebe side of a run: extends the job's timeout.
///
/// Contract: `extend(t)` asks the gateway for the job's timeout to end `t` from now (UpdateJobTimeout) and
/// returns its [`Settlement`]: `Done`; `AlreadyDone` when the job is gone (completed elsewhere, its instance
/// cancelled): the run stops watching and leaves the Job to its deadline and TTL; `Failed` for a refusal that a
/// later extension may fix.
pub trait KeepAlive: Send + Sync {
    fn extend(&self, timeout: Duration) -> Pin<Box<dyn Future<Output = Settlement> + Send + '_>>;
}

/// How a run ended, for the worker to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    Complete(CompleteJob),
    Fail(FailJob),
    /// The Zeebe job is gone; nothing to do.
    Gone,
}

/// Runs tasks as Kubernetes Jobs.
pub struct Kubernetes {
    settings: Settings,
    policy: Policy,
    client: OnceCell<kube::Client>,
}

impl fmt::Debug for Kubernetes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kubernetes")
            .field("settings", &self.settings)
            .field("connected", &self.client.initialized())
            .finish()
    }
}

/// One run's names, for messages.
struct Names<'a> {
    function: &'a str,
    job: &'a str,
    namespace: &'a str,
}

impl Kubernetes {
    /// A backend whose client is made at its first run.
    pub fn new(settings: Settings, policy: Policy) -> Kubernetes {
        Kubernetes {
            settings,
            policy,
            client: OnceCell::new(),
        }
    }

    /// A backend talking through `client` (tests: a `tower_test` mock service).
    pub fn with_client(settings: Settings, policy: Policy, client: kube::Client) -> Kubernetes {
        Kubernetes {
            settings,
            policy,
            client: OnceCell::new_with(Some(client)),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs `launch` to its end: see the module documentation. `result_variable` receives the Job's summary.
    pub async fn run(
        &self,
        launch: &Launch,
        result_variable: Option<&str>,
        keep_alive: &dyn KeepAlive,
    ) -> Finished {
        let fail = |message: String| {
            Finished::Fail(outcome::fail(
                launch.job_key,
                launch.retries,
                message,
                &self.policy,
            ))
        };
        let client = match self.client.get_or_try_init(kube::Client::try_default).await {
            Ok(client) => client.clone(),
            Err(e) => {
                return fail(format!(
                    "Expected a Kubernetes client from the in-cluster service account or KUBECONFIG to run \
                     function '{}', but {}",
                    launch.function,
                    ApiError::from_client(&e).text
                ))
            }
        };
        let namespace = self
            .settings
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_owned());
        let job = spec::job(&self.settings, launch);
        let name = job.metadata.name.clone().unwrap_or_default();
        let names = Names {
            function: &launch.function,
            job: &name,
            namespace: &namespace,
        };
        let failure = |op: Op, e: &ApiError| {
            fail(verdict::api_failure(
                names.function,
                names.job,
                names.namespace,
                op,
                e,
            ))
        };
        let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
        let pods: Api<Pod> = Api::namespaced(client, &namespace);

        let post = PostParams::default();
        match self.call(|| jobs.create(&post, &job)).await {
            Ok(_) => info!(job_name = %name, namespace = %namespace, "Kubernetes Job created"),
            Err(e) if e.class == Class::Conflict => match self.call(|| jobs.get(&name)).await {
                Ok(existing) if owned_by(&existing, launch.job_key) => {
                    info!(job_name = %name, namespace = %namespace, "Kubernetes Job exists: re-attached")
                }
                Ok(_) => {
                    return fail(format!(
                        "Expected Kubernetes Job '{name}' in namespace '{namespace}' to be absent or to belong to \
                         job {}, but another Job of that name exists (label {} differs)",
                        launch.job_key,
                        spec::LABEL_JOB_KEY
                    ))
                }
                Err(e) => return failure(verdict::GET_JOB, &e),
            },
            Err(e) => return failure(verdict::CREATE_JOB, &e),
        }

        let limit = launch.timeout.saturating_add(WATCH_MARGIN);
        let watched = tokio::time::timeout(limit, self.watch(&jobs, &name));
        tokio::pin!(watched);
        // Extended at once (the activation timeout may be shorter than the interval), then every interval.
        let every = self.settings.keep_alive_interval;
        let extension = every + KEEP_ALIVE_MARGIN;
        if keep_alive.extend(extension).await == Settlement::AlreadyDone {
            info!(job_name = %name, "the Zeebe job is gone; not watching its Kubernetes Job");
            return Finished::Gone;
        }
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let watched = loop {
            tokio::select! {
                watched = &mut watched => break watched,
                _ = ticks.tick() => {
                    if keep_alive.extend(extension).await == Settlement::AlreadyDone {
                        info!(job_name = %name, "the Zeebe job is gone; no longer watching its Kubernetes Job");
                        return Finished::Gone;
                    }
                }
            }
        };
        let finished = match watched {
            Ok(Ok(Some(finished))) => finished,
            Ok(Ok(None)) => {
                return fail(format!(
                    "Expected Kubernetes Job '{name}' of function '{}' to complete, but it was deleted before it \
                     finished",
                    launch.function
                ))
            }
            Ok(Err(e)) => return failure(verdict::WATCH_JOB, &e),
            Err(_elapsed) => {
                let background = DeleteParams::background();
                let deleted = self.call(|| jobs.delete(&name, &background)).await;
                let note = match deleted {
                    Ok(_) => "the Job was deleted".to_owned(),
                    Err(e) if e.class == Class::NotFound => "the Job was already gone".to_owned(),
                    Err(e) => verdict::api_failure(names.function, names.job, names.namespace, verdict::DELETE_JOB, &e),
                };
                warn!(job_name = %name, "Kubernetes Job still running past its timeout; deleted");
                return fail(format!(
                    "Expected Kubernetes Job '{name}' of function '{}' to finish within {} s, but it was still \
                     running; {note}",
                    launch.function,
                    limit.as_secs()
                ));
            }
        };
        match verdict::finished(&finished) {
            Some(("Complete", _, _)) => {
                info!(job_name = %name, "Kubernetes Job complete");
                let variables = match result_variable {
                    None => Value::Object(Map::new()),
                    Some(variable) => {
                        let tail = match self.diagnose(&pods, &names).await {
                            (_, _, Ok(log)) => Value::String(log),
                            (_, _, Err(problem)) => {
                                warn!(job_name = %name, problem, "no log tail for the result");
                                Value::Null
                            }
                        };
                        json!({ variable: {
                            "jobName": name,
                            "durationSeconds": verdict::duration_seconds(&finished),
                            "logTail": tail,
                        }})
                    }
                };
                Finished::Complete(CompleteJob {
                    job_key: launch.job_key,
                    variables,
                })
            }
            condition => {
                let (reason, message) = condition.map_or((None, None), |(_, r, m)| (r, m));
                let (pod, container, log) = self.diagnose(&pods, &names).await;
                let (log_tail, log_problem) = match log {
                    Ok(log) => (Some(log), None),
                    Err(problem) => (None, Some(problem)),
                };
                let message = verdict::failed_message(&verdict::Failed {
                    function: &launch.function,
                    job_name: &name,
                    reason,
                    message,
                    pod: pod.as_deref(),
                    container,
                    log_tail,
                    log_problem,
                });
                warn!(job_name = %name, error = %message, "Kubernetes Job failed");
                fail(message)
            }
        }
    }

    /// Waits for the Job's `Complete` or `Failed` condition (`Some`) or its deletion (`None`), watching again after
    /// a transient error.
    async fn watch(&self, jobs: &Api<Job>, name: &str) -> Result<Option<Job>, ApiError> {
        let mut attempt = 1;
        loop {
            // A list served from the API server's cache may not show a Job created a moment ago: its absence only
            // counts once it has been seen.
            let seen = AtomicBool::new(false);
            let condition = |job: Option<&Job>| match job {
                Some(job) => {
                    seen.store(true, Ordering::Relaxed);
                    verdict::finished(job).is_some()
                }
                None => seen.load(Ordering::Relaxed),
            };
            let started = Instant::now();
            let e = match await_condition(jobs.clone(), name, condition).await {
                Ok(job) => return Ok(job),
                Err(wait::Error::ProbeFailed(e)) => match e {
                    watcher::Error::InitialListFailed(e)
                    | watcher::Error::WatchStartFailed(e)
                    | watcher::Error::WatchFailed(e) => ApiError::from_client(&e),
                    watcher::Error::WatchError(s) => {
                        ApiError::status(s.code, &s.reason, &s.message)
                    }
                    watcher::Error::NoResourceVersion => ApiError {
                        class: Class::Refused,
                        text: "the list had no resourceVersion".into(),
                    },
                },
            };
            if started.elapsed() >= WATCH_HEALTHY {
                attempt = 1;
            }
            if e.class != Class::Transient || attempt >= self.policy.invoke_attempts {
                return Err(e);
            }
            let pause = outcome::backoff(attempt, &self.policy, jitter());
            warn!(job_name = name, error = %e.text, ?pause, "watch of the Kubernetes Job failed; watching again");
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// The Job's latest pod, how its container ended, and its log tail (or why there is none).
    async fn diagnose(
        &self,
        pods: &Api<Pod>,
        names: &Names<'_>,
    ) -> (Option<String>, Option<String>, Result<String, String>) {
        let selector = ListParams::default().labels(&format!("job-name={}", names.job));
        let list = match self.call(|| pods.list(&selector)).await {
            Ok(list) => list,
            Err(e) => {
                let problem = verdict::api_failure(
                    names.function,
                    names.job,
                    names.namespace,
                    verdict::LIST_PODS,
                    &e,
                );
                return (None, None, Err(problem));
            }
        };
        let Some(pod) = verdict::latest_pod(&list.items) else {
            return (None, None, Err("no pod of the Job is left".into()));
        };
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let state = verdict::container_state(pod);
        let params = LogParams {
            container: Some(spec::CONTAINER.to_owned()),
            tail_lines: Some(i64::from(self.settings.log_lines)),
            limit_bytes: Some(LOG_LIMIT_BYTES),
            ..LogParams::default()
        };
        let log = match self.call(|| pods.logs(&pod_name, &params)).await {
            Ok(log) => Ok(log),
            Err(e) => Err(verdict::api_failure(
                names.function,
                names.job,
                names.namespace,
                verdict::GET_LOG,
                &e,
            )),
        };
        (Some(pod_name), state, log)
    }

    /// One API call, again after a backoff while it fails for a passing reason.
    async fn call<T, F, Fut>(&self, call: F) -> Result<T, ApiError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut attempt = 1;
        loop {
            let e = match call().await {
                Ok(value) => return Ok(value),
                Err(e) => ApiError::from_client(&e),
            };
            if e.class != Class::Transient || attempt >= self.policy.invoke_attempts {
                return Err(e);
            }
            let pause = outcome::backoff(attempt, &self.policy, jitter());
            warn!(error = %e.text, attempt, ?pause, "Kubernetes API call failed; retrying");
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }
}

/// Whether `job` was made for Zeebe job `job_key` (its label says so).
fn owned_by(job: &Job, job_key: i64) -> bool {
    job.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(spec::LABEL_JOB_KEY))
        .is_some_and(|k| *k == job_key.to_string())
}

#[cfg(test)]
mod tests;
