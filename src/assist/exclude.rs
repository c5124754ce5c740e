//! Files never sent to the model (reliability.md §1.1, E-1, E-2).
//!
//! Three independent sources; a file is excluded when any of them excludes it:
//!
//! 1. the built-in secret-file list, matched case-insensitively everywhere
//!    (`.ENV` and `Server.PEM` are excluded);
//! 2. `.codexignore` files (gitignore syntax: `!` negation, `**`, trailing `/`),
//!    read on demand from the workspace root down to the file's directory, a
//!    deeper file taking precedence as in git, with git's rule that nothing below
//!    an excluded directory can be re-included;
//! 3. the `exclude` setting, gitignore-style globs relative to the workspace root.
//!
//! Negation only works within one source: `!.env` in a `.codexignore` does **not**
//! re-include a file the built-in list excludes, and cannot undo the setting.
//! `.codexignore` and the setting are case-insensitive on macOS and Windows.
//!
//! The path is checked twice, as given (relative to the root) and symlink-resolved,
//! so a symlink into an excluded path is excluded. The built-in list is also matched
//! on the whole absolute path (as given and resolved), so `~/.ssh/config` is excluded
//! whatever the root is: in single-file mode the root is `~/.ssh` itself.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::confine::{canonical, normalize_lexically};

/// The per-directory ignore file.
pub const IGNORE_FILE: &str = ".codexignore";

/// Secret files never sent (gitignore syntax; unanchored so they match anywhere).
pub const BUILT_IN: &[&str] = &[
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.keytab",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.ppk",
    "credentials.json",
    "credentials",
    "secrets.json",
    "secrets.yml",
    "secrets.yaml",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    ".htpasswd",
    "**/.aws/credentials",
    "**/.aws/config",
    "**/.docker/config.json",
    ".ssh/",
    ".gnupg/",
    ".git/",
    "*.kdbx",
    "*.tfstate",
    "*.tfstate.backup",
    "terraform.tfvars",
    "*.auto.tfvars",
];

const CASE_INSENSITIVE_FS: bool = cfg!(any(target_os = "macos", target_os = "windows"));

/// The exclusion rules of one workspace.
#[derive(Debug)]
pub struct ExcludeRules {
    root: PathBuf,
    canonical_root: PathBuf,
    built_in: &'static Gitignore,
    user: Gitignore,
    /// Each directory's `.codexignore` (absent: `None`), read once per instance: an
    /// instance lives as long as nothing says a `.codexignore` changed.
    ignore_files: Mutex<HashMap<PathBuf, Option<Arc<Gitignore>>>>,
}

/// [`ExcludeRules`] per workspace folder, built once and kept until the rules can have
/// changed (the caller clears it: a settings change, a reported `.codexignore` change).
#[derive(Debug, Default)]
pub struct RulesCache {
    by_folder: Mutex<HashMap<PathBuf, CachedRules>>,
}

/// The `exclude` globs a folder's rules were built with, and the rules.
type CachedRules = (Vec<String>, Arc<ExcludeRules>);

impl RulesCache {
    /// The rules of `folder` with the `exclude` globs `user_globs`.
    pub fn get(&self, folder: &Path, user_globs: &[String]) -> Arc<ExcludeRules> {
        let mut map = crate::sync::lock(&self.by_folder);
        if let Some((globs, rules)) = map.get(folder)
            && globs == user_globs
        {
            return rules.clone();
        }
        let rules = Arc::new(ExcludeRules::new(folder, user_globs));
        map.insert(folder.to_path_buf(), (user_globs.to_vec(), rules.clone()));
        rules
    }

    pub fn clear(&self) {
        crate::sync::lock(&self.by_folder).clear();
    }
}

/// The built-in list does not depend on the workspace (it is matched on relative
/// paths), so it is compiled once per process, not once per action.
static BUILT_IN_RULES: std::sync::LazyLock<Gitignore> =
    std::sync::LazyLock::new(|| build(Path::new(""), true, BUILT_IN.iter().copied(), "built-in"));

