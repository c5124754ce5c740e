//! Long work leaves the request queue: every model call runs as a job with its own
//! cancellation token, registered by request id and by progress token, so that
//! `$/cancelRequest`, `window/workDoneProgress/cancel`, shutdown and stdin closing can
//! stop it. Jobs on one file run one at a time (a chain never forks); jobs on
//! different files run side by side, up to a global cap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use std::collections::BTreeSet;

use tokio::sync::{Mutex as AsyncMutex, Notify, OwnedMutexGuard, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::sync::lock;

/// At most this many model calls in flight at once (G10: bounded load).
const MAX_MODEL_CALLS: usize = 16;

pub struct Jobs {
    /// Cancelled on shutdown/exit/stdin EOF; every job token is its child.
    pub all: CancellationToken,
    by_request: Mutex<HashMap<String, CancellationToken>>,
    by_progress: Mutex<HashMap<String, CancellationToken>>,
    file_locks: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
    queues: Arc<Mutex<HashMap<String, Queue>>>,
    turn_changed: Arc<Notify>,
    pub model_calls: Arc<Semaphore>,
}

/// A FIFO of jobs on one document, in the order their requests arrived.
#[derive(Default)]
struct Queue {
    next: u64,
    serving: u64,
    /// Tickets given up before their turn came.
    abandoned: BTreeSet<u64>,
}

/// A place in a document's queue, taken in wire order (synchronously, in the
/// dispatch layer), so jobs on one file run in the order the user asked for them.
pub struct Ticket {
    key: String,
    n: u64,
    queues: Arc<Mutex<HashMap<String, Queue>>>,
    turn_changed: Arc<Notify>,
}

impl Ticket {
    fn is_up(&self) -> bool {
        lock(&self.queues)
            .get(&self.key)
            .is_some_and(|q| q.serving == self.n)
    }

    /// Waits until every earlier job on this document has finished.
    pub async fn wait_turn(&self) {
        loop {
            let changed = self.turn_changed.notified();
            if self.is_up() {
                return;
            }
            changed.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut queues = lock(&self.queues);
        if let Some(q) = queues.get_mut(&self.key) {
            if q.serving == self.n {
                q.serving += 1;
                while q.abandoned.remove(&q.serving) {
                    q.serving += 1;
                }
            } else {
                q.abandoned.insert(self.n);
            }
            if q.serving == q.next {
                queues.remove(&self.key);
            }
        }
        drop(queues);
        self.turn_changed.notify_waiters();
    }
}

impl Default for Jobs {
    fn default() -> Self {
        Self {
            all: CancellationToken::new(),
            by_request: Mutex::default(),
            by_progress: Mutex::default(),
            file_locks: Mutex::default(),
            queues: Arc::default(),
            turn_changed: Arc::new(Notify::new()),
            model_calls: Arc::new(Semaphore::new(MAX_MODEL_CALLS)),
        }
    }
}

/// Runs `fut` unless `cancel` fires first; dropping `fut` aborts its I/O (an HTTP
/// request, a pending server-to-client request).
pub async fn or_cancel<T>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, Cancelled> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(Cancelled),
        v = fut => Ok(v),
    }
}

/// The job was cancelled (`$/cancelRequest`, the progress's cancel button, shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// Removes the job's registrations when the job ends, however it ends.
pub struct JobGuard<'a> {
    jobs: &'a Jobs,
    request: String,
    progress: Option<String>,
    pub token: CancellationToken,
}

impl Drop for JobGuard<'_> {
    fn drop(&mut self) {
        lock(&self.jobs.by_request).remove(&self.request);
        if let Some(p) = &self.progress {
            lock(&self.jobs.by_progress).remove(p);
        }
    }
}

impl JobGuard<'_> {
    pub fn set_progress_token(&mut self, token: String) {
        lock(&self.jobs.by_progress).insert(token.clone(), self.token.clone());
        self.progress = Some(token);
    }
}

impl Jobs {
    /// Registers a job for the request with this (JSON-rendered) id.
    pub fn start(&self, request_id: String) -> JobGuard<'_> {
        let token = self.all.child_token();
        lock(&self.by_request).insert(request_id.clone(), token.clone());
        JobGuard {
            jobs: self,
            request: request_id,
            progress: None,
            token,
        }
    }

    pub fn cancel_request(&self, request_id: &str) -> bool {
        lock(&self.by_request)
            .get(request_id)
            .map(CancellationToken::cancel)
            .is_some()
    }

    pub fn cancel_progress(&self, token: &str) -> bool {
        lock(&self.by_progress)
            .get(token)
            .map(CancellationToken::cancel)
            .is_some()
    }

    pub fn cancel_all(&self) {
        self.all.cancel();
    }

    /// Waits for this file's turn. Entries are never removed: one small mutex per
    /// file acted on in this session.
    pub async fn lock_file(&self, key: &str) -> OwnedMutexGuard<()> {
        let m = lock(&self.file_locks)
            .entry(key.to_owned())
            .or_default()
            .clone();
        m.lock_owned().await
    }

    /// Takes the next place in `key`'s queue. Call in wire order.
    pub fn ticket(&self, key: &str) -> Ticket {
        let mut queues = lock(&self.queues);
        let q = queues.entry(key.to_owned()).or_default();
        let n = q.next;
        q.next += 1;
        Ticket {
            key: key.to_owned(),
            n,
            queues: self.queues.clone(),
            turn_changed: self.turn_changed.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cancel_by_request_and_progress_and_cleanup() {
        let jobs = Jobs::default();
        {
            let mut g = jobs.start("7".into());
            g.set_progress_token("tok".into());
            assert!(jobs.cancel_progress("tok"));
            assert!(g.token.is_cancelled());
        }
        assert!(!jobs.cancel_request("7"), "unregistered when the job ended");
        let g = jobs.start("8".into());
        jobs.cancel_all();
        assert!(g.token.is_cancelled());
    }

    #[tokio::test]
    async fn tickets_are_served_in_order_even_when_one_is_abandoned() {
        let jobs = Jobs::default();
        let t0 = jobs.ticket("u");
        let t1 = jobs.ticket("u");
        let t2 = jobs.ticket("u");
        let other = jobs.ticket("v");
        other.wait_turn().await; // another document is not held up
        let w2 = t2.wait_turn();
        tokio::pin!(w2);
        assert!(futures_util::poll!(&mut w2).is_pending());
        drop(t1); // given up before its turn
        assert!(futures_util::poll!(&mut w2).is_pending());
        t0.wait_turn().await;
        drop(t0);
        w2.await;
    }

    #[tokio::test]
    async fn one_file_at_a_time_but_files_independent() {
        let jobs = Jobs::default();
        let a = jobs.lock_file("a").await;
        let _b = jobs.lock_file("b").await; // does not wait for a
        let second_a = jobs.lock_file("a");
        tokio::pin!(second_a);
        assert!(futures_util::poll!(&mut second_a).is_pending());
        drop(a);
        let _ = second_a.await;
    }
}
