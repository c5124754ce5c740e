//! Streaming faults against a scripted server on 127.0.0.1 (reliability.md C-6…C-10):
//! stalls, drips, drops, in-stream failures, malformed frames, and cancellation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support_http;

use std::time::{Duration, Instant};

use codex_lsp::openai::{OpenAiError, ResponsesClient, StreamEvent};
use support_http::*;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn dripped_stream_with_crlf_and_unknown_events_completes() {
    let mut script = vec![sse_head(), send(": keep-alive\r\n\r\n"), created_frame()];
    script.push(send(
        "event: response.reasoning_summary_text.delta\r\ndata: {\"type\":\"response.reasoning_summary_text.delta\",\"delta\":\"t\"}\r\n\r\n",
    ));
    script.push(send(
        "data: {\"type\":\"response.brand_new_event\",\"x\":[1,2]}\r\n\r\n",
    ));
    // "héllo" dripped with the é split between two writes.
    let frame_bytes =
        b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"h\xc3\xa9llo\"}\r\n\r\n";
    let cut = frame_bytes.iter().position(|&b| b == 0xc3).unwrap() + 1;
    script.push(Step::Send(frame_bytes[..cut].to_vec()));
    script.push(sleep_ms(30));
    script.push(Step::Send(frame_bytes[cut..].to_vec()));
    script.push(completed_frame("héllo"));
    script.push(Step::HoldUntilClosed); // the client must stop at the terminal event
    let server = ScriptServer::start(vec![script]).await;
    let (r, ev) = run_stream(&server, |_| {}).await;
    assert_eq!(r.unwrap().output_text(), "héllo");
    assert!(ev.contains(&StreamEvent::TextDelta("héllo".into())));
    assert_eq!(ev.iter().filter(|e| **e == StreamEvent::Other).count(), 2);
    let req = server.rec.requests.lock().unwrap()[0].clone();
    assert!(req.contains("accept: text/event-stream"), "{req}");
    assert!(
        req.contains(&format!("authorization: Bearer {SENTINEL}")),
        "{req}"
    );
}

/// C-7: keep-alive comments do not reset the idle timer. The stall came after an
/// event but before output, so the request is re-issued exactly once (§4.3).
#[tokio::test]
async fn c7_idle_stream_with_keepalives_stalls() {
    let mut script = vec![sse_head(), created_frame()];
    for _ in 0..40 {
        script.push(sleep_ms(100));
        script.push(send(": keep-alive\n\n"));
    }
    let server = ScriptServer::start(vec![script]).await;
    let start = Instant::now();
    let (r, ev) = run_stream(&server, |c| c.idle_timeout = Duration::from_millis(500)).await;
    let e = r.unwrap_err();
    assert_eq!(e, OpenAiError::StreamStalled);
    assert!(e.user_message().contains("stalled"));
    assert!(start.elapsed() >= Duration::from_millis(960));
    let created = ev
        .iter()
        .filter(|e| matches!(e, StreamEvent::Created { .. }))
        .count();
    assert_eq!(created, 2, "{ev:?}");
    assert_eq!(server.rec.count(), 2);
}

/// A stall before any event is retried (nothing was shown yet).
#[tokio::test]
async fn stall_before_first_event_is_retried() {
    let stall = vec![sse_head(), send(": hello\n\n"), sleep_ms(5_000)];
    let ok = vec![sse_head(), created_frame(), completed_frame("second")];
    let server = ScriptServer::start(vec![stall, ok]).await;
    let (r, _) = run_stream(&server, |c| {
        c.idle_timeout = Duration::from_millis(300);
        no_retry_wait(c);
    })
    .await;
    assert_eq!(r.unwrap().output_text(), "second");
    assert_eq!(server.rec.count(), 2);
}

