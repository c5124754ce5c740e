//! The API key: a secret type with no way to print it, read only from the environment.

use std::collections::HashSet;
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

    /// `text` with the key, and every piece of it of [`MIN_KEY_PIECE`] or more bytes,
    /// replaced by `[REDACTED]`. A gateway may echo the key whole, cut, or inside a
    /// longer token; key shapes vary (`sk-…`, `gw-…`, JWTs), so no pattern is assumed.
    /// Keys shorter than the piece length are only removed whole.
    pub fn redact(&self, text: &str) -> String {
        let key = self.expose().as_bytes();
        if key.is_empty() {
            return text.to_owned();
        }
        let n = MIN_KEY_PIECE.min(key.len());
        let pieces: HashSet<&[u8]> = key.windows(n).collect();
        let bytes = text.as_bytes();
        // Byte ranges covered by some window of the key; any echoed piece of n or more
        // bytes is a union of such windows.
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for (i, w) in bytes.windows(n).enumerate() {
            if !pieces.contains(w) {
                continue;
            }
            match ranges.last_mut() {
                Some((_, end)) if *end >= i => *end = i + n,
                _ => ranges.push((i, i + n)),
            }
        }
        if ranges.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for (mut start, mut end) in ranges {
            // A non-ASCII key could match inside a character: widen to whole characters.
            while start > pos && !text.is_char_boundary(start) {
                start -= 1;
            }
            while end < text.len() && !text.is_char_boundary(end) {
                end += 1;
            }
            if end <= pos {
                continue;
            }
            start = start.max(pos);
            out.push_str(text.get(pos..start).unwrap_or_default());
            out.push_str("[REDACTED]");
            pos = end.max(pos);
        }
        out.push_str(text.get(pos..).unwrap_or_default());
        out
    }
}

/// The shortest piece of the key that is still redacted when it appears on its own.
pub const MIN_KEY_PIECE: usize = 8;

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
    fn redacts_the_key_and_its_pieces() {
        let k = ApiKey::new("gw-Q7vX2mP9kLr4Tz8NwB3cY6hJ1dF5sA0eG".into());
        assert_eq!(
            k.redact("got gw-Q7vX2mP9kLr4Tz8NwB3cY6hJ1dF5sA0eG!"),
            "got [REDACTED]!"
        );
        // A cut prefix, a middle piece, a suffix glued to other text.
        assert_eq!(k.redact("key gw-Q7vX2m…"), "key [REDACTED]…");
        assert_eq!(k.redact("x=Lr4Tz8NwB3 y"), "x=[REDACTED] y");
        assert_eq!(k.redact("abcJ1dF5sA0eG"), "abc[REDACTED]");
        // Seven characters are not enough to be sure; left alone.
        assert_eq!(k.redact("gw-Q7vX"), "gw-Q7vX");
        assert_eq!(k.redact("héllo wörld"), "héllo wörld");
        let short = ApiKey::new("abc".into());
        assert_eq!(short.redact("xabcx"), "x[REDACTED]x");
        let uni = ApiKey::new("ключ-секрет-ключ".into());
        assert_eq!(uni.redact("a секрет-кл b"), "a [REDACTED] b");
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
