//! Tasks (job workers, FEEL scripts, receive tasks, pass-through), input/output mappings and multi-instance.

use crate::feel::Feelish;
use crate::graph::*;
use crate::model::*;

use super::refs::{Static, Support};
use super::{is_activity, Compiler, DEFAULT_RETRIES, USER_TASK_JOB_TYPE};

/// Names FEEL reserves, which Zeebe refuses as mapping targets (`ZeebeExpressionValidator.PATH_RESERVED_WORDS`).
const RESERVED_WORDS: &[&str] = &[
    "null", "true", "false", "function", "if", "then", "else", "for", "between", "instance", "of",
];

impl<'a> Compiler<'a> {
    /// `zeebe:formDefinition formKey`, `zeebe:assignmentDefinition` and `zeebe:taskSchedule` of a job-based user
    /// task, as the job's custom headers (Zeebe's `io.camunda.zeebe:*` header names).
    fn user_task_headers(&mut self, n: &FlowNode) -> Vec<UserTaskHeader> {
        let mut out = Vec::new();
        for attr in &n.zeebe.user_task {
            let list = matches!(attr.name.as_str(), "candidateGroups" | "candidateUsers");
            if let Some(value) =
                self.feelish(attr.pos, &n.id, &format!("'{}'", attr.name), &attr.value)
            {
                out.push(UserTaskHeader {
                    header: format!("io.camunda.zeebe:{}", attr.name),
                    value,
                    list,
                });
            }
        }
        out
    }

    pub(super) fn task(&mut self, n: &FlowNode, task: TaskKind) -> Option<ElementKind> {
        let id = n.id.as_str();
        let z = &n.zeebe;
        match task {
            TaskKind::Manual | TaskKind::Undefined => {
                return Some(ElementKind::PassThrough { task })
            }
            TaskKind::Receive => {
                return self
                    .message(n, n.message_ref.as_deref(), n.pos, true)
                    .map(|message| ElementKind::ReceiveTask { message })
            }
            TaskKind::Script => match (&z.script, &z.task_definition) {
                (Some(s), Some(_)) => {
                    self.problem(s.pos, id, "Expected a script task to have either 'zeebe:script' or 'zeebe:taskDefinition', but found both".into());
                    return None;
                }
                (Some(s), None) => return self.script(n, s),
                (None, None) => {
                    self.problem(n.pos, id, "Expected a script task to have either 'zeebe:script' or 'zeebe:taskDefinition', but found neither".into());
                    return None;
                }
                (None, Some(_)) => {}
            },
            TaskKind::BusinessRule => {
                if let Some(pos) = z.called_decision {
                    self.unsupported(
                        n,
                        "a business rule task calling a DMN decision (zeebe:calledDecision)",
                        pos,
                        Support::ZeebeOnly,
                    );
                    return None;
                }
            }
            _ => {}
        }
        let (job_type, retries) = match &z.task_definition {
            Some(td) => {
                let job_type = match td.job_type.as_deref().map(str::trim) {
                    Some(t) if !t.is_empty() => self.feelish(td.pos, id, "the job type", t),
                    Some(_) => {
                        self.problem(td.pos, id, "Expected 'zeebe:taskDefinition' to have a non-empty 'type', but it is empty".into());
                        None
                    }
                    None => {
                        self.problem(
                            td.pos,
                            id,
                            "Expected 'zeebe:taskDefinition' to have a 'type', but it has none"
                                .into(),
                        );
                        None
                    }
                };
                let retries_text = td
                    .retries
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .unwrap_or(DEFAULT_RETRIES);
                let retries = self.feelish(td.pos, id, "the job retries", retries_text);
                if let Some(Feelish::Static(r)) = &retries {
                    if r.parse::<i32>().is_err() {
                        self.problem(td.pos, id, format!("Expected the job retries to be an integer or a FEEL expression, but found '{r}'"));
                        return None;
                    }
                }
                (job_type, retries)
            }
            None if task == TaskKind::User => (
                Some(Feelish::Static(USER_TASK_JOB_TYPE.to_owned())),
                Some(Feelish::Static(DEFAULT_RETRIES.to_owned())),
            ),
            None => {
                self.problem(n.pos, id, format!("Expected {} to have a 'zeebe:taskDefinition' with a job 'type', but found none", n.tag));
                (None, None)
            }
        };
        Some(ElementKind::JobTask {
            task,
            job: JobDefinition {
                job_type: job_type?,
                retries: retries?,
                headers: z.headers.clone(),
                user_task_headers: if task == TaskKind::User {
                    self.user_task_headers(n)
                } else {
                    Vec::new()
                },
            },
        })
    }

