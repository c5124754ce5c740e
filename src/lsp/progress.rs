//! Work-done progress for a running action: begin with the action's title, reports with
//! what has streamed in, end with the outcome. Cancellable from the client's UI.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::ProgressToken;
use tower_lsp_server::ls_types::notification::Progress;

/// At most one report per this interval: editors redraw on each.
const REPORT_EVERY: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Reporter {
    client: Client,
    token: Option<ProgressToken>,
    received: Arc<AtomicU64>,
    last_report: Arc<std::sync::Mutex<Instant>>,
    ended: Arc<AtomicBool>,
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

impl Reporter {
    /// Uses the client's token, or creates one where the client allows it; otherwise a
    /// reporter that says nothing.
    pub async fn start(
        client: &Client,
        given: Option<ProgressToken>,
        supported: bool,
        title: &str,
    ) -> Self {
        let token = match given {
            Some(t) => Some(t),
            None if supported => {
                let t = ProgressToken::String(format!(
                    "codex-lsp/{}",
                    NEXT_TOKEN.fetch_add(1, Ordering::Relaxed)
                ));
                match tokio::time::timeout(
                    Duration::from_secs(5),
                    client.create_work_done_progress(t.clone()),
                )
                .await
                {
                    Ok(Ok(())) => Some(t),
                    _ => None,
                }
            }
            None => None,
        };
        let r = Self {
            client: client.clone(),
            token,
            received: Arc::default(),
            last_report: Arc::new(std::sync::Mutex::new(Instant::now())),
            ended: Arc::default(),
        };
        r.send(json!({"kind": "begin", "title": title, "cancellable": true, "message": "asking the model…"})).await;
        r
    }

    /// The key the job is registered under for `window/workDoneProgress/cancel`.
    pub fn token_key(&self) -> Option<String> {
        self.token.as_ref().map(|t| match t {
            ProgressToken::String(s) => s.clone(),
            ProgressToken::Number(n) => n.to_string(),
        })
    }

    async fn send(&self, value: Value) {
        if let Some(token) = &self.token {
            let params = json!({"token": token, "value": value});
            if let Ok(p) = serde_json::from_value(params) {
                self.client.send_notification::<Progress>(p).await;
            }
        }
    }

    /// Called for each streamed delta (synchronously, from the HTTP task).
    pub fn on_delta(&self, chars: usize) {
        let total = self.received.fetch_add(chars as u64, Ordering::Relaxed) + chars as u64;
        let mut last = self.last_report.lock().unwrap_or_else(|p| p.into_inner());
        if self.token.is_none() || last.elapsed() < REPORT_EVERY {
            return;
        }
        *last = Instant::now();
        let me = self.clone();
        tokio::spawn(async move {
            if !me.ended.load(Ordering::SeqCst) {
                me.send(
                    json!({"kind": "report", "message": format!("receiving… {total} characters")}),
                )
                .await;
            }
        });
    }

    pub async fn end(&self, message: &str) {
        if !self.ended.swap(true, Ordering::SeqCst) {
            self.send(json!({"kind": "end", "message": message})).await;
        }
    }
}
