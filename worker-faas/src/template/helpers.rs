//! The helpers a task template may use besides handlebars' built-ins (`if`, `unless`, `each`, `with`, `lookup`,
//! `eq`, ...):
//! - `{{json value}}` writes `value` as compact JSON (for `body` templates: `{"in": {{json input}}}`);
//! - `{{join list}}` / `{{join list sep}}` writes the list's items separated by `sep` (default `,`), each item a
//!   string as is or a number/boolean as JSON: one argument such as `a.tif,b.tif`;
//! - `{{spread list}}` is only meaningful as a whole unquoted `cmdline` word, where it becomes one argument per
//!   item (see the module above); anywhere else it is an error, never a silent join.
//!
//! A helper whose argument does not exist fails with handlebars' missing-variable error, so the failure names the
//! variable as a plain `{{name}}` would.

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, PathAndJson, RenderContext, RenderError,
    RenderErrorReason,
};
use serde_json::Value;

pub(crate) fn register(registry: &mut Handlebars<'static>) {
    registry.register_helper("json", Box::new(json));
    registry.register_helper("join", Box::new(join));
    registry.register_helper("spread", Box::new(spread));
}

/// The helper's `index`th argument, or the error that names it when it is missing.
fn argument<'h, 'rc>(
    h: &'h Helper<'rc>,
    index: usize,
) -> Result<&'h PathAndJson<'rc>, RenderError> {
    let param = h
        .param(index)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex(
            helper_name(h),
            index,
        ))?;
    if param.is_value_missing() {
        return Err(RenderErrorReason::MissingVariable(param.relative_path().cloned()).into());
    }
    Ok(param)
}

fn helper_name(h: &Helper<'_>) -> &'static str {
    match h.name() {
        "json" => "json",
        "join" => "join",
        _ => "spread",
    }
}

fn json(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = argument(h, 0)?.value();
    let text = serde_json::to_string(value).map_err(|e| RenderErrorReason::Other(e.to_string()))?;
    out.write(&text)?;
    Ok(())
}

fn join(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let param = argument(h, 0)?;
    let name = param.relative_path().cloned().unwrap_or_default();
    let separator = match h.param(1) {
        None => ",".to_owned(),
        Some(_) => match argument(h, 1)?.value() {
            Value::String(s) => s.clone(),
            other => {
                return Err(other_error(format!(
                    "join's separator must be a string, not {other}"
                )))
            }
        },
    };
    let items = list_items(&name, param.value())?;
    out.write(&items.join(&separator))?;
    Ok(())
}

fn spread(
    _: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    _: &mut dyn Output,
) -> HelperResult {
    Err(other_error(
        "`spread` must be a whole, unquoted cmdline word such as {{spread files}}; use {{join files}} inside a word"
            .to_owned(),
    ))
}

/// The items of a list variable as argument strings: strings as they are, numbers and booleans as JSON; anything
/// else (null, an object, a nested list) has no obvious text and is refused.
pub(crate) fn list_items(name: &str, value: &Value) -> Result<Vec<String>, RenderError> {
    let Value::Array(items) = value else {
        return Err(other_error(format!(
            "variable '{name}' must be a list, but it is {}",
            kind(value)
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s.clone()),
            Value::Number(_) | Value::Bool(_) => Ok(item.to_string()),
            other => Err(other_error(format!(
                "item {i} of list '{name}' must be a string, number or boolean, but it is {}",
                kind(other)
            ))),
        })
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn other_error(message: String) -> RenderError {
    RenderErrorReason::Other(message).into()
}
