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
