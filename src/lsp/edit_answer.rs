//! From an edit action's answer to the replacement text of the selection: the
//! `replace_selection` code as it is, or the `apply_patch` patch applied to the
//! selection. A patch that does not apply gets the model one corrective turn in the
//! same action (the refusal as the call's output, then "try again"); a second failure
//! is a clear error, nothing applied, the chain unchanged.

use tokio_util::sync::CancellationToken;

use super::failure::Failure;
use super::model_call::call_model;
use super::progress::Reporter;
use super::session::Session;
use crate::assist::answer::{self, AnswerError, EditAnswer};
use crate::assist::{chain, patch, prompt};
use crate::openai::{CreateResponse, InputItem, ResponseObject};
use crate::settings::ChainMode;

/// The selection a patch applies to.
pub struct Selection<'a> {
    /// As the model saw it (redacted): hunks are matched against this.
    pub seen: &'a str,
    /// As it is in the document: untouched lines come from here.
    pub real: &'a str,
    /// The file's workspace-relative path, the only one a patch may update.
    pub path: &'a str,
    /// The line break of lines a patch adds.
    pub eol: &'a str,
}

/// The replacement, and what the log line of the action records.
pub struct Replacement {
    pub code: String,
    /// "code" or "patch".
    pub kind: &'static str,
    pub hunks: usize,
    /// Characters the model wrote: its calls' arguments, else its text.
    pub output_chars: usize,
    /// How many turns it took (2 after a corrective turn).
    pub turns: usize,
}

/// Why an answer gives no replacement.
enum Unusable {
    /// An `apply_patch` call that could not be used: worth one corrective turn.
    Patch(String),
    Other(AnswerError),
}

/// Where this action stands in its file's chain.
pub struct Turn<'a> {
    pub session: &'a Session,
    pub chain_key: &'a str,
    pub mode: ChainMode,
    pub cancel: &'a CancellationToken,
    pub reporter: &'a Reporter,
}

/// The replacement for the selection from `response`, the answer to `request`. On a
/// corrective turn the answer that counts is the second one: it is returned, with
/// `sent` extended by what that turn added (for replay mode).
pub async fn replacement(
    turn: &Turn<'_>,
    request: &CreateResponse,
    response: ResponseObject,
    mut sent: Vec<InputItem>,
    sel: &Selection<'_>,
) -> Result<(ResponseObject, Replacement, Vec<InputItem>), Failure> {
    let offered = prompt::patch_offered(request);
    let reason = match read(&response, offered, sel, turn.reporter) {
        Ok(r) => return Ok((response, r, sent)),
        Err(Unusable::Other(e)) => return Err(Failure::NoCode(e.to_string())),
        Err(Unusable::Patch(reason)) => reason,
    };
    tracing::info!(response = %response.id, "the patch did not apply; one corrective turn");
    turn.reporter.note(format!(
        "the patch did not apply ({}); retrying: asking the model to correct it…",
        shorten(&reason, 120)
    ));
    let (mut retry, added) = chain::corrective(request, &response, &reason, turn.mode);
    let (second, _) = call_model(
        turn.session,
        turn.chain_key,
        &mut retry,
        turn.cancel,
        turn.reporter,
        false,
    )
    .await?;
    tracing::debug!(response = %second.id, "the model answered the corrective turn");
    match read(&second, offered, sel, turn.reporter) {
        Ok(mut r) => {
            r.turns = 2;
            sent.extend(added);
            Ok((second, r, sent))
        }
        Err(Unusable::Patch(again)) => Err(Failure::NoCode(format!(
            "the model's patch did not apply, even after one correction ({again}); nothing \
             was changed — select less code or ask again"
        ))),
        Err(Unusable::Other(e)) => Err(Failure::NoCode(e.to_string())),
    }
}

fn read(
    response: &ResponseObject,
    offered: bool,
    sel: &Selection<'_>,
    reporter: &Reporter,
) -> Result<Replacement, Unusable> {
    let calls = response.function_calls();
    let text = response.output_text();
    let output_chars = if calls.is_empty() {
        text.chars().count()
    } else {
        calls.iter().map(|(_, a)| a.chars().count()).sum()
    };
    let found = match answer::extract_edit(&calls, &text, offered) {
        Ok(found) => found,
        Err(AnswerError::BadPatchArguments(why)) => {
            return Err(Unusable::Patch(format!("malformed arguments: {why}")));
        }
        Err(e) => return Err(Unusable::Other(e)),
    };
    let patch_text = match found {
        EditAnswer::Code(code) => {
            return Ok(Replacement {
                code,
                kind: "code",
                hunks: 0,
                output_chars,
                turns: 1,
            });
        }
        EditAnswer::Patch(p) => p,
    };
    let parsed = patch::parse(&patch_text, sel.path).map_err(|e| Unusable::Patch(e.to_string()))?;
    let hunks = parsed.hunks.len();
    let applied = patch::apply(&parsed, sel.seen, sel.real, sel.eol)
        .map_err(|e| Unusable::Patch(e.to_string()))?;
    let tolerant = if applied.whitespace_tolerant {
        tracing::info!("a hunk matched only when trailing whitespace was ignored");
        " (matched ignoring trailing whitespace)"
    } else {
        ""
    };
    reporter.note(format!(
        "patch: {hunks} hunk{}, {output_chars} characters{tolerant}",
        if hunks == 1 { "" } else { "s" }
    ));
    Ok(Replacement {
        code: applied.text,
        kind: "patch",
        hunks,
        output_chars,
        turns: 1,
    })
}

fn shorten(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
