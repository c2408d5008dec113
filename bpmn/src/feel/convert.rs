//! JSON <-> FEEL value conversion.
//!
//! | JSON                         | FEEL                          | back to JSON                                   |
//! |------------------------------|-------------------------------|------------------------------------------------|
//! | `null`                       | `null`                        | `null`                                         |
//! | `true` / `false`             | boolean                       | same                                           |
//! | integer (i64 / u64)          | number (exact, 34 digits)     | the same integer                               |
//! | float (f64)                  | number, from the shortest     | the same f64; a whole float such as `5.0`      |
//! |                              | decimal that round-trips      | comes back as the integer `5` (as in Zeebe)    |
//! | string                       | string                        | same                                           |
//! | array                        | list                          | array                                          |
//! | object                       | context                       | object, keys in FEEL's (sorted) order          |
//! | -                            | date                          | `"2024-01-31"`                                 |
//! | -                            | date and time                 | `"2024-01-31T10:00:00Z"`, `"...+02:00"`,       |
//! |                              |                               | `"...+01:00[Europe/Berlin]"`, local: no suffix |
//! | -                            | time                          | `"10:00:00"` with its offset, if any           |
//! | -                            | days and time duration        | Java's form, as Zeebe writes it: `"PT36H"`     |
//! | -                            | years and months duration     | Java's form: `"P1Y2M"`, zero is `"P0D"`        |
//! | -                            | range, function, other        | `null` plus a warning (Zeebe writes nil too)   |
//!
//! Numbers: serde_json (without `arbitrary_precision`) holds i64, u64 or f64, and every one of those
//! converts to a FEEL decimal exactly and back to the same number, so the conversion is lossless for
//! every JSON value serde_json can hold. FEEL results beyond u64 that are whole, or not whole, become
//! the nearest f64; a result outside f64's range becomes `null` with a warning.
//!
//! Objects: FEEL contexts are sorted maps, so objects built by FEEL come out with sorted keys,
//! and FEEL names are trimmed, so a key with leading or trailing spaces loses them. An expression
//! that is just a variable or a path through objects (`=order`, `=order.items`) skips FEEL
//! altogether and returns the variable's JSON exactly.

use super::Warning;
use dsntk_feel::context::FeelContext;
use dsntk_feel::values::Value;
use dsntk_feel::{FeelNumber, Name};
use dsntk_feel_temporal::{FeelDateTime, FeelTime, FeelZone};
use serde_json::{Map, Number, Value as Json};
use std::str::FromStr;

/// Converts a JSON value into the FEEL value the evaluator works on. Never fails.
pub fn json_to_feel(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null(None),
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => Value::Number(number_to_feel(n)),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(json_to_feel).collect()),
        Json::Object(map) => {
            let mut ctx = FeelContext::default();
            for (key, value) in map {
                ctx.set_entry(&Name::from(key.as_str()), json_to_feel(value));
            }
            Value::Context(ctx)
        }
    }
}

/// Converts a FEEL value into JSON; values with no JSON form become `null` (see the table above).
pub fn feel_to_json(value: &Value) -> Json {
    feel_to_json_warn(value, &mut Vec::new())
}

