//! Turning the model's replacement into minimal edits, and adapting the replacement
//! to the document (line endings, a kept trailing line break, dropped indentation).
//!
//! The helix pattern (`helix-core/src/diff.rs`) with `similar`: a line diff first,
//! then a character diff inside each replaced hunk unless the hunk is big or very
//! unbalanced. Offsets are `char` indices (Unicode scalar values) into the old
//! text — the unit ropey 1.x uses — so unchanged lines are never rewritten.

use std::time::{Duration, Instant};

use similar::{Algorithm, DiffOp, capture_diff_slices_deadline};

/// Hunks with more lines than this on either side are replaced whole.
const MAX_CHAR_DIFF_LINES: usize = 200;
/// Hunks whose sides differ in size by more than this factor are replaced whole.
const MAX_UNBALANCE: usize = 8;
/// Bound on the time spent in each diff; past it `similar` returns a coarser diff.
const DIFF_TIMEOUT: Duration = Duration::from_millis(200);

/// Replace the chars `start..end` of the old text by `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharEdit {
    /// First replaced char (inclusive), as a char index into the old text.
    pub start: usize,
    /// End of the replaced chars (exclusive), as a char index into the old text.
    pub end: usize,
    /// The new text.
    pub text: String,
}

/// Minimal edits that turn `old` into `new`: sorted, non-overlapping, never empty
/// no-ops, adjacent edits merged; lines the diff keeps are never inside an edit.
pub fn minimal_edits(old: &str, new: &str) -> Vec<CharEdit> {
    if old == new {
        return Vec::new();
    }
    let old_lines = split_lines(old);
    let new_lines = split_lines(new);
    let deadline = Instant::now().checked_add(DIFF_TIMEOUT);
    let ops = capture_diff_slices_deadline(Algorithm::Myers, &old_lines, &new_lines, deadline);

    let old_starts = char_starts(&old_lines);
    let new_byte_starts = byte_starts(&new_lines);
    let old_byte_starts = byte_starts(&old_lines);

    let mut edits = Vec::new();
    for (old_range, new_range) in line_hunks(&ops) {
        let old_seg = &old[old_byte_starts[old_range.start]..old_byte_starts[old_range.end]];
        let new_seg = &new[new_byte_starts[new_range.start]..new_byte_starts[new_range.end]];
        let base = old_starts[old_range.start];
        if wants_char_diff(old_range.len(), new_range.len(), old_seg, new_seg) {
            char_edits(old_seg, new_seg, base, &mut edits);
        } else {
            edits.push(CharEdit {
                start: base,
                end: base + old_seg.chars().count(),
                text: new_seg.to_owned(),
            });
        }
    }
    merge_adjacent(edits)
}

/// Apply `edits` (sorted, non-overlapping char ranges into `old`) and return the
/// new text. Out-of-range offsets are clamped rather than panicking.
pub fn apply_edits(old: &str, edits: &[CharEdit]) -> String {
    let mut byte_of: Vec<usize> = old.char_indices().map(|(i, _)| i).collect();
    byte_of.push(old.len());
    let last = byte_of.len() - 1;
    let mut out = old.to_owned();
    for edit in edits.iter().rev() {
        let start = byte_of[edit.start.min(last)];
        let end = byte_of[edit.end.min(last)].max(start);
        out.replace_range(start..end, &edit.text);
    }
    out
}

/// Fit the model's `code` to the selection it replaces and to the document:
///
/// * empty code stays empty (it deletes the selection, line break included);
/// * line endings become `doc_line_ending` (`"\n"`, `"\r\n"` or `"\r"`);
/// * when every non-blank line of the selection shares a leading indentation, and
///   the selection's first line starts with it, but the code's lines have no
///   common indentation at all, the code is re-indented by that prefix (the model
///   dropped it); code that is already indented is left alone;
///   — only when the selection starts at the beginning of a line (`at_line_start`):
///   a selection inside a line has no indentation of its own;
/// * when the selection ends with a line break and the code does not, the
///   selection's own line break is appended (a Helix `x` selection includes it).
///
/// Line breaks follow the selection's own (its first), else the document's, so a
/// line's terminator in a mixed document does not change. A trailing line break in
/// the code is kept even when the selection has none.
pub fn adapt_replacement(
    selection: &str,
    code: &str,
    doc_line_ending: &str,
    at_line_start: bool,
) -> String {
    if code.is_empty() {
        return String::new();
    }
    let eol = split_lines(selection)
        .first()
        .and_then(|l| terminator(l))
        .unwrap_or(doc_line_ending);
    let mut out = normalise_line_endings(code, eol);

    let sel_indent = common_indent(selection);
    if at_line_start && !sel_indent.is_empty() && common_indent(&out).is_empty() {
        out = reindent(&out, sel_indent);
    }

    if let Some(last) = split_lines(selection).last().and_then(|l| terminator(l))
        && !ends_with_line_break(&out)
    {
        out.push_str(last);
    }
    out
}