impl ExcludeRules {
    /// Rules for `workspace_root` with the `exclude` setting's globs. Invalid user
    /// globs are logged and skipped. `.codexignore` files are read when a check first
    /// needs them, once per instance.
    pub fn new(workspace_root: &Path, user_globs: &[String]) -> Self {
        let root = normalize_lexically(
            &std::path::absolute(workspace_root).unwrap_or_else(|_| workspace_root.into()),
        );
        let canonical_root = canonical(&root);
        let built_in = &*BUILT_IN_RULES;
        let user = build(
            &root,
            CASE_INSENSITIVE_FS,
            user_globs.iter().map(String::as_str),
            "setting `exclude`",
        );
        Self {
            root,
            canonical_root,
            built_in,
            user,
            ignore_files: Mutex::default(),
        }
    }

    /// The rule that excludes `path` (absolute, or relative to the root), or
    /// `None` when the file may be sent.
    pub fn check(&self, path: &Path) -> Option<String> {
        let joined = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.join(path)
        };
        let lexical = normalize_lexically(&joined);
        let resolved = canonical(&lexical);
        // The built-in list applies to the whole absolute path, as given and resolved:
        // with the file's own directory as the root (single-file mode) `~/.ssh/config`
        // is just `config` relative to it, and `.ssh/` must still match.
        for whole in [&lexical, &resolved] {
            if let Some(reason) = built_in_on_whole_path(whole) {
                return Some(reason);
            }
        }
        let mut candidates: Vec<(PathBuf, &Path)> = Vec::new();
        if let Ok(rel) = lexical.strip_prefix(&self.root) {
            candidates.push((rel.to_path_buf(), &self.root));
        }
        if let Ok(rel) = resolved.strip_prefix(&self.canonical_root) {
            candidates.push((rel.to_path_buf(), &self.canonical_root));
        }
        for (rel, root) in &candidates {
            if let Some(glob) = decide(self.built_in, rel) {
                return Some(format!("built-in secret-file rule `{glob}`"));
            }
            if let Some(glob) = decide(&self.user, rel) {
                return Some(format!("setting `exclude`: `{glob}`"));
            }
            if let Some(reason) = self.check_ignore_files(root, rel) {
                return Some(reason);
            }
        }
        None
    }

    /// Walk `rel` top-down; at each level the deepest `.codexignore` with an
    /// opinion decides, and an excluded directory excludes everything below it.
    fn check_ignore_files(&self, root: &Path, rel: &Path) -> Option<String> {
        let parts: Vec<&std::ffi::OsStr> = rel.iter().collect();
        // (directory relative to the root, its parsed ignore file), shallowest first.
        let mut files: Vec<(PathBuf, Arc<Gitignore>)> = Vec::new();
        let mut dir = PathBuf::new();
        for depth in 0..parts.len() {
            if depth > 0 {
                dir.push(parts[depth - 1]);
            }
            if let Some(gi) = self.ignore_file(&root.join(&dir)) {
                files.push((dir.clone(), gi));
            }
        }
        let mut prefix = PathBuf::new();
        for (i, part) in parts.iter().enumerate() {
            prefix.push(part);
            let is_dir = i + 1 < parts.len();
            for (dir, gi) in files.iter().rev() {
                let Ok(sub) = prefix.strip_prefix(dir) else {
                    continue;
                };
                if sub.as_os_str().is_empty() {
                    continue;
                }
                match gi.matched(sub, is_dir) {
                    Match::None => continue,
                    Match::Whitelist(_) => break,
                    Match::Ignore(glob) => {
                        let from = dir.join(IGNORE_FILE);
                        let from = from.to_string_lossy().replace('\\', "/");
                        return Some(format!("`{from}`: `{}`", glob.original()));
                    }
                }
            }
        }
        None
    }
}

impl ExcludeRules {
    /// `dir`'s parsed `.codexignore`, read on first use.
    fn ignore_file(&self, dir: &Path) -> Option<Arc<Gitignore>> {
        let known = crate::sync::lock(&self.ignore_files).get(dir).cloned();
        if let Some(known) = known {
            return known;
        }
        let parsed = read_ignore_file(dir).map(Arc::new);
        crate::sync::lock(&self.ignore_files).insert(dir.to_path_buf(), parsed.clone());
        parsed
    }
}

