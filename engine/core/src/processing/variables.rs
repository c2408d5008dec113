//! Variables with Zeebe's scoping rules.
//!
//! - Input mappings create local variables of the element instance, in order (a later one sees an earlier one).
//! - A result (job completion, message, script) without output mappings is merged with propagation from the element
//!   instance: each variable is updated in the nearest scope that has it, else created in the process instance.
//! - With output mappings the result becomes local to the element instance, and only the mapped targets are
//!   propagated, starting at the flow scope.
//! - A target `a.b` updates the context variable `a` (created as a context if missing).

use apsis_bpmn::graph::Mapping;
use serde_json::{Map, Value};

use super::{feel, Failure, Processor};
use crate::event::{Event, IncidentKind};
use crate::json::Json;
use crate::key::Key;

/// Creates or updates a variable of exactly this scope. Writes nothing when the value is unchanged.
pub(crate) fn set_local(p: &mut Processor, scope: Key, name: &str, value: Json) {
    let existing = p
        .state
        .variables
        .get(&scope)
        .and_then(|vars| vars.iter().find(|v| v.name == name))
        .map(|v| (v.key, v.value == value));
    match existing {
        Some((_, true)) => {}
        Some((key, false)) => p.write(Event::VariableUpdated {
            key,
            scope_key: scope,
            name: name.to_owned(),
            value,
        }),
        None => {
            let key = p.new_key();
            p.write(Event::VariableCreated {
                key,
                scope_key: scope,
                name: name.to_owned(),
                value,
            });
        }
    }
}

/// Sets a variable in the nearest scope from `start` outwards that defines it, else in the process instance.
pub(crate) fn propagate(p: &mut Processor, start: Key, name: &str, value: Json) {
    let mut current = Some(start);
    let mut root = start;
    while let Some(s) = current {
        let defined = p
            .state
            .variables
            .get(&s)
            .is_some_and(|vars| vars.iter().any(|v| v.name == name));
        if defined {
            set_local(p, s, name, value);
            return;
        }
        root = s;
        current = p.state.parent_scope(s);
    }
    set_local(p, root, name, value);
}

/// Merges a document into the variables: locally, or with propagation from `scope`.
pub(crate) fn merge_document(p: &mut Processor, scope: Key, doc: &Map<String, Value>, local: bool) {
    for (name, value) in doc {
        if local {
            set_local(p, scope, name, Json(value.clone()));
        } else {
            propagate(p, scope, name, Json(value.clone()));
        }
    }
}

/// Merges the result of a job, message or script into an element instance (see the module rules).
pub(crate) fn merge_result(p: &mut Processor, key: Key, result: &Json) -> Result<(), Failure> {
    let Some(doc) = result.as_object() else {
        return Ok(());
    };
    if doc.is_empty() {
        return Ok(());
    }
    let has_outputs = super::bpmn::instance_and_graph(p, key).is_some_and(|(g, i)| {
        !g.element(apsis_bpmn::ElementIdx(i.at.element))
            .outputs
            .is_empty()
    });
    merge_document(p, key, doc, has_outputs);
    Ok(())
}

/// Evaluates input mappings into local variables of the instance.
pub(crate) fn apply_inputs(p: &mut Processor, key: Key, inputs: &[Mapping]) -> Result<(), Failure> {
    for m in inputs {
        let value = feel::eval_feelish(p, key, &m.source, IncidentKind::IoMappingError)?;
        let (root, value) = nested_target(p, key, &m.target, value, true);
        set_local(p, key, &root, Json(value));
    }
    Ok(())
}

/// Evaluates output mappings in the instance's scope and propagates them from its flow scope.
pub(crate) fn apply_outputs(
    p: &mut Processor,
    key: Key,
    outputs: &[Mapping],
) -> Result<(), Failure> {
    if outputs.is_empty() {
        return Ok(());
    }
    let scope = p.state.parent_scope(key).unwrap_or(key);
    let mut results = Vec::with_capacity(outputs.len());
    for m in outputs {
        let value = feel::eval_feelish(p, key, &m.source, IncidentKind::IoMappingError)?;
        results.push((m.target.clone(), value));
    }
    for (target, value) in results {
        let (root, value) = nested_target(p, scope, &target, value, false);
        propagate(p, scope, &root, Json(value));
    }
    Ok(())
}

/// For a target `a.b.c`, the new value of `a` with `value` placed at `b.c` (keeping `a`'s other entries).
fn nested_target(
    p: &Processor,
    scope: Key,
    target: &str,
    value: Value,
    local: bool,
) -> (String, Value) {
    let mut parts = target.split('.');
    let root = parts.next().unwrap_or(target).to_owned();
    let path: Vec<&str> = parts.collect();
    if path.is_empty() {
        return (root, value);
    }
    let current = if local {
        p.state
            .variables
            .get(&scope)
            .and_then(|vars| vars.iter().find(|v| v.name == root))
            .map(|v| v.value.0.clone())
    } else {
        p.state.variable(scope, &root).map(|v| v.0.clone())
    };
    let mut base = match current {
        Some(Value::Object(m)) => Value::Object(m),
        _ => Value::Object(Map::new()),
    };
    let mut slot = &mut base;
    for (i, part) in path.iter().enumerate() {
        let obj = match slot {
            Value::Object(m) => m,
            other => {
                *other = Value::Object(Map::new());
                match other {
                    Value::Object(m) => m,
                    _ => unreachable!("just set to an object"),
                }
            }
        };
        if i == path.len() - 1 {
            obj.insert((*part).to_owned(), value);
            break;
        }
        slot = obj
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    (root, base)
}
