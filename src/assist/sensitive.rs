//! Edits that need the user's consent (reliability.md §2.4 item 3, E-7): files
//! whose content an editor, agent, build tool, CI or shell will execute or obey.
//!
//! This is the one list; the README's "What is sent, and what never is" names it.
//! Matching is by components and ASCII case-insensitively (`MAKEFILE`,
//! `.VSCode/settings.json` count), anywhere in the path (a nested package's
//! `package.json` runs scripts too). Callers pass the whole absolute path, so a
//! workspace folder that is `.vscode` itself, or single-file mode, keeps the rule.

use std::path::{Component, Path};

/// Directories whose contents are all sensitive: (name, reason).
const DIRS: &[(&str, &str)] = &[
    (".vscode", "VS Code settings and tasks can run programs"),
    (".cursor", "Cursor configuration can run programs"),
    (".claude", "Claude configuration can run programs"),
    (".idea", "JetBrains project settings can run programs"),
    (".devcontainer", "dev container configuration runs commands"),
    (".husky", "git hooks run on commit"),
    (
        ".helix",
        "Helix language settings choose the programs it runs",
    ),
    (".zed", "Zed settings and tasks can run programs"),
    (
        ".circleci",
        "CI pipelines run with the repository's secrets",
    ),
];

/// Two-component directory prefixes: (parent, child, reason).
const SUBDIRS: &[(&str, &str, &str)] = &[
    (
        ".github",
        "workflows",
        "CI workflows run with the repository's secrets",
    ),
    (
        ".github",
        "actions",
        "CI actions run with the repository's secrets",
    ),
    (".git", "hooks", "git hooks run on commit"),
];

/// Exact file names: (name, reason).
const FILES: &[(&str, &str)] = &[
    ("mcp.json", "MCP configuration launches programs"),
    (".mcp.json", "MCP configuration launches programs"),
    ("build.rs", "build scripts run at build time"),
    ("cargo.toml", "Cargo manifests can change how builds run"),
    ("package.json", "npm scripts run on install and build"),
    ("makefile", "make recipes run commands"),
    ("gnumakefile", "make recipes run commands"),
    ("justfile", "just recipes run commands"),
    (".justfile", "just recipes run commands"),
    (".envrc", "direnv runs it on entering the directory"),
    ("setup.py", "setup.py runs on install"),
    (
        "pyproject.toml",
        "Python build configuration runs code on install",
    ),
    (".pre-commit-config.yaml", "pre-commit hooks run on commit"),
    ("dockerfile", "container builds run commands"),
    ("containerfile", "container builds run commands"),
    (
        ".gitlab-ci.yml",
        "CI pipelines run with the repository's secrets",
    ),
    (".bashrc", "shell start-up files run in every shell"),
    (".bash_profile", "shell start-up files run in every shell"),
    (".zshrc", "shell start-up files run in every shell"),
    (".zshenv", "shell start-up files run in every shell"),
    (".zprofile", "shell start-up files run in every shell"),
    (".profile", "shell start-up files run in every shell"),
    (
        ".gitattributes",
        "git attributes can configure filters that run programs",
    ),
    (".gitmodules", "submodule URLs decide what code is fetched"),
    (".gitconfig", "git configuration can run programs"),
    (
        ".nvim.lua",
        "Neovim runs it on opening the directory (exrc)",
    ),
    (".nvimrc", "Neovim runs it on opening the directory (exrc)"),
    (".exrc", "Vim runs it on opening the directory (exrc)"),
    (
        ".travis.yml",
        "CI pipelines run with the repository's secrets",
    ),
    (
        "jenkinsfile",
        "CI pipelines run with the repository's secrets",
    ),
    (
        "azure-pipelines.yml",
        "CI pipelines run with the repository's secrets",
    ),
    (
        ".yarnrc.yml",
        "Yarn configuration can load plugins and run programs",
    ),
    ("conftest.py", "pytest runs it on every test run"),
    ("build.gradle", "Gradle build scripts run at build time"),
    ("build.gradle.kts", "Gradle build scripts run at build time"),
    ("settings.gradle", "Gradle build scripts run at build time"),
    (
        "settings.gradle.kts",
        "Gradle build scripts run at build time",
    ),
    ("cmakelists.txt", "CMake scripts run at configure time"),
    ("rakefile", "rake tasks run commands"),
];

