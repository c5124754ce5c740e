//! `doctor` against wiremock on 127.0.0.1: usable, rejected key, no key, cut-off answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support_http;

use codex_lsp::openai::{KeySource, doctor};
use serde_json::json;
use support_http::*;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server_answering(status: u16, body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(body_partial_json(json!({
            "model": "gpt-5.3-codex-official", "input": "ping", "max_output_tokens": 16,
            "reasoning": {"effort": "low"}, "store": false, "stream": false
        })))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn usable_gateway() {
    let server = server_answering(200, completed_body("pong")).await;
    let mut out = String::new();
    let ok = doctor(
        test_config(&format!("{}/v1", server.uri())),
        "gpt-5.3-codex-official",
        Some(KeySource::CodexLspApiKey),
        &mut out,
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("set (from CODEX_LSP_API_KEY)"), "{out}");
    assert!(out.contains(&server.uri()), "{out}");
    assert!(out.contains("gpt-5.3-codex-official"), "{out}");
    assert!(!out.contains("TESTSENTINEL"), "{out}");
}

#[tokio::test]
async fn cut_off_tiny_answer_still_counts_as_usable() {
    let mut body = completed_body("");
    body["status"] = json!("incomplete");
    body["incomplete_details"] = json!({"reason": "max_output_tokens"});
    let server = server_answering(200, body).await;
    let mut out = String::new();
    let ok = doctor(
        test_config(&format!("{}/v1", server.uri())),
        "gpt-5.3-codex-official",
        Some(KeySource::OpenAiApiKey),
        &mut out,
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("set (from OPENAI_API_KEY)"), "{out}");
}

#[tokio::test]
async fn rejected_key_is_explained() {
    let body = json!({"error": {"message": format!("Incorrect API key provided: {SENTINEL}"),
        "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}});
    let server = server_answering(401, body).await;
    let mut out = String::new();
    let ok = doctor(
        test_config(&format!("{}/v1", server.uri())),
        "gpt-5.3-codex-official",
        Some(KeySource::CodexLspApiKey),
        &mut out,
    )
    .await;
    assert!(!ok);
    assert!(out.contains("rejected the API key (401)"), "{out}");
    assert!(!out.contains("TESTSENTINEL"), "{out}");
}

#[tokio::test]
async fn missing_key_and_insecure_base() {
    let mut cfg = test_config("https://gateway.example.com/v1");
    cfg.api_key = None;
    let mut out = String::new();
    assert!(!doctor(cfg, "m", None, &mut out).await);
    assert!(out.contains("API key:  not set"), "{out}");
    assert!(out.contains("CODEX_LSP_API_KEY"), "{out}");

    let mut out = String::new();
    assert!(
        !doctor(
            test_config("http://gateway.example.com/v1"),
            "m",
            None,
            &mut out
        )
        .await
    );
    assert!(out.contains("https://"), "{out}");
}
