//! Per-file conversation chains that survive restarts.
//!
//! One JSON file (`chains.json` in the user's state directory) maps a canonical
//! file path to the head of its chain. Several servers (editor windows) share it:
//! every mutation re-reads the file under an exclusive advisory lock on a sibling
//! `chains.json.lock`, applies the change, and writes the whole file atomically
//! (temp file in the same directory, `sync_all`, rename), so no server loses
//! another's entries. Entries older than 30 days are dropped and the map keeps
//! the 10,000 most recently updated.
//!
//! A change is made in memory at once ([`ChainStore::record_advance`],
//! [`ChainStore::record_reset`]) and queued; [`ChainStore::flush`] writes the queue,
//! one writer at a time, off the request path (async callers run it on a blocking
//! thread and need not wait). Reads never wait for the disk: the in-memory map's lock
//! is never held across I/O. Disk trouble never panics and never loses the in-memory
//! head: errors are logged and the queue is retried with the next flush. A corrupt
//! file is logged and replaced.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Entries not updated for this long are dropped.
pub const MAX_AGE_SECS: u64 = 30 * 24 * 60 * 60;
/// At most this many entries are kept (the most recently updated).
pub const MAX_ENTRIES: usize = 10_000;
const FORMAT_VERSION: u32 = 1;

/// The head of one file's chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainEntry {
    /// The last response that became the chain's head.
    pub response_id: String,
    /// How many turns the chain has had.
    pub turns: u32,
    /// When it last moved, in seconds since the Unix epoch.
    pub updated_unix: u64,
    /// The head response's function calls, each with the output the next chained
    /// request must send for it (the real API refuses a continuation without them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_calls: Vec<PendingCall>,
    /// Replay mode: the file's recent turns as `input` items (as sent: redacted),
    /// oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replay: Vec<Vec<serde_json::Value>>,
}

/// A function call of the chain head and what the next request answers it with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingCall {
    pub call_id: String,
    pub output: String,
}

/// What a completed turn makes the head of its file's chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub response_id: String,
    pub pending_calls: Vec<PendingCall>,
    pub replay: Vec<Vec<serde_json::Value>>,
}

