//! A fake Responses API on 127.0.0.1 that speaks the real wire format (SSE events,
//! JSON bodies, error bodies), built on the scripted server of the `openai_*` tests.
//! Each connection takes the next script; the last one repeats.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[path = "../support_http/mod.rs"]
pub mod http;

use serde_json::{Value, json};

pub use http::{SENTINEL, Step};

pub struct Fake {
    pub server: http::ScriptServer,
}

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub head: String,
    pub body: Value,
}

impl Seen {
    pub fn input_text(&self) -> String {
        self.body["input"].to_string()
    }
    pub fn prev(&self) -> Option<String> {
        self.body
            .get("previous_response_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

impl Fake {
    pub async fn start(scripts: Vec<Vec<Step>>) -> Self {
        Self {
            server: http::ScriptServer::start(scripts).await,
        }
    }

    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The environment that points a server at this fake with the sentinel key.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("CODEX_LSP_BASE_URL".into(), self.base_url()),
            ("CODEX_LSP_API_KEY".into(), SENTINEL.into()),
        ]
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.server
            .rec
            .requests
            .lock()
            .unwrap()
            .iter()
            .map(|raw| {
                let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
                Seen {
                    head: head.to_owned(),
                    body: serde_json::from_str(body).unwrap_or(Value::Null),
                }
            })
            .collect()
    }

    pub fn count(&self) -> usize {
        self.server.rec.count()
    }

    /// Waits until the client has closed a held request.
    pub async fn wait_closed(&self) {
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            self.server.rec.closed.notified(),
        )
        .await
        .expect("the HTTP request was not dropped within 5 s");
    }

    pub async fn wait_request(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.count() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "fake got {} requests, wanted {n}",
                self.count()
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

fn ev(v: Value) -> Step {
    http::frame(&v.to_string())
}

fn response(id: &str, output: Value) -> Value {
    json!({"id": id, "object": "response", "status": "completed", "model": "gpt-5.3-codex",
           "output": output, "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}})
}

fn created(id: &str) -> Step {
    ev(json!({"type": "response.created", "sequence_number": 0,
              "response": {"id": id, "status": "in_progress", "output": []}}))
}

/// A streamed `replace_selection` call with raw `arguments` (a JSON string).
pub fn call_with_args(id: &str, arguments: &str) -> Vec<Step> {
    call_in_chunks(id, arguments, 7)
}

/// Like [`call_with_args`], with `chunk` characters per delta event.
pub fn call_in_chunks(id: &str, arguments: &str, chunk: usize) -> Vec<Step> {
    named_call_in_chunks(id, "replace_selection", arguments, chunk)
}

/// A streamed call to the tool `name` with raw `arguments`, `chunk` characters per
/// delta event.
pub fn named_call_in_chunks(id: &str, name: &str, arguments: &str, chunk: usize) -> Vec<Step> {
    let item = json!({"type": "function_call", "id": format!("fc_{id}"), "call_id": format!("call_{id}"),
                      "name": name, "arguments": arguments, "status": "completed"});
    let mut steps = vec![http::sse_head(), created(id)];
    let chars: Vec<char> = arguments.chars().collect();
    for chunk in chars.chunks(chunk.max(1)) {
        steps.push(ev(
            json!({"type": "response.function_call_arguments.delta", "item_id": format!("fc_{id}"),
                             "output_index": 0, "delta": chunk.iter().collect::<String>()}),
        ));
    }
    steps.push(ev(
        json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
    ));
    steps.push(ev(
        json!({"type": "response.completed", "response": response(id, json!([item]))}),
    ));
    steps
}

/// A streamed `apply_patch({"patch": patch})`.
pub fn patch(id: &str, patch: &str) -> Vec<Step> {
    named_call_in_chunks(
        id,
        "apply_patch",
        &json!({ "patch": patch }).to_string(),
        40,
    )
}

/// A streamed `replace_selection({"code": code})`.
pub fn code(id: &str, code: &str) -> Vec<Step> {
    call_with_args(id, &json!({"code": code}).to_string())
}

/// Like [`code`], but waits `ms` after `response.created` (time for the user to type).
pub fn code_after(id: &str, code: &str, ms: u64) -> Vec<Step> {
    let mut s = self::code(id, code);
    s.insert(2, http::sleep_ms(ms));
    s
}

/// A streamed plain assistant message.
pub fn text(id: &str, text: &str) -> Vec<Step> {
    let item = json!({"type": "message", "id": format!("msg_{id}"), "role": "assistant", "status": "completed",
                      "content": [{"type": "output_text", "text": text, "annotations": []}]});
    let mut steps = vec![http::sse_head(), created(id)];
    for chunk in text.chars().collect::<Vec<_>>().chunks(9) {
        steps.push(ev(json!({"type": "response.output_text.delta", "item_id": format!("msg_{id}"),
                             "output_index": 0, "content_index": 0, "delta": chunk.iter().collect::<String>()})));
    }
    steps.push(ev(
        json!({"type": "response.completed", "response": response(id, json!([item]))}),
    ));
    steps
}

/// `response.created`, then nothing until the client goes away.
pub fn hold(id: &str) -> Vec<Step> {
    vec![http::sse_head(), created(id), Step::HoldUntilClosed]
}

/// An HTTP error with an OpenAI error body.
pub fn error(status: u16, code: &str, message: &str, extra_headers: &str) -> Vec<Step> {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}).to_string();
    vec![http::send(format!(
        "HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\n{extra_headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))]
}

/// Like [`code`], with a reasoning item (encrypted content, as `include` asks) before
/// the call, as a reasoning model answers a `store: false` request.
pub fn code_with_reasoning(id: &str, code: &str) -> Vec<Step> {
    let reasoning = json!({"type": "reasoning", "id": format!("rs_{id}"), "summary": [],
                           "encrypted_content": format!("gAAAA-encrypted-{id}")});
    let call = json!({"type": "function_call", "id": format!("fc_{id}"), "call_id": format!("call_{id}"),
                      "name": "replace_selection", "arguments": json!({"code": code}).to_string(),
                      "status": "completed"});
    vec![
        http::sse_head(),
        created(id),
        ev(json!({"type": "response.output_item.done", "output_index": 0, "item": reasoning})),
        ev(json!({"type": "response.output_item.done", "output_index": 1, "item": call})),
        ev(
            json!({"type": "response.completed", "response": response(id, json!([reasoning, call]))}),
        ),
    ]
}

impl Fake {
    /// Requests the fake answered with the real API's chain-rule 400 instead of their
    /// script: a test whose server breaks a chain rule fails on this.
    pub fn refused(&self) -> Vec<String> {
        self.server.rec.refused.lock().unwrap().clone()
    }
}

/// A streamed answer with both a message and a `replace_selection` call: serves an
/// explain (the text) and an edit action (the call) alike.
pub fn text_and_code(id: &str, text: &str, code: &str) -> Vec<Step> {
    let message = json!({"type": "message", "id": format!("msg_{id}"), "role": "assistant",
                         "status": "completed",
                         "content": [{"type": "output_text", "text": text, "annotations": []}]});
    let call = json!({"type": "function_call", "id": format!("fc_{id}"), "call_id": format!("call_{id}"),
                      "name": "replace_selection", "arguments": json!({"code": code}).to_string(),
                      "status": "completed"});
    vec![
        http::sse_head(),
        created(id),
        ev(json!({"type": "response.output_item.done", "output_index": 0, "item": message})),
        ev(json!({"type": "response.output_item.done", "output_index": 1, "item": call})),
        ev(json!({"type": "response.completed", "response": response(id, json!([message, call]))})),
    ]
}