/// Why an edit to `rel_path` (relative to the workspace root) needs the user's
/// consent, or `None` when it does not.
pub fn sensitive_target(rel_path: &Path) -> Option<&'static str> {
    let parts: Vec<String> = rel_path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let (name, dirs) = parts.split_last()?;

    for dir in dirs {
        if let Some((_, reason)) = DIRS.iter().find(|(d, _)| d == dir) {
            return Some(reason);
        }
    }
    for pair in dirs.windows(2) {
        if let Some((_, _, reason)) = SUBDIRS
            .iter()
            .find(|(p, c, _)| *p == pair[0] && *c == pair[1])
        {
            return Some(reason);
        }
    }
    if dirs.last().is_some_and(|d| d == ".git") && name == "config" {
        return Some("git configuration can run programs");
    }
    if dirs.last().is_some_and(|d| d == ".cargo") && name.starts_with("config") {
        return Some("Cargo configuration can set runners and build flags");
    }
    if let Some((_, reason)) = FILES.iter().find(|(f, _)| f == name) {
        return Some(reason);
    }
    if name.ends_with(".code-workspace") {
        return Some("workspace files can carry settings and tasks that run programs");
    }
    if name.starts_with("dockerfile.") || name.ends_with(".dockerfile") {
        return Some("container builds run commands");
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_targets_table() {
        let sensitive = [
            ".vscode/settings.json",
            ".vscode/tasks.json",
            ".VSCode/launch.json",
            "pkg/.vscode/extensions.json",
            ".github/workflows/ci.yml",
            ".github/actions/setup/action.yml",
            ".git/hooks/pre-commit",
            "proj.code-workspace",
            ".cursor/mcp.json",
            ".cursor/rules/a.mdc",
            ".claude/settings.json",
            ".idea/workspace.xml",
            "mcp.json",
            "tools/.mcp.json",
            "build.rs",
            "crates/x/build.rs",
            "Cargo.toml",
            "package.json",
            "web/package.json",
            "Makefile",
            "makefile",
            "justfile",
            ".envrc",
            "setup.py",
            "pyproject.toml",
            ".pre-commit-config.yaml",
            "Dockerfile",
            "docker/Dockerfile.dev",
            ".bashrc",
            ".zshrc",
            ".profile",
            ".gitattributes",
            ".gitmodules",
            ".cargo/config.toml",
            ".devcontainer/devcontainer.json",
            ".helix/languages.toml",
            ".helix/config.toml",
            ".nvim.lua",
            ".nvimrc",
            ".exrc",
            ".zed/settings.json",
            ".circleci/config.yml",
            ".travis.yml",
            "Jenkinsfile",
            "azure-pipelines.yml",
            ".yarnrc.yml",
            "tests/conftest.py",
            "build.gradle",
            "app/build.gradle.kts",
            "CMakeLists.txt",
            "Rakefile",
            ".gitconfig",
            ".git/config",
            "/home/u/proj/.vscode/settings.json",
        ];
        for p in sensitive {
            assert!(
                sensitive_target(Path::new(p)).is_some(),
                "{p} should be sensitive"
            );
        }
        let ordinary = [
            "src/main.rs",
            "src/build.rs.bak",
            "README.md",
            ".github/CODEOWNERS",
            ".github/ISSUE_TEMPLATE/bug.md",
            "docs/vscode.md",
            "package-lock.json",
            "src/makefile_parser.rs",
            "Cargo.lock",
            "",
        ];
        for p in ordinary {
            assert_eq!(
                sensitive_target(Path::new(p)),
                None,
                "{p} should be ordinary"
            );
        }
    }

    #[test]
    fn reasons_say_why() {
        let reason = sensitive_target(Path::new(".github/workflows/ci.yml")).unwrap();
        assert!(reason.contains("CI"));
        let reason = sensitive_target(Path::new("mcp.json")).unwrap();
        assert!(reason.contains("MCP"));
    }
}
