//! Where functions run. A [`Backend`] takes one [`FunctionRequest`] and says whether the function was handed over
//! (its callback will follow) or the job must fail; the job loop does the rest (complete, hold, fail) through
//! [`crate::outcome`].
//!
//! - `openfaas` and `local` are one implementation, [`openfaas::OpenFaas`], pointed at an OpenFaaS gateway or at
//!   the local runtime that serves the same contract on loopback;
//! - `kubernetes` plugs in later as another `Backend`; until then a kubernetes task is an incident saying this
//!   build has no Kubernetes backend configured ([`Backends::for_task`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::outcome::FailJob;
use crate::request::FunctionRequest;
use crate::task::{Backend as Kind, Task};

pub mod openfaas;

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
    /// `None` until a Kubernetes backend is configured.
    pub kubernetes: Option<Arc<dyn Backend>>,
}

impl Backends {
    /// OpenFaaS at `openfaas_url`, the local runtime at `local_url`, no Kubernetes.
    pub fn http(
        openfaas_url: &str,
        local_url: &str,
        policy: &crate::outcome::Policy,
    ) -> Result<Backends, crate::Error> {
        Ok(Backends {
            openfaas: Arc::new(openfaas::OpenFaas::new(
                "openfaas",
                openfaas_url,
                policy.clone(),
            )?),
            local: Arc::new(openfaas::OpenFaas::new("local", local_url, policy.clone())?),
            kubernetes: None,
        })
    }

    /// The backend of `task`, or the incident to raise when this worker has none of that kind.
    pub fn for_task(&self, task: &Task, job_key: i64) -> Result<&Arc<dyn Backend>, FailJob> {
        match task.backend {
            Kind::OpenFaas => Ok(&self.openfaas),
            Kind::Local => Ok(&self.local),
            Kind::Kubernetes => self.kubernetes.as_ref().ok_or_else(|| FailJob {
                job_key,
                retries: 0,
                error_message: format!(
                    "element '{}': Expected a Kubernetes backend to run function '{}', but this build of \
                     apsis-worker-faas has no Kubernetes backend configured",
                    task.element_id, task.function
                ),
                retry_backoff: Duration::ZERO,
            }),
        }
    }
}
