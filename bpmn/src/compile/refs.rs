//! Expressions, and the things elements refer to: messages, errors, timers.

use crate::feel::{Expression, Feelish};
use crate::graph::{MessageRef, TimerRef};
use crate::model::*;
use crate::timer::TimerSpec;

use super::Compiler;

/// Whether a place that takes a FEEL expression also accepts a static value (Zeebe's `isNonStatic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Static {
    /// The text is FEEL whether or not it starts with `=`.
    Parsed,
    /// Only `=...` is accepted (conditions, correlation keys, input collections, output sources, scripts).
    Rejected,
}

/// A `bpmn:message`, read once: its name and correlation key, parsed when valid.
pub(super) struct Message<'a> {
    def: &'a MessageDef,
    /// `None` when missing or unparsable (an unparsable name is reported when the message is read).
    name: Option<Feelish>,
    name_missing: bool,
    key: Key,
}

enum Key {
    /// No `zeebe:subscription` at all.
    Missing,
    /// Present but empty, static or unparsable: reported when the message was read.
    Invalid,
    Valid(Feelish),
}

/// Why an element refers to an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrorUse {
    /// An error end event: the error must exist and have a static code.
    Throw,
    /// An error boundary event: no `errorRef`, or an error without code, catches every error (as in Zeebe).
    Catch,
}

/// How far Zeebe goes with an element Apsis rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Support {
    /// Zeebe executes it; Apsis does not yet.
    ZeebeOnly,
    /// Zeebe does not execute it either.
    Neither,
}

impl<'a> Compiler<'a> {
    /// Parses a FEEL expression; a text without `=` is parsed as FEEL or rejected, as `statics` says.
    pub(super) fn expression(
        &mut self,
        pos: Pos,
        id: &str,
        what: &str,
        text: &str,
        statics: Static,
    ) -> Option<Expression> {
        let text = text.trim();
        let src = match text.strip_prefix('=') {
            Some(s) => s,
            None if statics == Static::Rejected => {
                self.problem(pos, id, format!("Expected {what} to be a FEEL expression starting with '=' (e.g. '={text}'), but found the static value '{text}'"));
                return None;
            }
            None => text,
        };
        match Expression::parse(src) {
            Ok(e) => Some(e),
            Err(e) => {
                self.problem(
                    pos,
                    id,
                    format!("Expected {what} to be a valid FEEL expression, but {e}"),
                );
                None
            }
        }
    }

    /// A static value, or `=` and a FEEL expression (job type, message name, timer, input source, ...).
    pub(super) fn feelish(
        &mut self,
        pos: Pos,
        id: &str,
        what: &str,
        text: &str,
    ) -> Option<Feelish> {
        match Feelish::parse(text) {
            Ok(f) => Some(f),
            Err(e) => {
                self.problem(
                    pos,
                    id,
                    format!(
                        "Expected {what} to be a static value or a valid FEEL expression, but {e}"
                    ),
                );
                None
            }
        }
    }

    /// Reads every message once, as Zeebe validates every `zeebe:subscription` whoever refers to its message.
    pub(super) fn read_messages(&mut self) {
        for def in &self.defs.messages {
            let id = def.id.as_str();
            let name_text = def.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
            let name = name_text.and_then(|n| self.feelish(def.pos, id, "the message name", n));
            let key = match def.subscription_pos {
                None => Key::Missing,
                Some(pos) => match def.correlation_key.as_deref().map(str::trim) {
                    Some(k) if !k.is_empty() => self
                        .expression(pos, id, "the correlationKey", k, Static::Rejected)
                        .map_or(Key::Invalid, |e| Key::Valid(Feelish::Expr(e))),
                    _ => {
                        self.problem(pos, id, "Expected 'zeebe:subscription' to have a non-empty 'correlationKey', but found none".into());
                        Key::Invalid
                    }
                },
            };
            self.messages.insert(
                id,
                Message {
                    def,
                    name,
                    name_missing: name_text.is_none(),
                    key,
                },
            );
        }
    }