impl Head {
    /// A head with no calls to answer and no replayed turns.
    pub fn response(id: &str) -> Self {
        Self {
            response_id: id.to_owned(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    chains: HashMap<String, ChainEntry>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, ChainEntry>,
    /// Changes made in memory and not yet on disk, in order; each is applied again
    /// to the file's entries when it is written (so another server's turns count).
    queue: Vec<(String, Op, u64)>,
}

/// One change to a file's chain.
#[derive(Debug, Clone)]
enum Op {
    Advance(Head),
    Reset,
}

/// Applies `op` on `key` at time `now`; returns the new head (None when reset).
fn apply_op(
    entries: &mut HashMap<String, ChainEntry>,
    key: &str,
    op: &Op,
    now: u64,
) -> Option<ChainEntry> {
    let value = match op {
        Op::Reset => None,
        Op::Advance(head) => {
            let turns = entries
                .get(key)
                .filter(|e| !expired(e, now))
                .map_or(1, |c| c.turns.saturating_add(1));
            Some(ChainEntry {
                response_id: head.response_id.clone(),
                turns,
                updated_unix: now,
                pending_calls: head.pending_calls.clone(),
                replay: head.replay.clone(),
            })
        }
    };
    apply(entries, key, value.clone());
    value
}

/// The chains of every file, backed by one JSON file. `Send + Sync`.
#[derive(Debug)]
pub struct ChainStore {
    path: PathBuf,
    state: Mutex<State>,
    /// Held across a mutation's file I/O, so mutations do not interleave.
    disk: Mutex<()>,
}

impl ChainStore {
    /// Open the store at `path`; the file need not exist. A corrupt file is logged
    /// and ignored (it is replaced on the next write).
    pub fn open(path: PathBuf) -> Self {
        Self::open_at(path, now_unix())
    }

    /// `chains.json` in the user's state directory (`$XDG_STATE_HOME/codex-lsp`,
    /// `~/.local/state/codex-lsp`), else the local data directory.
    pub fn default_path() -> Option<PathBuf> {
        let dirs = directories::ProjectDirs::from("", "", "codex-lsp")?;
        let dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir());
        Some(dir.join("chains.json"))
    }

    /// The chain of `key` (a canonical file path), unless expired. Answered from
    /// memory (no I/O): another server's changes show up after this store's next
    /// mutation or on the next `open`.
    pub fn get(&self, key: &str) -> Option<ChainEntry> {
        let now = now_unix();
        self.lock_state()
            .entries
            .get(key)
            .filter(|e| !expired(e, now))
            .cloned()
    }

    /// Make `head` the head of `key`'s chain in memory now (reads see it at once):
    /// one more turn when a chain exists, else the first. The file follows with the
    /// next [`ChainStore::flush`], which counts another server's turns too.
    pub fn record_advance(&self, key: &str, head: Head) -> ChainEntry {
        // always `Some` for an advance
        self.record(key, Op::Advance(head), now_unix())
            .unwrap_or_default()
    }

    /// Forget `key`'s chain in memory now; the file follows with the next flush.
    pub fn record_reset(&self, key: &str) {
        self.record(key, Op::Reset, now_unix());
    }

    /// Applies `op` in memory and queues it for the file.
    fn record(&self, key: &str, op: Op, now: u64) -> Option<ChainEntry> {
        let mut state = self.lock_state();
        let value = apply_op(&mut state.entries, key, &op, now);
        state.queue.push((key.to_owned(), op, now));
        value
    }

    fn open_at(path: PathBuf, now: u64) -> Self {
        let mut entries = match read_file(&path) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "chain store unreadable; starting fresh");
                HashMap::new()
            }
        };
        prune(&mut entries, now);
        let state = Mutex::new(State {
            entries,
            queue: Vec::new(),
        });
        Self {
            path,
            state,
            disk: Mutex::new(()),
        }
    }

    /// Advance and write at once, as the file then has it (tests: a fixed clock).
    #[cfg(test)]
    fn advance_at(&self, key: &str, head: Head, now: u64) -> ChainEntry {
        let memory = self.record(key, Op::Advance(head), now);
        self.flush();
        self.lock_state()
            .entries
            .get(key)
            .cloned()
            .or(memory)
            .unwrap_or_default()
    }

    /// Forget and write at once (tests).
    #[cfg(test)]
    fn reset(&self, key: &str) {
        self.record_reset(key);
        self.flush();
    }

    /// Writes the queued changes: read-modify-write under the file lock, applying each
    /// queued change to the entries on disk, so no server loses another's. One flush at
    /// a time; the in-memory map is locked only to copy from and install into it. On a
    /// disk error the queue stays for the next flush.
    pub fn flush(&self) {
        let _one_at_a_time = crate::sync::lock(&self.disk);
        let (memory, queued) = {
            let state = self.lock_state();
            if state.queue.is_empty() {
                return;
            }
            (state.entries.clone(), state.queue.clone())
        };
        let lock = match lock_file(&self.path) {
            Ok(lock) => lock,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "chain store lock failed; keeping the change in memory");
                return;
            }
        };
        let mut entries = match read_file(&self.path) {
            Ok(mut disk) => {
                for (k, op, now) in &queued {
                    apply_op(&mut disk, k, op, *now);
                }
                disk
            }
            Err(e) => {
                // memory already holds every queued change
                tracing::warn!(path = %self.path.display(), error = %e, "chain store unreadable; rewriting it");
                memory
            }
        };
        let now = queued.iter().map(|q| q.2).max().unwrap_or_else(now_unix);
        prune(&mut entries, now);
        let written = write_file(&self.path, &entries);
        drop(lock);
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e, "chain store write failed; keeping the change in memory");
            return;
        }
        let mut state = self.lock_state();
        // changes queued while this one wrote stay queued, and stay visible
        state.queue.drain(..queued.len());
        let later = state.queue.clone();
        for (k, op, now) in &later {
            apply_op(&mut entries, k, op, *now);
        }
        state.entries = entries;
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-written in a
        // way that matters; keep serving.
        crate::sync::lock(&self.state)
    }
}

fn apply(entries: &mut HashMap<String, ChainEntry>, key: &str, value: Option<ChainEntry>) {
    match value {
        Some(entry) => {
            entries.insert(key.to_owned(), entry);
        }
        None => {
            entries.remove(key);
        }
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn expired(entry: &ChainEntry, now: u64) -> bool {
    entry.updated_unix.saturating_add(MAX_AGE_SECS) < now
}

fn prune(entries: &mut HashMap<String, ChainEntry>, now: u64) {
    entries.retain(|_, e| !expired(e, now));
    if entries.len() > MAX_ENTRIES {
        let mut times: Vec<u64> = entries.values().map(|e| e.updated_unix).collect();
        times.sort_unstable_by(|a, b| b.cmp(a));
        let cutoff = times[MAX_ENTRIES - 1];
        entries.retain(|_, e| e.updated_unix >= cutoff);
        // Ties at the cutoff may leave a few extra; drop arbitrary ones among them.
        let mut extra = entries.len().saturating_sub(MAX_ENTRIES);
        entries.retain(|_, e| {
            let drop = extra > 0 && e.updated_unix == cutoff;
            extra -= usize::from(drop);
            !drop
        });
    }
}

/// Missing file → empty; unparsable → error.
fn read_file(path: &Path) -> std::io::Result<HashMap<String, ChainEntry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    };
    let on_disk: OnDisk = serde_json::from_str(&text)?;
    Ok(on_disk.chains)
}

