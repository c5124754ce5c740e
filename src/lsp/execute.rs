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
use super::from_proto;
use super::jobs::Ticket;
use super::run_action::{self, Arrival, JobRequest};
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
    arrival: Option<Arrival>,
) -> Result<Value> {
    let arg = params.arguments.into_iter().next().unwrap_or(Value::Null);
    let token = params.work_done_progress_params.work_done_token;
    let command = params.command.as_str();
    let outcome = match job_request(command, &arg, arrival) {
        Some(Ok(job)) => {
            let (s, c) = (session.clone(), client.clone());
            run_action::run(s, c, request_id, job, token, ticket).await
        }
        Some(Err(e)) => Err(e),
        None => chain_command(&session, command, arg),
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

/// The job a model-backed command asks for (the three differ only in how their
/// argument becomes one); `None` for any other command.
fn job_request(
    command: &str,
    arg: &Value,
    arrival: Option<Arrival>,
) -> Option<std::result::Result<JobRequest, Failure>> {
    let job = |action: String, uri, range, version| JobRequest {
        arrival,
        uri,
        range,
        action,
        version,
        instruction: None,
        diagnostic: None,
        confirmed: false,
    };
    Some(match command {
        commands::RUN_ACTION => parse::<RunActionArgs>(command, arg.clone()).map(|a| JobRequest {
            diagnostic: a.diagnostic.as_ref().and_then(from_proto::diagnostic),
            confirmed: a.confirmed.unwrap_or(false),
            ..job(a.action, a.uri, a.range, a.version)
        }),
        commands::ASK => parse::<AskArgs>(command, arg.clone()).and_then(|a| {
            if a.instruction.trim().is_empty() {
                return Err(Failure::BadArgs(
                    "codex.ask needs a non-empty instruction".into(),
                ));
            }
            Ok(JobRequest {
                instruction: Some(a.instruction),
                confirmed: a.confirmed.unwrap_or(false),
                ..job("ask".into(), a.uri, a.range, a.version)
            })
        }),
        commands::EXPLAIN => parse::<RangeArgs>(command, arg.clone())
            .map(|a| job("explain".into(), a.uri, a.range, a.version)),
        _ => return None,
    })
}

/// The commands that answer from the chain store, and unknown commands.
fn chain_command(
    session: &Session,
    command: &str,
    arg: Value,
) -> std::result::Result<Value, Failure> {
    match command {
        commands::RESET_CHAIN => parse::<UriArgs>(command, arg).map(|a| {
            let key = session.target(&a.uri).chain_key;
            session.reset_chain(&key);
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
    }
}
