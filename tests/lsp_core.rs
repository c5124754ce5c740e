//! End to end through the real binary over stdio: lifecycle, capabilities, text sync
//! order, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Options, TestClient, frame, helix_capabilities, range_of, utf16_pos};
use serde_json::{Value, json};

#[tokio::test]
async fn capabilities_are_pinned() {
    let (c, init) = TestClient::start(Options::default()).await;
    let caps = &init["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-16");
    assert_eq!(
        caps["textDocumentSync"],
        json!({"openClose": true, "change": 2})
    );
    assert_eq!(
        caps["codeActionProvider"]["codeActionKinds"],
        json!(["quickfix.codex", "refactor.rewrite.codex"])
    );
    assert_eq!(
        caps["executeCommandProvider"]["commands"],
        json!([
            "codex.runAction",
            "codex.ask",
            "codex.explain",
            "codex.resetChain",
            "codex.chainInfo"
        ])
    );
    assert_eq!(init["serverInfo"]["name"], "codex-lsp");
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn utf8_is_picked_when_offered_first_and_used_for_sync() {
    let (c, init) = TestClient::start(Options {
        capabilities: helix_capabilities(),
        ..Options::default()
    })
    .await;
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-8");
    let uri = c.open("a.rs", "// é😀\nfn f() {}\n", "rust").await;
    // append " codex: hi" after the emoji: byte column 2 + 2 + 4 + 1 ... = 9
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"range": {"start": {"line": 0, "character": 9}, "end": {"line": 0, "character": 9}}, "text": "\n// codex: make it pub"}]}),
    )
    .await;
    let actions = c
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 9}},
                   "context": {"diagnostics": []}}),
        )
        .await
        .unwrap();
    let titles: Vec<&str> = actions
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"Codex: Do “make it pub”"), "{titles:?}");
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn three_hundred_changes_interleaved_with_requests_apply_in_order() {
    let (c, _) = TestClient::start(Options::default()).await;
    let uri = c.open("order.rs", "fn main() {\n}\n", "rust").await;
    let typed: String = "// codex: "
        .chars()
        .chain("ab😀ç中".chars().cycle().take(290))
        .collect();
    let mut waiting = Vec::new();
    for (i, ch) in typed.chars().enumerate() {
        let m = c.mirror(&uri);
        let at = m
            .text
            .find('\n')
            .map(|b| m.text[..b].chars().count())
            .unwrap();
        // type at the end of line 0
        let pos = utf16_pos(&m.text, at);
        c.edit(&uri, json!({"start": pos, "end": pos}), &ch.to_string())
            .await;
        if i % 10 == 0 {
            let (_, rx) = c
                .send_request(
                    "textDocument/codeAction",
                    json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 1}},
                           "context": {"diagnostics": [], "triggerKind": 1}}),
                )
                .await;
            waiting.push((i as i64 + 2, rx));
        }
    }
    for (sent_after, rx) in waiting {
        let msg = tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .unwrap()
            .unwrap();
        let actions = msg["result"].as_array().unwrap().clone();
        let version = actions[0]["command"]["arguments"][0]["version"]
            .as_i64()
            .unwrap();
        assert!(
            version >= sent_after,
            "a request saw version {version}, older than the change sent before it ({sent_after})"
        );
    }
    let final_text = c.mirror(&uri).text;
    let actions = c
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": range_of(&final_text, "}"), "context": {"diagnostics": []}}),
        )
        .await
        .unwrap();
    let args = &actions[0]["command"]["arguments"][0];
    assert_eq!(args["version"], 301);
    let instruct = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["command"]["arguments"][0]["action"] == "instruct")
        .unwrap();
    let want: String = typed["// codex: ".len()..].chars().take(50).collect();
    assert_eq!(instruct["title"], format!("Codex: Do “{want}…”"));
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn bad_input_is_answered_and_never_crashes() {
    let (c, _) = TestClient::start(Options::default()).await;
    // change and close for a document never opened
    c.notify("textDocument/didChange", json!({"textDocument": {"uri": "file:///nowhere.rs", "version": 2}, "contentChanges": [{"text": "x"}]})).await;
    c.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": "file:///nowhere.rs"}}),
    )
    .await;
    // malformed JSON, then a message of the wrong shape
    let truncated = b"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":";
    c.write_raw(format!("Content-Length: {}\r\n\r\n", truncated.len()).as_bytes())
        .await;
    c.write_raw(truncated).await;
    c.notify("textDocument/didChange", json!({"textDocument": "oops"}))
        .await;
    // unknown request method
    let err = c.request("codex/unknown", json!({})).await.unwrap_err();
    assert_eq!(err.code, -32601);
    // wrong params for a known request
    let err = c
        .request("textDocument/codeAction", json!({"textDocument": 5}))
        .await
        .unwrap_err();
    assert_eq!(err.code, -32602);
    // still serving
    let uri = c.open("ok.rs", "fn ok() {}\n", "rust").await;
    let r = c
        .request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": range_of("fn ok() {}\n", "ok"), "context": {"diagnostics": []}}))
        .await
        .unwrap();
    assert!(!r.as_array().unwrap().is_empty());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_desynced_document_refuses_actions_until_reopened() {
    let (c, _) = TestClient::start(Options::default()).await;
    let text = "let a = 1;\n";
    let uri = c.open("d.rs", text, "rust").await;
    // a range on a line that does not exist
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"range": {"start": {"line": 40, "character": 0}, "end": {"line": 41, "character": 0}}, "text": "x"}]}),
    )
    .await;
    let params = json!({"textDocument": {"uri": uri}, "range": range_of(text, "a = 1"), "context": {"diagnostics": []}});
    let err = c
        .request("textDocument/codeAction", params.clone())
        .await
        .unwrap_err();
    assert!(err.message.contains("out of sync"), "{}", err.message);
    c.wait_for("a warning about the desync", |i| {
        i.notifications.iter().any(|(m, p)| {
            m == "window/showMessage" && p["message"].as_str().unwrap_or("").contains("out of sync")
        })
    })
    .await;
    // a version going backwards also desyncs; reopening heals
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rust", "version": 10, "text": text}}),
    )
    .await;
    assert!(
        c.request("textDocument/codeAction", params.clone())
            .await
            .is_ok()
    );
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "// "}]}),
    )
    .await;
    assert!(
        c.request("textDocument/codeAction", params.clone())
            .await
            .is_err()
    );
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 11}, "contentChanges": [{"text": text}]}),
    )
    .await;
    assert!(
        c.request("textDocument/codeAction", params).await.is_ok(),
        "a full-text change heals"
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn requests_before_initialize_and_after_shutdown() {
    let (c, _) = TestClient::start(Options::default()).await;
    let second = c
        .request("initialize", json!({"capabilities": {}}))
        .await
        .unwrap_err();
    assert_eq!(second.code, -32600);
    c.request("shutdown", Value::Null).await.unwrap();
    let after = c
        .request("textDocument/codeAction", json!({}))
        .await
        .unwrap_err();
    assert_eq!(after.code, -32600);
}

#[tokio::test]
async fn exit_without_shutdown_exits_with_1() {
    let (mut c, _) = TestClient::start(Options::default()).await;
    c.notify("exit", Value::Null).await;
    let status = tokio::time::timeout(Duration::from_secs(5), c.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}

#[tokio::test]
async fn closing_stdin_ends_the_process() {
    let (mut c, _) = TestClient::start(Options::default()).await;
    // drop our end of stdin by killing the writer: take it out of the client
    c.write_raw(&frame(&json!({"jsonrpc": "2.0", "method": "$/noise"})))
        .await;
    let stdin_closed = c.close_stdin().await;
    assert!(stdin_closed);
    let status = tokio::time::timeout(Duration::from_secs(5), c.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}

#[tokio::test]
async fn a_lone_surrogate_in_a_change_keeps_the_document_in_sync() {
    let fake = common::fake::Fake::start(vec![common::fake::text("x1", "fine")]).await;
    let (c, _) = TestClient::start(Options {
        env: fake.env(),
        ..Options::default()
    })
    .await;
    let text = "let s = \"\";\nfn after() {}\n";
    let uri = c.open("s.rs", text, "rust").await;
    // what a JS client sends for a string holding half an emoji: one UTF-16 unit
    let body = format!(
        r#"{{"jsonrpc":"2.0","method":"textDocument/didChange","params":{{"textDocument":{{"uri":"{uri}","version":2}},"contentChanges":[{{"range":{{"start":{{"line":0,"character":9}},"end":{{"line":0,"character":9}}}},"text":"\ud83dx"}}]}}}}"#
    );
    c.write_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
        .await;
    // the next edit counts the surrogate as one UTF-16 unit: column 11 is after the x
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"range": {"start": {"line": 0, "character": 11}, "end": {"line": 0, "character": 11}}, "text": "y"}]}),
    )
    .await;
    let r = c
        .request(
            "workspace/executeCommand",
            json!({"command": "codex.explain", "arguments": [{"uri": uri, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}}]}),
        )
        .await
        .expect("still in sync: the action runs");
    assert_eq!(r["text"], "fine");
    let input = fake.requests()[0].body["input"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(input.contains("let s = \"\u{fffd}xy\";"), "{input}");
    assert_eq!(c.shutdown().await, 0);
}

