//! Conversions between LSP positions (line + column in a negotiated encoding) and rope
//! char offsets. Every position from a client is clamped, never trusted: a column past
//! the line end means the line end (LSP 3.17), and a column inside a multi-byte
//! character (UTF-8) or a surrogate pair (UTF-16) snaps to a character boundary.

use ropey::{Rope, RopeSlice};

/// The unit in which `Position::character` counts, negotiated once at `initialize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PositionEncoding {
    Utf8,
    #[default]
    Utf16,
    Utf32,
}

impl PositionEncoding {
    /// The LSP wire name (`"utf-8"`, `"utf-16"`, `"utf-32"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Utf16 => "utf-16",
            Self::Utf32 => "utf-32",
        }
    }

    pub fn from_wire(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(Self::Utf8),
            "utf-16" | "utf16" => Some(Self::Utf16),
            "utf-32" | "utf32" => Some(Self::Utf32),
            _ => None,
        }
    }

    /// Preference among what the client offers: UTF-8 (cheapest for a byte-oriented
    /// client), then UTF-32, then UTF-16; UTF-16 when the client offers nothing we know.
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Self {
        let offered: Vec<Self> = offered.into_iter().filter_map(Self::from_wire).collect();
        [Self::Utf8, Self::Utf32, Self::Utf16]
            .into_iter()
            .find(|e| offered.contains(e))
            .unwrap_or(Self::Utf16)
    }
}

/// A position as the client sends it, in the negotiated encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

impl Position {
    pub const fn new(line: u32, character: u32) -> Self {
        Self { line, character }
    }
}

/// Which way a column that falls inside a character moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Snap {
    /// To the start of the character (range starts).
    Back,
    /// Past the character (range ends: Neovim's inclusive-plus-one UTF-8 ends land
    /// inside the last selected character, which the user meant to include).
    Forward,
}

/// Why a position could not be mapped at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("line {line} is past the end of the document ({lines} lines)")]
    LineOutOfRange { line: u32, lines: usize },
}

/// Number of chars in the line terminator ending `line` (0, 1 for LF/CR, 2 for CRLF).
fn terminator_len(line: RopeSlice<'_>) -> usize {
    let n = line.len_chars();
    if n == 0 {
        return 0;
    }
    match line.char(n - 1) {
        '\n' if n >= 2 && line.char(n - 2) == '\r' => 2,
        '\n' | '\r' => 1,
        _ => 0,
    }
}

/// Char offsets of the start of `line` and of its end (before the terminator).
pub fn line_bounds(rope: &Rope, line: usize) -> (usize, usize) {
    let start = rope.line_to_char(line);
    let slice = rope.line(line);
    (start, start + slice.len_chars() - terminator_len(slice))
}

/// Columns are found by walking the line from its start for up to this many chars:
/// cheaper than the three or four lookups in the whole rope it takes otherwise, which
/// an editor's `didChange` per keystroke would pay each time. Longer lines (minified
/// code) use the lookups.
const WALK_LIMIT: usize = 1024;

/// The char offset of column `col` (in `enc` units) of the line starting at char
/// `start`, found by walking its chars; `None` when the line is longer than
/// [`WALK_LIMIT`] and the column is not within it.
fn column_by_walk(
    rope: &Rope,
    start: usize,
    col: usize,
    enc: PositionEncoding,
    snap: Snap,
) -> Option<usize> {
    let mut units = 0usize;
    for (i, c) in rope.chars_at(start).take(WALK_LIMIT).enumerate() {
        if units >= col || c == '\n' || c == '\r' {
            // the column, or the end of the line (a column past it clamps there)
            return Some(start + i);
        }
        let width = match enc {
            PositionEncoding::Utf16 => c.len_utf16(),
            PositionEncoding::Utf8 => c.len_utf8(),
            PositionEncoding::Utf32 => 1,
        };
        if units + width > col {
            // inside the character
            return Some(start + i + usize::from(snap == Snap::Forward));
        }
        units += width;
    }
    // the end of the document within the limit, or a long line
    let walked = rope.len_chars() - start;
    (walked < WALK_LIMIT).then_some(start + walked)
}

/// Maps a client position to a char offset. A line past the end is an error (the
/// caller decides: a change there desynchronises the document, a selection is
/// clamped with [`position_to_char_clamped`]).
pub fn position_to_char(
    rope: &Rope,
    pos: Position,
    enc: PositionEncoding,
    snap: Snap,
) -> Result<usize, PositionError> {
    let line = pos.line as usize;
    if line >= rope.len_lines() {
        return Err(PositionError::LineOutOfRange {
            line: pos.line,
            lines: rope.len_lines(),
        });
    }
    let start = rope.line_to_char(line);
    let col = pos.character as usize;
    // a column within the limit is always reached by then (a char is at least a unit);
    // a larger one is likely on a long line, where the walk would be wasted
    if col <= WALK_LIMIT
        && let Some(offset) = column_by_walk(rope, start, col, enc, snap)
    {
        return Ok(offset);
    }
    let (start, end) = line_bounds(rope, line);
    Ok(column_by_lookup(rope, (start, end), col, enc, snap))
}

