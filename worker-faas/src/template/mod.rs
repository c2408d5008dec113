//! Strict handlebars templates over a job's variables: `cmdline` renders to an argv, `body` to a string.
//!
//! Both are strict (a variable that does not exist is an error naming it, never an empty string) and do no HTML
//! escaping (`{{x}}` writes `x` as it is; `&`, `<` and quotes are not rewritten).
//!
//! A `cmdline` is split into words from the *template text* first (rules in `words.rs`: whitespace separates,
//! `'...'` and `"..."` group, backslash escapes), and only then is each word rendered on its own. So whatever a
//! variable holds (spaces, `;`, `$(...)`, backticks, quotes, newlines, `*`), it lands inside the one argument its
//! word produces, and no shell ever sees it. Consequences a designer must know:
//! - a word that renders to an empty string stays an (empty) argument: `--label {{label}}` with `label = ""`
//!   passes `--label ""`, arguments never shift position;
//! - a block such as `{{#each files}}...{{/each}}` must lie within one word (quote the word if the block has
//!   spaces): `"{{#each files}}{{this}} {{/each}}"` is one argument `a.tif b.tif `;
//! - to pass a list as one argument, join it: `--inputs={{join files}}` or `{{join files ";"}}`;
//! - to pass a list as several arguments (OTB's `-il a.tif b.tif`), write the whole unquoted word
//!   `{{spread files}}`: it is the one form that yields one argument per item (zero for an empty list), each item
//!   still exactly one argument. Anywhere else `spread` is an error.
//!
//! A `body` is rendered as one string; `{{json value}}` writes a value as JSON for JSON bodies.

mod helpers;
mod words;

use std::sync::LazyLock;

use handlebars::{Context, Handlebars, RenderError, RenderErrorReason, Template};
use serde_json::Value;

use crate::failure::{Failure, Place};
use crate::task::header;

static REGISTRY: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(handlebars::no_escape);
    helpers::register(&mut registry);
    registry
});

/// A `cmdline` header, split into words and checked, ready to render into an argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    element: String,
    words: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// One argument rendered from this template.
    Word { source: String, text: String },
    /// `{{spread path}}`: one argument per item of the list at `path`.
    Spread { path: String, text: String },
}

impl CommandLine {
    /// Splits and compiles the `cmdline` of element `element`. An empty command line is an error: there would be
    /// no program to run.
    pub fn parse(text: &str, element: &str) -> Result<CommandLine, Failure> {
        let words = words::split(text).map_err(|problem| Failure::CommandLine {
            element: element.to_owned(),
            place: Place::header(header::CMDLINE),
            problem,
        })?;
        if words.is_empty() {
            return Err(Failure::CommandLine {
                element: element.to_owned(),
                place: Place::header(header::CMDLINE),
                problem: "it has no words".to_owned(),
            });
        }
        let mut parts = Vec::with_capacity(words.len());
        for (i, word) in words.into_iter().enumerate() {
            let place = || Place::word(header::CMDLINE, i + 1, &word.text);
            compile(&word.source, element, place())?;
            match spread_path(&word) {
                Some(path) => parts.push(Part::Spread {
                    path,
                    text: word.text,
                }),
                None => parts.push(Part::Word {
                    source: word.source,
                    text: word.text,
                }),
            }
        }
        Ok(CommandLine {
            element: element.to_owned(),
            words: parts,
        })
    }

