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

/// How far around the text that is sent secrets are looked for: wider than any
/// secret's shape (a PEM private key is a few KB, a generic value at most 8 KB), so a
/// secret the window cuts is still seen whole, without scanning a whole large file.
pub const SECRET_MARGIN_CHARS: usize = 16 * 1024;

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
    /// A query-string value: group 1 if it looks like a secret.
    Query,
}

struct Rule {
    kind: &'static str,
    re: Regex,
    take: Take,
    /// Whether a match can run over a line break (see [`spans_lines`]).
    spans_lines: bool,
}

/// Whether `pattern` can match across a line break: `(?s)`, or `\s` repeated outside a
/// class. Every other rule matches within one line (its classes exclude `\s`, or hold
/// only spaces and tabs). A unit test pins which rules these are.
fn spans_lines(pattern: &str) -> bool {
    pattern.contains("(?s)") || pattern.contains(r"\s*") || pattern.contains(r"\s+")
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
        "aws-session-token",
        r"\b(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9/+=]{40,}",
        Take::Whole,
    ),
    (
        "aws-session-token",
        r#"(?i)(?:aws_?)?session_?token["']?\s*(?::=|=>|=|:)\s*["']?([A-Za-z0-9/+=]{100,})"#,
        Take::Group1,
    ),
    // a short payload (`e30` is `{}`) is still a signed token
    (
        "jwt",
        r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]*",
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
    // credentials in a URL's query string, inside a string literal or not: the generic
    // rule below sees `url: "https://…"` as one assignment and would skip them
    (
        "secret",
        r"(?i)[?&;](?:api[_\-]?key|apikey|key|access[_\-]?token|auth[_\-]?token|token|auth|sig|signature|secret|client[_\-]?secret|password|passwd|pwd|x-amz-signature|x-amz-security-token|x-amz-credential)=([^&#\s\x22'<>`]+)",
        Take::Query,
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

/// The secret rules, compiled on first use (or by [`Redactor::warm`]): compiling them
/// is most of the work a fresh process does, and `initialize` should not wait for it.
/// Build once and share.
pub struct Redactor {
    rules: std::sync::OnceLock<Vec<Rule>>,
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("compiled", &self.rules.get().map(Vec::len))
            .finish()
    }
}

impl Redactor {
    /// A redactor whose rules compile when first needed.
    pub fn new() -> Self {
        Self {
            rules: std::sync::OnceLock::new(),
        }
    }

    /// Compiles every pattern now (blocking), so that the first request does not.
    pub fn warm(&self) {
        self.rules();
        for helper in [&LITERAL_CHAIN, &BASE64_RUN] {
            std::sync::LazyLock::force(helper);
        }
    }

