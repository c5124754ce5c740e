//! The edge of the wire: input that tells us when the client went away, so running
//! jobs stop at once instead of waiting for replies that will never come; a guard that
//! lets through only messages the framework can decode and has the rest answered; and
//! [`Edge`], the outermost service, which answers what the framework would not.

mod check;
pub mod text_sync;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{self, BoxFuture, FutureExt};
use serde_json::Value;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;
use tower::Service;
use tower_lsp_server::ExitedError;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Request, Response};

use check::Verdict;

pub struct EofSignal<R> {
    inner: R,
    on_eof: CancellationToken,
}

impl<R> EofSignal<R> {
    pub fn new(inner: R, on_eof: CancellationToken) -> Self {
        Self { inner, on_eof }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for EofSignal<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &res {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                tracing::info!("input closed");
                self.on_eof.cancel();
            }
            Poll::Ready(Err(e)) => {
                tracing::warn!("input failed: {e}");
                self.on_eof.cancel();
            }
            _ => {}
        }
        res
    }
}

type Fut = BoxFuture<'static, Result<Option<Response>, ExitedError>>;

/// A method name for the requests [`FrameGuard`] makes out of invalid messages: under
/// `$/`, so it can never be a real LSP method, and random, so a client cannot forge one.
pub fn marker() -> Arc<str> {
    format!("$/codex-lsp/invalid-message/{:016x}", fastrand::u64(..)).into()
}

/// The method of the notifications that stand for text sync parsed by [`FrameGuard`]
/// (see [`text_sync`]); random like [`marker`].
pub fn text_sync_marker() -> Arc<str> {
    format!("$/codex-lsp/text-sync/{:016x}", fastrand::u64(..)).into()
}

/// The outermost service, in front of everything the framework runs:
/// - answers the requests [`FrameGuard`] made out of invalid messages with their error;
/// - answers a request for an unknown `$/` method with `-32601` (the framework drops
///   those answers, right for notifications, not for requests, which LSP says must
///   get one); `$/` notifications stay silently ignored;
/// - cancels `stop` on `exit`, the one message after which the process must end.
pub struct Edge<S> {
    inner: S,
    marker: Arc<str>,
    stop: CancellationToken,
}

impl<S> Edge<S> {
    pub fn new(inner: S, marker: Arc<str>, stop: CancellationToken) -> Self {
        Self {
            inner,
            marker,
            stop,
        }
    }
}

/// The `$/` methods something behind [`Edge`] handles.
const KNOWN_DOLLAR: &[&str] = &["$/cancelRequest"];

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Option<Response>, Error = ExitedError, Future = Fut>,
{
    type Response = Option<Response>;
    type Error = ExitedError;
    type Future = Fut;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let method = req.method();
        if method == &*self.marker {
            let (_, id, params) = req.into_parts();
            let error = params
                .and_then(|p| serde_json::from_value::<Error>(p).ok())
                .unwrap_or_else(Error::invalid_request);
            let response = id.map(|id| Response::from_error(id, error));
            return future::ready(Ok(response)).boxed();
        }
        if method.starts_with("$/")
            && !KNOWN_DOLLAR.contains(&method)
            && let Some(id) = req.id().cloned()
        {
            tracing::debug!(method, "unknown $/ request");
            let error = Error {
                code: ErrorCode::MethodNotFound,
                message: format!("Method not found: {method}").into(),
                data: None,
            };
            return future::ready(Ok(Some(Response::from_error(id, error)))).boxed();
        }
        if method == "exit" {
            self.stop.cancel();
        }
        self.inner.call(req)
    }
}

/// Bodies larger than this are refused before anything is allocated for them
/// (VS Code itself refuses to sync files over 50 MB).
pub const MAX_MESSAGE: usize = 64 << 20;
const MAX_HEADER: usize = 8 << 10;
const HEADER_NAME: &[u8] = b"content-length:";

