//! The API key: a secret type with no way to print it, read only from the environment.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A Bearer token. `Debug` prints `ApiKey([REDACTED])`; there is no `Display`.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn new(s: String) -> Self {
        Self(SecretString::from(s))
    }

    /// Only for building the `Authorization` header (and scrubbing echoes of it).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

/// Which environment variable the key came from (shown by `doctor`, never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    CodexLspApiKey,
    OpenAiApiKey,
}

impl KeySource {
    pub fn env_var(self) -> &'static str {
        match self {
            Self::CodexLspApiKey => "CODEX_LSP_API_KEY",
            Self::OpenAiApiKey => "OPENAI_API_KEY",
        }
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.env_var())
    }
}

/// CODEX_LSP_API_KEY, then OPENAI_API_KEY; empty/whitespace values count as unset.
pub fn api_key_from_env() -> Option<(ApiKey, KeySource)> {
    api_key_from(|name| std::env::var(name).ok())
}

/// [`api_key_from_env`] with the lookup injected, so tests need not touch the process env.
/// Surrounding whitespace is trimmed (a pasted key often carries a newline).
pub fn api_key_from(lookup: impl Fn(&str) -> Option<String>) -> Option<(ApiKey, KeySource)> {
    [KeySource::CodexLspApiKey, KeySource::OpenAiApiKey]
        .into_iter()
        .find_map(|src| {
            let v = lookup(src.env_var())?;
            let v = v.trim();
            (!v.is_empty()).then(|| (ApiKey::new(v.to_owned()), src))
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = ApiKey::new("sk-proj-TESTSENTINEL".into());
        assert_eq!(format!("{k:?}"), "ApiKey([REDACTED])");
        assert_eq!(k.expose(), "sk-proj-TESTSENTINEL");
    }

    #[test]
    fn precedence_and_blank_values() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let (k, s) =
            api_key_from(env(&[("CODEX_LSP_API_KEY", "a"), ("OPENAI_API_KEY", "b")])).unwrap();
        assert_eq!((k.expose(), s), ("a", KeySource::CodexLspApiKey));
        let (k, s) = api_key_from(env(&[
            ("CODEX_LSP_API_KEY", "  \n"),
            ("OPENAI_API_KEY", "b\n"),
        ]))
        .unwrap();
        assert_eq!((k.expose(), s), ("b", KeySource::OpenAiApiKey));
        assert!(api_key_from(env(&[("OPENAI_API_KEY", "")])).is_none());
        assert_eq!(KeySource::OpenAiApiKey.to_string(), "OPENAI_API_KEY");
    }
}
