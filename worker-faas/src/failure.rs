//! A task that cannot run as modelled: a wrong header or a template that does not render against the job's
//! variables. Retrying cannot help, so the job is failed with no retries (an incident) and the message must tell
//! the designer what to fix: the element, the header, the word and the variable.

use std::fmt;

/// Where in a task's headers a template problem is: a header, and for `cmdline` the word (1-based) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub header: &'static str,
    pub word: Option<(usize, String)>,
}

impl Place {
    pub(crate) fn header(header: &'static str) -> Place {
        Place { header, word: None }
    }

    pub(crate) fn word(header: &'static str, index: usize, text: &str) -> Place {
        Place {
            header,
            word: Some((index, text.to_owned())),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.word {
            Some((index, text)) => write!(f, "word {index} `{text}` of header '{}'", self.header),
            None => write!(f, "header '{}'", self.header),
        }
    }
}

/// A task contract or template failure; its message is the incident's error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("element '{element}': Expected header '{header}' ({expected}), but the task has no such header")]
    MissingHeader {
        element: String,
        header: &'static str,
        expected: &'static str,
    },
    #[error(
        "element '{element}': Expected header '{header}' to be {expected}, but found '{found}'"
    )]
    InvalidHeader {
        element: String,
        header: &'static str,
        expected: String,
        found: String,
    },
    #[error("element '{element}': Expected at most one of the headers 'cmdline' and 'body', but found both")]
    CmdlineAndBody { element: String },
    #[error("element '{element}': Expected header '{header}' only with {requires}, but the task has {found}")]
    OnlyWith {
        element: String,
        header: &'static str,
        requires: &'static str,
        found: &'static str,
    },
    #[error("element '{element}': Expected {place} to be a command line, but {problem}")]
    CommandLine {
        element: String,
        place: Place,
        problem: String,
    },
    #[error("element '{element}': Expected {place} to be a handlebars template, but {problem}")]
    TemplateSyntax {
        element: String,
        place: Place,
        problem: String,
    },
    #[error("element '{element}': Expected variable '{variable}' for {place}, but the job has no such variable")]
    MissingVariable {
        element: String,
        place: Place,
        variable: String,
    },
    #[error("element '{element}': Expected {place} to render, but {problem}")]
    Render {
        element: String,
        place: Place,
        problem: String,
    },
}
