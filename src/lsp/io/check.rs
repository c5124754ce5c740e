//! What the framework can decode, decided per message body before it sees one.
//!
//! The framework's reader stops for good at the first message it cannot decode, so a
//! body reaches it only when it is UTF-8 and decodes as the framework's own message
//! type, with the JSON-RPC 2.0 shape LSP uses: `"jsonrpc": "2.0"`, and either a string
//! `method` with no `result`/`error` (a request, or a notification without `id`) or an
//! `id` with exactly one of `result`/`error` (a response to one of our requests).
//! Request ids are strings or integers in the `i64` range (LSP's `integer | string`).
//! Everything else is answered here, per JSON-RPC 2.0 §5.1:
//! - `-32700` Parse error: not UTF-8, or not JSON;
//! - `-32600` Invalid Request: JSON that is not such a message. A batch (an array)
//!   gets one `-32600` for the whole: LSP has no batches, and answering each member
//!   would mean running requests the client cannot expect a batch answer to.
//!
//! The answer carries the request's id when the body is request-shaped and its id is
//! usable (a string or an `i64`), so the client's pending request ends; otherwise null.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Id, Request, Response};

/// The framework's own decoding of a message (`tower_lsp_server::jsonrpc::Message` is
/// private; this is its definition, variant order included, over the same types).
#[derive(Deserialize)]
#[serde(untagged)]
enum Message {
    Response(#[allow(dead_code)] Response),
    Request(#[allow(dead_code)] Request),
}

/// What to do with one message body.
#[derive(Debug, PartialEq)]
pub enum Verdict<'a> {
    /// Pass on to the framework (possibly repaired).
    Pass(Cow<'a, [u8]>),
    /// Do not pass on; answer with this error response.
    Answer(Id, Error),
}

fn error(code: ErrorCode, why: &str) -> Error {
    Error {
        code,
        message: code.description().into(),
        data: Some(Value::String(why.to_owned())),
    }
}

/// The members that decide the shape, read without building `params` or `result`.
/// Derived, so a member given twice is an error, as it is for the framework.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default, deserialize_with = "some")]
    jsonrpc: Option<Value>,
    #[serde(default, deserialize_with = "some")]
    method: Option<Value>,
    #[serde(default, deserialize_with = "some")]
    id: Option<Value>,
    /// Read only so that a repeated `params` is refused, as the framework refuses it.
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "present")]
    params: bool,
    #[serde(default, deserialize_with = "present")]
    result: bool,
    #[serde(default, deserialize_with = "present")]
    error: bool,
}

/// `Some` even for `null`, so `"id": null` is told apart from no id.
fn some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// True when the member is there at all (even `null`); its value is skipped.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// A request id LSP allows and the framework can decode.
fn usable_id(v: &Value) -> Option<Id> {
    match v {
        Value::String(s) => Some(Id::String(s.clone())),
        Value::Number(n) => n.as_i64().map(Id::Number),
        _ => None,
    }
}

impl Envelope {
    /// The id to answer an invalid message with.
    fn reply_id(&self) -> Id {
        match (&self.method, &self.id) {
            (Some(_), Some(id)) => usable_id(id).unwrap_or(Id::Null),
            _ => Id::Null,
        }
    }

    /// Why this is not a message LSP allows, if it is not.
    fn problem(&self) -> Option<&'static str> {
        if self.jsonrpc.as_ref().and_then(Value::as_str) != Some("2.0") {
            return Some("\"jsonrpc\" must be \"2.0\"");
        }
        match &self.method {
            Some(Value::String(_)) => {
                if self.result || self.error {
                    Some("a request has no \"result\" or \"error\"")
                } else if self.id.as_ref().is_some_and(|id| usable_id(id).is_none()) {
                    Some("a request id is a string or an integer in the i64 range")
                } else {
                    None
                }
            }
            Some(_) => Some("\"method\" must be a string"),
            None if self.id.is_none() => Some("neither a request nor a response"),
            None if self.result == self.error => {
                Some("a response has exactly one of \"result\" and \"error\"")
            }
            None => match &self.id {
                Some(Value::Null) => None,
                Some(id) if usable_id(id).is_some() => None,
                _ => Some("a response id is a string, an integer or null"),
            },
        }
    }
}

fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// Whether the framework decodes `text` as the kind of message the envelope says.
fn decodes(text: &str, request: bool) -> bool {
    match serde_json::from_str::<Message>(text) {
        Ok(Message::Request(_)) => request,
        Ok(Message::Response(_)) => !request,
        Err(_) => false,
    }
}