fn read_ignore_file(dir: &Path) -> Option<Gitignore> {
    let file = dir.join(IGNORE_FILE);
    // one `open`, no `stat` first: absent, a directory or unreadable all mean "none"
    let bytes = crate::disk::read(&file).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let mut builder = GitignoreBuilder::new(dir);
    builder.case_insensitive(CASE_INSENSITIVE_FS).ok();
    for line in text.trim_start_matches('\u{feff}').lines() {
        if let Err(e) = builder.add_line(Some(file.clone()), line) {
            tracing::warn!(file = %file.display(), error = %e, "bad line in ignore file");
        }
    }
    match builder.build() {
        Ok(gi) => Some(gi),
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "ignore file skipped");
            None
        }
    }
}

/// The built-in secret-file rule matching any part of `path` (an absolute path, or a
/// path an `untitled:` URI names), judged on its normal components from the top.
pub fn built_in_on_whole_path(path: &Path) -> Option<String> {
    let whole: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    decide(&BUILT_IN_RULES, &whole).map(|glob| format!("built-in secret-file rule `{glob}`"))
}

/// Build a matcher; bad globs are logged and skipped.
fn build<'a>(
    root: &Path,
    case_insensitive: bool,
    globs: impl Iterator<Item = &'a str>,
    source: &str,
) -> Gitignore {
    let mut builder = GitignoreBuilder::new(root);
    builder.case_insensitive(case_insensitive).ok();
    for glob in globs {
        if let Err(e) = builder.add_line(None, glob) {
            tracing::warn!(source, glob, error = %e, "exclude glob skipped");
        }
    }
    builder.build().unwrap_or_else(|e| {
        tracing::warn!(source, error = %e, "exclude globs unusable");
        Gitignore::empty()
    })
}

