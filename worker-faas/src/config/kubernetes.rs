//! The `[kubernetes]` section: the Kubernetes backend's settings ([`Settings`]), from the TOML file, each scalar
//! overridden by `APSIS_WORKER_KUBERNETES_<KEY>` (`env` and `command` are file-only: lists do not fit one
//! variable).
//!
//! ```toml
//! [kubernetes]
//! enabled = true                      # default false: kubernetes tasks are incidents
//! namespace = "eo"                    # default: the service account's (in-cluster) or the KUBECONFIG context's
//! service_account = "eo-steps"        # the Job pods' service account
//! pvc = "eo-data"                     # a PersistentVolumeClaim mounted in every Job ...
//! mount_path = "/data"                # ... here (both or neither)
//! ttl_seconds_after_finished = 3600
//! image_pull_policy = "IfNotPresent"  # Always, IfNotPresent or Never; default: Kubernetes'
//! keep_alive_interval_ms = 30000      # UpdateJobTimeout period while a Job runs
//! log_lines = 50                      # log lines kept from a failed pod
//! command = ["/usr/bin/env"]          # the container's command; default: the image's entrypoint
//! env = { OTB_MAX_RAM_HINT = "4096" } # environment of every Job
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::backend::kubernetes::{Settings, Volume};
use crate::Error;

/// The section as the file has it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KubernetesFile {
    enabled: Option<bool>,
    namespace: Option<String>,
    service_account: Option<String>,
    pvc: Option<String>,
    mount_path: Option<String>,
    ttl_seconds_after_finished: Option<u32>,
    image_pull_policy: Option<String>,
    keep_alive_interval_ms: Option<u64>,
    log_lines: Option<u32>,
    command: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
}

/// One scalar: the environment's value, else the file's, with its origin.
struct Layer<'a> {
    env: &'a [(String, String)],
    path: Option<&'a Path>,
}

impl Layer<'_> {
    fn get(&self, key: &str, file: Option<String>) -> Option<(String, String)> {
        let name = format!("APSIS_WORKER_KUBERNETES_{}", key.to_ascii_uppercase());
        if let Some((_, v)) = self
            .env
            .iter()
            .find(|(n, v)| *n == name && !v.trim().is_empty())
        {
            return Some((v.trim().to_owned(), name));
        }
        let path = self
            .path
            .map_or_else(String::new, |p| p.display().to_string());
        file.map(|v| (v, format!("{path} key 'kubernetes.{key}'")))
    }

    fn parse<T: std::str::FromStr>(
        &self,
        key: &str,
        file: Option<String>,
        expected: &'static str,
        valid: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, Error> {
        match self.get(key, file) {
            None => Ok(None),
            Some((text, origin)) => match text.parse::<T>() {
                Ok(v) if valid(&v) => Ok(Some(v)),
                _ => Err(Error::Setting {
                    key: format!("kubernetes.{key}"),
                    origin,
                    expected,
                    found: text,
                }),
            },
        }
    }
}

/// The settings the file's section and the environment give, on top of the defaults.
pub(super) fn resolve(
    file: Option<KubernetesFile>,
    env: &[(String, String)],
    path: Option<&Path>,
) -> Result<Settings, Error> {
    let f = file.unwrap_or_default();
    let l = Layer { env, path };
    let d = Settings::default();
    let text = |key: &str, v: Option<String>| l.get(key, v).map(|(v, _)| v);
    let enabled = l
        .parse::<bool>(
            "enabled",
            f.enabled.map(|b| b.to_string()),
            "true or false",
            |_| true,
        )?
        .unwrap_or(d.enabled);
    let image_pull_policy = l.parse::<String>(
        "image_pull_policy",
        f.image_pull_policy,
        "one of Always, IfNotPresent, Never",
        |p| matches!(p.as_str(), "Always" | "IfNotPresent" | "Never"),
    )?;
    let volume = match (l.get("pvc", f.pvc), l.get("mount_path", f.mount_path)) {
        (None, None) => None,
        (Some((claim, _)), Some((mount_path, origin))) => {
            if !mount_path.starts_with('/') {
                return Err(Error::Setting {
                    key: "kubernetes.mount_path".into(),
                    origin,
                    expected: "an absolute path",
                    found: mount_path,
                });
            }
            Some(Volume { claim, mount_path })
        }
        (Some((_, origin)), None) | (None, Some((_, origin))) => {
            return Err(Error::Setting {
                key: "kubernetes.pvc and kubernetes.mount_path".into(),
                origin,
                expected: "both set or neither",
                found: "only one".into(),
            })
        }
    };
    let env_vars: Vec<(String, String)> = f.env.unwrap_or_default().into_iter().collect();
    if let Some((name, _)) = env_vars.iter().find(|(n, _)| !is_env_name(n)) {
        return Err(Error::Setting {
            key: "kubernetes.env".into(),
            origin: format!(
                "{} key 'kubernetes.env'",
                path.map_or_else(String::new, |p| p.display().to_string())
            ),
            expected: "variable names of letters, digits and '_' (not starting with a digit)",
            found: name.clone(),
        });
    }
    Ok(Settings {
        enabled,
        namespace: text("namespace", f.namespace),
        service_account: text("service_account", f.service_account),
        volume,
        env: env_vars,
        ttl_seconds_after_finished: l
            .parse(
                "ttl_seconds_after_finished",
                f.ttl_seconds_after_finished.map(|v| v.to_string()),
                "a whole number of seconds",
                |_: &u32| true,
            )?
            .unwrap_or(d.ttl_seconds_after_finished),
        image_pull_policy,
        command: f.command.filter(|c| !c.is_empty()),
        keep_alive_interval: l
            .parse(
                "keep_alive_interval_ms",
                f.keep_alive_interval_ms.map(|v| v.to_string()),
                "a positive whole number",
                |v: &u64| *v > 0,
            )?
            .map_or(d.keep_alive_interval, Duration::from_millis),
        log_lines: l
            .parse(
                "log_lines",
                f.log_lines.map(|v| v.to_string()),
                "a positive whole number",
                |v: &u32| *v > 0,
            )?
            .unwrap_or(d.log_lines),
    })
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The section as TOML, for `--print-config`.
pub(super) fn to_toml(s: &Settings) -> toml::Table {
    let mut t = toml::Table::new();
    let text = |v: &str| toml::Value::String(v.to_owned());
    t.insert("enabled".into(), toml::Value::Boolean(s.enabled));
    if let Some(ns) = &s.namespace {
        t.insert("namespace".into(), text(ns));
    }
    if let Some(sa) = &s.service_account {
        t.insert("service_account".into(), text(sa));
    }
    if let Some(v) = &s.volume {
        t.insert("pvc".into(), text(&v.claim));
        t.insert("mount_path".into(), text(&v.mount_path));
    }
    t.insert(
        "ttl_seconds_after_finished".into(),
        toml::Value::Integer(s.ttl_seconds_after_finished.into()),
    );
    if let Some(p) = &s.image_pull_policy {
        t.insert("image_pull_policy".into(), text(p));
    }
    t.insert(
        "keep_alive_interval_ms".into(),
        toml::Value::Integer(s.keep_alive_interval.as_millis() as i64),
    );
    t.insert("log_lines".into(), toml::Value::Integer(s.log_lines.into()));
    if let Some(c) = &s.command {
        t.insert(
            "command".into(),
            toml::Value::Array(c.iter().map(|w| text(w)).collect()),
        );
    }
    let env: toml::Table = s.env.iter().map(|(k, v)| (k.clone(), text(v))).collect();
    t.insert("env".into(), toml::Value::Table(env));
    t
}
