//! FEEL through dsntk, as Zeebe uses it: parsing, evaluation, typed results with Zeebe's messages,
//! JSON <-> FEEL conversion, the external-function ban and the clock.

use apsis_bpmn::feel::{
    feel_to_json, json_to_feel, Expression, FeelError, Feelish, NoVariables, ResultType,
    VariableSource, WithClock,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value as Json};

fn vars(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        other => panic!("variables must be an object, not {other}"),
    }
}

fn expr(source: &str) -> Expression {
    Expression::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"))
}

fn eval(source: &str, variables: Json) -> Json {
    expr(source)
        .evaluate(&vars(variables))
        .unwrap_or_else(|e| panic!("{source}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Feelish: Zeebe's `=` rule

#[test]
fn equals_sign_makes_an_expression_anything_else_is_static() {
    assert_eq!(
        Feelish::parse("orders").unwrap(),
        Feelish::Static("orders".into())
    );
    assert_eq!(Feelish::parse("").unwrap(), Feelish::Static(String::new()));
    assert_eq!(
        Feelish::parse(" =x").unwrap(),
        Feelish::Static(" =x".into()),
        "only a leading '=' counts"
    );
    match Feelish::parse("=  x + 1  ").unwrap() {
        Feelish::Expr(e) => assert_eq!(e.source(), "x + 1"),
        other => panic!("expected an expression, got {other:?}"),
    }
    let job_type = Feelish::parse("=\"payment-\" + region").unwrap();
    assert_eq!(
        job_type
            .evaluate_string(&vars(json!({"region": "eu"})))
            .unwrap(),
        "payment-eu"
    );
    assert_eq!(
        Feelish::parse("payment")
            .unwrap()
            .evaluate_string(&NoVariables)
            .unwrap(),
        "payment"
    );
    assert_eq!(job_type.referenced_names(), ["region"]);
}

#[test]
fn an_empty_expression_is_a_parse_error() {
    let err = Feelish::parse("=").unwrap_err();
    assert!(matches!(err, FeelError::Parse { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("failed to parse expression '': "),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Parsing

#[test]
fn syntax_errors_name_the_expression() {
    for source in [
        "x +",
        "if x then 1",
        "(1 + 2",
        "[1, 2",
        "x > * 1",
        "\"unterminated",
    ] {
        let err = Expression::parse(source).unwrap_err();
        match &err {
            FeelError::Parse { expression, reason } => {
                assert_eq!(expression, source);
                assert!(!reason.is_empty());
            }
            other => panic!("{source}: expected a parse error, got {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with(&format!("failed to parse expression '{source}': ")),
            "{err}"
        );
    }
}

#[test]
fn operators_next_to_names_split_as_in_zeebe() {
    // dsntk alone would read `x+1` and `a.b` as single (DMN) names; Apsis makes them operators.
    let v = json!({"x": 7, "a": {"b": 2}, "order-id": 100, "order": 10, "id": 3});
    assert_eq!(eval("x+1", v.clone()), json!(8));
    assert_eq!(eval("x - 1", v.clone()), json!(6));
    assert_eq!(eval("x*2", v.clone()), json!(14));
    assert_eq!(eval("a.b + x", v.clone()), json!(9));
    assert_eq!(
        eval("order-id", v.clone()),
        json!(7),
        "as in feel-scala: order minus id"
    );
    assert_eq!(eval("x > 5 and a.b = 2", v.clone()), json!(true));
    assert_eq!(
        eval("if x > 5 then \"big\" else \"small\"", v.clone()),
        json!("big")
    );
    assert_eq!(eval("x instance of number", v), json!(true));
}

// ---------------------------------------------------------------------------------------------
// Evaluation

#[test]
fn evaluates_the_feel_zeebe_users_write() {
    let v = json!({
        "x": 7, "name": "Ada", "items": [1, 2, 3],
        "orders": [{"amount": 5, "id": "a"}, {"amount": 50, "id": "b"}],
        "customer": {"address": {"city": "Berlin"}}, "approved": true
    });
    let cases: &[(&str, Json)] = &[
        ("x > 5", json!(true)),
        ("x between 1 and 10", json!(true)),
        ("x in [1..10]", json!(true)),
        ("x in (1, 2, 7)", json!(true)),
        ("approved = true and x != 3", json!(true)),
        ("not(approved)", json!(false)),
        ("\"Hello \" + name", json!("Hello Ada")),
        ("string length(name)", json!(3)),
        ("upper case(name)", json!("ADA")),
        ("contains(name, \"d\")", json!(true)),
        ("starts with(name, \"A\")", json!(true)),
        ("substring(name, 2)", json!("da")),
        ("count(items)", json!(3)),
        ("sum(items)", json!(6)),
        ("items[1]", json!(1)),
        ("items[-1]", json!(3)),
        ("items[item > 1]", json!([2, 3])),
        ("orders[amount > 10].id", json!(["b"])),
        ("orders.amount", json!([5, 50])),
        ("for i in items return i * x", json!([7, 14, 21])),
        ("some i in items satisfies i > 2", json!(true)),
        ("every i in items satisfies i > 2", json!(false)),
        ("customer.address.city", json!("Berlin")),
        (
            "{total: sum(items), first: items[1]}",
            json!({"first": 1, "total": 6}),
        ),
        ("{a: 1, b: a + 1}.b", json!(2)),
        ("(function(n) n * 2)(x)", json!(14)),
        ("index of(items, 2)", json!([2])),
        ("list contains(items, 3)", json!(true)),
        ("string join([\"a\", \"b\"], \"-\")", json!("a-b")),
        ("append(items, 4)", json!([1, 2, 3, 4])),
        ("\"PT\" + string(x) + \"S\"", json!("PT7S")),
        ("null", Json::Null),
        ("-x", json!(-7)),
        ("x ** 2", json!(49)),
        ("10 / 4", json!(2.5)),
        ("10 / 2", json!(5)),
        ("0.1 + 0.2", json!(0.3)),
        ("decimal(1 / 3, 2)", json!(0.33)),
        ("floor(7.8)", json!(7)),
    ];
    for (source, expected) in cases {
        assert_eq!(&eval(source, v.clone()), expected, "{source}");
    }
}

#[test]
fn unicode_and_underscore_names() {
    let v = json!({"größe": 3, "x_1": 4, "_private": 5, "名前": "名"});
    assert_eq!(eval("größe + x_1 + _private", v.clone()), json!(12));
    assert_eq!(eval("名前 + \"前\"", v), json!("名前"));
}

#[test]
fn missing_variables_and_entries_are_null_as_in_zeebe() {
    let v = vars(json!({"a": {"b": 1}}));
    assert_eq!(expr("missing").evaluate(&v).unwrap(), Json::Null);
    assert_eq!(expr("a.c").evaluate(&v).unwrap(), Json::Null);
    assert_eq!(expr("missing = null").evaluate(&v).unwrap(), json!(true));
    assert_eq!(expr("missing > 5").evaluate(&v).unwrap(), Json::Null);
    let detailed = expr("missing + 1").evaluate_detailed(&v).unwrap();
    assert_eq!(detailed.value, Json::Null);
    assert_eq!(detailed.result_type, ResultType::Null);
    assert_eq!(detailed.warnings.len(), 1);
    assert_eq!(
        detailed.warnings[0].to_string(),
        "[NO_VARIABLE_FOUND] No variable found with name 'missing'"
    );
}

#[test]
fn referenced_names_are_the_free_variables() {
    let cases: &[(&str, &[&str])] = &[
        ("x > 5 and order.total < limit", &["x", "order", "limit"]),
        ("for i in items return i * factor", &["items", "factor"]),
        ("count(items) > max", &["items", "max"]),
        (
            "string length(name) + upper case(other)",
            &["name", "other"],
        ),
        ("{a: 1, b: a + y}", &["y"]),
        (
            "orders[amount > threshold]",
            &["orders", "amount", "threshold"],
        ),
        ("(function(p) p + q)(1)", &["q"]),
        (
            "some v in values satisfies v = wanted",
            &["values", "wanted"],
        ),
        ("\"literal with words x y\"", &[]),
        ("now() > deadline", &["deadline"]),
        ("x + x", &["x"]),
    ];
    for (source, expected) in cases {
        assert_eq!(expr(source).referenced_names(), *expected, "{source}");
    }
}

#[test]
fn only_referenced_variables_are_read() {
    struct Spy(Map<String, Json>, std::cell::RefCell<Vec<String>>);
    impl VariableSource for Spy {
        fn get(&self, name: &str) -> Option<&Json> {
            self.1.borrow_mut().push(name.to_owned());
            self.0.get(name)
        }
    }
    let spy = Spy(
        vars(json!({"x": 1, "huge": [1, 2, 3], "y": 2})),
        Default::default(),
    );
    assert_eq!(expr("x + y").evaluate(&spy).unwrap(), json!(3));
    assert_eq!(*spy.1.borrow(), ["x", "y"]);
}

#[test]
fn a_plain_reference_returns_the_variable_exactly() {
    // key order, integers and floats as they are: no trip through FEEL
    let v = json!({"doc": {"z": 1, "a": 2.0, " spaced ": [1.5, "x"]}});
    assert_eq!(eval("doc", v.clone()), v["doc"]);
    assert_eq!(eval("doc. spaced", json!({"doc": {"spaced": 5}})), json!(5));
    let out = eval("doc", v.clone());
    assert_eq!(
        out.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["z", "a", " spaced "]
    );
    // a path through a list goes through FEEL (it projects)
    assert_eq!(
        eval("l.a", json!({"l": [{"a": 1}, {"a": 2}]})),
        json!([1, 2])
    );
}

// ---------------------------------------------------------------------------------------------
// Where dsntk alone differs from feel-scala

/// `(source, expected)` evaluated with `variables`; `null` expected as `Json::Null`.
fn assert_cases(variables: Json, cases: &[(&str, Json)]) {
    for (source, expected) in cases {
        assert_eq!(&eval(source, variables.clone()), expected, "{source}");
    }
}

#[test]
fn equality_with_null_is_a_boolean_as_in_feel_scala() {
    // feel-scala's ValComparator: null equals only null; lists and contexts compare item by item,
    // an item that cannot be compared making them unequal; two other types cannot be compared.
    let v = json!({"nul": null, "s": "a", "n": 3, "l": [1, 2], "c": {"a": 1, "b": null}});
    assert_cases(
        v.clone(),
        &[
            ("missing = \"a\"", json!(false)),
            ("\"a\" = missing", json!(false)),
            ("missing != \"a\"", json!(true)),
            ("nul = \"a\"", json!(false)),
            ("nul != 3", json!(true)),
            ("nul = null", json!(true)),
            ("missing = null", json!(true)),
            ("missing = nul", json!(true)),
            ("null != null", json!(false)),
            ("\"foo\" = null", json!(false)),
            ("{x: null}.x = null", json!(true)),
            ("{}.y = null", json!(true)),
            ("c.b = null and c.a != null", json!(true)),
            ("s = \"a\" and n = 3 and n != 4", json!(true)),
            ("[1, null] = [1, null]", json!(true)),
            ("l = [1, 2]", json!(true)),
            ("l = [1]", json!(false)),
            ("[1] = [\"a\"]", json!(false)),
            ("[[1, null]] != [[1, 2]]", json!(true)),
            ("c = {a: 1, b: null}", json!(true)),
            ("{a: 1} = {a: \"x\"}", json!(false)),
            ("{a: null} = {}", json!(false)),
            ("[1, 2, 3][item != 2]", json!([1, 3])),
            ("[{k: null}, {k: 1}][k = null]", json!([{"k": null}])),
            ("if missing = \"a\" then 1 else 2", json!(2)),
            // values of two types cannot be compared: null, as in feel-scala
            ("1 = \"1\"", Json::Null),
            ("s != 1", Json::Null),
            ("l = {a: 1}", Json::Null),
            // ordering with null stays null
            ("missing > 10", Json::Null),
            ("nul <= 1", Json::Null),
        ],
    );
    let detailed = expr("n = \"3\"").evaluate_detailed(&vars(v)).unwrap();
    assert_eq!(detailed.value, Json::Null);
    assert_eq!(
        detailed.warnings[0].to_string(),
        "[EVALUATION_FAILURE] Can't compare '3' with '\"3\"'"
    );
}

#[test]
fn a_condition_on_a_missing_variable_is_false_so_the_default_flow_is_taken() {
    // examples/bench/w2.bpmn: `=route = "a"` on a flow of an exclusive gateway with a default flow
    let Feelish::Expr(condition) = Feelish::parse("=route = \"a\"").unwrap() else {
        panic!("an expression");
    };
    assert!(!condition.evaluate_bool(&NoVariables).unwrap());
    assert!(!condition
        .evaluate_bool(&vars(json!({"route": null})))
        .unwrap());
    assert!(!condition
        .evaluate_bool(&vars(json!({"route": "b"})))
        .unwrap());
    assert!(condition
        .evaluate_bool(&vars(json!({"route": "a"})))
        .unwrap());
    // a comparison that cannot be made is still an incident, with feel-scala's reason
    let err = condition
        .evaluate_bool(&vars(json!({"route": 1})))
        .unwrap_err();
    assert!(
        err.to_string().ends_with("Can't compare '1' with '\"a\"'"),
        "{err}"
    );
}

#[test]
fn ranges_may_be_written_without_spaces() {
    let v = json!({"tileCount": 3, "n": 5, "x": 4});
    assert_cases(
        v.clone(),
        &[
            ("for i in 1..tileCount return i", json!([1, 2, 3])),
            ("for i in 1 .. tileCount return i", json!([1, 2, 3])),
            ("for i in tileCount..1 return i", json!([3, 2, 1])),
            (
                "for i in 1..tileCount, j in 1..2 return i * 10 + j",
                json!([11, 12, 21, 22, 31, 32]),
            ),
            ("for i in 0..n-3 return i", json!([0, 1, 2])),
            ("x in [1..n]", json!(true)),
            ("x in [n..10]", json!(false)),
            ("n in (1..n)", json!(false)),
            ("n in (1..n]", json!(true)),
            ("x in [1.5..tileCount]", json!(false)),
            ("count(for i in 1..n return i) = n", json!(true)),
        ],
    );
    assert_eq!(
        expr("for i in 1..tileCount return i").referenced_names(),
        ["tileCount"]
    );
    assert_eq!(eval("1.25 * 2 + 10.5", json!({})), json!(13));
}

#[test]
fn camunda_extension_functions() {
    let v = json!({"n": 3, "nul": null, "s": " a b ", "c": {"a": 1, "d": {"e": 2}}, "trim": 1});
    assert_cases(
        v.clone(),
        &[
            // is defined: false for null since feel-scala 1.17 (Zeebe 8.3, camunda/feel-scala#712)
            ("is defined(n)", json!(true)),
            ("is defined(c.a)", json!(true)),
            ("is defined(missing)", json!(false)),
            ("is defined(nul)", json!(false)),
            ("is defined(c.x)", json!(false)),
            ("is defined(missing.x)", json!(false)),
            ("is defined(value: n)", json!(true)),
            ("get or else(n, 1)", json!(3)),
            ("get or else(missing, \"default\")", json!("default")),
            ("get or else(nul, null)", Json::Null),
            ("get or else(default: 1, value: nul)", json!(1)),
            ("assert(n, n > 2)", json!(3)),
            (
                "assert(value: n, condition: n = 3, cause: \"no\")",
                json!(3),
            ),
            ("is empty([])", json!(true)),
            ("is empty([1])", json!(false)),
            ("is blank(\" \\t\")", json!(true)),
            ("is blank(s)", json!(false)),
            ("trim(s)", json!("a b")),
            ("to base64(\"Hello World!\")", json!("SGVsbG8gV29ybGQh")),
            ("to base64(\"é\")", json!("w6k=")),
            ("duplicate values([1, 2, 1, 3, 2, 1])", json!([1, 2])),
            ("duplicate values([\"a\", \"b\"])", json!([])),
            (
                "partition([1, 2, 3, 4, 5], 2)",
                json!([[1, 2], [3, 4], [5]]),
            ),
            ("partition([], 2)", json!([])),
            ("partition([1, 2], 0)", Json::Null),
            ("string join([\"a\", null, \"b\"], \"-\")", json!("a-b")),
            ("string join([null, \"a\"], \"-\")", json!("a")),
            ("string join([\"a\", \"b\"])", json!("ab")),
            (
                "string join([\"a\", \"b\"], \", \", \"[\", \"]\")",
                json!("[a, b]"),
            ),
            ("string join([1], \"-\")", Json::Null),
            ("get value(c, \"a\")", json!(1)),
            ("get value(c, [\"d\", \"e\"])", json!(2)),
            ("get value(c, [\"e\"])", Json::Null),
            ("get value(context: c, keys: [\"d\"])", json!({"e": 2})),
            (
                "context put(c, [\"d\", \"f\"], 3).d",
                json!({"e": 2, "f": 3}),
            ),
            (
                "last day of month(date(\"2024-02-10\"))",
                json!("2024-02-29"),
            ),
            (
                "last day of month(date and time(\"2022-10-16T12:00:00\"))",
                json!("2022-10-31"),
            ),
            // the names are the functions even where a variable has the same name
            ("trim(\" x \") + string(trim)", json!("x1")),
        ],
    );
    assert_eq!(
        expr("is defined(x) and get or else(y, 1) > trim").referenced_names(),
        ["x", "y", "trim"]
    );
}

#[test]
fn a_failed_assert_fails_the_evaluation_with_feel_scalas_message() {
    let cases = [
        ("assert(x, x > 5)", "The condition is not fulfilled"),
        ("assert(x, x != null, \"'x' is missing\")", "'x' is missing"),
        (
            "list contains(assert(x, x != null), 2)",
            "The condition is not fulfilled",
        ),
    ];
    for (source, cause) in cases {
        let err = expr(source).evaluate(&NoVariables).unwrap_err();
        assert_eq!(
            err,
            FeelError::Evaluation {
                expression: source.to_owned(),
                reason: format!("Assertion failure on evaluate the expression '{source}': {cause}"),
            }
        );
    }
    // only an assert that is evaluated fails
    assert_eq!(
        eval("if false then assert(1, false) else 2", json!({})),
        json!(2)
    );
    assert!(expr("assert(x, x > 5)")
        .evaluate_bool(&vars(json!({"x": 6})))
        .is_err());
}

#[test]
fn nondeterministic_and_unimplemented_extensions_are_rejected_at_parse_time() {
    let random = "which gives a different result each time, while Apsis must give the same result \
                  when it replays the log";
    let cases = [
        ("uuid()", "uuid", random),
        ("string(random number() * 10)", "random number", random),
        ("{id: uuid()}.id", "uuid", random),
        (
            "extract(s, \"[0-9]+\")",
            "extract",
            "a Camunda extension Apsis does not implement yet (it needs a regular-expression engine)",
        ),
    ];
    for (source, function, reason) in cases {
        let err = Expression::parse(source).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Expected the expression '{source}' to call only functions Apsis supports, but it calls \
                 '{function}()', {reason}"
            )
        );
        assert!(matches!(err, FeelError::UnsupportedFunction { .. }));
    }
}

// ---------------------------------------------------------------------------------------------
// Typed evaluations and Zeebe's messages

#[test]
fn a_condition_must_be_boolean_with_zeebes_message() {
    let e = expr("x > 5");
    assert!(e.evaluate_bool(&vars(json!({"x": 6}))).unwrap());
    assert!(!e.evaluate_bool(&vars(json!({"x": 5}))).unwrap());
    let err = e.evaluate_bool(&NoVariables).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Expected result of the expression 'x > 5' to be 'BOOLEAN', but was 'NULL'. \
         The evaluation reported the following warnings:\n[NO_VARIABLE_FOUND] No variable found with name 'x'"
    );
    assert!(matches!(
        err,
        FeelError::UnexpectedResult {
            actual: ResultType::Null,
            ..
        }
    ));

    let err = expr("x").evaluate_bool(&vars(json!({"x": 1}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Expected result of the expression 'x' to be 'BOOLEAN', but was 'NUMBER'."
    );

    let err = expr("x > 5")
        .evaluate_bool(&vars(json!({"x": "99"})))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "Expected result of the expression 'x > 5' to be 'BOOLEAN', but was 'NULL'. \
             The evaluation reported the following warnings:\n[EVALUATION_FAILURE] "
        ),
        "{err}"
    );
}

#[test]
fn typed_string_number_list_object() {
    let v = vars(
        json!({"s": "a", "n": 3, "d": 2.5, "big": 1e20, "l": [1, "b"], "o": {"k": 1}, "f": 3.0}),
    );
    assert_eq!(expr("s").evaluate_string(&v).unwrap(), "a");
    assert_eq!(expr("s + \"b\"").evaluate_string(&v).unwrap(), "ab");
    assert_eq!(
        expr("n").evaluate_string(&v).unwrap_err().to_string(),
        "Expected result of the expression 'n' to be 'STRING', but was 'NUMBER'."
    );

    assert_eq!(expr("n").evaluate_i64(&v).unwrap(), 3);
    assert_eq!(expr("n * 2").evaluate_i64(&v).unwrap(), 6);
    assert_eq!(expr("f").evaluate_i64(&v).unwrap(), 3);
    assert_eq!(expr("d * 2").evaluate_i64(&v).unwrap(), 5);
    assert_eq!(
        expr("d").evaluate_i64(&v).unwrap_err().to_string(),
        "Expected result of the expression 'd' to be an integer, but was a decimal."
    );
    assert_eq!(
        expr("s").evaluate_i64(&v).unwrap_err().to_string(),
        "Expected result of the expression 's' to be 'NUMBER', but was 'STRING'."
    );
    let err = expr("big").evaluate_i64(&v).unwrap_err().to_string();
    assert!(
        err.starts_with("Expected result of the expression 'big' to be an integer between"),
        "{err}"
    );

    assert_eq!(
        expr("l").evaluate_list(&v).unwrap(),
        vec![json!(1), json!("b")]
    );
    assert_eq!(
        expr("for i in [1,2] return i + n")
            .evaluate_list(&v)
            .unwrap(),
        vec![json!(4), json!(5)]
    );
    assert_eq!(
        expr("o").evaluate_list(&v).unwrap_err().to_string(),
        "Expected result of the expression 'o' to be 'ARRAY', but was 'OBJECT'."
    );
    assert_eq!(
        expr("[\"a\", s]").evaluate_list_of_strings(&v).unwrap(),
        vec!["a", "a"]
    );
    assert_eq!(
        expr("l").evaluate_list_of_strings(&v).unwrap_err().to_string(),
        "Expected result of the expression 'l' to be 'ARRAY' containing 'STRING' items, but was 'ARRAY' \
         containing at least one non-'STRING' item."
    );

    assert_eq!(
        expr("o").evaluate_object(&v).unwrap(),
        vars(json!({"k": 1}))
    );
    assert_eq!(
        expr("{x: n}").evaluate_object(&v).unwrap(),
        vars(json!({"x": 3}))
    );
    assert_eq!(
        expr("n").evaluate_object(&v).unwrap_err().to_string(),
        "Expected result of the expression 'n' to be 'OBJECT', but was 'NUMBER'."
    );
}

#[test]
fn correlation_keys_are_strings_or_numbers() {
    let v = vars(json!({"id": 123, "s": "abc", "d": 12.7, "flag": true}));
    assert_eq!(expr("id").evaluate_correlation_key(&v).unwrap(), "123");
    assert_eq!(expr("id + 1").evaluate_correlation_key(&v).unwrap(), "124");
    assert_eq!(expr("s").evaluate_correlation_key(&v).unwrap(), "abc");
    assert_eq!(
        expr("d").evaluate_correlation_key(&v).unwrap(),
        "12",
        "Zeebe takes the long value"
    );
    assert_eq!(expr("d + 0").evaluate_correlation_key(&v).unwrap(), "12");
    assert_eq!(
        expr("flag").evaluate_correlation_key(&v).unwrap_err().to_string(),
        "Failed to extract the correlation key for 'flag': The value must be either a string or a number, but was 'BOOLEAN'."
    );
    assert_eq!(
        expr("key").evaluate_correlation_key(&v).unwrap_err().to_string(),
        "Failed to extract the correlation key for 'key': The value must be either a string or a number, but was 'NULL'. \
         The evaluation reported the following warnings:\n[NO_VARIABLE_FOUND] No variable found with name 'key'"
    );
}

// ---------------------------------------------------------------------------------------------
// Security: no external functions

#[test]
fn external_functions_are_rejected_at_parse_time() {
    let sources = [
        r#"function(a, b) external {java: {class: "java.lang.Math", method signature: "max(int, int)"}}"#,
        r#"{max: function(a, b) external {java: {class: "java.lang.Math", method signature: "max(int, int)"}}, r: max(1, 2)}.r"#,
        r#"(function(x) external {pmml: {document: "http://example.invalid/model.pmml", model: "m"}})(1)"#,
        r#"[1, 2][function(x) external {java: {class: "A", method signature: "b()"}}(item)]"#,
    ];
    for source in sources {
        let err = Expression::parse(source).unwrap_err();
        assert_eq!(
            err,
            FeelError::ExternalFunction {
                expression: source.to_owned()
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "Expected the expression '{source}' to use only FEEL's own functions, but it defines an external \
                 (Java/PMML) function, which Apsis does not run"
            )
        );
        assert!(matches!(
            Feelish::parse(&format!("={source}")),
            Err(FeelError::ExternalFunction { .. })
        ));
    }
    // ordinary function definitions stay allowed
    assert_eq!(
        eval("{double: function(n) n * 2, r: double(21)}.r", json!({})),
        json!(42)
    );
}

// ---------------------------------------------------------------------------------------------
// The clock

#[test]
fn now_and_today_read_the_engines_clock_never_the_systems() {
    let now_ms = 1_709_210_096_789; // 2024-02-29T12:34:56.789Z
    let v = vars(json!({"days": 1}));
    let clock = WithClock { vars: &v, now_ms };
    assert_eq!(
        expr("now()").evaluate(&clock).unwrap(),
        json!("2024-02-29T12:34:56.789Z")
    );
    assert_eq!(
        expr("today()").evaluate(&clock).unwrap(),
        json!("2024-02-29")
    );
    assert_eq!(
        expr("now() + duration(\"P1D\")").evaluate(&clock).unwrap(),
        json!("2024-03-01T12:34:56.789Z")
    );
    assert_eq!(
        expr("today() + duration(\"P1Y\")")
            .evaluate(&clock)
            .unwrap(),
        json!("2025-02-28")
    );
    assert_eq!(expr("now().year").evaluate(&clock).unwrap(), json!(2024));
    assert!(expr("now() > date and time(\"2024-01-01T00:00:00Z\")")
        .evaluate_bool(&clock)
        .unwrap());
    assert!(expr("now()").uses_clock());
    assert!(!expr("x").uses_clock());

    let err = expr("now()").evaluate(&v).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to evaluate expression 'now()': now() and today() need the engine's clock, but the evaluation was given none"
    );
}

// ---------------------------------------------------------------------------------------------
// FEEL values with no JSON type

#[test]
fn temporal_results_become_zeebes_iso_strings() {
    let cases: &[(&str, &str)] = &[
        ("date(\"2024-01-31\")", "2024-01-31"),
        (
            "date and time(\"2024-01-01T10:00:00Z\")",
            "2024-01-01T10:00:00Z",
        ),
        (
            "date and time(\"2024-01-01T10:00:00+02:00\")",
            "2024-01-01T10:00:00+02:00",
        ),
        (
            "date and time(\"2024-01-01T10:00:00.250-05:30\")",
            "2024-01-01T10:00:00.25-05:30",
        ),
        (
            "date and time(\"2024-01-01T10:00:00@Europe/Berlin\")",
            "2024-01-01T10:00:00+01:00[Europe/Berlin]",
        ),
        (
            "date and time(\"2024-07-01T10:00:00@Europe/Berlin\")",
            "2024-07-01T10:00:00+02:00[Europe/Berlin]",
        ),
        (
            "date and time(\"2024-01-01T10:00:00\")",
            "2024-01-01T10:00:00",
        ),
        ("time(\"10:15:00Z\")", "10:15:00Z"),
        ("duration(\"PT90M\")", "PT1H30M"),
        ("duration(\"P1DT2H\")", "PT26H"),
        ("duration(\"PT0.5S\")", "PT0.5S"),
        ("duration(\"-PT1H30M\")", "PT-1H-30M"),
        ("duration(\"P1Y2M\")", "P1Y2M"),
        ("duration(\"P14M\")", "P1Y2M"),
        (
            "years and months duration(date(\"2024-01-01\"), date(\"2024-01-15\"))",
            "P0D",
        ),
    ];
    for (source, expected) in cases {
        let e = expr(source).evaluate_detailed(&NoVariables).unwrap();
        assert_eq!(e.value, json!(expected), "{source}");
        assert!(e.warnings.is_empty(), "{source}: {:?}", e.warnings);
    }
    let types = [
        (
            "date and time(\"2024-01-01T10:00:00Z\")",
            ResultType::DateTime,
        ),
        ("duration(\"PT1S\")", ResultType::Duration),
        ("duration(\"P1M\")", ResultType::Period),
        ("date(\"2024-01-01\")", ResultType::Unknown),
    ];
    for (source, expected) in types {
        assert_eq!(
            expr(source)
                .evaluate_detailed(&NoVariables)
                .unwrap()
                .result_type,
            expected,
            "{source}"
        );
    }
}

#[test]
fn ranges_and_functions_become_null_with_a_warning() {
    for source in ["[1..10]", "function(x) x"] {
        let e = expr(source).evaluate_detailed(&NoVariables).unwrap();
        assert_eq!(e.value, Json::Null, "{source}");
        assert_eq!(e.result_type, ResultType::Unknown, "{source}");
        assert_eq!(e.warnings.len(), 1, "{source}: {:?}", e.warnings);
        assert_eq!(e.warnings[0].kind, "NOT_REPRESENTABLE");
    }
    let e = expr("[1, [2..3]]").evaluate_detailed(&NoVariables).unwrap();
    assert_eq!(e.value, json!([1, null]));
}

// ---------------------------------------------------------------------------------------------
// JSON <-> FEEL

#[test]
fn numbers_round_trip_exactly() {
    let numbers = [
        json!(0),
        json!(-1),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(12345678901234567890u64),
        json!(0.1),
        json!(1e-7),
        json!(-2.5),
        json!(1e300),
        json!(5e-324),
        json!(f64::MAX),
        json!(123456.789),
        json!(9007199254740993u64),
    ];
    for n in numbers {
        assert_eq!(feel_to_json(&json_to_feel(&n)), n, "{n}");
        // and through a real evaluation, not the plain-reference shortcut
        assert_eq!(eval("[n][1]", json!({"n": n.clone()})), n, "{n}");
    }
    // whole floats come back as integers, as Zeebe writes them
    assert_eq!(feel_to_json(&json_to_feel(&json!(5.0))), json!(5));
    assert_eq!(feel_to_json(&json_to_feel(&json!(-0.0))), json!(0));
    assert_eq!(
        eval("n + 1", json!({"n": i64::MAX})),
        json!(9223372036854775808u64)
    );
    assert_eq!(
        eval("n * 1000", json!({"n": u64::MAX})),
        json!(1.8446744073709552e22)
    );
    assert_eq!(
        eval("10 ** 400", json!({})),
        Json::Null,
        "beyond f64: null with a warning"
    );
}

#[test]
fn strings_and_structures_round_trip() {
    let value = json!({
        "text": "ünïcødé ✓ 名前 😀 \"quoted\" \\ \n\t",
        "empty": "",
        "list": [null, true, false, [], {}, [[1]], {"a": {"b": [1, 2.5]}}],
        "": "empty key",
    });
    assert_eq!(feel_to_json(&json_to_feel(&value)), value);
    assert_eq!(eval("[v][1]", json!({"v": value.clone()})), value);
}

/// serde_json values equal as numbers (a whole float may come back as an integer) and objects
/// equal regardless of key order.
fn same_value(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop_oneof![Just(0.1), Just(1e-7), Just(-0.5), Just(1e21), Just(123.456)]
            .prop_map(|f: f64| json!(f)),
        any::<String>().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            // FEEL names are trimmed, so keys with outer whitespace do not survive (documented)
            prop::collection::vec(
                ("[a-zA-Z0-9_äöü名😀.-][a-zA-Z0-9_ äöü名😀.-]{0,6}", inner),
                0..6
            )
            .prop_map(|entries| {
                Json::Object(entries.into_iter().filter(|(k, _)| k.trim() == k).collect())
            }),
        ]
    })
}

proptest! {
    #[test]
    fn json_survives_feel_and_back(value in arb_json()) {
        let back = feel_to_json(&json_to_feel(&value));
        prop_assert!(same_value(&value, &back), "{} became {}", value, back);
    }

    #[test]
    fn json_survives_an_evaluation(value in arb_json()) {
        let back = eval("[v][1]", json!({"v": value.clone()}));
        prop_assert!(same_value(&value, &back), "{} became {}", value, back);
    }

    #[test]
    fn integers_survive_arithmetic(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
        prop_assert_eq!(eval("a + b", json!({"a": a, "b": b})), json!(a + b));
        prop_assert_eq!(eval("a * b", json!({"a": a, "b": b})), json!(a * b));
        prop_assert_eq!(expr("a < b").evaluate_bool(&vars(json!({"a": a, "b": b}))).unwrap(), a < b);
    }

    #[test]
    fn the_parser_never_panics(source in "\\PC{0,40}") {
        let _ = Expression::parse(&source);
    }

    #[test]
    fn feel_token_soup_never_panics(tokens in prop::collection::vec(prop_oneof![
        Just("x"), Just("y.z"), Just("1"), Just("2.5"), Just("\"s\""), Just("+"), Just("-"), Just("*"), Just("/"),
        Just("("), Just(")"), Just("["), Just("]"), Just("{"), Just("}"), Just(":"), Just(","), Just("."), Just(".."),
        Just("and"), Just("or"), Just("not"), Just("if"), Just("then"), Just("else"), Just("for"), Just("in"),
        Just("return"), Just("some"), Just("every"), Just("satisfies"), Just("between"), Just("instance of"),
        Just("function"), Just("external"), Just("null"), Just("true"), Just("="), Just("<"), Just(">="),
        Just("date and time"), Just("string length"), Just("now()"), Just("@"), Just("?"), Just("item"),
    ], 0..14)) {
        let source = tokens.join(" ");
        if let Ok(e) = Expression::parse(&source) {
            let v = vars(json!({"x": 1, "y": {"z": [1, 2]}}));
            let _ = e.evaluate(&WithClock { vars: &v, now_ms: 0 });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Plumbing

#[test]
fn expressions_are_shareable_comparable_and_serializable() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Expression>();
    let e = expr("x + 1");
    assert_eq!(e, e.clone());
    assert_eq!(format!("{e:?}"), "Expression(\"x + 1\")");
    assert_eq!(e.to_string(), "x + 1");
    let text = serde_json::to_string(&e).unwrap();
    assert_eq!(text, "\"x + 1\"");
    let back: Expression = serde_json::from_str(&text).unwrap();
    assert_eq!(back.evaluate(&vars(json!({"x": 1}))).unwrap(), json!(2));
    assert!(serde_json::from_str::<Expression>("\"x +\"").is_err());
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || e.evaluate(&vars(json!({"x": i}))).unwrap())
        })
        .collect();
    let results: Vec<Json> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results, [json!(1), json!(2)]);
}

