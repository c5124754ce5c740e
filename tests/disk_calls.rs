//! A code action costs no filesystem call once its file's rules are known, and a
//! changed `.codexignore` is still picked up (issue 13). The server runs in this
//! process over in-memory pipes, so the count read from `codex_lsp::disk` is the
//! server's own; this binary holds this one test, so nothing else adds to it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use codex_lsp::lsp::{self, ServerEnv};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

/// Just enough of an editor: sends requests, answers the server's requests with
/// `null` (which accepts `client/registerCapability`), keeps notifications apart.
struct Editor {
    to_server: DuplexStream,
    from_server: BufReader<DuplexStream>,
    next_id: i64,
}

impl Editor {
    async fn send(&mut self, msg: Value) {
        let body = serde_json::to_vec(&msg).unwrap();
        let head = format!("Content-Length: {}\r\n\r\n", body.len());
        self.to_server.write_all(head.as_bytes()).await.unwrap();
        self.to_server.write_all(&body).await.unwrap();
        self.to_server.flush().await.unwrap();
    }

    async fn read(&mut self) -> Value {
        let mut len = 0;
        loop {
            let mut line = String::new();
            self.from_server.read_line(&mut line).await.unwrap();
            assert!(!line.is_empty(), "the server closed its output");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        self.from_server.read_exact(&mut body).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    /// The answer to `method`, answering the server's own requests meanwhile;
    /// returns the methods of those requests too.
    async fn request(&mut self, method: &str, params: Value) -> (Value, Vec<String>) {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let mut asked = Vec::new();
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(20), self.read())
                .await
                .expect("an answer within 20 s");
            match (msg.get("method").and_then(Value::as_str), msg.get("id")) {
                (Some(m), Some(their_id)) => {
                    asked.push(m.to_owned());
                    let reply = json!({"jsonrpc": "2.0", "id": their_id, "result": null});
                    self.send(reply).await;
                }
                (None, Some(v)) if v == &json!(id) => {
                    assert!(msg.get("error").is_none(), "{method}: {msg}");
                    return (msg["result"].clone(), asked);
                }
                _ => {}
            }
        }
    }
}

fn titles(actions: &Value) -> Vec<String> {
    actions
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_action_makes_no_filesystem_call_after_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let deep = ws.join("a/b/c/d/e/f");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(ws.join(".codexignore"), "*.sql\n").unwrap();
    std::fs::write(ws.join("a/b/.codexignore"), "*.log\n").unwrap();
    let file = deep.join("lib.rs");
    let text = "fn main() {\n    println!(\"hi\");\n}\n";
    std::fs::write(&file, text).unwrap();

    let mut env = ServerEnv::from_env(|k| match k {
        "CODEX_LSP_BASE_URL" => Some("http://127.0.0.1:9/v1".to_owned()),
        _ => None,
    });
    env.chain_file = dir.path().join("state/chains.json");
    let (editor_out, server_in) = tokio::io::duplex(1 << 16);
    let (server_out, editor_in) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(lsp::serve(server_in, server_out, env));
    let mut ed = Editor {
        to_server: editor_out,
        from_server: BufReader::new(editor_in),
        next_id: 0,
    };

    let root = format!("file://{}", ws.display());
    let caps = json!({
        "workspace": {"workspaceEdit": {"documentChanges": true}, "applyEdit": true,
                      "didChangeWatchedFiles": {"dynamicRegistration": true}},
        "textDocument": {"codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "refactor"]}}}},
    });
    ed.request(
        "initialize",
        json!({"processId": null, "rootUri": root, "workspaceFolders": [{"uri": root, "name": "ws"}], "capabilities": caps}),
    )
    .await;
    ed.notify("initialized", json!({})).await;
    let uri = format!("file://{}", file.display());
    ed.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rust", "version": 1, "text": text}}),
    )
    .await;
    let ask = json!({"textDocument": {"uri": uri},
        "range": {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}},
        "context": {"diagnostics": []}});

    // The first answer resolves the file (and the server registers its watcher on
    // `initialized`; a request after the registration has surely seen it answered).
    let mut registered = false;
    for _ in 0..50 {
        let (_, asked) = ed.request("textDocument/codeAction", ask.clone()).await;
        registered |= asked.iter().any(|m| m == "client/registerCapability");
        if registered {
            break;
        }
    }
    assert!(registered, "the server asks to watch .codexignore files");
    // The registration's answer turns caching on in a task of its own: let it run.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (first, _) = ed.request("textDocument/codeAction", ask.clone()).await;
    assert!(!titles(&first).is_empty(), "actions offered: {first}");

    let before = codex_lsp::disk::calls();
    assert!(
        before > 0,
        "resolving the file went through the counted layer"
    );
    for _ in 0..20 {
        let (again, _) = ed.request("textDocument/codeAction", ask.clone()).await;
        assert_eq!(titles(&again), titles(&first));
    }
    assert_eq!(
        codex_lsp::disk::calls(),
        before,
        "20 code actions after the first made filesystem calls"
    );

    // A `.codexignore` change the editor reports is picked up at once.
    std::fs::write(ws.join("a/b/c/.codexignore"), "lib.rs\n").unwrap();
    let changed = format!("file://{}", ws.join("a/b/c/.codexignore").display());
    ed.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": changed, "type": 1}]}),
    )
    .await;
    let (now, _) = ed.request("textDocument/codeAction", ask.clone()).await;
    assert_eq!(now, json!([]), "the new rule excludes the file");
    assert!(
        codex_lsp::disk::calls() > before,
        "the rules were read again"
    );

    // ... and so is its removal.
    std::fs::remove_file(ws.join("a/b/c/.codexignore")).unwrap();
    ed.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": changed, "type": 3}]}),
    )
    .await;
    let (back, _) = ed.request("textDocument/codeAction", ask.clone()).await;
    assert_eq!(titles(&back), titles(&first));

    ed.request("shutdown", Value::Null).await;
    ed.notify("exit", Value::Null).await;
    let code = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server ends after exit")
        .unwrap();
    assert_eq!(code, 0);
}
