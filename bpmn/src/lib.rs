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