/// A `didChange` whose body is not UTF-8 is a change lost: passed on with its text
/// replaced by a reason the dispatch layer cannot read as changes, so the document is
/// marked out of sync (and said so once) instead of silently missing an edit.
fn lost_change(lossy: &str) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_str(lossy).ok()?;
    if v.get("method")?.as_str()? != "textDocument/didChange" || v.get("id").is_some() {
        return None;
    }
    let uri = v.pointer("/params/textDocument/uri")?.as_str()?;
    let version = v.pointer("/params/textDocument/version").cloned();
    let note = serde_json::json!({
        "jsonrpc": "2.0",
        "method": "textDocument/didChange",
        "params": {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": "unreadable: the change was not UTF-8",
        },
    });
    serde_json::to_vec(&note).ok()
}

/// The body as text and the envelope of the one JSON object it holds, or the error
/// answer (and the id to answer) for a body that is not one.
fn read_envelope(body: &[u8]) -> Result<(&str, Envelope), (Id, Error)> {
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(_) => {
            let lossy = String::from_utf8_lossy(body);
            // the id, when it can still be read, lets the client end that request
            let id = serde_json::from_str::<Envelope>(&lossy)
                .map(|e| e.reply_id())
                .unwrap_or(Id::Null);
            return Err((id, error(ErrorCode::ParseError, "the body is not UTF-8")));
        }
    };
    let first = text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .bytes()
        .next();
    if first != Some(b'{') {
        if !is_json(text) {
            return Err((Id::Null, error(ErrorCode::ParseError, "not JSON")));
        }
        let why = if first == Some(b'[') {
            "batches are not supported"
        } else {
            "a message is a JSON object"
        };
        return Err((Id::Null, error(ErrorCode::InvalidRequest, why)));
    }
    match serde_json::from_str::<Envelope>(text) {
        Ok(e) => Ok((text, e)),
        Err(_) if !is_json(text) => Err((Id::Null, error(ErrorCode::ParseError, "not JSON"))),
        // valid JSON, but a member given twice, or one of the wrong type
        Err(_) => Err((
            Id::Null,
            error(ErrorCode::InvalidRequest, "a member is repeated"),
        )),
    }
}

/// The verdict on one message body.
pub fn check(body: &[u8]) -> Verdict<'_> {
    if std::str::from_utf8(body).is_err()
        && let Some(lost) = lost_change(&String::from_utf8_lossy(body))
    {
        return Verdict::Pass(Cow::Owned(lost));
    }
    let (text, envelope) = match read_envelope(body) {
        Ok(v) => v,
        Err((id, e)) => return Verdict::Answer(id, e),
    };
    if let Some(why) = envelope.problem() {
        return Verdict::Answer(envelope.reply_id(), error(ErrorCode::InvalidRequest, why));
    }
    let request = envelope.method.is_some();
    if decodes(text, request) {
        return Verdict::Pass(Cow::Borrowed(body));
    }
    // JS clients can send "\ud800" (JSON.stringify of a broken string); dropping the
    // message would silently desync a document, so the lone surrogate becomes U+FFFD:
    // one UTF-16 unit, like the surrogate, so every position the client sends stays right.
    if let Some(fixed) = repair_lone_surrogates(body)
        && let Ok(fixed_text) = std::str::from_utf8(&fixed)
        && decodes(fixed_text, request)
    {
        tracing::warn!("replaced lone surrogate escapes with U+FFFD in a message");
        return Verdict::Pass(Cow::Owned(fixed));
    }
    Verdict::Answer(
        envelope.reply_id(),
        error(
            ErrorCode::InvalidRequest,
            "a member has a value of the wrong type",
        ),
    )
}

