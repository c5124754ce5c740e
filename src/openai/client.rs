//! HTTP transport for `POST {base_url}/responses`: auth, timeouts, cancellation, retries.
//! Parsing lives in `sse.rs`/`types.rs`; this file only moves bytes and decides.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LOCATION};
use reqwest::{Response, Url};
use serde::Deserialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::{ApiErrorInfo, OpenAiError, clean_message, clean_message_with_key, scrub};
use super::key::ApiKey;
use super::retry;
use super::sse::{SseDecoder, StreamEvent};
use super::types::{CreateResponse, ResponseObject};

mod warm;

/// Error bodies are read up to this size; the rest is irrelevant to a message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A non-streaming JSON response larger than this is refused rather than buffered.
const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    /// Bound on the whole request: every attempt and every wait between attempts
    /// (`timeoutSecs`). A retry that could not finish in time is not started.
    pub timeout: Duration,
    /// Bound between two SSE events; `:` keep-alive comments do not count.
    pub idle_timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt (attempts = max_retries + 1).
    pub max_retries: u32,
    /// The longest server-requested wait we honour; a longer hint fails at once.
    pub max_retry_wait: Duration,
}

impl ClientConfig {
    /// Defaults from INTERFACE.md / reliability.md §4.3.
    pub fn new(base_url: impl Into<String>, api_key: Option<ApiKey>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key,
            timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_retries: 2,
            max_retry_wait: Duration::from_secs(60),
        }
    }
}

/// Whether requests to an endpoint may go through a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyPolicy {
    /// Connect straight to the host, whatever the environment says.
    Direct,
    /// Use the proxy the environment names, unless `NO_PROXY` excludes the host.
    FromEnvironment,
}

/// How a proxy is chosen:
///
/// 1. A loopback endpoint (`localhost`, 127.0.0.0/8, `::1`) never uses a proxy: the
///    gateway runs on this machine, and a proxy would receive the `Authorization`
///    header of a request that was meant never to leave it.
/// 2. A plain `http://` endpoint never uses a proxy: the request, key included, would
///    cross the proxy in clear text. (`responses_endpoint` only allows http:// for
///    loopback anyway; this holds even if that rule changes.)
/// 3. Otherwise (https:// to another host) reqwest's system proxy applies: `HTTPS_PROXY`
///    / `ALL_PROXY` (and the OS settings on macOS/Windows), skipped for hosts matched by
///    `NO_PROXY` / `no_proxy`. The request is tunnelled with `CONNECT`, so TLS runs end
///    to end and the proxy never sees the key.
pub fn proxy_policy(endpoint: &Url) -> ProxyPolicy {
    let loopback = endpoint.host_str().is_some_and(is_loopback);
    if loopback || endpoint.scheme() != "https" {
        ProxyPolicy::Direct
    } else {
        ProxyPolicy::FromEnvironment
    }
}

/// The only place a `reqwest::Client` is built (clippy.toml forbids the others): the
/// ring provider must be installed first, redirects are never followed so the key is
/// never replayed to another host, and the proxy follows [`proxy_policy`] for
/// `endpoint`.
#[allow(clippy::disallowed_methods)]
pub fn http_client(
    connect_timeout: Duration,
    endpoint: &Url,
) -> Result<reqwest::Client, OpenAiError> {
    // Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none());
    match proxy_policy(endpoint) {
        ProxyPolicy::Direct => builder = builder.no_proxy(),
        // reqwest's default: the environment's proxies, minus NO_PROXY.
        ProxyPolicy::FromEnvironment => {}
    }
    builder.build().map_err(|e| OpenAiError::ClientSetup {
        message: clean_message(&e.to_string()),
    })
}

/// Checks the scheme and host and returns `{base}/responses`.
pub fn responses_endpoint(base_url: &str) -> Result<Url, OpenAiError> {
    let invalid = |reason: &str| OpenAiError::InvalidBaseUrl {
        url: display_url(base_url),
        reason: reason.to_owned(),
    };
    let trimmed = base_url.trim();
    let url = Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
    let host = url.host_str().ok_or_else(|| invalid("no host"))?.to_owned();
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => return Err(OpenAiError::InsecureBaseUrl { host }),
        _ => return Err(invalid("scheme must be https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials in the URL are not allowed"));
    }
    let joined = format!("{}/responses", trimmed.trim_end_matches('/'));
    Url::parse(&joined).map_err(|e| invalid(&e.to_string()))
}