    fn script(&mut self, n: &FlowNode, s: &ScriptDef) -> Option<ElementKind> {
        let id = n.id.as_str();
        let expression = match s.expression.as_deref().map(str::trim) {
            Some(e) if !e.is_empty() => {
                self.expression(s.pos, id, "the script expression", e, Static::Rejected)
            }
            _ => {
                self.problem(
                    s.pos,
                    id,
                    "Expected 'zeebe:script' to have a non-empty 'expression', but found none"
                        .into(),
                );
                None
            }
        };
        let result_variable = match s.result_variable.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => Some(r.to_owned()),
            _ => {
                self.problem(
                    s.pos,
                    id,
                    "Expected 'zeebe:script' to have a non-empty 'resultVariable', but found none"
                        .into(),
                );
                None
            }
        };
        Some(ElementKind::ScriptFeel {
            expression: expression?,
            result_variable: result_variable?,
        })
    }

    /// `zeebe:input`s and `zeebe:output`s. Like Zeebe, an output's source must be an expression; an input's may be
    /// a static value.
    pub(super) fn mappings(&mut self, n: &FlowNode) -> (Vec<Mapping>, Vec<Mapping>) {
        let inputs = self.mapping_list(n, &n.zeebe.inputs, "input", Static::Parsed);
        let outputs = self.mapping_list(n, &n.zeebe.outputs, "output", Static::Rejected);
        (inputs, outputs)
    }

    fn mapping_list(
        &mut self,
        n: &FlowNode,
        list: &[MappingDef],
        what: &str,
        statics: Static,
    ) -> Vec<Mapping> {
        let mut out = Vec::new();
        for m in list {
            let target = m.target.as_deref().map(str::trim).filter(|t| !t.is_empty());
            let source = m.source.as_deref().map(str::trim).filter(|s| !s.is_empty());
            let target = match target {
                None => {
                    self.problem(
                        m.pos,
                        &n.id,
                        format!(
                            "Expected 'zeebe:{what}' to have a non-empty 'target', but found none"
                        ),
                    );
                    None
                }
                Some(t) if RESERVED_WORDS.contains(&t) => {
                    self.problem(m.pos, &n.id, format!("Expected the {what} target to be a variable name, but found the reserved word '{t}'"));
                    None
                }
                Some(t) if !valid_target(t) => {
                    self.problem(m.pos, &n.id, format!("Expected the {what} target to be a variable name or a dotted path like 'a.b' (letters, digits and '_'), but found '{t}'"));
                    None
                }
                Some(t) => Some(t),
            };
            let what_source = match target {
                Some(t) => format!("the {what} source for '{t}'"),
                None => format!("the {what} source"),
            };
            let source = match source {
                None => {
                    self.problem(
                        m.pos,
                        &n.id,
                        format!(
                            "Expected 'zeebe:{what}' to have a non-empty 'source', but found none"
                        ),
                    );
                    None
                }
                Some(s) if statics == Static::Rejected => self
                    .expression(m.pos, &n.id, &what_source, s, Static::Rejected)
                    .map(Feelish::Expr),
                Some(s) => self.feelish(m.pos, &n.id, &what_source, s),
            };
            if let (Some(target), Some(source)) = (target, source) {
                out.push(Mapping {
                    source,
                    target: target.to_owned(),
                });
            }
        }
        out
    }

    pub(super) fn multi_instance(&mut self, n: &FlowNode) -> Option<MultiInstance> {
        let mi = n.multi_instance.as_ref()?;
        let id = n.id.as_str();
        if !is_activity(n) {
            self.problem(
                mi.pos,
                id,
                format!(
                    "Expected multi-instance only on activities, but found it on {}",
                    n.tag
                ),
            );
            return None;
        }
        let Some(l) = &n.zeebe.loop_characteristics else {
            self.problem(mi.pos, id, "Expected a multi-instance activity to have 'zeebe:loopCharacteristics' with an 'inputCollection', but found none".into());
            return None;
        };
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        let input_collection = match non_empty(&l.input_collection) {
            Some(c) => self.expression(l.pos, id, "the inputCollection", &c, Static::Rejected),
            None => {
                self.problem(l.pos, id, "Expected 'zeebe:loopCharacteristics' to have an 'inputCollection', but found none".into());
                None
            }
        };
        let output_collection = non_empty(&l.output_collection);
        let output_element = match (&output_collection, non_empty(&l.output_element)) {
            (Some(_), Some(e)) => self
                .expression(l.pos, id, "the outputElement", &e, Static::Rejected)
                .map(Some),
            (None, None) => Some(None),
            (Some(_), None) => {
                self.problem(l.pos, id, "Expected 'outputElement' together with 'outputCollection', but found only 'outputCollection'".into());
                None
            }
            (None, Some(_)) => {
                self.problem(l.pos, id, "Expected 'outputCollection' together with 'outputElement', but found only 'outputElement'".into());
                None
            }
        };
        let completion_condition =
            match mi.completion_condition.as_deref().filter(|s| !s.is_empty()) {
                Some(c) => self
                    .expression(mi.pos, id, "the completionCondition", c, Static::Rejected)
                    .map(Some),
                None => Some(None),
            };
        Some(MultiInstance {
            sequential: mi.sequential,
            input_collection: input_collection?,
            input_element: non_empty(&l.input_element),
            output_collection,
            output_element: output_element?,
            completion_condition: completion_condition?,
        })
    }
}

/// Zeebe's mapping target pattern: `[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z_][a-zA-Z0-9_]*)*`.
fn valid_target(t: &str) -> bool {
    t.split('.').all(|part| {
        let mut chars = part.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}
