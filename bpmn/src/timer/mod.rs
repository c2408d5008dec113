//! Timer definitions as Zeebe accepts them, and their due times.
//!
//! | BPMN            | forms                                                                            |
//! |-----------------|----------------------------------------------------------------------------------|
//! | `timeDuration`  | ISO-8601 duration: `PT10S`, `P1DT2H`, `P1M`, `P2W`, `P1Y2M3DT4H5M6.5S` (no sign)  |
//! | `timeDate`      | ISO-8601 date-time with `Z` or an offset, optionally `[Zone/Id]` after it        |
//! | `timeCycle`     | `R5/PT10S`, `R/PT1M` (infinite), `R3/2026-01-01T00:00:00Z/PT1H` (with a start),   |
//! |                 | or a Spring cron expression (6 fields, or `@hourly` etc.), see [`CronSchedule`]  |
//!
//! Due times follow Zeebe (`Interval`, `RepeatingInterval`, `CronTimer`), with one difference:
//! calendar arithmetic (months, years, days) is done in UTC, where Zeebe uses the broker's
//! system time zone. Everything is a pure function of the `now` passed in (epoch ms, UTC).
//!
//! Repetitions: a cycle `R5/...` fires 5 times. The engine persists the spec (serde, or its
//! [`Display`](std::fmt::Display) form re-parsed with [`TimerSpec::kind`]) and, after each firing,
//! calls [`TimerSpec::reschedule`], which gives the spec for the remaining firings and the next
//! due time, or `None` when the timer is done.

mod cron;
mod date;
mod duration;

pub use self::cron::CronSchedule;
pub use self::duration::IsoDuration;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::fmt;

/// The BPMN element a timer definition came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimerKind {
    /// `timeDuration`
    Duration,
    /// `timeDate`
    Date,
    /// `timeCycle`
    Cycle,
}

impl fmt::Display for TimerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimerKind::Duration => "duration",
            TimerKind::Date => "date",
            TimerKind::Cycle => "cycle",
        })
    }
}

/// A parsed timer definition: plain data, serializable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerSpec {
    /// Fires once, this long after it is scheduled.
    Duration(IsoDuration),
    /// Fires once at this instant (epoch ms), at once if it is past.
    Date(i64),
    /// Fires every `interval`; `repetitions` times in all, or forever when `None`. With a `start`,
    /// the first firing is at `start` (at once if it is past) instead of one interval from now.
    Cycle {
        repetitions: Option<u32>,
        start: Option<i64>,
        interval: IsoDuration,
    },
    /// Fires at every time the cron expression matches, forever.
    Cron(CronSchedule),
}

/// A timer definition that could not be read; the message names the text and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    #[error("Expected a timer duration like 'PT10S' or 'P1DT2H', but found '{text}': {reason}")]
    InvalidDuration { text: String, reason: String },
    #[error(
        "Expected a timer date like '2019-10-01T12:00:00Z' or '2019-10-02T08:09:40+02:00[Europe/Berlin]', \
         but found '{text}': {reason}"
    )]
    InvalidDate { text: String, reason: String },
    #[error(
        "Expected a timer cycle like 'R5/PT10S' or a cron expression, but found '{text}': {reason}"
    )]
    InvalidCycle { text: String, reason: String },
    #[error(
        "Expected the timer {kind} expression to give a {kind} or a string, but it gave {found}"
    )]
    UnexpectedValue { kind: TimerKind, found: String },
}

impl TimerSpec {
    /// Parses the text of a `timeDuration`, `timeDate` or `timeCycle` element.
    pub fn parse(kind: TimerKind, text: &str) -> Result<TimerSpec, TimerError> {
        match kind {
            TimerKind::Duration => TimerSpec::parse_duration(text),
            TimerKind::Date => TimerSpec::parse_date(text),
            TimerKind::Cycle => TimerSpec::parse_cycle(text),
        }
    }

