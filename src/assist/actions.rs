//! The actions Codex offers: ids, titles, kinds, and what each asks the model to do.

use std::sync::LazyLock;

use regex::Regex;

use crate::settings::UserAction;

/// What an action does with the model's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Replace the selection with the model's code.
    Edit,
    /// Show the model's text; change nothing.
    Answer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionSpec {
    pub id: String,
    pub title: String,
    /// The task given to the model.
    pub task: String,
    pub outcome: Outcome,
}

impl ActionSpec {
    /// The LSP code action kind: clients filter on it, and VS Code's Ctrl+. menu shows
    /// quickfix and refactor kinds (it hides `source.*`).
    pub fn kind(&self) -> String {
        if self.id == "fix" {
            "quickfix.codex".into()
        } else {
            format!("refactor.rewrite.codex.{}", self.id)
        }
    }
}

fn spec(id: &str, title: &str, task: &str, outcome: Outcome) -> ActionSpec {
    ActionSpec {
        id: id.into(),
        title: format!("Codex: {title}"),
        task: task.into(),
        outcome,
    }
}

/// A built-in action by id, or a user-defined one from settings.
pub fn lookup(id: &str, user: &[UserAction]) -> Option<ActionSpec> {
    use Outcome::*;
    Some(match id {
        "fix" => spec(
            "fix",
            "Fix",
            "Fix the problem reported by the diagnostic below in the selected code. Change \
             only what the fix needs.",
            Edit,
        ),
        "refactor" => spec(
            "refactor",
            "Refactor",
            "Refactor the selected code for clarity and simplicity without changing its \
             behaviour or its public interface.",
            Edit,
        ),
        "document" => spec(
            "document",
            "Document",
            "Add or improve documentation comments for the selected code, in the idiomatic \
             doc-comment style of its language. Do not change the code itself.",
            Edit,
        ),
        "tests" => spec(
            "tests",
            "Write Tests",
            "Return the selected code unchanged, followed by unit tests for it written in \
             the idiomatic test style of its language and file.",
            Edit,
        ),
        "explain" => spec(
            "explain",
            "Explain",
            "Explain what the selected code does, how, and any pitfalls, concisely, in \
             Markdown. Do not rewrite it.",
            Answer,
        ),
        "instruct" => spec(
            "instruct",
            "Do the “codex:” comment",
            "Carry out the instruction written in the `codex:` comment, and remove that \
             comment.",
            Edit,
        ),
        "ask" => spec(
            "ask",
            "Ask",
            "Carry out the user's instruction below.",
            Edit,
        ),
        other => {
            let a = user.iter().find(|a| a.id == other)?;
            ActionSpec {
                id: a.id.clone(),
                title: format!("Codex: {}", a.title),
                task: a.instruction.clone(),
                outcome: Edit,
            }
        }
    })
}

/// The first line of `s`, cut to `n` characters (with `…` when cut).
pub fn truncate(s: &str, n: usize) -> String {
    let first = s.lines().next().unwrap_or_default().trim();
    if first.chars().count() > n {
        format!("{}…", first.chars().take(n).collect::<String>())
    } else {
        first.to_owned()
    }
}

/// The title the code-action menu shows for `spec`; the action's progress uses the same
/// one, so the user recognises what is running: `Codex: Fix “<diagnostic>”` for a fix,
/// `Codex: Do “<instruction>”` for a `codex:` comment, the action's own title otherwise.
pub fn menu_title(
    spec: &ActionSpec,
    diagnostic: Option<&str>,
    instruction: Option<&str>,
) -> String {
    match (spec.id.as_str(), diagnostic, instruction) {
        ("fix", Some(d), _) => format!("Codex: Fix “{}”", truncate(d, 60)),
        ("instruct", _, Some(i)) => format!("Codex: Do “{}”", truncate(i, 50)),
        _ => spec.title.clone(),
    }
}

/// Ids offered on a selection, in menu order (fix actions are added per diagnostic).
pub fn selection_action_ids(user: &[UserAction]) -> Vec<String> {
    ["refactor", "document", "tests", "explain"]
        .into_iter()
        .map(String::from)
        .chain(user.iter().map(|a| a.id.clone()))
        .collect()
}

static CODEX_COMMENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)(?://+|#+|--|/\*+|\*|;+|<!--|%+|\{-|\(\*)\s*codex:\s*(\S.*?)\s*(?:\*/|-->|-\}|\*\))?\s*$").ok()
});

/// The instruction of a `codex:` comment on one line, if it holds one.
pub fn codex_comment(line: &str) -> Option<String> {
    CODEX_COMMENT
        .as_ref()?
        .captures(line)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
}

/// How many lines of a selection are searched for a `codex:` comment: code actions are
/// asked for on every cursor move, and a select-all must stay cheap.
pub const COMMENT_SCAN_LINES: usize = 500;

/// Finds a `codex:` comment in lines `first..=last` (at most [`COMMENT_SCAN_LINES`] of
/// them) or on the line just above `first` (skipping blank lines). Returns (line
/// index, instruction). `line_at` is asked only for the lines it needs.
pub fn find_codex_comment(
    line_at: impl Fn(usize) -> Option<String>,
    first: usize,
    last: usize,
) -> Option<(usize, String)> {
    let last = last.min(first + COMMENT_SCAN_LINES - 1);
    if let Some(found) = (first..=last).find_map(|i| {
        line_at(i)
            .as_deref()
            .and_then(codex_comment)
            .map(|c| (i, c))
    }) {
        return Some(found);
    }
    let mut i = first;
    while i > 0 {
        i -= 1;
        let line = line_at(i)?;
        if line.trim().is_empty() {
            continue;
        }
        return codex_comment(&line).map(|c| (i, c));
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn comments_in_many_languages() {
        let cases = [
            (
                "    // codex: use saturating arithmetic",
                Some("use saturating arithmetic"),
            ),
            ("# CODEX: rename x to count", Some("rename x to count")),
            ("-- codex: inline this", Some("inline this")),
            ("/* codex: make it const */", Some("make it const")),
            ("<!-- codex: add alt text -->", Some("add alt text")),
            ("let codex = 1; // not an instruction", None),
            ("// codex:", None),
            ("x = \"codex: no\"", None),
        ];
        for (line, want) in cases {
            assert_eq!(codex_comment(line).as_deref(), want, "{line:?}");
        }
    }

    #[test]
    fn comment_in_or_just_above_the_range() {
        let lines = ["fn f() {", "    // codex: return 2", "", "    1", "}"];
        let at = |i: usize| lines.get(i).map(|l| l.to_string());
        assert_eq!(find_codex_comment(at, 3, 3), Some((1, "return 2".into())));
        assert_eq!(find_codex_comment(at, 0, 4), Some((1, "return 2".into())));
        assert_eq!(find_codex_comment(at, 4, 4), None);
    }

    #[test]
    fn kinds_follow_the_interface() {
        assert_eq!(lookup("fix", &[]).unwrap().kind(), "quickfix.codex");
        assert_eq!(
            lookup("explain", &[]).unwrap().kind(),
            "refactor.rewrite.codex.explain"
        );
        let user = [UserAction {
            id: "i18n".into(),
            title: "Translate".into(),
            instruction: "t".into(),
        }];
        let a = lookup("i18n", &user).unwrap();
        assert_eq!(
            (a.title.as_str(), a.kind().as_str()),
            ("Codex: Translate", "refactor.rewrite.codex.i18n")
        );
        assert!(lookup("nope", &user).is_none());
    }
}
