//! Patch answers: the Codex `apply_patch` format, read and applied to the selection
//! only. Pure: text in, text out; nothing here knows about documents or requests.
//!
//! ```text
//! *** Begin Patch
//! *** Update File: <the file's workspace-relative path>
//! @@ <optional header: a line above the change, e.g. `def f(x):`>
//!  context line
//! -removed line
//! +added line
//! *** End of File        (optional: the hunk ends where the selection ends)
//! *** End Patch
//! ```
//!
//! [`parse`] reads the text (a heredoc wrapper and spaces around markers are
//! tolerated; an empty line is an empty context line) and refuses what this editor
//! never does: `*** Add File`, `*** Delete File`, `*** Move to`, an `Update File` of
//! another path. [`apply`] applies the hunks in order, forward only: each hunk's
//! context and removed lines must match exactly once in what is left of the selection,
//! first exactly (line endings normalised), then ignoring trailing whitespace. An
//! `@@ header` moves the search past the first line that is the header (trimmed), and
//! a match inside that line's block (up to the next line indented no deeper) wins over
//! matches further on. Every refusal names the hunk, and nothing is applied unless
//! every hunk applies.

mod apply;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

pub use apply::{Applied, apply, apply_to_text};

/// One line of a hunk's body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HunkLine {
    /// ` line` (or an empty line): kept, and must match.
    Context(String),
    /// `-line`: must match, and is removed.
    Remove(String),
    /// `+line`: inserted.
    Add(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hunk {
    /// `@@ <header>` lines, in order: each names a line the change comes after.
    pub headers: Vec<String>,
    pub lines: Vec<HunkLine>,
    /// `*** End of File`: the hunk's old lines end where the selection ends.
    pub end_of_file: bool,
}

impl Hunk {
    /// How a refusal names the hunk: its last `@@` header, else its first line.
    fn label(&self) -> String {
        let shown = match self.headers.last() {
            Some(h) => format!("@@ {h}"),
            None => match self.lines.first() {
                Some(HunkLine::Context(l)) => format!("starting ` {l}`"),
                Some(HunkLine::Remove(l)) => format!("starting `-{l}`"),
                Some(HunkLine::Add(l)) => format!("starting `+{l}`"),
                None => "@@".to_owned(),
            },
        };
        shorten(&shown, 60)
    }
}

/// A parsed patch for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patch {
    pub path: String,
    pub hunks: Vec<Hunk>,
}

/// Why a patch is refused. The messages name the hunk and are sent back to the model
/// as the call's output (after "apply_patch verification failed: ").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("the patch is empty")]
    Empty,
    #[error("the patch is malformed: line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("the patch adds a file (`*** Add File: {0}`); only the selection can be changed")]
    AddFile(String),
    #[error("the patch deletes a file (`*** Delete File: {0}`); only the selection can be changed")]
    DeleteFile(String),
    #[error("the patch moves a file (`*** Move to: {0}`); only the selection can be changed")]
    MoveTo(String),
    #[error(
        "the patch updates `{got}`, but only the selection in `{want}` can be changed \
         (use `*** Update File: {want}`)"
    )]
    OtherFile { got: String, want: String },
    #[error("hunk {hunk} ({label}) matches nowhere in the selection{after}")]
    NoMatch {
        hunk: usize,
        label: String,
        /// Empty, or where the search began (" after hunk 1").
        after: String,
    },
    #[error(
        "hunk {hunk} ({label}) matches {count} places in the selection; add context lines \
         or an `@@` header so it matches exactly one"
    )]
    Ambiguous {
        hunk: usize,
        label: String,
        count: usize,
    },
    #[error(
        "hunk {hunk} ({label}): its `@@` header line `{header}` is nowhere in the selection{after}"
    )]
    HeaderNotFound {
        hunk: usize,
        label: String,
        header: String,
        after: String,
    },
    #[error(
        "hunk {hunk} ({label}) is marked `*** End of File` but does not match the end of the selection"
    )]
    NotAtEnd { hunk: usize, label: String },
}

const BEGIN: &str = "*** Begin Patch";
const END: &str = "*** End Patch";
const UPDATE: &str = "*** Update File:";
const ADD: &str = "*** Add File:";
const DELETE: &str = "*** Delete File:";
const MOVE: &str = "*** Move to:";
const END_OF_FILE: &str = "*** End of File";

