//! From the model's code to the edit the server sends: normalised to the document's
//! line endings and the selection's shape, checked for hidden characters and secrets,
//! and reduced to minimal char edits inside the selection.

use super::diff::{self, CharEdit};
use super::hidden;
use super::redact::{self, Redactor};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedEdit {
    /// Absolute char offsets into the snapshot text; sorted, disjoint, all inside the
    /// selection.
    pub edits: Vec<CharEdit>,
    /// Things the user is told about alongside the edit.
    pub warnings: Vec<String>,
}

/// The document's line break (its first one), LF when it has none.
pub fn line_ending_of(text: &str) -> &'static str {
    match text.find(['\n', '\r']) {
        Some(i) if text[i..].starts_with("\r\n") => "\r\n",
        Some(i) if text[i..].starts_with('\r') => "\r",
        _ => "\n",
    }
}

/// `at_line_start`: the selection begins at column 0 (only then is dropped
/// indentation restored).
pub fn plan_edit(
    selection: &str,
    selection_start: usize,
    at_line_start: bool,
    code: &str,
    line_ending: &str,
    redactor: &Redactor,
) -> PlannedEdit {
    let mut warnings = Vec::new();
    let (code, stripped) = hidden::strip_hidden(code);
    if !stripped.is_empty() {
        warnings.push(format!(
            "Codex removed hidden characters from the answer before applying it: {}",
            hidden::describe(&stripped)
        ));
    }
    if redact::contains_placeholder(&code) {
        warnings.push(
            "The answer keeps a «REDACTED» placeholder where a secret was; the secret itself \
             was never sent and is not restored — check the edited code."
                .into(),
        );
    }
    let new_secrets: Vec<String> = redactor
        .find_new_secrets(&code)
        .into_iter()
        .filter(|kind| !redactor.find_new_secrets(selection).contains(kind))
        .collect();
    if !new_secrets.is_empty() {
        warnings.push(format!(
            "The answer contains something that looks like a secret ({}); review it before committing.",
            new_secrets.join(", ")
        ));
    }
    let adapted = diff::adapt_replacement(selection, &code, line_ending, at_line_start);
    let edits = diff::minimal_edits(selection, &adapted)
        .into_iter()
        .map(|e| CharEdit {
            start: e.start + selection_start,
            end: e.end + selection_start,
            text: e.text,
        })
        .collect();
    PlannedEdit { edits, warnings }
}

/// The most of a diff preview shown in a consent question.
const PREVIEW_CHARS: usize = 600;

/// A short `-old`/`+new` preview of edits, given as (old text, new text) pairs, so a
/// consent question shows exactly what would be applied (a consent bound to a file
/// name alone is what MCPoison-style attacks abuse).
pub fn preview(changes: &[(String, String)]) -> String {
    let mut out = String::new();
    for (old, new) in changes {
        for l in old.lines().filter(|l| !l.trim().is_empty()) {
            out.push_str(&format!("- {l}\n"));
        }
        for l in new.lines().filter(|l| !l.trim().is_empty()) {
            out.push_str(&format!("+ {l}\n"));
        }
        if old.trim().is_empty() && new.trim().is_empty() {
            out.push_str("(whitespace only)\n");
        }
    }
    if out.chars().count() > PREVIEW_CHARS {
        let cut: String = out.chars().take(PREVIEW_CHARS).collect();
        return format!("{cut}…\n(preview cut; {} changes in all)", changes.len());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn preview_shows_removed_and_added_lines_and_is_bounded() {
        let p = preview(&[("\"a\": 1".into(), "\"a\": 2".into())]);
        assert_eq!(p, "- \"a\": 1\n+ \"a\": 2\n");
        let big = preview(&[(String::new(), "x\n".repeat(1000))]);
        assert!(big.chars().count() < PREVIEW_CHARS + 60 && big.contains("preview cut"));
    }

    use super::*;

    #[test]
    fn line_endings() {
        assert_eq!(line_ending_of("a\r\nb"), "\r\n");
        assert_eq!(line_ending_of("a\rb"), "\r");
        assert_eq!(line_ending_of("a\nb\r\n"), "\n");
        assert_eq!(line_ending_of("one line"), "\n");
    }

    #[test]
    fn only_the_changed_line_is_edited_at_absolute_offsets() {
        let sel = "fn f() {\n    1 + 1\n}\n";
        let p = plan_edit(
            sel,
            100,
            true,
            "fn f() {\n    2\n}\n",
            "\n",
            &Redactor::new(),
        );
        assert!(p.warnings.is_empty());
        assert!(!p.edits.is_empty());
        for e in &p.edits {
            assert!(e.start >= 100 + 13 && e.end <= 100 + 18, "{e:?}");
        }
    }

    #[test]
    fn crlf_document_gets_crlf_code_and_keeps_the_trailing_break() {
        let sel = "a\r\nb\r\n";
        let p = plan_edit(sel, 0, true, "a\nc", "\r\n", &Redactor::new());
        assert_eq!(diff::apply_edits(sel, &p.edits), "a\r\nc\r\n");
    }

    #[test]
    fn hidden_characters_are_stripped_with_a_warning() {
        let p = plan_edit(
            "x = 1\n",
            0,
            true,
            "x = 2\u{202e}\n",
            "\n",
            &Redactor::new(),
        );
        assert_eq!(diff::apply_edits("x = 1\n", &p.edits), "x = 2\n");
        assert!(p.warnings[0].contains("U+202E"), "{:?}", p.warnings);
    }

    #[test]
    fn placeholders_are_kept_and_warned_about() {
        let p = plan_edit(
            "k = 1\n",
            0,
            true,
            "k = \"«REDACTED:openai-key#1»\"\n",
            "\n",
            &Redactor::new(),
        );
        assert!(diff::apply_edits("k = 1\n", &p.edits).contains("«REDACTED:openai-key#1»"));
        assert!(p.warnings.iter().any(|w| w.contains("placeholder")));
    }
}
