//! What Apsis reads from and does to a dsntk FEEL syntax tree: the parsing scope that makes dsntk's
//! DMN-style name lexer split names as Zeebe's FEEL does, the variables an expression reads, the
//! external-function check, and the rewrite of `now()`/`today()` onto the engine's clock.
//!
//! dsntk's lexer (like DMN) lets names contain spaces and `+ - * / . '`: it reads the longest run of
//! name parts (`x + 1` reads as the parts `x`, `+`, `1`) and keeps the longest prefix that is a
//! name known in the parsing scope, or, when none is known, the whole run (so `x + 1` would be the
//! single name `x+1`). Zeebe's FEEL (feel-scala) has no such names. Putting every word of the source
//! into the parsing scope makes dsntk stop at the first word, which is feel-scala's reading; the
//! built-in functions whose names have spaces (`string length`) are put in too, so that they win
//! over their first word.

use super::functions::{self, Function};
use dsntk_feel::Name;
use dsntk_feel_parser::AstNode;

/// Functions whose names contain spaces: dsntk's built-ins, and Camunda's extensions (implemented
/// in [`super::functions`] or rejected there).
const MULTI_WORD_FUNCTIONS: &[&str] = &[
    "context merge",
    "context put",
    "date and time",
    "day of week",
    "day of year",
    "distinct values",
    "duplicate values",
    "ends with",
    "finished by",
    "get entries",
    "get or else",
    "get value",
    "index of",
    "insert before",
    "is blank",
    "is defined",
    "is empty",
    "last day of month",
    "list contains",
    "list replace",
    "lower case",
    "met by",
    "month of year",
    "overlaps after",
    "overlaps before",
    "random number",
    "round down",
    "round half down",
    "round half up",
    "round up",
    "started by",
    "starts with",
    "string join",
    "string length",
    "substring after",
    "substring before",
    "to base64",
    "upper case",
    "week of year",
    "years and months duration",
];

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "if",
    "then",
    "else",
    "for",
    "in",
    "return",
    "some",
    "every",
    "satisfies",
    "instance",
    "of",
    "between",
    "function",
    "external",
    "true",
    "false",
    "null",
];

/// Names put in place of `now()` and `today()`; they start with a control character, so no FEEL
/// source can name them.
pub(crate) const NOW_NAME: &str = "\u{1}now";
pub(crate) const TODAY_NAME: &str = "\u{1}today";

/// The names to declare in the parsing scope for `source`: every word outside string literals
/// (except the type name after `instance of`) and the multi-word built-in function names.
pub(crate) fn scope_names(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if is_name_start_char(c) {
            let start = i;
            while i < chars.len() && is_name_part_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let after_instance_of = words.len() >= 2
                && words[words.len() - 2] == "instance"
                && words[words.len() - 1] == "of";
            if !after_instance_of || KEYWORDS.contains(&word.as_str()) {
                words.push(word);
            } else {
                words.push(String::new()); // keeps the "previous two words" look-back right
            }
        } else if c.is_ascii_digit() {
            i = skip_number(&chars, i);
        } else {
            i += 1;
        }
    }
    let mut names: Vec<String> = words
        .into_iter()
        .filter(|w| !w.is_empty() && !KEYWORDS.contains(&w.as_str()))
        .collect();
    names.extend(MULTI_WORD_FUNCTIONS.iter().map(|s| (*s).to_owned()));
    names.sort();
    names.dedup();
    names
}

/// The end of the number starting at `start`: digits, a fraction (a `.` followed by a digit) and
/// an exponent. A `.` not followed by a digit ends it, so in `1..n` the `..` and the name `n`
/// stay outside the number (feel-scala reads `1..n` as a range to `n`).
fn skip_number(chars: &[char], start: usize) -> usize {
    let digit_at = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut i = start;
    while digit_at(i) {
        i += 1;
    }
    if chars.get(i) == Some(&'.') && digit_at(i + 1) {
        i += 1;
        while digit_at(i) {
            i += 1;
        }
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(i + 1), Some('+' | '-')));
        if digit_at(i + 1 + sign) {
            i += 1 + sign;
            while digit_at(i) {
                i += 1;
            }
        }
    }
    i
}

