//! Request/response contracts and HTTP-status behaviour (reliability.md C-1…C-6,
//! C-11…C-13) against wiremock on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support_http;

use std::time::{Duration, Instant};

use codex_lsp::openai::{
    ClientConfig, OpenAiError, Reasoning, ResponsesClient, StreamEvent, Tool, ToolChoice,
};
use serde_json::{Value, json};
use support_http::*;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn call(
    cfg: ClientConfig,
    stream: bool,
) -> Result<codex_lsp::openai::ResponseObject, OpenAiError> {
    let client = ResponsesClient::new(cfg).unwrap();
    client
        .create(&request(stream), &CancellationToken::new(), &mut |_| {})
        .await
}

fn err_body(message: &str, kind: &str, code: Option<&str>, param: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}

async fn mount_status(server: &MockServer, status: u16, body: Value, expect: u64) {
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(expect)
        .mount(server)
        .await;
}

#[tokio::test]
async fn request_contract_non_streaming() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(header(
            "authorization",
            format!("Bearer {SENTINEL}").as_str(),
        ))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "model": "gpt-5.3-codex-official",
            "instructions": "You are a coding assistant.",
            "input": "Rename foo to bar",
            "stream": false
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completed_body("done")))
        .expect(1)
        .mount(&server)
        .await;
    // Trailing slash on the base must not produce `//responses`.
    let resp = call(test_config(&format!("{}/v1/", server.uri())), false)
        .await
        .unwrap();
    assert_eq!(resp.output_text(), "done");
    assert_eq!(resp.id, "resp_ok");
    let reqs = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    for absent in [
        "temperature",
        "top_p",
        "previous_response_id",
        "tools",
        "store",
    ] {
        assert!(body.get(absent).is_none(), "{absent} sent: {body}");
    }
}

