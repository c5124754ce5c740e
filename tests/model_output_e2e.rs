//! Model-output faults end to end (reliability.md §5.5, D-1…D-9): whatever the model
//! answers, the server applies only a well-formed edit inside the selection, or
//! nothing with a clear message. Every `workspace/applyEdit` seen is checked against
//! the D-9 invariants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake::{self, Fake};
use common::{Options, TestClient, edits, range_of};
use serde_json::{Value, json};

const TEXT: &str = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n";
const SEL: &str = "    a + b\n";

async fn start(fake: &Fake) -> TestClient {
    TestClient::start(Options {
        env: fake.env(),
        ..Options::default()
    })
    .await
    .0
}

fn run_args(uri: &str, range: Value) -> Value {
    json!({"command": "codex.runAction", "arguments": [{"uri": uri, "range": range, "action": "refactor"}]})
}

/// D-9 on every applyEdit the client saw (each on a fresh document at version 1).
fn check_all(c: &TestClient, uri: &str, within: &Value) {
    for p in c.server_requests("workspace/applyEdit") {
        edits::check(&p, uri, 1, Some(within));
    }
}

/// Runs one refactor per answer, each on its own fresh file; every one must fail
/// with `needle` in the error and a showMessage, leave the file alone, not move the
/// chain, and send no applyEdit.
async fn assert_no_edit_for(answers: Vec<Vec<fake::Step>>, needle: &str) {
    let n = answers.len();
    let fake = Fake::start(answers).await;
    let c = start(&fake).await;
    for i in 0..n {
        let uri = c.open(&format!("src/f{i}.rs"), TEXT, "rust").await;
        let err = c
            .request(
                "workspace/executeCommand",
                run_args(&uri, range_of(TEXT, SEL)),
            )
            .await
            .expect_err("no code, no success");
        assert_eq!(err.code, -32803, "answer {i}: {}", err.message);
        assert!(
            err.message.contains(needle) && err.message.contains("nothing was changed"),
            "answer {i}: {:?}",
            err.message
        );
        assert_eq!(c.mirror(&uri).text, TEXT);
        assert_eq!(
            c.chain_info(&uri).await,
            Value::Null,
            "answer {i}: chain moved"
        );
    }
    c.wait_message(needle).await;
    assert_eq!(fake.count(), n);
    assert!(c.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn d1_prose_or_an_empty_answer_is_no_code() {
    assert_no_edit_for(
        vec![
            fake::text("p1", "You could use wrapping_add here; it avoids overflow."),
            fake::text("p2", ""),
        ],
        "no code",
    )
    .await;
}

#[tokio::test]
async fn d2_two_fenced_blocks_are_ambiguous() {
    assert_no_edit_for(
        vec![fake::text(
            "t1",
            "Either\n```rust\n    a.wrapping_add(b)\n```\nor\n```rust\n    a.saturating_add(b)\n```\n",
        )],
        "2 code blocks",
    )
    .await;
}

#[tokio::test]
async fn d2_an_unterminated_fence_is_cut_off() {
    assert_no_edit_for(
        vec![fake::text("u1", "Here:\n```rust\n    a.wrapping_add(b)\n")],
        "cut off",
    )
    .await;
}

#[tokio::test]
async fn d2_exactly_one_fenced_block_is_applied() {
    let fake = Fake::start(vec![fake::text(
        "f1",
        "Sure:\n```rust\n    a.wrapping_add(b)\n```\nThat avoids overflow.",
    )])
    .await;
    let c = start(&fake).await;
    let uri = c.open("src/a.rs", TEXT, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&uri, range_of(TEXT, SEL)),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(
        c.mirror(&uri).text,
        TEXT.replace("a + b", "a.wrapping_add(b)")
    );
    check_all(&c, &uri, &range_of(TEXT, SEL));
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn d3_malformed_function_arguments_are_rejected_never_coerced() {
    assert_no_edit_for(
        vec![
            fake::call_with_args("m1", r#"{"code": "    a.wrapping_add(b)"#),
            fake::call_with_args("m2", r#"{"code": "    a.wrapping_add(b)\n",}"#),
            fake::call_with_args("m3", r#"["    a.wrapping_add(b)\n"]"#),
            fake::call_with_args("m4", r#"{"code": 5}"#),
            fake::call_with_args("m5", ""),
            fake::call_with_args("m6", r#"{"text": "    a.wrapping_add(b)\n"}"#),
        ],
        "malformed arguments",
    )
    .await;
}

#[tokio::test]
async fn d5_an_identical_answer_sends_no_edit() {
    let fake = Fake::start(vec![fake::code("s1", SEL)]).await;
    let c = start(&fake).await;
    let uri = c.open("src/a.rs", TEXT, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&uri, range_of(TEXT, SEL)),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], false, "{r}");
    assert!(r["message"].as_str().unwrap().contains("unchanged"), "{r}");
    c.wait_message("unchanged").await;
    assert!(c.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn d5_crlf_answers_get_the_documents_line_endings() {
    let fake = Fake::start(vec![
        fake::code("l1", "    let s = a + b;\r\n    s\r\n"),
        fake::code("c1", "    let s = a + b;\n    s\n"),
    ])
    .await;
    let c = start(&fake).await;
    // an LF document, a CRLF answer: LF in the edit
    let lf = c.open("src/lf.rs", TEXT, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&lf, range_of(TEXT, SEL)),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    let p = &c.server_requests("workspace/applyEdit")[0];
    edits::check(p, &lf, 1, Some(&range_of(TEXT, SEL)));
    assert!(!p.to_string().contains("\\r"), "CR in an LF document: {p}");
    assert_eq!(
        c.mirror(&lf).text,
        TEXT.replace(SEL, "    let s = a + b;\n    s\n")
    );
    // a CRLF document, an LF answer: CRLF in the edit
    let crlf_text = TEXT.replace('\n', "\r\n");
    let crlf_sel = SEL.replace('\n', "\r\n");
    let crlf = c.open("src/crlf.rs", &crlf_text, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&crlf, range_of(&crlf_text, &crlf_sel)),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    let p = &c.server_requests("workspace/applyEdit")[1];
    edits::check(p, &crlf, 1, Some(&range_of(&crlf_text, &crlf_sel)));
    assert_eq!(
        c.mirror(&crlf).text,
        crlf_text.replace(&crlf_sel, "    let s = a + b;\r\n    s\r\n")
    );
    assert!(
        !c.mirror(&crlf).text.replace("\r\n", "").contains('\n'),
        "a bare LF in a CRLF document"
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn d6_hidden_characters_are_stripped_with_a_warning() {
    let sneaky = "    a\u{202E}.wrapping_add(b)\u{200B} // \u{E0069}\u{E0067}\u{E006E}ok\u{2066}\n";
    let fake = Fake::start(vec![fake::code("h1", sneaky)]).await;
    let c = start(&fake).await;
    let uri = c.open("src/h.rs", TEXT, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&uri, range_of(TEXT, SEL)),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert!(r["message"].as_str().unwrap().contains("U+202E"), "{r}");
    c.wait_message("hidden characters").await;
    let applied = c.mirror(&uri).text;
    assert_eq!(applied, TEXT.replace("a + b", "a.wrapping_add(b) // ok"));
    let p = &c.server_requests("workspace/applyEdit")[0];
    for ch in ['\u{202E}', '\u{200B}', '\u{E0069}', '\u{2066}'] {
        assert!(
            !p.to_string().contains(ch),
            "U+{:04X} in the edit",
            ch as u32
        );
    }
    check_all(&c, &uri, &range_of(TEXT, SEL));
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn d7_an_echoed_placeholder_stays_a_placeholder() {
    let key = "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3LkT3BlbkFJj2Ih1Gf0Ed9Cb8Az7Yx6W";
    let text = format!("fn client() -> Client {{\n    Client::new(\"{key}\")\n}}\n");
    let sel = format!("    Client::new(\"{key}\")\n");
    let fake = Fake::start(vec![fake::code(
        "k1",
        "    Client::builder().key(\"«REDACTED:openai-key#1»\").build()\n",
    )])
    .await;
    let c = start(&fake).await;
    let uri = c.open("src/k.rs", &text, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&uri, range_of(&text, &sel)),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("placeholder"),
        "{r}"
    );
    c.wait_message("placeholder").await;
    let sent = fake.requests()[0].input_text();
    assert!(!sent.contains(key) && sent.contains("«REDACTED:openai-key#1»"));
    let p = &c.server_requests("workspace/applyEdit")[0];
    assert!(!p.to_string().contains(key), "the secret came back: {p}");
    let now = c.mirror(&uri).text;
    assert!(now.contains("key(\"«REDACTED:openai-key#1»\")"), "{now}");
    assert!(
        !now.contains(key),
        "the placeholder was turned back into the key"
    );
    check_all(&c, &uri, &range_of(&text, &sel));
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn d7_a_new_secret_in_the_answer_is_warned_about() {
    let fake = Fake::start(vec![fake::code(
        "n1",
        "    let _t = \"ghp_9Z8y7X6w5V4u3T2s1R0qPoNmLkJiHgFeDcBa\"; a + b\n",
    )])
    .await;
    let c = start(&fake).await;
    let uri = c.open("src/n.rs", TEXT, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            run_args(&uri, range_of(TEXT, SEL)),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("looks like a secret"),
        "{r}"
    );
    c.wait_message("looks like a secret").await;
    assert_eq!(c.shutdown().await, 0);
}

/// D-9 across shapes: a multi-line rewrite, a deletion, an insertion at an empty
/// selection, and a non-ASCII answer, each checked against the invariants.
#[tokio::test]
async fn d9_every_edit_is_one_versioned_sorted_in_selection_text_document_edit() {
    let text = "fn f() {\n    let a = 1;\n    let b = 2;\n    let c = 3;\n    a + b + c\n}\n";
    let sel = "    let a = 1;\n    let b = 2;\n    let c = 3;\n";
    let answers = [
        "    let a = 10;\n    let b = 2;\n    let c = 30;\n",
        "",
        "    let a = 1;\n    // café ☕ — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢\n    let c = 3;\n",
        "    let (a, b, c) = (1, 2, 3);\n",
    ];
    let fake = Fake::start(
        answers
            .iter()
            .enumerate()
            .map(|(i, a)| fake::code(&format!("v{i}"), a))
            .collect(),
    )
    .await;
    let c = start(&fake).await;
    for (i, a) in answers.iter().enumerate() {
        let uri = c.open(&format!("src/v{i}.rs"), text, "rust").await;
        let r = c
            .request(
                "workspace/executeCommand",
                run_args(&uri, range_of(text, sel)),
            )
            .await
            .unwrap();
        assert_eq!(r["applied"], true, "{i}: {r}");
        let p = c.server_requests("workspace/applyEdit")[i].clone();
        edits::check(&p, &uri, 1, Some(&range_of(text, sel)));
        assert_eq!(c.mirror(&uri).text, text.replace(sel, a), "answer {i}");
    }
    // an empty selection inserts at the cursor with `ask`
    let fake2 = Fake::start(vec![fake::code("ins", "    // hi\n")]).await;
    let c2 = start(&fake2).await;
    let uri = c2.open("src/ins.rs", text, "rust").await;
    let at = range_of(text, "    a + b + c");
    let cursor = json!({"start": at["start"], "end": at["start"]});
    let r = c2
        .request("workspace/executeCommand", json!({"command": "codex.ask", "arguments": [{"uri": uri, "range": cursor, "instruction": "add a comment"}]}))
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    let p = &c2.server_requests("workspace/applyEdit")[0];
    edits::check(p, &uri, 1, Some(&cursor));
    assert_eq!(
        c2.mirror(&uri).text,
        text.replace("    a + b + c", "    // hi\n    a + b + c")
    );
    assert_eq!(c2.shutdown().await, 0);
    assert_eq!(c.shutdown().await, 0);
}