/// A base URL fit for messages and reports: any `user:password@` part is removed.
pub fn display_url(base_url: &str) -> String {
    match Url::parse(base_url.trim()) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            // Only fails for URLs that cannot have credentials, which these do.
            let _ = u.set_username("");
            let _ = u.set_password(None);
            clean_message(u.as_str())
        }
        Ok(u) => clean_message(u.as_str()),
        Err(_) => clean_message(base_url),
    }
}

/// The host (and port, when not the scheme's default) a base URL sends to, for
/// messages; the base URL as shown by [`display_url`] when it has no host.
pub fn display_host(base_url: &str) -> String {
    match Url::parse(base_url.trim()) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => clean_message(&format!("{h}:{p}")),
            (Some(h), None) => clean_message(h),
            (None, _) => display_url(base_url),
        },
        Err(_) => display_url(base_url),
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// Cheap to clone; one connection pool shared by all clones.
#[derive(Debug, Clone)]
pub struct ResponsesClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    endpoint: Url,
    cfg: ClientConfig,
    /// When the service was last reached (a request or a warm-up begun), for
    /// [`ResponsesClient::warm_if_idle`].
    last_contact: std::sync::Mutex<Option<Instant>>,
}

/// Why one attempt failed, and whether another attempt may help.
struct AttemptError {
    err: OpenAiError,
    retry: Retry,
    /// Server-requested delay before the next attempt.
    hint: Option<Duration>,
}

/// Whether a failed attempt may be sent again (always within `max_retries` and the
/// whole-request deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    No,
    /// Transient, or nothing of the answer had arrived yet.
    Yes,
    /// The stream ended or stalled after some events but before any output: re-issued
    /// at most once per request (reliability.md §4.3).
    Reissue,
}

impl Retry {
    fn when(cond: bool) -> Self {
        if cond { Self::Yes } else { Self::No }
    }
}

impl AttemptError {
    fn fatal(err: OpenAiError) -> Self {
        Self {
            err,
            retry: Retry::No,
            hint: None,
        }
    }
}

/// What the attempt saw of the stream.
#[derive(Default)]
struct Progress {
    /// Any event at all: a drop or stall after that is re-issued only once.
    events: bool,
    /// Output the user may have seen (`TextDelta`/`FunctionArgsDelta`): after that
    /// nothing is resent, so progress text is never duplicated.
    output: bool,
}