// The same character classes as dsntk's lexer (FEEL grammar rules 27-29).
fn is_name_start_char(ch: char) -> bool {
    matches!(ch, '?' | 'A'..='Z' | '_' | 'a'..='z' |
        '\u{00C0}'..='\u{00D6}' | '\u{00D8}'..='\u{00F6}' | '\u{00F8}'..='\u{02FF}' |
        '\u{0370}'..='\u{037D}' | '\u{037F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' |
        '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' |
        '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_part_char(ch: char) -> bool {
    is_name_start_char(ch)
        || ch.is_ascii_digit()
        || matches!(ch, '\u{00B7}' | '\u{0300}'..='\u{036F}' | '\u{203F}'..='\u{2040}')
}

/// Calls `$push` on every direct child of a node; one list of variants serves `&` and `&mut`.
macro_rules! for_each_child {
    ($node:expr, $iter:ident, $as:ident, |$child:ident| $push:expr) => {
        match $node {
            AstNode::Add(a, b)
            | AstNode::And(a, b)
            | AstNode::ContextEntry(a, b)
            | AstNode::ContextTypeEntry(a, b)
            | AstNode::Div(a, b)
            | AstNode::Eq(a, b)
            | AstNode::Every(a, b)
            | AstNode::Exp(a, b)
            | AstNode::Filter(a, b)
            | AstNode::For(a, b)
            | AstNode::FormalParameter(a, b)
            | AstNode::FunctionDefinition(a, b)
            | AstNode::FunctionInvocation(a, b)
            | AstNode::FunctionType(a, b)
            | AstNode::Ge(a, b)
            | AstNode::Gt(a, b)
            | AstNode::In(a, b)
            | AstNode::InstanceOf(a, b)
            | AstNode::IterationContextSingle(a, b)
            | AstNode::Le(a, b)
            | AstNode::Lt(a, b)
            | AstNode::Mul(a, b)
            | AstNode::NamedParameter(a, b)
            | AstNode::Nq(a, b)
            | AstNode::Or(a, b)
            | AstNode::Out(a, b)
            | AstNode::Path(a, b)
            | AstNode::QuantifiedContext(a, b)
            | AstNode::Range(a, b)
            | AstNode::Some(a, b)
            | AstNode::Sub(a, b) => {
                for $child in [a.$as(), b.$as()] {
                    $push;
                }
            }
            AstNode::Between(a, b, c)
            | AstNode::If(a, b, c)
            | AstNode::IterationContextInterval(a, b, c) => {
                for $child in [a.$as(), b.$as(), c.$as()] {
                    $push;
                }
            }
            AstNode::EvaluatedExpression(a)
            | AstNode::ListType(a)
            | AstNode::Neg(a)
            | AstNode::RangeType(a)
            | AstNode::Satisfies(a)
            | AstNode::UnaryGe(a)
            | AstNode::UnaryGt(a)
            | AstNode::UnaryLe(a)
            | AstNode::UnaryLt(a)
            | AstNode::UnaryEq(a)
            | AstNode::UnaryNe(a)
            | AstNode::FunctionBody(a, _)
            | AstNode::IntervalEnd(a, _)
            | AstNode::IntervalStart(a, _) => {
                let $child = a.$as();
                $push;
            }
            AstNode::CommaList(items)
            | AstNode::Context(items)
            | AstNode::ContextType(items)
            | AstNode::ExpressionList(items)
            | AstNode::FormalParameters(items)
            | AstNode::IterationContexts(items)
            | AstNode::List(items)
            | AstNode::NamedParameters(items)
            | AstNode::NegatedList(items)
            | AstNode::ParameterTypes(items)
            | AstNode::PositionalParameters(items)
            | AstNode::QualifiedName(items)
            | AstNode::QuantifiedContexts(items) => {
                for $child in items.$iter() {
                    $push;
                }
            }
            AstNode::At(_)
            | AstNode::Boolean(_)
            | AstNode::ContextEntryKey(_)
            | AstNode::ContextTypeEntryKey(_)
            | AstNode::FeelType(_)
            | AstNode::Irrelevant
            | AstNode::Name(_)
            | AstNode::Null
            | AstNode::Numeric(..)
            | AstNode::ParameterName(_)
            | AstNode::QualifiedNameSegment(_)
            | AstNode::String(_) => {}
        }
    };
}

fn children(node: &AstNode) -> Vec<&AstNode> {
    let mut out = Vec::new();
    for_each_child!(node, iter, as_ref, |child| out.push(child));
    out
}

/// How deeply the tree nests, counted without recursion (the tree may be deeper than the stack).
pub(crate) fn depth(root: &AstNode) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(root, 1)];
    while let Some((node, level)) = stack.pop() {
        deepest = deepest.max(level);
        stack.extend(children(node).into_iter().map(|child| (child, level + 1)));
    }
    deepest
}

/// Drops a tree without recursion: dropping a `Box` chain thousands deep would overflow the stack.
pub(crate) fn drop_flat(root: AstNode) {
    let mut stack = vec![root];
    while let Some(mut node) = stack.pop() {
        for_each_child!(&mut node, iter_mut, as_mut, |child| stack
            .push(std::mem::replace(child, AstNode::Null)));
    }
}

