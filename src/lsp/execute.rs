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
    // the three model-backed commands differ only in how their argument becomes a job
    let job: Option<std::result::Result<JobRequest, Failure>> = match command {
        commands::RUN_ACTION => {
            Some(
                parse::<RunActionArgs>(command, arg.clone()).map(|a| JobRequest {
                    arrival,
                    uri: a.uri,
                    range: a.range,
                    action: a.action,
                    version: a.version,
                    instruction: None,
                    diagnostic: a.diagnostic.as_ref().and_then(from_proto::diagnostic),
                    confirmed: a.confirmed.unwrap_or(false),
                }),
            )
        }
        commands::ASK => Some(parse::<AskArgs>(command, arg.clone()).and_then(|a| {
            if a.instruction.trim().is_empty() {
                return Err(Failure::BadArgs(
                    "codex.ask needs a non-empty instruction".into(),
                ));
            }
            Ok(JobRequest {
                arrival,
                uri: a.uri,
                range: a.range,
                action: "ask".into(),
                version: a.version,
                instruction: Some(a.instruction),
                diagnostic: None,
                confirmed: a.confirmed.unwrap_or(false),
            })
        })),
        commands::EXPLAIN => Some(
            parse::<RangeArgs>(command, arg.clone()).map(|a| JobRequest {
                arrival,
                uri: a.uri,
                range: a.range,
                action: "explain".into(),
                version: a.version,
                instruction: None,
                diagnostic: None,
                confirmed: false,
            }),
        ),
        _ => None,
    };
    let outcome = match (job, command) {
        (Some(Ok(job)), _) => {
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
        (Some(Err(e)), _) => Err(e),
        (None, commands::RESET_CHAIN) => match parse::<UriArgs>(command, arg) {
            Ok(a) => {
                let key = session.target(&a.uri).chain_key;
                session.reset_chain(&key);
                Ok(Value::Null)
            }
            Err(e) => Err(e),
        },
        (None, commands::CHAIN_INFO) => parse::<UriArgs>(command, arg).and_then(|a| {
            let key = session.target(&a.uri).chain_key;
            match session.chains.get(&key) {
                Some(e) => to_value(&ChainInfo {
                    response_id: e.response_id,
                    turns: e.turns,
                }),
                None => Ok(Value::Null),
            }
        }),
        (None, other) => Err(Failure::BadArgs(format!(
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