impl ResponsesClient {
    /// Refuses `http://` to non-loopback hosts before anything is sent.
    pub fn new(cfg: ClientConfig) -> Result<Self, OpenAiError> {
        let endpoint = responses_endpoint(&cfg.base_url)?;
        let http = http_client(cfg.connect_timeout, &endpoint)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoint,
                cfg,
                last_contact: std::sync::Mutex::new(None),
            }),
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.inner.endpoint
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// One `POST {base_url}/responses`, retried per policy. Streams when `req.stream`
    /// (calling `on_event` for every event, terminal ones included), else parses the JSON
    /// body. Returns only a completed response; cancelling `cancel` drops the HTTP request
    /// at once and returns `Cancelled`.
    ///
    /// Retries never follow streamed output: an attempt that already produced a
    /// `TextDelta`/`FunctionArgsDelta` is never resent, so progress text is never
    /// duplicated. A stream that ends or stalls after other events but before any
    /// output is re-issued once; one that breaks before any event is retried like a
    /// connection error. A resent attempt may repeat `Created`/`Other` events.
    /// Before each wait between attempts `on_event` gets [`StreamEvent::Retrying`].
    /// `ClientConfig::timeout` bounds the whole call, waits included.
    pub async fn create(
        &self,
        req: &CreateResponse,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(&StreamEvent) + Send),
    ) -> Result<ResponseObject, OpenAiError> {
        let key = self
            .inner
            .cfg
            .api_key
            .as_ref()
            .ok_or(OpenAiError::MissingKey)?;
        let body = serde_json::to_vec(req).map_err(|e| OpenAiError::UnexpectedResponse {
            message: format!("request not serialisable: {e}"),
        })?;
        self.touch();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(OpenAiError::Cancelled),
            r = self.run(key, body, req.stream, on_event) => r,
        }
    }

    async fn run(
        &self,
        key: &ApiKey,
        body: Vec<u8>,
        stream: bool,
        on_event: &mut (dyn FnMut(&StreamEvent) + Send),
    ) -> Result<ResponseObject, OpenAiError> {
        let cfg = &self.inner.cfg;
        // One deadline for all attempts and waits. A timeout too large to represent
        // means no deadline in practice.
        let deadline = after(cfg.timeout);
        let mut retry_no = 0u32;
        let mut reissued = false;
        loop {
            tracing::debug!(attempt = retry_no + 1, stream, "POST /responses");
            let mut progress = Progress::default();
            let attempt = self.attempt(key, &body, stream, &mut progress, on_event);
            let failure = match tokio::time::timeout_at(deadline, attempt).await {
                Ok(Ok(resp)) => return Ok(resp),
                Ok(Err(f)) => f,
                Err(_) => return Err(OpenAiError::Timeout { what: "response" }),
            };
            match failure.retry {
                Retry::No => return Err(failure.err),
                Retry::Reissue if reissued => return Err(failure.err),
                Retry::Reissue => reissued = true,
                Retry::Yes => {}
            }
            if retry_no >= cfg.max_retries {
                return Err(failure.err);
            }
            let wait = match failure.hint {
                Some(h) if h > cfg.max_retry_wait => {
                    tracing::debug!(hint_ms = h.as_millis() as u64, "retry hint too long");
                    return Err(failure.err);
                }
                Some(h) if !h.is_zero() => h,
                _ => retry::backoff(retry_no),
            };
            // A retry that could not even start before the deadline is not worth the wait.
            if Instant::now()
                .checked_add(wait)
                .is_none_or(|t| t >= deadline)
            {
                tracing::debug!(wait_ms = wait.as_millis() as u64, "no time left to retry");
                return Err(failure.err);
            }
            tracing::warn!(
                error = %failure.err,
                wait_ms = wait.as_millis() as u64,
                "retrying POST /responses"
            );
            on_event(&StreamEvent::Retrying {
                wait,
                reason: retry_reason(&failure.err),
            });
            // Cancellable: `create` drops this future when the token fires.
            tokio::time::sleep(wait).await;
            retry_no += 1;
        }
    }

    async fn attempt(
        &self,
        key: &ApiKey,
        body: &[u8],
        stream: bool,
        progress: &mut Progress,
        on_event: &mut (dyn FnMut(&StreamEvent) + Send),
    ) -> Result<ResponseObject, AttemptError> {
        let mut rb = self
            .inner
            .http
            .post(self.inner.endpoint.clone())
            .bearer_auth(key.expose())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        rb = rb.header(
            ACCEPT,
            if stream {
                "text/event-stream"
            } else {
                "application/json"
            },
        );
        let resp = rb.send().await.map_err(|e| transport_error(&e, key))?;
        let status = resp.status().as_u16();
        let request_id = header_str(resp.headers(), "x-request-id")
            .map(|s| clean_message_with_key(&s, Some(key)));
        tracing::debug!(
            status,
            request_id = request_id.as_deref(),
            "response headers"
        );

        if (300..400).contains(&status) {
            let to = header_str(resp.headers(), LOCATION.as_str())
                .map(|l| format!(" to {}", clean_message_with_key(&l, Some(key))))
                .unwrap_or_default();
            return Err(AttemptError::fatal(OpenAiError::UnexpectedResponse {
                message: format!(
                    "the gateway answered with a redirect ({status}){to}, which is not followed; \
                     set baseUrl to the final address"
                ),
            }));
        }
        if !(200..300).contains(&status) {
            return Err(error_response(resp, status, request_id, key).await);
        }

        let content_type = header_str(resp.headers(), CONTENT_TYPE.as_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            self.read_stream(resp, key, progress, on_event).await
        } else if content_type.contains("json") {
            let bytes = read_capped(resp, MAX_JSON_BODY)
                .await
                .map_err(|e| retry_if_empty(transport_error(&e, key).err, progress))?;
            let obj = json_response(&bytes, status, key, progress)?;
            finish_response(obj, progress, key)
        } else {
            let shown = if content_type.is_empty() {
                "no content type".to_owned()
            } else {
                clean_message_with_key(&content_type, Some(key))
            };
            Err(AttemptError::fatal(OpenAiError::UnexpectedResponse {
                message: format!(
                    "status {status} with {shown} instead of JSON or an event stream \
                     (is baseUrl pointing at a web page?)"
                ),
            }))
        }
    }

    async fn read_stream(
        &self,
        mut resp: Response,
        key: &ApiKey,
        progress: &mut Progress,
        on_event: &mut (dyn FnMut(&StreamEvent) + Send),
    ) -> Result<ResponseObject, AttemptError> {
        let idle = self.inner.cfg.idle_timeout;
        let mut decoder = SseDecoder::new();
        // The start of the body, to quote when it turns out not to be an event stream.
        let mut head: Vec<u8> = Vec::new();
        let mut idle_deadline = after(idle);
        loop {
            let chunk = match tokio::time::timeout_at(idle_deadline, resp.chunk()).await {
                Err(_) => return Err(stream_broken(OpenAiError::StreamStalled, progress)),
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "stream read failed");
                    return Err(stream_cut(progress));
                }
                Ok(Ok(c)) => c,
            };
            if let Some(bytes) = &chunk
                && head.len() < QUOTED_BYTES
            {
                let room = QUOTED_BYTES - head.len();
                head.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            let events = match chunk {
                Some(bytes) => decoder
                    .push(&bytes)
                    .map_err(|e| AttemptError::fatal(rescrub(e, key)))?,
                // EOF: a cut-off JSON payload is a truncation, not a malformed stream.
                None => {
                    let saw_data = decoder.saw_data();
                    match std::mem::take(&mut decoder).finish() {
                        Ok(ev) if ev.iter().any(StreamEvent::is_terminal) => ev,
                        // Comments or plain text under an event-stream content type: a
                        // gateway (or a page in front of it) that does not speak SSE.
                        _ if !saw_data && !head.is_empty() => {
                            return Err(AttemptError::fatal(OpenAiError::UnexpectedResponse {
                                message: format!(
                                    "the event stream had no data lines: {}",
                                    quote(&head, key)
                                ),
                            }));
                        }
                        _ => return Err(stream_cut(progress)),
                    }
                }
            };
            if !events.is_empty() {
                idle_deadline = after(idle);
            }
            for ev in events {
                progress.events = true;
                let ev = redact_event(ev, key);
                on_event(&ev);
                match ev {
                    StreamEvent::TextDelta(_) | StreamEvent::FunctionArgsDelta(_) => {
                        progress.output = true;
                    }
                    StreamEvent::Completed(obj) => return finish_response(obj, progress, key),
                    StreamEvent::Incomplete(obj) => {
                        return Err(AttemptError::fatal(incomplete(&obj, key)));
                    }
                    StreamEvent::Failed(obj) => {
                        let e = obj.error.unwrap_or_default();
                        return Err(classified(
                            ApiErrorInfo {
                                code: clean_opt(e.code, key),
                                message: scrub(&e.message, Some(key)),
                                ..Default::default()
                            },
                            progress,
                        ));
                    }
                    StreamEvent::Error {
                        code,
                        message,
                        kind,
                        param,
                        status,
                    } => {
                        return Err(classified(
                            ApiErrorInfo {
                                // The nested or flat status is the HTTP status the error
                                // would have had; classify by it like a real answer.
                                status: status.filter(|s| *s >= 400),
                                code: clean_opt(code, key),
                                kind: clean_opt(kind, key),
                                param: clean_opt(param, key),
                                message: scrub(&message, Some(key)),
                                from_error_event: true,
                                ..Default::default()
                            },
                            progress,
                        ));
                    }
                    StreamEvent::Created { .. }
                    | StreamEvent::Other
                    | StreamEvent::Retrying { .. } => {}
                }
            }
        }
    }
}

