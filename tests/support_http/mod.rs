//! A scripted HTTP/1.1 server on 127.0.0.1 for what wiremock cannot do: stall, drip,
//! drop mid-stream, and hold a request open to observe the client closing it.
//! Each accepted connection reads one request and plays the next script (the last
//! script repeats), always with `Connection: close` so every attempt is a new connection.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Clone, Debug)]
pub enum Step {
    /// Raw bytes (use [`sse_head`] first for a streaming answer).
    Send(Vec<u8>),
    Sleep(Duration),
    /// Wait until the client closes the connection, then record it.
    HoldUntilClosed,
    /// Close without sending anything more (drop / truncation).
    Close,
}

pub fn send(s: impl AsRef<[u8]>) -> Step {
    Step::Send(s.as_ref().to_vec())
}

pub fn sleep_ms(ms: u64) -> Step {
    Step::Sleep(Duration::from_millis(ms))
}

/// Status line and headers of a close-delimited event stream.
pub fn sse_head() -> Step {
    send("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
}

/// One SSE frame for a JSON payload.
pub fn frame(json: &str) -> Step {
    send(format!("data: {json}\n\n"))
}

/// What the fake knows of the responses it served, to refuse what the real API refuses
/// (`../shared/docs/responses-api.md` §2): a chained request must answer every function
/// call of its previous response, may not answer a call nobody made, and cannot chain to
/// a response created with `store: false`.
#[derive(Default)]
pub struct Ledger {
    /// response id -> call ids of its function calls
    calls_of: std::collections::HashMap<String, Vec<String>>,
    unstored: std::collections::HashSet<String>,
}

impl Ledger {
    /// The real API's 400 for `body`, if it breaks a chain rule.
    fn violation(
        &self,
        body: &serde_json::Value,
    ) -> Option<(u16, String, &'static str, &'static str)> {
        let prev = body.get("previous_response_id").and_then(|v| v.as_str());
        if let Some(p) = prev
            && self.unstored.contains(p)
        {
            return Some((
                400,
                format!("Previous response with id '{p}' not found."),
                "previous_response_id",
                "previous_response_not_found",
            ));
        }
        let items = body
            .get("input")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        let of_type = |t: &str| -> Vec<String> {
            items
                .iter()
                .filter(|i| i.get("type").and_then(|v| v.as_str()) == Some(t))
                .filter_map(|i| i.get("call_id").and_then(|v| v.as_str()).map(str::to_owned))
                .collect()
        };
        let (answered, made) = (of_type("function_call_output"), of_type("function_call"));
        let owed = prev
            .and_then(|p| self.calls_of.get(p))
            .cloned()
            .unwrap_or_default();
        let missing = owed
            .iter()
            .chain(made.iter())
            .find(|c| !answered.contains(c));
        if let Some(c) = missing {
            return Some((
                400,
                format!("No tool output found for function call {c}."),
                "input",
                "",
            ));
        }
        if let Some(c) = answered
            .iter()
            .find(|c| !owed.contains(c) && !made.contains(c))
        {
            return Some((
                400,
                format!("No tool call found for function call output with call_id {c}."),
                "input",
                "",
            ));
        }
        None
    }

    /// Notes the function calls of every completed response the script serves.
    fn remember(&mut self, script: &[Step], stored: bool) {
        for step in script {
            let Step::Send(bytes) = step else { continue };
            let text = String::from_utf8_lossy(bytes);
            let mut candidates: Vec<serde_json::Value> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
                .filter(|v| v["type"] == "response.completed")
                .map(|v| v["response"].clone())
                .collect();
            if let Some((_, body)) = text.split_once("\r\n\r\n")
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
            {
                candidates.push(v);
            }
            for r in candidates {
                let Some(id) = r.get("id").and_then(|v| v.as_str()) else {
                    continue;
                };
                let calls = r
                    .get("output")
                    .and_then(|o| o.as_array())
                    .into_iter()
                    .flatten()
                    .filter(|i| i["type"] == "function_call")
                    .filter_map(|i| i["call_id"].as_str().map(str::to_owned))
                    .collect();
                self.calls_of.insert(id.to_owned(), calls);
                if !stored {
                    self.unstored.insert(id.to_owned());
                }
            }
        }
    }
}

/// A scripted error answer wins over the chain rules (the service "forgot" a response).
fn scripted_error(script: &[Step]) -> bool {
    matches!(script.first(), Some(Step::Send(b)) if b.starts_with(b"HTTP/1.1 4"))
}

fn error_answer(status: u16, message: &str, param: &str, code: &str) -> Vec<u8> {
    let code = if code.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::from(code)
    };
    let body = serde_json::json!({"error": {"message": message, "type": "invalid_request_error",
                                            "param": param, "code": code}})
    .to_string();
    format!(
        "HTTP/1.1 {status} Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[derive(Clone, Default)]
pub struct Recorded {
    /// Raw request heads + bodies, in arrival order.
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Set when a `HoldUntilClosed` step saw the client go away.
    pub closed: Arc<Notify>,
    pub ledger: Arc<Mutex<Ledger>>,
    /// Requests answered with a chain-rule 400 instead of their script.
    pub refused: Arc<Mutex<Vec<String>>>,
}

impl Recorded {
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

pub struct ScriptServer {
    pub addr: SocketAddr,
    pub rec: Recorded,
    /// Notified whenever a full request has been read.
    pub got_request: Arc<Notify>,
}

impl ScriptServer {
    pub async fn start(scripts: Vec<Vec<Step>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rec = Recorded::default();
        let got_request = Arc::new(Notify::new());
        let (rec2, got2) = (rec.clone(), got_request.clone());
        tokio::spawn(async move {
            let mut n = 0usize;
            while let Ok((sock, _)) = listener.accept().await {
                let script = scripts
                    .get(n)
                    .or(scripts.last())
                    .cloned()
                    .unwrap_or_default();
                n += 1;
                let (rec, got) = (rec2.clone(), got2.clone());
                tokio::spawn(async move { serve(sock, script, rec, got).await });
            }
        });
        Self {
            addr,
            rec,
            got_request,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

async fn serve(mut sock: TcpStream, script: Vec<Step>, rec: Recorded, got: Arc<Notify>) {
    let Some(req) = read_request(&mut sock).await else {
        return;
    };
    let body: serde_json::Value = req
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    rec.requests.lock().unwrap().push(req);
    got.notify_one();
    if body.get("model").is_some() && !scripted_error(&script) {
        let violation = rec.ledger.lock().unwrap().violation(&body);
        if let Some((status, message, param, code)) = violation {
            rec.refused.lock().unwrap().push(message.clone());
            let _ = sock
                .write_all(&error_answer(status, &message, param, code))
                .await;
            return;
        }
        let stored = body.get("store").and_then(|v| v.as_bool()) != Some(false);
        rec.ledger.lock().unwrap().remember(&script, stored);
    }
    for step in script {
        match step {
            Step::Send(b) => {
                if sock.write_all(&b).await.is_err() || sock.flush().await.is_err() {
                    return;
                }
            }
            Step::Sleep(d) => tokio::time::sleep(d).await,
            Step::HoldUntilClosed => {
                let mut buf = [0u8; 1024];
                loop {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                rec.closed.notify_one();
                return;
            }
            Step::Close => return,
        }
    }
}

/// The next request on a keep-alive connection: its head, lower-cased, and its
/// `content-length` body. `buf` keeps what was read past it, for the next call.
/// `None` once the client closes the connection.
pub async fn next_request<S: tokio::io::AsyncRead + Unpin>(
    sock: &mut S,
    buf: &mut Vec<u8>,
) -> Option<(String, Vec<u8>)> {
    let mut tmp = vec![0u8; 64 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len = content_length(&head);
    while buf.len() < head_end + len {
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let body = buf[head_end..head_end + len].to_vec();
    buf.drain(..head_end + len);
    Some((head, body))
}

/// The `content-length` of a lower-cased request head (0 without one).
fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Reads the head and a `content-length` body.
async fn read_request(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len = content_length(&head);
    while buf.len() < head_end + len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

// ---- shared helpers for the openai_* tests -------------------------------------------

use codex_lsp::openai::{ApiKey, ClientConfig, CreateResponse, OpenAiError, StreamEvent};

/// Looks like a real project key so the scrubbers are exercised; must never leak.
pub const SENTINEL: &str = "sk-proj-TESTSENTINEL0123456789T3BlbkFJabcdef";

/// Small timeouts so failures are quick; one retry unless a test says otherwise.
pub fn test_config(base_url: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(base_url, Some(ApiKey::new(SENTINEL.to_owned())));
    cfg.timeout = Duration::from_secs(10);
    cfg.idle_timeout = Duration::from_secs(5);
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.max_retries = 2;
    cfg.max_retry_wait = Duration::from_secs(60);
    cfg
}

pub fn request(stream: bool) -> CreateResponse {
    let mut r = CreateResponse::new("gpt-5.3-codex-official", "Rename foo to bar");
    r.instructions = Some("You are a coding assistant.".to_owned());
    r.stream = stream;
    r
}

/// The key never appears in anything a person or a log could see.
pub fn assert_clean(e: &OpenAiError) {
    for s in [e.to_string(), format!("{e:?}"), e.user_message()] {
        assert!(!s.contains("TESTSENTINEL"), "key leaked: {s}");
    }
}

pub fn completed_body(text: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "resp_ok", "object": "response", "status": "completed", "model": "gpt-5.3-codex",
        "output": [{"type":"message","id":"msg_1","role":"assistant","status":"completed",
                    "content":[{"type":"output_text","text":text,"annotations":[]}]}],
        "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    })
}

pub fn created_frame() -> Step {
    frame(
        r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_s","status":"in_progress","output":[]}}"#,
    )
}

pub fn delta_frame(d: &str) -> Step {
    frame(
        &serde_json::json!({"type":"response.output_text.delta","item_id":"msg_1",
        "output_index":0,"content_index":0,"delta":d,"logprobs":[]})
        .to_string(),
    )
}

pub fn completed_frame(text: &str) -> Step {
    frame(
        &serde_json::json!({"type":"response.completed","response":completed_body(text)})
            .to_string(),
    )
}

/// Collects events into a Vec; returns the closure's storage.
pub fn collector() -> (
    Arc<Mutex<Vec<StreamEvent>>>,
    impl FnMut(&StreamEvent) + Send,
) {
    let store = Arc::new(Mutex::new(Vec::new()));
    let s2 = store.clone();
    (store, move |e: &StreamEvent| {
        s2.lock().unwrap().push(e.clone())
    })
}

/// One streaming request against `server` with the test config as `tweak` leaves it;
/// the error (if any) is checked for the key. Returns the result and every event.
pub async fn run_stream(
    server: &ScriptServer,
    tweak: impl FnOnce(&mut ClientConfig),
) -> (
    Result<codex_lsp::openai::ResponseObject, OpenAiError>,
    Vec<StreamEvent>,
) {
    let mut cfg = test_config(&server.base_url());
    tweak(&mut cfg);
    let client = codex_lsp::openai::ResponsesClient::new(cfg).unwrap();
    let (events, mut on_event) = collector();
    let r = client
        .create(
            &request(true),
            &tokio_util::sync::CancellationToken::new(),
            &mut on_event,
        )
        .await;
    if let Err(e) = &r {
        assert_clean(e);
    }
    let ev = events.lock().unwrap().clone();
    (r, ev)
}

/// One retry, at once.
pub fn no_retry_wait(cfg: &mut ClientConfig) {
    cfg.max_retries = 1;
}