/// C-8: a cut stream is StreamEnded and nothing partial is returned. After output it
/// is not resent; before any output it is re-issued once (and cut again here).
#[tokio::test]
async fn c8_truncated_stream_ends_without_partial() {
    let cases: Vec<(usize, Vec<Step>)> = vec![
        (
            1,
            vec![
                sse_head(),
                created_frame(),
                delta_frame("partial "),
                delta_frame("text"),
                Step::Close,
            ],
        ),
        // Cut inside a UTF-8 sequence of a frame.
        (
            2,
            vec![
                sse_head(),
                created_frame(),
                Step::Send(
                    b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"\xc3".to_vec(),
                ),
                Step::Close,
            ],
        ),
        // Cut mid-JSON of the terminal event.
        (
            2,
            vec![
                sse_head(),
                created_frame(),
                send("data: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"sta"),
                Step::Close,
            ],
        ),
    ];
    for (attempts, script) in cases {
        let server = ScriptServer::start(vec![script]).await;
        let (r, ev) = run_stream(&server, |_| {}).await;
        let e = r.unwrap_err();
        assert_eq!(e, OpenAiError::StreamEnded);
        assert!(e.user_message().contains("closed before"));
        assert!(!ev.is_empty());
        assert_eq!(
            server.rec.count(),
            attempts,
            "resent after output, or more than once"
        );
    }
}

/// A drop before any event is resent.
#[tokio::test]
async fn drop_before_any_event_is_retried() {
    let server = ScriptServer::start(vec![
        vec![sse_head(), Step::Close],
        vec![Step::Close], // connection closed before any response head
        vec![sse_head(), created_frame(), completed_frame("third time")],
    ])
    .await;
    let (r, _) = run_stream(&server, |c| c.max_retries = 2).await;
    assert_eq!(r.unwrap().output_text(), "third time");
    assert_eq!(server.rec.count(), 3);
}

fn terminal(json: &str) -> Vec<Step> {
    vec![sse_head(), created_frame(), frame(json)]
}

/// C-9: each failure terminal has its own variant and message.
#[tokio::test]
async fn c9_failure_terminals_are_distinct() {
    let no_retry = |c: &mut codex_lsp::openai::ClientConfig| c.max_retries = 0;
    let cases = [
        (
            r#"{"type":"error","code":"server_error","message":"The server had an error"}"#,
            "server_error",
        ),
        (
            r#"{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"server_error","message":"boom"}}}"#,
            "server_error",
        ),
        (
            r#"{"type":"response.incomplete","response":{"id":"r","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}}"#,
            "max tokens",
        ),
        (
            r#"{"type":"response.incomplete","response":{"id":"r","status":"incomplete","incomplete_details":{"reason":"content_filter"}}}"#,
            "content filter",
        ),
        (
            r#"{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"context_length_exceeded","message":"Your input exceeds the context window of this model.","param":"input"}}"#,
            "too large",
        ),
        (
            r#"{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"insufficient_quota","message":"You exceeded your current quota"}}}"#,
            "quota",
        ),
        (
            r#"{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"rate_limit_exceeded","message":"Please try again in 600s."}}}"#,
            "~10 min",
        ),
    ];
    let mut messages = Vec::new();
    for (json, needle) in cases {
        let server = ScriptServer::start(vec![terminal(json)]).await;
        let (r, _) = run_stream(&server, no_retry).await;
        let e = r.unwrap_err();
        let m = e.user_message();
        assert!(m.contains(needle), "{json} -> {m}");
        assert_eq!(server.rec.count(), 1);
        messages.push(m);
    }
    messages.dedup();
    assert!(messages.len() >= 6, "{messages:?}");
}

/// C-9: a clean server_error terminal before any output is retried per policy.
#[tokio::test]
async fn c9_response_failed_server_error_is_retried() {
    let failed = r#"{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"server_error","message":"boom"}}}"#;
    let server = ScriptServer::start(vec![
        terminal(failed),
        vec![sse_head(), created_frame(), completed_frame("recovered")],
    ])
    .await;
    let (r, _) = run_stream(&server, no_retry_wait).await;
    assert_eq!(r.unwrap().output_text(), "recovered");
    assert_eq!(server.rec.count(), 2);

    // ...but not once text was streamed to the user.
    let server = ScriptServer::start(vec![vec![
        sse_head(),
        created_frame(),
        delta_frame("x"),
        frame(failed),
    ]])
    .await;
    let (r, _) = run_stream(&server, no_retry_wait).await;
    assert!(matches!(r.unwrap_err(), OpenAiError::Failed { .. }));
    assert_eq!(server.rec.count(), 1);
}

/// C-10: non-JSON data and an oversize frame are errors, never a hang or OOM.
#[tokio::test]
async fn c10_malformed_and_oversize_frames() {
    let server = ScriptServer::start(vec![vec![
        sse_head(),
        created_frame(),
        send("data: <html>oops</html>\n\n"),
    ]])
    .await;
    let (r, _) = run_stream(&server, |_| {}).await;
    assert!(matches!(
        r.unwrap_err(),
        OpenAiError::MalformedStream { .. }
    ));
    assert_eq!(server.rec.count(), 1);

    // 9 MiB in one frame, past the 8 MiB cap.
    let mut big = b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"".to_vec();
    big.resize(big.len() + 9 * 1024 * 1024, b'a');
    let server = ScriptServer::start(vec![vec![
        sse_head(),
        created_frame(),
        Step::Send(big),
        Step::HoldUntilClosed,
    ]])
    .await;
    let (r, _) = run_stream(&server, |_| {}).await;
    let e = r.unwrap_err();
    assert!(matches!(e, OpenAiError::EventTooLarge { .. }), "{e:?}");
    assert!(e.user_message().contains("8 MiB"));
}

/// Cancelling aborts the in-flight request: the server sees the connection close.
#[tokio::test]
async fn cancel_closes_connection_promptly() {
    let server = ScriptServer::start(vec![vec![
        sse_head(),
        created_frame(),
        delta_frame("thinking"),
        Step::HoldUntilClosed,
    ]])
    .await;
    let client = ResponsesClient::new(test_config(&server.base_url())).unwrap();
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let got = server.got_request.clone();
    tokio::spawn(async move {
        got.notified().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        c2.cancel();
    });
    let (events, mut on_event) = collector();
    let e = client
        .create(&request(true), &cancel, &mut on_event)
        .await
        .unwrap_err();
    assert_eq!(e, OpenAiError::Cancelled);
    assert!(
        events
            .lock()
            .unwrap()
            .contains(&StreamEvent::TextDelta("thinking".into()))
    );
    tokio::time::timeout(Duration::from_secs(2), server.rec.closed.notified())
        .await
        .expect("server did not see the connection close after cancel");
}

/// Cancelling while waiting for response headers also drops the connection.
#[tokio::test]
async fn cancel_before_headers_closes_connection() {
    let server = ScriptServer::start(vec![vec![Step::HoldUntilClosed]]).await;
    let client = ResponsesClient::new(test_config(&server.base_url())).unwrap();
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let got = server.got_request.clone();
    tokio::spawn(async move {
        got.notified().await;
        c2.cancel();
    });
    let e = client
        .create(&request(false), &cancel, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(e, OpenAiError::Cancelled);
    tokio::time::timeout(Duration::from_secs(2), server.rec.closed.notified())
        .await
        .expect("server did not see the connection close after cancel");
}

/// The whole-attempt timeout bounds a server that never answers.
#[tokio::test]
async fn whole_request_timeout() {
    let server = ScriptServer::start(vec![vec![sleep_ms(5_000)]]).await;
    let (r, _) = run_stream(&server, |c| {
        c.timeout = Duration::from_millis(300);
        c.max_retries = 0;
    })
    .await;
    let e = r.unwrap_err();
    assert!(matches!(e, OpenAiError::Timeout { .. }), "{e:?}");
    assert!(e.is_retryable());
}

/// Connection errors are retried: every attempt reaches the server, then Connect.
#[tokio::test]
async fn connection_reset_is_retried_then_reported() {
    let server = ScriptServer::start(vec![vec![Step::Close]]).await;
    let (r, _) = run_stream(&server, no_retry_wait).await;
    let e = r.unwrap_err();
    assert!(matches!(e, OpenAiError::Connect { .. }), "{e:?}");
    assert_eq!(server.rec.count(), 2);
}

/// C-6: a TLS failure (here: https:// to a plain-HTTP port) is reported, not retried.
#[tokio::test]
async fn tls_failure_not_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let acc2 = accepted.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut sock, _)) = listener.accept().await {
            acc2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = sock
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let mut cfg = test_config(&format!("https://{addr}/v1"));
    cfg.max_retries = 2;
    let client = ResponsesClient::new(cfg).unwrap();
    let e = client
        .create(&request(false), &CancellationToken::new(), &mut |_| {})
        .await
        .unwrap_err();
    assert!(matches!(e, OpenAiError::Tls { .. }), "{e:?}");
    assert!(!e.is_retryable());
    assert!(e.user_message().contains("https://"));
    assert_clean(&e);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// In-stream `rate_limit_exceeded` with a short "try again in" is waited out and resent.
#[tokio::test]
async fn in_stream_rate_limit_hint_is_retried() {
    let failed = r#"{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 0.2s."}}}"#;
    let server = ScriptServer::start(vec![
        terminal(failed),
        vec![sse_head(), created_frame(), completed_frame("after wait")],
    ])
    .await;
    let start = Instant::now();
    let (r, _) = run_stream(&server, no_retry_wait).await;
    assert_eq!(r.unwrap().output_text(), "after wait");
    assert!(start.elapsed() >= Duration::from_millis(190));
    assert_eq!(server.rec.count(), 2);
}

/// A LiteLLM-wrapped upstream code in an `error` or `response.failed` event decides
/// the variant, like in an HTTP body.
#[tokio::test]
async fn wrapped_codes_in_stream_events() {
    let inner = r#"{"error": {"message": "Previous response with id 'resp_x' not found.", "type": "invalid_request_error", "param": "previous_response_id", "code": "previous_response_not_found"}}"#;
    let message = format!("litellm.BadRequestError: OpenAIException - {inner}");
    let error_event = serde_json::json!({"type":"error","error":{"message":message,"type":null,"param":null,"code":"400"}});
    let failed = serde_json::json!({"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"400","message":message}}});
    for ev in [error_event, failed] {
        let server = ScriptServer::start(vec![terminal(&ev.to_string())]).await;
        let (r, _) = run_stream(&server, |_| {}).await;
        let e = r.unwrap_err();
        assert!(
            matches!(e, OpenAiError::PreviousResponseNotFound { .. }),
            "{ev}: {e:?}"
        );
        assert_eq!(server.rec.count(), 1);
    }
}

/// Odd gateway answers are reported as what they are, with the gateway's own words.
#[tokio::test]
async fn odd_stream_answers_are_reported_as_such() {
    let cases: Vec<(Vec<Step>, &str)> = vec![
        (
            terminal(r#"{"type":"error","message":"upstream overloaded, sorry"}"#),
            "error event without a code: upstream overloaded, sorry",
        ),
        (
            terminal(r#"{"type":"error"}"#),
            "error event without a code or a message",
        ),
        (
            terminal(r#"{"type":"error","error":{"message":null}}"#),
            "error event without a code or a message",
        ),
        (
            vec![sse_head(), send(": keep-alive\n\n: still here\n\n")],
            "the event stream had no data lines: : keep-alive : still here",
        ),
        (
            vec![sse_head(), send("Internal proxy error\nplease retry")],
            "the event stream had no data lines: Internal proxy error please retry",
        ),
    ];
    for (script, needle) in cases {
        let server = ScriptServer::start(vec![script]).await;
        let (r, _) = run_stream(&server, |_| {}).await;
        let e = r.unwrap_err();
        let m = e.user_message();
        assert!(m.contains(needle), "{e:?} -> {m}");
        assert!(!m.contains("closed before"), "{m}");
        assert_eq!(server.rec.count(), 1, "{m}");
    }
}

/// A 4xx reported inside a stream is final: it is not retried as if transient.
#[tokio::test]
async fn in_stream_client_errors_are_not_retried() {
    let cases = [
        r#"{"type":"error","error":{"type":"invalid_request_error","message":"bad input"}}"#,
        r#"{"type":"error","status":400,"message":"bad input"}"#,
        r#"{"type":"error","status":"422","message":"bad input"}"#,
        r#"{"type":"error","error":{"status":400,"message":"bad input"}}"#,
        r#"{"type":"error","code":"invalid_value","message":"bad input"}"#,
        r#"{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"invalid_prompt","message":"flagged"}}}"#,
        r#"{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"400","message":"bad"}}}"#,
    ];
    for json in cases {
        let server = ScriptServer::start(vec![terminal(json)]).await;
        let (r, _) = run_stream(&server, |c| c.max_retries = 2).await;
        let e = r.unwrap_err();
        assert!(!e.is_retryable(), "{json} -> {e:?}");
        assert!(
            matches!(e, OpenAiError::BadRequest { .. }),
            "{json} -> {e:?}"
        );
        assert_eq!(server.rec.count(), 1, "{json} was retried");
    }
}

/// §4.3: a stream that ends or stalls after events but before any output is re-issued
/// once, and only once, even with retries to spare.
#[tokio::test]
async fn cut_before_output_is_reissued_once() {
    // Ends after `created`, then a clean second attempt.
    let server = ScriptServer::start(vec![
        vec![sse_head(), created_frame(), Step::Close],
        vec![sse_head(), created_frame(), completed_frame("again")],
    ])
    .await;
    let (r, _) = run_stream(&server, |c| c.max_retries = 2).await;
    assert_eq!(r.unwrap().output_text(), "again");
    assert_eq!(server.rec.count(), 2);

    // Every attempt ends after `created`: one re-issue, not max_retries of them.
    let server = ScriptServer::start(vec![vec![sse_head(), created_frame(), Step::Close]]).await;
    let (r, _) = run_stream(&server, |c| c.max_retries = 2).await;
    assert_eq!(r.unwrap_err(), OpenAiError::StreamEnded);
    assert_eq!(server.rec.count(), 2);

    // Every attempt stalls after `created`.
    let server =
        ScriptServer::start(vec![vec![sse_head(), created_frame(), sleep_ms(5_000)]]).await;
    let (r, _) = run_stream(&server, |c| {
        c.max_retries = 2;
        c.idle_timeout = Duration::from_millis(300);
    })
    .await;
    assert_eq!(r.unwrap_err(), OpenAiError::StreamStalled);
    assert_eq!(server.rec.count(), 2);

    // After output: not resent, even though retries are left.
    let server = ScriptServer::start(vec![vec![
        sse_head(),
        created_frame(),
        delta_frame("x"),
        sleep_ms(5_000),
    ]])
    .await;
    let (r, _) = run_stream(&server, |c| {
        c.max_retries = 2;
        c.idle_timeout = Duration::from_millis(300);
    })
    .await;
    assert_eq!(r.unwrap_err(), OpenAiError::StreamStalled);
    assert_eq!(server.rec.count(), 1);
}

/// `timeout` bounds the whole request, not each attempt: a gateway that hangs every
/// attempt gets one attempt within the deadline, not max_retries + 1 of them.
#[tokio::test]
async fn timeout_bounds_all_attempts() {
    let server = ScriptServer::start(vec![vec![Step::HoldUntilClosed]]).await;
    let start = Instant::now();
    let (r, _) = run_stream(&server, |c| {
        c.timeout = Duration::from_secs(1);
        c.max_retries = 2;
    })
    .await;
    let e = r.unwrap_err();
    assert!(matches!(e, OpenAiError::Timeout { .. }), "{e:?}");
    assert_eq!(server.rec.count(), 1, "attempts after the deadline");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );

    // Waits count too: a 0.6 s hint twice does not fit in 1 s, so the second 503 is
    // reported at once instead of waiting past the deadline.
    let busy = "HTTP/1.1 503 Service Unavailable\r\nretry-after-ms: 600\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    let server = ScriptServer::start(vec![vec![send(busy)]]).await;
    let (r, ev) = run_stream(&server, |c| {
        c.timeout = Duration::from_secs(1);
        c.max_retries = 5;
    })
    .await;
    let e = r.unwrap_err();
    assert!(
        matches!(e, OpenAiError::Server { status: 503, .. }),
        "{e:?}"
    );
    assert_eq!(server.rec.count(), 2);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, StreamEvent::Retrying { .. }))
            .count(),
        1
    );
}

/// Waits between attempts are announced to `on_event` with the wait and a short reason.
#[tokio::test]
async fn retry_waits_are_announced() {
    let limited = "HTTP/1.1 429 Too Many Requests\r\nretry-after-ms: 200\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
    let busy = "HTTP/1.1 503 Service Unavailable\r\nretry-after-ms: 50\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    let server = ScriptServer::start(vec![
        vec![send(limited)],
        vec![send(busy)],
        vec![sse_head(), Step::Close],
        vec![sse_head(), created_frame(), completed_frame("done")],
    ])
    .await;
    let (r, ev) = run_stream(&server, |c| c.max_retries = 3).await;
    assert_eq!(r.unwrap().output_text(), "done");
    let retrying: Vec<(Duration, String)> = ev
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Retrying { wait, reason } => Some((*wait, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(retrying.len(), 3, "{ev:?}");
    assert_eq!(
        retrying[0],
        (Duration::from_millis(200), "rate limited".to_owned())
    );
    assert_eq!(
        retrying[1],
        (Duration::from_millis(50), "server error 503".to_owned())
    );
    assert_eq!(retrying[2].1, "connection dropped");
    assert!(retrying[2].0 <= Duration::from_secs(8));
}
