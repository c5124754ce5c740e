//! Server-sent events -> Responses stream events. Pure: no I/O, fed byte chunks.
//!
//! Hand-rolled (~150 lines) rather than wrapping eventsource-stream because we need a
//! bound on event size (eventsource-stream buffers without limit) and invalid UTF-8
//! must not stall the stream. Follows the WHATWG SSE parsing rules: lines end in CRLF,
//! LF or a lone CR (also when split across chunks); `data` lines are joined with `\n`;
//! `:` lines are comments; one optional space after the colon; a leading BOM is skipped.

use std::time::Duration;

use serde::Deserialize;

use super::error::{OpenAiError, scrub, truncate_chars};
use super::types::ResponseObject;

/// Gateway text kept in events and errors from here. Deliberately much longer than
/// `MAX_MESSAGE_CHARS`: the client still has to remove the key (which this module does
/// not know) before cutting to the final length, so the cut here must not fall inside
/// anything the final message keeps.
pub const MAX_GATEWAY_TEXT_CHARS: usize = 4096;

fn bounded(text: &str) -> String {
    truncate_chars(&scrub(text, None), MAX_GATEWAY_TEXT_CHARS)
}

/// Default cap on one event (its pending line plus its accumulated data).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// One Responses stream event, reduced to what the client and the editor need.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// `response.created` (the id, when present, is the future chain head).
    Created { id: Option<String> },
    /// `response.output_text.delta`.
    TextDelta(String),
    /// `response.function_call_arguments.delta`.
    FunctionArgsDelta(String),
    /// `response.completed` (and, defensively, `response.done`). Terminal.
    Completed(ResponseObject),
    /// `response.incomplete`. Terminal.
    Incomplete(ResponseObject),
    /// `response.failed`. Terminal.
    Failed(ResponseObject),
    /// `error`, flat (`code`, `message`) or nested (`error: {..}`). Terminal.
    Error {
        code: Option<String>,
        message: String,
        kind: Option<String>,
        param: Option<String>,
        status: Option<u16>,
    },
    /// Any other event type (progress, reasoning, hosted tools...). Ignored by the client.
    Other,
    /// Not from the stream: the client is about to wait `wait` and send the request
    /// again, because of `reason` ("rate limited", "server error 503", "connection
    /// dropped"). Lets the editor show "rate limited, retrying in 30 s".
    Retrying { wait: Duration, reason: String },
}

impl StreamEvent {
    /// Whether the client stops reading after this event.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Completed(_) | Self::Incomplete(_) | Self::Failed(_) | Self::Error { .. }
        )
    }
}

