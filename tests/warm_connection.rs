//! The connection to a remote (https) model service is opened when the server starts,
//! without the key, and the first action uses it: no TCP or TLS handshake on the
//! action's path (issue 13). The service here is a TLS server on 127.0.0.1 with a
//! certificate from a throwaway CA, which the server trusts through `SSL_CERT_FILE`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Options, TestClient, range_of};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types};

const KEY: &str = "sk-proj-WARMTEST0123456789abcdefghijT3BlbkFJxyz";

/// A request as the service saw it: which connection it came on, its method, and
/// whether it carried the key.
#[derive(Clone, Debug)]
struct Seen {
    connection: usize,
    method: String,
    authorized: bool,
}

/// A keep-alive HTTP/1.1 service over TLS answering `HEAD` with 405 and a `POST`
/// with a completed response that replaces the selection with `fn b() {}`.
struct TlsService {
    port: u16,
    ca_file: std::path::PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
    handshakes: Arc<Mutex<usize>>,
    _dir: tempfile::TempDir,
}

impl TlsService {
    async fn start() -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();

        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handshakes = Arc::new(Mutex::new(0));
        let (seen2, handshakes2) = (seen.clone(), handshakes.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let Ok(tls) = acceptor.accept(sock).await else {
                    continue;
                };
                let connection = {
                    let mut n = handshakes2.lock().unwrap();
                    *n += 1;
                    *n
                };
                tokio::spawn(serve(tls, connection, seen2.clone()));
            }
        });
        Self {
            port,
            ca_file,
            seen,
            handshakes,
            _dir: dir,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) {
        for _ in 0..500 {
            if self.seen().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the service saw {:?}, wanted {n} requests", self.seen());
    }
}

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut tls: S,
    connection: usize,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    let mut buf = Vec::new();
    loop {
        let Some((head, _)) = common::fake::http::next_request(&mut tls, &mut buf).await else {
            return;
        };
        let method = head.split(' ').next().unwrap_or_default().to_uppercase();
        seen.lock().unwrap().push(Seen {
            connection,
            method: method.clone(),
            authorized: head.contains(&format!("authorization: bearer {}", KEY.to_lowercase())),
        });
        let answer = if method == "POST" {
            let body = json!({"id": "resp_warm", "object": "response", "status": "completed",
                "model": "gpt-5.3-codex", "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
                "output": [{"type": "function_call", "id": "fc_1", "call_id": "call_1",
                    "name": "replace_selection", "arguments": json!({"code": "fn b() {}"}).to_string(),
                    "status": "completed"}]})
            .to_string();
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
        } else {
            "HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n".to_owned()
        };
        if tls.write_all(answer.as_bytes()).await.is_err() || tls.flush().await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn the_first_action_finds_a_connection_opened_at_start() {
    let service = TlsService::start().await;
    let (c, _) = TestClient::start(Options {
        env: vec![
            (
                "CODEX_LSP_BASE_URL".into(),
                format!("https://127.0.0.1:{}/v1", service.port),
            ),
            ("CODEX_LSP_API_KEY".into(), KEY.into()),
            (
                "SSL_CERT_FILE".into(),
                service.ca_file.display().to_string(),
            ),
            ("SSL_CERT_DIR".into(), "/nonexistent".into()),
        ],
        initialization_options: json!({"stream": false}),
        ..Options::default()
    })
    .await;

    // before any action: one connection, one keyless HEAD, its answer read (the
    // connection is back in the pool once the server says so)
    service.wait_for(1).await;
    let log = c.dir.path().join("server.log");
    for _ in 0..500 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("connection warmed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let warm = &service.seen()[0];
    assert_eq!(warm.method, "HEAD", "{warm:?}");
    assert!(!warm.authorized, "the warm-up carries no key");

    let text = "fn a() {}\n";
    let uri = c.open("src/lib.rs", text, "rust").await;
    let r = c
        .request(
            "workspace/executeCommand",
            json!({"command": "codex.runAction", "arguments": [{"uri": uri, "range": range_of(text, "fn a() {}"), "action": "refactor"}]}),
        )
        .await
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    assert!(c.mirror(&uri).text.starts_with("fn b() {}"));

    let seen = service.seen();
    let post = seen
        .iter()
        .find(|s| s.method == "POST")
        .expect("the action");
    assert!(post.authorized, "the action carries the key");
    assert_eq!(
        post.connection, warm.connection,
        "the action went over the warmed connection: {seen:?}"
    );
    assert_eq!(*service.handshakes.lock().unwrap(), 1, "{seen:?}");
    c.shutdown().await;
}
