//! The trace-level log audit, alone in its own test binary: `tracing`'s per-callsite
//! interest cache is process-wide, so a thread-local subscriber in a binary whose other
//! tests log concurrently may miss events (a flaky audit proves nothing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support_http;

use support_http::*;

/// Log audit: with everything logged at TRACE (ours, reqwest's, hyper's), the key never
/// appears, whatever path a request takes.
#[tokio::test]
async fn trace_logs_never_contain_the_key() {
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let b2 = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || b2.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let echo = format!(
        "data: {{\"type\":\"error\",\"code\":\"invalid_api_key\",\"message\":\"bad key {SENTINEL}\"}}\n\n"
    );
    let server = ScriptServer::start(vec![
        vec![send(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )],
        vec![sse_head(), created_frame(), send(echo)],
    ])
    .await;
    let (r, _) = run_stream(&server, no_retry_wait).await;
    assert!(r.is_err());
    let logs = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    assert!(logs.contains("retrying POST /responses"), "{logs}");
    assert!(!logs.contains("TESTSENTINEL"), "key in logs:\n{logs}");
}