    pub fn parse_duration(text: &str) -> Result<TimerSpec, TimerError> {
        let text = text.trim();
        IsoDuration::parse(text)
            .map(TimerSpec::Duration)
            .map_err(|reason| TimerError::InvalidDuration {
                text: text.to_owned(),
                reason,
            })
    }

    pub fn parse_date(text: &str) -> Result<TimerSpec, TimerError> {
        let text = text.trim();
        date::parse_date_time(text, false)
            .map(TimerSpec::Date)
            .map_err(|reason| TimerError::InvalidDate {
                text: text.to_owned(),
                reason,
            })
    }

    /// `R[n]/[start/]interval` (Zeebe's `RepeatingInterval`), or else a cron expression.
    pub fn parse_cycle(text: &str) -> Result<TimerSpec, TimerError> {
        let text = text.trim();
        let invalid = |reason: String| TimerError::InvalidCycle {
            text: text.to_owned(),
            reason,
        };
        let Some(rest) = text.strip_prefix('R') else {
            if text.is_empty() {
                return Err(invalid("the text is empty".to_owned()));
            }
            return CronSchedule::parse(text)
                .map(TimerSpec::Cron)
                .map_err(invalid);
        };
        // As Zeebe: the count ends at the first '/', the start at the last one (a zone id such
        // as `[Europe/Berlin]` has a '/' of its own).
        let shape =
            || invalid("expected 'R[n]/<duration>' or 'R[n]/<start>/<duration>'".to_owned());
        let (count, rest) = rest.split_once('/').ok_or_else(shape)?;
        let (start, interval) = match rest.rsplit_once('/') {
            Some((start, interval)) => (Some(start), interval),
            None => (None, rest),
        };
        let repetitions = match count {
            "" => None,
            digits => match digits.parse::<u32>() {
                Ok(0) => {
                    return Err(invalid(
                        "the number of repetitions must be at least 1".to_owned(),
                    ))
                }
                Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => {
                    return Err(invalid(format!(
                        "'R{digits}' is not a number of repetitions"
                    )))
                }
            },
        };
        let start = start
            .map(|s| date::parse_date_time(s, false))
            .transpose()
            .map_err(&invalid)?;
        let interval = IsoDuration::parse(interval).map_err(&invalid)?;
        if interval.is_zero() {
            return Err(invalid("the interval must be longer than zero".to_owned()));
        }
        Ok(TimerSpec::Cycle {
            repetitions,
            start,
            interval,
        })
    }

    /// Reads the value a FEEL timer expression gave (e.g. `=duration("PT" + string(n) + "S")`
    /// or `="PT5S"`): a string in the element's format. FEEL durations and date-times arrive as
    /// their ISO strings ([`crate::feel::convert`]); a date-time without offset or zone (a FEEL
    /// local date-time) is taken as UTC.
    pub fn from_feel_value(kind: TimerKind, value: &Json) -> Result<TimerSpec, TimerError> {
        let Json::String(text) = value else {
            let found = match value {
                Json::Null => "null".to_owned(),
                other => format!("'{other}'"),
            };
            return Err(TimerError::UnexpectedValue { kind, found });
        };
        match kind {
            TimerKind::Date => date::parse_date_time(text.trim(), true)
                .map(TimerSpec::Date)
                .map_err(|reason| TimerError::InvalidDate {
                    text: text.trim().to_owned(),
                    reason,
                }),
            _ => TimerSpec::parse(kind, text),
        }
    }

    /// Which element kind parses this spec's [`Display`](fmt::Display) form back.
    pub fn kind(&self) -> TimerKind {
        match self {
            TimerSpec::Duration(_) => TimerKind::Duration,
            TimerSpec::Date(_) => TimerKind::Date,
            TimerSpec::Cycle { .. } | TimerSpec::Cron(_) => TimerKind::Cycle,
        }
    }

