//! Cron timer cycles in Spring's format (Zeebe uses Spring's `CronExpression`), run by the `cron`
//! crate.
//!
//! Spring: 6 fields `second minute hour day-of-month month day-of-week`, day-of-week `0`-`7`
//! (`0` and `7` are Sunday) or `MON`..`SUN`, macros `@yearly` (`@annually`), `@monthly`,
//! `@weekly`, `@daily` (`@midnight`), `@hourly`. The `cron` crate numbers days of the week
//! `1`-`7` from Sunday (Quartz), so the day-of-week field is rewritten to names before it is
//! handed over. Not supported (rejected with a message): `L`, `W` and `#`.

use chrono::{DateTime, Utc};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A parsed cron expression; compares, prints and serializes as its text.
#[derive(Clone)]
pub struct CronSchedule {
    expression: String,
    /// Shared: a schedule is a few hundred bytes and timers are cloned often.
    schedule: Arc<cron::Schedule>,
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl CronSchedule {
    pub fn parse(text: &str) -> Result<CronSchedule, String> {
        let expression = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let expanded = match expression.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 0 1 1 *".to_owned(),
            "@monthly" => "0 0 0 1 * *".to_owned(),
            "@weekly" => "0 0 0 * * 0".to_owned(),
            "@daily" | "@midnight" => "0 0 0 * * *".to_owned(),
            "@hourly" => "0 0 * * * *".to_owned(),
            other if other.starts_with('@') => {
                return Err(format!("unknown cron macro '{expression}'"))
            }
            _ => expression.clone(),
        };
        let fields: Vec<&str> = expanded.split(' ').collect();
        if fields.len() != 6 {
            return Err(format!(
                "a cron expression has 6 fields (second minute hour day-of-month month day-of-week), found {}",
                fields.len()
            ));
        }
        if let Some(field) = fields.iter().find(|f| uses_unsupported(f)) {
            return Err(format!("'{field}': 'L', 'W' and '#' are not supported"));
        }
        let day_of_week = day_of_week_names(fields[5])?;
        let quartz = format!(
            "{} {} {} {} {} {}",
            fields[0], fields[1], fields[2], fields[3], fields[4], day_of_week
        );
        let schedule =
            cron::Schedule::from_str(&quartz).map_err(|e| format!("'{expression}': {e}"))?;
        Ok(CronSchedule {
            expression,
            schedule: Arc::new(schedule),
        })
    }

    /// The first fire time strictly after `after_ms` (whole seconds, UTC); `None` if there is none.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after: DateTime<Utc> = DateTime::from_timestamp_millis(after_ms)?;
        self.schedule
            .after(&after)
            .next()
            .map(|due| due.timestamp_millis())
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Whether a field uses Spring's `L`, `W` or `#`; names such as `JUL` or `WED` do not count.
fn uses_unsupported(field: &str) -> bool {
    let is_name = |part: &str| {
        DAY_NAMES
            .iter()
            .chain(&MONTH_NAMES)
            .any(|name| name.eq_ignore_ascii_case(part))
    };
    field.contains('#')
        || field
            .split([',', '-', '/'])
            .any(|part| part.contains(['L', 'l', 'W', 'w']) && !is_name(part))
}

/// Rewrites a Spring day-of-week field (`0`-`7`, names, ranges, lists, steps) as a list of names.
fn day_of_week_names(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok(field.to_owned());
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step: usize = step
                    .parse()
                    .map_err(|_| format!("'{item}': '{step}' is not a step"))?;
                if step == 0 {
                    return Err(format!("'{item}': the step must be positive"));
                }
                (base, step)
            }
            None => (item, 1),
        };
        let (from, to) = match base {
            "*" | "?" => (0, 7),
            _ => match base.split_once('-') {
                Some((from, to)) => (day_number(from)?, day_number(to)?),
                None if item.contains('/') => (day_number(base)?, 7),
                None => {
                    let day = day_number(base)?;
                    (day, day)
                }
            },
        };
        if from > to {
            return Err(format!("'{item}': the range runs backwards"));
        }
        for day in (from..=to).step_by(step) {
            days[day % 7] = true;
        }
    }
    Ok(DAY_NAMES
        .iter()
        .zip(days)
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(","))
}

/// `0`-`7` (Sunday is both `0` and `7`) or a three-letter name, as 0 (Sunday) to 7.
fn day_number(text: &str) -> Result<usize, String> {
    if let Ok(n) = text.parse::<usize>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err(format!("'{text}' is not a day of the week (0-7)"))
        };
    }
    DAY_NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("'{text}' is not a day of the week (0-7 or MON-SUN)"))
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CronSchedule")
            .field(&self.expression)
            .finish()
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression
    }
}

impl Eq for CronSchedule {}

impl serde::Serialize for CronSchedule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.expression)
    }
}

impl<'de> serde::Deserialize<'de> for CronSchedule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        CronSchedule::parse(&text).map_err(serde::de::Error::custom)
    }
}
