//! Secrets out before anything leaves the machine (reliability.md §1.2, E-3, D-7).
//!
//! Known formats (gitleaks-style rules) are replaced whole; generic assignments
//! (`password = "…"`, `API_KEY=…`, `"token": "…"`) have only their value replaced,
//! and only when the name has a secret word as a component (`db_password`,
//! `githubToken`, `API_KEY`; not `tokenizer`, `author`, `public_key`, `token_count`)
//! and the value looks like a secret: at least 8 characters, no whitespace, not a
//! placeholder (`changeme`, `<your-key>`, `xxx`, `${VAR}`), not an expression
//! (`getenv("X")`, `os.environ[…]`, `config.password`), and random enough (three
//! character classes, or a digit with letters, or Shannon entropy ≥ 3.5 bits).
//! UUIDs and hex hashes are left alone unless they sit under a secret name, where
//! they are redacted on purpose (many API keys are UUIDs, `SECRET_KEY` is often hex).
//!
//! A secret becomes `«REDACTED:<kind>#<n>»`, the same placeholder for the same
//! secret within one [`RedactionMap`] (one request). Nothing turns a placeholder
//! back into a secret: the map only goes secret → placeholder and is never exposed.

use std::collections::HashMap;
use std::fmt;

use regex::Regex;

const PLACEHOLDER_OPEN: &str = "«REDACTED:";

/// Placeholders handed out during one request. Holds the secrets, so its `Debug`
/// shows only how many there are.
#[derive(Default)]
pub struct RedactionMap {
    by_secret: HashMap<String, String>,
    per_kind: HashMap<&'static str, usize>,
}

impl RedactionMap {
    /// An empty map, for one request.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many distinct secrets were replaced.
    pub fn len(&self) -> usize {
        self.by_secret.len()
    }

    /// True when nothing was replaced.
    pub fn is_empty(&self) -> bool {
        self.by_secret.is_empty()
    }

    fn placeholder(&mut self, kind: &'static str, secret: &str) -> String {
        if let Some(p) = self.by_secret.get(secret) {
            return p.clone();
        }
        let n = self.per_kind.entry(kind).or_insert(0);
        *n += 1;
        let p = format!("{PLACEHOLDER_OPEN}{kind}#{n}»");
        self.by_secret.insert(secret.to_owned(), p.clone());
        p
    }
}

impl fmt::Debug for RedactionMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactionMap")
            .field("secrets", &self.by_secret.len())
            .finish()
    }
}

/// How a rule's match becomes the text to replace.
#[derive(Clone, Copy)]
enum Take {
    /// The whole match.
    Whole,
    /// Capture group 1.
    Group1,
    /// A generic `name = value` assignment: judged by [`generic_value`].
    Assignment,
    /// `Bearer`/`Basic` credentials: group 1 if it looks random.
    Credential,
    /// The password in `scheme://user:password@host`: group 1 unless a placeholder.
    UrlPassword,
}

struct Rule {
    kind: &'static str,
    re: Regex,
    take: Take,
}

/// Specific rules first: at the same position the earlier rule wins.
const RULES: &[(&str, &str, Take)] = &[
    (
        "private-key",
        r"(?s)-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|.*)",
        Take::Whole,
    ),
    (
        "anthropic-key",
        r"\bsk-ant-[A-Za-z0-9_\-]{20,}",
        Take::Whole,
    ),
    (
        "openai-key",
        r"\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}|[A-Za-z0-9]{20,}(?:T3BlbkFJ[A-Za-z0-9_\-]{20,})?)",
        Take::Whole,
    ),
    (
        "aws-access-key",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        Take::Whole,
    ),
    (
        "aws-secret",
        r#"(?i)aws_?secret_?(?:access_?)?key["']?\s*(?::=|=>|=|:)\s*["']?([A-Za-z0-9/+=]{40})"#,
        Take::Group1,
    ),
    (
        "github-token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})",
        Take::Whole,
    ),
    (
        "slack-token",
        r"\bxox[abprse]-[A-Za-z0-9\-]{10,}",
        Take::Whole,
    ),
    (
        "jwt",
        r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*",
        Take::Whole,
    ),
    ("google-api-key", r"\bAIza[0-9A-Za-z_\-]{35}", Take::Whole),
    (
        "stripe-key",
        r"\b(?:sk|rk)_live_[0-9A-Za-z]{16,}",
        Take::Whole,
    ),
    (
        "secret",
        r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]+:([^\s:/@]{4,})@",
        Take::UrlPassword,
    ),
    (
        "secret",
        r"(?i)\b(?:bearer|basic)[ \t]+([A-Za-z0-9\-._~+/]{16,}=*)",
        Take::Credential,
    ),
    (
        "secret",
        r#"([A-Za-z_][A-Za-z0-9_.\-]*)["']?[ \t]*(?::=|=>|==|=|:)[ \t]*(?:"([^"\r\n]*)"|'([^'\r\n]*)'|([^\s"'`,;()\[\]{}<>#]+))"#,
        Take::Assignment,
    ),
];

