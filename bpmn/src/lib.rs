//! BPMN 2.0 for Apsis: XML as Camunda Modeler writes it (any namespace prefixes; `bpmn:`, `zeebe:`,
//! `modeler:`, `bpmndi:`/`dc:`/`di:`) -> a typed [`model`] that keeps the diagram -> validation that reports
//! every problem at once, located (file, element id, line:column) -> a compiled executable graph.
//! FEEL expressions are parsed once at deploy time and evaluated through the dsntk crates ([`feel`]);
//! timer definitions (ISO-8601 durations, dates, cycles, cron) are in [`timer`].
//!
//! Invariants: parsing and compiling are pure and deterministic (the same bytes give the same graph), so the engine
//! can recompile a deployed resource on replay. This crate must not depend on the engine, on tokio, or on the clock:
//! every time-dependent function takes `now` as an argument.

pub mod feel;
pub mod timer;

pub mod compile;
pub mod graph;
pub mod model;
mod parse;
mod xml;

pub use graph::{ElementIdx, FlowIdx, ProcessGraph};
pub use model::Pos;

/// One problem found in a BPMN file, located at an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pos: Pos,
    /// The id of the element the problem is about, when there is one.
    pub element_id: Option<String>,
    /// "Expected to ..., but ..." in Zeebe's style.
    pub message: String,
}

impl Problem {
    pub(crate) fn at(pos: Pos, element_id: Option<&str>, message: String) -> Problem {
        Problem {
            pos,
            element_id: element_id.filter(|i| !i.is_empty()).map(str::to_owned),
            message,
        }
    }
}

/// Why a resource could not be deployed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource is not valid; every problem found is listed, in file order.
    #[error("{}", render_problems(.resource, .problems))]
    Invalid {
        resource: String,
        problems: Vec<Problem>,
    },
}

fn render_problems(resource: &str, problems: &[Problem]) -> String {
    let mut out = format!(
        "'{resource}': {} problem{} found",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str(&format!("\n- {resource}:{}: ", p.pos));
        if let Some(id) = &p.element_id {
            out.push_str(&format!("element '{id}': "));
        }
        out.push_str(&p.message);
    }
    out
}

/// A parsed and validated resource: its model (with the diagram) and its executable processes.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub definitions: model::Definitions,
    pub processes: Vec<ProcessGraph>,
}

/// Reads a BPMN file into its typed model, without validating it.
pub fn read(resource: &str, xml: &str) -> Result<model::Definitions, Error> {
    let mut problems = Vec::new();
    let defs = read_into(xml, &mut problems);
    if problems.is_empty() {
        Ok(defs)
    } else {
        Err(invalid(resource, problems))
    }
}

fn read_into(xml: &str, problems: &mut Vec<Problem>) -> model::Definitions {
    match xml::parse(xml) {
        Ok(root) => parse::definitions(&root, problems),
        Err(e) => {
            problems.push(Problem::at(e.pos, None, e.message));
            model::Definitions::default()
        }
    }
}

fn invalid(resource: &str, mut problems: Vec<Problem>) -> Error {
    problems.sort_by_key(|p| (p.pos.line, p.pos.column));
    problems.dedup();
    Error::Invalid {
        resource: resource.to_owned(),
        problems,
    }
}

/// Parses, validates and compiles a BPMN resource. Pure and deterministic.
///
/// `resource` is the file name used in messages. On failure every problem of the file is reported at once.
pub fn compile(resource: &str, xml: &str) -> Result<Compiled, Error> {
    let mut problems = Vec::new();
    let definitions = read_into(xml, &mut problems);
    if !problems.is_empty() {
        return Err(invalid(resource, problems));
    }
    let processes = compile::compile(&definitions, &mut problems);
    if problems.is_empty() {
        Ok(Compiled {
            definitions,
            processes,
        })
    } else {
        Err(invalid(resource, problems))
    }
}
