//! ISO-8601 durations as Zeebe reads them (`java.time.Period` + `java.time.Duration`), added to a
//! time by calendar arithmetic in UTC.

use chrono::{DateTime, Days, Months, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A duration such as `PT10S`, `P1DT2H`, `P1M` or `P1Y2M3DT4H5M6.5S`: calendar months and days,
/// then an exact time. Weeks are stored as days, years as months; the time is kept in
/// milliseconds (finer digits are dropped, as Zeebe's `toMillis` does). Never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct IsoDuration {
    pub months: u32,
    pub days: u32,
    pub millis: u64,
}

impl IsoDuration {
    pub const ZERO: IsoDuration = IsoDuration {
        months: 0,
        days: 0,
        millis: 0,
    };

    /// Parses `P[nY][nM][nW][nD][T[nH][nM][n[.f]S]]` (letters in either case, `,` or `.` before
    /// the fraction, which only seconds may have). The error says what is wrong.
    pub fn parse(text: &str) -> Result<IsoDuration, String> {
        let upper = text.to_ascii_uppercase();
        let Some(body) = upper.strip_prefix('P') else {
            return Err(if upper.starts_with('-') || upper.starts_with('+') {
                "a timer duration cannot be signed".to_owned()
            } else {
                "a duration starts with 'P'".to_owned()
            });
        };
        let (date_part, time_part) = match body.split_once('T') {
            Some((date, "")) => return Err(format!("no time after 'T' in '{date}T'")),
            Some((date, time)) => (date, Some(time)),
            None => (body, None),
        };
        if date_part.is_empty() && time_part.is_none() {
            return Err("a duration needs at least one part, e.g. 'PT10S'".to_owned());
        }
        let mut duration = IsoDuration::ZERO;
        let overflow = || "the duration is too long".to_owned();
        for (number, unit) in components(date_part, "YMWD")? {
            let n: u32 = whole(&number, unit)?;
            match unit {
                'Y' => {
                    duration.months = n
                        .checked_mul(12)
                        .and_then(|m| m.checked_add(duration.months))
                        .ok_or_else(overflow)?
                }
                'M' => duration.months = duration.months.checked_add(n).ok_or_else(overflow)?,
                'W' => {
                    duration.days = n
                        .checked_mul(7)
                        .and_then(|d| d.checked_add(duration.days))
                        .ok_or_else(overflow)?
                }
                _ => duration.days = duration.days.checked_add(n).ok_or_else(overflow)?,
            }
        }
        if let Some(time_part) = time_part {
            for (number, unit) in components(time_part, "HMS")? {
                let millis = match unit {
                    'H' => u64::from(whole::<u32>(&number, unit)?) * 3_600_000,
                    'M' => u64::from(whole::<u32>(&number, unit)?) * 60_000,
                    _ => seconds_to_millis(&number)?,
                };
                duration.millis = duration.millis.checked_add(millis).ok_or_else(overflow)?;
            }
        }
        Ok(duration)
    }

    /// `from` plus this duration: months first (the day clamped to the month's end, so Jan 31 +
    /// P1M is Feb 28 or 29), then days, then the time, all in UTC. `None` when out of range.
    pub fn add_to(&self, from_ms: i64) -> Option<i64> {
        if self.months == 0 && self.days == 0 {
            return from_ms.checked_add(i64::try_from(self.millis).ok()?);
        }
        let start: DateTime<Utc> = DateTime::from_timestamp_millis(from_ms)?;
        let due = start
            .checked_add_months(Months::new(self.months))?
            .checked_add_days(Days::new(u64::from(self.days)))?
            .checked_add_signed(TimeDelta::try_milliseconds(
                i64::try_from(self.millis).ok()?,
            )?)?;
        Some(due.timestamp_millis())
    }

    pub fn is_zero(&self) -> bool {
        *self == IsoDuration::ZERO
    }
}

/// Splits `1Y2M` into `[("1", 'Y'), ("2", 'M')]`, requiring the units in `order`, each once.
fn components(text: &str, order: &str) -> Result<Vec<(String, char)>, String> {
    let mut out = Vec::new();
    let mut number = String::new();
    let mut next_allowed = 0;
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' || c == ',' {
            number.push(c);
            continue;
        }
        let Some(position) = order.find(c) else {
            return Err(if c == '-' || c == '+' {
                "a timer duration cannot be negative".to_owned()
            } else {
                format!(
                    "unexpected '{c}' (expected a number followed by one of {})",
                    order
                        .chars()
                        .map(String::from)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
        };
        if position < next_allowed {
            return Err(format!("'{c}' is out of order or repeated"));
        }
        if number.is_empty() {
            return Err(format!("no number before '{c}'"));
        }
        out.push((std::mem::take(&mut number), c));
        next_allowed = position + 1;
    }
    if !number.is_empty() {
        return Err(format!("the number {number} has no unit"));
    }
    Ok(out)
}

fn whole<T: std::str::FromStr>(number: &str, unit: char) -> Result<T, String> {
    if number.contains(['.', ',']) {
        return Err(format!(
            "only seconds may have a fraction, not '{number}{unit}'"
        ));
    }
    number
        .parse()
        .map_err(|_| format!("the number {number} before '{unit}' is too large"))
}

fn seconds_to_millis(number: &str) -> Result<u64, String> {
    let number = number.replace(',', ".");
    let (int, frac) = number.split_once('.').unwrap_or((&number, ""));
    if int.is_empty() || frac.contains('.') {
        return Err(format!("'{number}S' is not a number of seconds"));
    }
    let seconds: u64 = int
        .parse()
        .map_err(|_| format!("the number {int} before 'S' is too large"))?;
    let millis: u64 = format!("{:0<3}", &frac[..frac.len().min(3)])
        .parse()
        .unwrap_or(0);
    seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(millis))
        .ok_or_else(|| "the duration is too long".to_owned())
}

/// The canonical ISO-8601 form, which [`IsoDuration::parse`] reads back to the same value:
/// `P1Y2M3DT4H5M6.5S`, `PT0S` for zero.
impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("PT0S");
        }
        f.write_str("P")?;
        let (years, months) = (self.months / 12, self.months % 12);
        if years > 0 {
            write!(f, "{years}Y")?;
        }
        if months > 0 {
            write!(f, "{months}M")?;
        }
        if self.days > 0 {
            write!(f, "{}D", self.days)?;
        }
        if self.millis > 0 {
            f.write_str("T")?;
            let (hours, rest) = (self.millis / 3_600_000, self.millis % 3_600_000);
            let (minutes, rest) = (rest / 60_000, rest % 60_000);
            let (seconds, millis) = (rest / 1000, rest % 1000);
            if hours > 0 {
                write!(f, "{hours}H")?;
            }
            if minutes > 0 {
                write!(f, "{minutes}M")?;
            }
            if seconds > 0 || millis > 0 {
                write!(f, "{seconds}")?;
                if millis > 0 {
                    let frac = format!("{millis:03}");
                    write!(f, ".{}", frac.trim_end_matches('0'))?;
                }
                f.write_str("S")?;
            }
        }
        Ok(())
    }
}
