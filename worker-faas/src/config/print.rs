//! `--print-config`: the resolved configuration as TOML, every secret masked.

use std::time::Duration;

use apsis_client::Auth;

use super::Config;

impl Config {
    /// The configuration as TOML, secrets masked; reads back as the same configuration (but for the masks).
    pub fn to_toml(&self) -> String {
        const MASK: &str = "********";
        let mut t = toml::Table::new();
        let s = |v: &str| toml::Value::String(v.to_owned());
        let ms = |d: Duration| toml::Value::Integer(d.as_millis() as i64);
        t.insert(
            "job_types".into(),
            toml::Value::Array(self.job_types.iter().map(|j| s(j)).collect()),
        );
        t.insert("worker_name".into(), s(&self.worker_name));
        t.insert(
            "max_jobs_in_flight".into(),
            toml::Value::Integer(self.max_jobs_in_flight as i64),
        );
        t.insert("activation_timeout_ms".into(), ms(self.activation_timeout));
        t.insert(
            "poll_request_timeout_ms".into(),
            ms(self.poll_request_timeout),
        );
        t.insert("openfaas_url".into(), s(&self.openfaas_url));
        t.insert("local_url".into(), s(&self.local_url));
        t.insert("callback_url".into(), s(&self.callback_url));
        t.insert("listen_address".into(), s(&self.listen_address));
        t.insert("shutdown_grace_ms".into(), ms(self.shutdown_grace));
        t.insert("log_level".into(), s(&self.log_level));
        t.insert("log_format".into(), s(&self.log_format));
        let mut retry = toml::Table::new();
        let p = &self.policy;
        retry.insert(
            "attempts".into(),
            toml::Value::Integer(p.invoke_attempts.into()),
        );
        retry.insert("initial_backoff_ms".into(), ms(p.invoke_initial_backoff));
        retry.insert("max_backoff_ms".into(), ms(p.invoke_max_backoff));
        retry.insert("job_retry_backoff_ms".into(), ms(p.job_retry_backoff));
        t.insert("retry".into(), toml::Value::Table(retry));
        t.insert(
            "kubernetes".into(),
            toml::Value::Table(super::kubernetes::to_toml(&self.kubernetes)),
        );
        let g = &self.gateway;
        let mut gw = toml::Table::new();
        gw.insert("address".into(), s(&g.address));
        if let Some(tls) = g.tls {
            gw.insert("tls".into(), toml::Value::Boolean(tls));
        }
        if let Some(ca) = &g.ca_certificate {
            gw.insert("ca_certificate".into(), s(&ca.display().to_string()));
        }
        gw.insert("connect_timeout_ms".into(), ms(g.connect_timeout));
        gw.insert("keepalive_ms".into(), ms(g.keepalive));
        let mut auth = toml::Table::new();
        match &g.auth {
            Auth::None => {
                auth.insert("mode".into(), s("none"));
            }
            Auth::StaticToken { .. } => {
                auth.insert("mode".into(), s("static-token"));
                auth.insert("token".into(), s(MASK));
            }
            Auth::OAuth(o) => {
                auth.insert("mode".into(), s("oauth"));
                auth.insert("client_id".into(), s(&o.client_id));
                auth.insert("client_secret".into(), s(MASK));
                auth.insert(
                    "authorization_server_url".into(),
                    s(&o.authorization_server_url),
                );
                if let Some(a) = &o.audience {
                    auth.insert("audience".into(), s(a));
                }
                if let Some(sc) = &o.scope {
                    auth.insert("scope".into(), s(sc));
                }
            }
        }
        gw.insert("auth".into(), toml::Value::Table(auth));
        t.insert("gateway".into(), toml::Value::Table(gw));
        format!(
            "# callback key: {MASK} (id {}, from {})\n{}",
            self.callback_key.id(),
            self.callback_key_origin,
            toml::to_string(&t).unwrap_or_default()
        )
    }
}