/// Not a timed assertion: prints evaluations per second (run with `--nocapture`).
#[test]
fn evaluation_throughput() {
    let v = vars(
        json!({"amount": 120, "approved": true, "customer": {"tier": "gold"}, "big": (0..1000).collect::<Vec<_>>()}),
    );
    let cases = [
        "amount > 100 and approved",
        "customer.tier = \"gold\"",
        "amount",
        "if amount > 100 then \"high\" else \"low\"",
        "count(big) > 10",
    ];
    for source in cases {
        let e = expr(source);
        let n = 20_000;
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(e.evaluate(&v).unwrap());
        }
        let per_second = n as f64 / start.elapsed().as_secs_f64();
        println!("{per_second:>12.0} evaluations/s  {source}");
    }
    let start = std::time::Instant::now();
    for _ in 0..1000 {
        std::hint::black_box(Expression::parse("amount > 100 and approved").unwrap());
    }
    println!("{:>12.0} parses/s", 1000.0 / start.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// Known limits of dsntk, pinned so a dsntk upgrade that changes them is noticed

#[test]
fn dsntk_limits() {
    // Names with spaces are not FEEL variables in Zeebe either; here they read as two names.
    assert!(Expression::parse("first name").is_err());
    // A variable named like a built-in function does not hide it: names in call position are
    // not read from the variables...
    let called = expr("date(\"2024-01-01\")")
        .evaluate(&vars(json!({"date": "d"})))
        .unwrap();
    assert_eq!(called, json!("2024-01-01"));
    // ...unless the same expression also reads the variable: then dsntk calls the variable.
    let both = expr("[date(\"2024-01-01\"), date]")
        .evaluate(&vars(json!({"date": "d"})))
        .unwrap();
    assert_eq!(both, json!([null, "d"]));
}

#[test]
fn absurdly_deep_expressions_are_rejected_not_a_stack_overflow() {
    use apsis_bpmn::feel::MAX_DEPTH;
    // a chain of `or`s nests one level per term
    let ok = (0..70)
        .map(|i| format!("x = {i}"))
        .collect::<Vec<_>>()
        .join(" or ");
    assert!(expr(&ok).evaluate_bool(&vars(json!({"x": 69}))).unwrap());
    // just under the limit still builds and runs on a 2 MiB test thread, even in a debug build
    let near = format!("{}1", "1+".repeat(MAX_DEPTH - 2));
    assert_eq!(
        expr(&near).evaluate(&NoVariables).unwrap(),
        json!(MAX_DEPTH - 1)
    );
    for source in [
        format!("{}1", "1+".repeat(20_000)),
        format!("{}1{}", "[".repeat(20_000), "]".repeat(20_000)),
    ] {
        let err = Expression::parse(&source).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "levels deep, more than the {MAX_DEPTH} Apsis allows"
            )),
            "{}",
            &err[err.len() - 80..]
        );
    }
}