    /// When the timer first fires if scheduled at `now_ms`. `None` when it never fires (a cron
    /// expression with no future match, or a time beyond the calendar's range).
    pub fn first_due(&self, now_ms: i64) -> Option<i64> {
        match self {
            TimerSpec::Duration(duration) => duration.add_to(now_ms),
            TimerSpec::Date(at) => Some(*at),
            TimerSpec::Cycle {
                start: Some(start), ..
            } => Some((*start).max(now_ms)),
            TimerSpec::Cycle {
                start: None,
                interval,
                ..
            } => interval.add_to(now_ms),
            TimerSpec::Cron(cron) => cron.next_after(now_ms),
        }
    }

    /// For a repeating timer that fired at `previous_due_ms` and is processed at `now_ms`: the
    /// next due time, ignoring the repetition count (see [`TimerSpec::reschedule`]). A cycle's
    /// next firing is one interval after the previous due time, or, if that is already past,
    /// one interval after `now` (Zeebe's `nextOccurrenceAfter`, so missed firings are not
    /// replayed in a burst); a cron's is its next match after both. `None` for a one-off timer.
    pub fn next_due(&self, previous_due_ms: i64, now_ms: i64) -> Option<i64> {
        match self {
            TimerSpec::Duration(_) | TimerSpec::Date(_) => None,
            TimerSpec::Cycle { interval, .. } => {
                let natural = interval.add_to(previous_due_ms)?;
                if natural > now_ms {
                    Some(natural)
                } else {
                    interval.add_to(now_ms)
                }
            }
            TimerSpec::Cron(cron) => cron.next_after(previous_due_ms.max(now_ms)),
        }
    }

    /// The spec for the firings left after one firing: `None` for a one-off timer or a cycle's
    /// last repetition; a cycle with one repetition fewer (and no start any more); the same cron.
    pub fn after_fire(&self) -> Option<TimerSpec> {
        match self {
            TimerSpec::Duration(_) | TimerSpec::Date(_) => None,
            TimerSpec::Cycle {
                repetitions: Some(n),
                ..
            } if *n <= 1 => None,
            TimerSpec::Cycle {
                repetitions,
                interval,
                ..
            } => Some(TimerSpec::Cycle {
                repetitions: repetitions.map(|n| n - 1),
                start: None,
                interval: *interval,
            }),
            TimerSpec::Cron(_) => Some(self.clone()),
        }
    }

    /// After a firing due at `previous_due_ms`, processed at `now_ms`: the spec to store for the
    /// remaining firings and their next due time, or `None` when the timer is done.
    pub fn reschedule(&self, previous_due_ms: i64, now_ms: i64) -> Option<(TimerSpec, i64)> {
        let rest = self.after_fire()?;
        let due = rest.next_due(previous_due_ms, now_ms)?;
        Some((rest, due))
    }

    /// How many firings are left, this one included: 1 for a one-off timer, `None` for forever.
    pub fn remaining_fires(&self) -> Option<u32> {
        match self {
            TimerSpec::Duration(_) | TimerSpec::Date(_) => Some(1),
            TimerSpec::Cycle { repetitions, .. } => *repetitions,
            TimerSpec::Cron(_) => None,
        }
    }
}

/// The canonical text, which `TimerSpec::parse(spec.kind(), ..)` reads back to an equal spec.
impl fmt::Display for TimerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerSpec::Duration(duration) => write!(f, "{duration}"),
            TimerSpec::Date(at) => f.write_str(&instant_string(*at)),
            TimerSpec::Cycle {
                repetitions,
                start,
                interval,
            } => {
                f.write_str("R")?;
                if let Some(n) = repetitions {
                    write!(f, "{n}")?;
                }
                if let Some(start) = start {
                    write!(f, "/{}", instant_string(*start))?;
                }
                write!(f, "/{interval}")
            }
            TimerSpec::Cron(cron) => write!(f, "{cron}"),
        }
    }
}

fn instant_string(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(at) => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => ms.to_string(),
    }
}
