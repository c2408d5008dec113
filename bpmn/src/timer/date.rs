//! Timer dates: ISO-8601 date-times as Java's `ZonedDateTime.parse` reads them.

use chrono::{LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone};
use chrono_tz::Tz;

/// Parses `2019-10-01T12:00:00Z`, `2019-10-02T08:09:40+02:00`, `2019-10-02T08:09:40+02:00[Europe/Berlin]`
/// (seconds and fraction optional; offsets `+HH:MM`, `+HHMM`, `+HH`) into epoch milliseconds.
///
/// As in Java, when an offset is given it fixes the instant and a `[zone]` after it is only
/// checked to exist. Apsis also accepts a zone without an offset (`2019-10-02T08:09:40[Europe/Berlin]`,
/// which Java rejects): the local time is then resolved in the zone as Java's `atZone` does (in
/// an overlap the earlier instant, in a gap shifted later by the gap's length). A date-time with
/// neither offset nor zone is rejected (it names no instant), unless `local_as_utc`.
pub fn parse_date_time(text: &str, local_as_utc: bool) -> Result<i64, String> {
    let (main, zone) = match text.strip_suffix(']') {
        Some(rest) => {
            let (main, zone) = rest.rsplit_once('[').ok_or("a ']' without '['")?;
            let tz: Tz = zone
                .parse()
                .map_err(|_| format!("'{zone}' is not a known time zone"))?;
            (main, Some(tz))
        }
        None => (text, None),
    };
    let t = main
        .find(['T', 't'])
        .ok_or("no 'T' between the date and the time")?;
    let (local_text, offset) = split_offset(main, t)?;
    let local = parse_local(local_text)?;
    let instant = match (offset, zone) {
        (Some(offset_seconds), _) => {
            local.and_utc() - TimeDelta::seconds(i64::from(offset_seconds))
        }
        (None, Some(tz)) => match tz.from_local_datetime(&local) {
            LocalResult::Single(dt) => dt.to_utc(),
            LocalResult::Ambiguous(earlier, _) => earlier.to_utc(),
            LocalResult::None => {
                let before = tz
                    .offset_from_utc_datetime(&(local - TimeDelta::days(1)))
                    .fix();
                local.and_utc() - TimeDelta::seconds(i64::from(before.local_minus_utc()))
            }
        },
        (None, None) if local_as_utc => local.and_utc(),
        (None, None) => return Err("no offset or 'Z' (e.g. '2019-10-01T12:00:00Z')".to_owned()),
    };
    Ok(instant.timestamp_millis())
}

/// Splits `...T12:00:00+02:00` into the local part and the offset in seconds (`Z` is zero).
fn split_offset(text: &str, t: usize) -> Result<(&str, Option<i32>), String> {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return Ok((local, Some(0)));
    }
    let Some(sign_at) = text[t..].rfind(['+', '-']).map(|i| i + t) else {
        return Ok((text, None));
    };
    let (local, offset) = text.split_at(sign_at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits = &offset[1..];
    let parts: Vec<&str> = if digits.contains(':') {
        digits.split(':').collect()
    } else if digits.len() == 4 && digits.is_ascii() {
        // (ASCII checked first: slicing at byte 2 inside a multi-byte character would panic.)
        vec![&digits[..2], &digits[2..]]
    } else {
        vec![digits]
    };
    let bad = || format!("'{offset}' is not an offset like '+02:00'");
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let numbers: Vec<i32> = parts.iter().map(|p| p.parse().unwrap_or(0)).collect();
    let (h, m, s) = (
        numbers[0],
        numbers.get(1).copied().unwrap_or(0),
        numbers.get(2).copied().unwrap_or(0),
    );
    if h > 18 || m > 59 || s > 59 {
        return Err(bad());
    }
    Ok((local, Some(sign * (h * 3600 + m * 60 + s))))
}

fn parse_local(text: &str) -> Result<NaiveDateTime, String> {
    let text = text.replace('t', "T");
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M"))
        .map_err(|e| format!("'{text}' is not a date and time like '2019-10-01T12:00:00' ({e})"))
}
