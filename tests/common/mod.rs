//! A typed LSP test client that drives the real `codex-lsp` binary over stdio, the way
//! an editor does: Content-Length framing, requests with ids, notifications, and
//! scripted answers to the server's own requests (applyEdit, progress, questions).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod edits;
pub mod fake;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Notify, oneshot};

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How the fake editor answers `workspace/applyEdit`.
#[derive(Clone, Debug, PartialEq)]
pub enum ApplyPolicy {
    /// Apply to the mirror, send `didChange`, answer `applied: true`.
    Apply,
    /// Answer `applied: false` with this reason.
    Refuse(String),
    /// Answer with a JSON-RPC error of this code (eglot's "User cancelled server edit").
    Error(i64),
}

/// Everything the server sent that was not a response.
#[derive(Default)]
pub struct Inbox {
    pub notifications: Vec<(String, Value)>,
    pub requests: Vec<(String, Value)>,
}

pub struct Script {
    pub apply: ApplyPolicy,
    /// Answer to `window/showMessageRequest`: Some(title) picks that action,
    /// None answers null (dismissed); `Err` answers with an error.
    pub question: Result<Option<String>, i64>,
    /// Answer to `workspace/configuration`.
    pub configuration: Value,
    /// Send `$/cancelRequest` for this request id when an applyEdit arrives, before
    /// applying it and replying (a cancel that comes too late).
    pub cancel_on_apply: Option<i64>,
    /// Apply each `workspace/applyEdit` to the mirror's text. Off, only the version
    /// moves (the `didChange` is the same): for benchmarks on large documents, where
    /// rebuilding the mirror's text would be most of the time measured.
    pub track_text: bool,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            apply: ApplyPolicy::Apply,
            question: Ok(None),
            configuration: json!([null]),
            cancel_on_apply: None,
            track_text: true,
        }
    }
}

/// The editor's copy of an open document (UTF-16 positions, like VS Code).
#[derive(Clone, Debug)]
pub struct Mirror {
    pub text: String,
    pub version: i32,
}

struct Shared {
    pending: Mutex<HashMap<i64, oneshot::Sender<Value>>>,
    inbox: Mutex<Inbox>,
    script: Mutex<Script>,
    docs: Mutex<HashMap<String, Mirror>>,
    changed: Notify,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    /// When each `workspace/applyEdit` arrived (for the overhead benchmark).
    apply_arrivals: Mutex<Vec<std::time::Instant>>,
    /// When each `workspace/applyEdit` was answered (after its `didChange`).
    apply_replies: Mutex<Vec<std::time::Instant>>,
}

pub struct TestClient {
    pub child: Child,
    shared: Arc<Shared>,
    next_id: Mutex<i64>,
    pub stderr: Arc<Mutex<String>>,
    pub dir: tempfile::TempDir,
    /// From spawning the process to the `initialize` response.
    pub startup: Duration,
}

#[derive(Debug)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    /// `error.data`, e.g. `{"kind": "auth"}`.
    pub data: Value,
}

pub fn frame(msg: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(msg).unwrap();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend(body);
    out
}

/// Converts a char offset in `text` to an LSP position in UTF-16 units.
pub fn utf16_pos(text: &str, offset: usize) -> Value {
    let before: String = text.chars().take(offset).collect();
    let line = before.matches('\n').count();
    let col: usize = before
        .rsplit('\n')
        .next()
        .unwrap_or("")
        .encode_utf16()
        .count();
    json!({"line": line, "character": col})
}

/// Converts an LSP UTF-16 position to a char offset in `text`.
pub fn utf16_offset(text: &str, pos: &Value) -> usize {
    let line = pos["line"].as_u64().unwrap() as usize;
    let col = pos["character"].as_u64().unwrap() as usize;
    let mut offset = 0;
    for (i, l) in text.split('\n').enumerate() {
        if i == line {
            let mut units = 0;
            for (j, c) in l.chars().enumerate() {
                if units >= col {
                    return offset + j;
                }
                units += c.len_utf16();
            }
            return offset + l.chars().count();
        }
        offset += l.chars().count() + 1;
    }
    offset
}