/// Top-down: the first directory on the way that is excluded, or the file.
fn decide(gi: &Gitignore, rel: &Path) -> Option<String> {
    let parts: Vec<&std::ffi::OsStr> = rel.iter().collect();
    let mut prefix = PathBuf::new();
    for (i, part) in parts.iter().enumerate() {
        prefix.push(part);
        if let Match::Ignore(glob) = gi.matched(&prefix, i + 1 < parts.len()) {
            return Some(glob.original().to_owned());
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn built_in_secret_files_are_excluded_case_insensitively() {
        let dir = TempDir::new().unwrap();
        let rules = ExcludeRules::new(dir.path(), &[]);
        let excluded = [
            ".env",
            ".env.local",
            ".ENV",
            "config/prod.env",
            "id_rsa",
            "id_ed25519.pub",
            "certs/server.pem",
            "Server.PEM",
            "tls.key",
            "credentials.json",
            ".npmrc",
            ".git/config",
            "sub/.git/hooks/pre-commit",
            "home/.ssh/config",
            "home/.aws/credentials",
            "infra/terraform.tfstate",
            "keys.kdbx",
            "secrets.yaml",
            ".docker/config.json",
        ];
        for rel in excluded {
            let reason = rules.check(Path::new(rel));
            assert!(
                reason.as_deref().is_some_and(|r| r.starts_with("built-in")),
                "{rel}"
            );
        }
        for rel in [
            "src/main.rs",
            "env.rs",
            "keyboard.rs",
            "docs/credentials.md",
            "Cargo.toml",
        ] {
            assert_eq!(rules.check(Path::new(rel)), None, "{rel}");
        }
        assert_eq!(
            rules.check(&dir.path().join(".env.local")).as_deref(),
            Some("built-in secret-file rule `.env.*`")
        );
    }

    #[test]
    fn codexignore_negation_nesting_and_globstar() {
        let dir = TempDir::new().unwrap();
        let root = dir.path();
        write(
            root,
            ".codexignore",
            "*.sql\n!keep.sql\nvendor/\ndocs/**/private\n",
        );
        write(root, "src/.codexignore", "generated/\n!schema.sql\n");
        let rules = ExcludeRules::new(root, &[]);
        let cases = [
            ("dump.sql", Some("`.codexignore`: `*.sql`")),
            ("keep.sql", None),
            ("src/schema.sql", None),
            ("src/other.sql", Some("`.codexignore`: `*.sql`")),
            (
                "src/generated/a.rs",
                Some("`src/.codexignore`: `generated/`"),
            ),
            ("generated/a.rs", None),
            ("vendor/lib/x.rs", Some("`.codexignore`: `vendor/`")),
            (
                "docs/a/b/private",
                Some("`.codexignore`: `docs/**/private`"),
            ),
            ("src/lib.rs", None),
        ];
        for (rel, want) in cases {
            assert_eq!(rules.check(Path::new(rel)).as_deref(), want, "{rel}");
        }
    }

    #[test]
    fn nothing_below_an_excluded_directory_is_re_included() {
        let dir = TempDir::new().unwrap();
        write(dir.path(), ".codexignore", "build/\n!build/keep.rs\n");
        let rules = ExcludeRules::new(dir.path(), &[]);
        assert!(rules.check(Path::new("build/keep.rs")).is_some());
    }

    #[test]
    fn codexignore_cannot_negate_a_built_in_rule() {
        let dir = TempDir::new().unwrap();
        write(dir.path(), ".codexignore", "!.env\n!*.pem\n");
        let rules = ExcludeRules::new(dir.path(), &[]);
        assert!(rules.check(Path::new(".env")).is_some());
        assert!(rules.check(Path::new("a.pem")).is_some());
    }

    #[test]
    fn user_globs_from_the_setting() {
        let dir = TempDir::new().unwrap();
        let rules = ExcludeRules::new(dir.path(), &["*.sql".into(), "fixtures/**".into()]);
        assert_eq!(
            rules.check(Path::new("db/x.sql")).as_deref(),
            Some("setting `exclude`: `*.sql`")
        );
        assert!(rules.check(Path::new("fixtures/a/b.json")).is_some());
        assert_eq!(rules.check(Path::new("src/x.rs")), None);
    }

    #[test]
    fn ignore_files_are_read_once_per_instance_and_the_cache_keeps_instances() {
        let dir = TempDir::new().unwrap();
        write(dir.path(), ".codexignore", "*.sql\n");
        let cache = RulesCache::default();
        let rules = cache.get(dir.path(), &[]);
        assert!(rules.check(Path::new("a/b/x.sql")).is_some());
        assert!(Arc::ptr_eq(&rules, &cache.get(dir.path(), &[])));
        // read once: a change on disk is not seen by this instance...
        write(dir.path(), ".codexignore", "");
        write(dir.path(), "a/.codexignore", "b/\n");
        assert!(rules.check(Path::new("a/b/x.sql")).is_some());
        assert_eq!(rules.check(Path::new("a/c/y.rs")), None);
        // ...other globs, or a cleared cache, give one that reads the files again
        let with_globs = cache.get(dir.path(), &["*.rs".into()]);
        assert!(!Arc::ptr_eq(&rules, &with_globs));
        cache.clear();
        let fresh = cache.get(dir.path(), &[]);
        assert_eq!(fresh.check(Path::new("x.sql")), None);
        assert!(fresh.check(Path::new("a/b/y.rs")).is_some());
    }

    #[cfg(unix)]
    #[test]
    fn symlink_into_an_excluded_path_is_excluded() {
        let dir = TempDir::new().unwrap();
        let root = dir.path();
        write(root, ".codexignore", "private/\n");
        write(root, "private/notes.txt", "x");
        write(root, ".env", "A=1");
        std::os::unix::fs::symlink(root.join("private/notes.txt"), root.join("notes.txt")).unwrap();
        std::os::unix::fs::symlink(root.join(".env"), root.join("config.txt")).unwrap();
        let rules = ExcludeRules::new(root, &[]);
        assert!(rules.check(Path::new("notes.txt")).is_some());
        assert!(rules.check(Path::new("config.txt")).is_some());
    }

    #[cfg(unix)]
    #[test]
    fn symlink_to_a_secret_outside_the_workspace_is_excluded() {
        let dir = TempDir::new().unwrap();
        let ws = dir.path().join("ws");
        write(dir.path(), "home/.ssh/id_ed25519", "k");
        std::fs::create_dir_all(&ws).unwrap();
        std::os::unix::fs::symlink(dir.path().join("home/.ssh/id_ed25519"), ws.join("k.txt"))
            .unwrap();
        let rules = ExcludeRules::new(&ws, &[]);
        assert!(rules.check(&ws.join("k.txt")).is_some());
    }
}
