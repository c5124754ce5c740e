//! Which file an action is about, and whether it may be sent and edited at all: the
//! canonical path, the workspace it lies in, the exclusion and sensitivity rules.

use std::path::{Path, PathBuf};

use super::{confine, exclude::ExcludeRules, sensitive};

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
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `file` is the URI's path for `file:` URIs, `None` for other schemes.
pub fn resolve(
    file: Option<&Path>,
    uri: &str,
    folders: &[PathBuf],
    exclude_globs: &[String],
    allow_outside: bool,
) -> Target {
    let Some(file) = file else {
        let scheme = uri.split(':').next().unwrap_or_default().to_owned();
        let refusal = (scheme != "untitled").then_some(Refusal::Scheme(scheme));
        return Target {
            path: None,
            display: uri.to_owned(),
            chain_key: uri.to_owned(),
            refusal,
            sensitive: None,
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
    let (display, rules_root) = match &root {
        Some(r) => (confine::relative_path(&path, r), r.clone()),
        None => (path.clone(), own_dir[0].clone()),
    };
    let display = display.to_string_lossy().replace('\\', "/");
    // the path as given and the resolved one both count: `.codexignore` names what the
    // user sees, and a symlink into an excluded path is excluded (`check` does both)
    let excluded = ExcludeRules::new(&rules_root, exclude_globs).check(file);
    let refusal = match (excluded, &root) {
        (Some(rule), _) => Some(Refusal::Excluded(rule)),
        (None, None) if !allow_outside => Some(Refusal::OutsideWorkspace),
        _ => None,
    };
    // likewise a protected path that is a symlink to an ordinary file: the tool that
    // obeys `.vscode/settings.json` reads through the link
    let given = root.as_ref().and_then(|r| {
        confine::normalize_lexically(&std::path::absolute(file).unwrap_or_else(|_| file.into()))
            .strip_prefix(r)
            .ok()
            .map(Path::to_path_buf)
    });
    let sensitive = sensitive::sensitive_target(Path::new(&display))
        .or_else(|| given.as_deref().and_then(sensitive::sensitive_target));
    Target {
        chain_key: path.to_string_lossy().into_owned(),
        path: Some(path),
        display,
        refusal,
        sensitive,
    }
}