pub fn range_of(text: &str, needle: &str) -> Value {
    let byte = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    let s = text[..byte].chars().count();
    let e = s + needle.chars().count();
    json!({"start": utf16_pos(text, s), "end": utf16_pos(text, e)})
}

fn apply_text_edits(text: &str, edits: &[Value]) -> String {
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                utf16_offset(text, &e["range"]["start"]),
                utf16_offset(text, &e["range"]["end"]),
                e["newText"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut chars: Vec<char> = text.chars().collect();
    for (s, e, t) in spans {
        chars.splice(s..e, t.chars());
    }
    chars.into_iter().collect()
}

pub struct Options {
    pub env: Vec<(String, String)>,
    pub capabilities: Value,
    pub initialization_options: Value,
    pub workspace: Option<PathBuf>,
    /// Send neither `rootUri` nor `workspaceFolders` (single-file mode).
    pub no_workspace: bool,
    /// The server binary; this package's `codex-lsp` when unset.
    pub bin: Option<PathBuf>,
    /// Set `CODEX_LSP_LOG_FILE` (the test's log file, read by the key audit).
    pub log_file: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            capabilities: vscode_capabilities(),
            initialization_options: json!({}),
            workspace: None,
            no_workspace: false,
            bin: None,
            log_file: true,
        }
    }
}

