//! Input that tells us when the client went away, so running jobs stop at once
//! instead of waiting for replies that will never come.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

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

/// Bodies larger than this are refused before anything is allocated for them
/// (VS Code itself refuses to sync files over 50 MB).
pub const MAX_MESSAGE: usize = 64 << 20;
const MAX_HEADER: usize = 8 << 10;
const HEADER_NAME: &[u8] = b"content-length:";

/// Passes on only well-formed frames. The framework's reader stops for good at the
/// first undecodable message (tokio-util's `FramedRead` ends after an error), which
/// would turn one bad message from a client into a dead server; here a bad header, a
/// huge `Content-Length` or a body that is not JSON is logged and skipped, and reading
/// resumes at the next header.
pub struct FrameGuard<R> {
    inner: R,
    raw: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    /// (header length, body length) of the frame being collected.
    pending: Option<(usize, usize)>,
    eof: bool,
}

impl<R> FrameGuard<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            raw: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            pending: None,
            eof: false,
        }
    }

    /// Drops everything before the next header name found at or after `from` (which is
    /// at least 1, so every call makes progress).
    fn resync(&mut self, from: usize) {
        let hay = &self.raw[from.min(self.raw.len())..];
        let next = hay
            .windows(HEADER_NAME.len())
            .position(|w| w.eq_ignore_ascii_case(HEADER_NAME))
            .map(|i| from + i);
        match next {
            Some(i) => {
                self.raw.drain(..i);
            }
            None => {
                // keep a possible partial header name, but always make progress
                let keep = HEADER_NAME.len().min(self.raw.len().saturating_sub(from));
                self.raw.drain(..self.raw.len() - keep);
            }
        }
    }

    /// Moves complete, valid frames from `raw` to `out`.
    fn extract(&mut self) {
        loop {
            let (head, len) = match self.pending {
                Some(p) => p,
                None => {
                    let Some(end) = self.raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                        if self.raw.len() > MAX_HEADER {
                            tracing::warn!(
                                "dropping {} bytes that hold no message header",
                                self.raw.len()
                            );
                            self.resync(1);
                        }
                        return;
                    };
                    match content_length(&self.raw[..end]) {
                        Ok(len) if len <= MAX_MESSAGE => {
                            self.pending = Some((end + 4, len));
                            (end + 4, len)
                        }
                        Ok(len) => {
                            tracing::error!(
                                "refusing a {len}-byte message (limit {MAX_MESSAGE}); skipping to the next header"
                            );
                            self.resync(1);
                            continue;
                        }
                        Err(e) => {
                            // the header may end in a good one after garbage: look from 1
                            tracing::error!(
                                "bad message header ({e}); skipping to the next header"
                            );
                            self.resync(1);
                            continue;
                        }
                    }
                }
            };
            if self.raw.len() < head + len {
                return;
            }
            self.pending = None;
            let body = &self.raw[head..head + len];
            if is_decodable(body) {
                self.out
                    .extend_from_slice(format!("Content-Length: {len}\r\n\r\n").as_bytes());
                self.out.extend_from_slice(body);
            } else if let Some(fixed) = repair_lone_surrogates(body).filter(|b| is_decodable(b)) {
                // JS clients can send "\ud800" (JSON.stringify of a broken string);
                // dropping the message would silently desync a document, so the lone
                // surrogate becomes U+FFFD: one UTF-16 unit, like the surrogate, so
                // every position the client sends stays right.
                tracing::warn!("replaced lone surrogate escapes with U+FFFD in a message");
                self.out.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", fixed.len()).as_bytes(),
                );
                self.out.extend_from_slice(&fixed);
            } else {
                tracing::error!("dropping a message whose body is not valid JSON ({len} bytes)");
            }
            self.raw.drain(..head + len);
        }
    }
}

/// Whether the framework will be able to decode `body`. Validating with `IgnoredAny` is
/// cheap; only a body with a `\uD8xx`-style escape (a possible lone surrogate, which
/// serde_json refuses when it builds a `String`) gets the full parse.
fn is_decodable(body: &[u8]) -> bool {
    if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() {
        return false;
    }
    let maybe_surrogate = body
        .windows(3)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && (w[2] | 0x20) == b'd');
    !maybe_surrogate || serde_json::from_slice::<serde_json::Value>(body).is_ok()
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
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn filter(input: &[u8]) -> String {
        let mut out = String::new();
        FrameGuard::new(input)
            .read_to_string(&mut out)
            .await
            .unwrap();
        out
    }

    fn msg(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[tokio::test]
    async fn valid_frames_pass_unchanged() {
        let input = msg("{\"a\":1}") + &msg("{\"b\":\"é😀\"}");
        assert_eq!(filter(input.as_bytes()).await, input);
    }

    #[tokio::test]
    async fn bad_frames_are_dropped_and_reading_resumes() {
        let good = msg("{\"ok\":true}");
        let cases = [
            "Content-Length: abc\r\n\r\n{}".to_owned(),
            "X-Nothing: 1\r\n\r\n{}".to_owned(),
            msg("{\"jsonrpc\":"),
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
    async fn lone_surrogates_become_replacement_characters() {
        let input = msg("{\"t\":\"a\\ud800b\\udc00\\ud83d\\ude00\\\\ud800\"}");
        let out = filter(input.as_bytes()).await;
        let body = out.split("\r\n\r\n").nth(1).unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["t"], "a\u{fffd}b\u{fffd}😀\\ud800");
    }

    #[tokio::test]
    async fn length_counted_in_utf16_units_loses_only_that_message() {
        let body = "{\"t\":\"😀😀😀\"}";
        let wrong = body.encode_utf16().count();
        let input = format!("Content-Length: {wrong}\r\n\r\n{body}") + &msg("{\"next\":1}");
        assert_eq!(filter(input.as_bytes()).await, msg("{\"next\":1}"));
    }
}
