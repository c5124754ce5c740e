//! LSP -> domain conversions, in one place. Positions from the client are clamped,
//! never trusted.

use serde_json::Value;
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

/// The diagnostic a `codex.runAction` carries. Clients send what they were given, not
/// always a whole `Diagnostic`: any object with a string `message` is accepted (the rest
/// defaulted); anything else is no diagnostic.
pub fn diagnostic(v: &Value) -> Option<lsp::Diagnostic> {
    if let Ok(d) = serde_json::from_value::<lsp::Diagnostic>(v.clone()) {
        return Some(d);
    }
    let message = v.get("message")?.as_str()?;
    Some(lsp::Diagnostic {
        message: message.to_owned(),
        ..Default::default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_whole_diagnostic_is_read_whole() {
        let d = diagnostic(&json!({
            "range": {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 5}},
            "severity": 1, "source": "rustc", "message": "mismatched types"
        }))
        .unwrap();
        assert_eq!(d.message, "mismatched types");
        assert_eq!(d.source.as_deref(), Some("rustc"));
        assert_eq!(d.range.start, lsp::Position::new(1, 2));
    }

    #[test]
    fn any_object_with_a_message_is_accepted() {
        for v in [
            json!({"message": "unused variable"}),
            json!({"message": "unused variable", "range": "nonsense", "severity": "high"}),
        ] {
            assert_eq!(diagnostic(&v).unwrap().message, "unused variable");
        }
    }

    #[test]
    fn no_message_is_no_diagnostic() {
        for v in [json!({}), json!({"message": 3}), json!("text"), Value::Null] {
            assert_eq!(diagnostic(&v), None, "{v}");
        }
    }
}