/// The line break ending `line` (one piece of [`split_lines`]), if any.
fn terminator(line: &str) -> Option<&'static str> {
    if line.ends_with("\r\n") {
        Some("\r\n")
    } else if line.ends_with('\n') {
        Some("\n")
    } else if line.ends_with('\r') {
        Some("\r")
    } else {
        None
    }
}

/// Split after each line terminator (`\n`, `\r\n` or a lone `\r`); the pieces
/// concatenate back to `text`. The last piece has no terminator when `text` ends
/// without one; empty text has no lines.
fn split_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = match bytes[i] {
            b'\n' => Some(i + 1),
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => Some(i + 2),
            b'\r' => Some(i + 1),
            _ => None,
        };
        if let Some(end) = end {
            lines.push(&text[start..end]);
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// `starts[i]` is the char offset of line `i`; the last entry is the total.
fn char_starts(lines: &[&str]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(lines.len() + 1);
    let mut acc = 0;
    starts.push(0);
    for line in lines {
        acc += line.chars().count();
        starts.push(acc);
    }
    starts
}

/// `starts[i]` is the byte offset of line `i`; the last entry is the total.
fn byte_starts(lines: &[&str]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(lines.len() + 1);
    let mut acc = 0;
    starts.push(0);
    for line in lines {
        acc += line.len();
        starts.push(acc);
    }
    starts
}

type Hunk = (std::ops::Range<usize>, std::ops::Range<usize>);

/// Runs of consecutive non-equal ops, as (old range, new range).
fn line_hunks(ops: &[DiffOp]) -> Vec<Hunk> {
    let mut hunks: Vec<Hunk> = Vec::new();
    let mut current: Option<Hunk> = None;
    for op in ops {
        let (tag, old, new) = op.as_tag_tuple();
        if tag == similar::DiffTag::Equal {
            if old.is_empty() {
                continue;
            }
            hunks.extend(current.take());
            continue;
        }
        current = Some(match current {
            Some((o, n)) => (o.start..old.end, n.start..new.end),
            None => (old, new),
        });
    }
    hunks.extend(current);
    hunks
}

fn wants_char_diff(old_lines: usize, new_lines: usize, old: &str, new: &str) -> bool {
    if old.is_empty() || new.is_empty() {
        return false;
    }
    if old_lines > MAX_CHAR_DIFF_LINES || new_lines > MAX_CHAR_DIFF_LINES {
        return false;
    }
    let (a, b) = (old.len(), new.len());
    a.max(b) <= a.min(b).saturating_mul(MAX_UNBALANCE)
}

/// A character diff in which `\r\n` is one unit, so no edit starts or ends between
/// the two: an offset there is a position past the end of a line, which a strict
/// client rejects and a lenient one clamps, joining two lines.
fn char_edits(old: &str, new: &str, base: usize, out: &mut Vec<CharEdit>) {
    let old_units = units(old);
    let new_units = units(new);
    let deadline = Instant::now().checked_add(DIFF_TIMEOUT);
    let ops = capture_diff_slices_deadline(Algorithm::Myers, &old_units, &new_units, deadline);
    // char offset of each old unit (a CRLF unit is two chars)
    let mut old_at = Vec::with_capacity(old_units.len() + 1);
    let mut acc = 0;
    old_at.push(0);
    for u in &old_units {
        acc += u.chars().count();
        old_at.push(acc);
    }
    for (o, n) in line_hunks(&ops) {
        out.push(CharEdit {
            start: base + old_at[o.start],
            end: base + old_at[o.end],
            text: new_units[n].concat(),
        });
    }
}

/// `text` as chars, except that each `\r\n` is a single unit.
fn units(text: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(text.len());
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let mut end = i + c.len_utf8();
        if c == '\r' && iter.peek().is_some_and(|(_, n)| *n == '\n') {
            iter.next();
            end += 1;
        }
        out.push(&text[i..end]);
    }
    out
}

fn merge_adjacent(edits: Vec<CharEdit>) -> Vec<CharEdit> {
    let mut merged: Vec<CharEdit> = Vec::with_capacity(edits.len());
    for edit in edits {
        if edit.start == edit.end && edit.text.is_empty() {
            continue;
        }
        match merged.last_mut() {
            Some(prev) if prev.end == edit.start => {
                prev.end = edit.end;
                prev.text.push_str(&edit.text);
            }
            _ => merged.push(edit),
        }
    }
    merged
}

