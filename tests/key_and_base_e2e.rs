//! Where the key goes, through the real binary: a malformed base URL never falls back
//! to the default host, a key taken from OPENAI_API_KEY is announced with the host that
//! receives it, and a key of any shape echoed by a gateway appears nowhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake::{self, Fake};
use common::{Options, TestClient, range_of};
use serde_json::{Value, json};

const TEXT: &str = "fn f() -> i32 {\n    1\n}\n";

fn refactor(uri: &str) -> Value {
    json!({"command": "codex.runAction",
           "arguments": [{"uri": uri, "range": range_of(TEXT, "    1"), "action": "refactor"}]})
}

fn messages(c: &TestClient) -> Vec<String> {
    c.notifications("window/showMessage")
        .iter()
        .map(|p| p["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_malformed_base_url_is_named_and_nothing_is_sent() {
    for bad in ["127.0.0.1:8080/v1", "not a url", "ftp://127.0.0.1/v1"] {
        let (c, _) = TestClient::start(Options {
            env: vec![
                ("CODEX_LSP_API_KEY".into(), fake::SENTINEL.into()),
                ("CODEX_LSP_BASE_URL".into(), bad.into()),
            ],
            ..Options::default()
        })
        .await;
        c.wait_message("CODEX_LSP_BASE_URL").await;
        let uri = c.open("src/f.rs", TEXT, "rust").await;
        let err = c
            .request("workspace/executeCommand", refactor(&uri))
            .await
            .unwrap_err();
        assert_eq!(
            err.data,
            json!({"kind": "config"}),
            "{bad}: {}",
            err.message
        );
        assert!(
            err.message.contains("CODEX_LSP_BASE_URL") && err.message.contains(bad),
            "{bad}: {}",
            err.message
        );
        assert_eq!(c.shutdown().await, 0);
    }
}

#[tokio::test]
async fn a_key_from_openai_api_key_is_announced_once_with_its_host() {
    let fake = Fake::start(vec![fake::code("k1", "    2"), fake::code("k2", "    3")]).await;
    let (c, _) = TestClient::start(Options {
        env: vec![
            ("OPENAI_API_KEY".into(), fake::SENTINEL.into()),
            ("CODEX_LSP_BASE_URL".into(), fake.base_url()),
        ],
        ..Options::default()
    })
    .await;
    let uri = c.open("src/f.rs", TEXT, "rust").await;
    c.request("workspace/executeCommand", refactor(&uri))
        .await
        .unwrap();
    let now = c.mirror(&uri).text;
    c.request(
        "workspace/executeCommand",
        json!({"command": "codex.runAction",
               "arguments": [{"uri": uri, "range": range_of(&now, "    2"), "action": "refactor"}]}),
    )
    .await
    .unwrap();
    let host = fake.base_url().replace("http://", "").replace("/v1", "");
    let told: Vec<String> = messages(&c)
        .into_iter()
        .filter(|m| m.contains("OPENAI_API_KEY"))
        .collect();
    assert_eq!(told.len(), 1, "said once: {told:?}");
    assert!(told[0].contains(&host), "{told:?}");
    assert_eq!(fake.count(), 2);
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_key_of_another_shape_echoed_by_the_gateway_appears_nowhere() {
    // not `sk-`: scrubbing must find the exact key, not a key-like pattern
    let key = "gw-TESTSENTINEL4f8a9c2b7d1e6f3a0b5c8d2e9f1a7b3c";
    let long_echo = format!("{} invalid token {key}", "x".repeat(400));
    let body =
        json!({"error": {"message": long_echo, "type": "server_error", "code": "server_error"}})
            .to_string();
    let answer = format!(
        "HTTP/1.1 500 Oops\r\ncontent-type: application/json\r\nx-request-id: req-{key}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let fake = Fake::start(vec![vec![fake::http::send(answer)]]).await;
    let (c, _) = TestClient::start(Options {
        env: vec![
            ("CODEX_LSP_API_KEY".into(), key.into()),
            ("CODEX_LSP_BASE_URL".into(), fake.base_url()),
        ],
        initialization_options: json!({"maxRetries": 0}),
        ..Options::default()
    })
    .await;
    let uri = c.open("src/f.rs", TEXT, "rust").await;
    let err = c
        .request("workspace/executeCommand", refactor(&uri))
        .await
        .unwrap_err();
    assert_eq!(err.data, json!({"kind": "gateway"}), "{}", err.message);
    assert!(!err.message.contains("TESTSENTINEL"), "{}", err.message);
    assert!(!err.message.contains(&key[..12]), "{}", err.message);
    // the audit in shutdown covers stderr at trace level, the log file and every message
    assert_eq!(c.shutdown().await, 0);
}
