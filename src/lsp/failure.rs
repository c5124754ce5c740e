//! Why a command failed, mapped once to a JSON-RPC error and one message for the user.

use tower_lsp_server::jsonrpc::{Error, ErrorCode};
use tower_lsp_server::ls_types::MessageType;

use super::code_action::REQUEST_FAILED;
use crate::openai::OpenAiError;

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
            data: None,
        }
    }
}
