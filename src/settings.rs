//! The user's settings: one typed struct for the table in INTERFACE.md. Environment
//! variables give the defaults; `initializationOptions` and
//! `workspace/didChangeConfiguration` override them key by key. A bad value is
//! reported by name and the previous value stays; the API key is never a setting.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const DEFAULT_BASE_URL: &str = "https://geekapis.com/v1";
pub const DEFAULT_MODEL: &str = "gpt-5.3-codex-official";
/// The `reasoningEffort` values sent as `reasoning.effort` (`"off"` sends none).
pub const EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh", "max"];
/// The `chainMode` values.
pub const CHAIN_MODES: &[&str] = &["server", "replay"];
/// The largest `patchAboveLines`: a selection longer than this is beyond any request.
const MAX_PATCH_ABOVE_LINES: u32 = 1_000_000;
/// Built-in action ids; a user-defined action may not reuse one.
pub const BUILTIN_ACTIONS: &[&str] = &[
    "fix", "refactor", "document", "tests", "explain", "instruct",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAction {
    pub id: String,
    pub title: String,
    pub instruction: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub base_url: String,
    pub model: String,
    /// `None` ("off" or null): no `reasoning` field at all, for gateways that reject it.
    pub reasoning_effort: Option<String>,
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub stream: bool,
    pub timeout_secs: u64,
    pub max_retries: u32,
    pub instructions: Option<String>,
    pub context_lines: u32,
    pub exclude: Vec<String>,
    pub actions: Vec<UserAction>,
    pub allow_outside_workspace: bool,
    pub log_file: Option<String>,
    /// Selections of at least this many lines also offer `apply_patch`; 0 never does.
    pub patch_above_lines: u32,
    pub chain_mode: ChainMode,
}

/// How a file's conversation continues from one action to the next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChainMode {
    /// `previous_response_id`: the service keeps the history.
    #[default]
    Server,
    /// `store: false`; the server replays the file's recent turns as `input` itself
    /// (gateways that drop or never keep history, zero-data-retention organisations).
    Replay,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.into(),
            model: DEFAULT_MODEL.into(),
            reasoning_effort: Some("medium".into()),
            max_output_tokens: None,
            temperature: None,
            top_p: None,
            stream: true,
            timeout_secs: 120,
            max_retries: 2,
            instructions: None,
            context_lines: 60,
            exclude: Vec::new(),
            actions: Vec::new(),
            allow_outside_workspace: false,
            log_file: None,
            patch_above_lines: 80,
            chain_mode: ChainMode::Server,
        }
    }
}

/// Something wrong with the settings the client sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsProblem {
    /// The key is kept at its previous value; the message names the key.
    BadValue {
        key: String,
        message: String,
    },
    Unknown {
        key: String,
    },
    /// Someone put the API key in the settings: ignored, and said so (without the value).
    KeyInSettings {
        key: String,
    },
}

impl SettingsProblem {
    pub fn message(&self) -> String {
        match self {
            Self::BadValue { key, message } => {
                format!("codex-lsp: setting `{key}` ignored: {message}; keeping the previous value")
            }
            Self::Unknown { key } => format!(
                "codex-lsp: unknown setting `{key}` ignored (check its spelling: names are \
                 case-sensitive, e.g. `baseUrl`)"
            ),
            Self::KeyInSettings { key } => format!(
                "codex-lsp: setting `{key}` ignored: the API key is read only from the \
                 environment (CODEX_LSP_API_KEY or OPENAI_API_KEY), never from settings"
            ),
        }
    }

    /// Every problem is shown to the user, an unknown key too: a misspelt `baseURL`
    /// silently leaves the key going to the default host.
    pub fn is_user_facing(&self) -> bool {
        true
    }
}

fn parse<T: for<'de> Deserialize<'de>>(v: &Value) -> Result<T, String> {
    T::deserialize(v).map_err(|e| e.to_string())
}

fn non_empty(s: String) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(s)
    }
}

fn optional<T: for<'de> Deserialize<'de>>(v: &Value) -> Result<Option<T>, String> {
    if v.is_null() {
        Ok(None)
    } else {
        parse(v).map(Some)
    }
}

fn valid_base_url(s: String) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/').to_owned();
    if s.starts_with("https://") || s.starts_with("http://") {
        Ok(s)
    } else {
        Err("must start with https:// (or http:// for a loopback address)".into())
    }
}

