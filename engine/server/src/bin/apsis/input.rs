//! What a person types into the client commands, parsed before anything is sent: durations (`30s`, `5m`, `1h`,
//! `250ms` or plain milliseconds) and variables (`--vars JSON`, `--vars @file`, `--vars @-` for stdin). Every error
//! names the option and what was wrong with it, so a typo never reaches the gateway.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

/// Parses `30s`, `5m`, `1h`, `250ms`, `1m30s` or a plain number of milliseconds (a clap value parser).
pub fn duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "expected a duration like 30s, 5m, 1h, 250ms or a number of milliseconds, but found '{text}'"
        )
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
            "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        total = total.checked_add(unit).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Milliseconds as the gateway's `int64` fields want them.
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A duration the way this CLI accepts it back (`1h`, `90s`, `250ms`).
pub fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".to_owned()
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The text of `--vars`: a JSON object inline, `@path` for a file, `@-` for standard input. Returns the JSON text
/// to send (the empty string when the option is absent, which the gateway reads as no variables).
pub fn variables(option: &str, value: Option<&str>) -> Result<String, String> {
    let Some(value) = value else {
        return Ok(String::new());
    };
    let (text, origin) = match value.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                format!("Expected to read {option} from standard input, but it failed: {e}")
            })?;
            (text, "standard input".to_owned())
        }
        Some(path) => (
            read_file(option, Path::new(path))?,
            format!("the file '{path}'"),
        ),
        None => (value.to_owned(), "it".to_owned()),
    };
    check_object(option, &text, &origin)?;
    Ok(text)
}

/// Reads a file an option or argument names; the error names the file.
pub fn read_file(what: &str, path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| read_file_error(what, path, &e))
}

/// "Expected to read {what} from the file '{path}', but it does not exist".
pub fn read_file_error(what: &str, path: &Path, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission was denied".to_owned(),
        std::io::ErrorKind::InvalidData => "it is not UTF-8 text".to_owned(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_owned(),
        _ => e.to_string(),
    };
    format!(
        "Expected to read {what} from the file '{}', but {why}",
        path.display()
    )
}

/// The gateway takes variables only as a JSON object; say so here, with the position of a syntax error.
fn check_object(option: &str, text: &str, origin: &str) -> Result<(), String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(other) => Err(format!(
            "Expected {option} to be a JSON object like {{\"orderId\": \"o-1\"}}, but {origin} is {}",
            kind(&other)
        )),
        Err(e) => Err(format!(
            "Expected {option} to be a JSON object, but {origin} is not valid JSON: {} at line {}, column {}",
            syntax(&e),
            e.line(),
            e.column()
        )),
    }
}

/// serde_json's message without its own " at line L column C" suffix (the position is given separately).
fn syntax(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_owned(),
        None => full,
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_friendly_units_or_milliseconds() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("1500"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        for bad in ["", "s", "10x", "1.5s", "-1s", "5 m", "m5"] {
            let e = duration(bad).unwrap_err();
            assert!(e.contains("expected a duration like 30s"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_shown_as_accepted() {
        for text in ["1h", "5m", "90s", "250ms", "0s"] {
            assert_eq!(show(duration(text).unwrap()), text);
        }
        assert_eq!(millis(Duration::from_secs(2)), 2000);
    }

    #[test]
    fn variables_must_be_a_json_object() {
        assert_eq!(variables("--vars", None).unwrap(), "");
        assert_eq!(
            variables("--vars", Some(r#"{"a": 1}"#)).unwrap(),
            r#"{"a": 1}"#
        );
        let e = variables("--vars", Some(r#"{"a" 1}"#)).unwrap_err();
        assert_eq!(
            e,
            "Expected --vars to be a JSON object, but it is not valid JSON: expected `:` at line 1, column 6"
        );
        let e = variables("--vars", Some("[1]")).unwrap_err();
        assert!(e.ends_with("but it is an array"), "{e}");
    }

    #[test]
    fn variables_from_a_file_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vars.json");
        std::fs::write(&path, "{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap();
        let arg = format!("@{}", path.display());
        let e = variables("--vars", Some(&arg)).unwrap_err();
        assert!(e.contains(&format!("the file '{}'", path.display())), "{e}");
        assert!(e.ends_with("expected `:` at line 3, column 7"), "{e}");
        let missing = format!("@{}", dir.path().join("nope.json").display());
        let e = variables("--vars", Some(&missing)).unwrap_err();
        assert!(
            e.contains("nope.json") && e.ends_with("it does not exist"),
            "{e}"
        );
    }
}
