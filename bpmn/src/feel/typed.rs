//! Typed evaluations with Zeebe's failure wording (camunda/camunda `ExpressionProcessor`).

use super::{convert, Expression, FeelError, Raw, Warning};
use chrono::{DateTime, Datelike, Timelike};
use dsntk_feel::values::Value;
use dsntk_feel_temporal::{FeelDate, FeelDateTime};
use serde_json::Value as Json;
use std::fmt;

/// The type of a result, named as Zeebe names them in its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultType {
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
    DateTime,
    /// A days-and-time duration.
    Duration,
    /// A years-and-months duration.
    Period,
    /// Anything else: date, time, range, function.
    Unknown,
}

impl fmt::Display for ResultType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResultType::Null => "NULL",
            ResultType::Boolean => "BOOLEAN",
            ResultType::Number => "NUMBER",
            ResultType::String => "STRING",
            ResultType::Array => "ARRAY",
            ResultType::Object => "OBJECT",
            ResultType::DateTime => "DATE_TIME",
            ResultType::Duration => "DURATION",
            ResultType::Period => "PERIOD",
            ResultType::Unknown => "UNKNOWN",
        })
    }
}

pub(crate) fn result_type(raw: &Raw) -> ResultType {
    match raw {
        Raw::Json(json) => match json {
            Json::Null => ResultType::Null,
            Json::Bool(_) => ResultType::Boolean,
            Json::Number(_) => ResultType::Number,
            Json::String(_) => ResultType::String,
            Json::Array(_) => ResultType::Array,
            Json::Object(_) => ResultType::Object,
        },
        Raw::Feel(value) => match value {
            Value::Null(_) => ResultType::Null,
            Value::Boolean(_) => ResultType::Boolean,
            Value::Number(_) => ResultType::Number,
            Value::String(_) => ResultType::String,
            Value::List(_) => ResultType::Array,
            Value::Context(_) => ResultType::Object,
            Value::DateTime(_) => ResultType::DateTime,
            Value::DaysAndTimeDuration(_) => ResultType::Duration,
            Value::YearsAndMonthsDuration(_) => ResultType::Period,
            _ => ResultType::Unknown,
        },
    }
}

/// `now()` and `today()` for the engine's time, in UTC.
pub(crate) fn clock_values(now_ms: i64) -> Option<(Value, Value)> {
    let now = DateTime::from_timestamp_millis(now_ms)?;
    let nanos = u64::from(now.nanosecond() % 1_000_000_000);
    let (h, m, s) = (now.hour() as u8, now.minute() as u8, now.second() as u8);
    let date_time = FeelDateTime::utc(now.year(), now.month(), now.day(), h, m, s, nanos)?;
    let date = FeelDate::new(now.year(), now.month(), now.day())?;
    Some((Value::DateTime(date_time), Value::Date(date)))
}

/// Appends Zeebe's " The evaluation reported the following warnings:\n[...] ..." when there are any.
fn with_warnings(mut message: String, warnings: &[Warning]) -> String {
    if !warnings.is_empty() {
        message.push_str(" The evaluation reported the following warnings:");
        for warning in warnings {
            message.push('\n');
            message.push_str(&warning.to_string());
        }
    }
    message
}

impl Expression {
    fn unexpected(&self, actual: ResultType, message: String, warnings: &[Warning]) -> FeelError {
        FeelError::UnexpectedResult {
            expression: self.source().to_owned(),
            actual,
            message: with_warnings(message, warnings),
        }
    }

    fn type_error(
        &self,
        expected: ResultType,
        actual: ResultType,
        warnings: &[Warning],
    ) -> FeelError {
        let message = format!(
            "Expected result of the expression '{}' to be '{expected}', but was '{actual}'.",
            self.source()
        );
        self.unexpected(actual, message, warnings)
    }

    /// A condition (sequence flow, completion condition): the result must be a boolean.
    pub fn evaluate_bool(&self, vars: &dyn super::VariableSource) -> Result<bool, FeelError> {
        let (raw, warnings) = self.run(vars)?;
        match raw {
            Raw::Json(Json::Bool(b)) | Raw::Feel(Value::Boolean(b)) => Ok(b),
            other => Err(self.type_error(ResultType::Boolean, result_type(&other), &warnings)),
        }
    }

    /// The result must be a string (job type, message name, error code, ...).
    pub fn evaluate_string(&self, vars: &dyn super::VariableSource) -> Result<String, FeelError> {
        let (raw, warnings) = self.run(vars)?;
        match raw {
            Raw::Json(Json::String(s)) | Raw::Feel(Value::String(s)) => Ok(s),
            other => Err(self.type_error(ResultType::String, result_type(&other), &warnings)),
        }
    }

