//! `codex-lsp doctor`: show the effective settings and prove the service answers the
//! same request shape an action sends.

use std::fmt::Write as _;

use tokio_util::sync::CancellationToken;

use super::client::{ClientConfig, ResponsesClient, display_url};
use super::error::OpenAiError;
use super::key::KeySource;
use super::types::CreateResponse;

/// Writes a human report to `out` (never the key) and sends `request` — built by the
/// caller exactly as an action's (streaming when `stream` is on, the same fields) —
/// once. Returns true only when the service is usable with these settings.
pub async fn doctor(
    cfg: ClientConfig,
    request: &CreateResponse,
    key_source: Option<KeySource>,
    out: &mut String,
) -> bool {
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(out, "base URL: {}", display_url(&cfg.base_url));
    let _ = writeln!(out, "model:    {}", request.model);
    let key_line = match (&cfg.api_key, key_source) {
        (Some(_), Some(src)) => format!("set (from {src})"),
        (Some(_), None) => "set".to_owned(),
        (None, _) => "not set".to_owned(),
    };
    let _ = writeln!(out, "API key:  {key_line}");
    if cfg.api_key.is_none() {
        let _ = writeln!(out, "problem:  {}", OpenAiError::MissingKey.user_message());
        return false;
    }
    let base_url = cfg.base_url.clone();
    let client = match ResponsesClient::new(cfg) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "problem:  {}", e.user_message());
            return false;
        }
    };
    let _ = writeln!(out, "endpoint: POST {}", client.endpoint());
    let _ = writeln!(out, "sending:  {}", shape(request));
    let cancel = CancellationToken::new();
    match client.create(request, &cancel, &mut |_| {}).await {
        Ok(resp) => {
            let served = resp.model.as_deref().unwrap_or(&request.model);
            let _ = writeln!(out, "request:  ok (response {}, model {served})", resp.id);
            true
        }
        // A cap the user set may cut the tiny test answer off; the service answered.
        Err(OpenAiError::Incomplete { reason }) if reason == "max_output_tokens" => {
            let _ = writeln!(
                out,
                "request:  ok (the service answered; the test answer was cut off by maxOutputTokens)"
            );
            true
        }
        Err(e) => {
            let _ = writeln!(out, "request:  failed");
            let _ = writeln!(out, "problem:  {}", e.user_message());
            if let Some(a) = advice(&e, &base_url) {
                let _ = writeln!(out, "try:      {a}");
            }
            false
        }
    }
}

/// The request's shape in one line: what a gateway might object to.
fn shape(r: &CreateResponse) -> String {
    let mut parts = vec![
        if r.stream {
            "streaming"
        } else {
            "not streaming"
        }
        .to_owned(),
    ];
    match r.reasoning.as_ref().and_then(|x| x.effort.as_deref()) {
        Some(e) => parts.push(format!("reasoning.effort {e}")),
        None => parts.push("no reasoning field".to_owned()),
    }
    if !r.tools.is_empty() {
        let names: Vec<&str> = r.tools.iter().map(|t| t.name.as_str()).collect();
        parts.push(format!("function tools {}", names.join(", ")));
    }
    if r.store == Some(false) {
        parts.push("store false".to_owned());
    }
    for (set, name) in [
        (r.temperature.is_some(), "temperature"),
        (r.top_p.is_some(), "top_p"),
        (r.max_output_tokens.is_some(), "max_output_tokens"),
    ] {
        if set {
            parts.push(name.to_owned());
        }
    }
    parts.join(", ")
}

/// The likely cause of a failure, as a setting to change.
pub fn advice(e: &OpenAiError, base_url: &str) -> Option<String> {
    let base = base_url.trim_end_matches('/');
    let other_base = match base.strip_suffix("/v1") {
        Some(without) => without.to_owned(),
        None => format!("{base}/v1"),
    };
    let wrong_path = || {
        format!(
            "requests go to {{baseUrl}}/responses; if the service serves them at \
             {other_base}/responses, set baseUrl to {other_base}"
        )
    };
    match e {
        OpenAiError::BadRequest {
            status: 404 | 405, ..
        }
        | OpenAiError::UnexpectedResponse { .. } => Some(wrong_path()),
        OpenAiError::BadRequest { message, .. }
        | OpenAiError::GatewayError { message }
        | OpenAiError::Failed { message, .. } => {
            let m = message.to_ascii_lowercase();
            let says = |w: &str| m.contains(w);
            if says("model") && (says("not found") || says("does not exist") || says("unknown")) {
                Some("set `model` (or CODEX_LSP_MODEL) to a model this service serves".into())
            } else if says("reasoning") {
                Some(
                    "the service rejects the `reasoning` field: set reasoningEffort to \"off\""
                        .into(),
                )
            } else if says("temperature") || says("top_p") {
                Some("this model takes no sampling settings: unset temperature and topP".into())
            } else if says("store") || says("include") {
                Some(
                    "the service rejects `store`/`include` (sent in replay mode): set chainMode \
                     to \"server\""
                        .into(),
                )
            } else if says("stream") {
                Some("the service does not stream: set stream to false".into())
            } else if says("tool") || says("function") {
                Some(
                    "the service or model does not take function tools; use a model that \
                     supports function calling"
                        .into(),
                )
            } else {
                None
            }
        }
        OpenAiError::Connect { .. } | OpenAiError::Tls { .. } => Some(format!(
            "check that {base} is the right host and port, and that it is reachable from here"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_names_the_setting_to_change() {
        let bad = |message: &str| OpenAiError::BadRequest {
            status: 400,
            message: message.into(),
            code: None,
        };
        let a = |e: &OpenAiError| advice(e, "https://gw.example/v1").unwrap_or_default();
        let not_found = OpenAiError::BadRequest {
            status: 404,
            message: "Not Found".into(),
            code: None,
        };
        assert!(a(&not_found).contains("set baseUrl to https://gw.example"));
        assert!(
            advice(&not_found, "http://127.0.0.1:4000")
                .unwrap_or_default()
                .contains("set baseUrl to http://127.0.0.1:4000/v1")
        );
        assert!(
            a(&bad(
                "litellm.UnsupportedParamsError: does not support parameters: ['reasoning_effort']"
            ))
            .contains("reasoningEffort to \"off\"")
        );
        assert!(a(&bad("Unsupported parameter: 'temperature'")).contains("unset temperature"));
        assert!(a(&bad("The model `gpt-x` does not exist")).contains("`model`"));
        assert_eq!(
            advice(&bad("something else"), "https://gw.example/v1"),
            None
        );
    }
}
