//! Applying a parsed patch to the selection's text: hunks in order, forward only, each
//! matching exactly once; all or nothing.

use super::{Hunk, HunkLine, Patch, PatchError, parse};

/// The selection after a patch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The whole new text of the selection.
    pub text: String,
    pub hunks: usize,
    /// Some hunk matched only when trailing whitespace was ignored.
    pub whitespace_tolerant: bool,
}

/// One line of the selection: its text and its own line break ("" for a last line
/// without one).
#[derive(Clone, Copy, Debug)]
struct Line<'a> {
    text: &'a str,
    brk: &'a str,
}

fn split(text: &str) -> Vec<Line<'_>> {
    text.split_inclusive('\n')
        .map(|l| {
            let body = l.strip_suffix('\n').unwrap_or(l);
            let body = body.strip_suffix('\r').unwrap_or(body);
            Line {
                text: body,
                brk: &l[body.len()..],
            }
        })
        .collect()
}

/// Parses `patch_text` as a patch of `path` and applies it to `text` (what the model
/// saw is what is changed), in `text`'s line endings.
pub fn apply_to_text(patch_text: &str, path: &str, text: &str) -> Result<Applied, PatchError> {
    let patch = parse(patch_text, path)?;
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    apply(&patch, text, text, eol)
}

/// Applies `patch` to a selection. Hunks are matched against `seen` (the selection as
/// the model saw it: secrets replaced by placeholders); lines the patch keeps are taken
/// from `real` (the selection in the document) when both have the same lines, so a
/// secret on an untouched line stays as it is. Lines the patch adds end with `eol`;
/// untouched lines keep their own line breaks.
pub fn apply(patch: &Patch, seen: &str, real: &str, eol: &str) -> Result<Applied, PatchError> {
    let seen_lines = split(seen);
    let real_lines = split(real);
    let keep = if real_lines.len() == seen_lines.len() {
        &real_lines
    } else {
        &seen_lines
    };
    let mut cursor = 0;
    let mut tolerant = false;
    // (first line, lines replaced, new lines); sorted and disjoint by construction
    let mut changes: Vec<(usize, usize, Vec<New<'_>>)> = Vec::new();
    for (i, hunk) in patch.hunks.iter().enumerate() {
        let m = locate(hunk, i + 1, &seen_lines, cursor)?;
        tolerant |= m.tolerant;
        let mut at = m.start;
        let mut new = Vec::new();
        for l in &hunk.lines[..m.used] {
            match l {
                HunkLine::Context(_) => {
                    new.push(New::Kept(at));
                    at += 1;
                }
                HunkLine::Remove(_) => at += 1,
                HunkLine::Add(t) => new.push(New::Added(t)),
            }
        }
        changes.push((m.start, at - m.start, new));
        cursor = at;
    }
    Ok(Applied {
        text: rebuild(keep, &changes, eol),
        hunks: patch.hunks.len(),
        whitespace_tolerant: tolerant,
    })
}

/// A line of a hunk's result: a line of the selection kept as it is, or a new one.
enum New<'p> {
    Kept(usize),
    Added(&'p str),
}

fn rebuild(lines: &[Line<'_>], changes: &[(usize, usize, Vec<New<'_>>)], eol: &str) -> String {
    let mut out: Vec<(&str, &str)> = Vec::with_capacity(lines.len());
    let mut next = 0;
    for (start, len, new) in changes {
        out.extend(lines[next..*start].iter().map(|l| (l.text, l.brk)));
        for n in new {
            out.push(match n {
                New::Kept(k) => (lines[*k].text, lines[*k].brk),
                New::Added(t) => (t, eol),
            });
        }
        next = start + len;
    }
    out.extend(lines[next..].iter().map(|l| (l.text, l.brk)));
    let ends_with_break = lines.last().is_none_or(|l| !l.brk.is_empty());
    let mut text = String::new();
    let count = out.len();
    for (i, (t, brk)) in out.into_iter().enumerate() {
        text.push_str(t);
        let last = i + 1 == count;
        match (last, brk.is_empty()) {
            (false, true) => text.push_str(eol),
            (true, _) if !ends_with_break => {}
            (true, true) => text.push_str(eol),
            _ => text.push_str(brk),
        }
    }
    text
}