#[tokio::test]
async fn request_contract_optional_fields_when_set() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(body_partial_json(json!({
            "previous_response_id": "resp_prev",
            "temperature": 0.25,
            "store": false,
            "reasoning": {"effort": "high"},
            "tool_choice": "required",
            "max_output_tokens": 64,
            "tools": [{"type":"function","name":"replace_selection","description":"d",
                        "parameters":{"type":"object"},"strict":false}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completed_body("x")))
        .expect(1)
        .mount(&server)
        .await;
    let mut req = request(false);
    req.previous_response_id = Some("resp_prev".into());
    req.temperature = Some(0.25);
    req.store = Some(false);
    req.max_output_tokens = Some(64);
    req.reasoning = Some(Reasoning {
        effort: Some("high".into()),
    });
    req.tool_choice = Some(ToolChoice::Required);
    req.tools.push(Tool {
        name: "replace_selection".into(),
        description: "d".into(),
        parameters: json!({"type":"object"}),
        strict: false,
    });
    let client = ResponsesClient::new(test_config(&format!("{}/v1", server.uri()))).unwrap();
    client
        .create(&req, &CancellationToken::new(), &mut |_| {})
        .await
        .unwrap();
}

#[tokio::test]
async fn streaming_request_sends_accept_and_parses_canned_stream() {
    let server = MockServer::start().await;
    let sse = concat!(
        "event: response.created\n",
        "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_s\",\"output\":[]}}\n\n",
        "event: response.output_text.delta\n",
        "data: {\"type\":\"response.output_text.delta\",\"delta\":\"he\"}\n\n",
        "data: {\"type\":\"response.output_text.delta\",\"delta\":\"llo\"}\n\n",
        "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_s\",\"status\":\"completed\",",
        "\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"hello\"}]}]}}\n\n"
    );
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(header("accept", "text/event-stream"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
        .expect(1)
        .mount(&server)
        .await;
    let client = ResponsesClient::new(test_config(&format!("{}/v1", server.uri()))).unwrap();
    let (events, mut on_event) = collector();
    let resp = client
        .create(&request(true), &CancellationToken::new(), &mut on_event)
        .await
        .unwrap();
    assert_eq!(resp.output_text(), "hello");
    let events = events.lock().unwrap();
    assert_eq!(
        events[..3],
        [
            StreamEvent::Created {
                id: Some("resp_s".into())
            },
            StreamEvent::TextDelta("he".into()),
            StreamEvent::TextDelta("llo".into())
        ]
    );
    assert!(matches!(events[3], StreamEvent::Completed(_)));
}

#[tokio::test]
async fn missing_key_sends_nothing() {
    let server = MockServer::start().await;
    mount_status(&server, 200, completed_body("x"), 0).await;
    let mut cfg = test_config(&format!("{}/v1", server.uri()));
    cfg.api_key = None;
    let e = call(cfg, false).await.unwrap_err();
    assert_eq!(e, OpenAiError::MissingKey);
    assert!(e.user_message().contains("CODEX_LSP_API_KEY"));
}

/// C-1: 401/403 are not retried; the message names the key problem; no key leaks even
/// when the gateway echoes it.
#[tokio::test]
async fn c1_auth_failures_not_retried_and_key_scrubbed() {
    for status in [401u16, 403] {
        let server = MockServer::start().await;
        let msg =
            format!("Incorrect API key provided: {SENTINEL}. Authorization: Bearer {SENTINEL}");
        mount_status(
            &server,
            status,
            err_body(&msg, "invalid_request_error", Some("invalid_api_key"), None),
            1,
        )
        .await;
        let e = call(test_config(&format!("{}/v1", server.uri())), false)
            .await
            .unwrap_err();
        assert!(
            matches!(e, OpenAiError::Auth { status: s, .. } if s == status),
            "{e:?}"
        );
        assert!(!e.is_retryable());
        let m = e.user_message();
        assert!(m.contains(&format!("({status})")), "{m}");
        assert!(m.contains("API key"), "{m}");
        assert_clean(&e);
    }
}

/// C-2: 429 with `retry-after-ms` waits at least the hint, then succeeds on attempt 2.
#[tokio::test]
async fn c2_rate_limit_hint_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after-ms", "300")
                .set_body_json(err_body(
                    "Rate limit reached. Please try again in 0.3s.",
                    "requests",
                    Some("rate_limit_exceeded"),
                    None,
                )),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_status(&server, 200, completed_body("ok"), 1).await;
    let start = Instant::now();
    let resp = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(280),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(resp.output_text(), "ok");
}

/// C-3: a hint longer than `max_retry_wait` fails at once with the hint; quota is final.
#[tokio::test]
async fn c3_long_hint_and_quota_fail_immediately() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "600")
                .set_body_json(err_body(
                    "slow down",
                    "requests",
                    Some("rate_limit_exceeded"),
                    None,
                )),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap_err();
    assert!(
        matches!(e, OpenAiError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(600)),
        "{e:?}"
    );
    assert!(e.user_message().contains("~10 min"), "{}", e.user_message());
    assert_clean(&e);

    let server = MockServer::start().await;
    let quota = err_body(
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        Some("insufficient_quota"),
        None,
    );
    mount_status(&server, 429, quota, 1).await;
    let e = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap_err();
    assert!(matches!(e, OpenAiError::Quota { .. }), "{e:?}");
    assert!(e.user_message().contains("quota is exhausted"));
}

/// C-4: 500, 502, 503 then 200 -> success on attempt 4 (max_retries 3).
#[tokio::test]
async fn c4_server_errors_retried_until_success() {
    let server = MockServer::start().await;
    for status in [500u16, 502, 503] {
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("retry-after-ms", "20")
                    .set_body_json(err_body("boom", "server_error", Some("server_error"), None)),
            )
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_status(&server, 200, completed_body("finally"), 1).await;
    let mut cfg = test_config(&format!("{}/v1", server.uri()));
    cfg.max_retries = 3;
    assert_eq!(call(cfg, false).await.unwrap().output_text(), "finally");
}

/// C-4: a persistent 503 is reported after max_retries+1 attempts, with the request id;
/// the waits use real exponential backoff (0.5 s, then 1 s, each minus up to 25 %).
#[tokio::test]
async fn c4_persistent_503_reported_with_request_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("x-request-id", "req_abc123")
                .set_body_string("<html>Service Unavailable</html>"),
        )
        .expect(3)
        .mount(&server)
        .await;
    let start = Instant::now();
    let e = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap_err();
    assert!(
        start.elapsed() >= Duration::from_millis(1100),
        "{:?}",
        start.elapsed()
    );
    match &e {
        OpenAiError::Server {
            status: 503,
            request_id,
            message,
        } => {
            assert_eq!(request_id.as_deref(), Some("req_abc123"));
            assert!(message.contains("Service Unavailable"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.user_message().contains("req_abc123"));
}

/// C-5: `x-should-retry` beats the status rule in both directions.
#[tokio::test]
async fn c5_x_should_retry_overrides_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500)
                .insert_header("x-should-retry", "false")
                .set_body_json(err_body("no", "server_error", None, None)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap_err();
    assert!(
        matches!(e, OpenAiError::Server { status: 500, .. }),
        "{e:?}"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("x-should-retry", "true")
                .insert_header("retry-after-ms", "10")
                .set_body_json(err_body("transient", "invalid_request_error", None, None)),
        )
        .expect(2)
        .mount(&server)
        .await;
    let mut cfg = test_config(&format!("{}/v1", server.uri()));
    cfg.max_retries = 1;
    let e = call(cfg, false).await.unwrap_err();
    assert!(
        matches!(e, OpenAiError::BadRequest { status: 400, .. }),
        "{e:?}"
    );
}

/// C-6: plain http:// to a non-loopback host is refused when the client is built, so no
/// request (and no key) can ever be sent; a refused port is a Connect error.
#[tokio::test]
async fn c6_insecure_base_and_refused_port() {
    let e = ResponsesClient::new(test_config("http://gateway.example.com/v1")).unwrap_err();
    assert!(
        matches!(e, OpenAiError::InsecureBaseUrl { ref host } if host == "gateway.example.com")
    );
    assert!(e.user_message().contains("https://"));

    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = test_config(&format!("http://127.0.0.1:{port}/v1"));
    cfg.max_retries = 1;
    let start = Instant::now();
    let e = call(cfg, false).await.unwrap_err();
    assert!(matches!(e, OpenAiError::Connect { .. }), "{e:?}");
    assert!(e.is_retryable());
    // One backoff (>= 0.375 s) shows the connect error was retried.
    assert!(
        start.elapsed() >= Duration::from_millis(370),
        "{:?}",
        start.elapsed()
    );
    assert!(e.user_message().contains("baseUrl"));
    assert_clean(&e);
}

/// C-11: context length is final, never retried (HTTP 400 form).
#[tokio::test]
async fn c11_context_length_not_retried() {
    let server = MockServer::start().await;
    let body = err_body(
        "Your input exceeds the context window of this model. Please adjust your input and try again.",
        "invalid_request_error",
        Some("context_length_exceeded"),
        Some("input"),
    );
    mount_status(&server, 400, body, 1).await;
    let e = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap_err();
    assert!(matches!(e, OpenAiError::ContextTooLong { .. }), "{e:?}");
    assert!(e.user_message().contains("too large"));
}

/// C-12: both shapes of "previous response not found" are recognised, not retried.
#[tokio::test]
async fn c12_previous_response_not_found_both_shapes() {
    let shapes = [
        err_body(
            "Previous response with id 'resp_gone' not found.",
            "invalid_request_error",
            Some("previous_response_not_found"),
            Some("previous_response_id"),
        ),
        err_body(
            "Invalid `previous_response_id`.",
            "invalid_request_error",
            Some("invalid_request_error"),
            None,
        ),
    ];
    for body in shapes {
        let server = MockServer::start().await;
        mount_status(&server, 400, body, 1).await;
        let mut req = request(false);
        req.previous_response_id = Some("resp_gone".into());
        let client = ResponsesClient::new(test_config(&format!("{}/v1", server.uri()))).unwrap();
        let e = client
            .create(&req, &CancellationToken::new(), &mut |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(e, OpenAiError::PreviousResponseNotFound { .. }),
            "{e:?}"
        );
    }
}

/// C-13: a redirect is not followed (the other host sees nothing); HTML or plain text
/// with 200 is an unexpected response, not a parse panic or an empty answer.
#[tokio::test]
async fn c13_redirect_not_followed_and_junk_rejected() {
    let other = MockServer::start().await;
    mount_status(&other, 200, completed_body("stolen"), 0).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/v1/responses", other.uri()).as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap_err();
    assert!(matches!(e, OpenAiError::UnexpectedResponse { .. }), "{e:?}");
    assert!(e.to_string().contains("redirect"), "{e}");
    assert!(other.received_requests().await.unwrap().is_empty());

    for (body, mime) in [
        (
            "<!doctype html><html><body>Login</body></html>",
            "text/html; charset=utf-8",
        ),
        ("hello", "text/plain"),
    ] {
        for stream in [false, true] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(200).set_body_raw(body, mime))
                .expect(1)
                .mount(&server)
                .await;
            let e = call(test_config(&format!("{}/v1", server.uri())), stream)
                .await
                .unwrap_err();
            assert!(matches!(e, OpenAiError::UnexpectedResponse { .. }), "{e:?}");
            assert!(
                e.user_message()
                    .starts_with("Unexpected response from the model service")
            );
        }
    }

    // JSON that is not a Response object.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{not json", "application/json"))
        .mount(&server)
        .await;
    let e = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap_err();
    assert!(matches!(e, OpenAiError::UnexpectedResponse { .. }), "{e:?}");
}