/// True when the expression defines a function with an `external` (Java/PMML) body anywhere.
pub(crate) fn defines_external_function(node: &AstNode) -> bool {
    matches!(node, AstNode::FunctionBody(_, true))
        || children(node).into_iter().any(defines_external_function)
}

/// Replaces every `now()` / `today()` call with a reference to [`NOW_NAME`] / [`TODAY_NAME`];
/// returns whether there was one.
pub(crate) fn replace_clock_calls(node: &mut AstNode) -> bool {
    if let AstNode::FunctionInvocation(callee, params) = node {
        let no_args = matches!(&**params, AstNode::PositionalParameters(p) if p.is_empty());
        if let AstNode::Name(name) = &**callee {
            let replacement = match name.as_str() {
                "now" if no_args => Some(NOW_NAME),
                "today" if no_args => Some(TODAY_NAME),
                _ => None,
            };
            if let Some(reserved) = replacement {
                *node = AstNode::Name(Name::from(reserved));
                return true;
            }
        }
    }
    let mut found = false;
    for_each_child!(node, iter_mut, as_mut, |child| found |=
        replace_clock_calls(child));
    found
}

/// Why an expression was refused by [`rewrite_calls`]: the function it calls, and the reason.
pub(crate) type Refused = (&'static str, &'static str);

