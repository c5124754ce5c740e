//! Which file an action is about, and whether it may be sent and edited at all: the
//! canonical path, the workspace it lies in, the exclusion and sensitivity rules.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::exclude::{self, ExcludeRules, RulesCache};
use super::{confine, sensitive};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Matches a secret-file rule, `.codexignore` or the `exclude` setting.
    Excluded(String),
    OutsideWorkspace,
    /// A URI scheme we do not act on (`git:`, `vscode-notebook-cell:`, ...).
    Scheme(String),
}

impl Refusal {
    pub fn message(&self, display: &str) -> String {
        match self {
            Self::Excluded(rule) => {
                format!("{display} is excluded from Codex ({rule}); it is never sent to the model")
            }
            Self::OutsideWorkspace => format!(
                "{display} is outside every workspace folder; Codex acts only on files in the \
                 workspace (set `allowOutsideWorkspace` to change this)"
            ),
            Self::Scheme(s) => format!("Codex does not act on `{s}:` documents"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Canonical path (symlinks resolved) for `file:` documents.
    pub path: Option<PathBuf>,
    /// The path shown to the model and the user: relative to the workspace.
    pub display: String,
    /// Chains are kept per canonical file.
    pub chain_key: String,
    pub refusal: Option<Refusal>,
    /// Why an edit here needs the user's consent, if it does.
    pub sensitive: Option<&'static str>,
}

fn canonical(p: &Path) -> PathBuf {
    crate::disk::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `file` is the URI's path for `file:` URIs, `None` for other schemes.
pub fn resolve(
    file: Option<&Path>,
    uri: &str,
    folders: &[PathBuf],
    exclude_globs: &[String],
    allow_outside: bool,
) -> Target {
    resolve_with(file, uri, folders, exclude_globs, allow_outside, None)
}

/// [`resolve`], taking each folder's rules from `rules` when given (compiled globs
/// and `.codexignore` files read once per folder) instead of building them afresh.
pub fn resolve_with(
    file: Option<&Path>,
    uri: &str,
    folders: &[PathBuf],
    exclude_globs: &[String],
    allow_outside: bool,
    rules: Option<&RulesCache>,
) -> Target {
    let rules_of = |folder: &Path| match rules {
        Some(cache) => cache.get(folder, exclude_globs),
        None => Arc::new(ExcludeRules::new(folder, exclude_globs)),
    };
    let Some(file) = file else {
        let scheme = uri.split(':').next().unwrap_or_default().to_owned();
        let untitled = scheme.eq_ignore_ascii_case("untitled");
        // an `untitled:` document names the path it will be saved as (`untitled:.env`,
        // `untitled:/home/u/proj/.vscode/settings.json`): the name rules apply to it
        let named = untitled.then(|| untitled_path(uri)).flatten();
        let (excluded, sensitive) = match &named {
            Some(p) => (excluded_by(p, folders, &rules_of), sensitive_by(p, None)),
            None => (None, None),
        };
        let refusal = if !untitled {
            Some(Refusal::Scheme(scheme))
        } else {
            excluded.map(Refusal::Excluded)
        };
        return Target {
            path: None,
            display: uri.to_owned(),
            chain_key: uri.to_owned(),
            refusal,
            sensitive,
        };
    };
    let path = canonical(file);
    // single-file mode: with no workspace folder, the file's own directory is the workspace
    let own_dir = [path.parent().map(Path::to_path_buf).unwrap_or_default()];
    let folders: &[PathBuf] = if folders.is_empty() {
        &own_dir
    } else {
        folders
    };
    let root = confine::workspace_for(&path, folders);
    let display = match &root {
        Some(r) => confine::relative_path(&path, r),
        None => path.clone(),
    };
    let display = display.to_string_lossy().replace('\\', "/");
    // the path as given and the resolved one both count: `.codexignore` names what the
    // user sees, and a symlink into an excluded path is excluded (`check` does both)
    let excluded = excluded_by(file, folders, &rules_of);
    let refusal = match (excluded, &root) {
        (Some(rule), _) => Some(Refusal::Excluded(rule)),
        (None, None) if !allow_outside => Some(Refusal::OutsideWorkspace),
        _ => None,
    };
    // likewise a protected path that is a symlink to an ordinary file: the tool that
    // obeys `.vscode/settings.json` reads through the link
    let sensitive = sensitive_by(file, Some(&path));
    Target {
        chain_key: path.to_string_lossy().into_owned(),
        path: Some(path),
        display,
        refusal,
        sensitive,
    }
}

/// The first rule that excludes `file`: the built-in list on the whole path, then
/// every rule (`.codexignore`, `exclude`) of every folder that encloses the file, not
/// only the innermost one. A relative `file` (an `untitled:` name) is judged against
/// each folder as if it lay there, and against the built-in list on its own.
fn excluded_by(
    file: &Path,
    folders: &[PathBuf],
    rules_of: &dyn Fn(&Path) -> Arc<ExcludeRules>,
) -> Option<String> {
    if let Some(rule) = exclude::built_in_on_whole_path(file) {
        return Some(rule);
    }
    if !file.is_absolute() {
        return folders
            .iter()
            .find_map(|folder| rules_of(folder).check(&folder.join(file)));
    }
    let resolved = confine::canonical(file);
    let lexical = confine::normalize_lexically(file);
    let mut enclosing: Vec<PathBuf> = folders
        .iter()
        .filter(|folder| {
            resolved.starts_with(confine::canonical(folder))
                || lexical.starts_with(confine::normalize_lexically(folder))
        })
        .cloned()
        .collect();
    // outside every folder (allowOutsideWorkspace): the file's own directory's rules
    if enclosing.is_empty() {
        enclosing.extend(lexical.parent().map(Path::to_path_buf));
    }
    enclosing
        .iter()
        .find_map(|folder| rules_of(folder).check(file))
}

/// Why an edit to `file` needs consent, judged on the whole absolute path (as given,
/// and `resolved` when known) so that single-file mode and a workspace folder that is
/// `.vscode` or `.github` itself keep the rule.
fn sensitive_by(file: &Path, resolved: Option<&Path>) -> Option<&'static str> {
    let given = if file.is_absolute() {
        confine::normalize_lexically(file)
    } else {
        file.to_path_buf()
    };
    sensitive::sensitive_target(&given).or_else(|| resolved.and_then(sensitive::sensitive_target))
}

/// The path an `untitled:` URI names, percent-decoded, without query or fragment;
/// `None` when it names nothing.
fn untitled_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.split_once(':')?.1;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8_lossy(&out).replace('\\', "/");
    let text = text.trim();
    (!text.is_empty()).then(|| PathBuf::from(text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn untitled_uris_name_a_path() {
        let cases = [
            ("untitled:.env", Some(".env")),
            ("untitled:Untitled-1", Some("Untitled-1")),
            (
                "untitled:/home/u/.ssh/id_rsa?x#y",
                Some("/home/u/.ssh/id_rsa"),
            ),
            ("untitled:a%2Fb%20c", Some("a/b c")),
            ("untitled:%zz", Some("%zz")),
            ("untitled:", None),
        ];
        for (uri, want) in cases {
            assert_eq!(untitled_path(uri), want.map(PathBuf::from), "{uri}");
        }
    }

    #[test]
    fn secret_directories_count_on_the_whole_path_in_single_file_mode() {
        for p in [
            "/home/u/.ssh/config",
            "/home/u/.gnupg/gpg.conf",
            "/r/.git/config",
        ] {
            let t = resolve(Some(Path::new(p)), "file://x", &[], &[], false);
            assert!(
                matches!(t.refusal, Some(Refusal::Excluded(_))),
                "{p}: {t:?}"
            );
        }
    }

    #[test]
    fn protected_when_the_folder_is_vscode_itself() {
        let folders = [PathBuf::from("/nonexistent-sec/proj/.vscode")];
        let file = Path::new("/nonexistent-sec/proj/.vscode/settings.json");
        let t = resolve(Some(file), "file://x", &folders, &[], false);
        assert_eq!(t.display, "settings.json");
        assert!(t.sensitive.is_some(), "{t:?}");
    }
}
