//! End to end through the real binary over stdio, at the frame level: messages the
//! framework cannot decode, `$/` requests, the shutdown/exit lifecycle, `didSave`.
//! `tests/common`'s client drops responses whose id is null, so this file has its own
//! small raw client that keeps every frame the server writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

const TIMEOUT: Duration = Duration::from_secs(10);

struct Raw {
    child: Child,
    stdin: Option<ChildStdin>,
    frames: mpsc::UnboundedReceiver<Value>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    _dir: tempfile::TempDir,
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

async fn read_frame<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header line");
        assert!(
            name.eq_ignore_ascii_case("content-length"),
            "unexpected header {line:?}"
        );
        len = value.trim().parse::<usize>().ok();
    }
    let mut body = vec![0; len.expect("Content-Length")];
    r.read_exact(&mut body).await.ok()?;
    Some(serde_json::from_slice(&body).expect("every frame the server writes is JSON"))
}

impl Raw {
    /// Spawns the binary and initializes it.
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_codex-lsp"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .env_remove("OPENAI_API_KEY")
            .env_remove("CODEX_LSP_API_KEY")
            .env_remove("CODEX_LSP_BASE_URL")
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("HOME", dir.path())
            .env("CODEX_LSP_LOG", "info")
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let stderr = child.stderr.take().unwrap();
        let (tx, frames) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(v) = read_frame(&mut stdout).await {
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let err = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let e = err.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let mut b = e.lock().unwrap();
                b.push_str(&l);
                b.push('\n');
            }
        });
        let mut s = Self {
            child,
            stdin,
            frames,
            stderr: err,
            _dir: dir,
        };
        let root = format!("file://{}", ws.display());
        let init = s
            .call(
                json!(1000),
                "initialize",
                json!({"processId": null, "rootUri": root, "capabilities": {}}),
            )
            .await;
        assert!(init.get("result").is_some(), "{init}");
        s.send(&json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
            .await;
        s
    }

    async fn write(&mut self, bytes: &[u8]) {
        let w = self.stdin.as_mut().expect("stdin open");
        w.write_all(bytes).await.unwrap();
        w.flush().await.unwrap();
    }

    async fn send(&mut self, msg: &Value) {
        self.write(&framed(&serde_json::to_vec(msg).unwrap())).await;
    }

    /// The next frame the server writes.
    async fn next(&mut self) -> Value {
        match tokio::time::timeout(TIMEOUT, self.frames.recv()).await {
            Ok(Some(v)) => v,
            Ok(None) => panic!("the server closed stdout; stderr:\n{}", self.stderr()),
            Err(_) => panic!("no frame in {TIMEOUT:?}; stderr:\n{}", self.stderr()),
        }
    }

    /// The next response (skipping server notifications and requests).
    async fn response(&mut self) -> Value {
        loop {
            let v = self.next().await;
            if v.get("method").is_none() {
                return v;
            }
        }
    }

    /// Sends a request and waits for the response with its id.
    async fn call(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let v = self.response().await;
            if v["id"] == id {
                return v;
            }
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    async fn exit_code(&mut self) -> Option<i32> {
        tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .expect("exits within 5 s")
            .unwrap()
            .code()
    }
}

/// A well-formed JSON-RPC 2.0 error response: exactly these members, the id given, an
/// integer code and a string message.
fn assert_error(resp: &Value, id: &Value, code: i64, what: &str) {
    let obj = resp.as_object().unwrap_or_else(|| panic!("{what}: {resp}"));
    assert_eq!(resp["jsonrpc"], "2.0", "{what}: {resp}");
    assert_eq!(&resp["id"], id, "{what}: {resp}");
    assert!(obj.get("result").is_none(), "{what}: {resp}");
    assert_eq!(resp["error"]["code"], code, "{what}: {resp}");
    assert!(resp["error"]["message"].is_string(), "{what}: {resp}");
    assert!(
        obj.keys()
            .all(|k| ["jsonrpc", "id", "error"].contains(&k.as_str())),
        "{what}: {resp}"
    );
}

async fn still_serving(s: &mut Raw, id: i64, after: &str) {
    s.send(
        &json!({"jsonrpc": "2.0", "id": id, "method": "workspace/executeCommand",
        "params": {"command": "codex.chainInfo", "arguments": [{"uri": "file:///x.rs"}]}}),
    )
    .await;
    // strictly the next response: nothing else was answered in between
    let r = s.response().await;
    assert_eq!(r["id"], id, "after {after}: {r}");
    assert!(r.get("result").is_some(), "after {after}: {r}");
    assert!(s.alive(), "the process died after {after}");
}