/// Passes on only what the framework can decode. Its reader stops for good at the
/// first undecodable message (tokio-util's `FramedRead` ends after an error), which
/// would turn one bad message from a client into a dead server. Here a bad header or a
/// huge `Content-Length` is logged and skipped, reading resuming at the next header; a
/// body the framework could not decode (see [`check`]) is not passed on but turned
/// into a request for [`Edge`], which answers it with the JSON-RPC error. That answer
/// goes out through the framework's own writer, one whole frame at a time, in order.
pub struct FrameGuard<R> {
    inner: R,
    /// Input read and not yet passed on, from `start` (consumed frames are dropped
    /// from the front once per read, not once per frame: a burst of small messages
    /// would move the rest of the buffer for each).
    raw: Vec<u8>,
    start: usize,
    out: Vec<u8>,
    out_pos: usize,
    /// (header length, body length) of the frame being collected.
    pending: Option<(usize, usize)>,
    eof: bool,
    /// The method of the requests that carry an error to answer (see [`Edge`]).
    marker: Arc<str>,
    /// Where sync notifications parsed here go, and the method of the notification
    /// that stands in for each (see [`text_sync`]); `None`: all pass as they are.
    text_sync: Option<(Arc<str>, Arc<text_sync::Parsed>)>,
}

impl<R> FrameGuard<R> {
    pub fn new(inner: R, marker: Arc<str>) -> Self {
        Self {
            inner,
            raw: Vec::new(),
            start: 0,
            out: Vec::new(),
            out_pos: 0,
            pending: None,
            eof: false,
            marker,
            text_sync: None,
        }
    }

    /// Parses `didOpen`/`didChange` here, keeping them in `parsed` and passing on a
    /// notification with method `marker` that names each.
    pub fn parse_text_sync(mut self, marker: Arc<str>, parsed: Arc<text_sync::Parsed>) -> Self {
        self.text_sync = Some((marker, parsed));
        self
    }

    /// The unconsumed input.
    fn buf(&self) -> &[u8] {
        &self.raw[self.start..]
    }

    /// Drops everything before the next header name found at or after `from` (which is
    /// at least 1, so every call makes progress).
    fn resync(&mut self, from: usize) {
        let buf = self.buf();
        let hay = &buf[from.min(buf.len())..];
        let next = hay
            .windows(HEADER_NAME.len())
            .position(|w| w.eq_ignore_ascii_case(HEADER_NAME))
            .map(|i| from + i);
        match next {
            Some(i) => self.start += i,
            None => {
                // keep a possible partial header name, but always make progress
                let keep = HEADER_NAME.len().min(buf.len().saturating_sub(from));
                self.start += buf.len() - keep;
            }
        }
    }

    /// Moves complete frames from `raw` to `out`: valid ones as they are, invalid ones
    /// as a request for their error answer, text sync as the stand-in for it.
    fn extract(&mut self) {
        let mut synced = None;
        loop {
            let (head, len) = match self.pending {
                Some(p) => p,
                None => match self.header() {
                    Header::Incomplete => break,
                    Header::Skipped => continue,
                    Header::Frame(head, len) => {
                        self.pending = Some((head, len));
                        (head, len)
                    }
                },
            };
            if self.buf().len() < head + len {
                break;
            }
            self.pending = None;
            let body = &self.raw[self.start + head..self.start + head + len];
            let parsed = self
                .text_sync
                .as_ref()
                .and_then(|(_, queue)| Some((queue, text_sync::parse(body)?)));
            match parsed {
                Some((queue, sync)) => synced = Some(queue.put(sync)),
                None => {
                    // what came before it is applied before it
                    self.stand_in(synced.take());
                    let body = &self.raw[self.start + head..self.start + head + len];
                    pass_on(&mut self.out, &self.marker, check::check(body), len);
                }
            }
            self.start += head + len;
        }
        self.stand_in(synced);
        self.raw.drain(..self.start);
        self.start = 0;
        release_spare(&mut self.raw);
    }

