//! Actions end to end: the real binary over stdio, a fake Responses server on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake::{self, Fake};
use common::{ApplyPolicy, Options, TestClient, range_of};
use serde_json::{Value, json};

const POINT: &str = "use std::fmt;\n\npub struct Point {\n    pub x: i32,\n    pub y: i32,\n}\n\nimpl Point {\n    pub fn norm1(&self) -> i32 {\n        let ax = self.x.abs();\n        let ay = self.y.abs();\n        ax + ay\n    }\n}\n";
const NORM1: &str = "    pub fn norm1(&self) -> i32 {\n        let ax = self.x.abs();\n        let ay = self.y.abs();\n        ax + ay\n    }\n";

async fn start(fake: &Fake) -> TestClient {
    TestClient::start(Options {
        env: fake.env(),
        ..Options::default()
    })
    .await
    .0
}

/// The title of the progress `begin` sent for `token`.
async fn begin_title(c: &TestClient, token: &str) -> Value {
    let is_begin = |p: &Value| p["token"] == token && p["value"]["kind"] == "begin";
    c.wait_for("the progress begin", |i| {
        i.notifications
            .iter()
            .any(|(m, p)| m == "$/progress" && is_begin(p))
    })
    .await;
    c.notifications("$/progress")
        .into_iter()
        .find(|p| is_begin(p))
        .unwrap()["value"]["title"]
        .clone()
}

fn run_args(uri: &str, range: Value, action: &str) -> Value {
    json!({"command": "codex.runAction", "arguments": [{"uri": uri, "range": range, "action": action}]})
}

