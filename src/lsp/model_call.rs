//! One model call for a job: a slot under the global cap, progress from the stream,
//! and recovery when the service has forgotten (or cannot hold) the file's chain.

use tokio_util::sync::CancellationToken;

use super::failure::Failure;
use super::jobs::or_cancel;
use super::progress::Reporter;
use super::session::Session;
use crate::assist::chain;
use crate::openai::{CreateResponse, OpenAiError, ResponseObject, StreamEvent};

/// One request; where `may_drop_chain`, a forgotten or overlong chain is dropped and
/// the request resent once without it (then the answer's `bool` is true: the turn
/// starts a new chain, and `request` is left as resent).
pub async fn call_model(
    session: &Session,
    chain_key: &str,
    request: &mut CreateResponse,
    cancel: &CancellationToken,
    reporter: &Reporter,
    may_drop_chain: bool,
) -> Result<(ResponseObject, bool), Failure> {
    let http = session.responses_client().map_err(Failure::Api)?;
    let _slot = or_cancel(cancel, session.jobs.model_calls.clone().acquire_owned()).await?;
    let mut on_event = |ev: &StreamEvent| match ev {
        StreamEvent::TextDelta(d) | StreamEvent::FunctionArgsDelta(d) => {
            reporter.on_delta(d.chars().count())
        }
        StreamEvent::Retrying { wait, reason } => reporter.on_retry(reason, *wait),
        _ => {}
    };
    match http.create(request, cancel, &mut on_event).await {
        Err(
            e @ (OpenAiError::PreviousResponseNotFound { .. } | OpenAiError::ContextTooLong { .. }),
        ) if may_drop_chain && chain::is_chained(request) => {
            tracing::info!(
                "dropping the chain and resending once: {}",
                e.user_message()
            );
            session.reset_chain(chain_key);
            chain::without_chain(request);
            Ok((http.create(request, cancel, &mut on_event).await?, true))
        }
        other => Ok((other?, false)),
    }
}
