//! Protocol glue: the `LanguageServer` implementation, text sync in wire order,
//! capability negotiation, LSP <-> domain conversion, commands.

mod apply;
pub mod capabilities;
pub mod code_action;
pub mod commands;
mod dispatch;
mod edit_answer;
mod execute;
mod failure;
pub mod from_proto;
mod io;
pub mod jobs;
mod model_call;
mod progress;
mod run_action;
mod server;
pub mod session;
pub mod to_proto;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tower_lsp_server::{LspService, Server};

pub use session::{ServerEnv, Session};

/// Handler futures in flight at once. The framework's default of 4 lets four slow
/// requests stall everything behind them; model calls are capped separately.
const CONCURRENCY: usize = 64;

/// How long in-flight work may take to wind down after `exit` or stdin closing: jobs
/// are cancelled at once, so this is only for their last responses to go out. A
/// handler waiting on the client (e.g. `workspace/configuration` sent just before
/// `exit`) would never finish, since nothing more is read.
const EXIT_GRACE: Duration = Duration::from_millis(300);

/// Serves LSP on `input`/`output` until `exit` or end of input. Returns the process
/// exit code: 0 after `shutdown`, 1 otherwise (LSP 3.17).
pub async fn serve<I, O>(input: I, output: O, env: ServerEnv) -> i32
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let session = Arc::new(Session::new(env));
    let mut client_slot = None;
    let (service, socket) = LspService::build(|client| {
        client_slot = Some(client.clone());
        server::Backend::new(client, session.clone())
    })
    .finish();
    let Some(client) = client_slot else {
        return 1;
    };
    let marker = io::marker();
    // `exit` or end of input: the process ends once in-flight work has wound down.
    // Not `session.jobs.all`, which `shutdown` cancels too: after `shutdown` the
    // server keeps serving (refusing requests) until `exit` or end of input.
    let stop = CancellationToken::new();
    let sync_marker = io::text_sync_marker();
    let parsed = Arc::new(io::text_sync::Parsed::default());
    let service = dispatch::Dispatch::new(service, session.clone(), client)
        .take_text_sync(sync_marker.clone(), parsed.clone());
    let service = io::Edge::new(service, marker.clone(), stop.clone());
    let input = io::FrameGuard::new(io::EofSignal::new(input, stop.clone()), marker)
        .parse_text_sync(sync_marker, parsed);
    let server = Server::new(input, output, socket).concurrency_level(CONCURRENCY);
    let grace = async {
        stop.cancelled().await;
        session.jobs.cancel_all();
        tokio::time::sleep(EXIT_GRACE).await;
    };
    tokio::select! {
        () = server.serve(service) => {}
        () = grace => {
            tracing::debug!("exiting with requests to the client still unanswered");
        }
    }
    // chain changes not yet written (their flush runs detached)
    session.chains.flush();
    if session.shutdown_requested() { 0 } else { 1 }
}