/// The char offset of column `col` of the line spanning chars `start..end`, found by
/// unit lookups in the whole rope (any line length).
fn column_by_lookup(
    rope: &Rope,
    (start, end): (usize, usize),
    col: usize,
    enc: PositionEncoding,
    snap: Snap,
) -> usize {
    match enc {
        PositionEncoding::Utf32 => start + col.min(end - start),
        PositionEncoding::Utf16 => {
            let base = rope.char_to_utf16_cu(start);
            let limit = rope.char_to_utf16_cu(end);
            let target = base.saturating_add(col);
            if target >= limit {
                end
            } else {
                let c = rope.utf16_cu_to_char(target);
                if snap == Snap::Forward && rope.char_to_utf16_cu(c) != target {
                    c + 1
                } else {
                    c
                }
            }
        }
        PositionEncoding::Utf8 => {
            let base = rope.char_to_byte(start);
            let limit = rope.char_to_byte(end);
            let target = base.saturating_add(col);
            if target >= limit {
                end
            } else {
                let c = rope.byte_to_char(target);
                if snap == Snap::Forward && rope.char_to_byte(c) != target {
                    c + 1
                } else {
                    c
                }
            }
        }
    }
}

/// Like [`position_to_char`], but a line past the end means the end of the document.
pub fn position_to_char_clamped(
    rope: &Rope,
    pos: Position,
    enc: PositionEncoding,
    snap: Snap,
) -> usize {
    position_to_char(rope, pos, enc, snap).unwrap_or_else(|_| rope.len_chars())
}

