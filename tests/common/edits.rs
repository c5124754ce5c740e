//! D-9: the invariants every `workspace/applyEdit` from the server must hold.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn pos(p: &Value) -> (u64, u64) {
    (
        p["line"].as_u64().unwrap(),
        p["character"].as_u64().unwrap(),
    )
}

/// Checks one `workspace/applyEdit` params object: exactly one `TextDocumentEdit`
/// for `uri` at `version`, no create/rename/delete, no `changes` map, edits sorted
/// and non-overlapping, every `annotationId` defined, and (when given) every edit
/// inside `within`.
pub fn check(params: &Value, uri: &str, version: i64, within: Option<&Value>) {
    let edit = &params["edit"];
    assert!(edit.get("changes").is_none(), "no plain `changes`: {edit}");
    let dc = edit["documentChanges"]
        .as_array()
        .unwrap_or_else(|| panic!("documentChanges: {edit}"));
    assert_eq!(dc.len(), 1, "exactly one TextDocumentEdit: {edit}");
    let tde = &dc[0];
    assert!(
        tde.get("kind").is_none(),
        "no create/rename/delete op: {tde}"
    );
    assert_eq!(tde["textDocument"]["uri"], uri, "the requesting document");
    assert_eq!(
        tde["textDocument"]["version"].as_i64(),
        Some(version),
        "the snapshot's version: {tde}"
    );
    let edits = tde["edits"].as_array().unwrap();
    assert!(!edits.is_empty(), "an applyEdit with no edits");
    let annotations = edit.get("changeAnnotations");
    let mut prev_end: Option<(u64, u64)> = None;
    for e in edits {
        let (s, en) = (pos(&e["range"]["start"]), pos(&e["range"]["end"]));
        assert!(s <= en, "range start after end: {e}");
        if let Some(p) = prev_end {
            assert!(p <= s, "edits overlap or are unsorted: {edits:?}");
        }
        prev_end = Some(en);
        if let Some(w) = within {
            assert!(
                pos(&w["start"]) <= s && en <= pos(&w["end"]),
                "edit {e} outside the selection {w}"
            );
        }
        if let Some(id) = e.get("annotationId") {
            let id = id.as_str().unwrap();
            assert!(
                annotations.and_then(|a| a.get(id)).is_some(),
                "annotation {id} undefined: {edit}"
            );
        }
    }
}