    /// The compiled rules. (A rule that failed to compile would be logged and
    /// skipped; a test pins that all of them compile.)
    fn rules(&self) -> &[Rule] {
        self.rules.get_or_init(|| {
            RULES
                .iter()
                .filter_map(|&(kind, pattern, take)| match Regex::new(pattern) {
                    Ok(re) => Some(Rule {
                        kind,
                        re,
                        take,
                        spans_lines: spans_lines(pattern),
                    }),
                    Err(e) => {
                        tracing::error!(kind, error = %e, "secret rule failed to compile");
                        None
                    }
                })
                .collect()
        })
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
    /// after) through one map, as [`Redactor::redact_window`] does with no more of the
    /// document than the slices.
    pub fn redact_parts(&self, parts: &[&str], ctx: &mut RedactionMap) -> Vec<String> {
        let joined = parts.concat();
        self.redact_window(&joined, 0, parts, ctx)
    }

    /// Redacts `parts`, contiguous slices of `document` starting at byte `start` (the
    /// context before, the selection, the context after). Secrets are found on the
    /// whole document, then cut: a slice that holds only part of a secret (a value
    /// whose name is outside the window, a key the selection ends inside, the body of
    /// a private key whose BEGIN line is above the context) gets the placeholder for
    /// that part. The window alone is searched too, and both finds count. When the
    /// slices are not where `start` says, only they are searched.
    pub fn redact_window(
        &self,
        document: &str,
        start: usize,
        parts: &[&str],
        ctx: &mut RedactionMap,
    ) -> Vec<String> {
        let joined = parts.concat();
        let in_place = document
            .get(start..start + joined.len())
            .is_some_and(|w| w == joined);
        let (doc, base) = if in_place {
            (document, start)
        } else {
            (joined.as_str(), 0)
        };
        let mut found = self.find_around(doc, base..base + joined.len());
        if in_place && doc.len() != joined.len() {
            found.extend(
                self.find(&joined)
                    .into_iter()
                    .map(|(s, e, k)| (s + base, e + base, k)),
            );
            found = merge(found);
        }
        cut_parts(doc, base, parts, &found, ctx)
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

    /// Sorted, disjoint byte ranges of secrets and their kinds: the rules on the text
    /// as it is, on the contents of adjacent string literals joined (`"sk-proj-ab"
    /// "cd…"`), and on base64 runs decoded (a key stored encoded).
    fn find(&self, text: &str) -> Vec<(usize, usize, &'static str)> {
        let mut found = self.find_plain(text);
        found.extend(self.find_in_literal_chains(text));
        found.extend(self.find_in_base64(text));
        merge(found)
    }

    /// What [`Redactor::find`] on all of `doc` finds that touches `window`, scanning
    /// less: a rule confined to one line scans only the lines the window touches and
    /// [`NEAR_LINES`] around them (a match touching the window lies there); the rules
    /// that span lines and the literal chains scan all of `doc`.
    fn find_around(
        &self,
        doc: &str,
        window: std::ops::Range<usize>,
    ) -> Vec<(usize, usize, &'static str)> {
        let near = widen_to_lines(doc, window, NEAR_LINES);
        let shift = |v: Vec<(usize, usize, &'static str)>| {
            v.into_iter()
                .map(|(s, e, k)| (s + near.start, e + near.start, k))
                .collect::<Vec<_>>()
        };
        let mut found = shift(self.find_plain_where(&doc[near.clone()], |r| !r.spans_lines));
        found.extend(shift(self.find_in_base64(&doc[near.clone()])));
        found.extend(self.find_plain_where(doc, |r| r.spans_lines));
        found.extend(self.find_in_literal_chains(doc));
        merge(found)
    }

    /// A secret spread over adjacent string literals, as the ranges of its pieces.
    fn find_in_literal_chains(&self, text: &str) -> Vec<(usize, usize, &'static str)> {
        let mut out = Vec::new();
        let Some(chains) = &*LITERAL_CHAIN else {
            return out;
        };
        for chain in chains.find_iter(text) {
            let contents: Vec<(usize, usize)> = literal_contents(chain.as_str())
                .filter(|(s, e)| s < e)
                .map(|(s, e)| (chain.start() + s, chain.start() + e))
                .collect();
            // only a secret split over two literals is new here (a docstring's
            // `""` + `"…"` + `""` is one non-empty piece)
            if contents.len() < 2 {
                continue;
            }
            // (content range in `text`, offset of that content in `joined`)
            let mut pieces: Vec<(usize, usize, usize)> = Vec::with_capacity(contents.len());
            let mut joined = String::new();
            for (s, e) in contents {
                pieces.push((s, e, joined.len()));
                joined.push_str(&text[s..e]);
            }
            for (js, je, kind) in self.find_plain(&joined) {
                let hit: Vec<(usize, usize)> = pieces
                    .iter()
                    .filter_map(|&(s, e, at)| {
                        let (ps, pe) = (js.max(at), je.min(at + (e - s)));
                        (ps < pe).then(|| (s + ps - at, s + pe - at))
                    })
                    .collect();
                // within one literal the plain pass finds it already
                if hit.len() > 1 {
                    out.extend(hit.into_iter().map(|(s, e)| (s, e, kind)));
                }
            }
        }
        out
    }

    /// Base64 runs whose decoded text holds a secret, whole.
    fn find_in_base64(&self, text: &str) -> Vec<(usize, usize, &'static str)> {
        let Some(runs) = &*BASE64_RUN else {
            return Vec::new();
        };
        runs.find_iter(text)
            .filter_map(|m| {
                let decoded = decode_base64(m.as_str())?;
                let decoded = String::from_utf8(decoded).ok()?;
                let (_, _, kind) = *self.find_plain(&decoded).first()?;
                Some((m.start(), m.end(), kind))
            })
            .collect()
    }

    fn find_plain(&self, text: &str) -> Vec<(usize, usize, &'static str)> {
        self.find_plain_where(text, |_| true)
    }

    /// [`Redactor::find_plain`] with only the rules `keep` chooses.
    fn find_plain_where(
        &self,
        text: &str,
        keep: impl Fn(&Rule) -> bool,
    ) -> Vec<(usize, usize, &'static str)> {
        let mut found: Vec<(usize, usize, usize, &'static str)> = Vec::new();
        for (priority, rule) in self.rules().iter().enumerate() {
            if !keep(rule) {
                continue;
            }
            for range in rule_ranges(rule, text) {
                let range = match rule.kind {
                    "private-key" => range.start..key_block_end(text, range),
                    _ => range,
                };
                if !range.is_empty() {
                    found.push((range.start, priority, range.end, rule.kind));
                }
            }
        }
        found.sort_unstable();
        merge(found.into_iter().map(|(s, _, e, k)| (s, e, k)).collect())
    }
}

/// The ranges `rule` takes in `text`. Capture groups are resolved only where they
/// decide something: a whole-match rule needs none, and the generic assignment rule,
/// which matches nearly every line of code, only for a name that may be a secret's.
fn rule_ranges(rule: &Rule, text: &str) -> Vec<std::ops::Range<usize>> {
    let with_groups = |m: regex::Match<'_>| rule.re.captures_at(text, m.start());
    match rule.take {
        Take::Whole => rule.re.find_iter(text).map(|m| m.range()).collect(),
        Take::Assignment => rule
            .re
            .find_iter(text)
            .filter(|m| may_be_secret_name(m.as_str()))
            .filter_map(|m| generic_value(text, &with_groups(m)?))
            .collect(),
        _ => rule
            .re
            .captures_iter(text)
            .filter_map(|caps| match rule.take {
                Take::Group1 => caps.get(1).map(|m| m.range()),
                Take::Credential => caps
                    .get(1)
                    .filter(|m| looks_random(m.as_str()))
                    .map(|m| m.range()),
                Take::UrlPassword => caps
                    .get(1)
                    .filter(|m| !is_placeholder(m.as_str()))
                    .map(|m| m.range()),
                Take::Query => caps
                    .get(1)
                    .filter(|m| is_secret_value(m.as_str()))
                    .map(|m| m.range()),
                Take::Whole | Take::Assignment => caps.get(0).map(|m| m.range()),
            })
            .collect(),
    }
}

/// Whether the name an assignment match starts with holds a stem every name
/// [`is_secret_name`] accepts holds: a cheap test that spares resolving the groups of
/// the many assignments that cannot be secrets.
fn may_be_secret_name(assignment: &str) -> bool {
    const STEMS: &[&[u8]] = &[
        b"pass",
        b"pwd",
        b"secret",
        b"token",
        b"key",
        b"auth",
        b"credential",
    ];
    let name_len = assignment
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
        .unwrap_or(assignment.len());
    let name = assignment.as_bytes()[..name_len].to_ascii_lowercase();
    STEMS
        .iter()
        .any(|stem| name.windows(stem.len()).any(|w| w == *stem))
}

/// `parts` (contiguous, from byte `base` of `doc`), each with the secrets `found` in
/// `doc` that overlap it replaced by their placeholder (a secret cut by a part's edge
/// gets the placeholder in each part it touches).
fn cut_parts(
    doc: &str,
    base: usize,
    parts: &[&str],
    found: &[(usize, usize, &'static str)],
    ctx: &mut RedactionMap,
) -> Vec<String> {
    let mut out = Vec::with_capacity(parts.len());
    let mut offset = base;
    for part in parts {
        let (ps, pe) = (offset, offset + part.len());
        offset = pe;
        let mut text = String::with_capacity(part.len());
        let mut last = ps;
        for &(s, e, kind) in found.iter().filter(|&&(s, e, _)| s < pe && e > ps) {
            text.push_str(&doc[last..s.max(ps)]);
            text.push_str(&ctx.placeholder(kind, &doc[s..e]));
            last = e.min(pe);
        }
        text.push_str(&doc[last..pe]);
        out.push(text);
    }
    out
}

/// Lines of context a one-line rule is scanned over beyond the window's own lines.
const NEAR_LINES: usize = 2;

/// `window` widened to whole lines of `text` (split at `\n`), and `lines` more on each
/// side.
fn widen_to_lines(
    text: &str,
    window: std::ops::Range<usize>,
    lines: usize,
) -> std::ops::Range<usize> {
    let s = window.start.min(text.len());
    let mut start = text[..s].rfind('\n').map_or(0, |i| i + 1);
    for _ in 0..lines {
        if start == 0 {
            break;
        }
        // `start - 1` is the `\n` ending the line before
        start = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
    }
    let next_end = |from: usize| text[from..].find('\n').map_or(text.len(), |i| from + i + 1);
    let mut end = next_end(window.end.clamp(s, text.len()));
    for _ in 0..lines {
        end = next_end(end);
    }
    start..end
}

/// Sorted and disjoint: overlapping ranges become one (the earlier one's kind), so a
/// secret that overlaps another is never left partly in the clear.
fn merge(mut found: Vec<(usize, usize, &'static str)>) -> Vec<(usize, usize, &'static str)> {
    found.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
    let mut out: Vec<(usize, usize, &'static str)> = Vec::new();
    for (start, end, kind) in found {
        match out.last_mut() {
            Some(last) if start < last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end, kind)),
        }
    }
    out
}

/// Where an unterminated private-key block ends: after its BEGIN line and the
/// base64 (and `Proc-Type:`-style header) lines that follow. A complete block ends at
/// its END line. A lone BEGIN (a parser's constant) so never swallows the code after it.
fn key_block_end(text: &str, r: std::ops::Range<usize>) -> usize {
    if text[r.clone()].contains("-----END") {
        return r.end;
    }
    let mut end = text[r.start..]
        .find('\n')
        .map_or(text.len(), |i| r.start + i);
    while end < text.len() {
        let next = end + 1;
        let line_end = text[next..].find('\n').map_or(text.len(), |i| next + i);
        let line = text[next..line_end]
            .trim()
            .trim_matches(|c: char| matches!(c, '"' | '\'' | '`' | ',' | ';' | '+' | '\\'))
            .trim_end_matches("\\n")
            .trim();
        let header = line.split_once(": ").is_some_and(|(k, _)| {
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
        });
        let body = line.len() >= 4
            && line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if !(header || body) {
            break;
        }
        end = line_end;
    }
    end.min(r.end).max(r.start)
}

/// Two or more string literals next to each other, joined by nothing, `+`, `.`, `..`,
/// `&` or `||` (C and Python juxtaposition, JS/Java `+`, PHP `.`, Lua `..`).
static LITERAL_CHAIN: std::sync::LazyLock<Option<Regex>> = std::sync::LazyLock::new(|| {
    let sep = r"[ \t]*(?:\\?\r?\n[ \t]*)*(?:\+|\.\.|\.|&|\|\|)?[ \t]*(?:\r?\n[ \t]*)*";
    compiled(&format!("{LITERAL_PATTERN}(?:{sep}{LITERAL_PATTERN})+"))
});

/// The content ranges (inside the quotes) of the string literals of a match of
/// [`LITERAL_CHAIN`], in order: what [`LITERAL`] finds there, without a regex search
/// per chain (a docstring is a chain: `""` `"…"` `""`). Between literals a chain holds
/// no quote; inside one, a backslash escapes the next character.
fn literal_contents(chain: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = chain.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && !matches!(bytes[i], b'"' | b'\'') {
            i += 1;
        }
        let quote = *bytes.get(i)?;
        let start = i + 1;
        let mut j = start;
        while j < bytes.len() && bytes[j] != quote {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        let end = j.min(bytes.len());
        i = end + 1;
        Some((start, end))
    })
}

const LITERAL_PATTERN: &str = r#"(?:"[^"\\\n]*(?:\\.[^"\\\n]*)*"|'[^'\\\n]*(?:\\.[^'\\\n]*)*')"#;

/// One string literal ([`literal_contents`] is checked against it).
#[cfg(test)]
static LITERAL: std::sync::LazyLock<Option<Regex>> =
    std::sync::LazyLock::new(|| compiled(LITERAL_PATTERN));

/// Candidate base64 (standard or URL-safe) long enough to hold a key.
static BASE64_RUN: std::sync::LazyLock<Option<Regex>> =
    std::sync::LazyLock::new(|| compiled(r"[A-Za-z0-9+/_\-]{24,}={0,2}"));

/// A helper pattern, or `None` (logged) should it fail to compile; a unit test pins
/// that they all compile.
fn compiled(pattern: &str) -> Option<Regex> {
    Regex::new(pattern)
        .inspect_err(|e| tracing::error!(error = %e, "secret pattern failed to compile"))
        .ok()
}

/// Standard or URL-safe base64, padding optional; `None` when it is not base64.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
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
    // long enough for an AWS session token (600+ characters)
    (8..=8192).contains(&n)
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
