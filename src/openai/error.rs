//! Typed errors for the Responses client, and the one sentence a person sees.
//!
//! Variants drive behaviour (retry, chain reset, compaction); `user_message()` is the
//! text the LSP edge shows. Every message that came from the gateway passes through
//! [`clean_message`] when the error is built, so neither `Display`, `Debug` nor
//! `user_message()` can carry a key or an unbounded HTML page.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use super::key::ApiKey;

/// Gateway text is cut to this many characters: enough to act on, never a whole page.
pub const MAX_MESSAGE_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpenAiError {
    #[error("no API key configured")]
    MissingKey,
    #[error("refusing plain http:// to non-loopback host {host}")]
    InsecureBaseUrl { host: String },
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("authentication failed ({status}): {message}")]
    Auth { status: u16, message: String },
    #[error("quota exhausted: {message}")]
    Quota { message: String },
    #[error("rate limited (retry after {retry_after:?}): {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("context too long: {message}")]
    ContextTooLong { message: String },
    #[error("previous response not found: {message}")]
    PreviousResponseNotFound { message: String },
    #[error("bad request ({status}, code {code:?}): {message}")]
    BadRequest {
        status: u16,
        message: String,
        code: Option<String>,
    },
    #[error("server error ({status}, request id {request_id:?}): {message}")]
    Server {
        status: u16,
        message: String,
        request_id: Option<String>,
    },
    #[error("timed out waiting for the {what}")]
    Timeout { what: &'static str },
    #[error("stream stalled: no event within the idle timeout")]
    StreamStalled,
    #[error("stream closed before response.completed")]
    StreamEnded,
    #[error("response incomplete: {reason}")]
    Incomplete { reason: String },
    /// The gateway reported an error without saying which: an SSE `error` event with no
    /// code, type or status. `message` is its text (possibly empty).
    #[error("the model service sent an error event without a code: {message}")]
    GatewayError { message: String },
    #[error("response failed ({code:?}): {message}")]
    Failed {
        code: Option<String>,
        message: String,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("connection failed: {message}")]
    Connect { message: String },
    /// TLS handshake or certificate failure: retrying the same handshake will not help.
    #[error("TLS failure: {message}")]
    Tls { message: String },
    #[error("unexpected response: {message}")]
    UnexpectedResponse { message: String },
    /// The event stream could not be parsed (non-JSON data, missing payload).
    #[error("malformed event stream: {message}")]
    MalformedStream { message: String },
    /// One SSE event grew past the decoder's limit; aborted instead of buffering on.
    #[error("stream event larger than {limit} bytes")]
    EventTooLarge { limit: usize },
    /// Building the HTTP client failed (TLS setup); not a gateway problem.
    #[error("HTTP client setup failed: {message}")]
    ClientSetup { message: String },
}

/// How to change the model, when the service says the model is the problem (its code
/// `model_not_found`, or words like "model … does not exist"); else "".
fn model_hint(code: Option<&str>, message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    let says = |w: &str| m.contains(w);
    let bad_model = code.is_some_and(|c| c == "model_not_found" || c == "invalid_model")
        || (says("model")
            && (says("not found")
                || says("does not exist")
                || says("unknown")
                || says("not supported")
                || says("invalid model")
                || says("no such")));
    if bad_model {
        " To use another model, set `model` in your editor's codex settings (or \
         CODEX_LSP_MODEL where codex-lsp is started) to one this service serves."
    } else {
        ""
    }
}

