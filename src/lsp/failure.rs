//! Why a command failed, mapped once to a JSON-RPC error and one message for the user.

use tower_lsp_server::jsonrpc::{Error, ErrorCode};
use tower_lsp_server::ls_types::MessageType;

use super::jobs::Cancelled;
use crate::openai::OpenAiError;

/// The LSP error code for "syntactically fine, but it failed" (LSP 3.17 RequestFailed).
pub const REQUEST_FAILED: i64 = -32803;

/// A plain RequestFailed error, for handlers that fail outside a command.
pub fn request_failed(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::ServerError(REQUEST_FAILED),
        message: message.into().into(),
        data: None,
    }
}

#[derive(Debug)]
pub enum Failure {
    /// The arguments are not what the command takes.
    BadArgs(String),
    /// Decided before any request: excluded file, outside the workspace, unknown or
    /// desynced document, missing key, protected file without consent.
    Refused(String),
    /// The selection was edited while the model worked.
    DocumentChanged(String),
    /// The model answered, but not with usable code.
    NoCode(String),
    Api(OpenAiError),
    Cancelled,
    Internal(String),
}

impl From<Cancelled> for Failure {
    fn from(_: Cancelled) -> Self {
        Self::Cancelled
    }
}

impl From<OpenAiError> for Failure {
    fn from(e: OpenAiError) -> Self {
        match e {
            OpenAiError::Cancelled => Self::Cancelled,
            e => Self::Api(e),
        }
    }
}

impl Failure {
    pub fn message(&self) -> String {
        match self {
            Self::BadArgs(m) => format!("Codex: invalid command arguments: {m}"),
            Self::Refused(m) | Self::DocumentChanged(m) | Self::NoCode(m) => format!("Codex: {m}"),
            Self::Api(e) if api_kind(e) == "chain" => format!(
                "Codex: {} This file's conversation cannot continue: run “Codex: Reset \
                 Conversation” (command codex.resetChain) on it and try again.",
                e.user_message()
            ),
            Self::Api(e) => format!("Codex: {}", e.user_message()),
            Self::Cancelled => "Codex: cancelled".into(),
            Self::Internal(m) => format!("Codex: internal error: {m}"),
        }
    }

    /// How the user is told (none for a cancel they asked for).
    pub fn message_type(&self) -> Option<MessageType> {
        match self {
            Self::Cancelled => None,
            Self::Refused(_) | Self::DocumentChanged(_) | Self::NoCode(_) => {
                Some(MessageType::WARNING)
            }
            Self::Api(OpenAiError::RateLimited { .. } | OpenAiError::Incomplete { .. }) => {
                Some(MessageType::WARNING)
            }
            _ => Some(MessageType::ERROR),
        }
    }

    /// What kind of failure this is, for editors (`error.data.kind`), so they need not
    /// parse message text.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadArgs(_) => "bad_args",
            Self::Refused(_) => "refused",
            Self::DocumentChanged(_) => "stale",
            Self::NoCode(_) => "no_code",
            Self::Cancelled => "cancelled",
            Self::Internal(_) => "internal",
            Self::Api(e) => api_kind(e),
        }
    }

    pub fn to_jsonrpc(&self) -> Error {
        let code = match self {
            Self::BadArgs(_) => ErrorCode::InvalidParams,
            Self::Cancelled => ErrorCode::RequestCancelled,
            Self::DocumentChanged(_) => ErrorCode::ContentModified,
            Self::Internal(_) => ErrorCode::InternalError,
            _ => ErrorCode::ServerError(REQUEST_FAILED),
        };
        Error {
            code,
            message: self.message().into(),
            data: Some(serde_json::json!({ "kind": self.kind() })),
        }
    }
}

/// The kind of a Responses API failure, as editors see it in `error.data.kind`.
fn api_kind(e: &OpenAiError) -> &'static str {
    match e {
        OpenAiError::MissingKey | OpenAiError::Auth { .. } => "auth",
        OpenAiError::Quota { .. } => "quota",
        OpenAiError::RateLimited { .. } => "rate_limit",
        OpenAiError::ContextTooLong { .. } => "context",
        OpenAiError::PreviousResponseNotFound { .. } => "chain",
        // the service refusing to continue a conversation: its calls, its history
        OpenAiError::BadRequest { message, .. }
            if message.contains("function call") || message.contains("previous response") =>
        {
            "chain"
        }
        OpenAiError::BadRequest { .. }
        | OpenAiError::Server { .. }
        | OpenAiError::UnexpectedResponse { .. }
        | OpenAiError::GatewayError { .. }
        | OpenAiError::MalformedStream { .. }
        | OpenAiError::EventTooLarge { .. } => "gateway",
        OpenAiError::Incomplete { .. } | OpenAiError::Failed { .. } => "model",
        OpenAiError::Timeout { .. }
        | OpenAiError::StreamStalled
        | OpenAiError::StreamEnded
        | OpenAiError::Connect { .. }
        | OpenAiError::Tls { .. } => "network",
        OpenAiError::InsecureBaseUrl { .. }
        | OpenAiError::InvalidBaseUrl { .. }
        | OpenAiError::ClientSetup { .. } => "config",
        OpenAiError::Cancelled => "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_carries_its_kind_and_chain_errors_say_how_to_reset() {
        let chain = Failure::Api(OpenAiError::BadRequest {
            status: 400,
            message: "No tool output found for function call call_1.".into(),
            code: None,
        });
        assert_eq!(chain.kind(), "chain");
        assert!(
            chain.message().contains("codex.resetChain"),
            "{}",
            chain.message()
        );
        let e = chain.to_jsonrpc();
        assert_eq!(e.data, Some(serde_json::json!({"kind": "chain"})));
        for (f, kind) in [
            (Failure::Api(OpenAiError::MissingKey), "auth"),
            (
                Failure::Api(OpenAiError::RateLimited {
                    retry_after: None,
                    message: String::new(),
                }),
                "rate_limit",
            ),
            (Failure::Api(OpenAiError::StreamStalled), "network"),
            (Failure::Refused("x".into()), "refused"),
            (Failure::DocumentChanged("x".into()), "stale"),
            (Failure::NoCode("x".into()), "no_code"),
            (Failure::Cancelled, "cancelled"),
        ] {
            assert_eq!(
                f.to_jsonrpc().data,
                Some(serde_json::json!({ "kind": kind }))
            );
        }
    }
}
