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
//! Disk trouble never panics and never loses the in-memory head: errors are
//! logged, the change is kept in memory and retried with the next write. A
//! corrupt file is logged and replaced. Mutations block on file I/O (async callers
//! run them with `spawn_blocking`), one at a time; reads never wait for the disk:
//! the in-memory map's lock is never held across I/O.

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Changes not yet on disk (`None` = removed), replayed on the next write.
    unsaved: HashMap<String, Option<ChainEntry>>,
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

    /// Make `head` the head of `key`'s chain: one more turn when a chain exists (here
    /// or written by another server), else the first.
    pub fn advance(&self, key: &str, head: Head) -> ChainEntry {
        self.advance_at(key, head, now_unix())
    }

    /// Forget `key`'s chain.
    pub fn reset(&self, key: &str) {
        self.mutate(key, now_unix(), |_| None);
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
            unsaved: HashMap::new(),
        });
        Self {
            path,
            state,
            disk: Mutex::new(()),
        }
    }

    fn advance_at(&self, key: &str, head: Head, now: u64) -> ChainEntry {
        let entry = |turns| ChainEntry {
            response_id: head.response_id.clone(),
            turns,
            updated_unix: now,
            pending_calls: head.pending_calls.clone(),
            replay: head.replay.clone(),
        };
        let value = self.mutate(key, now, |current| {
            Some(entry(current.map_or(1, |c| c.turns.saturating_add(1))))
        });
        // `mutate` returns what `f` produced, which is always `Some` here.
        value.unwrap_or_else(|| entry(1))
    }

    /// Read-modify-write under the file lock; on any disk error the change is
    /// applied in memory and kept for the next write. The in-memory map is locked only
    /// to copy from and install into it, never across the I/O.
    fn mutate(
        &self,
        key: &str,
        now: u64,
        f: impl FnOnce(Option<&ChainEntry>) -> Option<ChainEntry>,
    ) -> Option<ChainEntry> {
        let _one_at_a_time = self.disk.lock().unwrap_or_else(|p| p.into_inner());
        let (memory, unsaved) = {
            let state = self.lock_state();
            (state.entries.clone(), state.unsaved.clone())
        };
        let lock = match lock_file(&self.path) {
            Ok(lock) => Some(lock),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "chain store lock failed; keeping the change in memory");
                None
            }
        };
        let mut entries = match lock.as_ref().map(|_| read_file(&self.path)) {
            Some(Ok(disk)) => disk,
            Some(Err(e)) => {
                tracing::warn!(path = %self.path.display(), error = %e, "chain store unreadable; rewriting it");
                memory
            }
            None => memory,
        };
        for (k, v) in &unsaved {
            apply(&mut entries, k, v.clone());
        }
        let current = entries.get(key).filter(|e| !expired(e, now));
        let value = f(current);
        apply(&mut entries, key, value.clone());
        prune(&mut entries, now);

        let saved = lock.is_some()
            && {
                match write_file(&self.path, &entries) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(path = %self.path.display(), error = %e, "chain store write failed; keeping the change in memory");
                        false
                    }
                }
            };
        drop(lock);
        let mut state = self.lock_state();
        if saved {
            state.unsaved.clear();
        } else {
            state.unsaved.insert(key.to_owned(), value.clone());
        }
        state.entries = entries;
        value
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-written in a
        // way that matters; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
