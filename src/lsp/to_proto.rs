//! Domain -> LSP conversions, in one place.

use ropey::Rope;
use tower_lsp_server::ls_types::{self as lsp};

use crate::document::{PositionEncoding, encoding};

pub fn position(rope: &Rope, offset: usize, enc: PositionEncoding) -> lsp::Position {
    let p = encoding::char_to_position(rope, offset, enc);
    lsp::Position::new(p.line, p.character)
}

pub fn range(rope: &Rope, start: usize, end: usize, enc: PositionEncoding) -> lsp::Range {
    lsp::Range::new(position(rope, start, enc), position(rope, end, enc))
}
