//! Settings through the real server: initializationOptions, didChangeConfiguration,
//! a pull of the `codex` section, bad values; and `codex-lsp doctor`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake::{self, Fake};
use common::{Options, TestClient, range_of, vscode_capabilities};
use serde_json::json;

const TEXT: &str = "fn one() -> u8 { 1 }\n";

async fn act(c: &TestClient, uri: &str) {
    let text = c.mirror(uri).text;
    let r = c
        .request("workspace/executeCommand", json!({"command": "codex.runAction", "arguments": [{"uri": uri, "range": range_of(&text, &text[..text.len() - 1]), "action": "refactor"}]}))
        .await
        .unwrap();
    assert!(r.get("responseId").is_some(), "{r}");
}

#[tokio::test]
async fn initialization_options_then_did_change_configuration() {
    let fake = Fake::start(vec![
        fake::code("s1", "fn one() -> u8 { 2 }"),
        fake::code("s2", "fn one() -> u8 { 3 }"),
    ])
    .await;
    let (c, _) = TestClient::start(Options {
        env: fake.env(),
        initialization_options: json!({"model": "model-a", "reasoningEffort": "high", "temperature": 0.5, "contextLines": 3}),
        ..Options::default()
    })
    .await;
    let uri = c.open("src/one.rs", TEXT, "rust").await;
    act(&c, &uri).await;
    c.notify("workspace/didChangeConfiguration", json!({"settings": {"codex": {"model": "model-b", "timeoutSecs": "soon", "stream": false}}})).await;
    act(&c, &uri).await;
    let reqs = fake.requests();
    assert_eq!(reqs[0].body["model"], "model-a");
    assert_eq!(reqs[0].body["reasoning"]["effort"], "high");
    assert_eq!(reqs[0].body["temperature"], 0.5);
    assert_eq!(reqs[1].body["model"], "model-b");
    assert_eq!(
        reqs[1].body["stream"], false,
        "the valid keys of a partly bad update apply"
    );
    assert!(
        c.user_messages()
            .iter()
            .any(|m| m.contains("`timeoutSecs`")),
        "{:?}",
        c.user_messages()
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn the_codex_section_is_pulled_where_the_client_supports_it() {
    let fake = Fake::start(vec![fake::code("p1", "fn one() -> u8 { 2 }")]).await;
    let mut caps = vscode_capabilities();
    caps["workspace"]["configuration"] = json!(true);
    let (c, _) = TestClient::start(Options {
        env: fake.env(),
        capabilities: caps,
        ..Options::default()
    })
    .await;
    c.script(|s| s.configuration = json!([{"model": "pulled-model", "maxOutputTokens": 5}]));
    c.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": null}),
    )
    .await;
    c.wait_for("a configuration pull", |i| {
        i.requests
            .iter()
            .filter(|(m, _)| m == "workspace/configuration")
            .count()
            >= 2
    })
    .await;
    c.wait_for("the warning about maxOutputTokens", |i| {
        i.notifications.iter().any(|(m, p)| {
            m == "window/showMessage"
                && p["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("maxOutputTokens")
        })
    })
    .await;
    let pulls = c.server_requests("workspace/configuration");
    assert_eq!(pulls[0]["items"][0]["section"], "codex");
    let uri = c.open("src/one.rs", TEXT, "rust").await;
    act(&c, &uri).await;
    assert_eq!(fake.requests()[0].body["model"], "pulled-model");
    assert!(
        fake.requests()[0].body.get("max_output_tokens").is_none(),
        "the bad value was not taken"
    );
    assert_eq!(c.shutdown().await, 0);
}

fn doctor(env: &[(String, String)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-lsp"))
        .arg("doctor")
        .env_remove("OPENAI_API_KEY")
        .env_remove("CODEX_LSP_API_KEY")
        .env("XDG_STATE_HOME", dir.path())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn doctor_reports_a_usable_service_and_never_the_key() {
    let fake = Fake::start(vec![vec![fake::http::send({
        let body = json!({"id": "resp_doc", "object": "response", "status": "completed", "model": "gpt-5.3-codex",
                          "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "pong"}]}]})
        .to_string();
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
    })]])
    .await;
    let env = fake.env();
    let (code, text) = tokio::task::spawn_blocking(move || doctor(&env))
        .await
        .unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("set (from CODEX_LSP_API_KEY)"), "{text}");
    assert!(!text.contains("TESTSENTINEL"), "the key is printed: {text}");
    assert_eq!(fake.count(), 1);
    // the same shape as an action's request
    let body = &fake.requests()[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["tools"][0]["name"], "replace_selection");
    assert_eq!(body["reasoning"]["effort"], "medium");
    assert!(body.get("store").is_none() && body.get("max_output_tokens").is_none());
}

#[tokio::test]
async fn doctor_streams_like_an_action_so_a_streaming_only_gateway_passes() {
    let fake = Fake::start(vec![fake::code("resp_stream", "pong")]).await;
    let env = fake.env();
    let (code, text) = tokio::task::spawn_blocking(move || doctor(&env))
        .await
        .unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("request:  ok (response resp_stream"),
        "{text}"
    );
    assert!(text.contains("sending:  streaming"), "{text}");
}

#[tokio::test]
async fn doctor_explains_a_rejected_key_and_a_missing_one() {
    let fake = Fake::start(vec![fake::error(
        401,
        "invalid_api_key",
        "Incorrect API key provided",
        "",
    )])
    .await;
    let env = fake.env();
    let (code, text) = tokio::task::spawn_blocking(move || doctor(&env))
        .await
        .unwrap();
    assert_ne!(code, 0);
    assert!(text.contains("rejected the API key (401)"), "{text}");
    assert!(!text.contains("TESTSENTINEL"));
    let (code, text) = tokio::task::spawn_blocking(|| {
        doctor(&[("CODEX_LSP_BASE_URL".into(), "http://127.0.0.1:9/v1".into())])
    })
    .await
    .unwrap();
    assert_ne!(code, 0);
    assert!(
        text.contains("not set") && text.contains("CODEX_LSP_API_KEY"),
        "{text}"
    );
}

#[test]
fn version_and_help() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-lsp"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("codex-lsp {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-lsp"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(help.contains("doctor"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-lsp"))
        .arg("help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        help,
        "`help` is `--help`"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-lsp"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing on stdout for a usage error");
}

/// stderr once the server has exited (the reader drains the closed pipe).
async fn stderr_after(err: &std::sync::Arc<std::sync::Mutex<String>>) -> String {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    err.lock().unwrap().clone()
}

/// Lines below warning level on stderr (editors show every stderr line as an error).
fn detail_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            [" INFO ", " DEBUG ", " TRACE "]
                .iter()
                .any(|lv| l.contains(lv))
        })
        .collect()
}