/// `now + d`; a duration too large to represent (a huge setting) means "a year", which
/// is no deadline in practice, instead of an overflow panic.
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

/// A clean terminal failure (`response.failed`, `error`) is retried per its class unless
/// the user may already have seen output from this attempt.
fn classified(info: ApiErrorInfo, progress: &Progress) -> AttemptError {
    let (err, hint) = classify_with_hint(info);
    AttemptError {
        retry: Retry::when(err.is_retryable() && !progress.output),
        err,
        hint,
    }
}

/// Short words for "retrying in N s because …" (StreamEvent::Retrying).
fn retry_reason(err: &OpenAiError) -> String {
    match err {
        OpenAiError::RateLimited { .. } => "rate limited".to_owned(),
        OpenAiError::Server { status, .. } => format!("server error {status}"),
        OpenAiError::Connect { .. } => "connection failed".to_owned(),
        OpenAiError::Timeout { what } => format!("timed out waiting for the {what}"),
        OpenAiError::StreamEnded => "connection dropped".to_owned(),
        OpenAiError::StreamStalled => "stream stalled".to_owned(),
        OpenAiError::Failed { code: Some(c), .. } => format!("model failed ({c})"),
        OpenAiError::Failed { code: None, .. } => "model failed".to_owned(),
        OpenAiError::BadRequest { status, .. } | OpenAiError::Auth { status, .. } => {
            format!("gateway error {status}")
        }
        _ => "gateway error".to_owned(),
    }
}