/// Non-streaming bodies carry their own terminal status.
#[tokio::test]
async fn non_streaming_incomplete_and_failed_status() {
    let server = MockServer::start().await;
    let mut body = completed_body("");
    body["status"] = json!("incomplete");
    body["incomplete_details"] = json!({"reason": "max_output_tokens"});
    mount_status(&server, 200, body, 1).await;
    let e = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        OpenAiError::Incomplete {
            reason: "max_output_tokens".into()
        }
    );

    let server = MockServer::start().await;
    let mut body = completed_body("");
    body["status"] = json!("failed");
    body["error"] = json!({"code": "context_length_exceeded", "message": "too long"});
    mount_status(&server, 200, body, 1).await;
    let e = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap_err();
    assert!(matches!(e, OpenAiError::ContextTooLong { .. }), "{e:?}");
}

/// A streaming request answered with a JSON Response (some gateways ignore `stream`).
#[tokio::test]
async fn streaming_request_answered_with_json() {
    let server = MockServer::start().await;
    mount_status(&server, 200, completed_body("plain"), 1).await;
    assert_eq!(
        call(test_config(&format!("{}/v1", server.uri())), true)
            .await
            .unwrap()
            .output_text(),
        "plain"
    );
}

/// Cancelling during a backoff sleep returns at once (the hint here is 5 s).
#[tokio::test]
async fn cancel_during_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "5"))
        .expect(1)
        .mount(&server)
        .await;
    let client = ResponsesClient::new(test_config(&format!("{}/v1", server.uri()))).unwrap();
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c2.cancel();
    });
    let start = Instant::now();
    let e = client
        .create(&request(false), &cancel, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(e, OpenAiError::Cancelled);
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

/// Regression (panics from the network): absurd rate-limit hints in headers and
/// messages end in an error or a retry, never a panic in the client.
#[tokio::test]
async fn hostile_retry_hints_never_panic() {
    let cases: [(&str, &str, &str); 5] = [
        ("retry-after", "1e30", "slow down"),
        ("retry-after", "18446744073709551616", "slow down"),
        (
            "retry-after",
            "Tue, 01 Jan 300000000000 00:00:00 GMT",
            "slow down",
        ),
        ("retry-after-ms", "1e300", "slow down"),
        (
            "x-none",
            "1",
            "Rate limit reached. Please try again in 1e23s.",
        ),
    ];
    for (name, value, message) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header(name, value)
                    .set_body_json(err_body(
                        message,
                        "requests",
                        Some("rate_limit_exceeded"),
                        None,
                    )),
            )
            .mount(&server)
            .await;
        let mut cfg = test_config(&format!("{}/v1", server.uri()));
        cfg.max_retries = 1;
        let client = ResponsesClient::new(cfg).unwrap();
        // A panic inside the client would abort this task; join it to observe that.
        let joined = tokio::spawn(async move {
            client
                .create(&request(false), &CancellationToken::new(), &mut |_| {})
                .await
        })
        .await;
        let r = joined.unwrap_or_else(|p| panic!("{name}: {value} panicked: {p:?}"));
        let e = r.unwrap_err();
        assert!(matches!(e, OpenAiError::RateLimited { .. }), "{e:?}");
        let _ = e.user_message();
        assert_clean(&e);
    }
}

