//! A seeded protocol fuzzer against the real binary: random incremental `didChange`s in
//! each position encoding (CRLF, lone CR, astral and combining characters), malformed
//! frames in between, and now and then an action over the whole document whose request
//! shows the server's text — checked against an independent model of the text.
//!
//! The seed is printed on failure; rerun one with `CODEX_LSP_FUZZ_SEED=<n>`, and widen
//! the budget with `CODEX_LSP_FUZZ_STEPS=<n>` (CI runs the fixed default).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake::{self, Fake};
use common::{ApplyPolicy, Options, TestClient, frame};
use serde_json::{Value, json};

const DEFAULT_SEED: u64 = 0x00C0_DE15;
const DEFAULT_STEPS: usize = 250;
/// Every this many steps the server's text is compared with the model.
const CHECK_EVERY: usize = 40;

const ATOMS: &[&str] = &[
    "a", "b", "z", " ", "\t", "\n", "\r\n", "\r", "é", "e\u{301}", "😀", "𝔘", "中", "ß", "{", "}",
    "fn", "\u{200d}", "Ω",
];

const MALFORMED: &[&[u8]] = &[
    b"42",
    b"\"x\"",
    b"null",
    b"[]",
    b"{}",
    b"{\"method\":\"x\"}",
    b"{\"jsonrpc\":\"1.0\",\"id\":900001,\"method\":\"x\"}",
    b"{\"jsonrpc\":\"2.0\",\"id\":900001.5,\"method\":\"x\"}",
    b"{\"jsonrpc\":\"2.0\",\"id\":18446744073709551616,\"method\":\"x\"}",
    b"{\"jsonrpc\":\"2.0\",\"method\":42}",
    b"{\"jsonrpc\":\"2.0\",\"method\":\"$/unknown\",\"id\":900077}",
    b"{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":\"\xff\xfe\"}",
    b"{not json",
];

#[derive(Clone, Copy, Debug)]
enum Enc {
    Utf8,
    Utf16,
    Utf32,
}

impl Enc {
    fn name(self) -> &'static str {
        match self {
            Enc::Utf8 => "utf-8",
            Enc::Utf16 => "utf-16",
            Enc::Utf32 => "utf-32",
        }
    }
    fn units(self, c: char) -> usize {
        match self {
            Enc::Utf8 => c.len_utf8(),
            Enc::Utf16 => c.len_utf16(),
            Enc::Utf32 => 1,
        }
    }
}

/// Char offsets where a position may stand: not between the `\r` and `\n` of a CRLF
/// (no line/character pair names that spot).
fn boundaries(text: &[char]) -> Vec<usize> {
    (0..=text.len())
        .filter(|&i| !(i > 0 && text[i - 1] == '\r' && text.get(i) == Some(&'\n')))
        .collect()
}

/// The LSP position of char offset `at`: lines end at `\n`, `\r\n` or a lone `\r`.
fn position(text: &[char], at: usize, enc: Enc) -> Value {
    let (mut line, mut col) = (0u64, 0usize);
    let mut i = 0;
    while i < at {
        match text[i] {
            '\r' if text.get(i + 1) == Some(&'\n') => {
                line += 1;
                col = 0;
                i += 2;
                continue;
            }
            '\r' | '\n' => {
                line += 1;
                col = 0;
            }
            c => col += enc.units(c),
        }
        i += 1;
    }
    json!({"line": line, "character": col})
}

/// The char offset of an LSP position (clamped to the line, as the spec says).
fn offset(text: &[char], pos: &Value, enc: Enc) -> usize {
    let (line, col) = (
        pos["line"].as_u64().unwrap(),
        pos["character"].as_u64().unwrap(),
    );
    let mut i = 0;
    let mut l = 0;
    while l < line && i < text.len() {
        match text[i] {
            '\r' if text.get(i + 1) == Some(&'\n') => {
                i += 2;
                l += 1;
            }
            '\r' | '\n' => {
                i += 1;
                l += 1;
            }
            _ => i += 1,
        }
    }
    let mut units = 0u64;
    while i < text.len() && units < col && text[i] != '\r' && text[i] != '\n' {
        units += enc.units(text[i]) as u64;
        i += 1;
    }
    i
}