pub(crate) fn feel_to_json_warn(value: &Value, warnings: &mut Vec<Warning>) -> Json {
    match value {
        Value::Null(_) => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Number(n) => match number_to_json(n) {
            Some(number) => Json::Number(number),
            None => {
                warnings.push(Warning::not_representable(&format!("the number {n}")));
                Json::Null
            }
        },
        Value::String(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(
            items
                .iter()
                .map(|v| feel_to_json_warn(v, warnings))
                .collect(),
        ),
        Value::Context(ctx) => {
            let mut map = Map::with_capacity(ctx.len());
            for (name, v) in ctx.iter() {
                map.insert(name.to_string(), feel_to_json_warn(v, warnings));
            }
            Json::Object(map)
        }
        Value::Date(date) => Json::String(date.to_string()),
        Value::DateTime(dt) => Json::String(date_time_to_string(dt)),
        Value::Time(time) => Json::String(time_to_string(time)),
        Value::DaysAndTimeDuration(d) => Json::String(java_duration(d.as_nanos())),
        Value::YearsAndMonthsDuration(d) => Json::String(java_period(d.as_months())),
        other => {
            warnings.push(Warning::not_representable(&format!(
                "a value of type {}",
                other.type_of()
            )));
            Json::Null
        }
    }
}

fn number_to_feel(n: &Number) -> FeelNumber {
    if let Some(i) = n.as_i64() {
        FeelNumber::from(i)
    } else if let Some(u) = n.as_u64() {
        FeelNumber::from(u)
    } else {
        // Rust prints an f64 as the shortest decimal that parses back to it (at most 17 digits),
        // which a 34-digit decimal holds exactly.
        let f = n.as_f64().unwrap_or(0.0);
        FeelNumber::from_str(&format!("{f:e}")).unwrap_or_else(|_| FeelNumber::zero())
    }
}

/// A FEEL number as JSON: whole numbers that fit i64/u64 as integers, anything else as the nearest
/// f64; `None` when the number is beyond f64's range.
pub(crate) fn number_to_json(n: &FeelNumber) -> Option<Number> {
    // `Debug` is the decimal's own form, `[+-]<digits>E[+-]<exponent>`: exact, and short even for
    // numbers like 1E+300 whose plain form has hundreds of digits.
    let text = format!("{n:?}");
    if let Some(int) = whole_number(&text) {
        if let Ok(i) = int.parse::<i64>() {
            return Some(Number::from(i));
        }
        if let Ok(u) = int.parse::<u64>() {
            return Some(Number::from(u));
        }
    }
    let f: f64 = text.parse().ok()?;
    Number::from_f64(f)
}

/// `"+1234E+2"` -> `Some("123400")`, `"-50E-1"` -> `Some("-5")`, `"+15E-1"` -> `None`; only for
/// numbers of at most 20 digits (anything longer cannot fit u64 anyway).
fn whole_number(text: &str) -> Option<String> {
    let (mantissa, exponent) = text.split_once('E')?;
    let exponent: i32 = exponent.parse().ok()?;
    let (sign, digits) = match mantissa.as_bytes().first()? {
        b'-' => ("-", &mantissa[1..]),
        b'+' => ("", &mantissa[1..]),
        _ => ("", mantissa),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.is_empty() {
        return None;
    }
    let digits = if exponent >= 0 {
        if digits.len() + exponent as usize > 20 {
            return None;
        }
        format!("{digits}{}", "0".repeat(exponent as usize))
    } else {
        let drop = exponent.unsigned_abs() as usize;
        if drop > digits.len() {
            // e.g. 0E-7 is zero; anything else with more fraction than digits is not whole
            return digits.bytes().all(|b| b == b'0').then(|| "0".to_owned());
        }
        let (int, frac) = digits.split_at(digits.len() - drop);
        if !frac.bytes().all(|b| b == b'0') {
            return None;
        }
        if int.is_empty() {
            "0".to_owned()
        } else {
            int.to_owned()
        }
    };
    if digits.bytes().all(|b| b == b'0') {
        return Some("0".to_owned()); // also turns -0 into 0
    }
    Some(format!("{sign}{digits}"))
}

/// ISO-8601 with the zone written as Java's `ZonedDateTime` does: `Z`, `+02:00`, or
/// `+01:00[Europe/Berlin]`; a local date-time (no zone) has no suffix.
fn date_time_to_string(dt: &FeelDateTime) -> String {
    let time = dt.time();
    let local = format!("{}T{}", dt.date(), time_without_zone(&time));
    match time.zone() {
        FeelZone::Zone(zone) => match dt.feel_time_offset() {
            Some(offset) => format!("{local}{}[{zone}]", offset_string(offset)),
            None => format!("{local}[{zone}]"),
        },
        other => format!("{local}{other}"),
    }
}

fn time_to_string(time: &FeelTime) -> String {
    match time.zone() {
        FeelZone::Zone(zone) => format!("{}[{zone}]", time_without_zone(time)),
        other => format!("{}{other}", time_without_zone(time)),
    }
}

fn time_without_zone(time: &FeelTime) -> String {
    let mut s = format!(
        "{:02}:{:02}:{:02}",
        time.hour(),
        time.minute(),
        time.second()
    );
    if time.nanos() > 0 {
        let frac = format!("{:09}", time.nanos());
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s
}

fn offset_string(seconds: i32) -> String {
    if seconds == 0 {
        return "Z".to_owned();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs % 3600 / 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    }
}

/// `java.time.Duration#toString`: hours, minutes and seconds only (`P1D` is `PT24H`), every
/// non-zero part carrying the sign, `PT0S` for zero.
pub(crate) fn java_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "PT0S".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.unsigned_abs();
    let total_seconds = abs / 1_000_000_000;
    let frac = abs % 1_000_000_000;
    let (h, m, s) = (
        total_seconds / 3600,
        total_seconds % 3600 / 60,
        total_seconds % 60,
    );
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{sign}{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{sign}{m}M"));
    }
    if s > 0 || frac > 0 {
        out.push_str(&format!("{sign}{s}"));
        if frac > 0 {
            let digits = format!("{frac:09}");
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        out.push('S');
    }
    out
}

/// `java.time.Period#toString` for a years-and-months period: `P1Y2M`, `P-1Y-2M`, `P0D` for zero.
pub(crate) fn java_period(months: i64) -> String {
    if months == 0 {
        return "P0D".to_owned();
    }
    let (years, months) = (months / 12, months % 12);
    let mut out = String::from("P");
    if years != 0 {
        out.push_str(&format!("{years}Y"));
    }
    if months != 0 {
        out.push_str(&format!("{months}M"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_from_decimal_form() {
        assert_eq!(whole_number("+1234E+2").as_deref(), Some("123400"));
        assert_eq!(whole_number("-50E-1").as_deref(), Some("-5"));
        assert_eq!(whole_number("+15E-1"), None);
        assert_eq!(whole_number("-0E-1").as_deref(), Some("0"));
        assert_eq!(whole_number("+0E-9").as_deref(), Some("0"));
        assert_eq!(whole_number("+1E+300"), None);
        assert_eq!(whole_number("+100E-2").as_deref(), Some("1"));
    }

    #[test]
    fn java_forms() {
        assert_eq!(java_duration(0), "PT0S");
        assert_eq!(java_duration(86_400_000_000_000), "PT24H");
        assert_eq!(java_duration(5_400_000_000_000), "PT1H30M");
        assert_eq!(java_duration(-5_400_000_000_000), "PT-1H-30M");
        assert_eq!(java_duration(500_000_000), "PT0.5S");
        assert_eq!(java_duration(-1_500_000_000), "PT-1.5S");
        assert_eq!(java_period(14), "P1Y2M");
        assert_eq!(java_period(-14), "P-1Y-2M");
        assert_eq!(java_period(0), "P0D");
        assert_eq!(java_period(12), "P1Y");
    }
}
