//! The recent changes of a document, so that an edit computed against an older
//! version can be moved to where its range is now (the user typed elsewhere while the
//! model worked) — or refused when the range itself was edited.

use std::collections::VecDeque;

/// Enough for minutes of fast typing while a model answers; older snapshots are
/// refused rather than mapped.
const MAX_RECORDS: usize = 8192;

/// One applied change, in char offsets of the text it was applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeRecord {
    pub start: usize,
    pub removed: usize,
    pub inserted: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("the selected code was edited while the model was working")]
    RangeEdited,
    #[error("the document changed too much while the model was working")]
    HistoryTooShort,
}

#[derive(Clone, Debug)]
pub(crate) struct History {
    /// (version after the change, the change)
    records: VecDeque<(i32, ChangeRecord)>,
    /// Mapping works from this version on.
    oldest: i32,
}

impl History {
    pub(crate) fn new(version: i32) -> Self {
        Self {
            records: VecDeque::new(),
            oldest: version,
        }
    }

    pub(crate) fn record(&mut self, version: i32, change: ChangeRecord) {
        if self.records.len() == MAX_RECORDS
            && let Some((v, _)) = self.records.pop_front()
        {
            // everything up to and including v is gone: only versions >= v can map
            self.oldest = v;
            while self.records.front().is_some_and(|(w, _)| *w == v) {
                self.records.pop_front();
            }
        }
        self.records.push_back((version, change));
    }

    pub(crate) fn map_range(
        &self,
        from: i32,
        mut start: usize,
        mut end: usize,
    ) -> Result<(usize, usize), MapError> {
        if from < self.oldest {
            return Err(MapError::HistoryTooShort);
        }
        for (_, c) in self.records.iter().filter(|(v, _)| *v > from) {
            let c_end = c.start + c.removed;
            if c_end <= start {
                // wholly before (an insertion at the range start counts as before)
                start = start - c.removed + c.inserted;
                end = end - c.removed + c.inserted;
            } else if c.start >= end {
                // wholly after: nothing moves
            } else {
                return Err(MapError::RangeEdited);
            }
        }
        Ok((start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(start: usize, removed: usize, inserted: usize) -> ChangeRecord {
        ChangeRecord {
            start,
            removed,
            inserted,
        }
    }

    #[test]
    fn edits_before_move_the_range_and_after_leave_it() {
        let mut h = History::new(1);
        h.record(2, rec(0, 0, 5)); // insert 5 chars at the top
        h.record(3, rec(30, 2, 0)); // delete after the range
        h.record(4, rec(4, 1, 0)); // delete before
        assert_eq!(h.map_range(1, 10, 20), Ok((14, 24)));
        assert_eq!(h.map_range(3, 14, 24), Ok((13, 23)));
        assert_eq!(h.map_range(4, 13, 23), Ok((13, 23)));
    }

    #[test]
    fn edits_inside_or_across_the_range_refuse() {
        let mut h = History::new(1);
        h.record(2, rec(12, 0, 1));
        assert_eq!(h.map_range(1, 10, 20), Err(MapError::RangeEdited));
        let mut h = History::new(1);
        h.record(2, rec(5, 10, 0));
        assert_eq!(h.map_range(1, 10, 20), Err(MapError::RangeEdited));
    }

    #[test]
    fn insertions_at_the_boundaries_do_not_touch_the_range() {
        let mut h = History::new(1);
        h.record(2, rec(10, 0, 3)); // at the start: before
        h.record(3, rec(23, 0, 3)); // at the (moved) end: after
        assert_eq!(h.map_range(1, 10, 20), Ok((13, 23)));
    }

    #[test]
    fn full_text_replacement_always_conflicts() {
        let mut h = History::new(1);
        h.record(2, rec(0, 100, 100));
        assert_eq!(h.map_range(1, 10, 20), Err(MapError::RangeEdited));
    }

    #[test]
    fn forgotten_history_is_refused() {
        let mut h = History::new(0);
        for v in 1..=(MAX_RECORDS as i32 + 10) {
            h.record(v, rec(1000, 0, 1));
        }
        assert_eq!(h.map_range(0, 1, 2), Err(MapError::HistoryTooShort));
        assert!(h.map_range(MAX_RECORDS as i32, 1, 2).is_ok());
    }
}
