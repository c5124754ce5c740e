//! Placeholder until the assist branch lands.
use std::path::{Path, PathBuf};
pub struct ExcludeRules {
    _root: PathBuf,
}
impl ExcludeRules {
    pub fn new(workspace_root: &Path, _user_globs: &[String]) -> Self {
        Self {
            _root: workspace_root.to_owned(),
        }
    }
    pub fn check(&self, path: &Path) -> Option<String> {
        let name = path.file_name()?.to_string_lossy().to_string();
        name.starts_with(".env")
            .then(|| "built-in secret-file rule `.env*`".to_owned())
    }
}
