//! What Apsis adds to dsntk's evaluation so that it gives feel-scala's results: feel-scala's
//! equality, and Camunda's extension functions that dsntk lacks. Each is a FEEL function value
//! (a [`Value::FunctionDefinition`] whose body is Rust) bound under a reserved name in the
//! evaluation context; the parser's output calls them because [`super::syntax::rewrite_calls`]
//! renames the calls. dsntk evaluates everything else, arguments included.
//!
//! Equality follows feel-scala's `ValComparator`: `null` equals only `null` (`x = "a"` is `false`
//! when `x` is missing or null, where dsntk gives `null` when the `null` is on the left); lists are
//! equal when they have the same size and each pair of items is equal; contexts when they have the
//! same keys and each pair of values is equal (an item or value that cannot be compared makes them
//! not equal); values of the same other type compare as dsntk compares them; values of two
//! different types give `null` ("Can't compare"). `a != b` is `not(a = b)`.

use dsntk_feel::closure::Closure;
use dsntk_feel::context::FeelContext;
use dsntk_feel::values::Value;
use dsntk_feel::{Evaluator, FeelNumber, FeelScope, FeelType, FunctionBody, Name};
use dsntk_feel_temporal::FeelDate;
use std::cell::RefCell;
use std::sync::Arc;

/// A function bound in the evaluation context: the name the rewritten call uses, its parameters
/// (feel-scala's names, so named arguments work) and its body over the arguments in that order.
pub(crate) struct Function {
    /// The name a FEEL source calls it by (`None`: only reached by rewriting an operator).
    pub public: Option<&'static str>,
    /// Starts with a control character, so no FEEL source can name it.
    pub reserved: &'static str,
    pub params: &'static [&'static str],
    body: fn(&[Value]) -> Value,
}

macro_rules! function {
    ($public:expr, $reserved:expr, [$($param:expr),*], $body:expr) => {
        Function { public: $public, reserved: $reserved, params: &[$($param),*], body: $body }
    };
}

pub(crate) const EQ: &str = "\u{1}=";
pub(crate) const NE: &str = "\u{1}!=";

/// Every function Apsis binds. A public name may appear more than once (one entry per arity or
/// parameter names); the first whose parameters fit the call is taken.
pub(crate) static FUNCTIONS: &[Function] = &[
    function!(None, EQ, ["\u{1}x", "\u{1}y"], |a| equal_value(
        &a[0], &a[1], false
    )),
    function!(None, NE, ["\u{1}x", "\u{1}y"], |a| equal_value(
        &a[0], &a[1], true
    )),
    function!(Some("is defined"), "\u{1}is defined", ["value"], is_defined),
    function!(
        Some("get or else"),
        "\u{1}get or else",
        ["value", "default"],
        get_or_else
    ),
    function!(
        Some("assert"),
        "\u{1}assert",
        ["value", "condition"],
        assert2
    ),
    function!(
        Some("assert"),
        "\u{1}assert3",
        ["value", "condition", "cause"],
        assert3
    ),
    function!(Some("is empty"), "\u{1}is empty", ["list"], is_empty),
    function!(Some("is blank"), "\u{1}is blank", ["string"], is_blank),
    function!(Some("trim"), "\u{1}trim", ["string"], trim),
    function!(Some("to base64"), "\u{1}to base64", ["value"], to_base64),
    function!(
        Some("duplicate values"),
        "\u{1}duplicate values",
        ["list"],
        duplicate_values
    ),
    function!(
        Some("partition"),
        "\u{1}partition",
        ["list", "size"],
        partition
    ),
    function!(Some("string join"), "\u{1}string join1", ["list"], |a| {
        string_join(&a[0], &Value::Null(None), &[])
    }),
    function!(
        Some("string join"),
        "\u{1}string join2",
        ["list", "delimiter"],
        |a| string_join(&a[0], &a[1], &[])
    ),
    function!(
        Some("string join"),
        "\u{1}string join4",
        ["list", "delimiter", "prefix", "suffix"],
        |a| { string_join(&a[0], &a[1], &a[2..]) }
    ),
    function!(
        Some("get value"),
        "\u{1}get value",
        ["context", "key"],
        get_value
    ),
    function!(
        Some("get value"),
        "\u{1}get value path",
        ["context", "keys"],
        get_value
    ),
    function!(
        Some("last day of month"),
        "\u{1}last day of month",
        ["date"],
        last_day_of_month
    ),
];

/// Camunda's extension functions Apsis refuses at parse time, with the reason.
pub(crate) const REJECTED: &[(&str, &str)] = &[
    (
        "random number",
        "which gives a different result each time, while Apsis must give the same result when it \
         replays the log",
    ),
    (
        "uuid",
        "which gives a different result each time, while Apsis must give the same result when it \
         replays the log",
    ),
    (
        "extract",
        "a Camunda extension Apsis does not implement yet (it needs a regular-expression engine)",
    ),
];

