//! The Responses API client: wire types, HTTP transport, SSE parsing, retries, errors.
//!
//! `sse` and `types` are pure; `client` does the I/O; `error` maps everything to typed
//! variants and one user-facing sentence.

pub mod client;
pub mod doctor;
pub mod error;
pub mod key;
pub mod retry;
pub mod sse;
pub mod types;

pub use client::{
    ClientConfig, ProxyPolicy, ResponsesClient, display_host, http_client, proxy_policy,
    responses_endpoint,
};
pub use doctor::doctor;
pub use error::OpenAiError;
pub use key::{ApiKey, KeySource, api_key_from, api_key_from_env};
pub use sse::{SseDecoder, StreamEvent};
pub use types::{
    ContentPart, CreateResponse, IncompleteDetails, Input, InputContent, InputItem, OutputItem,
    Reasoning, ResponseError, ResponseObject, Role, Tool, ToolChoice, Usage,
};
