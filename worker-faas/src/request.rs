//! A job turned into the request its function receives: the body (from `cmdline`, `body` or the job's
//! variables), its content type, the call id and the signed callback URL. No I/O and no clock: the call id and
//! `now` are passed in.
//!
//! The body contract (docs/worker-faas.md, "What the function receives"):
//! - `cmdline`: `{"argv": ["otbcli_X", "-in", "a.tif"]}`, `application/json`; the function (otbcli) runs exactly
//!   this argv, without a shell;
//! - `body`: the rendered string; `application/json` when it parses as JSON, `text/plain; charset=utf-8`
//!   otherwise;
//! - neither: the job's variables as a JSON object, `application/json`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::failure::Failure;
use crate::outcome::HOLD_GRACE;
use crate::task::{Backend, Payload, Task};
use crate::token::{self, CallbackKey, Claims};

pub const JSON: &str = "application/json";
pub const TEXT: &str = "text/plain; charset=utf-8";

/// What a function call needs from the job.
#[derive(Debug, Clone, Copy)]
pub struct JobFacts<'a> {
    pub job_key: i64,
    pub process_instance_key: i64,
    pub retries: i32,
    /// The job's variables, a JSON object.
    pub variables: &'a Value,
}

/// Everything about one call but where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRequest {
    pub function: String,
    pub backend: Backend,
    pub call_id: String,
    /// callback-ack's URL with `?token=<signed token>`.
    pub callback_url: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// The task's callback deadline, from now.
    pub timeout: Duration,
    pub job_key: i64,
    pub job_retries: i32,
}

/// Where the callback goes and how it is signed.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    /// callback-ack's URL, without query.
    pub callback_base: &'a str,
    pub key: &'a CallbackKey,
    /// Unix milliseconds.
    pub now_ms: i64,
}

/// The body and its content type, rendered from the task's payload and the job's variables.
pub fn body(task: &Task, variables: &Value) -> Result<(Vec<u8>, &'static str), Failure> {
    Ok(match &task.payload {
        Payload::Cmdline(cmdline) => {
            let argv = cmdline.render(variables)?;
            (json!({ "argv": argv }).to_string().into_bytes(), JSON)
        }
        Payload::Body(template) => {
            let text = template.render(variables)?;
            let kind = if serde_json::from_str::<Value>(&text).is_ok() {
                JSON
            } else {
                TEXT
            };
            (text.into_bytes(), kind)
        }
        Payload::Variables => (variables.to_string().into_bytes(), JSON),
    })
}

/// The task's `timeout` as a duration from `now_ms` (calendar units count from now).
pub fn timeout(task: &Task, now_ms: i64) -> Duration {
    let end = task.timeout.add_to(now_ms).unwrap_or(i64::MAX);
    Duration::from_millis(end.saturating_sub(now_ms).max(0) as u64)
}

/// The whole request for call `call_id` of `job`.
pub fn build(
    task: &Task,
    job: JobFacts<'_>,
    call_id: String,
    signing: Signing<'_>,
) -> Result<FunctionRequest, Failure> {
    let (body, content_type) = body(task, job.variables)?;
    let timeout = timeout(task, signing.now_ms);
    // The token outlives the deadline by the hold grace: a callback arriving just before the deadline must still
    // be accepted; after the job's timeout there is nothing left for it to act on.
    let expires = Duration::from_millis(signing.now_ms.max(0) as u64) + timeout + HOLD_GRACE;
    let claims = Claims {
        call_id: call_id.clone(),
        job_key: job.job_key,
        mode: task.mode.clone(),
        retries: job.retries,
        result_variable: task.result_variable.clone(),
        expires_at: expires.as_secs(),
        trace: token::Trace {
            process_instance_key: Some(job.process_instance_key),
            function: Some(task.function.clone()),
            invoked_at_ms: Some(signing.now_ms.max(0) as u64),
        },
    };
    let token = token::sign(&claims, signing.key);
    let separator = if signing.callback_base.contains('?') {
        '&'
    } else {
        '?'
    };
    Ok(FunctionRequest {
        function: task.function.clone(),
        backend: task.backend,
        callback_url: format!("{}{separator}token={token}", signing.callback_base),
        call_id,
        body,
        content_type,
        timeout,
        job_key: job.job_key,
        job_retries: job.retries,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::task::Mode;

    fn task(headers: &[(&str, &str)]) -> Task {
        let h: BTreeMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Task::from_headers(&h, "ortho", "proc").unwrap()
    }

    fn key() -> CallbackKey {
        CallbackKey::new(vec![7u8; 32]).unwrap()
    }

    #[test]
    fn each_payload_gives_its_body_and_content_type() {
        let vars = json!({"pan": "a b.tif", "n": 3});
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case<'_>] = &[
            (
                &[("function", "otbcli"), ("cmdline", "otbcli_X -in {{pan}}")],
                r#"{"argv":["otbcli_X","-in","a b.tif"]}"#,
                JSON,
            ),
            (
                &[("function", "f"), ("body", r#"{"n": {{json n}}}"#)],
                r#"{"n": 3}"#,
                JSON,
            ),
            (&[("function", "f"), ("body", "n={{n}}")], "n=3", TEXT),
            (&[("function", "f")], r#"{"pan":"a b.tif","n":3}"#, JSON),
        ];
        for (headers, want_body, want_type) in cases {
            let (b, t) = body(&task(headers), &vars).unwrap();
            assert_eq!(String::from_utf8(b).unwrap(), *want_body, "{headers:?}");
            assert_eq!(t, *want_type, "{headers:?}");
        }
    }

    #[test]
    fn the_callback_url_carries_a_token_naming_the_job() {
        let t = task(&[
            ("function", "otbcli"),
            ("mode", "receive-task"),
            ("timeout", "PT2S"),
            ("resultVariable", "ortho"),
        ]);
        let vars = json!({});
        let signing = Signing {
            callback_base: "http://gw:8080/function/callback-ack",
            key: &key(),
            now_ms: 1_000_000,
        };
        let job = JobFacts {
            job_key: 42,
            process_instance_key: 7,
            retries: 3,
            variables: &vars,
        };
        let r = build(&t, job, "c-1".into(), signing).unwrap();
        assert_eq!(r.timeout, Duration::from_secs(2));
        let token = r
            .callback_url
            .strip_prefix("http://gw:8080/function/callback-ack?token=")
            .unwrap();
        let claims = token::verify(token, &key(), 1_000).unwrap();
        assert_eq!(claims.job_key, 42);
        assert_eq!(claims.call_id, "c-1");
        assert_eq!(claims.retries, 3);
        assert_eq!(claims.result_variable.as_deref(), Some("ortho"));
        assert_eq!(claims.expires_at, 1_000 + 2 + HOLD_GRACE.as_secs());
        assert!(matches!(claims.mode, Mode::ReceiveTask { .. }));
        assert_eq!(
            claims.trace,
            token::Trace {
                process_instance_key: Some(7),
                function: Some("otbcli".into()),
                invoked_at_ms: Some(1_000_000),
            }
        );
    }

    #[test]
    fn a_missing_variable_is_a_failure_naming_it() {
        let t = task(&[("function", "otbcli"), ("cmdline", "x {{pan}}")]);
        let e = body(&t, &json!({})).unwrap_err().to_string();
        assert!(e.contains("'pan'"), "{e}");
    }
}