#[tokio::test]
async fn with_a_log_file_stderr_carries_only_warnings_and_errors() {
    // the harness sets CODEX_LSP_LOG=trace and CODEX_LSP_LOG_FILE=<dir>/server.log
    let fake = Fake::start(vec![fake::code("l1", "fn one() -> u8 { 2 }")]).await;
    let (c, _) = TestClient::start(Options {
        env: fake.env(),
        initialization_options: json!({"colour": "blue"}),
        ..Options::default()
    })
    .await;
    let uri = c.open("src/one.rs", TEXT, "rust").await;
    act(&c, &uri).await;
    let log = c.workspace().parent().unwrap().join("server.log");
    let err = c.stderr.clone();
    // read before shutdown: the harness's directory goes with the client
    let file = std::fs::read_to_string(log).unwrap();
    assert_eq!(c.shutdown().await, 0);
    let stderr = stderr_after(&err).await;
    assert!(detail_lines(&stderr).is_empty(), "{stderr}");
    assert!(
        stderr.contains("WARN") && stderr.contains("unknown setting `colour`"),
        "the warning still reaches stderr: {stderr}"
    );
    assert!(
        file.contains("INFO") && file.contains("initialized"),
        "{file}"
    );
    assert!(
        file.contains("DEBUG"),
        "the file gets CODEX_LSP_LOG's level"
    );
    assert!(file.contains("unknown setting `colour`"), "{file}");
}

