//! Timer definitions as Zeebe accepts them, and their due times.

use apsis_bpmn::feel::{Expression, WithClock};
use apsis_bpmn::timer::{IsoDuration, TimerError, TimerKind, TimerSpec};
use chrono::{DateTime, Datelike, Utc, Weekday};
use proptest::prelude::*;
use serde_json::{json, Map, Value as Json};

/// Epoch ms of an RFC 3339 instant.
fn ms(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .timestamp_millis()
}

fn at(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn duration(text: &str) -> IsoDuration {
    match TimerSpec::parse_duration(text) {
        Ok(TimerSpec::Duration(d)) => d,
        other => panic!("{text}: {other:?}"),
    }
}

fn error(kind: TimerKind, text: &str) -> String {
    TimerSpec::parse(kind, text).expect_err(text).to_string()
}

// ---------------------------------------------------------------------------------------------
// timeDuration

#[test]
fn durations_parse_into_months_days_and_millis() {
    let cases: &[(&str, (u32, u32, u64))] = &[
        ("PT10S", (0, 0, 10_000)),
        ("P1DT2H", (0, 1, 7_200_000)),
        ("P1M", (1, 0, 0)),
        (
            "P1Y2M3DT4H5M6.5S",
            (14, 3, 4 * 3_600_000 + 5 * 60_000 + 6_500),
        ),
        ("P2W", (0, 14, 0)),
        ("PT36H", (0, 0, 36 * 3_600_000)),
        ("PT1,5S", (0, 0, 1_500)),
        ("PT0.0005S", (0, 0, 0)),
        ("PT0S", (0, 0, 0)),
        ("pt1m", (0, 0, 60_000)),
        ("  PT5S ", (0, 0, 5_000)),
        ("P1Y", (12, 0, 0)),
    ];
    for (text, (months, days, millis)) in cases {
        assert_eq!(
            duration(text),
            IsoDuration {
                months: *months,
                days: *days,
                millis: *millis
            },
            "{text}"
        );
    }
}

#[test]
fn bad_durations_say_what_was_expected_and_why() {
    let prefix = |text: &str| {
        format!("Expected a timer duration like 'PT10S' or 'P1DT2H', but found '{text}': ")
    };
    let cases = [
        ("10S", "a duration starts with 'P'"),
        ("-PT10S", "a timer duration cannot be signed"),
        ("PT-10S", "a timer duration cannot be negative"),
        ("P", "a duration needs at least one part, e.g. 'PT10S'"),
        ("PT", "no time after 'T' in 'T'"),
        ("P1.5D", "only seconds may have a fraction, not '1.5D'"),
        ("PT10", "the number 10 has no unit"),
        ("P1D1Y", "'Y' is out of order or repeated"),
        ("PT1H1H", "'H' is out of order or repeated"),
        (
            "PT1X",
            "unexpected 'X' (expected a number followed by one of H, M, S)",
        ),
        (
            "P99999999999Y",
            "the number 99999999999 before 'Y' is too large",
        ),
        ("PTS", "no number before 'S'"),
        ("", "a duration starts with 'P'"),
    ];
    for (text, reason) in cases {
        assert_eq!(
            error(TimerKind::Duration, text),
            format!("{}{reason}", prefix(text)),
            "{text}"
        );
    }
    assert!(matches!(
        TimerSpec::parse_duration("x"),
        Err(TimerError::InvalidDuration { .. })
    ));
}

#[test]
fn duration_due_times_use_calendar_arithmetic_in_utc() {
    let due = |text: &str, from: &str| {
        at(TimerSpec::parse_duration(text)
            .unwrap()
            .first_due(ms(from))
            .unwrap())
    };
    assert_eq!(due("PT10S", "2024-01-01T00:00:00Z"), "2024-01-01T00:00:10Z");
    assert_eq!(
        due("PT0.25S", "2024-01-01T00:00:00Z"),
        "2024-01-01T00:00:00.250Z"
    );
    assert_eq!(
        due("P1M", "2024-01-31T10:00:00Z"),
        "2024-02-29T10:00:00Z",
        "leap year: clamped to Feb 29"
    );
    assert_eq!(
        due("P1M", "2023-01-31T10:00:00Z"),
        "2023-02-28T10:00:00Z",
        "clamped to Feb 28"
    );
    assert_eq!(due("P1M", "2024-03-31T00:00:00Z"), "2024-04-30T00:00:00Z");
    assert_eq!(
        due("P1M1D", "2024-01-31T00:00:00Z"),
        "2024-03-01T00:00:00Z",
        "months first, then days"
    );
    assert_eq!(due("P1Y", "2024-02-29T12:00:00Z"), "2025-02-28T12:00:00Z");
    assert_eq!(due("P4Y", "2024-02-29T12:00:00Z"), "2028-02-29T12:00:00Z");
    assert_eq!(due("P1D", "2024-12-31T23:30:00Z"), "2025-01-01T23:30:00Z");
    assert_eq!(due("PT36H", "2024-02-28T00:00:00Z"), "2024-02-29T12:00:00Z");
    assert_eq!(
        due("P1Y2M3DT4H5M6.5S", "2023-12-31T00:00:00Z"),
        "2025-03-03T04:05:06.500Z"
    );
    // out of the calendar's range: never
    assert_eq!(TimerSpec::parse_duration("P4000000000Y").ok(), None);
    assert_eq!(
        TimerSpec::parse_duration("P300000000Y")
            .unwrap()
            .first_due(0),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// timeDate

#[test]
fn dates_with_offsets_and_zones() {
    let date = |text: &str| match TimerSpec::parse_date(text) {
        Ok(TimerSpec::Date(at)) => at,
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(date("2019-10-01T12:00:00Z"), ms("2019-10-01T12:00:00Z"));
    assert_eq!(
        date("2019-10-01T12:00:00.123Z"),
        ms("2019-10-01T12:00:00.123Z")
    );
    assert_eq!(
        date("2019-10-01T12:00Z"),
        ms("2019-10-01T12:00:00Z"),
        "seconds are optional, as in Java"
    );
    assert_eq!(
        date("2019-10-02T08:09:40+02:00"),
        ms("2019-10-02T06:09:40Z")
    );
    assert_eq!(
        date("2019-10-02T08:09:40-05:30"),
        ms("2019-10-02T13:39:40Z")
    );
    assert_eq!(date("2019-10-02T08:09:40+0200"), ms("2019-10-02T06:09:40Z"));
    assert_eq!(date("2019-10-02T08:09:40+02"), ms("2019-10-02T06:09:40Z"));
    // Zeebe's zone-id form: the offset fixes the instant, the zone must exist
    assert_eq!(
        date("2019-10-02T08:09:40+02:00[Europe/Berlin]"),
        ms("2019-10-02T06:09:40Z")
    );
    assert_eq!(
        date("2019-10-02T08:09:40Z[UTC]"),
        ms("2019-10-02T08:09:40Z")
    );
    // a zone without an offset is resolved in the zone
    assert_eq!(
        date("2024-07-01T10:00:00[Europe/Berlin]"),
        ms("2024-07-01T08:00:00Z")
    );
    assert_eq!(
        date("2024-01-01T10:00:00[Europe/Berlin]"),
        ms("2024-01-01T09:00:00Z")
    );
    assert_eq!(
        date("2024-03-31T02:30:00[Europe/Berlin]"),
        ms("2024-03-31T01:30:00Z"),
        "in the spring gap: shifted later"
    );
    assert_eq!(
        date("2024-10-27T02:30:00[Europe/Berlin]"),
        ms("2024-10-27T00:30:00Z"),
        "in the autumn overlap: earlier"
    );
    assert_eq!(date(" 2019-10-01T12:00:00Z "), ms("2019-10-01T12:00:00Z"));
}

#[test]
fn bad_dates_say_what_was_expected_and_why() {
    let prefix = |text: &str| {
        format!(
            "Expected a timer date like '2019-10-01T12:00:00Z' or '2019-10-02T08:09:40+02:00[Europe/Berlin]', \
             but found '{text}': "
        )
    };
    let cases = [
        (
            "2019-10-01T12:00:00",
            "no offset or 'Z' (e.g. '2019-10-01T12:00:00Z')",
        ),
        (
            "2019-10-01T12:00:00+02:00[Mars/Olympus]",
            "'Mars/Olympus' is not a known time zone",
        ),
        ("2019-10-01", "no 'T' between the date and the time"),
        (
            "2019-10-01T12:00:00+2:00",
            "'+2:00' is not an offset like '+02:00'",
        ),
        (
            "2019-10-01T12:00:00+25:00",
            "'+25:00' is not an offset like '+02:00'",
        ),
        ("2019-10-01T12:00:00Europe/Berlin]", "a ']' without '['"),
    ];
    for (text, reason) in cases {
        assert_eq!(
            error(TimerKind::Date, text),
            format!("{}{reason}", prefix(text)),
            "{text}"
        );
    }
    for text in [
        "2019-02-30T12:00:00Z",
        "2019-10-01T25:00:00Z",
        "tomorrow",
        "",
    ] {
        let message = error(TimerKind::Date, text);
        assert!(message.starts_with(&prefix(text)), "{message}");
    }
}

#[test]
fn a_date_is_due_at_its_instant_even_when_past() {
    let spec = TimerSpec::parse_date("2019-10-01T12:00:00Z").unwrap();
    assert_eq!(
        spec.first_due(ms("2030-01-01T00:00:00Z")),
        Some(ms("2019-10-01T12:00:00Z"))
    );
    assert_eq!(
        spec.next_due(ms("2019-10-01T12:00:00Z"), ms("2030-01-01T00:00:00Z")),
        None
    );
    assert_eq!(spec.after_fire(), None);
    assert_eq!(spec.remaining_fires(), Some(1));
}

// ---------------------------------------------------------------------------------------------
// timeCycle: repeating intervals

#[test]
fn repeating_intervals() {
    assert_eq!(
        TimerSpec::parse_cycle("R5/PT10S").unwrap(),
        TimerSpec::Cycle {
            repetitions: Some(5),
            start: None,
            interval: duration("PT10S")
        }
    );
    assert_eq!(
        TimerSpec::parse_cycle("R/PT1M").unwrap(),
        TimerSpec::Cycle {
            repetitions: None,
            start: None,
            interval: duration("PT1M")
        }
    );
    assert_eq!(
        TimerSpec::parse_cycle("R3/2026-01-01T00:00:00Z/PT1H").unwrap(),
        TimerSpec::Cycle {
            repetitions: Some(3),
            start: Some(ms("2026-01-01T00:00:00Z")),
            interval: duration("PT1H")
        }
    );
    assert_eq!(
        TimerSpec::parse_cycle("R/2026-01-01T01:00:00+01:00[Europe/Berlin]/P1D").unwrap(),
        TimerSpec::Cycle {
            repetitions: None,
            start: Some(ms("2026-01-01T00:00:00Z")),
            interval: duration("P1D")
        }
    );
}

#[test]
fn bad_cycles_say_what_was_expected_and_why() {
    let prefix = |text: &str| {
        format!("Expected a timer cycle like 'R5/PT10S' or a cron expression, but found '{text}': ")
    };
    let cases = [
        ("R0/PT1S", "the number of repetitions must be at least 1"),
        ("R/PT0S", "the interval must be longer than zero"),
        ("Rx/PT1S", "'Rx' is not a number of repetitions"),
        ("R-1/PT1S", "'R-1' is not a number of repetitions"),
        ("R5", "expected 'R[n]/<duration>' or 'R[n]/<start>/<duration>'"),
        ("R5/a/b/PT1S", "no 'T' between the date and the time"),
        ("R5/10S", "a duration starts with 'P'"),
        ("R3/2026-01-01T00:00:00/PT1H", "no offset or 'Z' (e.g. '2019-10-01T12:00:00Z')"),
        ("xyz", "a cron expression has 6 fields (second minute hour day-of-month month day-of-week), found 1"),
        ("0 9 * * 1-5", "a cron expression has 6 fields (second minute hour day-of-month month day-of-week), found 5"),
        ("0 0 0 L * *", "'L': 'L', 'W' and '#' are not supported"),
        ("0 0 0 15W * *", "'15W': 'L', 'W' and '#' are not supported"),
        ("0 0 0 * * MON#2", "'MON#2': 'L', 'W' and '#' are not supported"),
        ("0 0 0 * * 8", "'8' is not a day of the week (0-7)"),
        ("0 0 0 * * FRI-MON", "'FRI-MON': the range runs backwards"),
        ("@fortnightly", "unknown cron macro '@fortnightly'"),
        ("", "the text is empty"),
    ];
    for (text, reason) in cases {
        assert_eq!(
            error(TimerKind::Cycle, text),
            format!("{}{reason}", prefix(text)),
            "{text}"
        );
    }
    for text in [
        "0 0 25 * * *",
        "0 61 * * * *",
        "0 0 0 32 * *",
        "0 0 0 * 13 *",
        "a b c d e f",
    ] {
        let message = error(TimerKind::Cycle, text);
        assert!(message.starts_with(&prefix(text)), "{message}");
    }
}

#[test]
fn a_cycle_first_fires_one_interval_from_now_or_at_its_start() {
    let now = ms("2025-06-01T12:00:00Z");
    let every_minute = TimerSpec::parse_cycle("R/PT1M").unwrap();
    assert_eq!(
        every_minute.first_due(now),
        Some(ms("2025-06-01T12:01:00Z"))
    );
    let future_start = TimerSpec::parse_cycle("R3/2026-01-01T00:00:00Z/PT1H").unwrap();
    assert_eq!(
        future_start.first_due(now),
        Some(ms("2026-01-01T00:00:00Z"))
    );
    let past_start = TimerSpec::parse_cycle("R3/2020-01-01T00:00:00Z/PT1H").unwrap();
    assert_eq!(
        past_start.first_due(now),
        Some(now),
        "a past start fires at once, as in Zeebe"
    );
}

#[test]
fn a_cycle_repeats_its_count_then_stops() {
    // R3: three firings in all. Drive it as the engine does: fire, reschedule, store.
    let mut spec = TimerSpec::parse_cycle("R3/PT10S").unwrap();
    let mut due = spec.first_due(ms("2025-01-01T00:00:00Z")).unwrap();
    let mut fired = vec![at(due)];
    assert_eq!(spec.remaining_fires(), Some(3));
    while let Some((rest, next)) = spec.reschedule(due, due) {
        spec = rest;
        due = next;
        fired.push(at(due));
    }
    assert_eq!(
        fired,
        [
            "2025-01-01T00:00:10Z",
            "2025-01-01T00:00:20Z",
            "2025-01-01T00:00:30Z"
        ]
    );
    assert_eq!(spec, TimerSpec::parse_cycle("R1/PT10S").unwrap());
    assert_eq!(spec.after_fire(), None);

    // R1 fires once; the start is dropped after the first firing
    let once = TimerSpec::parse_cycle("R1/2026-01-01T00:00:00Z/PT1H").unwrap();
    assert_eq!(
        once.reschedule(ms("2026-01-01T00:00:00Z"), ms("2026-01-01T00:00:00Z")),
        None
    );
    let twice = TimerSpec::parse_cycle("R2/2026-01-01T00:00:00Z/PT1H").unwrap();
    let (rest, next) = twice
        .reschedule(ms("2026-01-01T00:00:00Z"), ms("2026-01-01T00:00:01Z"))
        .unwrap();
    assert_eq!(rest, TimerSpec::parse_cycle("R1/PT1H").unwrap());
    assert_eq!(at(next), "2026-01-01T01:00:00Z");

    // infinite stays infinite
    let forever = TimerSpec::parse_cycle("R/PT1H").unwrap();
    assert_eq!(forever.remaining_fires(), None);
    let (rest, _) = forever.reschedule(0, 0).unwrap();
    assert_eq!(rest, forever);
}

#[test]
fn a_late_cycle_is_reanchored_on_now_not_replayed() {
    let spec = TimerSpec::parse_cycle("R/PT10S").unwrap();
    let due = ms("2025-01-01T00:00:00Z");
    // processed on time: one interval after the previous due time
    assert_eq!(spec.next_due(due, due + 3_000), Some(due + 10_000));
    // processed after several intervals were missed: one interval after now (Zeebe's nextOccurrenceAfter)
    assert_eq!(spec.next_due(due, due + 95_000), Some(due + 105_000));
    assert_eq!(
        spec.next_due(due, due + 10_000),
        Some(due + 20_000),
        "exactly on the natural time counts as past"
    );
}

#[test]
fn a_monthly_cycle_steps_from_each_due_time() {
    let spec = TimerSpec::parse_cycle("R/P1M").unwrap();
    let first = spec.first_due(ms("2024-01-31T09:00:00Z")).unwrap();
    assert_eq!(at(first), "2024-02-29T09:00:00Z");
    let second = spec.next_due(first, first).unwrap();
    assert_eq!(
        at(second),
        "2024-03-29T09:00:00Z",
        "deterministic: from the previous due time"
    );
}

// ---------------------------------------------------------------------------------------------
// timeCycle: cron (Spring's format)

fn cron_next(expression: &str, after: &str) -> String {
    let spec = TimerSpec::parse_cycle(expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
    assert!(matches!(spec, TimerSpec::Cron(_)), "{expression}");
    at(spec.first_due(ms(after)).unwrap())
}

#[test]
fn cron_business_hours_cross_days_and_weekends() {
    let expr = "0 0 9-17 * * MON-FRI";
    assert_eq!(
        cron_next(expr, "2025-01-03T10:30:00Z"),
        "2025-01-03T11:00:00Z",
        "Friday, within hours"
    );
    assert_eq!(
        cron_next(expr, "2025-01-03T17:00:00Z"),
        "2025-01-06T09:00:00Z",
        "Friday 17:00 -> Monday 09:00"
    );
    assert_eq!(
        cron_next(expr, "2025-01-03T16:59:59.999Z"),
        "2025-01-03T17:00:00Z"
    );
    assert_eq!(
        cron_next(expr, "2024-12-31T18:00:00Z"),
        "2025-01-01T09:00:00Z",
        "across the year end"
    );
    // numeric days of the week are Spring's: 1 = Monday, 0 and 7 = Sunday
    assert_eq!(
        cron_next("0 0 9-17 * * 1-5", "2025-01-03T17:00:00Z"),
        "2025-01-06T09:00:00Z"
    );
    let monday = ms(&cron_next("0 0 12 * * 1", "2025-01-01T00:00:00Z"));
    assert_eq!(
        DateTime::<Utc>::from_timestamp_millis(monday)
            .unwrap()
            .weekday(),
        Weekday::Mon
    );
    for sunday in [
        "0 0 12 * * 0",
        "0 0 12 * * 7",
        "0 0 12 * * SUN",
        "0 0 12 * * sun",
    ] {
        assert_eq!(
            cron_next(sunday, "2025-01-01T00:00:00Z"),
            "2025-01-05T12:00:00Z",
            "{sunday}"
        );
    }
    assert_eq!(
        cron_next("0 0 12 * * 5-7", "2025-01-01T00:00:00Z"),
        "2025-01-03T12:00:00Z",
        "Fri..Sun"
    );
    assert_eq!(
        cron_next("0 0 12 * * */2", "2025-01-01T00:00:00Z"),
        "2025-01-02T12:00:00Z",
        "Sun, Tue, Thu, Sat"
    );
    assert_eq!(
        cron_next("0 0 12 * * 1/3", "2025-01-01T00:00:00Z"),
        "2025-01-02T12:00:00Z",
        "Mon, Thu, Sun"
    );
    assert_eq!(
        cron_next("0 0 12 ? * WED", "2025-01-02T00:00:00Z"),
        "2025-01-08T12:00:00Z"
    );
    assert_eq!(
        cron_next("0 0 12 * JUL *", "2025-01-02T00:00:00Z"),
        "2025-07-01T12:00:00Z",
        "month names are fine"
    );
}

#[test]
fn cron_fields_and_macros() {
    let after = "2025-01-01T10:20:30Z";
    assert_eq!(cron_next("*/15 * * * * *", after), "2025-01-01T10:20:45Z");
    assert_eq!(cron_next("0 */5 * * * *", after), "2025-01-01T10:25:00Z");
    assert_eq!(cron_next("@hourly", after), "2025-01-01T11:00:00Z");
    assert_eq!(cron_next("@daily", after), "2025-01-02T00:00:00Z");
    assert_eq!(cron_next("@midnight", after), "2025-01-02T00:00:00Z");
    assert_eq!(
        cron_next("@weekly", after),
        "2025-01-05T00:00:00Z",
        "Sunday, as in Spring"
    );
    assert_eq!(cron_next("@monthly", after), "2025-02-01T00:00:00Z");
    assert_eq!(cron_next("@yearly", after), "2026-01-01T00:00:00Z");
    assert_eq!(cron_next("@annually", after), "2026-01-01T00:00:00Z");
    assert_eq!(
        cron_next("0 0 0 29 2 *", "2025-03-01T00:00:00Z"),
        "2028-02-29T00:00:00Z",
        "the next leap day"
    );
    assert_eq!(
        cron_next("0 0 0 31 * *", "2025-04-01T00:00:00Z"),
        "2025-05-31T00:00:00Z",
        "April has no 31st"
    );
    assert_eq!(
        cron_next("0   0  12  *  *  *", after),
        "2025-01-01T12:00:00Z",
        "extra spaces"
    );
    // strictly after: a firing exactly at `now` is not due again
    assert_eq!(
        cron_next("0 0 12 * * *", "2025-01-01T12:00:00Z"),
        "2025-01-02T12:00:00Z"
    );
}

#[test]
fn a_cron_timer_repeats_forever_from_its_last_due_time_or_now() {
    let spec = TimerSpec::parse_cycle("0 0 * * * *").unwrap();
    assert_eq!(spec.remaining_fires(), None);
    let due = ms("2025-01-01T10:00:00Z");
    let (rest, next) = spec.reschedule(due, due + 5).unwrap();
    assert_eq!(rest, spec);
    assert_eq!(at(next), "2025-01-01T11:00:00Z");
    // processed hours late: the next match after now, no burst of missed firings
    assert_eq!(
        at(spec.next_due(due, ms("2025-01-01T13:30:00Z")).unwrap()),
        "2025-01-01T14:00:00Z"
    );
}

// ---------------------------------------------------------------------------------------------
// Persistence: plain data, re-parsable text, serde

#[test]
fn specs_survive_their_text_and_serde() {
    let specs = [
        (TimerKind::Duration, "PT10S"),
        (TimerKind::Duration, "P1Y2M3DT4H5M6.5S"),
        (TimerKind::Duration, "P14M"),
        (TimerKind::Duration, "PT0S"),
        (TimerKind::Duration, "P2W"),
        (TimerKind::Date, "2019-10-02T08:09:40+02:00[Europe/Berlin]"),
        (TimerKind::Date, "2019-10-01T12:00:00.5Z"),
        (TimerKind::Cycle, "R5/PT10S"),
        (TimerKind::Cycle, "R/PT1M"),
        (TimerKind::Cycle, "R3/2026-01-01T00:00:00Z/PT1H"),
        (TimerKind::Cycle, "0 0 9-17 * * MON-FRI"),
        (TimerKind::Cycle, "@hourly"),
    ];
    for (kind, text) in specs {
        let spec = TimerSpec::parse(kind, text).unwrap();
        assert_eq!(spec.kind(), kind, "{text}");
        let again = TimerSpec::parse(spec.kind(), &spec.to_string()).unwrap();
        assert_eq!(again, spec, "{text} -> {spec}");
        let stored = serde_json::to_string(&spec).unwrap();
        let back: TimerSpec = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, spec, "{stored}");
        assert_eq!(back.first_due(0), spec.first_due(0), "{stored}");
    }
    assert_eq!(
        TimerSpec::parse_duration("P1Y2M3DT4H5M6.5S")
            .unwrap()
            .to_string(),
        "P1Y2M3DT4H5M6.5S"
    );
    assert_eq!(
        TimerSpec::parse_duration("P14M").unwrap().to_string(),
        "P1Y2M"
    );
    assert_eq!(
        TimerSpec::parse_date("2019-10-02T08:09:40+02:00")
            .unwrap()
            .to_string(),
        "2019-10-02T06:09:40Z"
    );
    assert_eq!(
        TimerSpec::parse_cycle("R3/2026-01-01T00:00:00Z/PT1H")
            .unwrap()
            .to_string(),
        "R3/2026-01-01T00:00:00Z/PT1H"
    );
    assert!(serde_json::from_str::<TimerSpec>(r#"{"Cron":"not a cron"}"#).is_err());
}

// ---------------------------------------------------------------------------------------------
// Timer values from FEEL

#[test]
fn timers_from_feel_values() {
    let vars: Map<String, Json> =
        serde_json::from_value(json!({"n": 7, "when": "2026-05-01T10:00:00Z"})).unwrap();
    let feel = |source: &str| {
        Expression::parse(source)
            .unwrap()
            .evaluate(&WithClock {
                vars: &vars,
                now_ms: ms("2026-01-01T00:00:00Z"),
            })
            .unwrap()
    };

    let spec = TimerSpec::from_feel_value(
        TimerKind::Duration,
        &feel(r#"duration("PT" + string(n) + "S")"#),
    )
    .unwrap();
    assert_eq!(spec, TimerSpec::Duration(duration("PT7S")));
    let spec = TimerSpec::from_feel_value(TimerKind::Duration, &feel(r#""PT5S""#)).unwrap();
    assert_eq!(spec, TimerSpec::Duration(duration("PT5S")));
    let spec =
        TimerSpec::from_feel_value(TimerKind::Duration, &feel(r#"duration("P1DT2H")"#)).unwrap();
    assert_eq!(spec.first_due(0), Some(26 * 3_600_000));
    let spec =
        TimerSpec::from_feel_value(TimerKind::Duration, &feel(r#"duration("P1M")"#)).unwrap();
    assert_eq!(spec, TimerSpec::Duration(duration("P1M")));

    let spec =
        TimerSpec::from_feel_value(TimerKind::Date, &feel(r#"now() + duration("PT1H")"#)).unwrap();
    assert_eq!(spec, TimerSpec::Date(ms("2026-01-01T01:00:00Z")));
    let spec = TimerSpec::from_feel_value(TimerKind::Date, &feel("date and time(when)")).unwrap();
    assert_eq!(spec, TimerSpec::Date(ms("2026-05-01T10:00:00Z")));
    let spec = TimerSpec::from_feel_value(
        TimerKind::Date,
        &feel(r#"date and time("2026-05-01T10:00:00@Europe/Berlin")"#),
    )
    .unwrap();
    assert_eq!(spec, TimerSpec::Date(ms("2026-05-01T08:00:00Z")));
    let spec = TimerSpec::from_feel_value(
        TimerKind::Date,
        &feel(r#"date and time("2026-05-01T10:00:00")"#),
    )
    .unwrap();
    assert_eq!(
        spec,
        TimerSpec::Date(ms("2026-05-01T10:00:00Z")),
        "a FEEL local date-time is taken as UTC"
    );

    let spec = TimerSpec::from_feel_value(TimerKind::Cycle, &feel(r#""R" + string(n) + "/PT1M""#))
        .unwrap();
    assert_eq!(spec.remaining_fires(), Some(7));

    assert_eq!(
        TimerSpec::from_feel_value(TimerKind::Duration, &json!(5))
            .unwrap_err()
            .to_string(),
        "Expected the timer duration expression to give a duration or a string, but it gave '5'"
    );
    assert_eq!(
        TimerSpec::from_feel_value(TimerKind::Date, &feel("missing"))
            .unwrap_err()
            .to_string(),
        "Expected the timer date expression to give a date or a string, but it gave null"
    );
    assert_eq!(
        TimerSpec::from_feel_value(TimerKind::Duration, &json!("soon")).unwrap_err().to_string(),
        "Expected a timer duration like 'PT10S' or 'P1DT2H', but found 'soon': a duration starts with 'P'"
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

fn arb_duration() -> impl Strategy<Value = IsoDuration> {
    (0u32..2000, 0u32..5000, 0u64..10_000_000_000).prop_map(|(months, days, millis)| IsoDuration {
        months,
        days,
        millis,
    })
}

proptest! {
    #[test]
    fn durations_print_and_parse_back(d in arb_duration()) {
        let text = d.to_string();
        prop_assert_eq!(IsoDuration::parse(&text), Ok(d), "{}", text);
    }

    #[test]
    fn durations_move_forward(d in arb_duration(), now in 0i64..4_000_000_000_000) {
        let due = d.add_to(now).unwrap();
        prop_assert!(due >= now);
        if d.months == 0 && d.days == 0 {
            prop_assert_eq!(due, now + d.millis as i64);
        } else {
            // days and the time are exact in UTC; months add 28 to 31 days each
            let fixed = i64::from(d.days) * 86_400_000 + d.millis as i64;
            let months = i64::from(d.months);
            prop_assert!(due - now >= fixed + months * 28 * 86_400_000 - 3 * 86_400_000);
            prop_assert!(due - now <= fixed + months * 31 * 86_400_000);
        }
    }

    #[test]
    fn cron_fires_strictly_later_and_in_order(
        second in 0u32..60, minute in 0u32..60, hour in 0u32..24, dow in 0u32..8, now in 0i64..4_000_000_000_000
    ) {
        let spec = TimerSpec::parse_cycle(&format!("{second} {minute} {hour} * * {dow}")).unwrap();
        let first = spec.first_due(now).unwrap();
        prop_assert!(first > now);
        prop_assert!(first - now <= 7 * 86_400_000);
        let next = spec.next_due(first, first).unwrap();
        prop_assert_eq!(next - first, 7 * 86_400_000, "weekly in UTC");
        let fired = DateTime::<Utc>::from_timestamp_millis(first).unwrap();
        prop_assert_eq!(fired.weekday().num_days_from_sunday(), dow % 7);
        prop_assert_eq!((fired.timestamp() % 86_400) as u32, hour * 3600 + minute * 60 + second);
    }

    #[test]
    fn cycle_text_survives(reps in proptest::option::of(1u32..1000), d in arb_duration(), start in proptest::option::of(0i64..4_000_000_000_000)) {
        prop_assume!(!d.is_zero());
        let spec = TimerSpec::Cycle { repetitions: reps, start, interval: d };
        prop_assert_eq!(TimerSpec::parse(spec.kind(), &spec.to_string()), Ok(spec.clone()));
    }

    #[test]
    fn timer_parsers_never_panic(text in "\\PC{0,30}", kind in prop_oneof![Just(TimerKind::Duration), Just(TimerKind::Date), Just(TimerKind::Cycle)]) {
        if let Ok(spec) = TimerSpec::parse(kind, &text) {
            let _ = spec.first_due(0);
            let _ = spec.reschedule(0, 0);
        }
    }
}

#[test]
fn a_non_ascii_offset_is_an_error_not_a_panic() {
    // Found by the property test: "t+𝚨" has a 4-byte offset part that is one character.
    assert!(
        apsis_bpmn::timer::TimerSpec::parse(apsis_bpmn::timer::TimerKind::Date, "t+𝚨").is_err()
    );
    assert!(apsis_bpmn::timer::TimerSpec::parse(
        apsis_bpmn::timer::TimerKind::Date,
        "2026-01-01T00:00:00+é1"
    )
    .is_err());
}