/// Compiled secret rules; build once and share.
pub struct Redactor {
    rules: Vec<Rule>,
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl Redactor {
    /// Compile the rules. (A rule that failed to compile would be logged and
    /// skipped; a test pins that all of them compile.)
    pub fn new() -> Self {
        let rules = RULES
            .iter()
            .filter_map(|&(kind, pattern, take)| match Regex::new(pattern) {
                Ok(re) => Some(Rule { kind, re, take }),
                Err(e) => {
                    tracing::error!(kind, error = %e, "secret rule failed to compile");
                    None
                }
            })
            .collect();
        Self { rules }
    }

    /// `text` with every secret replaced by its placeholder in `ctx`.
    pub fn redact(&self, text: &str, ctx: &mut RedactionMap) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (start, end, kind) in self.find(text) {
            out.push_str(&text[last..start]);
            out.push_str(&ctx.placeholder(kind, &text[start..end]));
            last = end;
        }
        out.push_str(&text[last..]);
        out
    }

    /// Redacts contiguous slices of one text (context before, selection, context
    /// after) through one map. A complete private-key block that crosses a slice boundary is
    /// found in the joined text and masked in every slice it touches: redacting each
    /// slice alone would send the body lines on the far side of the boundary (and a
    /// selection of body lines only) as they are.
    pub fn redact_parts(&self, parts: &[&str], ctx: &mut RedactionMap) -> Vec<String> {
        let joined: String = parts.concat();
        let blocks: Vec<(usize, usize)> = self
            .rules
            .iter()
            .filter(|r| r.kind == "private-key")
            .flat_map(|r| r.re.find_iter(&joined))
            // complete blocks only: a lone BEGIN (a parser's constant, say) must not
            // swallow the selection and everything after it
            .filter(|m| m.as_str().contains("-----END"))
            .map(|m| (m.start(), m.end()))
            .collect();
        let mut out = Vec::with_capacity(parts.len());
        let mut offset = 0;
        for part in parts {
            let (start, end) = (offset, offset + part.len());
            offset = end;
            let mut text = String::with_capacity(part.len());
            let mut last = start;
            for &(bs, be) in &blocks {
                // only blocks that reach outside this part; the rest are found below
                let crosses = bs < end && be > start && (bs < start || be > end);
                if !crosses {
                    continue;
                }
                let (s, e) = (bs.max(start), be.min(end));
                if s > last {
                    text.push_str(&self.redact(&joined[last..s], ctx));
                }
                text.push_str(&ctx.placeholder("private-key", &joined[bs..be]));
                last = e;
            }
            text.push_str(&self.redact(&joined[last..end], ctx));
            out.push(text);
        }
        out
    }

    /// Kinds of the secret-looking strings in the model's output, one per distinct
    /// string (D-7: the input was redacted, so any secret here is new).
    pub fn find_new_secrets(&self, output: &str) -> Vec<String> {
        let mut seen: Vec<&str> = Vec::new();
        let mut kinds = Vec::new();
        for (start, end, kind) in self.find(output) {
            let s = &output[start..end];
            if !seen.contains(&s) {
                seen.push(s);
                kinds.push(kind.to_owned());
            }
        }
        kinds
    }

    /// Sorted, disjoint byte ranges of secrets and their kinds.
    fn find(&self, text: &str) -> Vec<(usize, usize, &'static str)> {
        let mut found: Vec<(usize, usize, usize, &'static str)> = Vec::new();
        for (priority, rule) in self.rules.iter().enumerate() {
            for caps in rule.re.captures_iter(text) {
                let range = match rule.take {
                    Take::Whole => caps.get(0).map(|m| m.range()),
                    Take::Group1 => caps.get(1).map(|m| m.range()),
                    Take::Credential => caps
                        .get(1)
                        .filter(|m| looks_random(m.as_str()))
                        .map(|m| m.range()),
                    Take::UrlPassword => caps
                        .get(1)
                        .filter(|m| !is_placeholder(m.as_str()))
                        .map(|m| m.range()),
                    Take::Assignment => generic_value(text, &caps),
                };
                if let Some(r) = range.filter(|r| !r.is_empty()) {
                    found.push((r.start, priority, r.end, rule.kind));
                }
            }
        }
        found.sort_unstable();
        let mut picked: Vec<(usize, usize, &'static str)> = Vec::new();
        for (start, _, end, kind) in found {
            if picked
                .last()
                .is_none_or(|&(_, prev_end, _)| start >= prev_end)
            {
                picked.push((start, end, kind));
            }
        }
        picked
    }
}

/// True when `text` holds a `«REDACTED:<kind>#<n>»` placeholder.
pub fn contains_placeholder(text: &str) -> bool {
    text.match_indices(PLACEHOLDER_OPEN).any(|(i, open)| {
        let rest = &text[i + open.len()..];
        let kind_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_lowercase() || *b == b'-')
            .count();
        let Some(after_kind) = rest[kind_len..].strip_prefix('#') else {
            return false;
        };
        let digits = after_kind.bytes().take_while(u8::is_ascii_digit).count();
        kind_len > 0 && digits > 0 && after_kind[digits..].starts_with('»')
    })
}

/// The value range of a generic assignment when the name is a secret's and the
/// value looks like one.
fn generic_value(text: &str, caps: &regex::Captures<'_>) -> Option<std::ops::Range<usize>> {
    let name = caps.get(1)?.as_str();
    if !is_secret_name(name) {
        return None;
    }
    if let Some(m) = caps.get(2).or_else(|| caps.get(3)) {
        return is_secret_value(m.as_str()).then(|| m.range());
    }
    let m = caps.get(4)?;
    let value = m.as_str();
    // `getenv(…)`, `env[…]`, `config.password`, `$VAR`, `SOME_CONSTANT`, `variable`.
    let followed_by_call = text[m.end()..].starts_with(['(', '[']);
    let member = value.contains('.') && value.split('.').all(is_identifier);
    let constant = value.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    let plain_identifier = is_identifier(value) && !value.bytes().any(|b| b.is_ascii_digit());
    let reference = value.starts_with(['$', '%', '&', '*', '@']);
    let literal_word = matches!(
        value,
        "true" | "false" | "null" | "None" | "nil" | "undefined"
    );
    if followed_by_call || member || constant || plain_identifier || reference || literal_word {
        return None;
    }
    is_secret_value(value).then(|| m.range())
}

fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Lower-cased components of a name: `dbPassword` → `db`, `password`;
/// `APIKey` → `api`, `key`; `spring.datasource.password` → …, `password`.
fn name_components(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for word in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let chars: Vec<char> = word.chars().collect();
        let mut cur = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = c.is_ascii_uppercase()
                && prev.is_some_and(|p| {
                    p.is_ascii_lowercase()
                        || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
                });
            if boundary && !cur.is_empty() {
                parts.push(std::mem::take(&mut cur));
            }
            cur.push(c.to_ascii_lowercase());
        }
        if !cur.is_empty() {
            parts.push(cur);
        }
    }
    parts
}

