//! API faults through the real server (reliability.md §5.4, C-cases): what the user
//! sees, how many requests the gateway gets, and that nothing is applied on failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake::{self, Fake, Step, http};
use common::{Options, TestClient, edits, range_of};
use serde_json::{Value, json};

const TEXT: &str = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n";
const SEL: &str = "    a + b\n";
const NEW: &str = "    a.wrapping_add(b)\n";

async fn start(fake: &Fake) -> TestClient {
    TestClient::start(Options {
        env: fake.env(),
        ..Options::default()
    })
    .await
    .0
}

fn run_args(uri: &str, text: &str, sel: &str) -> Value {
    json!({"command": "codex.runAction", "arguments": [{"uri": uri, "range": range_of(text, sel), "action": "refactor"}]})
}

/// One failing action: the error's message, after checking nothing was applied.
async fn failing(script: Vec<Vec<Step>>, needle: &str) -> (Fake, String) {
    let fake = Fake::start(script).await;
    let c = start(&fake).await;
    let uri = c.open("src/a.rs", TEXT, "rust").await;
    let err = c
        .request("workspace/executeCommand", run_args(&uri, TEXT, SEL))
        .await
        .expect_err("the action fails");
    assert!(err.message.contains(needle), "{:?}", err.message);
    c.wait_message(needle).await;
    assert!(c.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(c.mirror(&uri).text, TEXT);
    assert_eq!(c.chain_info(&uri).await, Value::Null);
    assert_eq!(c.shutdown().await, 0);
    (fake, err.message)
}

#[tokio::test]
async fn c1_a_401_is_one_request_and_names_the_key() {
    let (fake, msg) = failing(
        vec![fake::error(
            401,
            "invalid_api_key",
            "Incorrect API key provided",
            "",
        )],
        "rejected the API key (401)",
    )
    .await;
    assert!(msg.contains("CODEX_LSP_API_KEY"), "{msg}");
    assert_eq!(fake.count(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn a_bad_model_says_how_to_change_it() {
    let (fake, msg) = failing(
        vec![fake::error(
            404,
            "model_not_found",
            "The model `gpt-nope` does not exist or you do not have access to it.",
            "",
        )],
        "The model service rejected the request (404, model_not_found)",
    )
    .await;
    assert!(
        msg.contains("set `model` in your editor's codex settings")
            && msg.contains("CODEX_LSP_MODEL"),
        "{msg}"
    );
    assert_eq!(fake.count(), 1, "a bad model is not retried");
}

#[tokio::test]
async fn c2_a_429_with_retry_after_ms_is_retried_once_and_succeeds() {
    let fake = Fake::start(vec![
        fake::error(
            429,
            "rate_limit_exceeded",
            "Rate limit reached",
            "retry-after-ms: 300\r\n",
        ),
        fake::code("ok", NEW),
    ])
    .await;
    let c = start(&fake).await;
    let uri = c.open("src/a.rs", TEXT, "rust").await;
    let t0 = std::time::Instant::now();
    let r = c
        .request("workspace/executeCommand", run_args(&uri, TEXT, SEL))
        .await
        .unwrap();
    let waited = t0.elapsed();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(fake.count(), 2);
    assert!(
        waited >= std::time::Duration::from_millis(250),
        "the hint was not honoured: {waited:?}"
    );
    assert_eq!(c.mirror(&uri).text, TEXT.replace(SEL, NEW));
    edits::check(
        &c.server_requests("workspace/applyEdit")[0],
        &uri,
        1,
        Some(&range_of(TEXT, SEL)),
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn c3_insufficient_quota_is_not_retried() {
    let (fake, _) = failing(
        vec![fake::error(
            429,
            "insufficient_quota",
            "You exceeded your current quota",
            "",
        )],
        "quota",
    )
    .await;
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn c11_context_length_exceeded_without_a_chain_is_one_request() {
    let (fake, msg) = failing(
        vec![fake::error(
            400,
            "context_length_exceeded",
            "Your input exceeds the context window of this model.",
            "",
        )],
        "too large",
    )
    .await;
    assert!(msg.contains("select less code"), "{msg}");
    assert_eq!(fake.count(), 1, "no blind retry");
}

#[tokio::test]
async fn c12_a_forgotten_chain_is_dropped_and_resent_once() {
    let fake = Fake::start(vec![
        fake::code("p1", "    a.wrapping_add(b)\n"),
        fake::error(
            400,
            "previous_response_not_found",
            "Previous response with id 'p1' not found.",
            "",
        ),
        fake::code("p2", "    a.saturating_add(b)\n"),
    ])
    .await;
    let c = start(&fake).await;
    let uri = c.open("src/a.rs", TEXT, "rust").await;
    c.request("workspace/executeCommand", run_args(&uri, TEXT, SEL))
        .await
        .unwrap();
    let now = c.mirror(&uri).text;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&uri, &now, "    a.wrapping_add(b)\n"),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(r["responseId"], "p2");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "exactly one resend");
    assert_eq!(reqs[1].prev().as_deref(), Some("p1"));
    assert_eq!(reqs[2].prev(), None, "resent without previous_response_id");
    // the chained attempt answered p1's call; the resend starts a new chain, so it
    // carries the same user message and no function_call_output
    assert_eq!(reqs[1].body["input"][0]["type"], "function_call_output");
    assert_eq!(reqs[1].body["input"][0]["call_id"], "call_p1");
    assert_eq!(
        reqs[2].body["input"],
        json!([reqs[1].body["input"][1].clone()]),
        "full context resent, without outputs for the forgotten chain"
    );
    assert_eq!(
        c.chain_info(&uri).await,
        json!({"responseId": "p2", "turns": 1})
    );
    assert!(c.mirror(&uri).text.contains("a.saturating_add(b)"));
    assert_eq!(c.shutdown().await, 0);
}

/// A stream that ends before `response.completed`: partial code is never applied.
fn truncated(id: &str) -> Vec<Step> {
    let created = json!({"type": "response.created", "sequence_number": 0,
                         "response": {"id": id, "status": "in_progress", "output": []}});
    let delta = json!({"type": "response.function_call_arguments.delta", "item_id": "fc",
                       "output_index": 0, "delta": "{\"code\": \"    a.wrap"});
    vec![
        http::sse_head(),
        http::frame(&created.to_string()),
        http::frame(&delta.to_string()),
        Step::Close,
    ]
}

#[tokio::test]
async fn c8_a_stream_closed_before_completion_applies_nothing() {
    let fake = Fake::start(vec![truncated("t1")]).await;
    let c = start(&fake).await;
    let uri = c.open("src/a.rs", TEXT, "rust").await;
    let err = c
        .request("workspace/executeCommand", run_args(&uri, TEXT, SEL))
        .await
        .expect_err("a truncated stream fails");
    assert!(
        err.message.to_lowercase().contains("stream"),
        "{:?}",
        err.message
    );
    assert!(c.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(c.mirror(&uri).text, TEXT);
    assert_eq!(c.chain_info(&uri).await, Value::Null);
    assert!(fake.count() >= 1 && fake.count() <= 3, "{}", fake.count());
    assert_eq!(c.shutdown().await, 0);
}