    /// The result must be a whole number that fits i64 (job retries). A decimal fails with Zeebe's
    /// "to be an integer, but was a decimal." (Zeebe's `evaluateIntegerExpression`).
    pub fn evaluate_i64(&self, vars: &dyn super::VariableSource) -> Result<i64, FeelError> {
        let (raw, warnings) = self.run(vars)?;
        let number = match &raw {
            Raw::Json(Json::Number(n)) => n.clone(),
            Raw::Feel(Value::Number(n)) => match convert::number_to_json(n) {
                Some(n) => n,
                None => return Err(self.out_of_range(&n.to_string(), &warnings)),
            },
            other => {
                return Err(self.type_error(ResultType::Number, result_type(other), &warnings))
            }
        };
        if let Some(i) = number.as_i64() {
            return Ok(i);
        }
        match number.as_f64() {
            // a whole float such as 3.0 from the variables (FEEL results are already integers)
            Some(f)
                if f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) =>
            {
                Ok(f as i64)
            }
            Some(f) if f.fract() != 0.0 => {
                let message = format!(
                    "Expected result of the expression '{}' to be an integer, but was a decimal.",
                    self.source()
                );
                Err(self.unexpected(ResultType::Number, message, &warnings))
            }
            _ => Err(self.out_of_range(&number.to_string(), &warnings)),
        }
    }

    fn out_of_range(&self, number: &str, warnings: &[Warning]) -> FeelError {
        let message = format!(
            "Expected result of the expression '{}' to be an integer between {} and {}, but was {number}.",
            self.source(),
            i64::MIN,
            i64::MAX
        );
        self.unexpected(ResultType::Number, message, warnings)
    }

    /// The result must be a list (multi-instance `inputCollection`); items as JSON.
    pub fn evaluate_list(&self, vars: &dyn super::VariableSource) -> Result<Vec<Json>, FeelError> {
        let (raw, mut warnings) = self.run(vars)?;
        match raw {
            Raw::Json(Json::Array(items)) => Ok(items),
            Raw::Feel(Value::List(items)) => Ok(items
                .iter()
                .map(|v| convert::feel_to_json_warn(v, &mut warnings))
                .collect()),
            other => Err(self.type_error(ResultType::Array, result_type(&other), &warnings)),
        }
    }

    /// The result must be a list of strings (candidate groups and users).
    pub fn evaluate_list_of_strings(
        &self,
        vars: &dyn super::VariableSource,
    ) -> Result<Vec<String>, FeelError> {
        let items = self.evaluate_list(vars)?;
        let count = items.len();
        let strings: Vec<String> = items
            .into_iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect();
        if strings.len() == count {
            return Ok(strings);
        }
        let message = format!(
            "Expected result of the expression '{}' to be 'ARRAY' containing 'STRING' items, but was 'ARRAY' \
             containing at least one non-'STRING' item.",
            self.source()
        );
        Err(self.unexpected(ResultType::Array, message, &[]))
    }

    /// The result must be a context (variable mappings); as a JSON object.
    pub fn evaluate_object(
        &self,
        vars: &dyn super::VariableSource,
    ) -> Result<serde_json::Map<String, Json>, FeelError> {
        let (raw, mut warnings) = self.run(vars)?;
        match raw {
            Raw::Json(Json::Object(map)) => Ok(map),
            Raw::Feel(value @ Value::Context(_)) => {
                match convert::feel_to_json_warn(&value, &mut warnings) {
                    Json::Object(map) => Ok(map),
                    _ => unreachable!("a FEEL context converts to a JSON object"),
                }
            }
            other => Err(self.type_error(ResultType::Object, result_type(&other), &warnings)),
        }
    }

    /// A message correlation key: a string, or a number written as its whole part (Zeebe's
    /// `Long.toString(number.longValue())`).
    pub fn evaluate_correlation_key(
        &self,
        vars: &dyn super::VariableSource,
    ) -> Result<String, FeelError> {
        let (raw, warnings) = self.run(vars)?;
        let number = match &raw {
            Raw::Json(Json::String(s)) | Raw::Feel(Value::String(s)) => return Ok(s.clone()),
            Raw::Json(Json::Number(n)) => Some(n.clone()),
            Raw::Feel(Value::Number(n)) => convert::number_to_json(&n.trunc()),
            _ => None,
        };
        if let Some(n) = number {
            if let Some(i) = n.as_i64() {
                return Ok(i.to_string());
            }
            if let Some(u) = n.as_u64() {
                return Ok(u.to_string());
            }
            if let Some(f) = n.as_f64() {
                return Ok(format!("{}", f.trunc()));
            }
        }
        let message = format!(
            "Failed to extract the correlation key for '{}': The value must be either a string or a number, but was '{}'.",
            self.source(),
            result_type(&raw)
        );
        Err(self.unexpected(result_type(&raw), message, &warnings))
    }
}