/// Incremental SSE decoder. Feed chunks with [`push`](Self::push), then call
/// [`finish`](Self::finish) at end of stream. After an error the decoder must not be fed again.
#[derive(Debug)]
pub struct SseDecoder {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// `data` of the current event so far (lines joined with `\n`).
    data: String,
    has_data: bool,
    /// The `event:` name, used when the JSON has no `type`.
    event: String,
    /// The previous chunk ended in CR: a leading LF of the next one belongs to it.
    after_cr: bool,
    at_start: bool,
    max_event_bytes: usize,
    /// A `data` field was seen (even `[DONE]`): the body is at least shaped like SSE.
    seen_data: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        Self {
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            event: String::new(),
            after_cr: false,
            at_start: true,
            max_event_bytes,
            seen_data: false,
        }
    }

    /// Feed one chunk; returns the events completed by it (possibly none).
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<StreamEvent>, OpenAiError> {
        let mut out = Vec::new();
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let [b'\n', tail @ ..] = rest {
                rest = tail;
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, tail) = rest.split_at(pos);
            if self.line.is_empty() {
                self.check_size(head.len())?;
                self.process_line(head, &mut out)?;
            } else {
                self.check_size(head.len())?;
                self.line.extend_from_slice(head);
                let line = std::mem::take(&mut self.line);
                self.process_line(&line, &mut out)?;
                // Keep the allocation for the next split line.
                self.line = line;
                self.line.clear();
            }
            // `tail` starts with the terminator; CRLF counts as one.
            rest = match tail {
                [b'\r', b'\n', t @ ..] => t,
                [b'\r'] => {
                    self.after_cr = true;
                    &[]
                }
                [_, t @ ..] => t,
                [] => &[],
            };
        }
        if !rest.is_empty() {
            self.check_size(rest.len())?;
            self.line.extend_from_slice(rest);
        }
        Ok(out)
    }

    /// Whether any `data` line was seen so far (including a pending, unterminated
    /// one). A stream without any is not an event stream, whatever its content type.
    pub fn saw_data(&self) -> bool {
        self.seen_data || self.line.starts_with(b"data")
    }

    /// End of stream: a final line without terminator and an event without the closing
    /// blank line are still dispatched (lenient towards servers that omit them). A
    /// truncated JSON payload therefore surfaces here as an error.
    pub fn finish(mut self) -> Result<Vec<StreamEvent>, OpenAiError> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, &mut out)?;
        }
        self.dispatch(&mut out)?;
        Ok(out)
    }

    fn check_size(&self, incoming: usize) -> Result<(), OpenAiError> {
        if self.line.len() + self.data.len() + incoming > self.max_event_bytes {
            return Err(OpenAiError::EventTooLarge {
                limit: self.max_event_bytes,
            });
        }
        Ok(())
    }

    fn process_line(
        &mut self,
        mut line: &[u8],
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), OpenAiError> {
        if self.at_start {
            self.at_start = false;
            if let [0xEF, 0xBB, 0xBF, t @ ..] = line {
                line = t;
            }
        }
        if line.is_empty() {
            return self.dispatch(out);
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return Ok(()), // comment (keep-alive)
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                self.seen_data = true;
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                // Invalid UTF-8 becomes U+FFFD (the SSE rule) instead of stalling.
                self.data.push_str(&String::from_utf8_lossy(value));
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            _ => {} // id, retry and unknown fields: nothing to do for a POST stream
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), OpenAiError> {
        let event_name = std::mem::take(&mut self.event);
        if !self.has_data {
            return Ok(());
        }
        self.has_data = false;
        let data = std::mem::take(&mut self.data);
        // Some gateways append the Chat Completions sentinel; it carries nothing.
        if data.trim() == "[DONE]" {
            return Ok(());
        }
        out.push(parse_event(&data, &event_name)?);
        // Reuse the buffer's allocation.
        self.data = data;
        self.data.clear();
        Ok(())
    }
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    delta: Option<String>,
    #[serde(default)]
    response: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    param: Option<serde_json::Value>,
    /// A number, or a numeric string; anything else ("failed") is no status.
    #[serde(default)]
    status: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct NestedError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    param: Option<serde_json::Value>,
    #[serde(default)]
    status: Option<serde_json::Value>,
}

