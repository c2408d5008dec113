//! The backend's settings: the worker config's `[kubernetes]` section, resolved (`crate::config`).

use std::time::Duration;

/// The worker's `[kubernetes]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `false`: kubernetes tasks are incidents (no client is ever made).
    pub enabled: bool,
    /// `None`: the client's default namespace (the service account's, or the KUBECONFIG context's).
    pub namespace: Option<String>,
    /// The Job pods' service account.
    pub service_account: Option<String>,
    /// The data volume every Job mounts.
    pub volume: Option<Volume>,
    /// Environment of every Job container, before `APSIS_CALL_ID` and `APSIS_JOB_KEY`.
    pub env: Vec<(String, String)>,
    pub ttl_seconds_after_finished: u32,
    /// `Always`, `IfNotPresent`, `Never`; `None`: Kubernetes' default.
    pub image_pull_policy: Option<String>,
    /// The container's `command`; `None`: the image's entrypoint, with the rendered `cmdline` as its args.
    pub command: Option<Vec<String>>,
    pub keep_alive_interval: Duration,
    /// Log lines kept from a pod.
    pub log_lines: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            enabled: false,
            namespace: None,
            service_account: None,
            volume: None,
            env: Vec::new(),
            ttl_seconds_after_finished: 3600,
            image_pull_policy: None,
            command: None,
            keep_alive_interval: Duration::from_secs(30),
            log_lines: 50,
        }
    }
}

/// A PersistentVolumeClaim mounted into every Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub claim: String,
    pub mount_path: String,
}
