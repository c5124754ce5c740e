//! LSP -> domain conversions, in one place. Positions from the client are clamped,
//! never trusted.

use tower_lsp_server::ls_types::{self as lsp};

use crate::document::{Position, PositionEncoding, Snap, TextChange, encoding};
use ropey::Rope;

pub fn position(p: lsp::Position) -> Position {
    Position::new(p.line, p.character)
}

pub fn text_change(c: lsp::TextDocumentContentChangeEvent) -> TextChange {
    TextChange {
        // `rangeLength` is ignored: clients disagree on its unit (eglot counts code points)
        range: c.range.map(|r| (position(r.start), position(r.end))),
        text: c.text,
    }
}

/// A selection as char offsets: start snaps back, end snaps forward, both clamped, and
/// a reversed range is put in order.
pub fn char_range(rope: &Rope, r: lsp::Range, enc: PositionEncoding) -> (usize, usize) {
    let s = encoding::position_to_char_clamped(rope, position(r.start), enc, Snap::Back);
    let e = encoding::position_to_char_clamped(rope, position(r.end), enc, Snap::Forward);
    if e < s { (e, s) } else { (s, e) }
}

/// The file a `file:` URI names.
pub fn uri_path(uri: &lsp::Uri) -> Option<std::path::PathBuf> {
    uri.to_file_path().map(|p| p.into_owned())
}