/// `model` after the one-document edit of a `workspace/applyEdit`'s params.
fn apply(model: &[char], params: &Value, enc: Enc) -> Vec<char> {
    let edits = params["edit"]["documentChanges"][0]["edits"]
        .as_array()
        .unwrap();
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                offset(model, &e["range"]["start"], enc),
                offset(model, &e["range"]["end"], enc),
                e["newText"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    spans.sort_by_key(|s| s.0);
    let mut out = model.to_vec();
    for (s, e, t) in spans.into_iter().rev() {
        out.splice(s..e, t.chars());
    }
    out
}

fn random_text(rng: &mut fastrand::Rng, max_atoms: usize) -> String {
    (0..rng.usize(0..=max_atoms))
        .map(|_| ATOMS[rng.usize(..ATOMS.len())])
        .collect()
}

/// What the server holds, read from the request of an explain over the whole text.
fn sent_selection(body: &Value) -> String {
    let text = body["input"].as_array().unwrap().last().unwrap()["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = text.find("<selection>\n").unwrap() + "<selection>\n".len();
    let end = text.rfind("</selection>").unwrap();
    text[start..end].to_owned()
}

async fn fuzz_one(enc: Enc, seed: u64, steps: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    // one line, indented (never re-indented), no hidden characters: the edit of the
    // selection is exactly this text plus the selection's own trailing line break
    let code = format!(
        " {}",
        (0..6)
            .map(|_| ["x", "é", "😀", "中", "Ω", "e\u{301}"][rng.usize(..6)])
            .collect::<String>()
    );
    let fake = Fake::start(vec![fake::text_and_code("fz", "Looks fine.", &code)]).await;
    let mut caps = common::vscode_capabilities();
    caps["general"]["positionEncodings"] = json!([enc.name()]);
    caps["window"]["showDocument"] = json!({"support": false});
    let (mut c, init) = TestClient::start(Options {
        env: fake.env(),
        capabilities: caps,
        ..Options::default()
    })
    .await;
    assert_eq!(init["capabilities"]["positionEncoding"], enc.name());
    let mut model: Vec<char> = random_text(&mut rng, 60).chars().collect();
    let initial: String = model.iter().collect();
    let uri = c.open("src/fuzz.txt", &initial, "plaintext").await;
    // the editor refuses every edit, so the text stays the model's; the edit sent is
    // checked against the model instead
    c.script(|s| s.apply = ApplyPolicy::Refuse("fuzz: checked, not applied".into()));
    let mut asks = 0;
    let mut version = 1;
    let mut checks = 0;
    for step in 0..steps {
        let ctx = format!("seed {seed} ({}), step {step}", enc.name());
        match rng.u8(0..100) {
            // malformed frames between valid messages
            0..=7 => {
                let body = MALFORMED[rng.usize(..MALFORMED.len())];
                let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
                bytes.extend_from_slice(body);
                c.write_raw(&bytes).await;
            }
            // an edit action on a random range: the edit it sends must, applied to the
            // model in this encoding, replace exactly that range by the code
            8..=11 => {
                let b = boundaries(&model);
                let (mut s, mut e) = (b[rng.usize(..b.len())], b[rng.usize(..b.len())]);
                if s > e {
                    std::mem::swap(&mut s, &mut e);
                }
                if s == e {
                    continue; // an empty range acts on the cursor's line
                }
                let range =
                    json!({"start": position(&model, s, enc), "end": position(&model, e, enc)});
                let r = c
                    .request(
                        "workspace/executeCommand",
                        json!({"command": "codex.ask", "arguments": [{"uri": uri, "range": range,
                               "instruction": "rewrite"}]}),
                    )
                    .await;
                let selection: String = model[s..e].iter().collect();
                let sent = c.server_requests("workspace/applyEdit");
                if selection.trim_end_matches(['\r', '\n']) == code {
                    continue; // unchanged: nothing to apply
                }
                assert!(r.is_ok(), "{ctx}: ask failed: {r:?}");
                asks += 1;
                assert_eq!(sent.len(), asks, "{ctx}: one applyEdit per ask");
                let mut expected = model[..s].to_vec();
                expected.extend(code.chars());
                for brk in ["\r\n", "\n", "\r"] {
                    if selection.ends_with(brk) {
                        expected.extend(brk.chars());
                        break;
                    }
                }
                expected.extend_from_slice(&model[e..]);
                let got = apply(&model, sent.last().unwrap(), enc);
                assert_eq!(
                    got.iter().collect::<String>(),
                    expected.iter().collect::<String>(),
                    "{ctx}: the edit for {range} does not do what the model says"
                );
            }
            // an incremental change of one to three ranges
            _ => {
                let n = rng.usize(1..=3);
                let mut changes = Vec::new();
                for _ in 0..n {
                    let b = boundaries(&model);
                    let (mut s, mut e) = (b[rng.usize(..b.len())], b[rng.usize(..b.len())]);
                    if s > e {
                        std::mem::swap(&mut s, &mut e);
                    }
                    let insert = random_text(&mut rng, 4);
                    changes.push(json!({
                        "range": {"start": position(&model, s, enc), "end": position(&model, e, enc)},
                        "text": insert,
                    }));
                    model.splice(s..e, insert.chars());
                }
                version += 1;
                c.send(json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
                    "params": {"textDocument": {"uri": uri, "version": version},
                               "contentChanges": changes}}))
                    .await;
            }
        }
        if step % CHECK_EVERY == CHECK_EVERY - 1 || step + 1 == steps {
            let end = position(&model, model.len(), enc);
            let whole = json!({"start": {"line": 0, "character": 0}, "end": end});
            let r = c
                .request(
                    "workspace/executeCommand",
                    json!({"command": "codex.explain", "arguments": [{"uri": uri, "range": whole}]}),
                )
                .await;
            assert!(r.is_ok(), "{ctx}: explain failed: {r:?}");
            checks += 1;
            let reqs = fake.requests();
            assert_eq!(reqs.len(), checks + asks, "{ctx}");
            let mut expected: String = model.iter().collect();
            if !expected.ends_with('\n') {
                expected.push('\n');
            }
            let seen = sent_selection(&reqs[reqs.len() - 1].body);
            assert_eq!(
                seen, expected,
                "{ctx}: the server's text differs from the model (rerun with CODEX_LSP_FUZZ_SEED={seed})"
            );
        }
    }
    assert!(
        steps < 100 || asks > 0,
        "{seed}: the budget ran no edit action"
    );
    assert!(
        c.child.try_wait().unwrap().is_none(),
        "seed {seed}: the server died"
    );
    assert_eq!(c.shutdown().await, 0, "seed {seed}");
}

