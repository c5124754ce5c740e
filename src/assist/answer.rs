//! Reading the model's answer: the code it wants in place of the selection.
//!
//! The rule is deterministic (reliability.md D-1…D-3):
//!
//! * When the answer has function calls, only they count (the text is ignored).
//!   Exactly one call, to `replace_selection`, whose arguments are a JSON object
//!   with a string field `code`. A call to any other tool is [`AnswerError::WrongTool`];
//!   several `replace_selection` calls are [`AnswerError::Ambiguous`]; truncated
//!   JSON, a trailing comma, a non-object, a missing or non-string `code`, or empty
//!   arguments are [`AnswerError::BadArguments`] — never coerced to `{}`.
//!   Where the request offered `apply_patch` (large selections), one call to it, with
//!   a string field `patch`, counts instead ([`EditAnswer::Patch`], applied by
//!   `assist::patch`); its bad arguments are [`AnswerError::BadPatchArguments`].
//!   Unknown extra fields (`uri`, `range`, `explanation`, …) are tolerated and
//!   ignored: the server alone decides the target (D-4); their names are logged as
//!   an injection signal.
//! * Without calls, the text must hold exactly one complete fenced block
//!   (CommonMark-style: ```` ``` ```` or `~~~`, at least three, optional info string,
//!   indented by at most three spaces; the closing fence uses the same character,
//!   is at least as long and carries nothing but whitespace). Its content, without
//!   the line break before the closing fence, is the code. Zero blocks is
//!   [`AnswerError::NoCode`], two or more [`AnswerError::Ambiguous`], and a fence
//!   left open (an answer cut at the token limit) [`AnswerError::Unterminated`].
//!   An empty block is empty code, like `{"code": ""}`: it deletes the selection.

use serde_json::Value;

/// The tool every edit action offers.
pub const REPLACE_SELECTION: &str = "replace_selection";
/// The tool large selections also offer (`patchAboveLines`): `{ "patch": string }`.
pub const APPLY_PATCH: &str = "apply_patch";

/// What an edit answer holds: the whole replacement, or a patch of the selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditAnswer {
    Code(String),
    Patch(String),
}

/// Why the answer yields no code. Every message ends by saying nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Prose only, or an empty answer.
    #[error("the model's answer held no code, nothing was changed")]
    NoCode,
    /// Several code blocks or several `replace_selection` calls.
    #[error(
        "the model's answer held {blocks} code blocks instead of one, nothing was changed; \
         ask again or give a narrower instruction"
    )]
    Ambiguous {
        /// How many blocks or calls there were.
        blocks: usize,
    },
    /// A fence opened but never closed, usually an answer cut at the token limit.
    #[error(
        "the model's answer was cut off inside a code block, nothing was changed; \
         select less code or raise `maxOutputTokens`"
    )]
    Unterminated,
    /// `replace_selection` arguments that are not `{ "code": string }`.
    #[error(
        "the model called replace_selection with malformed arguments ({0}), nothing was changed; \
         try again"
    )]
    BadArguments(String),
    /// A call to a tool other than `replace_selection` (or `apply_patch` where offered).
    #[error(
        "the model called an unknown tool `{0}` instead of replace_selection, nothing was changed"
    )]
    WrongTool(String),
    /// `apply_patch` arguments that are not `{ "patch": string }`.
    #[error(
        "the model called apply_patch with malformed arguments ({0}), nothing was changed; \
         try again"
    )]
    BadPatchArguments(String),
}

/// The replacement code in the model's answer: its function calls (name,
/// arguments JSON) and its output text. See the module docs for the rule.
pub fn extract_code(function_calls: &[(&str, &str)], text: &str) -> Result<String, AnswerError> {
    match extract_edit(function_calls, text, false)? {
        EditAnswer::Code(code) => Ok(code),
        // unreachable: apply_patch is a wrong tool where it was not offered
        EditAnswer::Patch(_) => Err(AnswerError::WrongTool(APPLY_PATCH.into())),
    }
}

/// Like [`extract_code`], where `patch_offered` also accepts one `apply_patch` call
/// (arguments `{ "patch": string }`) in place of `replace_selection`.
pub fn extract_edit(
    function_calls: &[(&str, &str)],
    text: &str,
    patch_offered: bool,
) -> Result<EditAnswer, AnswerError> {
    if function_calls.is_empty() {
        return code_from_text(text).map(EditAnswer::Code);
    }
    let known = |n: &str| n == REPLACE_SELECTION || (patch_offered && n == APPLY_PATCH);
    if let Some((name, _)) = function_calls.iter().find(|(n, _)| !known(n)) {
        return Err(AnswerError::WrongTool(shorten(name, 64)));
    }
    match function_calls {
        [(name, arguments)] if *name == APPLY_PATCH => {
            string_argument(arguments, APPLY_PATCH, "patch")
                .map(EditAnswer::Patch)
                .map_err(AnswerError::BadPatchArguments)
        }
        [(_, arguments)] => string_argument(arguments, REPLACE_SELECTION, "code")
            .map(EditAnswer::Code)
            .map_err(AnswerError::BadArguments),
        calls => Err(AnswerError::Ambiguous {
            blocks: calls.len(),
        }),
    }
}

