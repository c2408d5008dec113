//! Splitting a `cmdline` template into words, before anything is rendered.
//!
//! The rules are a small, fixed subset of POSIX shell word splitting, applied to the template text only:
//! - unquoted whitespace separates words;
//! - `'...'` groups literally (a backslash inside is an ordinary character);
//! - `"..."` groups; inside, `\"` and `\\` stand for `"` and `\`, any other backslash is kept;
//! - outside quotes, `\x` stands for `x` (so `\ ` is a space inside a word);
//! - a handlebars expression `{{...}}` (and `{{{...}}}`, `{{!-- ... --}}`) is copied whole, whitespace and quotes
//!   included, wherever it stands: quoting never stops a substitution (this is a template, not a shell);
//! - `\{{` is handlebars' own escape for a literal `{{`, and is passed through as such.
//!
//! An unterminated quote or expression, or a trailing backslash, is an error. `""` and `''` are empty words.

/// One word of a command line: the handlebars source that renders it and the text it was written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// The handlebars template for this argument, quotes removed and escapes resolved.
    pub source: String,
    /// The word as written in the header, for error messages.
    pub text: String,
    /// Whether any part of the word was quoted (a quoted word is never a list spread).
    pub quoted: bool,
}

/// Splits `text` into words, or says what is wrong and at which character (1-based).
pub(crate) fn split(text: &str) -> Result<Vec<Word>, String> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut words = Vec::new();
    let mut current: Option<(usize, String, bool)> = None;
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c.is_whitespace() {
            if let Some(word) = current.take() {
                words.push(finish(text, at, word));
            }
            i += 1;
            continue;
        }
        let (_, source, quoted) = current.get_or_insert_with(|| (at, String::new(), false));
        i = match c {
            '{' if starts_with(&chars, i, "{{") => expression(&chars, i, source)?,
            '\'' | '"' => {
                *quoted = true;
                quoted_part(&chars, i, source)?
            }
            '\\' => match chars.get(i + 1) {
                None => return Err(format!("a backslash ends it at character {}", i + 1)),
                Some((_, '{')) => {
                    source.push('\\');
                    i + 1
                }
                Some((_, next)) => {
                    source.push(*next);
                    i + 2
                }
            },
            _ => {
                source.push(c);
                i + 1
            }
        };
    }
    if let Some(word) = current.take() {
        words.push(finish(text, text.len(), word));
    }
    Ok(words)
}

fn finish(text: &str, end: usize, (start, source, quoted): (usize, String, bool)) -> Word {
    Word {
        source,
        text: text[start..end].to_owned(),
        quoted,
    }
}

fn starts_with(chars: &[(usize, char)], i: usize, pattern: &str) -> bool {
    let mut p = pattern.chars();
    chars[i..]
        .iter()
        .map(|(_, c)| *c)
        .zip(p.by_ref())
        .all(|(a, b)| a == b)
        && chars.len() - i >= pattern.chars().count()
}

/// Copies the expression starting at `chars[i]` (`{{`) whole into `out`; returns the index after it.
fn expression(chars: &[(usize, char)], i: usize, out: &mut String) -> Result<usize, String> {
    let close = if starts_with(chars, i, "{{!--") {
        "--}}"
    } else if starts_with(chars, i, "{{{") {
        "}}}"
    } else {
        "}}"
    };
    let open_len = if close == "}}}" { 3 } else { 2 };
    let mut j = i + open_len;
    while j < chars.len() {
        if starts_with(chars, j, close) {
            let end = j + close.chars().count();
            out.extend(chars[i..end].iter().map(|(_, c)| c));
            return Ok(end);
        }
        j += 1;
    }
    Err(format!(
        "the expression opened at character {} is not closed with '{close}'",
        i + 1
    ))
}

/// Reads the quoted part starting at `chars[i]` (a quote) into `out`; returns the index after the closing quote.
fn quoted_part(chars: &[(usize, char)], i: usize, out: &mut String) -> Result<usize, String> {
    let quote = chars[i].1;
    let mut j = i + 1;
    while j < chars.len() {
        let c = chars[j].1;
        if c == quote {
            return Ok(j + 1);
        }
        if c == '{' && starts_with(chars, j, "{{") {
            j = expression(chars, j, out)?;
            continue;
        }
        if quote == '"' && c == '\\' {
            if let Some(n @ ('"' | '\\')) = chars.get(j + 1).map(|(_, n)| *n) {
                out.push(n);
                j += 2;
                continue;
            }
        }
        out.push(c);
        j += 1;
    }
    Err(format!(
        "the quote {quote} opened at character {} is not closed",
        i + 1
    ))
}

#[cfg(test)]
mod tests {
    use super::split;

    fn sources(text: &str) -> Vec<String> {
        split(text).unwrap().into_iter().map(|w| w.source).collect()
    }

    #[test]
    fn whitespace_separates_and_quotes_group() {
        assert_eq!(
            sources(
                "otbcli_OrthoRectification  -io.in {{pan}}\t-io.out \"{{out_dir}}/ortho.tif\"\n"
            ),
            [
                "otbcli_OrthoRectification",
                "-io.in",
                "{{pan}}",
                "-io.out",
                "{{out_dir}}/ortho.tif"
            ]
        );
        assert_eq!(sources("'a b' \"c d\" e\\ f"), ["a b", "c d", "e f"]);
        assert_eq!(sources("pre'fix 1'\"x\"post"), ["prefix 1xpost"]);
    }

    #[test]
    fn escapes_follow_the_quote_they_are_in() {
        assert_eq!(sources(r#""a\"b\\c\d""#), [r#"a"b\c\d"#]);
        assert_eq!(sources(r"'a\b'"), [r"a\b"]);
        assert_eq!(sources(r#"\"x\""#), [r#""x""#]);
        // handlebars' own escape for a literal `{{` survives splitting.
        assert_eq!(sources(r"\{{raw}}"), [r"\{{raw}}"]);
    }

    #[test]
    fn expressions_are_copied_whole_even_with_spaces_and_quotes() {
        assert_eq!(
            sources(r#"--list={{join files ", "}} {{{raw}}} '{{x 'y'}}' {{!-- a }} comment --}}z"#),
            [
                r#"--list={{join files ", "}}"#,
                "{{{raw}}}",
                "{{x 'y'}}",
                "{{!-- a }} comment --}}z"
            ]
        );
    }

    #[test]
    fn empty_quotes_are_empty_words_and_blank_text_has_none() {
        assert_eq!(sources(r#"a "" '' b"#), ["a", "", "", "b"]);
        assert!(sources("  \n\t ").is_empty());
        let words = split(r#"x "y""#).unwrap();
        assert_eq!((words[0].quoted, words[1].quoted), (false, true));
        assert_eq!(words[1].text, r#""y""#);
    }

    #[test]
    fn unterminated_things_are_errors_with_their_position() {
        assert_eq!(
            split("echo 'abc").unwrap_err(),
            "the quote ' opened at character 6 is not closed"
        );
        assert_eq!(
            split("echo \"a 'b'").unwrap_err(),
            "the quote \" opened at character 6 is not closed"
        );
        assert_eq!(
            split("ls {{dir").unwrap_err(),
            "the expression opened at character 4 is not closed with '}}'"
        );
        assert_eq!(
            split("ls {{{dir}}").unwrap_err(),
            "the expression opened at character 4 is not closed with '}}}'"
        );
        assert_eq!(
            split("ls a\\").unwrap_err(),
            "a backslash ends it at character 5"
        );
    }
}