/// Codes are strings in the spec, but numbers and nulls occur in the wild.
fn code_string(v: Option<serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// An HTTP status carried in an event, as a number or a numeric string.
fn status_code(v: Option<serde_json::Value>) -> Option<u16> {
    let n = match v? {
        serde_json::Value::Number(n) => n.as_u64()?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    u16::try_from(n).ok().filter(|s| (100..=599).contains(s))
}

fn malformed(what: impl std::fmt::Display) -> OpenAiError {
    OpenAiError::MalformedStream {
        message: bounded(&what.to_string()),
    }
}

/// One `data` payload -> event. Non-JSON is an error: a gateway that sends it is broken.
pub fn parse_event(data: &str, event_name: &str) -> Result<StreamEvent, OpenAiError> {
    let raw: RawEvent<'_> = serde_json::from_str(data)
        .map_err(|e| malformed(format_args!("event data is not JSON: {e}")))?;
    let kind = raw.kind.as_deref().unwrap_or(event_name);
    let response = |v: Option<serde_json::Value>| -> Result<ResponseObject, OpenAiError> {
        let v = v.ok_or_else(|| malformed(format_args!("{kind} without a response")))?;
        serde_json::from_value(v).map_err(|e| malformed(format_args!("{kind}: {e}")))
    };
    Ok(match kind {
        "response.output_text.delta" => StreamEvent::TextDelta(raw.delta.unwrap_or_default()),
        "response.function_call_arguments.delta" => {
            StreamEvent::FunctionArgsDelta(raw.delta.unwrap_or_default())
        }
        "response.created" => StreamEvent::Created {
            id: raw
                .response
                .as_ref()
                .and_then(|r| r.get("id"))
                .and_then(|id| id.as_str())
                .map(str::to_owned),
        },
        "response.completed" | "response.done" => StreamEvent::Completed(response(raw.response)?),
        "response.incomplete" => StreamEvent::Incomplete(response(raw.response)?),
        "response.failed" => StreamEvent::Failed(response(raw.response)?),
        "error" => {
            let nested: NestedError = match raw.error {
                Some(v @ serde_json::Value::Object(_)) => {
                    serde_json::from_value(v).unwrap_or_default()
                }
                _ => NestedError::default(),
            };
            StreamEvent::Error {
                code: code_string(nested.code).or_else(|| code_string(raw.code)),
                message: bounded(nested.message.or(raw.message).as_deref().unwrap_or("")),
                kind: nested.kind,
                param: code_string(nested.param).or_else(|| code_string(raw.param)),
                status: status_code(nested.status).or_else(|| status_code(raw.status)),
            }
        }
        _ => StreamEvent::Other,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const SAMPLE: &str = concat!(
        "\u{feff}: keep-alive\n",
        "event: response.created\n",
        "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\n\n",
        "event: response.output_text.delta\r\n",
        "data:{\"type\":\"response.output_text.delta\",\"delta\":\"h\u{e9}llo \u{1F600}\",\"logprobs\":[]}\r\n\r\n",
        "event: response.reasoning_summary_text.delta\r",
        "data: {\"type\":\"response.reasoning_summary_text.delta\",\"delta\":\"x\"}\r\r",
        "data: {\"type\":\"response.function_call_arguments.delta\",\n",
        "data:  \"delta\":\"{\\\"a\\\"\"}\n\n",
        "data: [DONE]\n\n",
        "event: response.completed\n",
        "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",",
        "\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"h\u{e9}llo \u{1F600}\"}]}]}}\n\n",
    );

    fn expected() -> Vec<StreamEvent> {
        let done = parse_event(
            r#"{"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"héllo 😀"}]}]}}"#,
            "",
        )
        .unwrap();
        vec![
            StreamEvent::Created {
                id: Some("resp_1".into()),
            },
            StreamEvent::TextDelta("héllo 😀".into()),
            StreamEvent::Other,
            StreamEvent::FunctionArgsDelta("{\"a\"".into()),
            done,
        ]
    }

    fn decode_chunks<'a>(
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<StreamEvent>, OpenAiError> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(d.push(c)?);
        }
        out.extend(d.finish()?);
        Ok(out)
    }

    #[test]
    fn whole_stream() {
        assert_eq!(decode_chunks([SAMPLE.as_bytes()]).unwrap(), expected());
        match &expected()[4] {
            StreamEvent::Completed(r) => assert_eq!(r.output_text(), "héllo 😀"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn every_split_point() {
        // Covers CR/LF pairs split across chunks, mid-UTF-8 (é, emoji, BOM), mid-field.
        let b = SAMPLE.as_bytes();
        for i in 0..=b.len() {
            let (x, y) = b.split_at(i);
            assert_eq!(decode_chunks([x, y]).unwrap(), expected(), "split at {i}");
        }
    }

    #[test]
    fn byte_by_byte() {
        let b = SAMPLE.as_bytes();
        assert_eq!(decode_chunks(b.chunks(1)).unwrap(), expected());
        assert_eq!(decode_chunks(b.chunks(7)).unwrap(), expected());
    }

    #[test]
    fn multi_line_data_joined_with_newline() {
        let s = "data: {\"type\":\"response.output_text.delta\",\ndata: \"delta\":\"a\"}\n\n";
        assert_eq!(
            decode_chunks([s.as_bytes()]).unwrap(),
            vec![StreamEvent::TextDelta("a".into())]
        );
        // The newline is part of the joined data: a JSON string spanning lines is invalid.
        let s = "data: {\"type\":\"x\",\"delta\":\"a\ndata: b\"}\n\n";
        assert!(decode_chunks([s.as_bytes()]).is_err());
    }

    #[test]
    fn comments_unknown_fields_and_empty_events_yield_nothing() {
        let s = ": ping\n\n:\n\nid: 7\nretry: 10\nfoo\n\nevent: x\n\n";
        assert_eq!(decode_chunks([s.as_bytes()]).unwrap(), vec![]);
    }

    #[test]
    fn done_sentinel_skipped() {
        assert_eq!(decode_chunks([&b"data: [DONE]\n\n"[..]]).unwrap(), vec![]);
    }

    #[test]
    fn non_json_is_an_error() {
        let e = decode_chunks([&b"data: <html>\n\n"[..]]).unwrap_err();
        assert!(matches!(e, OpenAiError::MalformedStream { .. }), "{e:?}");
    }

    #[test]
    fn terminal_without_response_is_an_error() {
        let e = decode_chunks([&b"data: {\"type\":\"response.completed\"}\n\n"[..]]).unwrap_err();
        assert!(matches!(e, OpenAiError::MalformedStream { .. }), "{e:?}");
    }

    #[test]
    fn event_name_used_when_type_missing() {
        let s = "event: response.output_text.delta\ndata: {\"delta\":\"z\"}\n\n";
        assert_eq!(
            decode_chunks([s.as_bytes()]).unwrap(),
            vec![StreamEvent::TextDelta("z".into())]
        );
    }

    #[test]
    fn nested_and_flat_error_events() {
        let nested = r#"data: {"type":"error","status":400,"error":{"type":"invalid_request_error","code":"context_length_exceeded","message":"Your input exceeds the context window of this model.","param":"input"},"sequence_number":2}"#;
        let flat = r#"data: {"type":"error","code":"server_error","message":"boom","param":null}"#;
        let ev = decode_chunks([format!("{nested}\n\n{flat}\n\n").as_bytes()]).unwrap();
        assert_eq!(
            ev,
            vec![
                StreamEvent::Error {
                    code: Some("context_length_exceeded".into()),
                    message: "Your input exceeds the context window of this model.".into(),
                    kind: Some("invalid_request_error".into()),
                    param: Some("input".into()),
                    status: Some(400),
                },
                StreamEvent::Error {
                    code: Some("server_error".into()),
                    message: "boom".into(),
                    kind: None,
                    param: None,
                    status: None,
                },
            ]
        );
        assert!(ev[0].is_terminal());
    }

    #[test]
    fn terminal_kinds() {
        let s = concat!(
            "data: {\"type\":\"response.incomplete\",\"response\":{\"id\":\"r\",\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n",
            "data: {\"type\":\"response.failed\",\"response\":{\"id\":\"r\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"m\"}}}\n\n",
            "data: {\"type\":\"response.done\",\"response\":{\"id\":\"r\"}}\n\n",
        );
        let ev = decode_chunks([s.as_bytes()]).unwrap();
        assert!(
            matches!(&ev[0], StreamEvent::Incomplete(r) if r.incomplete_details.as_ref().unwrap().reason.as_deref() == Some("max_output_tokens"))
        );
        assert!(
            matches!(&ev[1], StreamEvent::Failed(r) if r.error.as_ref().unwrap().code.as_deref() == Some("server_error"))
        );
        assert!(matches!(&ev[2], StreamEvent::Completed(_)));
        assert!(ev.iter().all(StreamEvent::is_terminal));
    }

    #[test]
    fn oversize_event_is_an_error_not_oom() {
        let mut d = SseDecoder::with_max_event_bytes(1024);
        let big = format!("data: {{\"delta\":\"{}", "a".repeat(600));
        assert!(d.push(big.as_bytes()).is_ok());
        let e = d.push(big.as_bytes()).unwrap_err();
        assert_eq!(e, OpenAiError::EventTooLarge { limit: 1024 });
        // Many data lines adding up also count.
        let mut d = SseDecoder::with_max_event_bytes(1024);
        let line = format!("data: {}\n", "b".repeat(100));
        let mut res = Ok(vec![]);
        for _ in 0..20 {
            res = d.push(line.as_bytes());
            if res.is_err() {
                break;
            }
        }
        assert!(matches!(res, Err(OpenAiError::EventTooLarge { .. })));
        // Events under the limit reset the count.
        let mut d = SseDecoder::with_max_event_bytes(1024);
        let ev = "data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n";
        for _ in 0..100 {
            assert_eq!(d.push(ev.as_bytes()).unwrap().len(), 1);
        }
    }

    #[test]
    fn invalid_utf8_does_not_stall() {
        let s = b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"a\xffb\"}\n\n";
        assert_eq!(
            decode_chunks([&s[..]]).unwrap(),
            vec![StreamEvent::TextDelta("a\u{fffd}b".into())]
        );
    }

    #[test]
    fn finish_dispatches_unterminated_event_and_reports_truncation() {
        let s = b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"a\"}";
        assert_eq!(
            decode_chunks([&s[..]]).unwrap(),
            vec![StreamEvent::TextDelta("a".into())]
        );
        let cut = b"data: {\"type\":\"response.output_text.delta\",\"del";
        assert!(decode_chunks([&cut[..]]).is_err());
    }
}
