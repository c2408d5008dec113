//! Multi-instance activities: a body instance holds the loop; inner instances are its children.
//! Loop variables (`inputElement`, `loopCounter`) are local to each inner instance; the output collection is local
//! to the body and propagated when the body completes; `numberOfInstances`, `numberOfActiveInstances` and
//! `numberOfCompletedInstances` are local to the body, so the completion condition can read them.

use apsis_bpmn::{ElementIdx, ProcessGraph};
use serde_json::{Map, Value};

use super::{bpmn, feel, variables, Failure, Processor, Step};
use crate::event::{Event, IncidentKind};
use crate::json::Json;
use crate::key::Key;

pub(crate) fn activate_body(
    p: &mut Processor,
    key: Key,
    graph: &ProcessGraph,
) -> Result<(), Failure> {
    let idx = ElementIdx(
        p.state
            .instance(key)
            .map(|i| i.at.element)
            .unwrap_or_default(),
    );
    let el = graph.element(idx);
    let mi = el
        .multi_instance
        .as_ref()
        .ok_or_else(|| Failure::new(IncidentKind::Unknown, "not a multi-instance activity"))?;
    let items = match feel::eval(
        p,
        key,
        &mi.input_collection,
        IncidentKind::ExtractValueError,
    )? {
        Value::Array(items) => items,
        other => {
            return Err(Failure::new(
                IncidentKind::ExtractValueError,
                format!(
                    "Expected result of the expression '{}' to be 'ARRAY', but was '{}'",
                    mi.input_collection.source(),
                    zeebe_type(&other)
                ),
            ))
        }
    };
    let n = items.len();
    p.write(Event::MultiInstanceItems {
        key,
        items: items.into_iter().map(Json).collect(),
    });
    if let Some(out) = &mi.output_collection {
        variables::set_local(p, key, out, Json(Value::Array(vec![Value::Null; n])));
    }
    variables::set_local(p, key, "numberOfInstances", Json(Value::from(n)));
    if !el.boundaries.is_empty() {
        bpmn::open_boundaries(p, key, graph, &el.boundaries)?;
    }
    p.write(Event::ElementActivated { key });
    if n == 0 {
        p.push(Step::Complete { key });
    } else if mi.sequential {
        spawn_inner(p, key, graph, idx, 0);
    } else {
        for i in 0..n {
            spawn_inner(p, key, graph, idx, i);
        }
    }
    Ok(())
}

fn spawn_inner(p: &mut Processor, body: Key, graph: &ProcessGraph, idx: ElementIdx, i: usize) {
    let mi = graph.element(idx).multi_instance.as_ref();
    let mut locals = Map::new();
    if let Some(name) = mi.and_then(|m| m.input_element.as_ref()) {
        let item = p
            .state
            .instance(body)
            .and_then(|b| b.multi_instance.as_ref())
            .and_then(|m| m.items.get(i))
            .map(|j| j.0.clone())
            .unwrap_or(Value::Null);
        locals.insert(name.clone(), item);
    }
    locals.insert("loopCounter".into(), Value::from(i + 1));
    // As in Zeebe, an outputElement that names a variable gets a local (null) variable in each inner instance, so a
    // job's result of that name stays local to its iteration instead of propagating to the process.
    if let Some(name) = mi
        .and_then(|m| m.output_element.as_ref())
        .and_then(|e| plain_name(e.source()))
    {
        locals.entry(name.to_owned()).or_insert(Value::Null);
    }
    p.push(Step::Activate {
        scope: body,
        element: idx,
        via_flow: false,
        locals: Some(Json(Value::Object(locals))),
        payload: None,
    });
}

fn plain_name(source: &str) -> Option<&str> {
    let s = source.trim();
    let mut chars = s.chars();
    let first = chars.next()?;
    ((first.is_alphabetic() || first == '_') && chars.all(|c| c.is_alphanumeric() || c == '_'))
        .then_some(s)
}

