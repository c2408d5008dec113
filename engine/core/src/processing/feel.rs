//! FEEL evaluation against an element instance's visible variables.

use apsis_bpmn::feel::{Expression, Feelish, VariableSource};
use serde_json::Value;

use super::{Failure, Processor};
use crate::event::IncidentKind;
use crate::key::Key;
use crate::state::State;

/// Variables visible from a scope, looked up lazily (nearest scope wins).
pub(crate) struct ScopeVars<'a> {
    pub state: &'a State,
    pub scope: Key,
    /// The record timestamp, for FEEL's `now()` and `today()`.
    pub now: i64,
}

impl VariableSource for ScopeVars<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.state.variable(self.scope, name).map(|j| &j.0)
    }

    fn now_ms(&self) -> Option<i64> {
        Some(self.now)
    }
}

fn vars<'a>(p: &'a Processor, scope: Key) -> ScopeVars<'a> {
    ScopeVars {
        state: p.state,
        scope,
        now: p.now,
    }
}

pub(crate) fn eval(
    p: &Processor,
    scope: Key,
    e: &Expression,
    kind: IncidentKind,
) -> Result<Value, Failure> {
    e.evaluate(&vars(p, scope))
        .map_err(|err| Failure::new(kind, err.to_string()))
}

pub(crate) fn eval_bool(p: &Processor, scope: Key, e: &Expression) -> Result<bool, Failure> {
    e.evaluate_bool(&vars(p, scope))
        .map_err(|err| Failure::new(IncidentKind::ConditionError, err.to_string()))
}

/// A static value as it is, or an expression's result.
pub(crate) fn eval_feelish(
    p: &Processor,
    scope: Key,
    f: &Feelish,
    kind: IncidentKind,
) -> Result<Value, Failure> {
    match f {
        Feelish::Static(s) => Ok(Value::String(s.clone())),
        Feelish::Expr(e) => eval(p, scope, e, kind),
    }
}

/// A string-valued property (job type, message name, correlation key): numbers are accepted as their text, as in Zeebe.
pub(crate) fn eval_string(
    p: &Processor,
    scope: Key,
    f: &Feelish,
    what: &str,
) -> Result<String, Failure> {
    match eval_feelish(p, scope, f, IncidentKind::ExtractValueError)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(Failure::new(
            IncidentKind::ExtractValueError,
            format!(
                "Expected {what} to be a string or a number, but the expression '{}' returned {}",
                source(f),
                type_name(&other)
            ),
        )),
    }
}

pub(crate) fn source(f: &Feelish) -> String {
    match f {
        Feelish::Static(s) => s.clone(),
        Feelish::Expr(e) => format!("={}", e.source()),
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a context",
    }
}
