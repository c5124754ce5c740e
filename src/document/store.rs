//! Every open document, behind a `std::sync::Mutex`: the compiler refuses a guard held
//! across an `.await`, so sync notifications can never interleave with a half-read
//! snapshot.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use ropey::Rope;

use super::{Document, MapError, PositionEncoding, SyncStatus, TextChange};

/// An immutable view of a document at one version.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub uri: String,
    pub text: Rope,
    pub version: i32,
    pub language_id: String,
    pub status: SyncStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("{0} is not open")]
    NotOpen(String),
    #[error("invalid change range: {0}")]
    BadRange(String),
    #[error("out of sync: {0}")]
    Desynced(String),
}

#[derive(Default)]
pub struct DocumentStore {
    docs: Mutex<HashMap<String, Document>>,
    /// Woken on every change, so a job waiting for a version wakes when it arrives.
    changed: tokio::sync::Notify,
}

impl DocumentStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Document>> {
        // A panic while holding the lock cannot leave a half-applied edit behind (ropey
        // edits are applied whole), so a poisoned map is still the best we have.
        crate::sync::lock(&self.docs)
    }

    /// `didOpen`; a second open of the same URI replaces the text (and heals a
    /// desynced document).
    pub fn open(&self, uri: &str, text: &str, version: i32, language_id: &str) {
        self.lock()
            .insert(uri.to_owned(), Document::new(text, version, language_id));
        self.changed.notify_waiters();
    }

    pub fn change(
        &self,
        uri: &str,
        version: i32,
        changes: &[TextChange],
        enc: PositionEncoding,
    ) -> Result<(), SyncError> {
        let mut docs = self.lock();
        let doc = docs
            .get_mut(uri)
            .ok_or_else(|| SyncError::NotOpen(uri.to_owned()))?;
        let result = doc.apply_changes(version, changes, enc);
        drop(docs);
        self.changed.notify_waiters();
        result
    }

    /// An applied edit will bring `uri` to `version` (its `didChange` may come after the
    /// client's reply): the next job on it waits for that version.
    pub fn expect_version(&self, uri: &str, version: i32) {
        if let Some(d) = self.lock().get_mut(uri) {
            d.expected_version = Some(d.expected_version.unwrap_or(version).max(version));
        }
    }

    /// The snapshot of `uri` once it has reached `version` and any version an applied
    /// edit is known to bring, or as it is at `deadline`. `None` when it is not open.
    pub async fn snapshot_at_least(
        &self,
        uri: &str,
        version: Option<i32>,
        deadline: tokio::time::Instant,
    ) -> Option<Snapshot> {
        loop {
            // registered before the check, so a change in between still wakes us
            let changed = self.changed.notified();
            let (snap, expected) = {
                let docs = self.lock();
                let d = docs.get(uri)?;
                (Self::snap_of(uri, d), d.expected_version)
            };
            let needed = version.max(expected);
            if needed.is_none_or(|n| snap.version >= n)
                || tokio::time::timeout_at(deadline, changed).await.is_err()
            {
                return Some(snap);
            }
        }
    }

    fn snap_of(uri: &str, d: &Document) -> Snapshot {
        Snapshot {
            uri: uri.to_owned(),
            text: d.text.clone(),
            version: d.version,
            language_id: d.language_id.clone(),
            status: d.status.clone(),
        }
    }

    /// The text of `uri` at `version`, if that is the current version or a recent one.
    pub fn text_at(&self, uri: &str, version: i32) -> Option<Rope> {
        self.lock().get(uri)?.text_at(version)
    }

    /// Whether the document is open and in sync.
    pub fn in_sync(&self, uri: &str) -> bool {
        self.lock()
            .get(uri)
            .is_some_and(|d| d.status == SyncStatus::InSync)
    }

    /// A change for `uri` was lost (it could not be read): the text is no longer the
    /// editor's. Returns true when this is what put the document out of sync.
    pub fn mark_desynced(&self, uri: &str, reason: &str) -> bool {
        let mut docs = self.lock();
        match docs.get_mut(uri) {
            Some(d) if d.status == SyncStatus::InSync => {
                d.status = SyncStatus::Desynced(reason.to_owned());
                true
            }
            _ => false,
        }
    }

    pub fn close(&self, uri: &str) -> Result<(), SyncError> {
        self.lock()
            .remove(uri)
            .map(|_| ())
            .ok_or_else(|| SyncError::NotOpen(uri.to_owned()))
    }

    pub fn snapshot(&self, uri: &str) -> Option<Snapshot> {
        self.lock().get(uri).map(|d| Self::snap_of(uri, d))
    }

    /// Maps a range read at version `from` to the current text; returns the current
    /// snapshot with the mapped range.
    pub fn map_to_current(
        &self,
        uri: &str,
        from: i32,
        start: usize,
        end: usize,
    ) -> Result<(Snapshot, usize, usize), MapOrSyncError> {
        let docs = self.lock();
        let d = docs
            .get(uri)
            .ok_or_else(|| MapOrSyncError::Sync(SyncError::NotOpen(uri.to_owned())))?;
        if let SyncStatus::Desynced(r) = &d.status {
            return Err(MapOrSyncError::Sync(SyncError::Desynced(r.clone())));
        }
        let (s, e) = d.map_range(from, start, end).map_err(MapOrSyncError::Map)?;
        Ok((Self::snap_of(uri, d), s, e))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapOrSyncError {
    #[error(transparent)]
    Map(MapError),
    #[error(transparent)]
    Sync(SyncError),
}
