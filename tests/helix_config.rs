//! The Helix entry in editors/helix/languages.toml parses, and a server started with
//! exactly that entry's `config` (Helix sends it as initializationOptions) accepts it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Options, TestClient, helix_capabilities, range_of};
use serde_json::{Value, json};

fn helix_entry() -> (toml::Table, Value) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/editors/helix/languages.toml"
    ))
    .unwrap();
    let doc: toml::Table = toml::from_str(&text).expect("languages.toml parses");
    let server = doc["language-server"]["codex-lsp"]
        .as_table()
        .expect("[language-server.codex-lsp]")
        .clone();
    let config = serde_json::to_value(
        server
            .get("config")
            .cloned()
            .unwrap_or(toml::Value::Table(toml::Table::new())),
    )
    .unwrap();
    (server, config)
}

#[test]
fn the_entry_runs_codex_lsp_and_languages_use_it() {
    let (server, _) = helix_entry();
    assert_eq!(server["command"].as_str(), Some("codex-lsp"));
    assert!(
        server
            .get("environment")
            .and_then(|e| e.get("CODEX_LSP_API_KEY"))
            .is_none(),
        "no key in the file"
    );
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/editors/helix/languages.toml"
    ))
    .unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let langs = doc["language"].as_array().unwrap();
    assert!(langs.len() >= 2);
    for l in langs {
        let servers = l["language-servers"].as_array().unwrap();
        assert!(
            servers.iter().any(|s| s.as_str() == Some("codex-lsp")),
            "{l:?}"
        );
        assert!(
            servers.len() >= 2,
            "next to the language's own server: {l:?}"
        );
    }
}

#[tokio::test]
async fn the_server_accepts_exactly_that_config() {
    let (_, config) = helix_entry();
    let (c, init) = TestClient::start(Options {
        capabilities: helix_capabilities(),
        initialization_options: config.clone(),
        ..Options::default()
    })
    .await;
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-8");
    let text = "fn main() {}\n";
    let uri = c.open("src/main.rs", text, "rust").await;
    let actions = c
        .request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": range_of(text, "fn main() {}"), "context": {"diagnostics": []}}))
        .await
        .unwrap();
    // every user action in the file shows up: the config was read
    for a in config["actions"].as_array().into_iter().flatten() {
        let title = format!("Codex: {}", a["title"].as_str().unwrap());
        assert!(
            actions
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["title"] == title.as_str()),
            "{title} missing"
        );
    }
    assert!(
        c.user_messages().iter().all(|m| !m.contains("setting")),
        "a setting was rejected: {:?}",
        c.user_messages()
    );
    assert!(
        !c.stderr.lock().unwrap().contains("unknown setting"),
        "an unknown key in the Helix config"
    );
    assert_eq!(c.shutdown().await, 0);
}