impl Function {
    /// The FEEL function value to bind under [`Function::reserved`].
    pub(crate) fn value(&self) -> Value {
        let names: Vec<Name> = self.params.iter().map(|p| Name::from(*p)).collect();
        let body = self.body;
        let evaluator: Evaluator = Box::new(move |scope: &FeelScope| {
            let args: Vec<Value> = names
                .iter()
                .map(|name| scope.get_value(name).unwrap_or(Value::Null(None)))
                .collect();
            body(&args)
        });
        Value::FunctionDefinition(
            self.params
                .iter()
                .map(|p| (Name::from(*p), FeelType::Any))
                .collect(),
            FunctionBody::LiteralExpression(Arc::new(evaluator)),
            false,
            Closure::default(),
            FeelContext::default(),
            FeelType::Any,
        )
    }
}

fn null(reason: String) -> Value {
    Value::Null(Some(reason))
}

// ---------------------------------------------------------------------------------------------
// Equality

/// feel-scala's equality; `None` when the two values cannot be compared.
pub(crate) fn feel_equal(x: &Value, y: &Value) -> Option<bool> {
    use Value as V;
    match (x, y) {
        (V::Null(_), y) => Some(matches!(y, V::Null(_))),
        (_, V::Null(_)) => Some(false),
        (V::List(xs), V::List(ys)) => Some(
            xs.len() == ys.len()
                && xs
                    .iter()
                    .zip(ys.iter())
                    .all(|(x, y)| feel_equal(x, y) == Some(true)),
        ),
        (V::Context(xs), V::Context(ys)) => Some(
            xs.len() == ys.len()
                && xs.iter().all(|(key, x)| {
                    ys.get_entry(key)
                        .is_some_and(|y| feel_equal(x, y) == Some(true))
                }),
        ),
        (V::Boolean(_), V::Boolean(_))
        | (V::Number(_), V::Number(_))
        | (V::String(_), V::String(_))
        | (V::Date(_), V::Date(_))
        | (V::Time(_), V::Time(_))
        | (V::DateTime(_), V::DateTime(_))
        | (V::DaysAndTimeDuration(_), V::DaysAndTimeDuration(_))
        | (V::YearsAndMonthsDuration(_), V::YearsAndMonthsDuration(_)) => {
            Some(dsntk_feel_evaluator::evaluate_equals(x, y))
        }
        _ => None,
    }
}

fn equal_value(x: &Value, y: &Value, negate: bool) -> Value {
    match feel_equal(x, y) {
        Some(equal) => Value::Boolean(equal != negate),
        None => null(format!("Can't compare '{x}' with '{y}'")),
    }
}

// ---------------------------------------------------------------------------------------------
// Boolean functions

/// feel-scala 1.17+ (Zeebe 8.3+): `false` for `null`, whether the variable or entry is missing or
/// holds `null` (camunda/feel-scala#695, #712).
fn is_defined(args: &[Value]) -> Value {
    Value::Boolean(!matches!(args[0], Value::Null(_)))
}

fn get_or_else(args: &[Value]) -> Value {
    match &args[0] {
        Value::Null(_) => args[1].clone(),
        value => value.clone(),
    }
}

