//! SseDecoder throughput: ~1 MB of small `response.output_text.delta` events fed in
//! 4 KiB chunks, the shape of a real streamed answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_lsp::openai::{SseDecoder, StreamEvent};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn stream_bytes() -> Vec<u8> {
    let mut s = String::new();
    let mut i = 0u64;
    while s.len() < 1_000_000 {
        s.push_str("event: response.output_text.delta\n");
        s.push_str(&format!(
            "data: {{\"type\":\"response.output_text.delta\",\"sequence_number\":{i},\"item_id\":\"msg_68ab0c\",\"output_index\":0,\"content_index\":0,\"delta\":\" token{}\",\"logprobs\":[],\"obfuscation\":\"aB3xYz\"}}\n\n",
            i % 97
        ));
        i += 1;
    }
    s.into_bytes()
}

fn bench(c: &mut Criterion) {
    let bytes = stream_bytes();
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode_1mb_4k_chunks", |b| {
        b.iter(|| {
            let mut d = SseDecoder::new();
            let mut n = 0usize;
            for chunk in bytes.chunks(4096) {
                for ev in d.push(black_box(chunk)).unwrap() {
                    if let StreamEvent::TextDelta(t) = ev {
                        n += t.len();
                    }
                }
            }
            n += d.finish().unwrap().len();
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
