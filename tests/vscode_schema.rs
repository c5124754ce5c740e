//! The VS Code extension's settings schema (editors/vscode/package.json) and the list
//! of keys it forwards (editors/vscode/src/settings.ts) match what the server accepts:
//! the same keys, the same enum values, the same bounds, the same defaults, and `null`
//! wherever the extension sends it. Checked against `Settings::apply` itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use codex_lsp::settings::{CHAIN_MODES, EFFORTS, Settings};
use serde_json::{Map, Value, json};

/// `codex.*` settings that are the extension's own, never sent to the server.
const EXTENSION_ONLY: &[&str] = &["serverPath", "trace.server"];

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn properties() -> Map<String, Value> {
    let pkg: Value = serde_json::from_str(&read("editors/vscode/package.json")).unwrap();
    let conf = &pkg["contributes"]["configuration"];
    let conf = if conf.is_array() { &conf[0] } else { conf };
    conf["properties"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("codex.")?.to_owned(), v.clone())))
        .filter(|(k, _)| !EXTENSION_ONLY.contains(&k.as_str()))
        .collect()
}

/// The quoted strings of the array `const NAME = [...]` / `new Set<string>([...])` in
/// settings.ts.
fn ts_list(name: &str) -> BTreeSet<String> {
    let src = read("editors/vscode/src/settings.ts");
    let start = src.find(&format!("const {name} = ")).expect(name);
    let rest = &src[start..];
    let open = rest.find('[').unwrap();
    let close = rest[open..].find(']').unwrap() + open;
    rest[open + 1..close]
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn server_keys() -> BTreeSet<String> {
    serde_json::to_value(Settings::default())
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn accepts(key: &str, value: Value) -> bool {
    let mut s = Settings::default();
    let mut obj = Map::new();
    obj.insert(key.to_owned(), value);
    s.apply(&obj).is_empty()
}

#[test]
fn the_schema_has_exactly_the_server_settings() {
    let schema: BTreeSet<String> = properties().keys().cloned().collect();
    assert_eq!(
        schema,
        server_keys(),
        "package.json vs the server's settings"
    );
    assert_eq!(
        ts_list("SERVER_KEYS"),
        server_keys(),
        "settings.ts SERVER_KEYS"
    );
}

#[test]
fn enums_match_the_server() {
    let efforts: BTreeSet<String> = EFFORTS
        .iter()
        .chain(&["off"])
        .map(|s| (*s).to_owned())
        .collect();
    let modes: BTreeSet<String> = CHAIN_MODES.iter().map(|s| (*s).to_owned()).collect();
    let props = properties();
    for (key, server) in [("reasoningEffort", efforts), ("chainMode", modes)] {
        let values: BTreeSet<String> = props[key]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{key} has no enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(values, server, "{key}");
        for v in &values {
            assert!(
                accepts(key, json!(v)),
                "{key} = {v:?} is refused by the server"
            );
        }
        assert!(!accepts(key, json!("bogus")), "{key} takes anything");
    }
    for (key, p) in &props {
        if p.get("enum").is_some() {
            assert!(
                ["reasoningEffort", "chainMode"].contains(&key.as_str()),
                "{key}: an enum the server does not have"
            );
        }
    }
}

fn types(p: &Value) -> Vec<&str> {
    match &p["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn number_bounds_match_the_server() {
    let mut checked = 0;
    for (key, p) in properties() {
        let ty = types(&p);
        let integer = ty.contains(&"integer");
        if !integer && !ty.contains(&"number") {
            continue;
        }
        checked += 1;
        let step = if integer { 1.0 } else { 0.01 };
        let num = |x: f64| {
            if integer { json!(x as i64) } else { json!(x) }
        };
        let min = p["minimum"]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} has no minimum"));
        assert!(
            accepts(&key, num(min)),
            "{key}: the minimum {min} is refused"
        );
        assert!(
            !accepts(&key, num(min - step)),
            "{key}: the server takes {} below the minimum {min}",
            min - step
        );
        match p["maximum"].as_f64() {
            Some(max) => {
                assert!(
                    accepts(&key, num(max)),
                    "{key}: the maximum {max} is refused"
                );
                assert!(
                    !accepts(&key, num(max + step)),
                    "{key}: the server takes {} above the maximum {max}",
                    max + step
                );
            }
            None => assert!(
                accepts(&key, num(f64::from(u32::MAX))),
                "{key}: the server has a maximum the schema lacks"
            ),
        }
        if integer {
            assert!(!accepts(&key, json!(min + 0.5)), "{key} takes fractions");
        }
    }
    assert!(checked >= 7, "only {checked} numbers");
}

#[test]
fn defaults_and_nulls_match_the_server() {
    let server = serde_json::to_value(Settings::default()).unwrap();
    let nullable = ts_list("NULLABLE_KEYS");
    for (key, p) in properties() {
        let default = &p["default"];
        if default == "" {
            // an empty string is sent as null: the server's (environment's) default
            assert!(
                nullable.contains(&key),
                "{key}: empty default but not sent as null"
            );
        } else {
            assert_eq!(default, &server[&key], "{key}: default");
        }
        if types(&p).contains(&"null") {
            assert!(
                nullable.contains(&key),
                "{key}: null in the schema, not sent"
            );
        }
    }
    for key in &nullable {
        assert!(accepts(key, Value::Null), "{key}: null is refused");
    }
}