    /// Resolves a `messageRef`; a catching element (`needs_key`) needs the message's correlation key.
    pub(super) fn message(
        &mut self,
        node: &FlowNode,
        message_ref: Option<&str>,
        pos: Pos,
        needs_key: bool,
    ) -> Option<MessageRef> {
        let Some(message_ref) = message_ref.filter(|r| !r.is_empty()) else {
            self.problem(
                pos,
                &node.id,
                "Expected a 'messageRef' referencing a bpmn:message, but found none".into(),
            );
            return None;
        };
        let Some(m) = self.messages.get(message_ref) else {
            self.problem(pos, &node.id, format!("Expected 'messageRef' to reference a bpmn:message, but found no message with id '{message_ref}'"));
            return None;
        };
        let (def, name, name_missing) = (m.def, m.name.clone(), m.name_missing);
        let key = match &m.key {
            Key::Valid(k) => Ok(k.clone()),
            Key::Invalid => Err(true),
            Key::Missing => Err(false),
        };
        let key = match key {
            Ok(k) => Some(Some(k)),
            Err(true) => None,
            Err(false) if needs_key => {
                self.problem(def.pos, &def.id, "Expected the message to have a 'zeebe:subscription' with a 'correlationKey', because a catch event or receive task waits for it, but found none".into());
                None
            }
            Err(false) => Some(None),
        };
        if name_missing {
            self.problem(
                def.pos,
                &def.id,
                "Expected the message to have a non-empty 'name', but it has none".into(),
            );
        }
        Some(MessageRef {
            name: name?,
            correlation_key: key?,
        })
    }

    /// Reads a timer event definition; `allowed` are the timer kinds the event can use, `on` names the event.
    pub(super) fn timer(
        &mut self,
        node: &FlowNode,
        timer: &Option<TimerDef>,
        pos: Pos,
        allowed: &[TimerKind],
        on: &str,
    ) -> Option<TimerRef> {
        let id = node.id.as_str();
        let Some(t) = timer else {
            self.problem(pos, id, "Expected the timer event definition to have one of 'timeDuration', 'timeDate' or 'timeCycle', but found none".into());
            return None;
        };
        if !allowed.contains(&t.kind) {
            let names: Vec<&str> = allowed.iter().map(|k| timer_tag(*k)).collect();
            let why = if t.kind == TimerKind::Cycle && on.contains("interrupting boundary") {
                " (only a non-interrupting boundary event may repeat)"
            } else {
                ""
            };
            self.problem(
                t.pos,
                id,
                format!(
                    "Expected a {} on {on}, but found a {}{why}",
                    names.join(" or "),
                    timer_tag(t.kind)
                ),
            );
            return None;
        }
        let value = self.feelish(t.pos, id, &format!("the {}", timer_tag(t.kind)), &t.text)?;
        if let Feelish::Static(text) = &value {
            if let Err(e) = TimerSpec::parse(t.kind, text) {
                self.problem(t.pos, id, e.to_string());
                return None;
            }
        }
        Some(TimerRef {
            kind: t.kind,
            value,
        })
    }

    /// Resolves an `errorRef` to its error code; `Some(None)` catches every error.
    pub(super) fn error_code(
        &mut self,
        node: &FlowNode,
        error_ref: Option<&str>,
        pos: Pos,
        usage: ErrorUse,
    ) -> Option<Option<String>> {
        let id = node.id.as_str();
        let Some(error_ref) = error_ref.filter(|r| !r.is_empty()) else {
            if usage == ErrorUse::Throw {
                self.problem(
                    pos,
                    id,
                    "Expected an error end event to reference a bpmn:error with 'errorRef', but found none".into(),
                );
                return None;
            }
            return Some(None);
        };
        let Some(def) = self.errors.get(error_ref).copied() else {
            self.problem(pos, id, format!("Expected 'errorRef' to reference a bpmn:error, but found no error with id '{error_ref}'"));
            return None;
        };
        let code = def
            .error_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        match (usage, code) {
            (ErrorUse::Throw, None) => {
                self.problem(
                    def.pos,
                    &def.id,
                    "Expected the error to have a non-empty 'errorCode', because an error end event throws it, but it has none".into(),
                );
                None
            }
            (ErrorUse::Throw, Some(code)) if code.starts_with('=') => {
                self.unsupported(
                    node,
                    &format!("an error end event whose errorCode is a FEEL expression ('{code}' of error '{error_ref}')"),
                    pos,
                    Support::ZeebeOnly,
                );
                None
            }
            (ErrorUse::Catch, Some(code)) if code.starts_with('=') => {
                self.problem(pos, id, format!("Expected the errorCode of an error catch event to be static, but error '{error_ref}' has the expression '{code}'"));
                None
            }
            (_, code) => Some(code.map(str::to_owned)),
        }
    }

    pub(super) fn unsupported(&mut self, node: &FlowNode, what: &str, pos: Pos, support: Support) {
        let why = match support {
            Support::ZeebeOnly => "which Zeebe executes but Apsis does not support yet",
            Support::Neither => "which Zeebe does not execute either",
        };
        self.problem(
            pos,
            &node.id,
            format!("Expected a BPMN element that Apsis executes, but found {what}, {why}"),
        );
    }
}

pub(super) fn timer_tag(kind: TimerKind) -> &'static str {
    match kind {
        TimerKind::Duration => "timeDuration",
        TimerKind::Date => "timeDate",
        TimerKind::Cycle => "timeCycle",
    }
}