/// The value of a `\uXXXX` escape starting at `i`, if there is one.
fn escape_at(body: &[u8], i: usize) -> Option<u16> {
    let hex = body.get(i..i + 6)?;
    if hex[0] != b'\\' || hex[1] != b'u' {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
}

/// `body` with every unpaired `\uD800`-`\uDFFF` escape replaced by `\uFFFD`, or `None`
/// when there was none. Escaped backslashes (`\\u...`) are not escapes and are skipped.
fn repair_lone_surrogates(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut changed = false;
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' && body.get(i + 1) == Some(&b'\\') {
            out.extend_from_slice(&body[i..i + 2]);
            i += 2;
            continue;
        }
        match escape_at(body, i) {
            Some(0xD800..=0xDBFF) if matches!(escape_at(body, i + 6), Some(0xDC00..=0xDFFF)) => {
                out.extend_from_slice(&body[i..i + 12]);
                i += 12;
            }
            Some(0xD800..=0xDFFF) => {
                out.extend_from_slice(b"\\ufffd");
                changed = true;
                i += 6;
            }
            _ => {
                out.push(body[i]);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn answer(body: &str) -> (Id, i64) {
        match check(body.as_bytes()) {
            Verdict::Answer(id, e) => (id, e.code.code()),
            Verdict::Pass(_) => panic!("passed on: {body}"),
        }
    }

    #[test]
    fn lsp_messages_pass_unchanged() {
        for body in [
            r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
            r#"{"jsonrpc":"2.0","method":"exit"}"#,
            r#"{"jsonrpc":"2.0","method":"shutdown","id":1,"params":null}"#,
            r#"{"jsonrpc":"2.0","method":"x","id":"a","params":[1]}"#,
            r#"{"jsonrpc":"2.0","method":"x","id":-9223372036854775808}"#,
            r#" {"id":3,"result":null,"jsonrpc":"2.0"}"#,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"no"}}"#,
            r#"{"jsonrpc":"2.0","id":"s","error":{"code":1,"message":"m","data":[]}}"#,
            r#"{"jsonrpc":"2.0","method":"x","extra":{"a":[1,2]}}"#,
        ] {
            assert_eq!(
                check(body.as_bytes()),
                Verdict::Pass(Cow::Borrowed(body.as_bytes())),
                "{body}"
            );
        }
    }

    #[test]
    fn invalid_messages_are_answered() {
        let null = Id::Null;
        let cases = [
            ("42", null.clone(), -32600),
            ("\"x\"", null.clone(), -32600),
            ("null", null.clone(), -32600),
            ("[]", null.clone(), -32600),
            (
                r#"[{"jsonrpc":"2.0","method":"x","id":1}]"#,
                null.clone(),
                -32600,
            ),
            ("{}", null.clone(), -32600),
            (r#"{"method":"x"}"#, null.clone(), -32600),
            (
                r#"{"jsonrpc":"1.0","method":"x","id":2}"#,
                Id::Number(2),
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","method":42,"id":"s"}"#,
                Id::from("s"),
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"x","id":1.5}"#,
                null.clone(),
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"x","id":{}}"#,
                null.clone(),
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"x","id":null}"#,
                null.clone(),
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"x","id":18446744073709551616}"#,
                null.clone(),
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"x","id":1,"result":1}"#,
                Id::Number(1),
                -32600,
            ),
            (r#"{"jsonrpc":"2.0","id":1}"#, null.clone(), -32600),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#,
                null.clone(),
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":""}}"#,
                null.clone(),
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"a","method":"b"}"#,
                null.clone(),
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"a","params":1,"params":2,"id":1}"#,
                null.clone(),
                -32600,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"a","id":1,"params":{"x":1e999}}"#,
                Id::Number(1),
                -32600,
            ),
            (r#"{"jsonrpc":"2.0","method":"#, null.clone(), -32700),
            (
                r#"{"jsonrpc":"2.0","method":"a","method":"#,
                null.clone(),
                -32700,
            ),
            ("[1,", null.clone(), -32700),
            ("", null.clone(), -32700),
        ];
        for (body, id, code) in cases {
            assert_eq!(answer(body), (id, code), "{body}");
        }
    }

    #[test]
    fn a_did_change_that_is_not_utf8_passes_on_as_a_lost_change() {
        let body = b"{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didChange\",\"params\":{\"textDocument\":{\"uri\":\"file:///a.rs\",\"version\":3},\"contentChanges\":[{\"text\":\"\xff\"}]}}";
        match check(body) {
            Verdict::Pass(b) => {
                let v: Value = serde_json::from_slice(&b).unwrap();
                assert_eq!(v["params"]["textDocument"]["uri"], "file:///a.rs");
                assert!(v["params"]["contentChanges"].is_string());
            }
            Verdict::Answer(..) => panic!("a lost change must reach the document store"),
        }
    }

    #[test]
    fn invalid_utf8_is_a_parse_error_answered_with_the_id_when_readable() {
        let body = b"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"x\",\"params\":\"\xff\"}";
        match check(body) {
            Verdict::Answer(id, e) => assert_eq!((id, e.code.code()), (Id::Number(9), -32700)),
            v => panic!("{v:?}"),
        }
        match check(b"\xc3") {
            Verdict::Answer(id, e) => assert_eq!((id, e.code.code()), (Id::Null, -32700)),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let body =
            r#"{"jsonrpc":"2.0","method":"m","params":{"t":"a\ud800b\udc00\ud83d\ude00\\ud800"}}"#;
        let Verdict::Pass(out) = check(body.as_bytes()) else {
            panic!("not passed")
        };
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["params"]["t"], "a\u{fffd}b\u{fffd}😀\\ud800");
    }
}