/// An inner instance completes: its `outputElement` goes into the body's output collection, then the completion
/// condition is evaluated in the inner instance's scope (as Zeebe does), with the body's counters updated.
pub(crate) fn complete_inner(
    p: &mut Processor,
    inner: Key,
    graph: &ProcessGraph,
) -> Result<(), Failure> {
    collect_output(p, inner, graph)?;
    let Some(inst) = p.state.instance(inner) else {
        return Ok(());
    };
    let body = inst.at.flow_scope_key;
    let Some(cond) = graph
        .element(ElementIdx(inst.at.element))
        .multi_instance
        .as_ref()
        .and_then(|m| m.completion_condition.clone())
    else {
        return Ok(());
    };
    let Some(b) = p.state.instance(body) else {
        return Ok(());
    };
    let completed = b.multi_instance.as_ref().map_or(0, |m| m.completed) + 1;
    let active = b.children.len().saturating_sub(1);
    variables::set_local(
        p,
        body,
        "numberOfCompletedInstances",
        Json(Value::from(completed)),
    );
    variables::set_local(
        p,
        body,
        "numberOfActiveInstances",
        Json(Value::from(active)),
    );
    if feel::eval_bool(p, inner, &cond)? {
        p.write(Event::MultiInstanceConditionMet { key: body });
    }
    Ok(())
}

/// The inner instance's `outputElement` goes into the body's output collection.
fn collect_output(p: &mut Processor, inner: Key, graph: &ProcessGraph) -> Result<(), Failure> {
    let Some(inst) = p.state.instance(inner) else {
        return Ok(());
    };
    let body = inst.at.flow_scope_key;
    let el = graph.element(ElementIdx(inst.at.element));
    let Some(mi) = &el.multi_instance else {
        return Ok(());
    };
    let (Some(out), Some(expr)) = (&mi.output_collection, &mi.output_element) else {
        return Ok(());
    };
    let value = feel::eval(p, inner, expr, IncidentKind::ExtractValueError)?;
    // The engine's own counter, not the `loopCounter` variable a worker may have overwritten.
    let counter = p
        .state
        .instance(body)
        .and_then(|b| b.multi_instance.as_ref())
        .and_then(|m| m.counters.iter().find(|(k, _)| *k == inner))
        .map_or(1, |(_, c)| *c as usize)
        .max(1);
    let mut collection = match p
        .state
        .variables
        .get(&body)
        .and_then(|vars| vars.iter().find(|v| v.name == *out))
    {
        Some(v) => v.value.0.clone(),
        None => Value::Array(Vec::new()),
    };
    if let Value::Array(list) = &mut collection {
        if list.len() < counter {
            list.resize(counter, Value::Null);
        }
        list[counter - 1] = value;
    }
    variables::set_local(p, body, out, Json(collection));
    Ok(())
}

/// The body completes: its output collection reaches the flow scope.
pub(crate) fn propagate_output(
    p: &mut Processor,
    body: Key,
    graph: &ProcessGraph,
) -> Result<(), Failure> {
    let Some(inst) = p.state.instance(body) else {
        return Ok(());
    };
    let el = graph.element(ElementIdx(inst.at.element));
    let Some(out) = el
        .multi_instance
        .as_ref()
        .and_then(|m| m.output_collection.clone())
    else {
        return Ok(());
    };
    let value = p
        .state
        .variables
        .get(&body)
        .and_then(|vars| vars.iter().find(|v| v.name == out))
        .map(|v| v.value.clone())
        .unwrap_or(Json(Value::Array(Vec::new())));
    let scope = inst.at.flow_scope_key;
    variables::propagate(p, scope, &out, value);
    Ok(())
}

/// An inner instance ended: start the next one, stop early once the completion condition was met, or complete.
pub(crate) fn child_ended(p: &mut Processor, body: Key) {
    let Some((graph, inst)) = bpmn::instance_and_graph(p, body) else {
        return;
    };
    let Some(state) = inst.multi_instance.clone() else {
        return;
    };
    let idx = ElementIdx(inst.at.element);
    let n = state.items.len();
    let active = inst.children.len();
    variables::set_local(
        p,
        body,
        "numberOfCompletedInstances",
        Json(Value::from(state.completed)),
    );
    variables::set_local(
        p,
        body,
        "numberOfActiveInstances",
        Json(Value::from(active)),
    );
    if state.condition_met {
        if active == 0 {
            bpmn::complete(p, body);
        } else {
            for child in inst.children.clone() {
                p.push(Step::Terminate { key: child });
            }
        }
        return;
    }
    if active > 0 {
        return;
    }
    if (state.started as usize) < n {
        spawn_inner(p, body, &graph, idx, state.started as usize);
    } else {
        bpmn::complete(p, body);
    }
}

fn zeebe_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
        Value::Number(_) => "NUMBER",
        Value::String(_) => "STRING",
        Value::Array(_) => "ARRAY",
        Value::Object(_) => "OBJECT",
    }
}
