//! The model service for the table bench: a Responses API on 127.0.0.1 that answers
//! every `POST …/responses` at once with a streamed `replace_selection` call (the
//! events of `tests/common/fake.rs`), over keep-alive HTTP/1.1 like a real gateway
//! and the shared driver's mock, so a server that keeps its connection warm is
//! measured warm. (The test fake closes every connection: each request would pay a
//! connect.) It records how long each answer took to write, the model's share.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::common::fake::{self, SENTINEL, Step};

pub struct Model {
    addr: std::net::SocketAddr,
    served: Arc<AtomicUsize>,
    /// Request fully read → answer written, per `/responses` request.
    inside: Arc<Mutex<Vec<Duration>>>,
}

impl Model {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let inside = Arc::new(Mutex::new(Vec::new()));
        let (s, i) = (served.clone(), inside.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let _ = sock.set_nodelay(true);
                tokio::spawn(serve(sock, s.clone(), i.clone()));
            }
        });
        Self {
            addr,
            served,
            inside,
        }
    }

    /// The server's environment: this service, a key.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "CODEX_LSP_BASE_URL".into(),
                format!("http://{}/v1", self.addr),
            ),
            ("CODEX_LSP_API_KEY".into(), SENTINEL.into()),
        ]
    }

    /// `/responses` requests answered so far.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Time spent answering the requests from the `from`th on.
    pub fn inside_since(&self, from: usize) -> Duration {
        let inside = self.inside.lock().unwrap();
        inside.iter().skip(from).sum()
    }
}

/// The `n`th answer: the selected line becomes `pass  # bench n`, so every action
/// makes an edit and keeps the line count.
fn answer(n: usize) -> Vec<u8> {
    let steps = fake::code(&format!("resp_bench_{n}"), &format!("pass  # bench {n}"));
    // the first step is the close-delimited head; the events follow
    let body: Vec<u8> = steps
        .iter()
        .skip(1)
        .filter_map(|s| match s {
            Step::Send(b) => Some(b.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: keep-alive\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend(body);
    out
}

const OTHER: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";

/// Serves requests on one connection until the client closes it.
async fn serve(mut sock: TcpStream, served: Arc<AtomicUsize>, inside: Arc<Mutex<Vec<Duration>>>) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let Some((head, _)) = fake::http::next_request(&mut sock, &mut buf).await else {
            return;
        };
        let read = Instant::now();
        let is_responses = head
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("post ") && l.contains("/responses"));
        let close = head.lines().any(|l| l.trim() == "connection: close");
        let reply = if is_responses {
            answer(served.fetch_add(1, Ordering::SeqCst))
        } else {
            OTHER.to_vec()
        };
        if sock.write_all(&reply).await.is_err() || sock.flush().await.is_err() {
            return;
        }
        if is_responses {
            inside.lock().unwrap().push(read.elapsed());
        }
        if close {
            return;
        }
    }
}