impl OpenAiError {
    /// Whether the same request may succeed if simply sent again. The client's retry loop
    /// starts from this and then applies `x-should-retry` and the "no retry once the
    /// stream produced output" rule. `StreamEnded`/`StreamStalled` are only returned
    /// after events were seen (earlier drops are retried internally), so they are false.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Server { .. }
            | Self::Timeout { .. }
            | Self::Connect { .. } => true,
            Self::Failed { code, .. } => matches!(
                code.as_deref(),
                Some("server_error") | Some("internal_error") | None
            ),
            _ => false,
        }
    }

    /// One sentence a person can act on. Never contains the key.
    pub fn user_message(&self) -> String {
        match self {
            Self::MissingKey => "No API key: set CODEX_LSP_API_KEY (or OPENAI_API_KEY) in the \
                 environment codex-lsp is started from (in VS Code: run “Codex: Set API Key”)."
                .to_owned(),
            Self::InsecureBaseUrl { host } => format!(
                "Refusing to send the API key over plain http:// to {host}: use an https:// \
                 baseUrl (http:// is allowed only for localhost)."
            ),
            Self::InvalidBaseUrl { url, reason } => format!(
                "The baseUrl {url:?} is not usable ({reason}): set baseUrl (or the \
                 CODEX_LSP_BASE_URL environment variable) to something like https://host/v1; \
                 nothing is sent until then."
            ),
            Self::Auth {
                status: 403,
                message,
            } => format!(
                "The model service refused access (403): check that the API key in \
                 CODEX_LSP_API_KEY / OPENAI_API_KEY may use this model. The service said: \
                 {message}"
            ),
            Self::Auth { status, message } => format!(
                "The model service rejected the API key ({status}): check \
                 CODEX_LSP_API_KEY / OPENAI_API_KEY. The service said: {message}"
            ),
            Self::Quota { message } => format!(
                "The API quota is exhausted: check the account's plan and billing. \
                 The service said: {message}"
            ),
            Self::RateLimited {
                retry_after: Some(d),
                ..
            } => format!(
                "Rate limited by the model service: retry in {}.",
                human_wait(*d)
            ),
            Self::RateLimited {
                retry_after: None, ..
            } => "Rate limited by the model service: wait a little and retry.".to_owned(),
            Self::ContextTooLong { .. } => "The selection/context is too large for the model's \
                 context window: select less code or lower contextLines."
                .to_owned(),
            Self::PreviousResponseNotFound { .. } => "The server no longer knows this file's \
                 conversation (previous response not found): reset the chain and retry."
                .to_owned(),
            Self::BadRequest {
                status,
                message,
                code,
            } => {
                let code_raw = code.as_deref();
                let code = code
                    .as_deref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default();
                format!(
                    "The model service rejected the request ({status}{code}): {message}{}",
                    model_hint(code_raw, message)
                )
            }
            Self::Server {
                status,
                message,
                request_id,
            } => {
                let id = request_id
                    .as_deref()
                    .map(|id| format!(" (request id {id})"))
                    .unwrap_or_default();
                format!("The model service failed ({status}){id}: {message}. Retry later.")
            }
            Self::Timeout { what } => format!(
                "Timed out waiting for the {what}: check the network, or raise timeoutSecs."
            ),
            Self::StreamStalled => "The model stream stalled (no event within the idle \
                 timeout); nothing was applied. Retry."
                .to_owned(),
            Self::StreamEnded => "The model stream closed before the response completed; \
                 nothing was applied. Retry."
                .to_owned(),
            Self::Incomplete { reason } => match reason.as_str() {
                "max_output_tokens" | "max_tokens" => "The answer was cut off (max tokens): \
                     raise maxOutputTokens or select less code."
                    .to_owned(),
                "content_filter" => "The answer was blocked by the content filter.".to_owned(),
                other => format!("The model returned an incomplete answer ({other})."),
            },
            Self::GatewayError { message } if message.is_empty() => "The model service sent an \
                 error event without a code or a message; nothing was applied."
                .to_owned(),
            Self::GatewayError { message } => format!(
                "The model service sent an error event without a code: {message}. Nothing \
                 was applied.{}",
                model_hint(None, message)
            ),
            Self::Failed { code, message } => {
                let code = code.as_deref().unwrap_or("unknown");
                match model_hint(Some(code), message) {
                    "" => format!("The model failed ({code}): {message}. Retry later."),
                    hint => format!("The model failed ({code}): {message}.{hint}"),
                }
            }
            Self::Cancelled => "Cancelled.".to_owned(),
            Self::Connect { message } => {
                format!(
                    "Could not reach the model service ({message}): check baseUrl and the \
                     network."
                )
            }
            Self::Tls { message } => format!(
                "The secure connection to the model service failed ({message}): check that \
                 baseUrl uses https:// only for a TLS port and that the host's certificate is \
                 valid."
            ),
            Self::UnexpectedResponse { message } => {
                format!("Unexpected response from the model service: {message}. Check baseUrl.")
            }
            Self::MalformedStream { message } => {
                format!("The model stream was malformed ({message}); nothing was applied.")
            }
            Self::EventTooLarge { limit } => format!(
                "A model stream event exceeded {} MiB; aborted, nothing was applied.",
                limit / (1024 * 1024)
            ),
            Self::ClientSetup { message } => {
                format!("Could not set up the HTTP client: {message}.")
            }
        }
    }
}

