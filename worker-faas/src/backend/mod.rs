//! Where functions run. A [`Backend`] takes one [`FunctionRequest`] and says whether the function was handed over
//! (its callback will follow) or the job must fail; the job loop does the rest (complete, hold, fail) through
//! [`crate::outcome`].
//!
//! - `openfaas` and `local` are one implementation, [`openfaas::OpenFaas`], pointed at an OpenFaaS gateway or at
//!   the local runtime that serves the same contract on loopback;
//! - `kubernetes` is not a `Backend`: it runs the task to its end and the worker completes or fails the job itself
//!   ([`kubernetes::Kubernetes::run`]); with `[kubernetes] enabled = false` (the default) a kubernetes task is an
//!   incident saying so ([`Backends::for_task`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::outcome::{FailJob, Jitter};
use crate::request::FunctionRequest;
use crate::task::{Backend as Kind, Task};

pub mod kubernetes;
pub mod openfaas;

/// Equal jitter from a fresh random UUID's bits (the one source of randomness the worker already has).
pub(crate) fn jitter() -> Jitter {
    let bits = uuid::Uuid::new_v4().as_u128() as u32;
    Jitter::Equal(f64::from(bits) / f64::from(u32::MAX))
}

/// What a backend made of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invoked {
    /// The function was handed over; its callback carries the result.
    Accepted,
    /// The call could not be handed over: fail the job with this.
    Failed(FailJob),
}

/// A place functions run.
///
/// Contract: `invoke` hands `request` to the function once (retrying transient faults itself, by the retry
/// policy of [`crate::outcome::on_invocation`]) and returns [`Invoked::Accepted`] only when the function will run
/// and call `request.callback_url` back with `X-Call-Id: request.call_id`. It never completes or fails the job
/// itself, and it must return within the retry policy's bound (so a shutdown can wait for it).
pub trait Backend: Send + Sync + fmt::Debug {
    fn invoke<'a>(
        &'a self,
        request: &'a FunctionRequest,
    ) -> Pin<Box<dyn Future<Output = Invoked> + Send + 'a>>;
}

/// The backends of one worker, by the task's `backend` header.
#[derive(Debug, Clone)]
pub struct Backends {
    pub openfaas: Arc<dyn Backend>,
    pub local: Arc<dyn Backend>,
    /// `None` when the `[kubernetes]` section is not enabled.
    pub kubernetes: Option<Arc<kubernetes::Kubernetes>>,
}

/// The backend a task runs on.
#[derive(Debug, Clone)]
pub enum Selected<'a> {
    /// Called, then answered by a callback.
    Call(&'a Arc<dyn Backend>),
    /// Run to its end by the worker.
    Kubernetes(&'a Arc<kubernetes::Kubernetes>),
}

impl Backends {
    /// OpenFaaS at `openfaas_url`, the local runtime at `local_url`, Kubernetes when `kubernetes.enabled` (its
    /// client made at the first kubernetes task).
    pub fn new(
        openfaas_url: &str,
        local_url: &str,
        kubernetes: &kubernetes::Settings,
        policy: &crate::outcome::Policy,
    ) -> Result<Backends, crate::Error> {
        Ok(Backends {
            openfaas: Arc::new(openfaas::OpenFaas::new(
                "openfaas",
                openfaas_url,
                policy.clone(),
            )?),
            local: Arc::new(openfaas::OpenFaas::new("local", local_url, policy.clone())?),
            kubernetes: kubernetes.enabled.then(|| {
                Arc::new(kubernetes::Kubernetes::new(
                    kubernetes.clone(),
                    policy.clone(),
                ))
            }),
        })
    }

    /// The backend of `task`, or the incident to raise when this worker has none of that kind.
    pub fn for_task(&self, task: &Task, job_key: i64) -> Result<Selected<'_>, FailJob> {
        match task.backend {
            Kind::OpenFaas => Ok(Selected::Call(&self.openfaas)),
            Kind::Local => Ok(Selected::Call(&self.local)),
            Kind::Kubernetes => self.kubernetes.as_ref().map(Selected::Kubernetes).ok_or_else(|| FailJob {
                job_key,
                retries: 0,
                error_message: format!(
                    "element '{}': Expected a Kubernetes backend to run function '{}', but this worker's \
                     Kubernetes backend is not enabled (set `enabled = true` in the `[kubernetes]` section of its \
                     config, or APSIS_WORKER_KUBERNETES_ENABLED=true)",
                    task.element_id, task.function
                ),
                retry_backoff: Duration::ZERO,
            }),
        }
    }
}