    /// The argv: one element per word (per item for a `{{spread}}` word), rendered against `variables`.
    pub fn render(&self, variables: &Value) -> Result<Vec<String>, Failure> {
        let context = context(variables);
        let mut argv = Vec::with_capacity(self.words.len());
        for (i, part) in self.words.iter().enumerate() {
            match part {
                Part::Word { source, text } => {
                    let place = Place::word(header::CMDLINE, i + 1, text);
                    argv.push(render(source, &context, &self.element, place)?);
                }
                Part::Spread { path, text } => {
                    let place = Place::word(header::CMDLINE, i + 1, text);
                    let json = render(
                        &format!("{{{{json {path}}}}}"),
                        &context,
                        &self.element,
                        place.clone(),
                    )?;
                    let value: Value =
                        serde_json::from_str(&json).map_err(|e| Failure::Render {
                            element: self.element.clone(),
                            place: place.clone(),
                            problem: e.to_string(),
                        })?;
                    let items = helpers::list_items(path, &value)
                        .map_err(|e| failure(e, &self.element, place))?;
                    argv.extend(items);
                }
            }
        }
        Ok(argv)
    }
}

/// A `body` header, compiled, ready to render into the request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyTemplate {
    element: String,
    source: String,
}

impl BodyTemplate {
    pub fn parse(text: &str, element: &str) -> Result<BodyTemplate, Failure> {
        compile(text, element, Place::header(header::BODY))?;
        Ok(BodyTemplate {
            element: element.to_owned(),
            source: text.to_owned(),
        })
    }

    pub fn render(&self, variables: &Value) -> Result<String, Failure> {
        render(
            &self.source,
            &context(variables),
            &self.element,
            Place::header(header::BODY),
        )
    }
}

/// `Some(path)` when the word is exactly `{{spread path}}`, unquoted.
fn spread_path(word: &words::Word) -> Option<String> {
    if word.quoted {
        return None;
    }
    let inner = word.source.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let path = inner.strip_prefix("spread")?;
    if !path.starts_with(char::is_whitespace) {
        return None;
    }
    let path = path.trim();
    let simple =
        !path.is_empty() && !path.contains(|c: char| c.is_whitespace() || "(){}\"'".contains(c));
    simple.then(|| path.to_owned())
}

fn context(variables: &Value) -> Context {
    // Wrapping a `Value` cannot fail: it is already JSON.
    Context::wraps(variables).unwrap_or_else(|_| Context::null())
}

fn compile(source: &str, element: &str, place: Place) -> Result<(), Failure> {
    if let Some(block) = unclosed_block(source) {
        return Err(Failure::TemplateSyntax {
            element: element.to_owned(),
            place,
            problem: format!(
                "the block '{{{{#{block}}}}}' is not closed within it (a block must lie within one word: quote the \
                 word if the block contains spaces)"
            ),
        });
    }
    Template::compile(source)
        .map(drop)
        .map_err(|e| Failure::TemplateSyntax {
            element: element.to_owned(),
            place,
            problem: e.reason().to_string(),
        })
}

/// The name of the first block opened (`{{#name`) and not closed (`{{/name`) in `source`, if any. Handlebars
/// reports this case with its raw grammar; this gives the designer the sentence that helps.
fn unclosed_block(source: &str) -> Option<String> {
    let mut open = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let tag = rest[start + 2..].trim_start_matches(['~', ' ']);
        let name = |t: &str| {
            t.split(|c: char| c.is_whitespace() || c == '}' || c == '~')
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        if let Some(t) = tag.strip_prefix('#') {
            open.push(name(t.trim_start_matches(['>', '*'])));
        } else if let Some(t) = tag.strip_prefix('/') {
            if open.last() == Some(&name(t)) {
                open.pop();
            }
        }
        rest = &rest[start + 2..];
    }
    open.into_iter().next()
}

fn render(source: &str, context: &Context, element: &str, place: Place) -> Result<String, Failure> {
    REGISTRY
        .render_template_with_context(source, context)
        .map_err(|e| failure(e, element, place))
}

fn failure(error: RenderError, element: &str, place: Place) -> Failure {
    let element = element.to_owned();
    match error.reason() {
        RenderErrorReason::MissingVariable(path) => Failure::MissingVariable {
            element,
            place,
            variable: path.clone().unwrap_or_else(|| "(unnamed)".to_owned()),
        },
        reason => Failure::Render {
            element,
            place,
            problem: reason.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