/// A-9: a panic inside a job is one InternalError (without the panic's text), and the
/// server, its documents and the next action are unharmed.
#[tokio::test]
async fn a_panicking_job_costs_one_error_not_the_server() {
    let fake = common::fake::Fake::start(vec![common::fake::code("ok1", "fn two() {}")]).await;
    let mut env = fake.env();
    env.push(("CODEX_LSP_TEST_PANIC_IN_JOB".into(), "1".into()));
    let (c, _) = TestClient::start(Options {
        env,
        ..Options::default()
    })
    .await;
    let text = "fn one() {}\n";
    let uri = c.open("p.rs", text, "rust").await;
    let run = |action: &str| json!({"command": "codex.runAction", "arguments": [{"uri": uri, "range": range_of(text, "fn one() {}"), "action": action}]});
    let err = c
        .request("workspace/executeCommand", run("tests"))
        .await
        .unwrap_err();
    assert_eq!(err.code, -32603);
    assert!(
        err.message.contains("panicked") && !err.message.contains("NOTAKEY"),
        "{}",
        err.message
    );
    assert_eq!(fake.count(), 0);
    let ok = c
        .request("workspace/executeCommand", run("refactor"))
        .await
        .unwrap();
    assert_eq!(ok["applied"], true, "{ok}");
    assert_eq!(c.mirror(&uri).text, "fn two() {}\n");
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_change_that_cannot_be_read_desyncs_the_document_and_it_is_said_once() {
    // a key, so the action gets as far as the document (port 9: nothing is sent)
    let (c, _) = TestClient::start(Options {
        env: vec![
            ("CODEX_LSP_API_KEY".into(), common::fake::SENTINEL.into()),
            ("CODEX_LSP_BASE_URL".into(), "http://127.0.0.1:9/v1".into()),
        ],
        ..Options::default()
    })
    .await;
    let text = "alpha = 1\nbeta = 2\n";
    let uri = c.open("s.py", text, "python").await;
    // rangeLength -1 and a character past u32: the notification cannot be read at all
    for (version, change) in [
        (
            2,
            json!({"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 4}}, "rangeLength": -1, "text": "GAMMA"}),
        ),
        (
            3,
            json!({"range": {"start": {"line": 0, "character": 4294967296u64}, "end": {"line": 0, "character": 4294967296u64}}, "text": "x"}),
        ),
    ] {
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}),
        )
        .await;
    }
    // the next valid change (a version gap) must not be applied on top as if in sync
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 4}, "contentChanges": [{"range": {"start": {"line": 1, "character": 5}, "end": {"line": 1, "character": 5}}, "text": "2"}]}),
    )
    .await;
    let cursor_move = json!({"textDocument": {"uri": uri}, "range": range_of(text, "beta"),
                            "context": {"diagnostics": [], "triggerKind": 2}});
    for _ in 0..3 {
        let r = c
            .request("textDocument/codeAction", cursor_move.clone())
            .await
            .unwrap();
        assert_eq!(r, json!([]), "no actions on a document out of sync");
    }
    let run = json!({"command": "codex.ask", "arguments": [{"uri": uri,
                     "range": range_of(text, "beta = 2"), "instruction": "upper-case it"}]});
    let err = c
        .request("workspace/executeCommand", run)
        .await
        .unwrap_err();
    assert!(err.message.contains("out of sync"), "{}", err.message);
    c.wait_for("the warning", |i| {
        i.notifications.iter().any(|(m, p)| {
            m == "window/showMessage"
                && p["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("could not be read")
        })
    })
    .await;
    let warnings = c
        .notifications("window/showMessage")
        .into_iter()
        .filter(|p| {
            p["message"]
                .as_str()
                .unwrap_or("")
                .contains("is out of sync (")
        })
        .count();
    assert_eq!(warnings, 1, "the desync is announced once");
    // reopening heals
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 9, "text": text}}),
    )
    .await;
    let r = c
        .request("textDocument/codeAction", cursor_move.clone())
        .await
        .unwrap();
    assert!(r.as_array().is_some());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_did_change_that_is_not_utf8_puts_the_document_out_of_sync() {
    let (c, _) = TestClient::start(Options {
        env: vec![
            ("CODEX_LSP_API_KEY".into(), common::fake::SENTINEL.into()),
            ("CODEX_LSP_BASE_URL".into(), "http://127.0.0.1:9/v1".into()),
        ],
        ..Options::default()
    })
    .await;
    let text = "alpha = 1\n";
    let uri = c.open("u.py", text, "python").await;
    let mut body = format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didChange\",\"params\":{{\"textDocument\":{{\"uri\":\"{uri}\",\"version\":2}},\"contentChanges\":[{{\"range\":{{\"start\":{{\"line\":0,\"character\":0}},\"end\":{{\"line\":0,\"character\":0}}}},\"text\":\""
    )
    .into_bytes();
    body.extend_from_slice(b"\xff\xfe\"}]}}");
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(&body);
    c.write_raw(&bytes).await;
    c.wait_message("not UTF-8").await;
    let run = json!({"command": "codex.ask", "arguments": [{"uri": uri,
                     "range": range_of(text, "alpha"), "instruction": "rename"}]});
    let err = c
        .request("workspace/executeCommand", run)
        .await
        .unwrap_err();
    assert!(err.message.contains("out of sync"), "{}", err.message);
    assert_eq!(c.shutdown().await, 0);
}
