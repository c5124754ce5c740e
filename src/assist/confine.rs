//! Which workspace folder a file belongs to (reliability.md §2.4 item 2, E-6).
//!
//! Paths are compared by components (`Path::starts_with`), never as strings, so
//! `/srv/proj-evil/x` is not inside `/srv/proj`. Both sides are canonicalised
//! first: symlinks are resolved for the longest prefix that exists, and the rest
//! is normalised lexically (`.` dropped, `..` pops). A symlink inside the
//! workspace that points outside therefore resolves outside.

use std::path::{Component, Path, PathBuf};

/// The innermost folder of `folders` that contains `file`, as given in `folders`;
/// `None` when the file is in none of them.
pub fn workspace_for(file: &Path, folders: &[PathBuf]) -> Option<PathBuf> {
    let file = canonical(file);
    folders
        .iter()
        .map(|folder| (folder, canonical(folder)))
        .filter(|(_, root)| file.starts_with(root))
        .max_by_key(|(_, root)| root.components().count())
        .map(|(folder, _)| folder.clone())
}

/// `file` relative to `root`, both canonicalised (symlinks resolved); when the
/// file is not under the root, the file's canonical path.
pub fn relative_path(file: &Path, root: &Path) -> PathBuf {
    let file = canonical(file);
    match file.strip_prefix(canonical(root)) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => file,
    }
}

/// Absolute, symlink-resolved as far as the path exists, lexically normalised
/// beyond that. Never fails: unresolvable input is normalised lexically.
pub(crate) fn canonical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let normal = normalize_lexically(&absolute);
    // Walk up to the longest existing ancestor, resolve it, re-attach the rest.
    let mut existing = normal.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    loop {
        if let Ok(resolved) = crate::disk::canonicalize(existing) {
            let mut out = resolved;
            out.extend(rest.iter().rev());
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return normal,
        }
    }
}

/// Drop `.` components and let `..` pop the previous normal component (never
/// above the root).
pub(crate) fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    #[test]
    fn lexical_normalisation_table() {
        let cases = [
            ("/a/b/../c", "/a/c"),
            ("/a/./b/", "/a/b"),
            ("/../a", "/a"),
            ("/a/b/../../..", "/"),
            ("a/../../b", "../b"),
        ];
        for (input, want) in cases {
            assert_eq!(
                normalize_lexically(Path::new(input)),
                PathBuf::from(want),
                "{input}"
            );
        }
    }

    #[test]
    fn sibling_with_common_prefix_is_not_inside() {
        let folders = [PathBuf::from("/srv/proj")];
        assert_eq!(
            workspace_for(Path::new("/srv/proj-evil/x.rs"), &folders),
            None
        );
        assert_eq!(
            workspace_for(Path::new("/srv/proj/src/x.rs"), &folders),
            Some(PathBuf::from("/srv/proj"))
        );
        assert_eq!(
            workspace_for(Path::new("/srv/proj/../proj-evil/x.rs"), &folders),
            None
        );
    }

    #[test]
    fn innermost_folder_wins() {
        let dir = TempDir::new().unwrap();
        let outer = dir.path().to_path_buf();
        let inner = outer.join("crates/inner");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::write(inner.join("lib.rs"), "").unwrap();
        let folders = [outer.clone(), inner.clone()];
        assert_eq!(
            workspace_for(&inner.join("lib.rs"), &folders),
            Some(inner.clone())
        );
        assert_eq!(workspace_for(&outer.join("x.rs"), &folders), Some(outer));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_pointing_outside_resolves_outside() {
        let dir = TempDir::new().unwrap();
        let ws = dir.path().join("ws");
        let secret = dir.path().join("outside");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&secret).unwrap();
        std::fs::write(secret.join("key.txt"), "x").unwrap();
        std::os::unix::fs::symlink(&secret, ws.join("link")).unwrap();
        let folders = [ws.clone()];
        assert_eq!(workspace_for(&ws.join("link/key.txt"), &folders), None);
        // Not yet existing files below the link resolve through it too.
        assert_eq!(workspace_for(&ws.join("link/new.txt"), &folders), None);
        assert_eq!(
            workspace_for(&ws.join("new.txt"), &folders),
            Some(ws.clone())
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_workspace_folder_still_contains_its_files() {
        let dir = TempDir::new().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir_all(real.join("src")).unwrap();
        std::fs::write(real.join("src/a.rs"), "").unwrap();
        let alias = dir.path().join("alias");
        std::os::unix::fs::symlink(&real, &alias).unwrap();
        assert_eq!(
            workspace_for(&real.join("src/a.rs"), std::slice::from_ref(&alias)),
            Some(alias.clone())
        );
        assert_eq!(
            relative_path(&real.join("src/a.rs"), &alias),
            PathBuf::from("src/a.rs")
        );
    }

    #[test]
    fn relative_path_table() {
        let cases = [
            ("/srv/proj/src/a.rs", "/srv/proj", "src/a.rs"),
            ("/srv/proj/./src/../b.rs", "/srv/proj", "b.rs"),
            ("/srv/other/a.rs", "/srv/proj", "/srv/other/a.rs"),
        ];
        for (file, root, want) in cases {
            assert_eq!(
                relative_path(Path::new(file), Path::new(root)),
                PathBuf::from(want)
            );
        }
    }
}
