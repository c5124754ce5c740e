//! Per-file chains against a fake that enforces the real API's chain rules: a chained
//! request answers every function call of its head, a new chain answers none, and
//! replay mode carries the turns itself. The real binary over stdio.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake::{self, Fake};
use common::{Options, TestClient, range_of};
use serde_json::{Value, json};

const TEXT: &str =
    "fn one() -> i32 {\n    1\n}\n\nfn two() -> i32 {\n    2\n}\n\nfn three() -> i32 {\n    3\n}\n";

async fn start_with(fake: &Fake, init: Value) -> TestClient {
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

/// Runs `refactor` on `sel` in the client's current copy of `uri`; returns the result.
async fn act(c: &TestClient, uri: &str, sel: &str) -> Value {
    let now = c.mirror(uri).text;
    c.request("workspace/executeCommand", refactor(uri, &now, sel))
        .await
        .unwrap()
}

fn outputs(body: &Value) -> Vec<(String, String)> {
    body["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .map(|i| {
            (
                i["call_id"].as_str().unwrap().to_owned(),
                i["output"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_chained_turn_answers_the_heads_call_and_a_new_chain_answers_none() {
    let fake = Fake::start(vec![
        fake::code("c1", "    10"),
        fake::code("c2", "    20"),
        fake::code("c3", "    30"),
        fake::code("c4", "    11"),
        fake::code("c5", "    21"),
    ])
    .await;
    let c = start_with(&fake, json!({})).await;
    let uri = c.open("src/n.rs", TEXT, "rust").await;
    for sel in ["    1", "    2", "    3"] {
        let r = act(&c, &uri, sel).await;
        assert_eq!(r["applied"], true, "{r}");
    }
    let reqs = fake.requests();
    assert_eq!(reqs[0].prev(), None);
    assert!(
        outputs(&reqs[0].body).is_empty(),
        "the first turn owes nothing"
    );
    for (n, prev) in [(1, "c1"), (2, "c2")] {
        assert_eq!(reqs[n].prev().as_deref(), Some(prev));
        let out = outputs(&reqs[n].body);
        assert_eq!(out.len(), 1, "turn {n}: exactly the head's one call");
        assert_eq!(out[0].0, format!("call_{prev}"));
        assert!(out[0].1.starts_with("Applied"), "{}", out[0].1);
        assert_eq!(
            reqs[n].body["input"][0]["type"], "function_call_output",
            "the input starts with the outputs"
        );
    }

    // a restarted server continues the chain and still answers the head's call
    let state = c.dir.path().join("state/codex-lsp/chains.json");
    common::wait_file_contains(&state, "\"c3\"").await;
    let mut env = fake.env();
    env.push((
        "XDG_STATE_HOME".into(),
        c.dir.path().join("state").display().to_string(),
    ));
    let ws = c.workspace();
    let (c2, _) = TestClient::start(Options {
        env,
        workspace: Some(ws.clone()),
        ..Options::default()
    })
    .await;
    let now = c.mirror(&uri).text;
    let uri2 = c2.open_at(&ws.join("src/n.rs"), &now, "rust", true).await;
    assert_eq!(act(&c2, &uri2, "    10").await["applied"], true);
    let after_restart = &fake.requests()[3];
    assert_eq!(after_restart.prev().as_deref(), Some("c3"));
    assert_eq!(outputs(&after_restart.body)[0].0, "call_c3");

    // after a reset: no previous response, no outputs
    c2.request(
        "workspace/executeCommand",
        json!({"command": "codex.resetChain", "arguments": [{"uri": uri2}]}),
    )
    .await
    .unwrap();
    assert_eq!(act(&c2, &uri2, "    20").await["applied"], true);
    let after_reset = &fake.requests()[4];
    assert_eq!(after_reset.prev(), None);
    assert!(outputs(&after_reset.body).is_empty());
    assert_eq!(fake.refused(), Vec::<String>::new());
    assert_eq!(c2.shutdown().await, 0);
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn the_fake_refuses_what_the_real_api_refuses() {
    use codex_lsp::openai::{
        ApiKey, ClientConfig, CreateResponse, InputItem, OpenAiError, ResponsesClient,
    };
    use tokio_util::sync::CancellationToken;
    let fake = Fake::start(vec![fake::code("f1", "x")]).await;
    let cfg = ClientConfig::new(fake.base_url(), Some(ApiKey::new(fake::SENTINEL.into())));
    let client = ResponsesClient::new(cfg).unwrap();
    let cancel = CancellationToken::new();
    let mut first = CreateResponse::new("m", vec![InputItem::user_text("a")]);
    first.stream = true;
    let head = client.create(&first, &cancel, &mut |_| {}).await.unwrap();
    assert_eq!(head.id, "f1");
    let send = |input: Vec<InputItem>| {
        let mut r = CreateResponse::new("m", input);
        r.stream = true;
        r.previous_response_id = Some("f1".into());
        r
    };
    let unanswered = send(vec![InputItem::user_text("b")]);
    match client.create(&unanswered, &cancel, &mut |_| {}).await {
        Err(OpenAiError::BadRequest { message, .. }) => {
            assert_eq!(message, "No tool output found for function call call_f1.")
        }
        other => panic!("{other:?}"),
    }
    let stray = send(vec![
        InputItem::FunctionCallOutput {
            call_id: "call_f1".into(),
            output: "ok".into(),
        },
        InputItem::FunctionCallOutput {
            call_id: "call_nobody".into(),
            output: "ok".into(),
        },
    ]);
    match client.create(&stray, &cancel, &mut |_| {}).await {
        Err(OpenAiError::BadRequest { message, .. }) => assert_eq!(
            message,
            "No tool call found for function call output with call_id call_nobody."
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.refused().len(), 2);
}

#[tokio::test]
async fn reasoning_effort_off_sends_no_reasoning_field() {
    let fake = Fake::start(vec![fake::code("o1", "    10")]).await;
    let c = start_with(&fake, json!({"reasoningEffort": "off"})).await;
    let uri = c.open("src/n.rs", TEXT, "rust").await;
    assert_eq!(act(&c, &uri, "    1").await["applied"], true);
    let body = &fake.requests()[0].body;
    assert!(body.get("reasoning").is_none(), "{body}");
    assert_eq!(body["model"], "gpt-5.3-codex-official");
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
#[allow(clippy::print_stderr)]
async fn replay_mode_carries_the_turns_itself_with_store_false() {
    let fake = Fake::start(
        (1..=5)
            .map(|n| fake::code_with_reasoning(&format!("p{n}"), &format!("    {n}{n}")))
            .collect(),
    )
    .await;
    let c = start_with(&fake, json!({"chainMode": "replay"})).await;
    let text = "fn f() {\n    1\n    2\n    3\n    4\n    5\n}\n";
    let uri = c.open("src/r.rs", text, "rust").await;
    for n in 1..=5 {
        let r = act(&c, &uri, &format!("    {n}\n")).await;
        assert_eq!(r["applied"], true, "turn {n}: {r}");
    }
    let reqs = fake.requests();
    let types = |b: &Value| -> Vec<String> {
        b["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap().to_owned())
            .collect()
    };
    for r in &reqs {
        assert_eq!(r.body["store"], false);
        assert_eq!(r.body["include"], json!(["reasoning.encrypted_content"]));
        assert_eq!(r.prev(), None, "replay never sends previous_response_id");
        for item in r.body["input"].as_array().unwrap() {
            assert!(item.get("id").is_none(), "no server item ids: {item}");
        }
    }
    assert_eq!(types(&reqs[0].body), ["message"]);
    assert_eq!(
        types(&reqs[2].body),
        [
            "message",
            "reasoning",
            "function_call",
            "function_call_output",
            "message",
            "reasoning",
            "function_call",
            "function_call_output",
            "message"
        ]
    );
    let third = &reqs[2].body["input"];
    assert_eq!(third[1]["encrypted_content"], "gAAAA-encrypted-p1");
    assert_eq!(third[2]["call_id"], "call_p1");
    assert_eq!(third[3]["call_id"], "call_p1");
    assert_eq!(third[7]["call_id"], "call_p2");
    assert!(
        third[0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("<selection>\n    1\n")
    );
    assert_eq!(fake.refused(), Vec::<String>::new());
    // what is stored: the turns, for the next request (and a restart)
    let state = c.dir.path().join("state/codex-lsp/chains.json");
    common::wait_file_contains(&state, "\"p5\"").await;
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let entry = stored["chains"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(entry["responseId"], "p5");
    assert_eq!(entry["turns"], 5);
    assert_eq!(entry["replay"].as_array().unwrap().len(), 5);
    assert_eq!(entry["pendingCalls"][0]["callId"], "call_p5");
    let sizes: Vec<usize> = reqs.iter().map(|r| r.body.to_string().len()).collect();
    eprintln!("replay request sizes over five turns (bytes): {sizes:?}");
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn ten_actions_started_together_on_one_file_all_apply_in_order_each_chained() {
    let text: String = (0..10)
        .map(|n| format!("fn f{n}() -> u32 {{\n    {n}\n}}\n\n"))
        .collect();
    // each answer adds a line, so every later range has moved when its turn comes
    let fake = Fake::start(
        (0..10)
            .map(|n| fake::code(&format!("k{n}"), &format!("    // {n}\n    {n}{n}")))
            .collect(),
    )
    .await;
    let c = start_with(&fake, json!({})).await;
    let uri = c.open("src/ten.rs", &text, "rust").await;
    let mut pending = Vec::new();
    for n in 0..10 {
        let mut args = refactor(&uri, &text, &format!("    {n}\n"));
        args["arguments"][0]["version"] = json!(1);
        pending.push(c.send_request("workspace/executeCommand", args).await.1);
    }
    for (n, rx) in pending.into_iter().enumerate() {
        let r = tokio::time::timeout(common::TIMEOUT * 2, rx)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r["result"]["applied"], true, "action {n}: {r}");
        assert_eq!(r["result"]["responseId"], format!("k{n}"));
    }
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 10);
    for (n, r) in reqs.iter().enumerate() {
        let input = r.input_text();
        assert!(
            input.contains(&format!("<selection>\\n    {n}\\n</selection>")),
            "request {n} carries its own selection: {input}"
        );
        if n > 0 {
            assert_eq!(r.prev(), Some(format!("k{}", n - 1)), "chained in order");
            assert_eq!(outputs(&r.body)[0].0, format!("call_k{}", n - 1));
        }
    }
    let expected: String = (0..10)
        .map(|n| format!("fn f{n}() -> u32 {{\n    // {n}\n    {n}{n}\n}}\n\n"))
        .collect();
    assert_eq!(c.mirror(&uri).text, expected);
    assert_eq!(
        c.chain_info(&uri).await,
        json!({"responseId": "k9", "turns": 10})
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_versionless_ask_queued_behind_an_edit_acts_on_the_text_it_was_asked_about() {
    let fake = Fake::start(vec![
        fake::code_after("q1", "    // one\n    1", 150),
        fake::code("q2", "    200"),
    ])
    .await;
    let c = start_with(&fake, json!({})).await;
    let uri = c.open("src/q.rs", TEXT, "rust").await;
    let (_, first) = c
        .send_request("workspace/executeCommand", refactor(&uri, TEXT, "    1\n"))
        .await;
    let ask = json!({"command": "codex.ask", "arguments": [{"uri": uri,
                     "range": range_of(TEXT, "    2\n"), "instruction": "times a hundred"}]});
    let (_, second) = c.send_request("workspace/executeCommand", ask).await;
    for rx in [first, second] {
        let r = tokio::time::timeout(common::TIMEOUT, rx)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r["result"]["applied"], true, "{r}");
    }
    assert!(
        fake.requests()[1]
            .input_text()
            .contains("<selection>\\n    2\\n</selection>")
    );
    assert_eq!(
        c.mirror(&uri).text,
        TEXT.replace("    1\n", "    // one\n    1\n")
            .replace("    2\n", "    200\n")
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_chain_the_service_refuses_is_a_chain_error_that_says_how_to_reset() {
    let fake = Fake::start(vec![
        fake::code("r1", "    10"),
        fake::error(
            400,
            "",
            "No tool output found for function call call_zz.",
            "",
        ),
    ])
    .await;
    let c = start_with(&fake, json!({})).await;
    let uri = c.open("src/n.rs", TEXT, "rust").await;
    assert_eq!(act(&c, &uri, "    1").await["applied"], true);
    let now = c.mirror(&uri).text;
    let err = c
        .request("workspace/executeCommand", refactor(&uri, &now, "    2"))
        .await
        .unwrap_err();
    assert_eq!(err.data, json!({"kind": "chain"}));
    assert!(err.message.contains("codex.resetChain"), "{}", err.message);
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_cancel_that_arrives_after_the_edit_was_sent_does_not_hide_the_edit() {
    let fake = Fake::start(vec![fake::code_after("l1", "    10", 100)]).await;
    let c = start_with(&fake, json!({})).await;
    let uri = c.open("src/n.rs", TEXT, "rust").await;
    let (id, rx) = c
        .send_request("workspace/executeCommand", refactor(&uri, TEXT, "    1"))
        .await;
    c.script(|s| s.cancel_on_apply = Some(id));
    let r = tokio::time::timeout(common::TIMEOUT, rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r["result"]["applied"], true,
        "the edit's outcome is the answer: {r}"
    );
    assert!(c.mirror(&uri).text.contains("    10\n"));
    assert_eq!(
        c.chain_info(&uri).await,
        json!({"responseId": "l1", "turns": 1})
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_not_found_wrapped_by_litellm_drops_the_chain_and_resends_once() {
    let wrapped = json!({"error": {"message": "litellm.BadRequestError: OpenAIException - {\"error\": {\"message\": \"Previous response with id 'w1' not found.\", \"type\": \"invalid_request_error\", \"param\": \"previous_response_id\", \"code\": \"previous_response_not_found\"}}", "type": null, "param": null, "code": "400"}}).to_string();
    let fake = Fake::start(vec![
        fake::code("w1", "    10"),
        vec![fake::http::send(format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{wrapped}",
            wrapped.len()
        ))],
        fake::code("w2", "    20"),
    ])
    .await;
    let c = start_with(&fake, json!({})).await;
    let uri = c.open("src/n.rs", TEXT, "rust").await;
    assert_eq!(act(&c, &uri, "    1").await["applied"], true);
    let r = act(&c, &uri, "    2").await;
    assert_eq!(r["applied"], true, "{r}");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "exactly one resend");
    assert_eq!(reqs[1].prev().as_deref(), Some("w1"));
    assert_eq!(reqs[2].prev(), None);
    assert!(
        outputs(&reqs[2].body).is_empty(),
        "a new chain answers no call"
    );
    assert_eq!(
        c.chain_info(&uri).await,
        json!({"responseId": "w2", "turns": 1})
    );
    assert_eq!(fake.refused(), Vec::<String>::new());
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_rate_limit_wait_shows_in_the_progress() {
    let fake = Fake::start(vec![
        fake::error(
            429,
            "rate_limit_exceeded",
            "slow down",
            "retry-after-ms: 1200\r\n",
        ),
        fake::code("g1", "    10"),
    ])
    .await;
    let c = start_with(&fake, json!({})).await;
    let uri = c.open("src/n.rs", TEXT, "rust").await;
    assert_eq!(act(&c, &uri, "    1").await["applied"], true);
    let reports: Vec<String> = c
        .notifications("$/progress")
        .iter()
        .filter_map(|p| p["value"]["message"].as_str().map(str::to_owned))
        .collect();
    assert!(
        reports.iter().any(|m| m == "rate limited, retrying in 2 s"),
        "{reports:?}"
    );
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn chain_info_answers_while_an_action_on_the_file_waits_on_a_stalled_stream() {
    let fake = Fake::start(vec![fake::code("s1", "    10"), fake::hold("s2")]).await;
    let c = start_with(&fake, json!({})).await;
    let uri = c.open("src/n.rs", TEXT, "rust").await;
    assert_eq!(act(&c, &uri, "    1").await["applied"], true);
    let now = c.mirror(&uri).text;
    let (_, stalled) = c
        .send_request("workspace/executeCommand", refactor(&uri, &now, "    2"))
        .await;
    fake.wait_request(2).await;
    // read-only requests on the same file are not queued behind the stalled action
    assert_eq!(
        c.chain_info(&uri).await,
        json!({"responseId": "s1", "turns": 1})
    );
    let actions = c
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": range_of(&now, "    2"),
                   "context": {"diagnostics": []}}),
        )
        .await
        .unwrap();
    assert!(!actions.as_array().unwrap().is_empty());
    drop(stalled);
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn an_action_offered_before_an_edit_elsewhere_still_applies_where_its_code_is_now() {
    let fake = Fake::start(vec![fake::code("v1", "    30")]).await;
    let c = start_with(&fake, json!({})).await;
    let uri = c.open("src/n.rs", TEXT, "rust").await;
    // offered at version 1 ...
    let mut args = refactor(&uri, TEXT, "    3");
    args["arguments"][0]["version"] = json!(1);
    // ... then the user adds a line above before choosing it
    c.edit(
        &uri,
        json!({"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}),
        "// top\n",
    )
    .await;
    let r = c.request("workspace/executeCommand", args).await.unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert_eq!(
        c.mirror(&uri).text,
        format!("// top\n{}", TEXT.replace("    3\n", "    30\n"))
    );
    // but an edit of the offered range itself still refuses it
    let now = c.mirror(&uri).text;
    let v = c.mirror(&uri).version;
    let mut args = refactor(&uri, &now, "    2");
    args["arguments"][0]["version"] = json!(v);
    c.edit(&uri, range_of(&now, "    2"), "    22").await;
    let err = c
        .request("workspace/executeCommand", args)
        .await
        .unwrap_err();
    assert_eq!(err.data, json!({"kind": "stale"}), "{}", err.message);
    assert_eq!(fake.count(), 1, "nothing was sent for the stale one");
    assert_eq!(c.shutdown().await, 0);
}
