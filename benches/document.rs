//! Text sync cost: single-character edits at random positions in a 100,000-line
//! document (position conversion included), and position conversion at the end of a
//! 1 MB line, in each encoding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use codex_lsp::document::encoding::{char_to_position, position_to_char};
use codex_lsp::document::{Document, Position, PositionEncoding, Snap, TextChange};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ropey::Rope;

fn big_document() -> String {
    (0..100_000)
        .map(|i| format!("    let value_{i} = compute(\"naïve 😀\", {i});\n"))
        .collect()
}

/// 2,000 (line, column) insertion points spread over the document.
fn edit_points(n: usize) -> Vec<Position> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..n)
        .map(|_| Position::new(rng.u32(0..100_000), rng.u32(0..30)))
        .collect()
}

fn bench(c: &mut Criterion) {
    let text = big_document();
    let points = edit_points(2_000);
    let mut g = c.benchmark_group("document");
    g.sample_size(20);
    for enc in [PositionEncoding::Utf16, PositionEncoding::Utf8] {
        g.bench_function(
            format!("2000_single_char_edits_100k_lines_{}", enc.as_str()),
            |b| {
                b.iter_batched(
                    || Document::new(&text, 1, "rust"),
                    |mut doc| {
                        for (i, p) in points.iter().enumerate() {
                            let change = TextChange {
                                range: Some((*p, *p)),
                                text: "x".into(),
                            };
                            doc.apply_changes(i as i32 + 2, std::slice::from_ref(&change), enc)
                                .unwrap();
                        }
                        doc
                    },
                    BatchSize::LargeInput,
                )
            },
        );
    }
    let long_line = Rope::from_str(&"é😀a".repeat(1 << 18));
    for enc in [
        PositionEncoding::Utf8,
        PositionEncoding::Utf16,
        PositionEncoding::Utf32,
    ] {
        let end = char_to_position(&long_line, long_line.len_chars(), enc);
        g.bench_function(
            format!("position_at_end_of_1mb_line_{}", enc.as_str()),
            |b| {
                b.iter(|| {
                    let off =
                        position_to_char(&long_line, black_box(end), enc, Snap::Back).unwrap();
                    black_box(char_to_position(&long_line, off, enc))
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