fn lock_file(path: &Path) -> std::io::Result<File> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(name))?;
    file.lock()?;
    Ok(file)
}

fn write_file(path: &Path, entries: &HashMap<String, ChainEntry>) -> std::io::Result<()> {
    let on_disk = OnDisk {
        version: FORMAT_VERSION,
        chains: entries.clone(),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(parent_dir(path))?;
    serde_json::to_writer(&mut tmp, &on_disk)?;
    tmp.flush()?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    const T0: u64 = 1_800_000_000;

    fn store(dir: &TempDir) -> ChainStore {
        ChainStore::open_at(dir.path().join("chains.json"), T0)
    }

    #[test]
    fn store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ChainStore>();
    }

    #[test]
    fn two_servers_interleaving_writes_keep_each_others_entries() {
        let dir = TempDir::new().unwrap();
        let (a, b) = (store(&dir), store(&dir));
        assert_eq!(
            a.advance_at("/p/a.rs", Head::response("resp_a1"), T0).turns,
            1
        );
        assert_eq!(
            b.advance_at("/p/b.rs", Head::response("resp_b1"), T0).turns,
            1
        );
        assert_eq!(
            a.advance_at("/p/a.rs", Head::response("resp_a2"), T0 + 1)
                .turns,
            2
        );
        // b sees a's chain on disk when it moves it.
        assert_eq!(
            b.advance_at("/p/a.rs", Head::response("resp_a3"), T0 + 2)
                .turns,
            3
        );
        let c = store(&dir);
        let head = c.get("/p/a.rs").unwrap();
        assert_eq!((head.response_id.as_str(), head.turns), ("resp_a3", 3));
        assert_eq!(c.get("/p/b.rs").unwrap().response_id, "resp_b1");
    }

    #[test]
    fn concurrent_stores_on_threads_lose_nothing() {
        let dir = TempDir::new().unwrap();
        let stores = [store(&dir), store(&dir)];
        std::thread::scope(|s| {
            for (i, st) in stores.iter().enumerate() {
                s.spawn(move || {
                    for n in 0..20 {
                        st.advance_at(&format!("/f{i}/{n}"), Head::response("r"), T0);
                    }
                });
            }
        });
        let check = store(&dir);
        for i in 0..2 {
            for n in 0..20 {
                assert!(check.get(&format!("/f{i}/{n}")).is_some(), "lost /f{i}/{n}");
            }
        }
    }

    #[test]
    fn file_is_camel_case_json() {
        let dir = TempDir::new().unwrap();
        store(&dir).advance_at("/p/a.rs", Head::response("resp_1"), T0);
        let text = std::fs::read_to_string(dir.path().join("chains.json")).unwrap();
        assert!(text.contains("\"responseId\":\"resp_1\"") && text.contains("updatedUnix"));
    }

    #[test]
    fn a_recorded_change_is_read_at_once_and_written_by_the_next_flush() {
        let dir = TempDir::new().unwrap();
        // real time: record_* stamp entries with the clock
        let path = dir.path().join("chains.json");
        let fresh = || ChainStore::open(path.clone());
        let s = fresh();
        s.record_advance("k", Head::response("r1"));
        s.record_advance("k", Head::response("r2"));
        assert_eq!(s.get("k").unwrap().turns, 2, "memory first");
        assert_eq!(fresh().get("k"), None, "not on disk before a flush");
        s.flush();
        let on_disk = fresh().get("k").unwrap();
        assert_eq!((on_disk.response_id.as_str(), on_disk.turns), ("r2", 2));
        s.record_reset("k");
        assert_eq!(s.get("k"), None);
        s.flush();
        assert_eq!(fresh().get("k"), None);
    }

    #[test]
    fn reads_never_wait_for_a_write_in_progress() {
        let dir = TempDir::new().unwrap();
        let s = store(&dir);
        s.advance_at("k", Head::response("r1"), T0);
        // a mutation holding the disk (a slow fsync) must not block readers
        let _writing = s.disk.lock().unwrap();
        assert_eq!(s.get("k").unwrap().response_id, "r1");
    }

    #[test]
    fn pending_calls_and_replay_survive_a_restart_and_old_files_still_load() {
        let dir = TempDir::new().unwrap();
        let head = Head {
            response_id: "resp_1".into(),
            pending_calls: vec![PendingCall {
                call_id: "call_1".into(),
                output: "applied".into(),
            }],
            replay: vec![vec![serde_json::json!({"type": "message"})]],
        };
        store(&dir).advance_at("k", head.clone(), T0);
        let again = store(&dir).get("k").unwrap();
        assert_eq!(again.pending_calls, head.pending_calls);
        assert_eq!(again.replay, head.replay);
        // a file written before pending calls existed
        let path = dir.path().join("chains.json");
        std::fs::write(
            &path,
            r#"{"version":1,"chains":{"k":{"responseId":"r","turns":2,"updatedUnix":1800000000}}}"#,
        )
        .unwrap();
        let old = ChainStore::open_at(path, T0).get("k").unwrap();
        assert_eq!((old.turns, old.pending_calls.len()), (2, 0));
    }

    #[test]
    fn corrupt_file_starts_fresh_and_is_replaced() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("chains.json");
        for junk in [
            "{not json",
            "",
            "[]",
            "{\"version\":1,\"chains\":{\"k\":{\"turns\":\"x\"}}}",
        ] {
            std::fs::write(&path, junk).unwrap();
            let s = ChainStore::open_at(path.clone(), T0);
            assert_eq!(s.get("k"), None);
            assert_eq!(s.advance_at("k", Head::response("r"), T0).turns, 1);
            assert_eq!(
                ChainStore::open_at(path.clone(), T0)
                    .get("k")
                    .unwrap()
                    .turns,
                1
            );
        }
    }

    #[test]
    fn entries_expire_after_thirty_days() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("chains.json");
        let s = ChainStore::open_at(path.clone(), T0);
        s.advance_at("old", Head::response("r1"), T0);
        s.advance_at("new", Head::response("r2"), T0 + MAX_AGE_SECS);
        let later = ChainStore::open_at(path.clone(), T0 + MAX_AGE_SECS + 1);
        assert_eq!(later.lock_state().entries.get("old"), None);
        assert!(later.lock_state().entries.contains_key("new"));
        // An expired chain starts over.
        assert_eq!(
            s.advance_at("old", Head::response("r3"), T0 + MAX_AGE_SECS + 1)
                .turns,
            1
        );
    }

    #[test]
    fn reset_forgets_the_chain_for_everyone() {
        let dir = TempDir::new().unwrap();
        let (a, b) = (store(&dir), store(&dir));
        a.advance_at("k", Head::response("r1"), T0);
        b.reset("k");
        assert_eq!(b.get("k"), None);
        assert_eq!(store(&dir).get("k"), None);
        assert_eq!(a.advance_at("k", Head::response("r2"), T0).turns, 1);
    }

    #[test]
    fn disk_errors_keep_the_in_memory_head() {
        let dir = TempDir::new().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "x").unwrap();
        let s = ChainStore::open_at(blocker.join("chains.json"), T0);
        assert_eq!(s.advance_at("k", Head::response("r1"), T0).turns, 1);
        assert_eq!(s.advance_at("k", Head::response("r2"), T0).turns, 2);
        assert_eq!(s.lock_state().entries.get("k").unwrap().response_id, "r2");
        s.reset("k");
        assert!(!s.lock_state().entries.contains_key("k"));
    }

    #[test]
    fn map_is_bounded_to_the_newest_entries() {
        let mut entries: HashMap<String, ChainEntry> = (0..MAX_ENTRIES as u64 + 5)
            .map(|i| {
                let e = ChainEntry {
                    response_id: "r".into(),
                    turns: 1,
                    updated_unix: T0 + i,
                    pending_calls: Vec::new(),
                    replay: Vec::new(),
                };
                (format!("k{i}"), e)
            })
            .collect();
        prune(&mut entries, T0);
        assert_eq!(entries.len(), MAX_ENTRIES);
        assert!(!entries.contains_key("k4") && entries.contains_key("k5"));
    }

    // default_path() honouring XDG_STATE_HOME is checked end to end in
    // tests/actions_e2e.rs (chains_are_per_file_and_survive_a_restart).
}
