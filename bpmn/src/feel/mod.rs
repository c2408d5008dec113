//! FEEL as Zeebe uses it, evaluated by the dsntk crates.
//!
//! An attribute value starting with `=` is a FEEL expression, anything else a static value
//! ([`Feelish`]). An [`Expression`] is parsed once (at deploy) and keeps dsntk's syntax tree and
//! prepared evaluator; evaluating it reads only the variables it names, from any
//! [`VariableSource`] (the engine's JSON variables), and gives JSON back ([`convert`]).
//!
//! Semantics follow Zeebe 8.x (feel-scala 1.17+), which is *null-friendly*: a missing variable, a
//! missing context entry or an operation on the wrong types gives `null` with a warning, not a
//! failure. So [`Expression::evaluate`] returns `Ok(null)` there, and the typed evaluations fail with
//! Zeebe's wording plus the warnings, e.g. "Expected result of the expression 'x > 5' to be
//! 'BOOLEAN', but was 'NULL'. The evaluation reported the following warnings:\n[NO_VARIABLE_FOUND]
//! No variable found with name 'x'". A hard [`FeelError::Evaluation`] ("failed to evaluate
//! expression '...': ...") is left for what cannot give a value at all: `now()` without a clock,
//! a panic inside dsntk.
//!
//! Where dsntk's own semantics differ from feel-scala's, the parsed tree is rewritten at parse time
//! to call functions Apsis binds in the evaluation context (`functions.rs`); dsntk still evaluates
//! every expression, arguments included:
//! - `=` and `!=` follow feel-scala's `ValComparator`: `x = "a"` is `false` (and `x != "a"` `true`)
//!   when `x` is missing or null, `null = null` is `true`; lists and contexts are equal when item by
//!   item (entry by entry) equal; two values of different types give `null`. `<`, `>`, `<=`, `>=`
//!   with `null` stay `null`.
//! - Ranges may be written without spaces: `for i in 1..n return i`, `x in [1..n]`.
//!
//! Camunda's extension functions (docs.camunda.io, FEEL built-in functions) beyond DMN's:
//! - supported: `is defined(value)` (`false` for null and for a missing variable or entry, as since
//!   feel-scala 1.17 / Zeebe 8.3), `get or else(value, default)`, `assert(value, condition)` and
//!   `assert(value, condition, cause)` (a failed assert fails the evaluation: "Assertion failure on
//!   evaluate the expression '...': The condition is not fulfilled"), `is empty(list)`,
//!   `is blank(string)`, `trim(string)`, `to base64(value)`, `duplicate values(list)`,
//!   `partition(list, size)`, `string join(list)` / `(list, delimiter)` / `(list, delimiter,
//!   prefix, suffix)` (null items left out), `get value(context, keys)` (a path),
//!   `last day of month(date)`; `context put(context, keys, value)`, `context merge`,
//!   `get entries`, `split` and the DMN built-ins are dsntk's own; `now()`/`today()` see below.
//! - rejected at parse time ([`FeelError::UnsupportedFunction`]): `random number()` and `uuid()`,
//!   which would make replaying the log give other results; `extract(string, pattern)`, which
//!   needs a regular-expression engine Apsis does not have here.
//!
//! Purity: `now()` and `today()` are rewritten at parse time to read the clock the caller passes
//! ([`WithClock`]), never the system clock. Expressions defining `external` (Java/PMML) functions,
//! which dsntk would run over HTTP, are rejected at parse time.

pub mod convert;
mod functions;
mod syntax;
mod typed;

use dsntk_feel::context::FeelContext;
use dsntk_feel::values::Value;
use dsntk_feel::{Evaluator, FeelScope, Name};
use serde_json::Value as Json;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

pub use convert::{feel_to_json, json_to_feel};
pub use typed::ResultType;

/// Where an expression's variables come from: the engine implements it over its scopes (the
/// innermost scope's variable wins, as in Zeebe).
pub trait VariableSource {
    /// The value of the variable `name` visible where the expression is evaluated, if any.
    fn get(&self, name: &str) -> Option<&Json>;
    /// The engine's time for `now()` and `today()`, epoch milliseconds UTC (the record's
    /// timestamp). `None` (the default) makes an expression that calls them fail.
    fn now_ms(&self) -> Option<i64> {
        None
    }
}

impl VariableSource for serde_json::Map<String, Json> {
    fn get(&self, name: &str) -> Option<&Json> {
        serde_json::Map::get(self, name)
    }
}

