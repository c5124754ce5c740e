//! The server's own overhead per action, end to end: the real binary over stdio, a
//! fake Responses server on loopback answering at once. Measured from sending
//! `workspace/executeCommand` to the `workspace/applyEdit` arriving, for a 50-line and
//! a 2,000-line selection in a 100,000-line file; and ten actions on ten files at once.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::fake::{self, Fake};
use common::{Options, TestClient, range_of};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

/// The test client logs at trace level; a user's server logs at info.
fn quiet(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    env.push(("CODEX_LSP_LOG".into(), "info".into()));
    env
}

fn file() -> String {
    (0..100_000)
        .map(|i| format!("    let v{i} = f({i});\n"))
        .collect()
}

/// The selection's lines with one line in the middle changed, two ways, so that
/// alternating answers always make an edit.
fn answers(sel: &str) -> (String, String) {
    let lines: Vec<&str> = sel.split_inclusive('\n').collect();
    let mid = lines.len() / 2;
    let variant = |tag: &str| {
        let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        l[mid] = format!("    let changed_{tag} = 1;\n");
        l.concat()
    };
    (variant("a"), variant("b"))
}

async fn one_action_overhead(lines: usize, iters: u64) -> Duration {
    let text = file();
    let start_line = 50_000;
    let sel: String = text
        .split_inclusive('\n')
        .skip(start_line)
        .take(lines)
        .collect();
    let (a, b) = answers(&sel);
    let scripts: Vec<_> = (0..iters + 1)
        .map(|i| fake::code(&format!("r{i}"), if i % 2 == 0 { &a } else { &b }))
        .collect();
    let fake = Fake::start(scripts).await;
    let (c, _) = TestClient::start(Options {
        env: fake.env(),
        ..Options::default()
    })
    .await;
    let uri = c.open("src/big.rs", &text, "rust").await;
    let range = json!({"start": {"line": start_line, "character": 0}, "end": {"line": start_line + lines, "character": 0}});
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let before = c.apply_arrivals().len();
        let sent = Instant::now();
        let r = c
            .request("workspace/executeCommand", json!({"command": "codex.runAction", "arguments": [{"uri": uri, "range": range, "action": "refactor"}]}))
            .await
            .unwrap();
        assert_eq!(r["applied"], true, "{r}");
        let arrived = c.apply_arrivals()[before];
        total += arrived - sent;
    }
    c.shutdown().await;
    total
}

async fn ten_files_at_once() -> Duration {
    let text = "fn a() {}\n";
    let fake = Fake::start(vec![fake::code("t", "fn b() {}")]).await;
    let (c, _) = TestClient::start(Options {
        env: fake.env(),
        ..Options::default()
    })
    .await;
    let mut uris = Vec::new();
    for i in 0..10 {
        uris.push(c.open(&format!("src/f{i}.rs"), text, "rust").await);
    }
    let start = Instant::now();
    let mut pending = Vec::new();
    for uri in &uris {
        let (_, rx) = c
            .send_request("workspace/executeCommand", json!({"command": "codex.runAction", "arguments": [{"uri": uri, "range": range_of(text, "fn a() {}"), "action": "refactor"}]}))
            .await;
        pending.push(rx);
    }
    for rx in pending {
        let r = rx.await.unwrap();
        assert_eq!(r["result"]["applied"], true, "{r}");
    }
    let took = start.elapsed();
    for uri in &uris {
        assert!(c.mirror(uri).text.starts_with("fn b() {}"));
    }
    c.shutdown().await;
    took
}

/// 2,000 rapid single-character `didChange`s on a 100,000-line document, written in
/// one go, then a request: the time until the request is answered (which the server
/// does only after applying every change before it).
async fn did_change_burst(iters: u64) -> Duration {
    let text = file();
    let (c, _) = TestClient::start(Options {
        env: quiet(Vec::new()),
        ..Options::default()
    })
    .await;
    let uri = c.open("src/big.rs", &text, "rust").await;
    let mut rng = fastrand::Rng::with_seed(3);
    let mut version = 1;
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let mut burst = Vec::new();
        for _ in 0..2_000 {
            version += 1;
            let pos = json!({"line": rng.u32(0..100_000), "character": rng.u32(0..12)});
            burst.extend(common::frame(&json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
                "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": {"start": pos, "end": pos}, "text": "x"}]}})));
        }
        let start = Instant::now();
        c.write_raw(&burst).await;
        let actions = c
            .request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 4}}, "context": {"diagnostics": []}}))
            .await
            .unwrap();
        total += start.elapsed();
        assert_eq!(
            actions[0]["command"]["arguments"][0]["version"], version,
            "every change applied first"
        );
    }
    c.shutdown().await;
    total
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut g = c.benchmark_group("overhead");
    g.sample_size(20);
    for lines in [50, 2_000] {
        g.bench_function(
            format!("execute_to_apply_edit_{lines}_line_selection_100k_file"),
            |b| b.iter_custom(|iters| rt.block_on(one_action_overhead(lines, iters))),
        );
    }
    g.sample_size(10);
    g.bench_function("did_change_burst_2000_on_100k_lines", |b| {
        b.iter_custom(|iters| rt.block_on(did_change_burst(iters)))
    });
    g.bench_function("ten_actions_on_ten_files_at_once", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(ten_files_at_once());
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