/// The header hint, else the one a rate-limit message carried ("try again in 1.5s").
fn classify_with_hint(info: ApiErrorInfo) -> (OpenAiError, Option<Duration>) {
    let header_hint = info.retry_after;
    let err = info.classify();
    let hint = header_hint.or(match &err {
        OpenAiError::RateLimited { retry_after, .. } => *retry_after,
        _ => None,
    });
    (err, hint)
}

/// The connection dropped or the stream ended early.
fn stream_cut(progress: &Progress) -> AttemptError {
    stream_broken(OpenAiError::StreamEnded, progress)
}

/// A stream that ended or stalled: retried if nothing arrived, re-issued once if only
/// non-output events arrived, never resent after output.
fn stream_broken(err: OpenAiError, progress: &Progress) -> AttemptError {
    let retry = if progress.output {
        Retry::No
    } else if progress.events {
        Retry::Reissue
    } else {
        Retry::Yes
    };
    AttemptError {
        err,
        retry,
        hint: None,
    }
}

fn retry_if_empty(err: OpenAiError, progress: &Progress) -> AttemptError {
    AttemptError {
        retry: Retry::when(err.is_retryable() && !progress.events),
        err,
        hint: None,
    }
}

fn incomplete(obj: &ResponseObject, key: &ApiKey) -> OpenAiError {
    OpenAiError::Incomplete {
        reason: obj
            .incomplete_details
            .as_ref()
            .and_then(|d| d.reason.clone())
            .map(|r| clean_message_with_key(&r, Some(key)))
            .unwrap_or_else(|| "unknown".to_owned()),
    }
}

/// A Response object's own status decides: only `completed` (or no status) is success.
fn finish_response(
    obj: ResponseObject,
    progress: &Progress,
    key: &ApiKey,
) -> Result<ResponseObject, AttemptError> {
    match obj.status.as_deref() {
        Some("incomplete") => Err(AttemptError::fatal(incomplete(&obj, key))),
        Some("failed") => {
            let e = obj.error.unwrap_or_default();
            Err(classified(
                ApiErrorInfo {
                    code: clean_opt(e.code, key),
                    message: scrub(&e.message, Some(key)),
                    ..Default::default()
                },
                progress,
            ))
        }
        Some("cancelled") => Err(AttemptError::fatal(OpenAiError::Failed {
            code: Some("cancelled".to_owned()),
            message: "the response was cancelled on the server".to_owned(),
        })),
        _ => Ok(obj),
    }
}

/// How much of an odd body is quoted in the message about it.
const QUOTED_BYTES: usize = 200;

/// The start of a body, fit for a message.
fn quote(bytes: &[u8], key: &ApiKey) -> String {
    let cut = &bytes[..bytes.len().min(QUOTED_BYTES)];
    clean_message_with_key(&String::from_utf8_lossy(cut), Some(key))
}

