//! Patch answers through the real binary: a large selection offers `apply_patch`, a
//! patch is applied exactly and minimally, every refusal leaves the document and the
//! chain alone, and a patch that does not apply gets one corrective turn.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake::{self, Fake};
use common::{Options, TestClient, edits, range_of};
use serde_json::{Value, json};

const PATH: &str = "src/big.rs";

/// `// top`, `fn big() {`, 150 lines `    let vN = compute(N);`, `}`: the 150 lines are
/// lines 2..=151 of the document.
fn body(eol: &str) -> String {
    (0..150)
        .map(|i| format!("    let v{i} = compute({i});{eol}"))
        .collect()
}

fn document(eol: &str) -> String {
    format!("// top{eol}fn big() {{{eol}{}}}{eol}", body(eol))
}

fn patch_text(path: &str, hunks: &str) -> String {
    format!("*** Begin Patch\n*** Update File: {path}\n{hunks}*** End Patch\n")
}

const TWO_HUNKS: &str = "\
@@
     let v8 = compute(8);
     let v9 = compute(9);
-    let v10 = compute(10);
+    let v10 = compute(10) * 2;
     let v11 = compute(11);
@@
     let v99 = compute(99);
-    let v100 = compute(100);
+    let v100 = compute(100) + 1;
+    let extra = v100;
     let v101 = compute(101);
";

fn two_hunks_applied(eol: &str) -> String {
    document(eol)
        .replace("compute(10);", "compute(10) * 2;")
        .replace(
            &format!("compute(100);{eol}"),
            &format!("compute(100) + 1;{eol}    let extra = v100;{eol}"),
        )
}

async fn start(fake: &Fake, init: Value) -> TestClient {
    TestClient::start(Options {
        env: fake.env(),
        initialization_options: init,
        ..Options::default()
    })
    .await
    .0
}

fn refactor(uri: &str, text: &str, sel: &str) -> Value {
    json!({"command": "codex.runAction",
           "arguments": [{"uri": uri, "range": range_of(text, sel), "action": "refactor"}]})
}

fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn reports(c: &TestClient) -> Vec<String> {
    c.notifications("$/progress")
        .iter()
        .filter_map(|p| p["value"]["message"].as_str().map(str::to_owned))
        .collect()
}

/// The lines the applyEdit's TextEdits touch.
fn touched_lines(params: &Value) -> Vec<u64> {
    let mut lines: Vec<u64> = params["edit"]["documentChanges"][0]["edits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            let r = &e["range"];
            r["start"]["line"].as_u64().unwrap()..=r["end"]["line"].as_u64().unwrap()
        })
        .collect();
    lines.dedup();
    lines
}

