//! What an action works on: the selection as the user made it, widened where the
//! action needs it, and the surrounding lines sent as context.

use ropey::Rope;

use super::actions;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Char offsets into the document.
    pub start: usize,
    pub end: usize,
    /// The user's words: `codex.ask`'s instruction, or a `codex:` comment's.
    pub instruction: Option<String>,
}

fn line_text(rope: &Rope, i: usize) -> Option<String> {
    (i < rope.len_lines()).then(|| rope.line(i).to_string())
}

/// The `codex:` comment in or just above lines `first..=last`, reading only the lines
/// it needs.
pub fn codex_comment_near(rope: &Rope, first: usize, last: usize) -> Option<(usize, String)> {
    actions::find_codex_comment(|i| line_text(rope, i), first, last)
}

/// Widens `[start, end)` for the action:
/// - `instruct`: from the `codex:` comment (when it is above the selection), and the
///   comment's text becomes the instruction;
/// - an empty selection (except `ask`, which inserts there): the cursor's line, its
///   line break included.
pub fn resolve(
    rope: &Rope,
    start: usize,
    end: usize,
    action_id: &str,
    instruction: Option<String>,
) -> Result<Selection, String> {
    let (mut s, mut e) = (start.min(end), end.max(start));
    let mut instruction = instruction;
    if action_id == "instruct" {
        let (first, last) = (rope.char_to_line(s), rope.char_to_line(e));
        let (line, text) = codex_comment_near(rope, first, last)
            .ok_or_else(|| "no `codex:` comment in or just above the selection".to_owned())?;
        s = s.min(rope.line_to_char(line));
        if e <= s {
            e = line_end_with_break(rope, line);
        }
        instruction = Some(text);
    } else if s == e && action_id != "ask" {
        let line = rope.char_to_line(s);
        s = rope.line_to_char(line);
        e = line_end_with_break(rope, line);
    }
    Ok(Selection {
        start: s,
        end: e,
        instruction,
    })
}

fn line_end_with_break(rope: &Rope, line: usize) -> usize {
    if line + 1 < rope.len_lines() {
        rope.line_to_char(line + 1)
    } else {
        rope.len_chars()
    }
}

/// Up to `lines` whole lines before and after the selection (plus the rest of the
/// selection's first and last lines).
pub fn surroundings(rope: &Rope, start: usize, end: usize, lines: usize) -> (String, String) {
    let first = rope.char_to_line(start);
    let last = rope.char_to_line(end);
    let before_start = rope.line_to_char(first.saturating_sub(lines));
    let after_line = last + lines + 1;
    let after_end = if after_line >= rope.len_lines() {
        rope.len_chars()
    } else {
        rope.line_to_char(after_line)
    };
    (
        rope.slice(before_start..start).to_string(),
        rope.slice(end..after_end.max(end)).to_string(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn offset(text: &str, needle: &str) -> usize {
        text[..text.find(needle).unwrap()].chars().count()
    }

    #[test]
    fn an_empty_selection_is_the_cursors_line_except_for_ask() {
        let text = "a\nbb\ncc";
        let rope = Rope::from_str(text);
        let at = offset(text, "bb") + 1;
        let sel = resolve(&rope, at, at, "refactor", None).unwrap();
        assert_eq!(rope.slice(sel.start..sel.end).to_string(), "bb\n");
        let last = resolve(&rope, 6, 6, "document", None).unwrap();
        assert_eq!(
            rope.slice(last.start..last.end).to_string(),
            "cc",
            "last line, no break"
        );
        let ask = resolve(&rope, at, at, "ask", Some("x".into())).unwrap();
        assert_eq!((ask.start, ask.end), (at, at));
    }

    #[test]
    fn instruct_reaches_up_to_the_comment_above() {
        let text = "fn f() {\n    // codex: return two\n\n    1\n}\n";
        let rope = Rope::from_str(text);
        let (s, e) = (offset(text, "    1"), offset(text, "}"));
        let sel = resolve(&rope, s, e, "instruct", None).unwrap();
        assert_eq!(sel.instruction.as_deref(), Some("return two"));
        assert_eq!(
            rope.slice(sel.start..sel.end).to_string(),
            "    // codex: return two\n\n    1\n"
        );
        assert!(resolve(&rope, 0, 3, "instruct", None).is_err());
    }

    #[test]
    fn surroundings_stop_at_the_document_edges() {
        let text: String = (0..10).map(|i| format!("line {i}\n")).collect();
        let rope = Rope::from_str(&text);
        let (s, e) = (offset(&text, "line 4"), offset(&text, "line 6"));
        let (before, after) = surroundings(&rope, s, e, 2);
        assert_eq!(before, "line 2\nline 3\n");
        assert_eq!(after, "line 6\nline 7\nline 8\n");
        let (before, after) = surroundings(&rope, 0, rope.len_chars(), 60);
        assert_eq!((before.as_str(), after.as_str()), ("", ""));
    }

    #[test]
    fn a_huge_selection_is_scanned_for_a_comment_only_at_its_start() {
        let mut text: String = (0..2_000).map(|i| format!("x{i}\n")).collect();
        text.push_str("// codex: far away\n");
        let rope = Rope::from_str(&text);
        assert_eq!(codex_comment_near(&rope, 0, 2_001), None);
        assert!(codex_comment_near(&rope, 1_990, 2_001).is_some());
    }
}