fn valid_actions(actions: Vec<UserAction>) -> Result<Vec<UserAction>, String> {
    for a in &actions {
        if a.id.is_empty()
            || !a
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "action id {:?} must be letters, digits, - or _",
                a.id
            ));
        }
        if BUILTIN_ACTIONS.contains(&a.id.as_str()) {
            return Err(format!("action id {:?} is a built-in action", a.id));
        }
        if a.instruction.trim().is_empty() || a.title.trim().is_empty() {
            return Err(format!(
                "action {:?} needs a title and an instruction",
                a.id
            ));
        }
    }
    Ok(actions)
}

fn in_range(v: Option<f32>, lo: f32, hi: f32) -> Result<Option<f32>, String> {
    match v {
        Some(x) if !(lo..=hi).contains(&x) => Err(format!("must be between {lo} and {hi}")),
        other => Ok(other),
    }
}

impl Settings {
    /// Defaults overridden by the environment (`lookup` is `std::env::var` in production).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut s = Self::default();
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        // A malformed value is kept, not dropped: dropped, the key would go to the
        // default host. Kept, every request is refused with a message naming it.
        if let Some(v) = get("CODEX_LSP_BASE_URL") {
            s.base_url = valid_base_url(v.clone()).unwrap_or_else(|_| v.trim().to_owned());
        }
        if let Some(v) = get("CODEX_LSP_MODEL") {
            s.model = v;
        }
        s.log_file = get("CODEX_LSP_LOG_FILE");
        s
    }

    /// The `codex` section of a settings object: `{"codex": {...}}` or the flat object.
    pub fn section(value: &Value) -> Option<&Map<String, Value>> {
        let obj = value.as_object()?;
        match obj.get("codex") {
            Some(Value::Object(inner)) => Some(inner),
            _ => Some(obj),
        }
    }

    /// Applies every key of `section` that is valid; returns what was wrong. `null`
    /// for `baseUrl`, `model` or `logFile` means the built-in default (see
    /// [`Settings::apply_over`]).
    pub fn apply(&mut self, section: &Map<String, Value>) -> Vec<SettingsProblem> {
        self.apply_over(section, &Self::default())
    }

    /// [`Settings::apply`], where `null` for `baseUrl`, `model` or `logFile` brings back
    /// the value in `defaults` (the environment's: `CODEX_LSP_BASE_URL`, …), so an
    /// editor can clear one without restarting the server.
    pub fn apply_over(
        &mut self,
        section: &Map<String, Value>,
        defaults: &Settings,
    ) -> Vec<SettingsProblem> {
        let mut problems = Vec::new();
        for (key, v) in section {
            let result: Result<(), String> = match key.as_str() {
                "baseUrl" if v.is_null() => {
                    self.base_url.clone_from(&defaults.base_url);
                    Ok(())
                }
                "model" if v.is_null() => {
                    self.model.clone_from(&defaults.model);
                    Ok(())
                }
                "logFile" if v.is_null() => {
                    self.log_file.clone_from(&defaults.log_file);
                    Ok(())
                }
                "baseUrl" => parse(v).and_then(valid_base_url).map(|x| self.base_url = x),
                "model" => parse(v).and_then(non_empty).map(|x| self.model = x),
                "reasoningEffort" => optional::<String>(v).and_then(|x| match x.as_deref() {
                    None | Some("off") => {
                        self.reasoning_effort = None;
                        Ok(())
                    }
                    Some(e) if EFFORTS.contains(&e) => {
                        self.reasoning_effort = x;
                        Ok(())
                    }
                    Some(_) => Err(format!(
                        "must be one of {}, or \"off\" (null) to send no reasoning field",
                        EFFORTS.join(", ")
                    )),
                }),
                "chainMode" => parse(v).map(|x| self.chain_mode = x),
                "maxOutputTokens" => optional::<u32>(v).and_then(|x| match x {
                    Some(n) if n < 16 => Err("must be at least 16".into()),
                    x => {
                        self.max_output_tokens = x;
                        Ok(())
                    }
                }),
                "temperature" => optional(v)
                    .and_then(|x| in_range(x, 0.0, 2.0))
                    .map(|x| self.temperature = x),
                "topP" => optional(v)
                    .and_then(|x| in_range(x, 0.0, 1.0))
                    .map(|x| self.top_p = x),
                "stream" => parse(v).map(|x| self.stream = x),
                "timeoutSecs" => parse::<u64>(v).and_then(|x| {
                    if (1..=3600).contains(&x) {
                        self.timeout_secs = x;
                        Ok(())
                    } else {
                        Err("must be between 1 and 3600".into())
                    }
                }),
                "maxRetries" => parse::<u32>(v).and_then(|x| {
                    if x <= 10 {
                        self.max_retries = x;
                        Ok(())
                    } else {
                        Err("must be at most 10".into())
                    }
                }),
                "instructions" => optional(v).map(|x| self.instructions = x),
                "contextLines" => parse::<u32>(v).and_then(|x| {
                    if x <= 10_000 {
                        self.context_lines = x;
                        Ok(())
                    } else {
                        Err("must be at most 10000".into())
                    }
                }),
                "patchAboveLines" => parse::<u32>(v).and_then(|x| {
                    if x <= MAX_PATCH_ABOVE_LINES {
                        self.patch_above_lines = x;
                        Ok(())
                    } else {
                        Err(format!(
                            "must be a whole number from 0 (never) to {MAX_PATCH_ABOVE_LINES}"
                        ))
                    }
                }),
                "exclude" => parse(v).map(|x| self.exclude = x),
                "actions" => parse(v).and_then(valid_actions).map(|x| self.actions = x),
                "allowOutsideWorkspace" => parse(v).map(|x| self.allow_outside_workspace = x),
                "logFile" => parse(v)
                    .and_then(non_empty)
                    .map(|x| self.log_file = Some(x)),
                k if is_key_like(k) => {
                    problems.push(SettingsProblem::KeyInSettings { key: k.to_owned() });
                    Ok(())
                }
                k => {
                    problems.push(SettingsProblem::Unknown { key: k.to_owned() });
                    Ok(())
                }
            };
            if let Err(message) = result {
                problems.push(SettingsProblem::BadValue {
                    key: key.clone(),
                    message,
                });
            }
        }
        problems
    }
}