/// A 2xx JSON body -> a Response object, or an error that says what came instead:
/// nothing, `null`, an error envelope, or some other JSON.
fn json_response(
    bytes: &[u8],
    status: u16,
    key: &ApiKey,
    progress: &Progress,
) -> Result<ResponseObject, AttemptError> {
    let unexpected = |message: String| {
        AttemptError::fatal(OpenAiError::UnexpectedResponse {
            message: clean_message_with_key(&message, Some(key)),
        })
    };
    if bytes.trim_ascii().is_empty() {
        return Err(unexpected(format!(
            "the gateway answered {status} with an empty body"
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        unexpected(format!(
            "the JSON body is not a Response object ({e}): {}",
            quote(bytes, key)
        ))
    })?;
    let object = match &value {
        serde_json::Value::Null => {
            return Err(unexpected(format!(
                "the gateway answered {status} with an empty body (null)"
            )));
        }
        serde_json::Value::Object(o) => o,
        _ => {
            return Err(unexpected(format!(
                "the gateway answered {status} with JSON that is not a Response object: {}",
                quote(bytes, key)
            )));
        }
    };
    let looks_like_response = ["id", "object", "output", "status"]
        .iter()
        .any(|k| object.contains_key(*k));
    if !looks_like_response {
        // Some gateways answer 200 with an error envelope.
        if let Ok(ErrorEnvelope { error }) = serde_json::from_value::<ErrorEnvelope>(value.clone())
        {
            return Err(classified(
                ApiErrorInfo {
                    code: clean_opt(json_code(error.code), key),
                    kind: clean_opt(error.kind, key),
                    param: clean_opt(error.param, key),
                    message: scrub(error.message.as_deref().unwrap_or(""), Some(key)),
                    ..Default::default()
                },
                progress,
            ));
        }
        return Err(unexpected(format!(
            "the gateway answered {status} with JSON that is not a Response object: {}",
            quote(bytes, key)
        )));
    }
    serde_json::from_value(value).map_err(|e| {
        unexpected(format!(
            "the JSON body is not a Response object ({e}): {}",
            quote(bytes, key)
        ))
    })
}

/// Codes are strings in the spec, but numbers occur in the wild.
fn json_code(code: Option<serde_json::Value>) -> Option<String> {
    match code {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    }
}

/// A short gateway-provided field (code, type, param), cleaned like a message.
fn clean_opt(v: Option<String>, key: &ApiKey) -> Option<String> {
    v.map(|v| clean_message_with_key(&v, Some(key)))
}

/// Errors built in `sse.rs` carry gateway text that was not yet cleared of the key.
fn rescrub(e: OpenAiError, key: &ApiKey) -> OpenAiError {
    match e {
        OpenAiError::MalformedStream { message } => OpenAiError::MalformedStream {
            message: clean_message_with_key(&message, Some(key)),
        },
        other => other,
    }
}

/// The key out of what `on_event` sees: gateway text in error and failure events.
fn redact_event(ev: StreamEvent, key: &ApiKey) -> StreamEvent {
    let fix_obj = |mut obj: ResponseObject| {
        if let Some(e) = obj.error.as_mut() {
            e.message = scrub(&e.message, Some(key));
        }
        if let Some(r) = obj
            .incomplete_details
            .as_mut()
            .and_then(|d| d.reason.as_mut())
        {
            *r = scrub(r, Some(key));
        }
        obj
    };
    match ev {
        StreamEvent::Error {
            code,
            message,
            kind,
            param,
            status,
        } => StreamEvent::Error {
            code,
            message: scrub(&message, Some(key)),
            kind,
            param,
            status,
        },
        StreamEvent::Failed(obj) => StreamEvent::Failed(fix_obj(obj)),
        StreamEvent::Incomplete(obj) => StreamEvent::Incomplete(fix_obj(obj)),
        other => other,
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn transport_error(e: &reqwest::Error, key: &ApiKey) -> AttemptError {
    if e.is_timeout() {
        let what = if e.is_connect() {
            "connection"
        } else {
            "response"
        };
        return AttemptError {
            err: OpenAiError::Timeout { what },
            retry: Retry::Yes,
            hint: None,
        };
    }
    if let Some(tls) = tls_cause(e) {
        return AttemptError::fatal(OpenAiError::Tls {
            message: clean_message_with_key(&tls, Some(key)),
        });
    }
    // Refused, reset, DNS: the request was not processed, so resending is safe. The
    // root cause ("Connection refused") is what a person can act on.
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let message = if std::ptr::addr_eq(root, e as &dyn std::error::Error) {
        e.to_string()
    } else {
        root.to_string()
    };
    AttemptError {
        err: OpenAiError::Connect {
            message: clean_message_with_key(&message, Some(key)),
        },
        retry: Retry::Yes,
        hint: None,
    }
}

/// The rustls error somewhere in the chain, if any. `io::Error`s wrap it (sometimes
/// twice) and their `source()` skips the payload, so look inside them explicitly.
fn tls_cause(e: &reqwest::Error) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    // Bounded: error chains are short; a cycle must not hang us.
    for _ in 0..32 {
        let err = cur?;
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t.to_string());
        }
        cur = match err.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => std::error::Error::source(io),
            },
            None => err.source(),
        };
    }
    None
}

