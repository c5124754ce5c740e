//! `workspace/executeCommand`. (Commands land with the model client.)

use std::sync::Arc;

use serde_json::Value;
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::ExecuteCommandParams;

use super::session::Session;

pub async fn handle(
    _session: Arc<Session>,
    _client: Client,
    _request_id: String,
    params: ExecuteCommandParams,
) -> Result<Value> {
    Err(Error::invalid_params(format!(
        "unknown command {}",
        params.command
    )))
}