#[tokio::test]
async fn the_log_file_setting_is_honoured_at_runtime() {
    let fake = Fake::start(vec![fake::code("l2", "fn one() -> u8 { 2 }")]).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("from-settings.log");
    // no CODEX_LSP_LOG_FILE: everything goes to stderr until the setting names a file
    let mut env = fake.env();
    env.push(("CODEX_LSP_LOG_FILE".into(), String::new()));
    let (c, _) = TestClient::start(Options {
        env,
        ..Options::default()
    })
    .await;
    let err = c.stderr.clone();
    let has = |needle: &str| err.lock().unwrap().contains(needle);
    let file_has = |needle: &str| std::fs::read_to_string(&log).is_ok_and(|t| t.contains(needle));
    for _ in 0..100 {
        if has("initialized") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        !detail_lines(&err.lock().unwrap()).is_empty(),
        "without a file, stderr has the detail"
    );
    let bad = dir.path().join("missing-dir/x.log");
    c.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"codex": {"logFile": bad}}}),
    )
    .await;
    c.wait_message("`logFile`").await;
    c.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"codex": {"logFile": log}}}),
    )
    .await;
    for _ in 0..100 {
        if file_has("log file changed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // what was logged before the switch has reached the reader by now
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = err.lock().unwrap().len();
    let uri = c.open("src/one.rs", TEXT, "rust").await;
    act(&c, &uri).await;
    assert_eq!(c.shutdown().await, 0);
    let stderr = stderr_after(&err).await;
    let file = std::fs::read_to_string(&log).unwrap();
    assert!(
        file.contains("DEBUG") && file.contains("job received"),
        "{file}"
    );
    let tail = &stderr[before..];
    assert!(detail_lines(tail).is_empty(), "{tail}");
    assert!(!tail.contains("job received"), "{tail}");
}

/// Every environment variable the README or docs/protocol.md names is in `--help`, and
/// the ones the server reads without the README saying so (state, proxies).
#[test]
fn help_lists_every_environment_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_codex-lsp"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut vars: Vec<String> = ["XDG_STATE_HOME", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"]
        .map(String::from)
        .to_vec();
    for doc in ["README.md", "docs/protocol.md"] {
        let text =
            std::fs::read_to_string(format!("{}/{doc}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            // the benchmark's and the fuzzer's own variables are not the server's
            let tooling = ["CODEX_LSP_BENCH_", "CODEX_LSP_FUZZ_"]
                .iter()
                .any(|p| word.starts_with(p));
            if (word.starts_with("CODEX_LSP_") && !tooling) || word == "OPENAI_API_KEY" {
                vars.push(word.to_owned());
            }
        }
    }
    vars.sort();
    vars.dedup();
    assert!(vars.len() >= 11, "{vars:?}");
    let missing: Vec<_> = vars.iter().filter(|v| !help.contains(v.as_str())).collect();
    assert!(
        missing.is_empty(),
        "--help does not list {missing:?}:\n{help}"
    );
}

/// Started by hand on a terminal, the server says what it is and keeps serving; started
/// by an editor (stdin a pipe) it says nothing of the kind.
#[test]
fn on_a_terminal_it_says_it_speaks_lsp() {
    use std::io::Read;
    use std::process::Stdio;
    let bin = env!("CARGO_BIN_EXE_codex-lsp");
    // `script` (util-linux) gives the server a terminal as stdin
    let mut child = std::process::Command::new("script")
        .args(["-qec", bin, "/dev/null"])
        .env("CODEX_LSP_LOG_FILE", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` from util-linux runs the server on a terminal");
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut seen = String::new();
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ = tx.send(seen.clone());
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = String::new();
    while !seen.contains("--help") && std::time::Instant::now() < deadline {
        if let Ok(s) = rx.recv_timeout(std::time::Duration::from_millis(100)) {
            seen = s;
        }
    }
    assert!(
        seen.contains("speaks LSP") && seen.contains("codex-lsp --help"),
        "{seen:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "it keeps serving after the notice"
    );
    child.kill().unwrap();
    let _ = child.wait();

    let out = std::process::Command::new(bin)
        .env("CODEX_LSP_LOG_FILE", "")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("speaks LSP"), "{err}");
    assert!(out.stdout.is_empty());
}