/// Reads `text` as a patch of `path` (the file's workspace-relative path).
pub fn parse(text: &str, path: &str) -> Result<Patch, PatchError> {
    let lines: Vec<&str> = strip_heredoc(text.lines().collect());
    let mut body = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i + 1, *l))
        .skip_while(|(_, l)| l.trim().is_empty())
        .peekable();
    let Some((first_no, first)) = body.next() else {
        return Err(PatchError::Empty);
    };
    if first.trim() != BEGIN {
        return Err(malformed(
            first_no,
            format!("the patch must start with `{BEGIN}`"),
        ));
    }
    let want = normalise_path(path);
    let mut hunks: Vec<Hunk> = Vec::new();
    let mut in_file = false;
    // the hunk being read, and whether it was opened by `@@` (so it may be empty yet)
    let mut current: Option<Hunk> = None;
    let mut ended = false;
    for (no, raw) in body {
        if ended {
            if raw.trim().is_empty() {
                continue;
            }
            return Err(malformed(no, format!("text after `{END}`")));
        }
        let marker = raw.trim();
        if marker == END {
            ended = true;
            continue;
        }
        if let Some(p) = marker.strip_prefix(ADD) {
            return Err(PatchError::AddFile(p.trim().to_owned()));
        }
        if let Some(p) = marker.strip_prefix(DELETE) {
            return Err(PatchError::DeleteFile(p.trim().to_owned()));
        }
        if let Some(p) = marker.strip_prefix(MOVE) {
            return Err(PatchError::MoveTo(p.trim().to_owned()));
        }
        if let Some(p) = marker.strip_prefix(UPDATE) {
            let got = normalise_path(p);
            if got != want {
                return Err(PatchError::OtherFile {
                    got: shorten(p.trim(), 200),
                    want,
                });
            }
            close(&mut current, &mut hunks, no)?;
            in_file = true;
            continue;
        }
        if !in_file {
            return Err(malformed(
                no,
                format!("expected `{UPDATE} {want}` after `{BEGIN}`"),
            ));
        }
        if marker == END_OF_FILE {
            match current.as_mut() {
                Some(h) if !h.lines.is_empty() => h.end_of_file = true,
                _ => return Err(malformed(no, format!("`{END_OF_FILE}` outside a hunk"))),
            }
            close(&mut current, &mut hunks, no)?;
            continue;
        }
        if let Some(header) = marker.strip_prefix("@@") {
            // consecutive `@@` lines narrow the same hunk; `@@` after body lines starts
            // the next one
            if current.as_ref().is_some_and(|h| !h.lines.is_empty()) {
                close(&mut current, &mut hunks, no)?;
            }
            let h = current.get_or_insert_with(Hunk::default);
            let header = header.trim();
            if !header.is_empty() && !is_line_numbers(header) {
                h.headers.push(header.to_owned());
            }
            continue;
        }
        let line = match raw.chars().next() {
            None => HunkLine::Context(String::new()),
            Some(' ') => HunkLine::Context(raw[1..].to_owned()),
            Some('-') => HunkLine::Remove(raw[1..].to_owned()),
            Some('+') => HunkLine::Add(raw[1..].to_owned()),
            Some(_) if marker.starts_with("***") => {
                return Err(malformed(
                    no,
                    format!("unknown marker `{}`", shorten(marker, 60)),
                ));
            }
            Some(_) => {
                return Err(malformed(
                    no,
                    format!(
                        "`{}` is not a hunk line (each starts with ' ', '-' or '+')",
                        shorten(raw, 60)
                    ),
                ));
            }
        };
        current.get_or_insert_with(Hunk::default).lines.push(line);
    }
    if !ended {
        return Err(malformed(
            lines.len(),
            format!("the patch does not end with `{END}` (was it cut off?)"),
        ));
    }
    close(&mut current, &mut hunks, lines.len())?;
    if hunks.is_empty() {
        return Err(if in_file {
            PatchError::Malformed {
                line: lines.len(),
                reason: format!("`{UPDATE} {want}` has no hunks"),
            }
        } else {
            PatchError::Empty
        });
    }
    Ok(Patch { path: want, hunks })
}

/// Ends the hunk being read: one with headers but no lines is malformed. Trailing
/// empty context lines (the blank line before `*** End Patch`) are kept; the applier
/// drops them when they keep a hunk from matching.
fn close(current: &mut Option<Hunk>, hunks: &mut Vec<Hunk>, no: usize) -> Result<(), PatchError> {
    if let Some(h) = current.take() {
        if h.lines.is_empty() {
            return Err(malformed(
                no,
                format!("hunk {} has an `@@` line but no lines", hunks.len() + 1),
            ));
        }
        hunks.push(h);
    }
    Ok(())
}

/// The rest of a unified-diff hunk line (`@@ -12,7 +12,8 @@`): line numbers, not a
/// line of code, so not a header to look for.
fn is_line_numbers(header: &str) -> bool {
    let numbers = header.trim_end_matches('@').trim();
    let mut parts = numbers.split_whitespace();
    let is_range = |p: Option<&str>, sign: char| {
        p.and_then(|p| p.strip_prefix(sign)).is_some_and(|r| {
            !r.is_empty()
                && r.split(',')
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
    };
    is_range(parts.next(), '-') && is_range(parts.next(), '+') && parts.next().is_none()
}

fn malformed(line: usize, reason: String) -> PatchError {
    PatchError::Malformed { line, reason }
}

/// Drops a shell heredoc wrapper: a first line ending in `<<'EOF'` (or `<<EOF`,
/// `<<"EOF"`, any word) and a last line that is that word.
fn strip_heredoc(mut lines: Vec<&str>) -> Vec<&str> {
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let Some(first) = lines.first().map(|l| l.trim()) else {
        return lines;
    };
    let Some((_, word)) = first.rsplit_once("<<") else {
        return lines;
    };
    let word = word
        .trim()
        .trim_start_matches('-')
        .trim_matches(['\'', '"']);
    if !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && lines.len() >= 2
        && lines.last().is_some_and(|l| l.trim() == word)
    {
        lines.pop();
        lines.remove(0);
    }
    lines
}

/// A workspace-relative path as written in a patch: trimmed, `/` separators, no `./`.
fn normalise_path(p: &str) -> String {
    let p = p.trim().replace('\\', "/");
    let mut p = p.as_str();
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.to_owned()
}

fn shorten(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