fn budget() -> (u64, usize) {
    let seed = std::env::var("CODEX_LSP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let steps = std::env::var("CODEX_LSP_FUZZ_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_STEPS);
    (seed, steps)
}

#[tokio::test]
async fn random_sync_and_malformed_frames_utf8() {
    let (seed, steps) = budget();
    fuzz_one(Enc::Utf8, seed, steps).await;
}

#[tokio::test]
async fn random_sync_and_malformed_frames_utf16() {
    let (seed, steps) = budget();
    fuzz_one(Enc::Utf16, seed.wrapping_add(1), steps).await;
}

#[tokio::test]
async fn random_sync_and_malformed_frames_utf32() {
    let (seed, steps) = budget();
    fuzz_one(Enc::Utf32, seed.wrapping_add(2), steps).await;
}

#[test]
fn the_model_puts_lines_where_lsp_does() {
    let t: Vec<char> = "a\r\nb\rc\nd".chars().collect();
    assert_eq!(
        position(&t, 3, Enc::Utf16),
        json!({"line": 1, "character": 0})
    );
    assert_eq!(
        position(&t, 5, Enc::Utf16),
        json!({"line": 2, "character": 0})
    );
    assert_eq!(
        position(&t, 8, Enc::Utf16),
        json!({"line": 3, "character": 1})
    );
    assert!(!boundaries(&t).contains(&2), "not inside the CRLF");
    let e: Vec<char> = "😀x".chars().collect();
    assert_eq!(position(&e, 1, Enc::Utf8)["character"], 4);
    assert_eq!(position(&e, 1, Enc::Utf16)["character"], 2);
    assert_eq!(position(&e, 1, Enc::Utf32)["character"], 1);
    let _ = frame(&json!({}));
}