impl VariableSource for std::collections::HashMap<String, Json> {
    fn get(&self, name: &str) -> Option<&Json> {
        std::collections::HashMap::get(self, name)
    }
}

impl VariableSource for std::collections::BTreeMap<String, Json> {
    fn get(&self, name: &str) -> Option<&Json> {
        std::collections::BTreeMap::get(self, name)
    }
}

/// No variables at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVariables;

impl VariableSource for NoVariables {
    fn get(&self, _: &str) -> Option<&Json> {
        None
    }
}

/// Adds the engine's clock to a variable source, for `now()` and `today()`.
#[derive(Clone, Copy)]
pub struct WithClock<'a> {
    pub vars: &'a dyn VariableSource,
    pub now_ms: i64,
}

impl fmt::Debug for WithClock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithClock")
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

impl VariableSource for WithClock<'_> {
    fn get(&self, name: &str) -> Option<&Json> {
        self.vars.get(name)
    }
    fn now_ms(&self) -> Option<i64> {
        Some(self.now_ms)
    }
}

/// Why an expression could not be parsed or evaluated, or gave the wrong type. The messages are
/// Zeebe's, ready to become an incident's error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeelError {
    #[error("failed to parse expression '{expression}': {reason}")]
    Parse { expression: String, reason: String },
    #[error(
        "Expected the expression '{expression}' to use only FEEL's own functions, but it defines an external \
         (Java/PMML) function, which Apsis does not run"
    )]
    ExternalFunction { expression: String },
    #[error(
        "Expected the expression '{expression}' to call only functions Apsis supports, but it calls \
         '{function}()', {reason}"
    )]
    UnsupportedFunction {
        expression: String,
        function: String,
        reason: String,
    },
    #[error("failed to evaluate expression '{expression}': {reason}")]
    Evaluation { expression: String, reason: String },
    /// The result had another type than the caller needs; `message` is Zeebe's wording, with the
    /// evaluation's warnings appended.
    #[error("{message}")]
    UnexpectedResult {
        expression: String,
        actual: ResultType,
        message: String,
    },
}

/// A note from an evaluation that gave `null` (or lost a value on the way to JSON), written as
/// feel-scala's warnings are: `[NO_VARIABLE_FOUND] No variable found with name 'x'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// `NO_VARIABLE_FOUND` (computed by Apsis, as feel-scala reports it), `EVALUATION_FAILURE`
    /// (dsntk's own reason for a `null`), or `NOT_REPRESENTABLE` (no JSON form).
    pub kind: &'static str,
    pub message: String,
}

impl Warning {
    fn no_variable(name: &str) -> Warning {
        Warning {
            kind: "NO_VARIABLE_FOUND",
            message: format!("No variable found with name '{name}'"),
        }
    }
    pub(crate) fn not_representable(what: &str) -> Warning {
        Warning {
            kind: "NOT_REPRESENTABLE",
            message: format!("The result contains {what}, which has no JSON form; it is null"),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.kind, self.message)
    }
}

/// The full result of an evaluation: the value, its FEEL type, and the warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub value: Json,
    pub result_type: ResultType,
    pub warnings: Vec<Warning>,
}

/// A static value or a FEEL expression, by Zeebe's rule: a value starting with `=` is an
/// expression (the text after `=`, trimmed), anything else is static.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feelish {
    Static(String),
    Expr(Expression),
}

impl Feelish {
    pub fn parse(attr: &str) -> Result<Feelish, FeelError> {
        match attr.strip_prefix('=') {
            Some(source) => Ok(Feelish::Expr(Expression::parse(source)?)),
            None => Ok(Feelish::Static(attr.to_owned())),
        }
    }

    /// The static text, or the expression's string result (job type, message name, ...).
    pub fn evaluate_string(&self, vars: &dyn VariableSource) -> Result<String, FeelError> {
        match self {
            Feelish::Static(text) => Ok(text.clone()),
            Feelish::Expr(expr) => expr.evaluate_string(vars),
        }
    }

    /// The expression's names to read; none for a static value.
    pub fn referenced_names(&self) -> &[String] {
        match self {
            Feelish::Static(_) => &[],
            Feelish::Expr(expr) => expr.referenced_names(),
        }
    }
}

/// How deeply an expression's syntax tree may nest. dsntk builds and runs evaluators by recursion,
/// about 5 KiB of stack per level in a debug build, so a generated `x = 1 or x = 2 or ...` with
/// thousands of terms would overflow a 2 MiB thread stack (an abort, not a panic). Real
/// expressions stay far below this.
pub const MAX_DEPTH: usize = 160;

