//! `doctor` against wiremock on 127.0.0.1: usable, rejected key, no key, cut-off answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support_http;

use codex_lsp::assist::prompt::doctor_request;
use codex_lsp::openai::{CreateResponse, KeySource, doctor};
use codex_lsp::settings::Settings;
use serde_json::json;
use support_http::*;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server_answering(status: u16, body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        // the same shape as an action: streaming, reasoning, the edit tool
        .and(body_partial_json(json!({
            "model": "gpt-5.3-codex-official", "reasoning": {"effort": "medium"},
            "stream": true, "tool_choice": "required",
            "tools": [{"type": "function", "name": "replace_selection"}]
        })))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn request() -> CreateResponse {
    doctor_request(&Settings::default())
}

#[tokio::test]
async fn usable_gateway() {
    let server = server_answering(200, completed_body("pong")).await;
    let mut out = String::new();
    let ok = doctor(
        test_config(&format!("{}/v1", server.uri())),
        &request(),
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
        &request(),
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
        &request(),
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
    assert!(!doctor(cfg, &request(), None, &mut out).await);
    assert!(out.contains("API key:  not set"), "{out}");
    assert!(out.contains("CODEX_LSP_API_KEY"), "{out}");

    let mut out = String::new();
    assert!(
        !doctor(
            test_config("http://gateway.example.com/v1"),
            &request(),
            None,
            &mut out
        )
        .await
    );
    assert!(out.contains("https://"), "{out}");
}

#[tokio::test]
async fn a_wrong_path_is_explained_with_the_base_url_to_try() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/v1/responses"))
        .respond_with(ResponseTemplate::new(404).set_body_string("Not Found"))
        .mount(&server)
        .await;
    let mut out = String::new();
    let ok = doctor(
        test_config(&format!("{}/v1/v1", server.uri())),
        &request(),
        None,
        &mut out,
    )
    .await;
    assert!(!ok);
    assert!(
        out.contains(&format!("set baseUrl to {}/v1\n", server.uri())),
        "{out}"
    );
}

#[tokio::test]
async fn reasoning_off_sends_no_reasoning_field_and_a_rejection_of_it_is_explained() {
    let server = MockServer::start().await;
    let body = json!({"error": {"message": "litellm.UnsupportedParamsError: openai does not support parameters: ['reasoning_effort']", "type": null, "param": null, "code": "400"}});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(body))
        .mount(&server)
        .await;
    let mut out = String::new();
    let base = format!("{}/v1", server.uri());
    assert!(!doctor(test_config(&base), &request(), None, &mut out).await);
    assert!(out.contains("reasoningEffort to \"off\""), "{out}");
    let off = doctor_request(&Settings {
        reasoning_effort: None,
        ..Settings::default()
    });
    let v = serde_json::to_value(&off).unwrap();
    assert!(v.get("reasoning").is_none());
}