/// "~45 s", "~10 min".
fn human_wait(d: Duration) -> String {
    let secs = d.as_secs_f64().ceil() as u64;
    if secs >= 120 {
        format!("~{} min", secs.div_ceil(60))
    } else {
        format!("~{} s", secs.max(1))
    }
}

static TOKEN_PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    // Patterns are literals; a failure here would be a programming error caught by the
    // tests, so an empty list (no scrubbing of that pattern) is the non-panicking fallback.
    [
        (r"(?i)\bbearer\s+[A-Za-z0-9._~+/=*-]+", "Bearer [REDACTED]"),
        (r"\bsk-[A-Za-z0-9_*.-]{4,}", "sk-[REDACTED]"),
    ]
    .into_iter()
    .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, r)))
    .collect()
});

/// Scrub anything that looks like a bearer token or `sk-` key, collapse whitespace and
/// truncate to [`MAX_MESSAGE_CHARS`]. Applied to every gateway-provided text.
pub fn clean_message(raw: &str) -> String {
    clean_message_with_key(raw, None)
}

/// Like [`clean_message`], and also removes the key and any 8+ character piece of it
/// (gateway keys need not start with `sk-`, and some gateways echo what they received).
/// Scrubbing happens on the whole text, before truncation, so a cut cannot leave a
/// prefix of the key behind.
pub fn clean_message_with_key(raw: &str, key: Option<&ApiKey>) -> String {
    truncate_chars(&scrub(raw, key), MAX_MESSAGE_CHARS)
}

