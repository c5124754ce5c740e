use super::*;
use PositionEncoding::*;
use proptest::prelude::*;

fn pos(line: u32, character: u32) -> Position {
    Position::new(line, character)
}

fn change(s: Position, e: Position, text: &str) -> TextChange {
    TextChange {
        range: Some((s, e)),
        text: text.to_owned(),
    }
}

#[test]
fn incremental_changes_in_one_notification_apply_in_order() {
    let mut d = Document::new("abc\ndef\n", 1, "rust");
    let changes = [
        change(pos(1, 0), pos(1, 3), "XYZ"),
        // relative to the text after the first change
        change(pos(1, 3), pos(1, 3), "!"),
        change(pos(0, 0), pos(0, 0), "> "),
    ];
    d.apply_changes(2, &changes, Utf16).unwrap();
    assert_eq!(d.text.to_string(), "> abc\nXYZ!\n");
    assert_eq!(d.version, 2);
}

#[test]
fn a_full_text_change_in_the_middle_resets() {
    let mut d = Document::new("old", 1, "txt");
    let changes = [
        change(pos(0, 0), pos(0, 0), "x"),
        TextChange {
            range: None,
            text: "new\ntext".into(),
        },
        change(pos(1, 4), pos(1, 4), "!"),
    ];
    d.apply_changes(2, &changes, Utf8).unwrap();
    assert_eq!(d.text.to_string(), "new\ntext!");
}

#[test]
fn version_regression_desyncs_until_a_full_change() {
    let mut d = Document::new("a", 5, "txt");
    let err = d.apply_changes(3, &[change(pos(0, 1), pos(0, 1), "b")], Utf16);
    assert!(matches!(err, Err(SyncError::Desynced(_))));
    assert!(matches!(d.status, SyncStatus::Desynced(_)));
    d.apply_changes(
        6,
        &[TextChange {
            range: None,
            text: "fresh".into(),
        }],
        Utf16,
    )
    .unwrap();
    assert_eq!(d.status, SyncStatus::InSync);
}

#[test]
fn line_past_eof_or_end_before_start_desyncs_without_panicking() {
    let mut d = Document::new("a\nb", 1, "txt");
    let err = d.apply_changes(2, &[change(pos(7, 0), pos(7, 1), "x")], Utf16);
    assert!(matches!(err, Err(SyncError::BadRange(_))));
    assert!(matches!(d.status, SyncStatus::Desynced(_)));
    let mut d = Document::new("abc", 1, "txt");
    let err = d.apply_changes(2, &[change(pos(0, 2), pos(0, 1), "x")], Utf16);
    assert!(matches!(err, Err(SyncError::BadRange(_))));
    assert_eq!(d.text.to_string(), "abc", "nothing half-applied");
}

#[test]
fn column_past_line_end_clamps_per_spec() {
    let mut d = Document::new("ab\r\ncd", 1, "txt");
    d.apply_changes(2, &[change(pos(0, 50), pos(0, 60), "!")], Utf16)
        .unwrap();
    assert_eq!(d.text.to_string(), "ab!\r\ncd");
}

#[test]
fn edits_in_each_encoding_around_astral_and_cjk() {
    for (enc, col) in [(Utf8, 5), (Utf16, 3), (Utf32, 2)] {
        let mut d = Document::new("a😂b\n中", 1, "txt");
        d.apply_changes(2, &[change(pos(0, col), pos(0, col), "|")], enc)
            .unwrap();
        assert_eq!(d.text.to_string(), "a😂|b\n中", "{enc:?}");
    }
}

#[test]
fn store_rejects_changes_to_unopened_documents() {
    let store = DocumentStore::new();
    let err = store.change("file:///x", 2, &[], Utf16);
    assert_eq!(err, Err(SyncError::NotOpen("file:///x".into())));
    assert!(store.close("file:///x").is_err());
    store.open("file:///x", "hi", 1, "txt");
    assert_eq!(store.snapshot("file:///x").unwrap().text.to_string(), "hi");
    store.close("file:///x").unwrap();
    assert!(store.snapshot("file:///x").is_none());
}