/// A parsed FEEL expression. Cheap to clone (shared); `Send + Sync`.
#[derive(Clone)]
pub struct Expression(Arc<Parsed>);

struct Parsed {
    source: String,
    evaluator: Evaluator,
    /// Variables read, for building the evaluation context and the result's warnings.
    names: Vec<String>,
    /// `certain[i]`: `names[i]` is surely a variable (not a filter item's property), so missing it
    /// is worth a warning.
    certain: Vec<bool>,
    uses_clock: bool,
    /// The functions the rewritten tree calls ([`functions`]), bound in every evaluation context.
    functions: Vec<(Name, Value)>,
    uses_assert: bool,
    /// For `a` / `a.b.c`: read the JSON directly (exact, and no conversion), falling back to FEEL
    /// when the path does not run through JSON objects.
    simple_path: Option<Vec<String>>,
}

/// The raw result: JSON when the fast path answered, else dsntk's value.
pub(crate) enum Raw {
    Json(Json),
    Feel(Value),
}

impl Expression {
    /// Parses `source` (without the leading `=`). Fails for a syntax error and for an expression
    /// that defines an external function.
    pub fn parse(source: &str) -> Result<Expression, FeelError> {
        let source = source.trim();
        let parse_error = |reason: String| FeelError::Parse {
            expression: source.to_owned(),
            reason,
        };
        let mut scope_ctx = FeelContext::default();
        for name in syntax::scope_names(source) {
            scope_ctx.set_entry(&Name::from(name.as_str()), Value::Null(None));
        }
        let scope = FeelScope::from(scope_ctx);
        let parsed = catch_unwind(AssertUnwindSafe(|| {
            dsntk_feel_parser::parse_expression(&scope, source, false)
        }));
        let mut ast = match parsed {
            Ok(Ok(ast)) => ast,
            Ok(Err(e)) => return Err(parse_error(strip_error_tag(&e.to_string()))),
            Err(panic) => {
                return Err(parse_error(format!(
                    "the FEEL parser failed: {}",
                    panic_message(&*panic)
                )))
            }
        };
        let depth = syntax::depth(&ast);
        if depth > MAX_DEPTH {
            syntax::drop_flat(ast);
            return Err(parse_error(format!(
                "the expression nests {depth} levels deep, more than the {MAX_DEPTH} Apsis allows"
            )));
        }
        if syntax::defines_external_function(&ast) {
            return Err(FeelError::ExternalFunction {
                expression: source.to_owned(),
            });
        }
        let uses_clock = syntax::replace_clock_calls(&mut ast);
        let mut used = Vec::new();
        if let Err((function, reason)) = syntax::rewrite_calls(&mut ast, &mut used) {
            return Err(FeelError::UnsupportedFunction {
                expression: source.to_owned(),
                function: function.to_owned(),
                reason: reason.to_owned(),
            });
        }
        let uses_assert = used.iter().any(|f| f.public == Some("assert"));
        let functions = used
            .iter()
            .map(|f| (Name::from(f.reserved), f.value()))
            .collect();
        let free = syntax::free_names(&ast);
        let simple_path = syntax::simple_path(&ast);
        let evaluator = catch_unwind(AssertUnwindSafe(|| dsntk_feel_evaluator::prepare(&ast)))
            .map_err(|panic| {
                parse_error(format!(
                    "the FEEL evaluator could not be built: {}",
                    panic_message(&*panic)
                ))
            })?;
        Ok(Expression(Arc::new(Parsed {
            source: source.to_owned(),
            evaluator,
            certain: free.iter().map(|n| n.certain).collect(),
            names: free.into_iter().map(|n| n.name).collect(),
            uses_clock,
            functions,
            uses_assert,
            simple_path,
        })))
    }

    /// The expression's text (without `=`, trimmed).
    pub fn source(&self) -> &str {
        &self.0.source
    }

    /// The top-level variable names the expression may read, in order of first appearance; the
    /// engine needs to gather only these.
    pub fn referenced_names(&self) -> &[String] {
        &self.0.names
    }

    /// Whether the expression calls `now()` or `today()` (and so needs [`WithClock`]).
    pub fn uses_clock(&self) -> bool {
        self.0.uses_clock
    }