/// The one string field `field` of a call's arguments (a JSON object); what is wrong
/// otherwise.
fn string_argument(arguments: &str, tool: &str, field: &str) -> Result<String, String> {
    if arguments.trim().is_empty() {
        return Err("empty arguments".into());
    }
    let value: Value =
        serde_json::from_str(arguments).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(mut map) = value else {
        return Err("not a JSON object".into());
    };
    let code = match map.remove(field) {
        Some(Value::String(code)) => code,
        Some(other) => {
            return Err(format!("`{field}` is {}, not a string", json_kind(&other)));
        }
        None => return Err(format!("no `{field}` field")),
    };
    if !map.is_empty() {
        let extra: Vec<&str> = map.keys().map(String::as_str).collect();
        tracing::warn!(tool, fields = ?extra, "a call carried extra fields; ignored");
    }
    Ok(code)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn shorten(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// An opening fence: its character, length and indentation.
struct Fence {
    ch: u8,
    len: usize,
    indent: usize,
}

fn code_from_text(text: &str) -> Result<String, AnswerError> {
    let mut blocks: Vec<String> = Vec::new();
    let mut open: Option<(Fence, String)> = None;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        match open.take() {
            None => {
                if let Some(fence) = opening_fence(body) {
                    open = Some((fence, String::new()));
                }
            }
            Some((fence, mut content)) => {
                if is_closing_fence(body, &fence) {
                    strip_final_line_break(&mut content);
                    blocks.push(content);
                } else {
                    content.push_str(strip_indent(line, fence.indent));
                    open = Some((fence, content));
                }
            }
        }
    }
    if open.is_some() {
        return Err(AnswerError::Unterminated);
    }
    match blocks.len() {
        0 => Err(AnswerError::NoCode),
        1 => Ok(blocks.swap_remove(0)),
        n => Err(AnswerError::Ambiguous { blocks: n }),
    }
}

/// Up to three spaces of indentation, then the fence's run of one character.
fn indent_and_run(line: &str) -> Option<(usize, u8, usize)> {
    let bytes = line.as_bytes();
    let indent = bytes.iter().take_while(|&&b| b == b' ').count();
    if indent > 3 {
        return None;
    }
    let ch = *bytes.get(indent)?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = bytes[indent..].iter().take_while(|&&b| b == ch).count();
    (len >= 3).then_some((indent, ch, len))
}

fn opening_fence(line: &str) -> Option<Fence> {
    let (indent, ch, len) = indent_and_run(line)?;
    let info = &line[indent + len..];
    // A backtick fence's info string may not contain backticks (CommonMark).
    if ch == b'`' && info.contains('`') {
        return None;
    }
    Some(Fence { ch, len, indent })
}

fn is_closing_fence(line: &str, fence: &Fence) -> bool {
    match indent_and_run(line) {
        Some((indent, ch, len)) => {
            ch == fence.ch && len >= fence.len && line[indent + len..].trim().is_empty()
        }
        None => false,
    }
}

/// Remove up to `n` leading spaces (the opening fence's indentation).
fn strip_indent(line: &str, n: usize) -> &str {
    let spaces = line.bytes().take(n).take_while(|&b| b == b' ').count();
    &line[spaces..]
}

fn strip_final_line_break(content: &mut String) {
    if content.ends_with('\n') {
        content.pop();
        if content.ends_with('\r') {
            content.pop();
        }
    } else if content.ends_with('\r') {
        content.pop();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn bad(r: Result<String, AnswerError>) -> bool {
        matches!(r, Err(AnswerError::BadArguments(_)))
    }

    #[test]
    fn function_call_table() {
        let ok = [
            (r#"{"code":"x = 1"}"#, "x = 1"),
            (r#"{"code":""}"#, ""),
            (r#"  {"code":"a\nb\n"}  "#, "a\nb\n"),
            // Unknown extra fields are tolerated and ignored (D-4: the server picks the target).
            (
                r#"{"code":"y","uri":"file:///etc/passwd","range":[0,9]}"#,
                "y",
            ),
        ];
        for (args, want) in ok {
            let calls = [(REPLACE_SELECTION, args)];
            assert_eq!(
                extract_code(&calls, "ignored text ```\nz\n```").unwrap(),
                want
            );
        }
    }

    #[test]
    fn malformed_arguments_are_rejected_never_coerced() {
        // D-3: truncated JSON, trailing comma, non-object, wrong types, empty string.
        let cases = [
            r#"{"code":"x = "#,
            r#"{"code":"x",}"#,
            r#"["x"]"#,
            r#""x""#,
            "null",
            r#"{"code":42}"#,
            r#"{"code":null}"#,
            r#"{"code":["x"]}"#,
            r#"{"text":"x"}"#,
            "{}",
            "",
            "   ",
        ];
        for args in cases {
            assert!(
                bad(extract_code(&[(REPLACE_SELECTION, args)], "")),
                "{args:?}"
            );
        }
    }

    #[test]
    fn several_calls_are_ambiguous_and_other_tools_are_wrong() {
        let two = [
            (REPLACE_SELECTION, r#"{"code":"a"}"#),
            (REPLACE_SELECTION, r#"{"code":"b"}"#),
        ];
        assert_eq!(
            extract_code(&two, ""),
            Err(AnswerError::Ambiguous { blocks: 2 })
        );
        let other = [("write_file", r#"{"path":"/etc/x"}"#)];
        assert_eq!(
            extract_code(&other, ""),
            Err(AnswerError::WrongTool("write_file".into()))
        );
        let mixed = [(REPLACE_SELECTION, r#"{"code":"a"}"#), ("shell", "{}")];
        assert_eq!(
            extract_code(&mixed, ""),
            Err(AnswerError::WrongTool("shell".into()))
        );
    }

    #[test]
    fn fenced_text_table() {
        let cases: [(&str, Result<&str, AnswerError>); 16] = [
            ("", Err(AnswerError::NoCode)),
            ("Looks fine to me.", Err(AnswerError::NoCode)),
            ("Here:\n```rust\nfn a() {}\n```\nDone.", Ok("fn a() {}")),
            ("```\na\n\nb\n```", Ok("a\n\nb")),
            ("~~~python\nx = 1\n~~~", Ok("x = 1")),
            ("````\n```\ninner\n```\n````", Ok("```\ninner\n```")),
            ("```\ncode\n````", Ok("code")),
            ("   ```\n   a\n    b\n   ```", Ok("a\n b")),
            ("```\r\nx\r\ny\r\n```\r\n", Ok("x\r\ny")),
            ("```\n```", Ok("")),
            (
                "    ```\n    not a fence\n    ```",
                Err(AnswerError::NoCode),
            ),
            (
                "```a\n1\n```\ntext\n```b\n2\n```",
                Err(AnswerError::Ambiguous { blocks: 2 }),
            ),
            ("```rust\nfn a() {\n", Err(AnswerError::Unterminated)),
            ("```\na\n```\n```\nb", Err(AnswerError::Unterminated)),
            ("```\na\n~~~", Err(AnswerError::Unterminated)),
            ("inline ``` fence``` only", Err(AnswerError::NoCode)),
        ];
        for (text, want) in cases {
            assert_eq!(extract_code(&[], text), want.map(str::to_owned), "{text:?}");
        }
    }

    #[test]
    fn closing_fence_with_trailing_text_does_not_close() {
        let text = "```\na\n``` not a close\n```";
        assert_eq!(extract_code(&[], text).unwrap(), "a\n``` not a close");
    }

    #[test]
    fn messages_are_actionable() {
        assert!(AnswerError::NoCode.to_string().contains("code"));
        assert!(
            AnswerError::Ambiguous { blocks: 3 }
                .to_string()
                .contains('3')
        );
        assert!(
            AnswerError::Unterminated
                .to_string()
                .contains("maxOutputTokens")
        );
        for e in [
            AnswerError::NoCode,
            AnswerError::Ambiguous { blocks: 2 },
            AnswerError::Unterminated,
            AnswerError::BadArguments("x".into()),
            AnswerError::WrongTool("t".into()),
            AnswerError::BadPatchArguments("x".into()),
        ] {
            assert!(e.to_string().contains("nothing was changed"), "{e}");
        }
    }

    #[test]
    fn apply_patch_counts_only_where_offered() {
        let patch = [(APPLY_PATCH, r#"{"patch":"*** Begin Patch"}"#)];
        assert_eq!(
            extract_edit(&patch, "", true),
            Ok(EditAnswer::Patch("*** Begin Patch".into()))
        );
        assert_eq!(
            extract_edit(&patch, "", false),
            Err(AnswerError::WrongTool(APPLY_PATCH.into()))
        );
        assert_eq!(
            extract_code(&patch, ""),
            Err(AnswerError::WrongTool(APPLY_PATCH.into()))
        );
        let code = [(REPLACE_SELECTION, r#"{"code":"x"}"#)];
        assert_eq!(
            extract_edit(&code, "", true),
            Ok(EditAnswer::Code("x".into()))
        );
        let both = [code[0], patch[0]];
        assert_eq!(
            extract_edit(&both, "", true),
            Err(AnswerError::Ambiguous { blocks: 2 })
        );
        for args in [r#"{"patch":1}"#, r#"{"code":"x"}"#, "", r#"{"patch":"#] {
            let r = extract_edit(&[(APPLY_PATCH, args)], "", true);
            assert!(
                matches!(&r, Err(AnswerError::BadPatchArguments(_))),
                "{args:?}: {r:?}"
            );
            assert!(r.unwrap_err().to_string().contains("apply_patch"));
        }
    }

    #[test]
    fn wrong_tool_name_is_shortened() {
        let name = "x".repeat(500);
        let Err(AnswerError::WrongTool(shown)) = extract_code(&[(&name, "{}")], "") else {
            panic!("expected WrongTool");
        };
        assert!(shown.chars().count() <= 65);
    }
}