pub fn vscode_capabilities() -> Value {
    json!({
        "window": {"workDoneProgress": true, "showMessage": {"messageActionItem": {"additionalPropertiesSupport": true}},
                   "showDocument": {"support": true}},
        "workspace": {"workspaceEdit": {"documentChanges": true}, "configuration": false, "applyEdit": true,
                      "didChangeWatchedFiles": {"dynamicRegistration": true}},
        "textDocument": {"codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "refactor"]}}}},
        "general": {"positionEncodings": ["utf-16"]}
    })
}

pub fn helix_capabilities() -> Value {
    json!({
        "workspace": {"workspaceEdit": {"documentChanges": true}, "applyEdit": true},
        "general": {"positionEncodings": ["utf-8", "utf-32", "utf-16"]}
    })
}

impl TestClient {
    /// Spawns the binary, initializes it and sends `initialized`.
    pub async fn start(opts: Options) -> (Self, Value) {
        let dir = tempfile::tempdir().unwrap();
        let workspace = opts
            .workspace
            .clone()
            .unwrap_or_else(|| dir.path().join("ws"));
        std::fs::create_dir_all(&workspace).unwrap();
        let bin = opts
            .bin
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_codex-lsp")));
        let mut cmd = Command::new(bin);
        cmd.stdin(Stdio::piped())
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
            .env("CODEX_LSP_LOG", "trace");
        if opts.log_file {
            cmd.env("CODEX_LSP_LOG_FILE", dir.path().join("server.log"));
        } else {
            cmd.env_remove("CODEX_LSP_LOG_FILE");
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let spawned = std::time::Instant::now();
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let shared = Arc::new(Shared {
            pending: Mutex::default(),
            inbox: Mutex::default(),
            script: Mutex::default(),
            docs: Mutex::default(),
            changed: Notify::new(),
            stdin: tokio::sync::Mutex::new(Some(stdin)),
            apply_arrivals: Mutex::default(),
            apply_replies: Mutex::default(),
        });
        let err_buf = Arc::new(Mutex::new(String::new()));
        let eb = err_buf.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let mut b = eb.lock().unwrap();
                b.push_str(&l);
                b.push('\n');
            }
        });
        tokio::spawn(read_loop(BufReader::new(stdout), shared.clone()));
        let mut client = Self {
            child,
            shared,
            next_id: Mutex::new(0),
            stderr: err_buf,
            dir,
            startup: Duration::ZERO,
        };
        let root = format!("file://{}", workspace.display());
        let mut params = json!({
            "processId": null,
            "rootUri": root,
            "workspaceFolders": [{"uri": root, "name": "ws"}],
            "capabilities": opts.capabilities,
            "initializationOptions": opts.initialization_options,
        });
        if opts.no_workspace {
            params["rootUri"] = Value::Null;
            params["workspaceFolders"] = Value::Null;
        }
        let init = client
            .request("initialize", params)
            .await
            .expect("initialize");
        client.startup = spawned.elapsed();
        client.notify("initialized", json!({})).await;
        (client, init)
    }

    pub fn workspace(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    pub fn uri_of(&self, rel: &str) -> String {
        format!("file://{}", self.workspace().join(rel).display())
    }

    pub fn script(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.shared.script.lock().unwrap());
    }

    pub async fn write_raw(&self, bytes: &[u8]) {
        let mut w = self.shared.stdin.lock().await;
        let w = w.as_mut().expect("stdin is open");
        w.write_all(bytes).await.unwrap();
        w.flush().await.unwrap();
    }

    /// Closes the server's stdin, as an editor that dies does.
    pub async fn close_stdin(&self) -> bool {
        self.shared.stdin.lock().await.take().is_some()
    }

    pub async fn send(&self, msg: Value) {
        self.write_raw(&frame(&msg)).await;
    }

    pub async fn notify(&self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    /// Sends a request and returns its id and a receiver for the response.
    pub async fn send_request(
        &self,
        method: &str,
        params: Value,
    ) -> (i64, oneshot::Receiver<Value>) {
        let id = {
            let mut n = self.next_id.lock().unwrap();
            let id = *n;
            *n += 1;
            id
        };
        let (tx, rx) = oneshot::channel();
        self.shared.pending.lock().unwrap().insert(id, tx);
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        (id, rx)
    }

    pub async fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let (_, rx) = self.send_request(method, params).await;
        let msg = tokio::time::timeout(TIMEOUT, rx)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no response to {method} in {TIMEOUT:?}; stderr:\n{}",
                    self.stderr_tail()
                )
            })
            .unwrap();
        into_result(msg)
    }

    pub async fn open(&self, rel: &str, text: &str, language: &str) -> String {
        self.open_at(&self.workspace().join(rel), text, language, true)
            .await
    }

    /// Opens a file at any absolute path (outside the workspace, through a symlink…);
    /// the file on disk is written only when `write` is set.
    pub async fn open_at(&self, path: &Path, text: &str, language: &str, write: bool) -> String {
        let uri = format!("file://{}", path.display());
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        self.shared.docs.lock().unwrap().insert(
            uri.clone(),
            Mirror {
                text: text.to_owned(),
                version: 1,
            },
        );
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
        )
        .await;
        uri
    }

    pub fn apply_arrivals(&self) -> Vec<std::time::Instant> {
        self.shared.apply_arrivals.lock().unwrap().clone()
    }

    /// When each `workspace/applyEdit` was answered, in the order they arrived.
    pub fn apply_replies(&self) -> Vec<std::time::Instant> {
        self.shared.apply_replies.lock().unwrap().clone()
    }

    /// Replaces the editor's copy of `uri` (after changes sent with `write_raw`).
    pub fn set_mirror(&self, uri: &str, mirror: Mirror) {
        self.shared
            .docs
            .lock()
            .unwrap()
            .insert(uri.to_owned(), mirror);
    }

    pub fn mirror(&self, uri: &str) -> Mirror {
        self.shared.docs.lock().unwrap()[uri].clone()
    }

    /// Replaces `range` (UTF-16) in the mirror and tells the server, like typing.
    pub async fn edit(&self, uri: &str, range: Value, text: &str) {
        let version = {
            let mut docs = self.shared.docs.lock().unwrap();
            let m = docs.get_mut(uri).unwrap();
            m.text = apply_text_edits(&m.text, &[json!({"range": range, "newText": text})]);
            m.version += 1;
            m.version
        };
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version},
                   "contentChanges": [{"range": range, "text": text}]}),
        )
        .await;
    }

    pub fn inbox<T>(&self, f: impl FnOnce(&Inbox) -> T) -> T {
        f(&self.shared.inbox.lock().unwrap())
    }

    pub fn notifications(&self, method: &str) -> Vec<Value> {
        self.inbox(|i| {
            i.notifications
                .iter()
                .filter(|(m, _)| m == method)
                .map(|(_, p)| p.clone())
                .collect()
        })
    }

    pub fn server_requests(&self, method: &str) -> Vec<Value> {
        self.inbox(|i| {
            i.requests
                .iter()
                .filter(|(m, _)| m == method)
                .map(|(_, p)| p.clone())
                .collect()
        })
    }

    /// Waits until `pred` holds for the inbox.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Inbox) -> bool) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let notified = self.shared.changed.notified();
            if self.inbox(&pred) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out waiting for {what}; stderr tail:\n{}",
                    self.stderr_tail()
                );
            }
        }
    }

    /// `codex.chainInfo` for `uri`.
    pub async fn chain_info(&self, uri: &str) -> Value {
        self.request(
            "workspace/executeCommand",
            json!({"command": "codex.chainInfo", "arguments": [{"uri": uri}]}),
        )
        .await
        .unwrap()
    }

    /// Waits for a `window/showMessage` containing `needle`.
    pub async fn wait_message(&self, needle: &str) {
        self.wait_for(&format!("a message with {needle:?}"), |i| {
            i.notifications.iter().any(|(m, p)| {
                m == "window/showMessage" && p["message"].as_str().unwrap_or("").contains(needle)
            })
        })
        .await;
    }

    pub fn stderr_tail(&self) -> String {
        let s = self.stderr.lock().unwrap();
        let start = s.len().saturating_sub(3000);
        s[s.floor_char_boundary(start)..].to_owned()
    }

    pub fn user_messages(&self) -> Vec<String> {
        self.notifications("window/showMessage")
            .iter()
            .map(|p| p["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The key audit (G3/E-4): the sentinel key appears nowhere the server wrote —
    /// stderr at trace level, the log file, and every message it sent.
    pub fn audit(&self) {
        const NEEDLE: &str = "TESTSENTINEL";
        assert!(
            !self.stderr.lock().unwrap().contains(NEEDLE),
            "the API key is in stderr"
        );
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        assert!(!log.contains(NEEDLE), "the API key is in the log file");
        self.inbox(|i| {
            for (m, p) in i.notifications.iter().chain(i.requests.iter()) {
                assert!(
                    !p.to_string().contains(NEEDLE),
                    "the API key is in a {m} message"
                );
            }
        });
    }

    /// shutdown + exit (after the key audit); returns the exit code.
    pub async fn shutdown(mut self) -> i32 {
        self.audit();
        let r = self.request("shutdown", Value::Null).await;
        assert!(r.is_ok(), "shutdown failed: {r:?}");
        self.notify("exit", Value::Null).await;
        let status = tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .expect("process exits within 5 s of exit")
            .unwrap();
        status.code().unwrap_or(-1)
    }
}

fn into_result(msg: Value) -> Result<Value, RpcError> {
    if let Some(e) = msg.get("error") {
        Err(RpcError {
            code: e["code"].as_i64().unwrap_or(0),
            message: e["message"].as_str().unwrap_or_default().to_owned(),
            data: e.get("data").cloned().unwrap_or(Value::Null),
        })
    } else {
        Ok(msg.get("result").cloned().unwrap_or(Value::Null))
    }
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
        if let Some(v) = line.strip_prefix("Content-Length:") {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).await.ok()?;
    serde_json::from_slice(&body).ok()
}

async fn read_loop<R: AsyncBufReadExt + Unpin>(mut r: R, shared: Arc<Shared>) {
    while let Some(msg) = read_frame(&mut r).await {
        let method = msg.get("method").and_then(Value::as_str).map(str::to_owned);
        match (method, msg.get("id")) {
            (None, Some(id)) => {
                if let Some(tx) = id
                    .as_i64()
                    .and_then(|id| shared.pending.lock().unwrap().remove(&id))
                {
                    let _ = tx.send(msg.clone());
                }
            }
            (Some(m), Some(id)) => {
                let params = msg.get("params").cloned().unwrap_or(Value::Null);
                shared
                    .inbox
                    .lock()
                    .unwrap()
                    .requests
                    .push((m.clone(), params.clone()));
                let reply = answer(&shared, &m, &params).await;
                let mut out = json!({"jsonrpc": "2.0", "id": id});
                match reply {
                    Ok(v) => out["result"] = v,
                    Err(code) => {
                        out["error"] = json!({"code": code, "message": "declined by the test"})
                    }
                }
                if let Some(w) = shared.stdin.lock().await.as_mut() {
                    let _ = w.write_all(&frame(&out)).await;
                    let _ = w.flush().await;
                }
                if m == "workspace/applyEdit" {
                    shared
                        .apply_replies
                        .lock()
                        .unwrap()
                        .push(std::time::Instant::now());
                }
            }
            (Some(m), None) => {
                let params = msg.get("params").cloned().unwrap_or(Value::Null);
                shared.inbox.lock().unwrap().notifications.push((m, params));
            }
            _ => {}
        }
        shared.changed.notify_waiters();
    }
}

async fn answer(shared: &Shared, method: &str, params: &Value) -> Result<Value, i64> {
    match method {
        "workspace/applyEdit" => {
            shared
                .apply_arrivals
                .lock()
                .unwrap()
                .push(std::time::Instant::now());
            let late_cancel = shared.script.lock().unwrap().cancel_on_apply.take();
            if let Some(id) = late_cancel {
                let cancel = frame(
                    &json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": id}}),
                );
                if let Some(w) = shared.stdin.lock().await.as_mut() {
                    let _ = w.write_all(&cancel).await;
                    let _ = w.flush().await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let (policy, track_text) = {
                let s = shared.script.lock().unwrap();
                (s.apply.clone(), s.track_text)
            };
            match policy {
                ApplyPolicy::Refuse(reason) => {
                    return Ok(json!({"applied": false, "failureReason": reason}));
                }
                ApplyPolicy::Error(code) => return Err(code),
                ApplyPolicy::Apply => {}
            }
            let edit = &params["edit"];
            let (uri, version, edits) = if let Some(dc) = edit.get("documentChanges") {
                let e = &dc[0];
                (
                    e["textDocument"]["uri"].as_str().unwrap().to_owned(),
                    e["textDocument"]["version"].as_i64(),
                    e["edits"].as_array().unwrap().clone(),
                )
            } else {
                let (uri, edits) = edit["changes"].as_object().unwrap().iter().next().unwrap();
                (uri.clone(), None, edits.as_array().unwrap().clone())
            };
            let new_version = {
                let mut docs = shared.docs.lock().unwrap();
                let Some(m) = docs.get_mut(&uri) else {
                    return Ok(json!({"applied": false, "failureReason": "unknown document"}));
                };
                if let Some(v) = version
                    && v != i64::from(m.version)
                {
                    return Ok(
                        json!({"applied": false, "failureReason": "outdated workspace edit"}),
                    );
                }
                if track_text {
                    m.text = apply_text_edits(&m.text, &edits);
                }
                m.version += 1;
                m.version
            };
            // like Helix, the didChange goes out before the reply; incremental, like
            // every real editor: the edits from last to first, so each range is in the
            // coordinates of the text before it
            let mut sorted = edits.clone();
            sorted.sort_by_key(|e| {
                (
                    e["range"]["start"]["line"].as_u64(),
                    e["range"]["start"]["character"].as_u64(),
                )
            });
            let changes: Vec<Value> = sorted
                .iter()
                .rev()
                .map(|e| json!({"range": e["range"], "text": e["newText"]}))
                .collect();
            let change = frame(
                &json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
                "params": {"textDocument": {"uri": uri, "version": new_version}, "contentChanges": changes}}),
            );
            let reply = Ok(json!({"applied": true}));
            if let Some(w) = shared.stdin.lock().await.as_mut() {
                let _ = w.write_all(&change).await;
            }
            reply
        }
        "window/workDoneProgress/create" => Ok(Value::Null),
        "window/showMessageRequest" => {
            let q = shared.script.lock().unwrap().question.clone();
            match q {
                Ok(Some(title)) => Ok(json!({"title": title})),
                Ok(None) => Ok(Value::Null),
                Err(code) => Err(code),
            }
        }
        "workspace/configuration" => Ok(shared.script.lock().unwrap().configuration.clone()),
        "window/showDocument" => Ok(json!({"success": true})),
        "client/registerCapability" => Ok(Value::Null),
        _ => Err(-32601),
    }
}

pub fn write_file(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Waits (up to 5 s) until the file at `path` contains `needle`: chain changes reach
/// the disk shortly after the command that made them has answered.
pub async fn wait_file_contains(path: &Path, needle: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} never contained {needle:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