async fn read_capped(mut resp: Response, cap: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut buf = Vec::new();
    while let Some(c) = resp.chunk().await? {
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&c[..c.len().min(room)]);
        if buf.len() >= cap {
            break;
        }
    }
    Ok(buf)
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    param: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// A non-2xx answer: parse `{"error":{...}}` (or keep the text), classify, decide retry.
async fn error_response(
    resp: Response,
    status: u16,
    request_id: Option<String>,
    key: &ApiKey,
) -> AttemptError {
    let headers = resp.headers().clone();
    let body = read_capped(resp, MAX_ERROR_BODY).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let mut info = ApiErrorInfo {
        status: Some(status),
        request_id,
        retry_after: retry::retry_after(&headers, SystemTime::now()),
        ..Default::default()
    };
    match serde_json::from_str::<ErrorEnvelope>(&text) {
        Ok(ErrorEnvelope { error }) => {
            info.code = clean_opt(json_code(error.code), key);
            info.kind = clean_opt(error.kind, key);
            info.param = clean_opt(error.param, key);
            info.message = scrub(error.message.as_deref().unwrap_or(""), Some(key));
        }
        Err(_) => info.message = scrub(&text, Some(key)),
    }
    if info.message.is_empty() {
        info.message = format!("HTTP {status}");
    }
    let (err, hint) = classify_with_hint(info);
    let by_status = retry::status_is_retryable(status)
        && !matches!(
            err,
            OpenAiError::Quota { .. }
                | OpenAiError::ContextTooLong { .. }
                | OpenAiError::PreviousResponseNotFound { .. }
        );
    let retry = retry::should_retry_header(&headers).unwrap_or(by_status);
    tracing::debug!(status, retry, error = %err, "error response");
    AttemptError {
        err,
        retry: Retry::when(retry),
        hint,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn endpoint_joining_and_scheme_rules() {
        let ok = |b: &str| responses_endpoint(b).unwrap().to_string();
        assert_eq!(
            ok("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1/responses"
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/v1/"),
            "http://127.0.0.1:8080/v1/responses"
        );
        assert_eq!(
            ok("https://geekapis.com/v1"),
            "https://geekapis.com/v1/responses"
        );
        assert_eq!(ok("http://localhost/v1"), "http://localhost/v1/responses");
        assert_eq!(ok("http://[::1]:9/v1"), "http://[::1]:9/v1/responses");
        assert!(matches!(
            responses_endpoint("http://example.com/v1"),
            Err(OpenAiError::InsecureBaseUrl { .. })
        ));
        assert!(matches!(
            responses_endpoint("http://127.0.0.1.evil.com/v1"),
            Err(OpenAiError::InsecureBaseUrl { .. })
        ));
        assert!(matches!(
            responses_endpoint("ftp://h/v1"),
            Err(OpenAiError::InvalidBaseUrl { .. })
        ));
        assert!(matches!(
            responses_endpoint("not a url"),
            Err(OpenAiError::InvalidBaseUrl { .. })
        ));
        match responses_endpoint("https://user:hunter2@h/v1") {
            Err(OpenAiError::InvalidBaseUrl { url, .. }) => assert!(!url.contains("hunter2")),
            other => panic!("{other:?}"),
        }
        assert_eq!(display_url("https://u:p@h/v1"), "https://h/v1");
        assert_eq!(display_host("https://u:p@geekapis.com/v1"), "geekapis.com");
        assert_eq!(display_host("http://127.0.0.1:8080/v1"), "127.0.0.1:8080");
    }

    #[test]
    fn proxy_only_for_https_to_other_hosts() {
        let policy = |u: &str| proxy_policy(&Url::parse(u).unwrap());
        for direct in [
            "http://127.0.0.1:8080/v1/responses",
            "http://localhost/v1/responses",
            "http://[::1]:9/v1/responses",
            "https://127.0.0.1:8443/v1/responses",
            "https://localhost/v1/responses",
            "https://[::1]/v1/responses",
            "https://127.9.9.9/v1/responses",
            "http://gateway.example.com/v1/responses",
        ] {
            assert_eq!(policy(direct), ProxyPolicy::Direct, "{direct}");
        }
        for proxied in [
            "https://api.openai.com/v1/responses",
            "https://10.0.0.5/v1/responses",
            "https://127.0.0.1.evil.com/v1/responses",
        ] {
            assert_eq!(policy(proxied), ProxyPolicy::FromEnvironment, "{proxied}");
        }
    }
}