    /// Evaluates to JSON. Like Zeebe, a `null` with warnings is a result, not an error.
    pub fn evaluate(&self, vars: &dyn VariableSource) -> Result<Json, FeelError> {
        Ok(self.evaluate_detailed(vars)?.value)
    }

    /// Evaluates to JSON, with the FEEL type of the result and the warnings.
    pub fn evaluate_detailed(&self, vars: &dyn VariableSource) -> Result<Evaluation, FeelError> {
        let (raw, mut warnings) = self.run(vars)?;
        let result_type = typed::result_type(&raw);
        let value = match raw {
            Raw::Json(json) => json,
            Raw::Feel(value) => convert::feel_to_json_warn(&value, &mut warnings),
        };
        Ok(Evaluation {
            value,
            result_type,
            warnings,
        })
    }

    fn run(&self, vars: &dyn VariableSource) -> Result<(Raw, Vec<Warning>), FeelError> {
        let parsed = &*self.0;
        if let Some(path) = &parsed.simple_path {
            if let Some(json) = lookup_path(vars, path) {
                return Ok((Raw::Json(json.clone()), Vec::new()));
            }
        }
        let mut ctx = FeelContext::default();
        let mut warnings = Vec::new();
        for (name, certain) in parsed.names.iter().zip(&parsed.certain) {
            match vars.get(name) {
                Some(json) => {
                    ctx.set_entry(&Name::from(name.as_str()), convert::json_to_feel(json))
                }
                None if *certain => warnings.push(Warning::no_variable(name)),
                None => {}
            }
        }
        if parsed.uses_clock {
            let now_ms = vars.now_ms().ok_or_else(|| {
                self.evaluation_error(
                    "now() and today() need the engine's clock, but the evaluation was given none"
                        .to_owned(),
                )
            })?;
            let (now, today) = typed::clock_values(now_ms).ok_or_else(|| {
                self.evaluation_error(format!(
                    "the clock value {now_ms} is not a representable date and time"
                ))
            })?;
            ctx.set_entry(&Name::from(syntax::NOW_NAME), now);
            ctx.set_entry(&Name::from(syntax::TODAY_NAME), today);
        }
        for (name, function) in &parsed.functions {
            ctx.set_entry(name, function.clone());
        }
        let scope = FeelScope::from(ctx);
        if parsed.uses_assert {
            functions::take_assert_failure(); // left by an evaluation that panicked
        }
        let value =
            catch_unwind(AssertUnwindSafe(|| (parsed.evaluator)(&scope))).map_err(|panic| {
                self.evaluation_error(format!(
                    "the FEEL evaluator failed: {}",
                    panic_message(&*panic)
                ))
            })?;
        if parsed.uses_assert {
            if let Some(cause) = functions::take_assert_failure() {
                // feel-scala's wording; a failed assert fails the evaluation, never a null
                return Err(self.evaluation_error(format!(
                    "Assertion failure on evaluate the expression '{}': {cause}",
                    parsed.source
                )));
            }
        }
        // dsntk's reason for a null is worth reporting unless a variable is missing: then it is a
        // consequence of that ("eval_greater_then" for `x > 5`).
        if let Value::Null(Some(reason)) = &value {
            if warnings.is_empty() {
                warnings.push(Warning {
                    kind: "EVALUATION_FAILURE",
                    message: reason.clone(),
                });
            }
        }
        Ok((Raw::Feel(value), warnings))
    }

    fn evaluation_error(&self, reason: String) -> FeelError {
        FeelError::Evaluation {
            expression: self.0.source.clone(),
            reason,
        }
    }
}

fn lookup_path<'v>(vars: &'v dyn VariableSource, path: &[String]) -> Option<&'v Json> {
    let (first, rest) = path.split_first()?;
    let mut value = vars.get(first)?;
    for key in rest {
        value = value.as_object()?.get(key)?;
    }
    Some(value)
}

fn strip_error_tag(message: &str) -> String {
    // dsntk errors read "<ParserError> syntax error: ..."
    match message.strip_prefix('<').and_then(|m| m.split_once("> ")) {
        Some((_, rest)) => rest.to_owned(),
        None => message.to_owned(),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expression").field(&self.0.source).finish()
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.source)
    }
}

/// Two expressions are equal when their sources are.
impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.0.source == other.0.source
    }
}

impl Eq for Expression {}

impl serde::Serialize for Expression {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.source)
    }
}

impl<'de> serde::Deserialize<'de> for Expression {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Expression::parse(&source).map_err(serde::de::Error::custom)
    }
}