thread_local! {
    /// The cause of the first failed `assert` of the evaluation running on this thread (dsntk
    /// evaluates on the calling thread, and an evaluation cannot fail any other way than with a
    /// `null`, which a surrounding expression could swallow).
    static ASSERT_FAILURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Takes (and clears) the cause of the last evaluation's failed `assert`, if any.
pub(crate) fn take_assert_failure() -> Option<String> {
    ASSERT_FAILURE.with(|cell| cell.borrow_mut().take())
}

fn fail_assert(cause: String) -> Value {
    ASSERT_FAILURE.with(|cell| {
        cell.borrow_mut().get_or_insert(cause.clone());
    });
    null(cause)
}

fn assert2(args: &[Value]) -> Value {
    match &args[1] {
        Value::Boolean(true) => args[0].clone(),
        _ => fail_assert("The condition is not fulfilled".to_owned()),
    }
}

fn assert3(args: &[Value]) -> Value {
    match (&args[1], &args[2]) {
        (Value::Boolean(true), _) => args[0].clone(),
        (_, Value::String(cause)) => fail_assert(cause.clone()),
        (_, other) => null(format!(
            "assert: expected the cause to be a string, but found '{other}'"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// String functions

fn with_string(value: &Value, function: &str, f: impl FnOnce(&str) -> Value) -> Value {
    match value {
        Value::String(s) => f(s),
        other => null(format!(
            "{function}: expected a string, but found '{other}'"
        )),
    }
}

/// Java's `String.isBlank`: empty or only white space.
fn is_blank(args: &[Value]) -> Value {
    with_string(&args[0], "is blank", |s| {
        Value::Boolean(s.chars().all(char::is_whitespace))
    })
}

/// Java's `String.trim`: removes the characters up to U+0020 at both ends.
fn trim(args: &[Value]) -> Value {
    with_string(&args[0], "trim", |s| {
        Value::String(s.trim_matches(|c| c <= ' ').to_owned())
    })
}

/// The standard Base64 alphabet with padding, of the string's UTF-8 bytes.
fn to_base64(args: &[Value]) -> Value {
    with_string(&args[0], "to base64", |s| {
        Value::String(base64(s.as_bytes()))
    })
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// feel-scala's `string join`: `null` items are left out; a `null` delimiter, prefix or suffix
/// is empty; anything but strings and `null`s in the list gives `null`.
fn string_join(list: &Value, delimiter: &Value, affixes: &[Value]) -> Value {
    let Value::List(items) = list else {
        return null(format!("string join: expected a list, but found '{list}'"));
    };
    let text = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Null(_) => Some(String::new()),
        _ => None,
    };
    let mut strings = Vec::with_capacity(items.len());
    for item in items.iter() {
        match item {
            Value::String(s) => strings.push(s.as_str()),
            Value::Null(_) => {}
            other => {
                return null(format!(
                    "string join: expected a list of strings, but found '{other}'"
                ))
            }
        }
    }
    let (Some(delimiter), Some(prefix), Some(suffix)) = (
        text(delimiter),
        affixes.first().map_or(Some(String::new()), text),
        affixes.get(1).map_or(Some(String::new()), text),
    ) else {
        return null("string join: expected the delimiter, prefix and suffix to be strings".into());
    };
    Value::String(format!("{prefix}{}{suffix}", strings.join(&delimiter)))
}

// ---------------------------------------------------------------------------------------------
// List functions

fn with_list(value: &Value, function: &str, f: impl FnOnce(&[Value]) -> Value) -> Value {
    match value {
        Value::List(items) => f(items.as_slice()),
        other => null(format!("{function}: expected a list, but found '{other}'")),
    }
}

fn is_empty(args: &[Value]) -> Value {
    with_list(&args[0], "is empty", |items| {
        Value::Boolean(items.is_empty())
    })
}

/// The values that occur more than once, each once, in the order of their first occurrence.
fn duplicate_values(args: &[Value]) -> Value {
    with_list(&args[0], "duplicate values", |items| {
        let same = |x: &Value, y: &Value| feel_equal(x, y) == Some(true);
        let mut duplicates: Vec<Value> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let repeated = items[i + 1..].iter().any(|other| same(item, other));
            if repeated && !duplicates.iter().any(|d| same(d, item)) {
                duplicates.push(item.clone());
            }
        }
        Value::List(duplicates)
    })
}

/// Consecutive sublists of `size` items (the last may be shorter); `null` for a size below 1.
fn partition(args: &[Value]) -> Value {
    with_list(&args[0], "partition", |items| {
        let size = match &args[1] {
            Value::Number(n) => number_to_usize(n),
            _ => None,
        };
        match size {
            Some(size) if size > 0 => Value::List(
                items
                    .chunks(size)
                    .map(|chunk| Value::List(chunk.to_vec()))
                    .collect(),
            ),
            _ => null(format!(
                "partition: expected the size to be a number above 0, but found '{}'",
                args[1]
            )),
        }
    })
}

fn number_to_usize(n: &FeelNumber) -> Option<usize> {
    usize::try_from(i64::try_from(&n.trunc()).ok()?).ok()
}

// ---------------------------------------------------------------------------------------------
// Context and temporal functions

/// `get value(context, key)` and Camunda's `get value(context, keys)`, the value at a path.
fn get_value(args: &[Value]) -> Value {
    if !matches!(args[0], Value::Context(_)) {
        return null(format!(
            "get value: expected a context, but found '{}'",
            args[0]
        ));
    }
    let keys: Vec<&str> = match &args[1] {
        Value::String(key) => vec![key.as_str()],
        Value::List(keys) if !keys.is_empty() => {
            let keys: Option<Vec<&str>> = keys
                .iter()
                .map(|key| match key {
                    Value::String(key) => Some(key.as_str()),
                    _ => None,
                })
                .collect();
            match keys {
                Some(keys) => keys,
                None => return null("get value: expected the keys to be strings".into()),
            }
        }
        other => {
            return null(format!(
                "get value: expected a key or a non-empty list of keys, but found '{other}'"
            ))
        }
    };
    let mut value = &args[0];
    for key in keys {
        value = match value {
            Value::Context(ctx) => match ctx.get_entry(&Name::from(key)) {
                Some(entry) => entry,
                None => return Value::Null(None),
            },
            _ => return Value::Null(None),
        };
    }
    value.clone()
}

fn last_day_of_month(args: &[Value]) -> Value {
    let (year, month) = match &args[0] {
        Value::Date(date) => (date.year(), date.month()),
        Value::DateTime(date_time) => (date_time.year(), date_time.month()),
        other => {
            return null(format!(
                "last day of month: expected a date or a date and time, but found '{other}'"
            ))
        }
    };
    let last = FeelDate::new(year, month, 1)
        .and_then(|first| first.add_months(1))
        .and_then(|next| next.sub_days(1));
    match last {
        Some(date) => Value::Date(date),
        None => null("last day of month: the date is out of range".into()),
    }
}
