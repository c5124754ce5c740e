//! The shape of the edits the server sends, through the real binary: no position
//! inside a CRLF (past a line's end), a selection's own line break kept, no
//! re-indentation of a selection that starts inside a line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake::{self, Fake};
use common::{Options, TestClient, range_of};
use serde_json::{Value, json};

async fn start(fake: &Fake) -> TestClient {
    TestClient::start(Options {
        env: fake.env(),
        ..Options::default()
    })
    .await
    .0
}

async fn refactor(c: &TestClient, uri: &str, text: &str, sel: &str) -> Value {
    c.request(
        "workspace/executeCommand",
        json!({"command": "codex.runAction",
               "arguments": [{"uri": uri, "range": range_of(text, sel), "action": "refactor"}]}),
    )
    .await
    .unwrap()
}

/// Every position of every applyEdit lies within its line's content (a strict client
/// rejects a character past the end of the line, `\r` included).
fn assert_positions_within_lines(c: &TestClient, before: &str) {
    let lines: Vec<&str> = before.split('\n').collect();
    for p in c.server_requests("workspace/applyEdit") {
        for e in p["edit"]["documentChanges"][0]["edits"].as_array().unwrap() {
            for end in ["start", "end"] {
                let pos = &e["range"][end];
                let line = pos["line"].as_u64().unwrap() as usize;
                let content = lines[line].trim_end_matches('\r');
                let len = content.encode_utf16().count() as u64;
                assert!(
                    pos["character"].as_u64().unwrap() <= len,
                    "{end} {pos} is past the end of line {line} ({content:?}): {e}"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_answer_with_lf_in_a_crlf_document_never_cuts_a_crlf() {
    let text = "fn f() {\r\n    let a = 1;\r\n    let b = 2;\r\n}\r\n";
    let sel = "    let a = 1;\r\n    let b = 2;\r\n";
    // the model writes LF and adds a blank line between the two
    let fake = Fake::start(vec![fake::code("e1", "    let a = 1;\n\n    let b = 2;\n")]).await;
    let c = start(&fake).await;
    let uri = c.open("src/crlf.rs", text, "rust").await;
    assert_eq!(refactor(&c, &uri, text, sel).await["applied"], true);
    assert_positions_within_lines(&c, text);
    assert_eq!(
        c.mirror(&uri).text,
        "fn f() {\r\n    let a = 1;\r\n\r\n    let b = 2;\r\n}\r\n"
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_selection_keeps_its_own_line_break_in_a_mixed_document() {
    // line 1 ends with a lone CR, the document's first break is LF
    let text = "a\nb\rc\n";
    let fake = Fake::start(vec![fake::code("e2", "X")]).await;
    let c = start(&fake).await;
    let uri = c.open("src/mixed.txt", text, "plaintext").await;
    // the selection is "b\r" (line 1 with its break)
    let range = json!({"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}});
    let r = c
        .request(
            "workspace/executeCommand",
            json!({"command": "codex.runAction",
                   "arguments": [{"uri": uri, "range": range, "action": "refactor"}]}),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(c.mirror(&uri).text, "a\nX\rc\n");
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_selection_inside_a_line_is_not_reindented() {
    let text = "fn g() {\n    f(a, b);\n}\n";
    let fake = Fake::start(vec![fake::code("e3", "c")]).await;
    let c = start(&fake).await;
    let uri = c.open("src/mid.rs", text, "rust").await;
    assert_eq!(refactor(&c, &uri, text, " b").await["applied"], true);
    assert_eq!(c.mirror(&uri).text, "fn g() {\n    f(a,c);\n}\n");
    assert_eq!(c.shutdown().await, 0);
}
