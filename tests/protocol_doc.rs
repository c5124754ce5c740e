//! docs/protocol.md stays true: every command id, every setting `Settings::apply`
//! accepts and every error `data.kind` the server sends appears in it (as `code`).

use std::path::Path;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The text before the file's `#[cfg(test)]` module (test fixtures are not the code).
fn code_of(src: &str) -> &str {
    src.split("#[cfg(test)]").next().unwrap_or(src)
}

/// Every `"x"` directly followed by ` =>` (a match arm on a string literal), or
/// directly preceded by `=> ` (a match arm yielding one).
fn quoted_arms(src: &str, before_arrow: bool) -> Vec<String> {
    let mut out = Vec::new();
    for line in code_of(src).lines() {
        let line = line.trim();
        if before_arrow {
            // `"baseUrl" => ...`
            if let Some(rest) = line.strip_prefix('"')
                && let Some(end) = rest.find('"')
                && rest[end + 1..].trim_start().starts_with("=>")
            {
                out.push(rest[..end].to_owned());
            }
        } else {
            // `... => "kind",` (also `}` + `"kind"` on its own line after a guard block)
            let mut s = line;
            while let Some(i) = s.find("=> \"") {
                let rest = &s[i + 4..];
                if let Some(end) = rest.find('"') {
                    out.push(rest[..end].to_owned());
                }
                s = rest;
            }
            if line.starts_with('"')
                && line.ends_with('"')
                && !line[1..line.len() - 1].contains('"')
            {
                out.push(line[1..line.len() - 1].to_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn missing<'a>(doc: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    names
        .into_iter()
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect()
}

#[test]
fn every_command_is_documented() {
    let doc = read("docs/protocol.md");
    let commands = codex_lsp::lsp::commands::ALL_COMMANDS;
    assert!(commands.len() >= 5);
    let gone = missing(&doc, commands.iter().copied());
    assert!(
        gone.is_empty(),
        "docs/protocol.md does not mention commands {gone:?}"
    );
}

#[test]
fn every_setting_is_documented() {
    let doc = read("docs/protocol.md");
    let keys = quoted_arms(&read("src/settings.rs"), true);
    for expected in ["baseUrl", "model", "chainMode", "logFile"] {
        assert!(keys.iter().any(|k| k == expected), "parsed {keys:?}");
    }
    // each parsed key really is a setting: applying it is not "unknown"
    for k in &keys {
        let mut s = codex_lsp::settings::Settings::default();
        let mut obj = serde_json::Map::new();
        obj.insert(k.clone(), serde_json::Value::Null);
        let problems = s.apply(&obj);
        assert!(
            problems.iter().all(|p| p.is_user_facing()),
            "{k} parsed from src/settings.rs but not accepted: {problems:?}"
        );
    }
    let gone = missing(&doc, keys.iter().map(String::as_str));
    assert!(
        gone.is_empty(),
        "docs/protocol.md does not mention settings {gone:?}"
    );
}

#[test]
fn every_error_kind_is_documented() {
    let doc = read("docs/protocol.md");
    let kinds: Vec<String> = quoted_arms(&read("src/lsp/failure.rs"), false)
        .into_iter()
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    for expected in ["auth", "chain", "refused", "cancelled", "internal"] {
        assert!(kinds.iter().any(|k| k == expected), "parsed {kinds:?}");
    }
    let gone = missing(&doc, kinds.iter().map(String::as_str));
    assert!(
        gone.is_empty(),
        "docs/protocol.md does not mention error kinds {gone:?}"
    );
}

#[test]
fn every_environment_variable_is_documented() {
    let doc = read("docs/protocol.md");
    let mut vars = Vec::new();
    for rel in [
        "src/main.rs",
        "src/settings.rs",
        "src/lsp/session.rs",
        "src/openai/key.rs",
    ] {
        let src = read(rel);
        for piece in code_of(&src).split('"').skip(1).step_by(2) {
            if piece.starts_with("CODEX_LSP_") || piece == "OPENAI_API_KEY" {
                vars.push(piece.to_owned());
            }
        }
    }
    vars.sort();
    vars.dedup();
    assert!(vars.len() >= 5, "parsed {vars:?}");
    let gone = missing(&doc, vars.iter().map(String::as_str));
    assert!(
        gone.is_empty(),
        "docs/protocol.md does not mention {gone:?}"
    );
}