#[test]
fn store_maps_a_range_through_later_typing() {
    let store = DocumentStore::new();
    store.open("u", "line one\nline two\n", 1, "txt");
    store
        .change("u", 2, &[change(pos(0, 0), pos(0, 0), "// new\n")], Utf16)
        .unwrap();
    let (snap, s, e) = store.map_to_current("u", 1, 9, 17).unwrap();
    assert_eq!(snap.version, 2);
    assert_eq!(snap.text.slice(s..e).to_string(), "line two");
}

// ---------------------------------------------------------------------------------------
// Property test: random edit sequences in each encoding against a plain model.
// ---------------------------------------------------------------------------------------

const ALPHABET: &[char] = &['a', 'b', ' ', 'é', '中', '😂', '\u{301}', '\n', '\r'];

fn units(c: char, enc: PositionEncoding) -> u32 {
    match enc {
        Utf8 => c.len_utf8() as u32,
        Utf16 => c.len_utf16() as u32,
        Utf32 => 1,
    }
}

/// Reference: the LSP position of char offset `at` in `text`, counted by hand.
fn reference_position(text: &[char], at: usize, enc: PositionEncoding) -> Position {
    let (mut line, mut col, mut i) = (0u32, 0u32, 0usize);
    while i < at {
        match text[i] {
            '\r' if text.get(i + 1) == Some(&'\n') && i + 1 < at => {
                line += 1;
                col = 0;
                i += 2;
                continue;
            }
            '\r' | '\n' => {
                line += 1;
                col = 0;
            }
            c => col += units(c, enc),
        }
        i += 1;
    }
    pos(line, col)
}

/// Moves an offset that splits a CRLF pair to before the CR (LSP cannot address it).
fn not_inside_crlf(text: &[char], at: usize) -> usize {
    if at > 0 && at < text.len() && text[at - 1] == '\r' && text[at] == '\n' {
        at - 1
    } else {
        at
    }
}

fn text_strategy(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..max)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_edit_sequences_match_a_string_model(
        initial in text_strategy(40),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), text_strategy(6)), 1..25),
        enc_i in 0usize..3,
    ) {
        let enc = [Utf8, Utf16, Utf32][enc_i];
        let mut model: Vec<char> = initial.chars().collect();
        let mut doc = Document::new(&initial, 0, "txt");
        for (version, (a, b, insert)) in edits.into_iter().enumerate() {
            let (mut s, mut e) = (a.index(model.len() + 1), b.index(model.len() + 1));
            if s > e { std::mem::swap(&mut s, &mut e); }
            let (s, e) = (not_inside_crlf(&model, s), not_inside_crlf(&model, e));
            let range = (reference_position(&model, s, enc), reference_position(&model, e, enc));
            doc.apply_changes(version as i32 + 1, &[change(range.0, range.1, &insert)], enc).unwrap();
            model.splice(s..e, insert.chars());
            prop_assert_eq!(doc.text.to_string(), model.iter().collect::<String>());
        }
        // and the forward conversion agrees with the reference everywhere
        for at in 0..=model.len() {
            let at = not_inside_crlf(&model, at);
            prop_assert_eq!(encoding::char_to_position(&doc.text, at, enc), reference_position(&model, at, enc));
        }
    }
}

/// A job waiting for the editor's `didChange` wakes when it arrives, not by polling
/// out to its deadline (with time paused, a missed wake-up would run to the deadline
/// and return the old version).
#[tokio::test(start_paused = true)]
async fn a_waiting_snapshot_wakes_on_the_change_it_waits_for() {
    let store = std::sync::Arc::new(DocumentStore::new());
    store.open("u", "a\n", 1, "txt");
    store.expect_version("u", 2);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.snapshot_at_least("u", None, deadline).await })
    };
    tokio::task::yield_now().await;
    store
        .change(
            "u",
            2,
            &[TextChange {
                range: None,
                text: "b\n".into(),
            }],
            PositionEncoding::Utf16,
        )
        .unwrap();
    let snap = waiter.await.unwrap().unwrap();
    assert_eq!(snap.version, 2);
    assert!(tokio::time::Instant::now() < deadline);
}