fn is_secret_name(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "apikey",
        "auth",
        "credential",
        "credentials",
        "privatekey",
        "accesskey",
    ];
    const PAIRS: &[(&str, &str)] = &[("api", "key"), ("access", "key"), ("private", "key")];
    const NOT_A_VALUE: &[&str] = &[
        "count",
        "len",
        "length",
        "type",
        "id",
        "ids",
        "url",
        "uri",
        "path",
        "file",
        "filename",
        "dir",
        "name",
        "field",
        "header",
        "endpoint",
        "size",
        "limit",
        "ttl",
        "timeout",
        "expiry",
        "expires",
        "expiration",
        "max",
        "min",
        "num",
        "prefix",
        "kind",
        "mode",
        "format",
        "public",
        "pub",
        "policy",
        "provider",
        "label",
        "hint",
        "placeholder",
        "regex",
        "pattern",
        "env",
        "var",
        "index",
        "idx",
        "enabled",
        "required",
    ];
    let parts = name_components(name);
    let keyword = parts.iter().any(|p| WORDS.contains(&p.as_str()))
        || parts
            .windows(2)
            .any(|w| PAIRS.contains(&(w[0].as_str(), w[1].as_str())));
    keyword && !parts.iter().any(|p| NOT_A_VALUE.contains(&p.as_str()))
}

fn is_secret_value(value: &str) -> bool {
    let n = value.chars().count();
    (8..=256).contains(&n)
        && !value.chars().any(char::is_whitespace)
        && !is_placeholder(value)
        && looks_random(value)
}

/// `changeme`, `<your-key>`, `xxx`, `${VAR}`, `password`, an existing placeholder.
fn is_placeholder(value: &str) -> bool {
    const PLACEHOLDERS: &[&str] = &[
        "changeme",
        "change_me",
        "change-me",
        "your",
        "example",
        "xxx",
        "placeholder",
        "dummy",
        "sample",
        "redacted",
        "todo",
        "fixme",
        "<",
        ">",
        "${",
        "{{",
        "%(",
        "$(",
        "***",
        "...",
        "«",
    ];
    let lower = value.to_ascii_lowercase();
    lower == "password" || PLACEHOLDERS.iter().any(|p| lower.contains(p))
}

/// Three character classes, or letters with digits, or entropy ≥ 3.5 bits; never
/// one repeated character or a plain ascending run.
fn looks_random(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes
        .windows(2)
        .all(|w| w[0] == w[1] || w[1] == w[0].wrapping_add(1))
    {
        return false;
    }
    let lower = value.chars().any(|c| c.is_ascii_lowercase());
    let upper = value.chars().any(|c| c.is_ascii_uppercase());
    let digit = value.chars().any(|c| c.is_ascii_digit());
    let other = value.chars().any(|c| !c.is_ascii_alphanumeric());
    let classes = [lower, upper, digit, other].iter().filter(|&&b| b).count();
    classes >= 3 || (digit && (lower || upper)) || entropy(value) >= 3.5
}

/// Shannon entropy in bits per char.
fn entropy(value: &str) -> f64 {
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in value.chars() {
        *counts.entry(c).or_insert(0) += 1;
    }
    let n = value.chars().count() as f64;
    counts
        .values()
        .map(|&c| c as f64 / n)
        .map(|p| -p * p.log2())
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