/// Where a hunk applies: its first line, how many of its lines are used (trailing
/// empty context lines may be dropped), and whether trailing whitespace was ignored.
struct Match {
    start: usize,
    used: usize,
    tolerant: bool,
}

fn locate(hunk: &Hunk, n: usize, lines: &[Line<'_>], cursor: usize) -> Result<Match, PatchError> {
    let label = hunk.label();
    let after = if n > 1 {
        format!(" after hunk {}", n - 1)
    } else {
        String::new()
    };
    let mut from = cursor;
    // the end of the last header's block: the first later line indented no deeper
    let mut scope_end = None;
    for header in &hunk.headers {
        let want = header.trim();
        let found = lines[from.min(lines.len())..]
            .iter()
            .position(|l| l.text.trim() == want)
            .or_else(|| {
                // a header naming a line is often cut short: `@@ fn parse(` for
                // `fn parse(text: &str) -> Result<…> {`
                lines[from.min(lines.len())..]
                    .iter()
                    .position(|l| !want.is_empty() && l.text.trim_start().starts_with(want))
            });
        match found {
            Some(j) => {
                let line = from + j;
                from = line + 1;
                let depth = indent(lines[line].text);
                scope_end = Some(
                    lines[from..]
                        .iter()
                        .position(|l| !l.text.trim().is_empty() && indent(l.text) <= depth)
                        .map_or(lines.len(), |k| from + k),
                );
            }
            None => {
                return Err(PatchError::HeaderNotFound {
                    hunk: n,
                    label,
                    header: header.clone(),
                    after,
                });
            }
        }
    }
    // drop trailing empty context lines one by one while the hunk matches nowhere
    let mut used = hunk.lines.len();
    loop {
        let old: Vec<&str> = hunk.lines[..used]
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(t) | HunkLine::Remove(t) => Some(t.as_str()),
                HunkLine::Add(_) => None,
            })
            .collect();
        if old.is_empty() {
            // only added lines: after the headers when there are any, else at the end
            // of the selection (as codex appends at the end of the file)
            let start = if hunk.headers.is_empty() {
                lines.len()
            } else {
                from
            };
            return Ok(Match {
                start,
                used,
                tolerant: false,
            });
        }
        for tolerant in [false, true] {
            let starts = candidates(lines, from, &old, hunk.end_of_file, tolerant);
            match starts.as_slice() {
                [] => continue,
                [start] => {
                    return Ok(Match {
                        start: *start,
                        used,
                        tolerant,
                    });
                }
                several => {
                    // after a header, the one match inside the header's block wins
                    if let Some(end) = scope_end
                        && let [start] = several
                            .iter()
                            .filter(|&&s| s < end)
                            .copied()
                            .collect::<Vec<_>>()
                            .as_slice()
                    {
                        return Ok(Match {
                            start: *start,
                            used,
                            tolerant,
                        });
                    }
                    return Err(PatchError::Ambiguous {
                        hunk: n,
                        label,
                        count: several.len(),
                    });
                }
            }
        }
        let trailing_empty =
            matches!(hunk.lines[..used].last(), Some(HunkLine::Context(t)) if t.trim().is_empty());
        if trailing_empty && used > 1 {
            used -= 1;
            continue;
        }
        return Err(if hunk.end_of_file {
            PatchError::NotAtEnd { hunk: n, label }
        } else {
            PatchError::NoMatch {
                hunk: n,
                label,
                after,
            }
        });
    }
}

/// Columns of leading whitespace.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Every line index at or after `from` where `old` matches (only the one that ends
/// at the last line when `at_end`).
fn candidates(
    lines: &[Line<'_>],
    from: usize,
    old: &[&str],
    at_end: bool,
    tolerant: bool,
) -> Vec<usize> {
    let same = |a: &str, b: &str| {
        if tolerant {
            a.trim_end() == b.trim_end()
        } else {
            a == b
        }
    };
    let fits = |s: usize| {
        lines[s..s + old.len()]
            .iter()
            .zip(old)
            .all(|(l, o)| same(l.text, o))
    };
    let Some(last_start) = lines.len().checked_sub(old.len()) else {
        return Vec::new();
    };
    if at_end {
        return if last_start >= from && fits(last_start) {
            vec![last_start]
        } else {
            Vec::new()
        };
    }
    (from..=last_start).filter(|&s| fits(s)).collect()
}