#[tokio::test]
async fn undecodable_messages_are_answered_and_serving_goes_on() {
    let mut s = Raw::start().await;
    // (body, expected code, expected id)
    let null = Value::Null;
    let cases: Vec<(Vec<u8>, i64, Value)> = vec![
        (b"42".to_vec(), -32600, null.clone()),
        (br#""x""#.to_vec(), -32600, null.clone()),
        (b"null".to_vec(), -32600, null.clone()),
        (b"true".to_vec(), -32600, null.clone()),
        (b"[]".to_vec(), -32600, null.clone()),
        (
            br#"[{"jsonrpc":"2.0","id":1,"method":"shutdown"}]"#.to_vec(),
            -32600,
            null.clone(),
        ),
        (b"{}".to_vec(), -32600, null.clone()),
        (br#"{"method":"x"}"#.to_vec(), -32600, null.clone()),
        (
            br#"{"jsonrpc":"1.0","method":"x","id":7}"#.to_vec(),
            -32600,
            json!(7),
        ),
        (br#"{"jsonrpc":2,"method":"x"}"#.to_vec(), -32600, null.clone()),
        (
            br#"{"jsonrpc":"2.0","method":42,"id":"m"}"#.to_vec(),
            -32600,
            json!("m"),
        ),
        (
            br#"{"jsonrpc":"2.0","method":"x","id":1.5}"#.to_vec(),
            -32600,
            null.clone(),
        ),
        (
            br#"{"jsonrpc":"2.0","method":"x","id":{}}"#.to_vec(),
            -32600,
            null.clone(),
        ),
        (
            br#"{"jsonrpc":"2.0","method":"x","id":18446744073709551616}"#.to_vec(),
            -32600,
            null.clone(),
        ),
        (
            br#"{"jsonrpc":"2.0","method":"x","id":9223372036854775808}"#.to_vec(),
            -32600,
            null.clone(),
        ),
        (
            br#"{"jsonrpc":"2.0","method":"x","method":"y","id":3}"#.to_vec(),
            -32600,
            null.clone(),
        ),
        (
            br#"{"jsonrpc":"2.0","method":"x","params":{},"params":{},"id":4}"#.to_vec(),
            -32600,
            null.clone(),
        ),
        (
            br#"{"jsonrpc":"2.0","id":5,"error":{"code":"x","message":1}}"#.to_vec(),
            -32600,
            null.clone(),
        ),
        (br#"{"jsonrpc":"2.0","id":6}"#.to_vec(), -32600, null.clone()),
        (b"{\"jsonrpc\":".to_vec(), -32700, null.clone()),
        (b"not json".to_vec(), -32700, null.clone()),
        (Vec::new(), -32700, null.clone()),
        (
            b"{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didOpen\",\"params\":{\"t\":\"\xff\xfe\"}}"
                .to_vec(),
            -32700,
            null.clone(),
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"x\",\"params\":{\"t\":\"\xc3\"}}".to_vec(),
            -32700,
            json!(8),
        ),
    ];
    for (i, (body, code, id)) in cases.iter().enumerate() {
        let what = String::from_utf8_lossy(body).into_owned();
        s.write(&framed(body)).await;
        let resp = s.response().await;
        assert_error(&resp, id, *code, &what);
        still_serving(&mut s, 100 + i as i64, &what).await;
    }
    // a valid response from the client (to nothing we asked) is still passed on quietly
    s.send(&json!({"jsonrpc": "2.0", "id": 77, "result": null}))
        .await;
    still_serving(&mut s, 99, "a stray response").await;
    // well-formed requests with string and extreme integer ids still work
    let r = s.call(json!("s-1"), "shutdown", Value::Null).await;
    assert!(r.get("result").is_some(), "{r}");
    s.send(&json!({"jsonrpc": "2.0", "method": "exit"})).await;
    assert_eq!(s.exit_code().await, Some(0));
}

#[tokio::test]
async fn two_bad_frames_in_one_write_get_two_answers_in_order() {
    let mut s = Raw::start().await;
    let mut bytes = framed(br#"{"jsonrpc":"2.0","method":"x","id":1.5,"a":"#);
    bytes.extend(framed(br#"{"jsonrpc":"1.0","method":"x","id":"two"}"#));
    bytes.extend(framed(br#"[1,2]"#));
    s.write(&bytes).await;
    assert_error(&s.response().await, &Value::Null, -32700, "first");
    assert_error(&s.response().await, &json!("two"), -32600, "second");
    assert_error(&s.response().await, &Value::Null, -32600, "third");
    still_serving(&mut s, 1, "three bad frames").await;
}

#[tokio::test]
async fn unknown_dollar_requests_get_method_not_found() {
    let mut s = Raw::start().await;
    // a notification is still ignored quietly; a request is answered
    s.send(&json!({"jsonrpc": "2.0", "method": "$/unknownNotification", "params": {}}))
        .await;
    let r = s.call(json!(5), "$/unknownRequest", json!({})).await;
    assert_error(&r, &json!(5), -32601, "$/unknownRequest");
    let r = s.call(json!("five"), "$/setTrace", json!({})).await;
    assert_error(&r, &json!("five"), -32601, "$/setTrace as a request");
    // the next frame is the answer to this, not something for the notification
    still_serving(&mut s, 6, "$/ requests").await;
}

#[tokio::test]
async fn cancel_request_still_reaches_the_server() {
    let mut s = Raw::start().await;
    s.send(&json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 123}}))
        .await;
    still_serving(&mut s, 1, "$/cancelRequest").await;
    assert!(!s.stderr().contains("ERROR"), "{}", s.stderr());
}

#[tokio::test]
async fn shutdown_without_exit_keeps_serving_until_exit() {
    let mut s = Raw::start().await;
    let r = s.call(json!(1), "shutdown", Value::Null).await;
    assert!(r.get("result").is_some(), "{r}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(s.alive(), "exited after shutdown, without exit");
    let r = s
        .call(
            json!(2),
            "textDocument/codeAction",
            json!({"textDocument": {"uri": "file:///x.rs"}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}}),
        )
        .await;
    assert_error(&r, &json!(2), -32600, "a request after shutdown");
    let r = s
        .call(
            json!(3),
            "workspace/executeCommand",
            json!({"command": "codex.chainInfo", "arguments": [{"uri": "file:///x.rs"}]}),
        )
        .await;
    assert_error(&r, &json!(3), -32600, "a command after shutdown");
    assert!(s.alive());
    s.send(&json!({"jsonrpc": "2.0", "method": "exit"})).await;
    assert_eq!(s.exit_code().await, Some(0));
    assert!(
        !s.stderr().contains("did not stop"),
        "misleading warning:\n{}",
        s.stderr()
    );
}

#[tokio::test]
async fn input_ending_after_shutdown_exits_0() {
    let mut s = Raw::start().await;
    let r = s.call(json!(1), "shutdown", Value::Null).await;
    assert!(r.get("result").is_some(), "{r}");
    drop(s.stdin.take());
    assert_eq!(s.exit_code().await, Some(0));
}

#[tokio::test]
async fn did_save_is_accepted_quietly() {
    let mut s = Raw::start().await;
    let uri = "file:///tmp/saved.rs";
    s.send(&json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
        "params": {"textDocument": {"uri": uri, "languageId": "rust", "version": 1, "text": "fn a() {}\n"}}}))
        .await;
    // eglot sends the text along whether or not it was asked to
    s.send(&json!({"jsonrpc": "2.0", "method": "textDocument/didSave",
        "params": {"textDocument": {"uri": uri}, "text": "fn a() {}\n"}}))
        .await;
    s.send(&json!({"jsonrpc": "2.0", "method": "textDocument/didSave",
        "params": {"textDocument": {"uri": uri}}}))
        .await;
    still_serving(&mut s, 1, "didSave").await;
    let err = s.stderr();
    assert!(
        !err.contains("WARN") && !err.contains("ERROR") && !err.contains("didSave"),
        "{err}"
    );
    // nothing was sent back for the notifications: the next frame answers this request
    let r = s.call(json!(2), "shutdown", Value::Null).await;
    assert!(r.get("result").is_some(), "{r}");
    s.send(&json!({"jsonrpc": "2.0", "method": "exit"})).await;
    assert_eq!(s.exit_code().await, Some(0));
}
