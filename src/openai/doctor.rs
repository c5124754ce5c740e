//! `codex-lsp doctor`: show the effective settings and prove the gateway answers.

use std::fmt::Write as _;

use tokio_util::sync::CancellationToken;

use super::client::{ClientConfig, ResponsesClient, display_url};
use super::error::OpenAiError;
use super::key::KeySource;
use super::types::{CreateResponse, Reasoning};

/// Writes a human report to `out` (never the key) and sends one tiny non-streaming
/// request. Returns true only when the service is usable with these settings.
pub async fn doctor(
    cfg: ClientConfig,
    model: &str,
    key_source: Option<KeySource>,
    out: &mut String,
) -> bool {
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(out, "base URL: {}", display_url(&cfg.base_url));
    let _ = writeln!(out, "model:    {model}");
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
    let client = match ResponsesClient::new(cfg) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "problem:  {}", e.user_message());
            return false;
        }
    };
    let _ = writeln!(out, "endpoint: POST {}", client.endpoint());

    let mut req = CreateResponse::new(model, "ping");
    req.max_output_tokens = Some(16);
    req.reasoning = Some(Reasoning {
        effort: Some("low".to_owned()),
    });
    req.store = Some(false);
    let cancel = CancellationToken::new();
    match client.create(&req, &cancel, &mut |_| {}).await {
        Ok(resp) => {
            let served = resp.model.as_deref().unwrap_or(model);
            let _ = writeln!(out, "request:  ok (response {}, model {served})", resp.id);
            true
        }
        // 16 tokens rarely suffice for a reasoning model; the service still answered.
        Err(OpenAiError::Incomplete { reason }) if reason == "max_output_tokens" => {
            let _ = writeln!(
                out,
                "request:  ok (the service answered; the tiny test answer was cut off as expected)"
            );
            true
        }
        Err(e) => {
            let _ = writeln!(out, "request:  failed");
            let _ = writeln!(out, "problem:  {}", e.user_message());
            false
        }
    }
}