fn is_key_like(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['_', '-'], "");
    matches!(
        k.as_str(),
        "apikey" | "key" | "token" | "openaiapikey" | "bearer" | "authorization"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(v: Value) -> (Settings, Vec<SettingsProblem>) {
        let mut s = Settings::default();
        let p = s.apply(Settings::section(&v).unwrap());
        (s, p)
    }

    #[test]
    fn defaults_match_the_interface() {
        let s = Settings::default();
        assert_eq!(s.base_url, "https://geekapis.com/v1");
        assert_eq!(s.model, "gpt-5.3-codex-official");
        assert_eq!(s.reasoning_effort.as_deref(), Some("medium"));
        assert_eq!(s.chain_mode, ChainMode::Server);
        assert!(s.stream);
        assert_eq!(
            (s.timeout_secs, s.max_retries, s.context_lines),
            (120, 2, 60)
        );
        assert_eq!(
            (s.temperature, s.top_p, s.max_output_tokens),
            (None, None, None)
        );
    }

    #[test]
    fn environment_gives_defaults() {
        let s = Settings::from_env(|k| match k {
            "CODEX_LSP_BASE_URL" => Some("http://127.0.0.1:9/v1/".into()),
            "CODEX_LSP_MODEL" => Some("gpt-5.2-official".into()),
            _ => None,
        });
        assert_eq!(s.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(s.model, "gpt-5.2-official");
    }

    #[test]
    fn a_malformed_base_url_in_the_environment_is_kept_not_replaced_by_the_default() {
        for bad in ["127.0.0.1:8080/v1", "not a url", "ftp://h/v1"] {
            let s = Settings::from_env(|k| (k == "CODEX_LSP_BASE_URL").then(|| bad.to_owned()));
            assert_eq!(s.base_url, bad, "the key must not go to the default host");
        }
    }

    #[test]
    fn nested_and_flat_sections_both_work() {
        let (a, _) = apply(json!({"codex": {"model": "m1"}}));
        let (b, _) = apply(json!({"model": "m1"}));
        assert_eq!(a.model, "m1");
        assert_eq!(b.model, "m1");
    }

    #[test]
    fn a_bad_value_names_the_key_and_keeps_the_previous_value() {
        let (s, p) = apply(json!({"timeoutSecs": "soon", "contextLines": 10, "temperature": 7}));
        assert_eq!(s.timeout_secs, 120);
        assert_eq!(s.context_lines, 10);
        assert_eq!(s.temperature, None);
        let keys: Vec<_> = p
            .iter()
            .filter_map(|x| match x {
                SettingsProblem::BadValue { key, .. } => Some(key.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(keys, ["temperature", "timeoutSecs"]);
        assert!(p[0].message().contains("`temperature`"));
    }

    #[test]
    fn unknown_keys_are_reported_but_not_shown() {
        let (_, p) = apply(json!({"colour": "blue"}));
        assert_eq!(
            p,
            vec![SettingsProblem::Unknown {
                key: "colour".into()
            }]
        );
        // regression: an unknown key (`baseURL`) was only logged
        assert!(p[0].is_user_facing());
    }

    #[test]
    fn an_api_key_in_settings_is_refused_without_echoing_it() {
        let (s, p) = apply(json!({"apiKey": "sk-proj-SENTINEL"}));
        assert_eq!(
            p,
            vec![SettingsProblem::KeyInSettings {
                key: "apiKey".into()
            }]
        );
        assert!(!p[0].message().contains("SENTINEL"));
        assert!(!format!("{s:?}").contains("SENTINEL"));
    }

    #[test]
    fn user_actions_are_validated() {
        let (s, p) = apply(
            json!({"actions": [{"id": "i18n", "title": "Translate", "instruction": "Translate strings"}]}),
        );
        assert!(p.is_empty());
        assert_eq!(s.actions[0].id, "i18n");
        let (s, p) = apply(json!({"actions": [{"id": "fix", "title": "x", "instruction": "y"}]}));
        assert!(s.actions.is_empty());
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn reasoning_effort_off_or_null_sends_none() {
        for off in [json!("off"), Value::Null] {
            let (s, p) = apply(json!({ "reasoningEffort": off }));
            assert!(p.is_empty(), "{p:?}");
            assert_eq!(s.reasoning_effort, None);
        }
        let (s, p) = apply(json!({"reasoningEffort": "loud"}));
        assert_eq!(s.reasoning_effort.as_deref(), Some("medium"));
        assert!(p[0].message().contains("off"));
        let (s, _) = apply(json!({"reasoningEffort": "high"}));
        assert_eq!(s.reasoning_effort.as_deref(), Some("high"));
    }

    #[test]
    fn chain_mode_is_server_or_replay() {
        let (s, p) = apply(json!({"chainMode": "replay"}));
        assert!(p.is_empty());
        assert_eq!(s.chain_mode, ChainMode::Replay);
        let (s, p) = apply(json!({"chainMode": "client"}));
        assert_eq!((s.chain_mode, p.len()), (ChainMode::Server, 1));
    }

    #[test]
    fn patch_above_lines_is_a_bounded_non_negative_integer() {
        assert_eq!(Settings::default().patch_above_lines, 80);
        let (s, p) = apply(json!({"patchAboveLines": 0}));
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(s.patch_above_lines, 0, "0 turns patches off");
        let (s, p) = apply(json!({"patchAboveLines": 200}));
        assert!(p.is_empty());
        assert_eq!(s.patch_above_lines, 200);
        for bad in [
            json!(-1),
            json!(2.5),
            json!("80"),
            json!(null),
            json!(2_000_000),
        ] {
            let (s, p) = apply(json!({ "patchAboveLines": bad }));
            assert_eq!(s.patch_above_lines, 80, "{bad} keeps the default");
            assert!(
                p.len() == 1 && p[0].message().contains("`patchAboveLines`"),
                "{bad}: {p:?}"
            );
        }
    }

    #[test]
    fn null_brings_back_the_environment_default() {
        let env = Settings::from_env(|k| match k {
            "CODEX_LSP_BASE_URL" => Some("http://127.0.0.1:9/v1".into()),
            "CODEX_LSP_MODEL" => Some("env-model".into()),
            "CODEX_LSP_LOG_FILE" => Some("/tmp/env.log".into()),
            _ => None,
        });
        let mut s = env.clone();
        let p = s.apply_over(
            Settings::section(
                &json!({"baseUrl": "https://other/v1", "model": "m2", "logFile": "/tmp/x.log"}),
            )
            .unwrap(),
            &env,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            (s.base_url.as_str(), s.model.as_str(), s.log_file.as_deref()),
            ("https://other/v1", "m2", Some("/tmp/x.log"))
        );
        let p = s.apply_over(
            Settings::section(&json!({"baseUrl": null, "model": null, "logFile": null})).unwrap(),
            &env,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            s, env,
            "null is the environment's value, not the built-in one"
        );
        // an empty model or log file is still refused (null is how to clear one)
        for key in ["model", "logFile"] {
            let mut obj = Map::new();
            obj.insert(key.into(), json!(" "));
            let p = s.apply_over(&obj, &env);
            assert_eq!(p.len(), 1, "{key}: {p:?}");
        }
    }

    #[test]
    fn base_url_must_be_http_or_https() {
        let (s, p) = apply(json!({"baseUrl": "ftp://x"}));
        assert_eq!(s.base_url, DEFAULT_BASE_URL);
        assert_eq!(p.len(), 1);
    }
}