/// Makes the tree evaluate as feel-scala does: `a = b` and `a != b` become calls of feel-scala's
/// equality, and calls of Camunda's extension functions (and of the dsntk built-ins whose
/// behaviour differs) are renamed to the functions Apsis binds (see [`functions`]). Adds the
/// functions used to `used` (once each); fails for a function Apsis refuses (`uuid()`).
pub(crate) fn rewrite_calls(
    node: &mut AstNode,
    used: &mut Vec<&'static Function>,
) -> Result<(), Refused> {
    for_each_child!(node, iter_mut, as_mut, |child| rewrite_calls(child, used)?);
    let mut use_function = |function: &'static Function| {
        if !used.iter().any(|f| std::ptr::eq(*f, function)) {
            used.push(function);
        }
    };
    match node {
        AstNode::Eq(..) | AstNode::Nq(..) => {
            let (reserved, lhs, rhs) = match std::mem::replace(node, AstNode::Null) {
                AstNode::Eq(lhs, rhs) => (functions::EQ, lhs, rhs),
                AstNode::Nq(lhs, rhs) => (functions::NE, lhs, rhs),
                _ => unreachable!("matched just above"),
            };
            *node = AstNode::FunctionInvocation(
                Box::new(AstNode::Name(Name::from(reserved))),
                Box::new(AstNode::PositionalParameters(vec![*lhs, *rhs])),
            );
            if let Some(function) = functions::FUNCTIONS.iter().find(|f| f.reserved == reserved) {
                use_function(function);
            }
        }
        AstNode::FunctionInvocation(callee, params) => {
            let AstNode::Name(name) = &mut **callee else {
                return Ok(());
            };
            if let Some(refused) = functions::REJECTED
                .iter()
                .find(|(n, _)| *n == name.as_str())
            {
                return Err(*refused);
            }
            let function = functions::FUNCTIONS
                .iter()
                .find(|f| f.public == Some(name.as_str()) && fits(f.params, params));
            if let Some(function) = function {
                *name = Name::from(function.reserved);
                use_function(function);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether a call's arguments fit the parameters: as many positional ones, or named ones with
/// exactly these names.
fn fits(params: &[&str], args: &AstNode) -> bool {
    match args {
        AstNode::PositionalParameters(args) => args.len() == params.len(),
        AstNode::NamedParameters(args) => {
            args.len() == params.len()
                && args.iter().all(|arg| {
                    matches!(arg, AstNode::NamedParameter(name, _)
                        if matches!(&**name, AstNode::ParameterName(n) if params.contains(&n.as_str())))
                })
        }
        _ => false,
    }
}

/// A top-level name an expression reads. `certain` is false for names that may instead be bound
/// at run time (inside a filter `[...]`, a name may be a property of the filtered item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FreeName {
    pub name: String,
    pub certain: bool,
}

/// The names an expression reads from its variables, in order of first appearance. Names bound
/// inside the expression (iteration variables, function parameters, earlier context entries) and
/// function names in call position are left out; anything else is kept (conservative).
pub(crate) fn free_names(node: &AstNode) -> Vec<FreeName> {
    let mut collector = Collector::default();
    collector.visit(node, false);
    collector.names
}

#[derive(Default)]
struct Collector {
    names: Vec<FreeName>,
    bound: Vec<String>,
}

impl Collector {
    fn add(&mut self, name: &Name, uncertain: bool) {
        let name = name.as_str();
        if name.starts_with('\u{1}') || self.bound.iter().any(|b| b == name) {
            return;
        }
        match self.names.iter_mut().find(|n| n.name == name) {
            Some(existing) => existing.certain |= !uncertain,
            None => self.names.push(FreeName {
                name: name.to_owned(),
                certain: !uncertain,
            }),
        }
    }

    fn bind(&mut self, node: &AstNode) {
        if let AstNode::Name(name) | AstNode::ParameterName(name) | AstNode::ContextEntryKey(name) =
            node
        {
            self.bound.push(name.as_str().to_owned());
        }
    }

    fn visit(&mut self, node: &AstNode, uncertain: bool) {
        match node {
            AstNode::Name(name) => self.add(name, uncertain),
            AstNode::Path(lhs, rhs) => {
                self.visit(lhs, uncertain);
                if !matches!(**rhs, AstNode::Name(_)) {
                    self.visit(rhs, uncertain);
                }
            }
            AstNode::FunctionInvocation(callee, params) => {
                if !matches!(**callee, AstNode::Name(_)) {
                    self.visit(callee, uncertain);
                }
                self.visit(params, uncertain);
            }
            AstNode::NamedParameter(_, value) | AstNode::InstanceOf(value, _) => {
                self.visit(value, uncertain)
            }
            AstNode::Filter(list, predicate) => {
                self.visit(list, uncertain);
                self.visit(predicate, true);
            }
            AstNode::For(contexts, body)
            | AstNode::Some(contexts, body)
            | AstNode::Every(contexts, body) => {
                let mark = self.bound.len();
                for context in children(contexts) {
                    match context {
                        AstNode::IterationContextSingle(var, source)
                        | AstNode::QuantifiedContext(var, source) => {
                            self.visit(source, uncertain);
                            self.bind(var);
                        }
                        AstNode::IterationContextInterval(var, from, to) => {
                            self.visit(from, uncertain);
                            self.visit(to, uncertain);
                            self.bind(var);
                        }
                        other => self.visit(other, uncertain),
                    }
                }
                self.visit(body, uncertain);
                self.bound.truncate(mark);
            }
            AstNode::FunctionDefinition(params, body) => {
                let mark = self.bound.len();
                for param in children(params) {
                    if let AstNode::FormalParameter(name, _) = param {
                        self.bind(name);
                    }
                }
                self.visit(body, uncertain);
                self.bound.truncate(mark);
            }
            AstNode::Context(entries) => {
                let mark = self.bound.len();
                for entry in entries {
                    if let AstNode::ContextEntry(key, value) = entry {
                        self.visit(value, uncertain);
                        self.bind(key);
                    } else {
                        self.visit(entry, uncertain);
                    }
                }
                self.bound.truncate(mark);
            }
            AstNode::QualifiedName(segments) => {
                if let Some(AstNode::QualifiedNameSegment(first)) = segments.first() {
                    self.add(first, true);
                }
            }
            other => {
                for child in children(other) {
                    self.visit(child, uncertain);
                }
            }
        }
    }
}

/// `a` -> `["a"]`, `a.b.c` -> `["a", "b", "c"]`; `None` for anything else.
pub(crate) fn simple_path(node: &AstNode) -> Option<Vec<String>> {
    match node {
        AstNode::Name(name) if !name.as_str().starts_with('\u{1}') => {
            Some(vec![name.as_str().to_owned()])
        }
        AstNode::Path(lhs, rhs) => {
            let AstNode::Name(property) = &**rhs else {
                return None;
            };
            let mut path = simple_path(lhs)?;
            path.push(property.as_str().to_owned());
            Some(path)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names_skip_strings_numbers_keywords_and_type_names() {
        let names = scope_names(r#"x > 1e5 and name = "not a word" or y instance of number"#);
        for expected in ["x", "name", "y"] {
            assert!(
                names.contains(&expected.to_owned()),
                "{expected} missing from {names:?}"
            );
        }
        for absent in ["e5", "not", "word", "and", "or", "instance", "of", "number"] {
            assert!(!names.contains(&absent.to_owned()), "{absent} in {names:?}");
        }
        assert!(names.contains(&"string length".to_owned()));
        // a range's `..` ends the number before it
        let names = scope_names("for i in 1..tileCount, j in 2.5..n return i");
        for expected in ["i", "tileCount", "j", "n"] {
            assert!(
                names.contains(&expected.to_owned()),
                "{expected} missing from {names:?}"
            );
        }
    }
}