fn normalise_line_endings(text: &str, eol: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in split_lines(text) {
        let body = line.trim_end_matches(['\r', '\n']);
        out.push_str(body);
        if body.len() != line.len() {
            out.push_str(eol);
        }
    }
    out
}

fn ends_with_line_break(text: &str) -> bool {
    text.ends_with('\n') || text.ends_with('\r')
}

fn leading_ws(line: &str) -> &str {
    let body = line.trim_start_matches([' ', '\t']);
    &line[..line.len() - body.len()]
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// The longest whitespace prefix shared by every non-blank line ("" if none).
fn common_indent(text: &str) -> &str {
    let mut common: Option<&str> = None;
    for line in split_lines(text).into_iter().filter(|l| !is_blank(l)) {
        let ws = leading_ws(line);
        common = Some(match common {
            None => ws,
            Some(c) => {
                let n = c
                    .bytes()
                    .zip(ws.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                &c[..n]
            }
        });
    }
    common.unwrap_or("")
}

fn reindent(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len() + prefix.len() * 8);
    for line in split_lines(text) {
        if !is_blank(line) {
            out.push_str(prefix);
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_invariants(old: &str, new: &str, edits: &[CharEdit]) {
        let len = old.chars().count();
        let mut prev_end = 0;
        for (i, e) in edits.iter().enumerate() {
            assert!(
                e.start <= e.end && e.end <= len,
                "edit {i} out of range: {e:?}"
            );
            assert!(
                i == 0 || e.start > prev_end,
                "edits {i} overlap or touch: {edits:?}"
            );
            assert!(e.start != e.end || !e.text.is_empty(), "no-op edit {e:?}");
            let chars: Vec<char> = old.chars().collect();
            for at in [e.start, e.end] {
                let inside_crlf =
                    at > 0 && chars.get(at - 1) == Some(&'\r') && chars.get(at) == Some(&'\n');
                assert!(!inside_crlf, "edit {i} cuts a CRLF at {at}: {edits:?}");
            }
            prev_end = e.end;
        }
        assert_eq!(apply_edits(old, edits), new);
    }

    #[test]
    fn edits_round_trip_table() {
        let cases = [
            ("", ""),
            ("", "abc"),
            ("abc", ""),
            ("a\nb\nc\n", "a\nB\nc\n"),
            ("a\nb", "a\nb\nc"),
            ("a\r\nb\r\n", "a\r\nbb\r\n"),
            ("a\rb\r", "a\nb\n"),
            ("fn f() {\n    1\n}\n", "fn f() {\n    2\n}\n"),
            ("héllo 😀 wörld\n", "hello 😀 world\n"),
            ("e\u{301}\n", "e\u{300}\n"),
            ("x\n", "y\nx\n"),
        ];
        for (old, new) in cases {
            let edits = minimal_edits(old, new);
            check_invariants(old, new, &edits);
        }
    }

    #[test]
    fn identical_text_gives_no_edits() {
        assert!(minimal_edits("same\ntext\n", "same\ntext\n").is_empty());
    }

    #[test]
    fn unchanged_lines_are_never_inside_an_edit() {
        let old = "one\ntwo\nthree\nfour\nfive\n";
        let new = "one\ntwo\nTHREE!\nfour\nfive\n";
        let edits = minimal_edits(old, new);
        let line_start = "one\ntwo\n".chars().count();
        let line_end = line_start + "three".len();
        assert!(!edits.is_empty());
        for e in &edits {
            assert!(
                e.start >= line_start && e.end <= line_end,
                "{e:?} leaves line 3"
            );
        }
        check_invariants(old, new, &edits);
    }

    #[test]
    fn char_offsets_count_scalar_values_not_bytes() {
        let edits = minimal_edits("😀a\n", "😀b\n");
        assert_eq!(
            edits,
            vec![CharEdit {
                start: 1,
                end: 2,
                text: "b".into()
            }]
        );
    }

    #[test]
    fn big_hunk_is_replaced_whole() {
        let old: String = (0..300).map(|i| format!("line {i}\n")).collect();
        let new: String = (0..300).map(|i| format!("LINE {i}\n")).collect();
        let edits = minimal_edits(&old, &new);
        assert_eq!(edits.len(), 1);
        check_invariants(&old, &new, &edits);
    }

    fn arb_text() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "a", "b", "z", " ", "\t", "\n", "\r\n", "\r", "é", "e\u{301}", "😀", "𝔘", "中", "{",
            "}", "fn", "\u{200d}",
        ]);
        prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn applying_edits_yields_new(old in arb_text(), new in arb_text()) {
            let edits = minimal_edits(&old, &new);
            check_invariants(&old, &new, &edits);
        }

        #[test]
        fn applying_edits_to_a_mutation_yields_it(old in arb_text(), at in 0usize..50, ins in arb_text()) {
            let chars: Vec<char> = old.chars().collect();
            let at = at.min(chars.len());
            let new: String = chars[..at].iter().collect::<String>() + &ins
                + &chars[at..].iter().collect::<String>();
            let edits = minimal_edits(&old, &new);
            check_invariants(&old, &new, &edits);
        }
    }

    #[test]
    fn adapt_replacement_table() {
        let cases = [
            // (selection, code, eol, expected, why)
            ("a\n", "", "\n", "", "empty code deletes the line break too"),
            ("a\n", "b", "\n", "b\n", "kept line break"),
            ("a\r\n", "b", "\r\n", "b\r\n", "kept CRLF line break"),
            ("a", "b", "\n", "b", "no line break in selection"),
            ("a\n", "b\n", "\n", "b\n", "code already ends with one"),
            (
                "a\r\nb\r\n",
                "x\ny\n",
                "\r\n",
                "x\r\ny\r\n",
                "LF code in CRLF doc",
            ),
            (
                "a\nb\n",
                "x\r\ny\r",
                "\n",
                "x\ny\n",
                "CRLF and CR code in LF doc",
            ),
            ("a\rb\r", "x\ny", "\r", "x\ry\r", "CR doc"),
            ("a", "x\n", "\n", "x\n", "trailing break in code is kept"),
        ];
        for (sel, code, eol, want, why) in cases {
            assert_eq!(adapt_replacement(sel, code, eol, true), want, "{why}");
        }
    }

    #[test]
    fn dropped_indentation_is_restored() {
        let sel = "    fn a() {\n        x\n    }\n";
        let code = "fn a() {\n    y\n}";
        let want = "    fn a() {\n        y\n    }\n";
        assert_eq!(adapt_replacement(sel, code, "\n", true), want);
    }

    #[test]
    fn dropped_tab_indentation_is_restored_and_blank_lines_stay_blank() {
        let sel = "\tlet a = 1;\n\n\tlet b = 2;\n";
        let code = "let a = 3;\n\nlet b = 4;\n";
        assert_eq!(
            adapt_replacement(sel, code, "\n", true),
            "\tlet a = 3;\n\n\tlet b = 4;\n"
        );
    }

    #[test]
    fn already_indented_code_is_left_alone() {
        let sel = "    x = 1\n    y = 2\n";
        let code = "    x = 10\n    y = 20\n";
        assert_eq!(adapt_replacement(sel, code, "\n", true), code);
        // Code indented differently (by itself) is also not touched.
        let code = "  x = 10\n";
        assert_eq!(adapt_replacement(sel, code, "\n", true), code);
    }

    #[test]
    fn selection_starting_mid_line_is_not_reindented() {
        assert_eq!(adapt_replacement("x + 1", "x + 2", "\n", true), "x + 2");
        assert_eq!(
            adapt_replacement("x\n    y\n", "a\nb\n", "\n", true),
            "a\nb\n"
        );
        // regression: ` b` selected in `f(a, b)` and answered `c` gave `f(a,  c)`
        assert_eq!(adapt_replacement(" b", "c", "\n", false), "c");
        assert_eq!(
            adapt_replacement("  x\n  y\n", "p\nq\n", "\n", false),
            "p\nq\n"
        );
    }

    #[test]
    fn the_selections_own_line_break_is_kept_in_a_mixed_document() {
        // regression: "a\nb\r" + code X gave "a\nX\n": the document's first break
        assert_eq!(adapt_replacement("b\r", "X", "\n", true), "X\r");
        assert_eq!(adapt_replacement("b\r\n", "X\nY", "\n", true), "X\r\nY\r\n");
        assert_eq!(adapt_replacement("b\n", "X", "\r\n", true), "X\n");
    }

    #[test]
    fn no_edit_starts_or_ends_inside_a_crlf() {
        // regression: the char diff cut between \r and \n (a position past the line end)
        for (old, new) in [
            ("a\r\nb", "a\nb"),
            ("a\r\nb", "a\rb"),
            ("x\r\n", "x\r\r\n"),
            ("ab\r\ncd", "ab\r\n\ncd"),
            ("q\r\n\r\n", "q\r\n"),
        ] {
            check_invariants(old, new, &minimal_edits(old, new));
        }
    }
}
