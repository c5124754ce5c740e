//! Work-done progress for a running action: begin with the action's title, reports with
//! what has streamed in, end with the outcome. Cancellable from the client's UI.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tower_lsp_server::Client;
use tower_lsp_server::ls_types::notification::Progress;
use tower_lsp_server::ls_types::{ProgressToken, WorkDoneProgress};

use super::to_proto;
use crate::sync;

/// At most one report per this interval: editors redraw on each.
const REPORT_EVERY: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Reporter {
    client: Client,
    token: Option<ProgressToken>,
    /// `Some(true)` once `begin` went out, `Some(false)` when progress is off (the
    /// client refused to create the token).
    begun: tokio::sync::watch::Receiver<Option<bool>>,
    received: Arc<AtomicU64>,
    last_report: Arc<std::sync::Mutex<Instant>>,
    ended: Arc<AtomicBool>,
    /// Notes not sent yet: `end` sends what is left before it, so a note made before
    /// the editor confirmed the token is not lost.
    notes: Arc<std::sync::Mutex<Vec<String>>>,
    /// Held while notes and `end` go out, so they go out in order.
    sending: Arc<tokio::sync::Mutex<()>>,
}

/// How jobs know a progress token: the string itself, or the number's digits.
pub fn token_key(t: &ProgressToken) -> String {
    match t {
        ProgressToken::String(s) => s.clone(),
        ProgressToken::Number(n) => n.to_string(),
    }
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

impl Reporter {
    /// Uses the client's token, or creates one where the client allows it; otherwise a
    /// reporter that says nothing. The token is known at once (so cancellation can be
    /// registered), while `window/workDoneProgress/create` and `begin` go out in the
    /// background: the model call does not wait for the editor's reply.
    pub fn start(
        client: &Client,
        given: Option<ProgressToken>,
        supported: bool,
        title: &str,
    ) -> Self {
        let (must_create, token) = match given {
            Some(t) => (false, Some(t)),
            None if supported => (
                true,
                Some(ProgressToken::String(format!(
                    "codex-lsp/{}",
                    NEXT_TOKEN.fetch_add(1, Ordering::Relaxed)
                ))),
            ),
            None => (false, None),
        };
        let (tx, begun) =
            tokio::sync::watch::channel(if token.is_none() { Some(false) } else { None });
        let r = Self {
            client: client.clone(),
            token,
            begun,
            received: Arc::default(),
            last_report: Arc::new(std::sync::Mutex::new(Instant::now())),
            ended: Arc::default(),
            notes: Arc::default(),
            sending: Arc::default(),
        };
        if let Some(t) = r.token.clone() {
            let (me, title) = (r.clone(), title.to_owned());
            tokio::spawn(async move {
                let created = !must_create
                    || matches!(
                        tokio::time::timeout(
                            Duration::from_secs(5),
                            me.client.create_work_done_progress(t)
                        )
                        .await,
                        Ok(Ok(()))
                    );
                if created {
                    me.send(to_proto::progress_begin(title, "asking the model…"))
                        .await;
                }
                let _ = tx.send(Some(created));
            });
        }
        r
    }

    fn has_begun(&self) -> bool {
        *self.begun.borrow() == Some(true)
    }

    /// The key the job is registered under for `window/workDoneProgress/cancel`.
    pub fn token_key(&self) -> Option<String> {
        self.token.as_ref().map(token_key)
    }

    async fn send(&self, value: WorkDoneProgress) {
        if let Some(token) = &self.token {
            let params = to_proto::progress(token.clone(), value);
            self.client.send_notification::<Progress>(params).await;
        }
    }

    /// Called for each streamed delta (synchronously, from the HTTP task).
    pub fn on_delta(&self, chars: usize) {
        let total = self.received.fetch_add(chars as u64, Ordering::Relaxed) + chars as u64;
        let mut last = sync::lock(&self.last_report);
        if !self.has_begun() || last.elapsed() < REPORT_EVERY {
            return;
        }
        *last = Instant::now();
        let me = self.clone();
        tokio::spawn(async move {
            if !me.ended.load(Ordering::SeqCst) {
                me.send(to_proto::progress_report(format!(
                    "receiving… {total} characters"
                )))
                .await;
            }
        });
    }

    /// Called before the client waits to retry (e.g. "rate limited, retrying in
    /// 30 s"), so the user is not left staring at "asking the model…". Always sent.
    pub fn on_retry(&self, reason: &str, wait: Duration) {
        let secs = wait.as_secs_f64().ceil();
        self.note(format!("{reason}, retrying in {secs} s"));
    }

    /// A one-off report of what the action is doing ("patch: 2 hunks, 812
    /// characters", "the patch did not apply; retrying…"). Always sent, unthrottled,
    /// once `begin` is out (a fast answer can come before the editor confirmed the
    /// progress token).
    pub fn note(&self, message: String) {
        if self.token.is_none() {
            return;
        }
        sync::lock(&self.notes).push(message);
        let me = self.clone();
        tokio::spawn(async move {
            if me.wait_begun().await {
                let _order = me.sending.lock().await;
                me.send_notes().await;
            }
        });
    }

    /// Sends the notes not sent yet (call with `sending` held).
    async fn send_notes(&self) {
        let notes = std::mem::take(&mut *sync::lock(&self.notes));
        for message in notes {
            if !self.ended.load(Ordering::SeqCst) {
                self.send(to_proto::progress_report(message)).await;
            }
        }
    }

    /// Waits (bounded) for the background start; whether `begin` went out.
    async fn wait_begun(&self) -> bool {
        let mut begun = self.begun.clone();
        match tokio::time::timeout(Duration::from_secs(6), begun.wait_for(Option::is_some)).await {
            Ok(Ok(v)) => *v == Some(true),
            _ => false,
        }
    }

    pub async fn end(&self, message: &str) {
        // `end` must follow `begin` and the notes
        if !self.wait_begun().await {
            return;
        }
        let _order = self.sending.lock().await;
        self.send_notes().await;
        if !self.ended.swap(true, Ordering::SeqCst) {
            self.send(to_proto::progress_end(message)).await;
        }
    }
}