    /// One notification standing for the text sync parsed up to number `through`.
    fn stand_in(&mut self, through: Option<u64>) {
        if let (Some(n), Some((marker, _))) = (through, &self.text_sync) {
            // the marker is `$/codex-lsp/text-sync/` and hex digits: no escaping
            let carrier =
                format!(r#"{{"jsonrpc":"2.0","method":"{marker}","params":{{"through":{n}}}}}"#);
            push_frame(&mut self.out, carrier.as_bytes());
        }
    }

    /// Reads the header at the start of `raw`; a bad one, or one announcing a message
    /// over the limit, is skipped up to the next header.
    fn header(&mut self) -> Header {
        let Some(end) = self.buf().windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.buf().len() > MAX_HEADER {
                tracing::warn!(
                    "dropping {} bytes that hold no message header",
                    self.buf().len()
                );
                self.resync(1);
            }
            return Header::Incomplete;
        };
        match content_length(&self.buf()[..end]) {
            Ok(len) if len <= MAX_MESSAGE => Header::Frame(end + 4, len),
            Ok(len) => {
                tracing::error!(
                    "refusing a {len}-byte message (limit {MAX_MESSAGE}); skipping to the next header"
                );
                self.resync(1);
                Header::Skipped
            }
            Err(e) => {
                // the header may end in a good one after garbage: look from 1
                tracing::error!("bad message header ({e}); skipping to the next header");
                self.resync(1);
                Header::Skipped
            }
        }
    }
}

/// What the start of the buffer holds.
enum Header {
    /// Not a whole header yet.
    Incomplete,
    /// A bad header was skipped: look again.
    Skipped,
    /// A frame whose body starts at `.0` and is `.1` bytes long.
    Frame(usize, usize),
}

/// Passes a valid frame on as it is, and an invalid one (`len` bytes) as a request for
/// its error answer.
/// A buffer that grew for one large message (a `didOpen` of a big file) gives the
/// memory back once it is mostly empty, instead of holding it for the session.
fn release_spare(buf: &mut Vec<u8>) {
    const KEEP: usize = 64 << 10;
    if buf.capacity() > KEEP && buf.len() < buf.capacity() / 4 {
        buf.shrink_to(buf.len().max(KEEP));
    }
}

fn pass_on(out: &mut Vec<u8>, marker: &str, verdict: Verdict<'_>, len: usize) {
    match verdict {
        Verdict::Pass(body) => push_frame(out, &body),
        Verdict::Answer(id, error) => {
            // never the body itself: it may hold anything, a key included
            let why = error.data.as_ref().and_then(Value::as_str);
            tracing::warn!(
                code = error.code.code(),
                "answering a {len}-byte message that is not valid JSON-RPC: {}",
                why.unwrap_or_default()
            );
            let carrier = serde_json::json!({
                "jsonrpc": "2.0",
                "id": id,
                "method": marker,
                "params": error,
            });
            match serde_json::to_vec(&carrier) {
                Ok(b) => push_frame(out, &b),
                Err(e) => tracing::error!("cannot answer a bad message: {e}"),
            }
        }
    }
}

fn push_frame(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
}

fn content_length(header: &[u8]) -> Result<usize, String> {
    let text = std::str::from_utf8(header).map_err(|_| "header is not UTF-8".to_owned())?;
    let mut len = None;
    for line in text.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("malformed header line {line:?}"));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            len = Some(
                value
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("Content-Length {:?} is not a number", value.trim()))?,
            );
        }
    }
    len.ok_or_else(|| "no Content-Length".to_owned())
}

