//! Proxy choice against real environment variables. Alone in its own test binary, and
//! a single test, because it changes the process environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support_http;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use codex_lsp::openai::{OpenAiError, ResponsesClient};
use support_http::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// A "proxy" on 127.0.0.1 that records the first line of every request and refuses it.
async fn fake_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            seen2
                .lock()
                .unwrap()
                .push(text.lines().next().unwrap_or_default().to_owned());
            let _ = sock
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    (url, seen)
}

fn set_env(name: &str, value: Option<&str>) {
    // SAFETY: this binary holds this one test; nothing else reads or writes the
    // environment concurrently (clients are built after the change, on this thread).
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

async fn create(base_url: &str) -> Result<codex_lsp::openai::ResponseObject, OpenAiError> {
    let mut cfg = test_config(base_url);
    cfg.max_retries = 0;
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.timeout = Duration::from_secs(5);
    let client = ResponsesClient::new(cfg).unwrap();
    client
        .create(&request(false), &CancellationToken::new(), &mut |_| {})
        .await
}

#[tokio::test]
async fn proxy_env_is_honoured_except_for_loopback_and_no_proxy() {
    let (proxy, seen) = fake_proxy().await;
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        set_env(name, Some(&proxy));
    }
    for name in ["NO_PROXY", "no_proxy", "REQUEST_METHOD"] {
        set_env(name, None);
    }

    // Loopback over plain http: straight to the gateway; the proxy sees nothing (before,
    // it received the POST with the Authorization header in clear text).
    let body = completed_body("direct").to_string();
    let server = ScriptServer::start(vec![vec![send(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))]])
    .await;
    let resp = create(&server.base_url()).await.unwrap();
    assert_eq!(resp.output_text(), "direct");
    assert_eq!(server.rec.count(), 1);
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );

    // https:// to another host goes through the proxy, as a CONNECT tunnel.
    let e = create("https://gateway.example.test/v1").await.unwrap_err();
    assert_clean(&e);
    let lines = seen.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("CONNECT gateway.example.test:443"),
        "{lines:?}"
    );

    // ...unless NO_PROXY names the host.
    set_env("NO_PROXY", Some("example.test"));
    let e = create("https://gateway.example.test/v1").await.unwrap_err();
    assert!(
        matches!(e, OpenAiError::Connect { .. } | OpenAiError::Timeout { .. }),
        "{e:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "{:?}", seen.lock().unwrap());
}