#[tokio::test]
async fn a_two_hunk_patch_of_a_150_line_selection_is_applied_exactly_and_minimally() {
    let fake = Fake::start(vec![fake::patch("p1", &patch_text(PATH, TWO_HUNKS))]).await;
    let c = start(&fake, json!({})).await;
    let text = document("\n");
    let uri = c.open(PATH, &text, "rust").await;
    let sel = body("\n");
    let r = c
        .request("workspace/executeCommand", refactor(&uri, &text, &sel))
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(c.mirror(&uri).text, two_hunks_applied("\n"));

    let applies = c.server_requests("workspace/applyEdit");
    assert_eq!(applies.len(), 1);
    edits::check(&applies[0], &uri, 1, Some(&range_of(&text, &sel)));
    // v10 is line 12, v100 line 102; the added line goes in at 102's end or 103's start
    let touched = touched_lines(&applies[0]);
    assert!(
        touched.iter().all(|l| [12, 102, 103].contains(l)) && touched.contains(&12),
        "only the changed lines are edited: {touched:?} in {}",
        applies[0]
    );
    let new_chars: usize = applies[0]["edit"]["documentChanges"][0]["edits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["newText"].as_str().unwrap().len())
        .sum();
    assert!(new_chars < 40, "{new_chars} characters rewritten");

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        tool_names(&reqs[0].body),
        ["replace_selection", "apply_patch"]
    );
    assert!(
        reqs[0].body["instructions"]
            .as_str()
            .unwrap()
            .contains(&format!("*** Update File: {PATH}"))
    );
    c.wait_for("the patch report", |i| {
        i.notifications
            .iter()
            .any(|(m, p)| m == "$/progress" && p.to_string().contains("patch: 2 hunks"))
    })
    .await;
    let report = reports(&c)
        .into_iter()
        .find(|m| m.starts_with("patch: 2 hunks"))
        .unwrap();
    assert!(report.ends_with(" characters"), "{report}");
    // the chain moved, and its head's call is answered as an applied patch next time
    assert_eq!(c.chain_info(&uri).await["responseId"], "p1");
    let log = std::fs::read_to_string(c.dir.path().join("server.log")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("answer read"))
        .expect("an answer-read log line");
    assert!(
        line.contains("patch") && line.contains("output_chars=") && line.contains("hunks=2"),
        "{line}"
    );
    assert_eq!(fake.refused(), Vec::<String>::new());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn the_next_turn_answers_an_applied_patch_as_applied() {
    let fake = Fake::start(vec![
        fake::patch("p1", &patch_text(PATH, TWO_HUNKS)),
        fake::code("p2", "    let v0 = compute(0) - 1;\n"),
    ])
    .await;
    let c = start(&fake, json!({})).await;
    let text = document("\n");
    let uri = c.open(PATH, &text, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            refactor(&uri, &text, &body("\n")),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true);
    let now = c.mirror(&uri).text;
    let r = c
        .request(
            "workspace/executeCommand",
            refactor(&uri, &now, "    let v0 = compute(0);\n"),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    let second = &fake.requests()[1].body;
    assert_eq!(second["previous_response_id"], "p1");
    assert_eq!(second["input"][0]["call_id"], "call_p1");
    assert_eq!(
        second["input"][0]["output"],
        "Applied: the patch was applied to the selection."
    );
    // a one-line selection offers only replace_selection
    assert_eq!(tool_names(second), ["replace_selection"]);
    assert!(
        !second["instructions"]
            .as_str()
            .unwrap()
            .contains("apply_patch")
    );
    assert_eq!(fake.refused(), Vec::<String>::new());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn every_refused_patch_changes_nothing_and_names_why() {
    let bad = |hunks: &str| patch_text(PATH, hunks);
    let cases: Vec<(String, &str)> = vec![
        (
            bad("@@\n-    let v10 = compute(1000);\n+    let v10 = 0;\n"),
            "hunk 1 (starting `-    let v10 = compute(1000);`) matches nowhere in the selection",
        ),
        (
            bad(
                "@@\n     let v1 = compute(1);\n@@ fn nowhere()\n-    let v3 = compute(3);\n+    x\n",
            ),
            "hunk 2 (@@ fn nowhere()): its `@@` header line `fn nowhere()` is nowhere",
        ),
        (
            "*** Begin Patch\n*** Add File: src/new.rs\n+fn evil() {}\n*** End Patch\n".into(),
            "adds a file (`*** Add File: src/new.rs`)",
        ),
        (
            format!("*** Begin Patch\n*** Delete File: {PATH}\n*** End Patch\n"),
            "deletes a file",
        ),
        (
            format!(
                "*** Begin Patch\n*** Update File: {PATH}\n*** Move to: src/moved.rs\n@@\n-    let v1 = compute(1);\n+    x\n*** End Patch\n"
            ),
            "moves a file (`*** Move to: src/moved.rs`)",
        ),
        (
            patch_text("src/other.rs", "@@\n-    let v1 = compute(1);\n+    x\n"),
            "updates `src/other.rs`, but only the selection in `src/big.rs`",
        ),
        (
            format!("*** Begin Patch\n*** Update File: {PATH}\n@@\n-    let v1 = compute(1);\n"),
            "does not end with `*** End Patch`",
        ),
        ("".into(), "the patch is empty"),
    ];
    // each case: the answer, then the same answer to the corrective turn
    let scripts = cases
        .iter()
        .enumerate()
        .flat_map(|(n, (p, _))| {
            [
                fake::patch(&format!("a{n}"), p),
                fake::patch(&format!("b{n}"), p),
            ]
        })
        .collect();
    let fake = Fake::start(scripts).await;
    let c = start(&fake, json!({})).await;
    let text = document("\n");
    let uri = c.open(PATH, &text, "rust").await;
    for (n, (_, why)) in cases.iter().enumerate() {
        let err = c
            .request(
                "workspace/executeCommand",
                refactor(&uri, &text, &body("\n")),
            )
            .await
            .expect_err("a refused patch is an error");
        assert!(
            err.message.contains(why) && err.message.contains("nothing was changed"),
            "case {n}: {}",
            err.message
        );
        assert!(
            err.message.contains("even after one correction"),
            "{}",
            err.message
        );
        assert_eq!(err.data["kind"], "no_code", "case {n}");
        let reqs = fake.requests();
        assert_eq!(reqs.len(), 2 * (n + 1), "case {n}: one corrective turn");
        let (first, retry) = (&reqs[2 * n], &reqs[2 * n + 1]);
        assert_eq!(first.prev(), None, "case {n}: the chain did not move");
        assert_eq!(retry.prev().as_deref(), Some(format!("a{n}").as_str()));
        let output = retry.body["input"][0]["output"].as_str().unwrap();
        assert!(
            output.starts_with("apply_patch verification failed: ") && output.contains(why),
            "case {n}: {output}"
        );
    }
    assert!(c.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(c.mirror(&uri).text, text);
    assert_eq!(c.chain_info(&uri).await, Value::Null);
    assert_eq!(fake.refused(), Vec::<String>::new());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_patch_that_matches_twice_is_refused_then_corrected() {
    // the selection holds `    let v1 = compute(1);` twice
    let ambiguous = format!(
        "{}{}",
        document("\n").replace("}\n", ""),
        "    let v1 = compute(1);\n}\n"
    );
    let fixed = patch_text(
        PATH,
        "@@\n     let v4 = compute(4);\n-    let v5 = compute(5);\n+    let v5 = compute(5) - 5;\n     let v6 = compute(6);\n",
    );
    let dup = patch_text(PATH, "@@\n-    let v1 = compute(1);\n+    let v1 = 1;\n");
    let fake = Fake::start(vec![fake::patch("d1", &dup), fake::patch("d2", &fixed)]).await;
    let c = start(&fake, json!({})).await;
    let uri = c.open(PATH, &ambiguous, "rust").await;
    let sel = format!("{}    let v1 = compute(1);\n", body("\n"));
    let r = c
        .request("workspace/executeCommand", refactor(&uri, &ambiguous, &sel))
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(r["responseId"], "d2");
    assert_eq!(
        c.mirror(&uri).text,
        ambiguous.replace("compute(5);", "compute(5) - 5;")
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    let retry = &reqs[1].body;
    assert_eq!(retry["previous_response_id"], "d1");
    assert_eq!(retry["input"][0]["type"], "function_call_output");
    assert_eq!(retry["input"][0]["call_id"], "call_d1");
    assert_eq!(
        retry["input"][0]["output"],
        "apply_patch verification failed: hunk 1 (starting `-    let v1 = compute(1);`) matches 2 places in the selection; add context lines or an `@@` header so it matches exactly one"
    );
    assert_eq!(retry["input"][1]["role"], "user");
    assert!(retry["input"].to_string().contains("did not apply"));
    assert_eq!(tool_names(retry), ["replace_selection", "apply_patch"]);
    assert!(
        reports(&c).iter().any(|m| m.contains("retrying")),
        "{:?}",
        reports(&c)
    );
    // the head is the corrected turn; the next request answers its call
    assert_eq!(c.chain_info(&uri).await["responseId"], "d2");
    assert_eq!(fake.refused(), Vec::<String>::new());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn replay_mode_carries_the_failed_turn_in_the_corrective_request() {
    let bad = patch_text(PATH, "@@\n-    let v10 = compute(999);\n+    x\n");
    let good = patch_text(PATH, TWO_HUNKS);
    let fake = Fake::start(vec![fake::patch("r1", &bad), fake::patch("r2", &good)]).await;
    let c = start(&fake, json!({"chainMode": "replay"})).await;
    let text = document("\n");
    let uri = c.open(PATH, &text, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            refactor(&uri, &text, &body("\n")),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(c.mirror(&uri).text, two_hunks_applied("\n"));
    let retry = &fake.requests()[1].body;
    assert_eq!(retry["store"], false);
    assert!(retry.get("previous_response_id").is_none());
    let types: Vec<&str> = retry["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "message",
            "function_call",
            "function_call_output",
            "message"
        ]
    );
    assert_eq!(retry["input"][1]["call_id"], "call_r1");
    assert_eq!(retry["input"][2]["call_id"], "call_r1");
    assert_eq!(fake.refused(), Vec::<String>::new());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_crlf_document_is_patched_in_crlf() {
    let fake = Fake::start(vec![fake::patch("c1", &patch_text(PATH, TWO_HUNKS))]).await;
    let c = start(&fake, json!({})).await;
    let text = document("\r\n");
    let uri = c.open(PATH, &text, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            refactor(&uri, &text, &body("\r\n")),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    let now = c.mirror(&uri).text;
    assert_eq!(now, two_hunks_applied("\r\n"));
    assert!(
        !now.replace("\r\n", "").contains('\n'),
        "a bare LF crept in"
    );
    let applies = c.server_requests("workspace/applyEdit");
    let touched = touched_lines(&applies[0]);
    assert!(
        touched.iter().all(|l| [12, 102, 103].contains(l)),
        "{touched:?}"
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn small_selections_and_patch_above_lines_zero_offer_only_replace_selection() {
    let fake = Fake::start(vec![
        fake::code(
            "s1",
            &body("\n")
                .lines()
                .take(79)
                .map(|l| format!("{}\n", l.replace("compute(3)", "3")))
                .collect::<String>(),
        ),
        fake::code("s2", &body("\n").replace("compute(7)", "seven()")),
        fake::code("s3", &body("\n").replace("compute(8)", "eight()")),
    ])
    .await;
    let c = start(&fake, json!({})).await;
    let text = document("\n");
    let uri = c.open(PATH, &text, "rust").await;
    // 79 lines: below the default of 80
    let short: String = body("\n")
        .lines()
        .take(79)
        .map(|l| format!("{l}\n"))
        .collect();
    let r = c
        .request("workspace/executeCommand", refactor(&uri, &text, &short))
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(tool_names(&fake.requests()[0].body), ["replace_selection"]);
    // 150 lines, answered with replace_selection: still fine
    let now = c.mirror(&uri).text;
    // the first answer changed line v3: select the current 150 lines
    let sel = body("\n").replace("v3 = compute(3)", "v3 = 3");
    let r = c
        .request("workspace/executeCommand", refactor(&uri, &now, &sel))
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(
        tool_names(&fake.requests()[1].body),
        ["replace_selection", "apply_patch"]
    );
    c.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"codex": {"patchAboveLines": 0}}}),
    )
    .await;
    let now = c.mirror(&uri).text;
    let sel: String = now
        .lines()
        .skip(2)
        .take(150)
        .map(|l| format!("{l}\n"))
        .collect();
    let r = c
        .request("workspace/executeCommand", refactor(&uri, &now, &sel))
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(tool_names(&fake.requests()[2].body), ["replace_selection"]);
    assert_eq!(c.shutdown().await, 0);
}