/// [`clean_message_with_key`] without the truncation: for text that is still to be
/// searched (classification) before it is cut.
pub fn scrub(raw: &str, key: Option<&ApiKey>) -> String {
    let mut s = match key {
        Some(k) => k.redact(raw),
        None => raw.to_owned(),
    };
    for (re, rep) in TOKEN_PATTERNS.iter() {
        if re.is_match(&s) {
            s = re.replace_all(&s, *rep).into_owned();
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Everything known about one API error, from an HTTP error body, an `error` event or a
/// `response.failed` payload. [`ApiErrorInfo::classify`] turns it into the variant.
#[derive(Debug, Clone, Default)]
pub struct ApiErrorInfo {
    pub status: Option<u16>,
    pub code: Option<String>,
    pub kind: Option<String>,
    pub param: Option<String>,
    /// Scrubbed of the key ([`scrub`]) but not yet cut: classification reads all of it
    /// (a wrapped upstream error can sit past the cut); `classify` cuts it.
    pub message: String,
    pub retry_after: Option<Duration>,
    pub request_id: Option<String>,
    /// From an SSE `error` event, which without a code says nothing about its kind.
    pub from_error_event: bool,
}

/// An error nested inside another's message, as proxies report upstream failures:
/// LiteLLM's `litellm.BadRequestError: OpenAIException - {"error": {..., "code":
/// "previous_response_not_found"}}`, or a Python-repr'd dict with single quotes.
#[derive(Debug, Default, PartialEq)]
struct Wrapped {
    codes: Vec<String>,
    params: Vec<String>,
}

/// `"code": "x"`, `'code': 'x'`, `\"code\": \"x\"` (and `type`, `param`) anywhere in a text:
/// the fallback for nested errors that are not valid JSON (quoted, escaped, cut).
static WRAPPED_FIELD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"[\\"']*(code|type|param)[\\"']*\s*[:=]\s*[\\"']+([A-Za-z0-9_.-]+)"#).ok()
});

fn wrapped_errors(message: &str) -> Wrapped {
    let mut w = Wrapped::default();
    // Bounded: a message is at most the capped error body.
    for caps in WRAPPED_FIELD
        .iter()
        .flat_map(|re| re.captures_iter(message))
    {
        let (Some(field), Some(value)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        let value = value.as_str().to_owned();
        match field.as_str() {
            "param" => w.params.push(value),
            _ => w.codes.push(value),
        }
    }
    w
}

/// In-stream codes that describe a problem with the request itself: resending it
/// unchanged cannot help.
fn is_client_error_code(code: &str) -> bool {
    code.starts_with("invalid_")
        || code.ends_with("_not_found")
        || code.starts_with("unsupported_")
        || matches!(
            code,
            "bad_request" | "content_policy_violation" | "context_length_exceeded"
        )
}

impl ApiErrorInfo {
    pub fn classify(self) -> OpenAiError {
        let wrapped = wrapped_errors(&self.message);
        let outer = [self.code.as_deref(), self.kind.as_deref()];
        let any_code = |c: &str| {
            outer.iter().flatten().any(|o| *o == c) || wrapped.codes.iter().any(|w| w == c)
        };
        let full = self.message.as_str();
        let message = truncate_chars(full, MAX_MESSAGE_CHARS);
        if any_code("insufficient_quota") {
            return OpenAiError::Quota { message };
        }
        if any_code("context_length_exceeded") || full.contains("exceeds the context window") {
            return OpenAiError::ContextTooLong { message };
        }
        // Two shapes are seen: OpenAI's code, and the ChatGPT backend's
        // "Invalid `previous_response_id`." with code "invalid_request_error".
        let about_previous = self.param.as_deref() == Some("previous_response_id")
            || wrapped.params.iter().any(|p| p == "previous_response_id");
        // vLLM without its response store: 404 "Response with id '<id>' not found."
        let vllm_forgot = self.status == Some(404)
            && full.starts_with("Response with id")
            && full.contains("not found");
        if any_code("previous_response_not_found")
            || full.contains("Invalid `previous_response_id`")
            || (about_previous && full.contains("not found"))
            || vllm_forgot
        {
            return OpenAiError::PreviousResponseNotFound { message };
        }
        let code = self.code.as_deref().unwrap_or("");
        // Proxies put the HTTP status in `code` ("400") where an event has no status.
        let status = self
            .status
            .or_else(|| code.parse::<u16>().ok().filter(|s| (100..=599).contains(s)));
        let rate_limited = |message: String| OpenAiError::RateLimited {
            retry_after: self
                .retry_after
                .or_else(|| super::retry::parse_try_again_in(&message)),
            message,
        };
        match status {
            Some(s @ (401 | 403)) => OpenAiError::Auth { status: s, message },
            Some(429) => rate_limited(message),
            Some(s @ (408 | 409 | 500..=599)) => OpenAiError::Server {
                status: s,
                message,
                request_id: self.request_id,
            },
            Some(s @ 300..=399) => OpenAiError::UnexpectedResponse {
                message: format!("redirect ({s}) not followed: {message}"),
            },
            Some(s) if s >= 400 => OpenAiError::BadRequest {
                status: s,
                message,
                code: self.code,
            },
            // In-stream (no HTTP status, or a nonsense one): classify by code, else type.
            _ => {
                let kind = self.kind.as_deref().unwrap_or("");
                let by = if code.is_empty() { kind } else { code };
                match by {
                    "rate_limit_exceeded" => rate_limited(message),
                    "invalid_api_key" | "authentication_error" => OpenAiError::Auth {
                        status: 401,
                        message,
                    },
                    c if is_client_error_code(c) || kind == "invalid_request_error" => {
                        OpenAiError::BadRequest {
                            status: 400,
                            message,
                            code: self.code.or(self.kind),
                        }
                    }
                    "" if self.from_error_event => OpenAiError::GatewayError { message },
                    _ => OpenAiError::Failed {
                        code: self.code.or(self.kind),
                        message,
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn scrubs_tokens_and_truncates() {
        let raw = format!(
            "Incorrect API key provided: sk-proj-abcdEFGH1234. Authorization: Bearer xyz.123 {}",
            "x".repeat(1000)
        );
        let m = clean_message(&raw);
        assert!(!m.contains("abcdEFGH"));
        assert!(!m.contains("xyz.123"));
        assert!(m.contains("sk-[REDACTED]"));
        assert!(m.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn scrubs_exact_key() {
        let key = ApiKey::new("gw-secret-token-1".into());
        let m = clean_message_with_key("you sent gw-secret-token-1", Some(&key));
        assert_eq!(m, "you sent [REDACTED]");
    }

    #[test]
    fn classification() {
        let info = |status, code: &str, msg: &str| ApiErrorInfo {
            status,
            code: (!code.is_empty()).then(|| code.to_owned()),
            message: msg.to_owned(),
            ..Default::default()
        };
        assert!(matches!(
            info(Some(429), "insufficient_quota", "q").classify(),
            OpenAiError::Quota { .. }
        ));
        assert!(matches!(
            info(Some(429), "rate_limit_exceeded", "r").classify(),
            OpenAiError::RateLimited { .. }
        ));
        assert!(matches!(
            info(Some(400), "context_length_exceeded", "c").classify(),
            OpenAiError::ContextTooLong { .. }
        ));
        assert!(matches!(
            info(
                Some(400),
                "invalid_request_error",
                "Invalid `previous_response_id`."
            )
            .classify(),
            OpenAiError::PreviousResponseNotFound { .. }
        ));
        assert!(matches!(
            info(None, "server_error", "boom").classify(),
            OpenAiError::Failed { .. }
        ));
        match info(None, "rate_limit_exceeded", "Please try again in 1.5s.").classify() {
            OpenAiError::RateLimited { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_millis(1500)))
            }
            e => panic!("{e:?}"),
        }
    }

    const LITELLM: &str = r#"litellm.BadRequestError: OpenAIException - {"error": {"message": "Previous response with id 'resp_x' not found.", "type": "invalid_request_error", "param": "previous_response_id", "code": "previous_response_not_found"}}"#;

    fn wrapped(status: Option<u16>, code: Option<&str>, message: &str) -> OpenAiError {
        ApiErrorInfo {
            status,
            code: code.map(str::to_owned),
            message: message.to_owned(),
            ..Default::default()
        }
        .classify()
    }

    /// Regression: LiteLLM's 400 wrapping an upstream error was a plain BadRequest, so
    /// the chain was never reset.
    #[test]
    fn wrapped_upstream_errors() {
        for status in [Some(400), None] {
            assert!(
                matches!(
                    wrapped(status, Some("400"), LITELLM),
                    OpenAiError::PreviousResponseNotFound { .. }
                ),
                "{status:?}"
            );
        }
        let ctx = LITELLM
            .replace("previous_response_not_found", "context_length_exceeded")
            .replace("previous_response_id", "input");
        assert!(matches!(
            wrapped(Some(400), Some("400"), &ctx),
            OpenAiError::ContextTooLong { .. }
        ));
        let quota = "litellm.RateLimitError: OpenAIException - {'error': {'message': 'You exceeded your current quota', 'type': 'insufficient_quota', 'param': None, 'code': 'insufficient_quota'}}";
        assert!(matches!(
            wrapped(Some(429), Some("429"), quota),
            OpenAiError::Quota { .. }
        ));
        // vLLM's store is off by default: a chained request gets a 404
        assert!(matches!(
            wrapped(Some(404), None, "Response with id 'resp_1' not found."),
            OpenAiError::PreviousResponseNotFound { .. }
        ));
        // Escaped once more inside a JSON string.
        let escaped = r#"upstream: {\"error\": {\"code\": \"previous_response_not_found\"}}"#;
        assert!(matches!(
            wrapped(Some(400), None, escaped),
            OpenAiError::PreviousResponseNotFound { .. }
        ));
        // The wrapped error past MAX_MESSAGE_CHARS is still found; the message is cut.
        let long = format!("{} {LITELLM}", "x".repeat(400));
        match wrapped(Some(400), Some("400"), &long) {
            OpenAiError::PreviousResponseNotFound { message } => {
                assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1)
            }
            e => panic!("{e:?}"),
        }
        // Without a wrapped code it stays a plain bad request.
        assert!(matches!(
            wrapped(Some(400), Some("400"), "litellm.BadRequestError: nope"),
            OpenAiError::BadRequest { status: 400, .. }
        ));
    }

    /// In-stream errors that describe the request are client errors, never retried.
    #[test]
    fn in_stream_client_errors_are_final() {
        let ev = |code: Option<&str>, kind: Option<&str>| ApiErrorInfo {
            code: code.map(str::to_owned),
            kind: kind.map(str::to_owned),
            message: "m".to_owned(),
            from_error_event: true,
            ..Default::default()
        };
        for (code, kind) in [
            (Some("invalid_prompt"), None),
            (Some("invalid_value"), None),
            (None, Some("invalid_request_error")),
            (Some("400"), None),
            (Some("422"), None),
            (Some("model_not_found"), None),
            (Some("invalid_api_key"), None),
        ] {
            let e = ev(code, kind).classify();
            assert!(!e.is_retryable(), "{code:?} {kind:?} -> {e:?}");
        }
        assert!(ev(Some("server_error"), None).classify().is_retryable());
        assert!(ev(None, Some("server_error")).classify().is_retryable());
        assert_eq!(
            ev(None, None).classify(),
            OpenAiError::GatewayError {
                message: "m".into()
            }
        );
        let empty = ApiErrorInfo {
            from_error_event: true,
            ..Default::default()
        }
        .classify();
        assert!(!empty.is_retryable());
        assert!(
            empty.user_message().contains("without a code or a message"),
            "{}",
            empty.user_message()
        );
    }

    /// Users talk to OpenAI itself or a local server as often as to a gateway: messages
    /// name "the model service", and a bad model says how to change it.
    #[test]
    fn messages_say_the_model_service_and_how_to_change_a_bad_model() {
        let m = |s: &str| s.to_owned();
        let all = [
            OpenAiError::Auth {
                status: 403,
                message: m("no"),
            },
            OpenAiError::Auth {
                status: 401,
                message: m("no"),
            },
            OpenAiError::Quota { message: m("q") },
            OpenAiError::RateLimited {
                retry_after: None,
                message: m("r"),
            },
            OpenAiError::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
                message: m("r"),
            },
            OpenAiError::BadRequest {
                status: 400,
                message: m("bad"),
                code: None,
            },
            OpenAiError::Server {
                status: 502,
                message: m("s"),
                request_id: None,
            },
            OpenAiError::GatewayError { message: m("") },
            OpenAiError::GatewayError { message: m("g") },
            OpenAiError::Connect {
                message: m("refused"),
            },
            OpenAiError::Tls { message: m("cert") },
            OpenAiError::UnexpectedResponse { message: m("html") },
        ];
        for e in &all {
            let text = e.user_message();
            assert!(!text.to_lowercase().contains("gateway"), "{text}");
            assert!(!format!("{e}").to_lowercase().contains("gateway"), "{e}");
            assert!(
                !text.contains("set `model`"),
                "no model hint for {e:?}: {text}"
            );
        }
        assert!(
            all[9]
                .user_message()
                .starts_with("Could not reach the model service")
        );
        for e in [
            OpenAiError::BadRequest {
                status: 404,
                message: m("The model `gpt-x` does not exist or you do not have access to it."),
                code: Some(m("model_not_found")),
            },
            OpenAiError::BadRequest {
                status: 400,
                message: m("x"),
                code: Some(m("model_not_found")),
            },
            OpenAiError::GatewayError {
                message: m("unknown model: gpt-x"),
            },
            OpenAiError::Failed {
                code: Some(m("invalid_model")),
                message: m("nope"),
            },
        ] {
            let text = e.user_message();
            assert!(
                text.contains("set `model` in your editor's codex settings")
                    && text.contains("CODEX_LSP_MODEL"),
                "{text}"
            );
            assert!(!text.contains("Retry later"), "{text}");
        }
    }

    #[test]
    fn human_waits() {
        assert_eq!(human_wait(Duration::from_secs(600)), "~10 min");
        assert_eq!(human_wait(Duration::from_millis(1500)), "~2 s");
    }
}
