//! `workspace/executeCommand`: parse the one JSON object argument, run the command,
//! and turn a failure into an LSP error plus one `window/showMessage`.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::ExecuteCommandParams;

use super::commands::{self, AskArgs, ChainInfo, RangeArgs, RunActionArgs, UriArgs};
use super::failure::Failure;
use super::jobs::Ticket;
use super::run_action::{self, JobRequest};
use super::session::Session;

fn parse<T: DeserializeOwned>(command: &str, v: Value) -> std::result::Result<T, Failure> {
    serde_json::from_value(v).map_err(|e| Failure::BadArgs(format!("{command}: {e}")))
}

fn to_value<T: serde::Serialize>(v: &T) -> std::result::Result<Value, Failure> {
    serde_json::to_value(v).map_err(|e| Failure::Internal(e.to_string()))
}

pub async fn handle(
    session: Arc<Session>,
    client: Client,
    request_id: String,
    params: ExecuteCommandParams,
    ticket: Option<Ticket>,
) -> Result<Value> {
    let arg = params.arguments.into_iter().next().unwrap_or(Value::Null);
    let token = params.work_done_progress_params.work_done_token;
    let command = params.command.as_str();
    let outcome = match command {
        commands::RUN_ACTION => match parse::<RunActionArgs>(command, arg) {
            Ok(a) => {
                let job = JobRequest {
                    uri: a.uri,
                    range: a.range,
                    action: a.action,
                    version: a.version,
                    instruction: None,
                    diagnostic: a.diagnostic,
                    confirmed: a.confirmed.unwrap_or(false),
                };
                run_action::run(
                    session.clone(),
                    client.clone(),
                    request_id,
                    job,
                    token,
                    ticket,
                )
                .await
            }
            Err(e) => Err(e),
        },
        commands::ASK => match parse::<AskArgs>(command, arg) {
            Ok(a) if a.instruction.trim().is_empty() => Err(Failure::BadArgs(
                "codex.ask needs a non-empty instruction".into(),
            )),
            Ok(a) => {
                let job = JobRequest {
                    uri: a.uri,
                    range: a.range,
                    action: "ask".into(),
                    version: a.version,
                    instruction: Some(a.instruction),
                    diagnostic: None,
                    confirmed: a.confirmed.unwrap_or(false),
                };
                run_action::run(
                    session.clone(),
                    client.clone(),
                    request_id,
                    job,
                    token,
                    ticket,
                )
                .await
            }
            Err(e) => Err(e),
        },
        commands::EXPLAIN => match parse::<RangeArgs>(command, arg) {
            Ok(a) => {
                let job = JobRequest {
                    uri: a.uri,
                    range: a.range,
                    action: "explain".into(),
                    version: a.version,
                    instruction: None,
                    diagnostic: None,
                    confirmed: false,
                };
                run_action::run(
                    session.clone(),
                    client.clone(),
                    request_id,
                    job,
                    token,
                    ticket,
                )
                .await
            }
            Err(e) => Err(e),
        },
        commands::RESET_CHAIN => parse::<UriArgs>(command, arg).map(|a| {
            let key = session.target(&a.uri).chain_key;
            session.chains.reset(&key);
            Value::Null
        }),
        commands::CHAIN_INFO => parse::<UriArgs>(command, arg).and_then(|a| {
            let key = session.target(&a.uri).chain_key;
            match session.chains.get(&key) {
                Some(e) => to_value(&ChainInfo {
                    response_id: e.response_id,
                    turns: e.turns,
                }),
                None => Ok(Value::Null),
            }
        }),
        other => Err(Failure::BadArgs(format!(
            "unknown command `{other}` (codex-lsp handles {})",
            commands::ALL_COMMANDS.join(", ")
        ))),
    };
    match outcome {
        Ok(v) => Ok(v),
        Err(f) => {
            tracing::info!(command, "command failed: {}", f.message());
            if let Some(t) = f.message_type() {
                client.show_message(t, f.message()).await;
            }
            Err(f.to_jsonrpc())
        }
    }
}