impl<R: AsyncRead + Unpin> AsyncRead for FrameGuard<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.out_pos < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                    release_spare(&mut this.out);
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 16 << 10];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    if rb.filled().is_empty() {
                        this.eof = true;
                        if !this.raw.is_empty() {
                            tracing::warn!(
                                "input ended inside a message ({} bytes dropped)",
                                this.raw.len()
                            );
                        }
                    } else {
                        this.raw.extend_from_slice(rb.filled());
                        this.extract();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {

    #[test]
    fn a_buffer_grown_for_one_large_message_gives_the_memory_back() {
        let mut buf: Vec<u8> = Vec::with_capacity(4 << 20);
        buf.extend_from_slice(b"small");
        release_spare(&mut buf);
        assert!(buf.capacity() <= 128 << 10, "{}", buf.capacity());
        assert_eq!(buf, b"small");
        // a buffer in normal use keeps its room
        let mut busy: Vec<u8> = vec![0; 60 << 10];
        let cap = busy.capacity();
        release_spare(&mut busy);
        assert_eq!(busy.capacity(), cap);
    }

    use super::*;
    use tokio::io::AsyncReadExt;

    const MARK: &str = "$/mark";

    async fn filter(input: &[u8]) -> String {
        let mut out = String::new();
        FrameGuard::new(input, MARK.into())
            .read_to_string(&mut out)
            .await
            .unwrap();
        out
    }

    fn msg(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    /// The bodies of the frames in `out`.
    fn bodies(out: &str) -> Vec<Value> {
        let mut rest = out;
        let mut v = Vec::new();
        while let Some((head, tail)) = rest.split_once("\r\n\r\n") {
            let len: usize = head["Content-Length: ".len()..].parse().unwrap();
            v.push(serde_json::from_str(&tail[..len]).unwrap());
            rest = &tail[len..];
        }
        v
    }

    #[tokio::test]
    async fn text_sync_is_kept_and_stood_for_once_per_run_in_wire_order() {
        let change = |v: i32| {
            msg(&format!(
                r#"{{"jsonrpc":"2.0","method":"textDocument/didChange","params":{{"textDocument":{{"uri":"file:///a.rs","version":{v}}},"contentChanges":[{{"text":"v{v}"}}]}}}}"#
            ))
        };
        let request =
            msg(r#"{"jsonrpc":"2.0","id":7,"method":"textDocument/codeAction","params":{}}"#);
        let input = change(1) + &change(2) + &request + &change(3);
        let parsed = Arc::new(text_sync::Parsed::default());
        let mut out = String::new();
        FrameGuard::new(input.as_bytes(), MARK.into())
            .parse_text_sync("$/sync".into(), parsed.clone())
            .read_to_string(&mut out)
            .await
            .unwrap();
        let frames = bodies(&out);
        let methods: Vec<&str> = frames
            .iter()
            .map(|f| f["method"].as_str().unwrap())
            .collect();
        assert_eq!(methods, ["$/sync", "textDocument/codeAction", "$/sync"]);
        let version = |s: &text_sync::TextSync| match s {
            text_sync::TextSync::Change(p) => p.text_document.version,
            text_sync::TextSync::Open(_) => -1,
        };
        let through = |f: &Value| f["params"]["through"].as_u64().unwrap();
        let first: Vec<i32> = parsed
            .take_through(through(&frames[0]))
            .iter()
            .map(version)
            .collect();
        assert_eq!(
            first,
            [1, 2],
            "the changes before the request stand before it"
        );
        let last: Vec<i32> = parsed
            .take_through(through(&frames[2]))
            .iter()
            .map(version)
            .collect();
        assert_eq!(last, [3]);
    }

    #[tokio::test]
    async fn valid_frames_pass_unchanged() {
        let input = msg(r#"{"jsonrpc":"2.0","method":"a"}"#)
            + &msg(r#"{"jsonrpc":"2.0","id":1,"method":"b","params":{"t":"é😀"}}"#);
        assert_eq!(filter(input.as_bytes()).await, input);
    }

    #[tokio::test]
    async fn bad_frames_are_dropped_and_reading_resumes() {
        let good = msg(r#"{"jsonrpc":"2.0","method":"ok"}"#);
        let cases = [
            "Content-Length: abc\r\n\r\n{}".to_owned(),
            "X-Nothing: 1\r\n\r\n{}".to_owned(),
            "Content-Length: 9999999999999999\r\n\r\n{}".to_owned(),
            "Content-Length: 2147483648\r\n\r\n".to_owned(),
            "garbage without any header at all".to_owned(),
        ];
        for bad in cases {
            let input = bad.clone() + &good;
            assert_eq!(filter(input.as_bytes()).await, good, "after {bad:?}");
        }
    }

    #[tokio::test]
    async fn undecodable_bodies_become_requests_for_their_answer() {
        let good = msg(r#"{"jsonrpc":"2.0","method":"ok"}"#);
        let input =
            msg(r#"{"jsonrpc":"#) + &msg(r#"{"jsonrpc":"1.0","method":"m","id":4}"#) + &good;
        let out = filter(input.as_bytes()).await;
        assert!(out.ends_with(&good), "{out}");
        let b = bodies(&out);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0]["method"], MARK);
        assert_eq!(b[0]["id"], Value::Null);
        assert_eq!(b[0]["params"]["code"], -32700);
        assert_eq!(b[1]["method"], MARK);
        assert_eq!(b[1]["id"], 4);
        assert_eq!(b[1]["params"]["code"], -32600);
        // the framework decodes what it is given
        for v in &b {
            serde_json::from_value::<Request>(v.clone()).unwrap();
        }
    }

    #[tokio::test]
    async fn lone_surrogates_become_replacement_characters() {
        let input = msg(r#"{"jsonrpc":"2.0","method":"m","params":"a\ud800b"}"#);
        let b = bodies(&filter(input.as_bytes()).await);
        assert_eq!(b[0]["params"], "a\u{fffd}b");
    }

    #[tokio::test]
    async fn length_counted_in_utf16_units_loses_only_that_message() {
        let body = r#"{"jsonrpc":"2.0","method":"m","params":"😀😀😀"}"#;
        let wrong = body.encode_utf16().count();
        let next = msg(r#"{"jsonrpc":"2.0","method":"next"}"#);
        let input = format!("Content-Length: {wrong}\r\n\r\n{body}") + &next;
        let out = filter(input.as_bytes()).await;
        let b = bodies(&out);
        assert_eq!(b.len(), 2, "{out}");
        assert_eq!(b[0]["params"]["code"], -32700);
        assert!(out.ends_with(&next));
    }

    struct Echo;

    impl Service<Request> for Echo {
        type Response = Option<Response>;
        type Error = ExitedError;
        type Future = Fut;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ExitedError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: Request) -> Fut {
            let id = req.id().cloned().unwrap_or_default();
            future::ready(Ok(Some(Response::from_ok(
                id,
                Value::from(req.method().to_owned()),
            ))))
            .boxed()
        }
    }

    fn request(v: Value) -> Request {
        serde_json::from_value(v).unwrap()
    }

    #[tokio::test]
    async fn edge_answers_what_the_framework_would_not() {
        let stop = CancellationToken::new();
        let mut edge = Edge::new(Echo, MARK.into(), stop.clone());
        let carried = edge
            .call(request(
                serde_json::json!({"jsonrpc": "2.0", "id": null, "method": MARK,
                "params": {"code": -32700, "message": "Parse error"}}),
            ))
            .await
            .unwrap()
            .unwrap();
        let (id, body) = carried.into_parts();
        assert_eq!(id, tower_lsp_server::jsonrpc::Id::Null);
        assert_eq!(body.unwrap_err().code, ErrorCode::ParseError);

        let unknown = edge
            .call(request(
                serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "$/x"}),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(unknown.error().unwrap().code, ErrorCode::MethodNotFound);
        // notifications and known $/ methods go on
        for m in [
            serde_json::json!({"jsonrpc": "2.0", "method": "$/x"}),
            serde_json::json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}}),
        ] {
            let r = edge.call(request(m)).await.unwrap().unwrap();
            assert!(r.is_ok());
        }
        assert!(!stop.is_cancelled());
        edge.call(request(
            serde_json::json!({"jsonrpc": "2.0", "method": "exit"}),
        ))
        .await
        .unwrap();
        assert!(stop.is_cancelled());
    }
}