#[tokio::test]
async fn refactor_sends_the_right_request_and_applies_a_minimal_versioned_edit() {
    let new = NORM1.replace("ax + ay", "ax.saturating_add(ay)");
    let fake = Fake::start(vec![fake::code("r1", &new)]).await;
    let c = start(&fake).await;
    let uri = c.open("src/geometry.rs", POINT, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&uri, range_of(POINT, NORM1), "refactor"),
        )
        .await
        .unwrap();
    assert_eq!(r, json!({"applied": true, "responseId": "r1"}));

    let req = &fake.requests()[0];
    assert!(req.head.starts_with("POST /v1/responses "), "{}", req.head);
    assert!(
        req.head
            .contains(&format!("authorization: Bearer {}", fake::SENTINEL).to_ascii_lowercase())
            || req.head.to_ascii_lowercase().contains(&format!(
                "authorization: bearer {}",
                fake::SENTINEL.to_ascii_lowercase()
            ))
    );
    assert_eq!(req.body["model"], "gpt-5.3-codex-official");
    assert_eq!(req.body["stream"], true);
    assert!(
        req.body["instructions"]
            .as_str()
            .unwrap()
            .contains("replace_selection")
    );
    assert!(req.prev().is_none());
    assert_eq!(req.body["tools"][0]["name"], "replace_selection");
    assert_eq!(req.body["tool_choice"], "required");
    let input = req.input_text();
    for needle in [
        "src/geometry.rs",
        "rust",
        "pub struct Point {",
        "let ax = self.x.abs();",
    ] {
        assert!(input.contains(needle), "{needle} missing from the input");
    }

    let edits = c.server_requests("workspace/applyEdit");
    assert_eq!(edits.len(), 1);
    let change = &edits[0]["edit"]["documentChanges"][0];
    assert_eq!(change["textDocument"]["version"], 1);
    for e in change["edits"].as_array().unwrap() {
        assert_eq!(
            e["range"]["start"]["line"], 11,
            "only the changed line is edited: {e}"
        );
        assert_eq!(e["range"]["end"]["line"], 11);
    }
    assert_eq!(
        c.mirror(&uri).text,
        POINT.replace("ax + ay", "ax.saturating_add(ay)")
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn chains_are_per_file_and_survive_a_restart() {
    let fake = Fake::start(vec![
        fake::code("a1", "use std::fmt::{self, Display};"),
        fake::code("a2", "use std::fmt;"),
        fake::code("b1", "struct Q;"),
    ])
    .await;
    let c = start(&fake).await;
    let a = c.open("src/a.rs", POINT, "rust").await;
    let b = c.open("src/b.rs", "struct P;\n", "rust").await;
    let cmd = |uri: &str, text: &str, sel: &str| run_args(uri, range_of(text, sel), "refactor");
    c.request("workspace/executeCommand", cmd(&a, POINT, "use std::fmt;"))
        .await
        .unwrap();
    let a_text = c.mirror(&a).text;
    c.request(
        "workspace/executeCommand",
        cmd(&a, &a_text, "use std::fmt::{self, Display};"),
    )
    .await
    .unwrap();
    c.request(
        "workspace/executeCommand",
        cmd(&b, "struct P;\n", "struct P;"),
    )
    .await
    .unwrap();
    let reqs = fake.requests();
    assert_eq!(reqs[0].prev(), None);
    assert_eq!(reqs[1].prev().as_deref(), Some("a1"));
    assert!(
        reqs[1].body["instructions"].as_str().is_some(),
        "instructions are sent every turn"
    );
    assert_eq!(reqs[2].prev(), None, "another file has its own chain");
    let info = |uri: &str| json!({"command": "codex.chainInfo", "arguments": [{"uri": uri}]});
    assert_eq!(
        c.request("workspace/executeCommand", info(&a))
            .await
            .unwrap(),
        json!({"responseId": "a2", "turns": 2})
    );
    let state = c.dir.path().join("state/codex-lsp/chains.json");
    // chains persist under XDG_STATE_HOME (written just after the command answers)
    common::wait_file_contains(&state, "\"a2\"").await;
    // a second server on the same state directory knows the chain
    let dir_env = vec![(
        "XDG_STATE_HOME".to_owned(),
        c.dir.path().join("state").display().to_string(),
    )];
    let ws = c.workspace();
    let mut env = fake.env();
    env.extend(dir_env);
    let (c2, _) = TestClient::start(Options {
        env,
        workspace: Some(ws),
        ..Options::default()
    })
    .await;
    assert_eq!(
        c2.request("workspace/executeCommand", info(&a))
            .await
            .unwrap(),
        json!({"responseId": "a2", "turns": 2})
    );
    c2.request(
        "workspace/executeCommand",
        json!({"command": "codex.resetChain", "arguments": [{"uri": a}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        c2.request("workspace/executeCommand", info(&a))
            .await
            .unwrap(),
        Value::Null
    );
    assert_eq!(c2.shutdown().await, 0);
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn typing_above_the_selection_moves_the_edit() {
    let fake = Fake::start(vec![fake::code_after("m1", "        ax.max(ay)\n", 400)]).await;
    let c = start(&fake).await;
    let uri = c.open("src/g.rs", POINT, "rust").await;
    let (_, rx) = c
        .send_request(
            "workspace/executeCommand",
            run_args(&uri, range_of(POINT, "        ax + ay\n"), "refactor"),
        )
        .await;
    fake.wait_request(1).await;
    // the user adds a line at the top while the model works
    c.edit(
        &uri,
        json!({"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}),
        "// moved\n",
    )
    .await;
    let r = tokio::time::timeout(common::TIMEOUT, rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r["result"]["applied"], true, "{r}");
    let edit = &c.server_requests("workspace/applyEdit")[0]["edit"]["documentChanges"][0];
    assert_eq!(
        edit["textDocument"]["version"], 2,
        "sent with the current version"
    );
    assert_eq!(
        c.mirror(&uri).text,
        format!(
            "// moved\n{}",
            POINT.replace("        ax + ay\n", "        ax.max(ay)\n")
        )
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn editing_the_selection_meanwhile_refuses_the_edit() {
    let fake = Fake::start(vec![fake::code_after("m1", "        ax.max(ay)\n", 400)]).await;
    let c = start(&fake).await;
    let uri = c.open("src/g.rs", POINT, "rust").await;
    let (_, rx) = c
        .send_request(
            "workspace/executeCommand",
            run_args(&uri, range_of(POINT, "        ax + ay\n"), "refactor"),
        )
        .await;
    fake.wait_request(1).await;
    let inside = range_of(POINT, "ax + ay");
    c.edit(&uri, inside, "ay + ax").await;
    let r = tokio::time::timeout(common::TIMEOUT, rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r["error"]["code"], -32801, "{r}");
    assert!(c.server_requests("workspace/applyEdit").is_empty());
    assert!(
        c.mirror(&uri).text.contains("ay + ax"),
        "the user's edit stands"
    );
    c.wait_for("a message about the changed selection", |i| {
        i.notifications.iter().any(|(m, p)| {
            m == "window/showMessage"
                && p["message"].as_str().unwrap_or("").contains("edited while")
        })
    })
    .await;
    let info = c
        .request(
            "workspace/executeCommand",
            json!({"command": "codex.chainInfo", "arguments": [{"uri": uri}]}),
        )
        .await
        .unwrap();
    assert_eq!(
        info,
        Value::Null,
        "the chain does not move when nothing was applied"
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn two_actions_on_one_file_at_once_never_fork_the_chain() {
    let fake = Fake::start(vec![
        fake::code_after("t1", "use std::fmt as f;", 200),
        fake::code("t2", "pub struct Point2 {"),
    ])
    .await;
    let c = start(&fake).await;
    let uri = c.open("src/t.rs", POINT, "rust").await;
    let (_, rx1) = c
        .send_request(
            "workspace/executeCommand",
            run_args(&uri, range_of(POINT, "use std::fmt;"), "refactor"),
        )
        .await;
    let (_, rx2) = c
        .send_request(
            "workspace/executeCommand",
            run_args(&uri, range_of(POINT, "pub struct Point {"), "refactor"),
        )
        .await;
    let r1 = tokio::time::timeout(common::TIMEOUT, rx1)
        .await
        .unwrap()
        .unwrap();
    let r2 = tokio::time::timeout(common::TIMEOUT, rx2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r1["result"]["applied"], true, "{r1}");
    assert_eq!(r2["result"]["applied"], true, "{r2}");
    let reqs = fake.requests();
    assert_eq!(
        reqs[1].prev().as_deref(),
        Some("t1"),
        "the second carries the first's id"
    );
    let text = c.mirror(&uri).text;
    assert!(
        text.starts_with("use std::fmt as f;\n\npub struct Point2 {\n"),
        "{text}"
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn cancel_mid_stream_drops_the_request_and_changes_nothing() {
    let fake = Fake::start(vec![fake::hold("h1")]).await;
    let c = start(&fake).await;
    let uri = c.open("src/c.rs", POINT, "rust").await;
    let (id, rx) = c
        .send_request(
            "workspace/executeCommand",
            run_args(&uri, range_of(POINT, NORM1), "refactor"),
        )
        .await;
    fake.wait_request(1).await;
    c.notify("$/cancelRequest", json!({"id": id})).await;
    let r = tokio::time::timeout(common::TIMEOUT, rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r["error"]["code"], -32800, "{r}");
    fake.wait_closed().await;
    assert!(c.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(c.mirror(&uri).text, POINT);
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn progress_cancel_button_stops_the_job() {
    let fake = Fake::start(vec![fake::hold("h1")]).await;
    let c = start(&fake).await;
    let uri = c.open("src/c.rs", POINT, "rust").await;
    let mut args = run_args(&uri, range_of(POINT, NORM1), "document");
    args["workDoneToken"] = json!("tok-1");
    let (_, rx) = c.send_request("workspace/executeCommand", args).await;
    fake.wait_request(1).await;
    c.notify("window/workDoneProgress/cancel", json!({"token": "tok-1"}))
        .await;
    let r = tokio::time::timeout(common::TIMEOUT, rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r["error"]["code"], -32800, "{r}");
    fake.wait_closed().await;
    // notifications and responses travel on separate channels inside the framework:
    // the end may arrive just after the response
    c.wait_for("the progress end", |i| {
        i.notifications
            .iter()
            .any(|(m, p)| m == "$/progress" && p["token"] == "tok-1" && p["value"]["kind"] == "end")
    })
    .await;
    let kinds: Vec<String> = c
        .notifications("$/progress")
        .iter()
        .filter(|p| p["token"] == "tok-1")
        .map(|p| p["value"]["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("begin"));
    assert_eq!(kinds.last().map(String::as_str), Some("end"));
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn explain_answers_in_text_and_opens_a_markdown_document() {
    let fake = Fake::start(vec![fake::text("e1", "It sums the **absolute values**.")]).await;
    let c = start(&fake).await;
    let uri = c.open("src/e.rs", POINT, "rust").await;
    let r = c
        .request("workspace/executeCommand", json!({"command": "codex.explain", "arguments": [{"uri": uri, "range": range_of(POINT, NORM1)}]}))
        .await
        .unwrap();
    assert_eq!(
        r,
        json!({"responseId": "e1", "text": "It sums the **absolute values**."})
    );
    assert!(fake.requests()[0].body.get("tools").is_none());
    assert!(
        c.user_messages()
            .iter()
            .any(|m| m.contains("absolute values"))
    );
    let shown = c.server_requests("window/showDocument");
    assert_eq!(shown.len(), 1);
    let path = shown[0]["uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("file://")
        .to_owned();
    assert!(
        std::fs::read_to_string(path)
            .unwrap()
            .contains("absolute values")
    );
    assert!(c.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_codex_comment_is_carried_out_and_removed() {
    let text = "fn total(v: &[i32]) -> i32 {\n    // codex: use iterator sum\n    let mut t = 0;\n    for x in v { t += x; }\n    t\n}\n";
    let fake = Fake::start(vec![fake::code("i1", "    v.iter().sum()\n")]).await;
    let c = start(&fake).await;
    let uri = c.open("src/i.rs", text, "rust").await;
    let range = range_of(
        text,
        "    let mut t = 0;\n    for x in v { t += x; }\n    t\n",
    );
    let actions = c
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": range, "context": {"diagnostics": []}}),
        )
        .await
        .unwrap();
    let instruct = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["command"]["arguments"][0]["action"] == "instruct")
        .unwrap()
        .clone();
    assert_eq!(instruct["kind"], "refactor.rewrite.codex.instruct");
    let r = c
        .request(
            "workspace/executeCommand",
            json!({"command": "codex.runAction", "arguments": instruct["command"]["arguments"], "workDoneToken": "t-do"}),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(instruct["title"], "Codex: Do “use iterator sum”");
    assert_eq!(
        begin_title(&c, "t-do").await,
        instruct["title"],
        "the progress is titled as the menu was"
    );
    assert!(fake.requests()[0].input_text().contains("use iterator sum"));
    assert_eq!(
        c.mirror(&uri).text,
        "fn total(v: &[i32]) -> i32 {\n    v.iter().sum()\n}\n"
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn fix_actions_come_one_per_diagnostic_with_the_diagnostic_attached() {
    let fake = Fake::start(vec![fake::code("f1", "        (ax + ay) as i32\n")]).await;
    let c = start(&fake).await;
    let uri = c.open("src/f.rs", POINT, "rust").await;
    let range = range_of(POINT, "        ax + ay\n");
    let d1 =
        json!({"range": range_of(POINT, "ax + ay"), "message": "mismatched types", "severity": 1});
    let d2 = json!({"range": range_of(POINT, "pub x"), "message": "far away", "severity": 2});
    let actions = c
        .request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": range, "context": {"diagnostics": [d1, d2]}}))
        .await
        .unwrap();
    let fixes: Vec<&Value> = actions
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "quickfix.codex")
        .collect();
    assert_eq!(fixes.len(), 1);
    assert_eq!(fixes[0]["title"], "Codex: Fix “mismatched types”");
    assert_eq!(fixes[0]["diagnostics"][0]["message"], "mismatched types");
    let r = c
        .request(
            "workspace/executeCommand",
            json!({"command": "codex.runAction", "arguments": fixes[0]["command"]["arguments"], "workDoneToken": "t-fix"}),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true);
    assert_eq!(begin_title(&c, "t-fix").await, fixes[0]["title"]);
    assert!(fake.requests()[0].input_text().contains("mismatched types"));
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn user_defined_actions_and_ask() {
    let fake = Fake::start(vec![
        fake::code("u1", "pub struct Punkt {"),
        fake::code("u2", "pub struct Pt {"),
    ])
    .await;
    let (c, _) = TestClient::start(Options {
        env: fake.env(),
        initialization_options: json!({"actions": [{"id": "german", "title": "Germanize", "instruction": "Translate identifiers to German"}]}),
        ..Options::default()
    })
    .await;
    let uri = c.open("src/u.rs", POINT, "rust").await;
    let range = range_of(POINT, "pub struct Point {");
    let actions = c
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": range, "context": {"diagnostics": []}}),
        )
        .await
        .unwrap();
    let german = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Codex: Germanize")
        .unwrap()
        .clone();
    assert_eq!(german["kind"], "refactor.rewrite.codex.german");
    c.request(
        "workspace/executeCommand",
        json!({"command": "codex.runAction", "arguments": german["command"]["arguments"]}),
    )
    .await
    .unwrap();
    assert!(
        fake.requests()[0]
            .input_text()
            .contains("Translate identifiers to German")
    );
    let text = c.mirror(&uri).text;
    let r = c
        .request("workspace/executeCommand", json!({"command": "codex.ask", "arguments": [{"uri": uri, "range": range_of(&text, "pub struct Punkt {"), "instruction": "shorter name"}]}))
        .await
        .unwrap();
    assert_eq!(r["applied"], true);
    assert!(fake.requests()[1].input_text().contains("shorter name"));
    assert!(c.mirror(&uri).text.contains("pub struct Pt {\n    pub x"));
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_client_that_refuses_the_edit_leaves_the_chain_alone() {
    let fake = Fake::start(vec![fake::code("n1", "use core::fmt;")]).await;
    let c = start(&fake).await;
    c.script(|s| s.apply = ApplyPolicy::Refuse("outdated workspace edit".into()));
    let uri = c.open("src/n.rs", POINT, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&uri, range_of(POINT, "use std::fmt;"), "refactor"),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], false);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("outdated workspace edit"),
        "{r}"
    );
    let info = c
        .request(
            "workspace/executeCommand",
            json!({"command": "codex.chainInfo", "arguments": [{"uri": uri}]}),
        )
        .await
        .unwrap();
    assert_eq!(info, Value::Null);
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn an_edit_the_client_answers_with_an_error_is_reported_as_not_applied() {
    let fake = Fake::start(vec![fake::code("n1", "use core::fmt;")]).await;
    let c = start(&fake).await;
    c.script(|s| s.apply = ApplyPolicy::Error(-32603));
    let uri = c.open("src/n.rs", POINT, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&uri, range_of(POINT, "use std::fmt;"), "refactor"),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], false);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("the editor did not apply the edit (it answered: declined by the test)"),
        "{r}"
    );
    assert_eq!(c.mirror(&uri).text, POINT);
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn clients_without_document_changes_get_plain_changes() {
    let fake = Fake::start(vec![fake::code("p1", "use core::fmt;")]).await;
    let (c, _) = TestClient::start(Options {
        env: fake.env(),
        capabilities: json!({"general": {}}), // Neovim 0.7: nothing advertised
        ..Options::default()
    })
    .await;
    let uri = c.open("src/p.rs", POINT, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&uri, range_of(POINT, "use std::fmt;"), "refactor"),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true);
    let edit = &c.server_requests("workspace/applyEdit")[0]["edit"];
    assert!(edit.get("documentChanges").is_none());
    assert!(edit["changes"][&uri].is_array());
    assert!(c.mirror(&uri).text.starts_with("use core::fmt;\n"));
    assert_eq!(c.shutdown().await, 0);
}
