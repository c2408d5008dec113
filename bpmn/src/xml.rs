//! A small namespace-resolved XML tree with source positions, read with quick-xml.
//!
//! BPMN files are small (kilobytes to a few megabytes) and validation wants to look at elements in any order, so
//! a tree is simpler and clearer than a streaming state machine. Names are resolved to namespace URIs, so
//! `bpmn:task`, `bpmn2:task` and a default-namespace `task` are the same element.

use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::model::Pos;

/// The namespaces BPMN files use, by URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    Bpmn,
    BpmnDi,
    Dc,
    Di,
    Zeebe,
    Modeler,
    Xsi,
    /// Any other namespace (vendor extensions we ignore), or none.
    Other,
}

impl Ns {
    fn from_uri(uri: &str) -> Ns {
        match uri {
            "http://www.omg.org/spec/BPMN/20100524/MODEL" => Ns::Bpmn,
            "http://www.omg.org/spec/BPMN/20100524/DI" => Ns::BpmnDi,
            "http://www.omg.org/spec/DD/20100524/DC" => Ns::Dc,
            "http://www.omg.org/spec/DD/20100524/DI" => Ns::Di,
            "http://camunda.org/schema/zeebe/1.0" => Ns::Zeebe,
            "http://camunda.org/schema/modeler/1.0" => Ns::Modeler,
            "http://www.w3.org/2001/XMLSchema-instance" => Ns::Xsi,
            _ => Ns::Other,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub ns: Ns,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub ns: Ns,
    /// The namespace URI when it is not one of [`Ns`]'s known ones (for messages about foreign documents).
    pub other_uri: Option<String>,
    pub name: String,
    /// The qualified name as written (`bpmn:serviceTask`), for messages.
    pub qname: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
    pub text: String,
    pub pos: Pos,
}

impl Node {
    /// An attribute without namespace prefix (BPMN's own attributes are unqualified).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == Ns::Other && a.name == name)
            .map(|a| a.value.as_str())
    }

    pub fn is(&self, ns: Ns, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn child(&self, ns: Ns, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn children_named<'a>(
        &'a self,
        ns: Ns,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    pub fn id(&self) -> Option<&str> {
        self.attr("id")
    }
}

/// A syntax error in the XML itself, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Maps byte offsets to 1-based line:column.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    pub fn pos(&self, text: &str, offset: usize) -> Pos {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line];
        let end = offset.min(text.len());
        let column = text
            .get(start..end)
            .map_or(end - start, |s| s.chars().count())
            + 1;
        Pos {
            line: line as u32 + 1,
            column: column as u32,
        }
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    // quick-xml skips a byte-order mark and counts its positions after it; so do we (editors do not show it).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let index = LineIndex::new(text);
    let mut reader = NsReader::from_str(text);
    reader.config_mut().expand_empty_elements = false;
    // `--` inside a comment is not XML; Zeebe's parser rejects it too.
    reader.config_mut().check_comments = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let err = |reader: &NsReader<&[u8]>, e: &dyn std::fmt::Display| SyntaxError {
        pos: index.pos(text, reader.error_position() as usize),
        message: format!("Expected well-formed XML, but {e}"),
    };
    let open_at = |reader: &NsReader<&[u8]>, start: &BytesStart<'_>, offset: usize| {
        let pos = index.pos(text, offset);
        open(reader, start, pos).map_err(|message| SyntaxError { pos, message })
    };
    loop {
        let offset = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| err(&reader, &e))?;
        match event {
            Event::Start(start) => stack.push(open_at(&reader, &start, offset)?),
            Event::Empty(start) => {
                let node = open_at(&reader, &start, offset)?;
                attach(&mut stack, &mut root, node);
            }
            Event::End(_) => {
                if let Some(node) = stack.pop() {
                    attach(&mut stack, &mut root, node);
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name: &str = &r;
                        match quick_xml::escape::resolve_xml_entity(name) {
                            Some(s) => s.to_string(),
                            None => {
                                return Err(SyntaxError {
                                    pos: index.pos(text, offset),
                                    message: format!(
                                        "Expected a predefined XML entity, but found '&{name};'"
                                    ),
                                })
                            }
                        }
                    }
                    Err(e) => {
                        return Err(SyntaxError {
                            pos: index.pos(text, offset),
                            message: format!("Expected well-formed XML, but {e}"),
                        })
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(SyntaxError {
            pos: open.pos,
            message: format!(
                "Expected a closing tag for <{}>, but the document ended",
                open.qname
            ),
        });
    }
    root.ok_or(SyntaxError {
        pos: Pos { line: 1, column: 1 },
        message: "Expected a root element, but the document is empty".into(),
    })
}

fn attach(stack: &mut [Node], root: &mut Option<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => {
            if root.is_none() {
                *root = Some(node);
            }
        }
    }
}

/// Reads a start tag into a node; the error is the message for a problem at the tag.
fn open(reader: &NsReader<&[u8]>, start: &BytesStart<'_>, pos: Pos) -> Result<Node, String> {
    let qname: String = start.name().as_ref().to_owned();
    let unbound = |prefix: &str| {
        format!(
            "Expected the namespace prefix '{prefix}' to be declared (xmlns:{prefix}=\"...\"), but it is not"
        )
    };
    let (res, local) = reader.resolver().resolve_element(start.name());
    let (ns, other_uri) = match res {
        ResolveResult::Bound(uri) => {
            let uri: &str = uri.as_ref();
            match Ns::from_uri(uri) {
                Ns::Other => (Ns::Other, Some(uri.to_owned())),
                ns => (ns, None),
            }
        }
        ResolveResult::Unknown(prefix) => return Err(unbound(&prefix)),
        ResolveResult::Unbound => (Ns::Other, None),
    };
    let mut attrs = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    // Duplicates are checked here rather than by quick-xml, whose message gives offsets instead of the name.
    for attr in start.attributes().with_checks(false) {
        let attr = attr.map_err(|e| {
            format!("Expected well-formed XML, but the start tag <{qname}> is broken: {e}")
        })?;
        let key = attr.key;
        let key_text: &str = key.into_inner();
        if seen.contains(&key_text) {
            return Err(format!(
                "Expected attribute '{key_text}' only once in <{qname}>, but found it twice"
            ));
        }
        seen.push(key_text);
        if key_text == "xmlns" || key_text.starts_with("xmlns:") {
            continue;
        }
        let (res, local) = reader.resolver().resolve_attribute(key);
        let ans = match res {
            ResolveResult::Bound(uri) => Ns::from_uri(uri.as_ref()),
            ResolveResult::Unknown(prefix) => return Err(unbound(&prefix)),
            ResolveResult::Unbound => Ns::Other,
        };
        if attr.value.contains('<') {
            return Err(format!(
                "Expected no '<' in the value of attribute '{key_text}' of <{qname}> (write '&lt;'), but found one"
            ));
        }
        let value = match attr.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
            Ok(v) => v.into_owned(),
            Err(quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, name))) => {
                return Err(format!(
                    "Expected a predefined XML entity in attribute '{key_text}' of <{qname}>, but found '&{name};'"
                ))
            }
            Err(e) => {
                return Err(format!(
                    "Expected well-formed XML, but attribute '{key_text}' of <{qname}> is broken: {e}"
                ))
            }
        };
        attrs.push(Attr {
            ns: ans,
            name: local.as_ref().to_owned(),
            value,
        });
    }
    Ok(Node {
        ns,
        other_uri,
        name: local.as_ref().to_owned(),
        qname,
        attrs,
        children: Vec::new(),
        text: String::new(),
        pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_any_prefix_and_positions() {
        let xml = "<?xml version=\"1.0\"?>\n<a:definitions xmlns:a=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">\n  <a:process id=\"p\">x &amp; y</a:process>\n</a:definitions>";
        let root = parse(xml).unwrap();
        assert!(root.is(Ns::Bpmn, "definitions"));
        let p = root.child(Ns::Bpmn, "process").unwrap();
        assert_eq!(p.id(), Some("p"));
        assert_eq!(p.text, "x & y");
        assert_eq!(p.pos, Pos { line: 3, column: 3 });
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = parse("<a>\n  <b></c>\n</a>").unwrap_err();
        assert_eq!(err.pos.line, 2);
        assert!(
            err.message.starts_with("Expected well-formed XML"),
            "{}",
            err.message
        );
    }
}