/// A gateway key that does not look like `sk-…`, so only key-aware scrubbing catches it.
fn gateway_key() -> String {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let tail: String = (0..40).map(|_| rng.alphanumeric()).collect();
    format!("gw-{tail}")
}

/// No 8-character piece of `key` in anything a person or a log could see.
fn assert_no_key_piece(what: &str, e: &OpenAiError, key: &str) {
    let windows: Vec<&str> = (0..=key.len() - 8).map(|i| &key[i..i + 8]).collect();
    for s in [e.to_string(), format!("{e:?}"), e.user_message()] {
        for w in &windows {
            assert!(!s.contains(w), "{what}: key piece {w:?} leaked in: {s}");
        }
    }
}

/// Secrets from the network: the exact key (any shape) and pieces of it are scrubbed
/// from every gateway-provided string, before the message is cut to length.
#[tokio::test]
async fn echoed_gateway_key_is_scrubbed_everywhere() {
    let key = gateway_key();
    let piece = &key[5..20];
    // The key starts just before MAX_MESSAGE_CHARS: cutting first would keep a prefix.
    let late = format!("{} {key}", "a".repeat(290));
    let http = |status: &str, headers: &str, body: &str| {
        vec![send(format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ))]
    };
    let json_err = |m: &str| {
        serde_json::json!({"error":{"message":m,"type":"invalid_request_error","code":"invalid_api_key"}})
            .to_string()
    };
    let mut failed = completed_body("");
    failed["status"] = json!("failed");
    failed["error"] = json!({"code": "server_error", "message": late});
    let mut incomplete = completed_body("");
    incomplete["status"] = json!("incomplete");
    incomplete["incomplete_details"] = json!({"reason": format!("because {key}")});
    let error_event = json!({"type":"error","code":"invalid_api_key","message":late}).to_string();
    let failed_event = json!({"type":"response.failed","response":{"id":"r","status":"failed",
        "error":{"code":"bad","message":format!("bad key ...{piece}...")}}})
    .to_string();
    let cases: Vec<(&str, Vec<Step>)> = vec![
        (
            "401 message with a piece",
            http(
                "401 Unauthorized",
                "",
                &json_err(&format!("Incorrect API key provided: {piece}…")),
            ),
        ),
        (
            "401 message late",
            http("401 Unauthorized", "", &json_err(&late)),
        ),
        (
            "x-request-id",
            http(
                "503 Service Unavailable",
                &format!("x-request-id: req-{key}\r\n"),
                "{}",
            ),
        ),
        ("status failed", http("200 OK", "", &failed.to_string())),
        (
            "incomplete reason",
            http("200 OK", "", &incomplete.to_string()),
        ),
        (
            "error event",
            vec![sse_head(), created_frame(), frame(&error_event)],
        ),
        (
            "response.failed event",
            vec![sse_head(), created_frame(), frame(&failed_event)],
        ),
        (
            "redirect",
            vec![send(format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: https://elsewhere.example/v1?k={piece}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            ))],
        ),
    ];
    for (what, script) in cases {
        let server = ScriptServer::start(vec![script]).await;
        let mut cfg = test_config(&server.base_url());
        cfg.api_key = Some(codex_lsp::openai::ApiKey::new(key.clone()));
        cfg.max_retries = 0;
        let client = ResponsesClient::new(cfg).unwrap();
        let (events, mut on_event) = collector();
        let e = client
            .create(&request(true), &CancellationToken::new(), &mut on_event)
            .await
            .unwrap_err();
        assert_no_key_piece(what, &e, &key);
        for ev in events.lock().unwrap().iter() {
            let shown = format!("{ev:?}");
            assert!(
                !shown.contains(piece) && !shown.contains(&key[..10]),
                "{what}: event leaked {shown}"
            );
        }
    }
}

/// LiteLLM wraps the upstream error in its own 400 (code "400", type null): the wrapped
/// code decides the variant, so the chain is reset (and nothing is retried).
#[tokio::test]
async fn litellm_wrapped_upstream_errors_are_recognised() {
    let wrap = |kind: &str, code: &str, param: &str, msg: &str| {
        let inner = json!({"error": {"message": msg, "type": kind, "param": param, "code": code}});
        json!({"error": {
            "message": format!("litellm.BadRequestError: OpenAIException - {inner}"),
            "type": null, "param": null, "code": "400"}})
    };
    let cases = [
        (
            400u16,
            wrap(
                "invalid_request_error",
                "previous_response_not_found",
                "previous_response_id",
                "Previous response with id 'resp_x' not found.",
            ),
            "previous",
        ),
        (
            400,
            wrap(
                "invalid_request_error",
                "context_length_exceeded",
                "input",
                "Your input exceeds the context window of this model.",
            ),
            "context",
        ),
        (
            429,
            wrap(
                "insufficient_quota",
                "insufficient_quota",
                "",
                "You exceeded your current quota.",
            ),
            "quota",
        ),
    ];
    for (status, body, what) in cases {
        let server = MockServer::start().await;
        mount_status(&server, status, body, 1).await;
        let e = call(test_config(&format!("{}/v1", server.uri())), false)
            .await
            .unwrap_err();
        let ok = match what {
            "previous" => matches!(e, OpenAiError::PreviousResponseNotFound { .. }),
            "context" => matches!(e, OpenAiError::ContextTooLong { .. }),
            _ => matches!(e, OpenAiError::Quota { .. }),
        };
        assert!(ok, "{what}: {e:?}");
        assert!(!e.is_retryable());
    }
}

/// A 200 whose JSON body is not a Response says what it was, in the gateway's words.
#[tokio::test]
async fn odd_200_json_bodies_are_reported_as_such() {
    let cases = [
        ("null", "empty body (null)"),
        ("", "empty body"),
        ("{}", "not a Response object: {}"),
        ("[1,2]", "not a Response object: [1,2]"),
        ("\"ok\"", "not a Response object: \"ok\""),
    ];
    for (body, needle) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .expect(1)
            .mount(&server)
            .await;
        let e = call(test_config(&format!("{}/v1", server.uri())), false)
            .await
            .unwrap_err();
        assert!(
            matches!(e, OpenAiError::UnexpectedResponse { .. }),
            "{body}: {e:?}"
        );
        let m = e.user_message();
        assert!(m.contains(needle), "{body}: {m}");
        assert!(
            m.contains("answered 200") || m.contains("not a Response"),
            "{m}"
        );
    }
    // An error envelope with 200 is classified like the error it is.
    let server = MockServer::start().await;
    mount_status(
        &server,
        200,
        err_body(
            "quota gone",
            "insufficient_quota",
            Some("insufficient_quota"),
            None,
        ),
        1,
    )
    .await;
    let e = call(test_config(&format!("{}/v1", server.uri())), false)
        .await
        .unwrap_err();
    assert!(matches!(e, OpenAiError::Quota { .. }), "{e:?}");
}
