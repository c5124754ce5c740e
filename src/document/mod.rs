//! The rope-backed text of open files: their versions, the changes that led there,
//! and position conversions. Text sync mutates documents synchronously, in arrival
//! order; everything else reads an immutable [`Snapshot`] (a `Rope` clone is O(1)).

pub mod encoding;
mod history;
mod store;

pub use encoding::{Position, PositionEncoding, Snap};
pub use history::{ChangeRecord, MapError};
pub use store::{DocumentStore, MapOrSyncError, Snapshot, SyncError};

use ropey::Rope;

use encoding::{PositionError, position_to_char};
use history::History;

/// One entry of a `didChange`: a range in the document as it is *before* this entry
/// (and after the previous entries of the same notification), or the whole text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextChange {
    pub range: Option<(Position, Position)>,
    pub text: String,
}

/// Whether the server's copy still matches the client's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncStatus {
    InSync,
    /// An edit could not be applied; actions are refused until the document is
    /// reopened or replaced by a full-text change.
    Desynced(String),
}

#[derive(Clone, Debug)]
pub struct Document {
    pub text: Rope,
    pub version: i32,
    pub language_id: String,
    pub status: SyncStatus,
    /// The version an applied edit will bring (see `DocumentStore::expect_version`).
    pub expected_version: Option<i32>,
    history: History,
    /// The text of the last few versions (a `Rope` clone shares all unchanged nodes),
    /// so a request made against a version just replaced can still read its range.
    recent: std::collections::VecDeque<(i32, Rope)>,
}

/// How many earlier versions' texts a document keeps.
const RECENT_VERSIONS: usize = 32;

impl Document {
    pub fn new(text: &str, version: i32, language_id: &str) -> Self {
        Self {
            text: Rope::from_str(text),
            version,
            language_id: language_id.to_owned(),
            status: SyncStatus::InSync,
            expected_version: None,
            history: History::new(version),
            recent: std::collections::VecDeque::new(),
        }
    }

    /// Applies the changes of one `didChange`, in order. On a bad range the document is
    /// marked desynced (clangd's policy: refuse to act on text we know is wrong) and the
    /// rest of the notification is skipped; a later full-text change heals it.
    pub fn apply_changes(
        &mut self,
        version: i32,
        changes: &[TextChange],
        enc: PositionEncoding,
    ) -> Result<(), SyncError> {
        if version <= self.version {
            let reason = format!(
                "version went from {} to {version}; versions must increase",
                self.version
            );
            self.mark_desynced(&reason);
            // keep applying: the text may still be right, but it is no longer trusted
        }
        if self.recent.len() == RECENT_VERSIONS {
            self.recent.pop_front();
        }
        self.recent.push_back((self.version, self.text.clone()));
        for change in changes {
            match change.range {
                None => {
                    let old_len = self.text.len_chars();
                    self.text = Rope::from_str(&change.text);
                    self.history.record(
                        version,
                        ChangeRecord {
                            start: 0,
                            removed: old_len,
                            inserted: self.text.len_chars(),
                        },
                    );
                    self.status = SyncStatus::InSync;
                }
                Some((start, end)) => {
                    let (s, e) = match self.range_to_chars(start, end, enc) {
                        Ok(r) => r,
                        Err(reason) => {
                            self.mark_desynced(&reason);
                            self.version = self.version.max(version);
                            return Err(SyncError::BadRange(reason));
                        }
                    };
                    self.text.remove(s..e);
                    self.text.insert(s, &change.text);
                    self.history.record(
                        version,
                        ChangeRecord {
                            start: s,
                            removed: e - s,
                            inserted: change.text.chars().count(),
                        },
                    );
                }
            }
        }
        self.version = self.version.max(version);
        match &self.status {
            SyncStatus::InSync => Ok(()),
            SyncStatus::Desynced(reason) => Err(SyncError::Desynced(reason.clone())),
        }
    }

    fn range_to_chars(
        &self,
        start: Position,
        end: Position,
        enc: PositionEncoding,
    ) -> Result<(usize, usize), String> {
        let err = |e: PositionError| e.to_string();
        let s = position_to_char(&self.text, start, enc, Snap::Back).map_err(err)?;
        let e = position_to_char(&self.text, end, enc, Snap::Forward).map_err(err)?;
        if (end.line, end.character) < (start.line, start.character) {
            return Err(format!(
                "range end {}:{} is before its start {}:{}",
                end.line, end.character, start.line, start.character
            ));
        }
        Ok((s, e.max(s)))
    }

    fn mark_desynced(&mut self, reason: &str) {
        if self.status == SyncStatus::InSync {
            self.status = SyncStatus::Desynced(reason.to_owned());
        }
    }

    /// The text as it was at `version` (the current one, or one of the last few).
    pub fn text_at(&self, version: i32) -> Option<Rope> {
        if version == self.version {
            return Some(self.text.clone());
        }
        self.recent
            .iter()
            .rev()
            .find(|(v, _)| *v == version)
            .map(|(_, t)| t.clone())
    }

    /// Maps a char range of version `from` to the current text, through the changes
    /// made since. Fails when a change touched the range, or the history is too short.
    pub fn map_range(
        &self,
        from: i32,
        start: usize,
        end: usize,
    ) -> Result<(usize, usize), MapError> {
        self.history.map_range(from, start, end)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
