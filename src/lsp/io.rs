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
