//! Placeholder until the assist branch lands.
use std::path::{Path, PathBuf};
pub fn workspace_for(file: &Path, folders: &[PathBuf]) -> Option<PathBuf> {
    folders
        .iter()
        .filter(|f| file.starts_with(f))
        .max_by_key(|f| f.components().count())
        .cloned()
}
pub fn relative_path(file: &Path, root: &Path) -> PathBuf {
    file.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| file.to_path_buf())
}