/// Maps a char offset (clamped to the document) to a client position.
pub fn char_to_position(rope: &Rope, offset: usize, enc: PositionEncoding) -> Position {
    let offset = offset.min(rope.len_chars());
    let line = rope.char_to_line(offset);
    let start = rope.line_to_char(line);
    let col = match enc {
        PositionEncoding::Utf32 => offset - start,
        PositionEncoding::Utf16 => rope.char_to_utf16_cu(offset) - rope.char_to_utf16_cu(start),
        PositionEncoding::Utf8 => rope.char_to_byte(offset) - rope.char_to_byte(start),
    };
    Position::new(
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use PositionEncoding::*;

    fn p(line: u32, character: u32) -> Position {
        Position::new(line, character)
    }

    #[test]
    fn negotiation_prefers_utf8_then_utf32_then_utf16() {
        assert_eq!(PositionEncoding::negotiate([]), Utf16);
        assert_eq!(PositionEncoding::negotiate(["utf-16"]), Utf16);
        assert_eq!(PositionEncoding::negotiate(["utf-16", "utf-8"]), Utf8);
        assert_eq!(PositionEncoding::negotiate(["utf-32", "utf-16"]), Utf32);
        assert_eq!(PositionEncoding::negotiate(["latin-1"]), Utf16);
    }

    /// (text, position, encoding, snap, expected char offset)
    #[test]
    fn position_to_char_table() {
        let cases: &[(&str, Position, PositionEncoding, Snap, usize)] = &[
            // ASCII, all encodings agree
            ("abc\ndef", p(1, 2), Utf16, Snap::Back, 6),
            ("abc\ndef", p(1, 2), Utf8, Snap::Back, 6),
            ("abc\ndef", p(1, 2), Utf32, Snap::Back, 6),
            // column past the line end clamps before the terminator
            ("abc\ndef", p(0, 99), Utf16, Snap::Back, 3),
            ("abc\r\ndef", p(0, 99), Utf8, Snap::Back, 3),
            ("abc\rdef", p(0, 4), Utf32, Snap::Back, 3),
            ("abc\rdef", p(1, 1), Utf32, Snap::Back, 5),
            // astral: 😂 is 2 UTF-16 units, 4 UTF-8 bytes, 1 char
            ("a😂b", p(0, 3), Utf16, Snap::Back, 2),
            ("a😂b", p(0, 5), Utf8, Snap::Back, 2),
            ("a😂b", p(0, 2), Utf32, Snap::Back, 2),
            // inside the surrogate pair / the UTF-8 sequence
            ("a😂b", p(0, 2), Utf16, Snap::Back, 1),
            ("a😂b", p(0, 2), Utf16, Snap::Forward, 2),
            ("a😂b", p(0, 3), Utf8, Snap::Back, 1),
            ("a😂b", p(0, 3), Utf8, Snap::Forward, 2),
            // CJK: 3 UTF-8 bytes, 1 UTF-16 unit
            ("中文x", p(0, 6), Utf8, Snap::Back, 2),
            ("中文x", p(0, 2), Utf16, Snap::Back, 2),
            // combining mark: e + U+0301 are two chars
            ("e\u{301}x", p(0, 2), Utf16, Snap::Back, 2),
            ("e\u{301}x", p(0, 3), Utf8, Snap::Back, 2),
            // empty document and the line after a final newline
            ("", p(0, 0), Utf16, Snap::Back, 0),
            ("", p(0, 7), Utf8, Snap::Back, 0),
            ("x\n", p(1, 0), Utf16, Snap::Back, 2),
            ("x\r\n", p(1, 3), Utf16, Snap::Back, 3),
        ];
        for (i, (text, pos, enc, snap, want)) in cases.iter().enumerate() {
            let rope = Rope::from_str(text);
            let got = position_to_char(&rope, *pos, *enc, *snap).unwrap();
            assert_eq!(got, *want, "case {i}: {text:?} {pos:?} {enc:?} {snap:?}");
        }
    }

    #[test]
    fn line_past_end_is_an_error_or_clamps_to_eof() {
        let rope = Rope::from_str("a\nb");
        assert!(position_to_char(&rope, p(2, 0), Utf16, Snap::Back).is_err());
        assert_eq!(
            position_to_char_clamped(&rope, p(9, 0), Utf16, Snap::Back),
            3
        );
    }

    #[test]
    fn lone_cr_and_crlf_are_line_breaks_but_vt_and_nel_are_not() {
        let rope = Rope::from_str("a\rb\r\nc\u{b}d\u{85}e");
        assert_eq!(rope.len_lines(), 3);
        assert_eq!(
            position_to_char(&rope, p(2, 2), Utf32, Snap::Back).unwrap(),
            7
        );
    }

    #[test]
    fn char_to_position_round_trips_in_every_encoding() {
        let text = "fn a() {}\r\nlet s = \"naïve 😂 中文\";\r\n\rlast";
        let rope = Rope::from_str(text);
        for enc in [Utf8, Utf16, Utf32] {
            for offset in 0..=rope.len_chars() {
                let pos = char_to_position(&rope, offset, enc);
                let back = position_to_char(&rope, pos, enc, Snap::Back).unwrap();
                // a position between CR and LF is not addressable; it maps to the line end
                let c = if offset > 0 && offset < rope.len_chars() {
                    (rope.char(offset - 1), rope.char(offset))
                } else {
                    (' ', ' ')
                };
                if c == ('\r', '\n') {
                    assert_eq!(back, offset - 1, "{enc:?} offset {offset}");
                } else {
                    assert_eq!(back, offset, "{enc:?} offset {offset} -> {pos:?}");
                }
            }
        }
    }

    #[test]
    fn end_of_a_one_megabyte_line() {
        let line = "é".repeat(1 << 19);
        let rope = Rope::from_str(&line);
        let end = char_to_position(&rope, rope.len_chars(), Utf8);
        assert_eq!(end, p(0, 1 << 20));
        assert_eq!(
            position_to_char(&rope, end, Utf8, Snap::Back).unwrap(),
            1 << 19
        );
    }

    #[test]
    fn a_line_longer_than_the_walk_is_looked_up() {
        let long = format!("{}😀end\nnext", "é".repeat(WALK_LIMIT + 5));
        let rope = Rope::from_str(&long);
        let at = |col, enc| position_to_char(&rope, p(0, col), enc, Snap::Back).unwrap();
        assert_eq!(at(3, Utf16), 3);
        assert_eq!(at(WALK_LIMIT as u32 + 7, Utf16), WALK_LIMIT + 6);
        assert_eq!(at(2 * (WALK_LIMIT as u32 + 5) + 4, Utf8), WALK_LIMIT + 6);
        assert_eq!(at(u32::MAX, Utf32), WALK_LIMIT + 9);
        assert!(column_by_walk(&rope, 0, WALK_LIMIT + 2, Utf32, Snap::Back).is_none());
    }

    #[test]
    fn walking_a_line_agrees_with_lookups_in_the_rope() {
        let rope = Rope::from_str("ab\r\nx😀é\u{301}中\r\r\n😀😀 tail\nlast");
        for line in 0..rope.len_lines() {
            let (start, end) = line_bounds(&rope, line);
            for enc in [Utf8, Utf16, Utf32] {
                for snap in [Snap::Back, Snap::Forward] {
                    for col in 0..30 {
                        assert_eq!(
                            column_by_walk(&rope, start, col, enc, snap),
                            Some(column_by_lookup(&rope, (start, end), col, enc, snap)),
                            "line {line} col {col} {enc:?} {snap:?}"
                        );
                    }
                }
            }
        }
    }
}
