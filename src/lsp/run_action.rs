//! One model-backed action, start to finish: refusals decided before any request, the
//! file's turn (a chain never forks), the snapshot, the request, the answer, and the
//! edit. Runs as a spawned job with its own cancellation token.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{Diagnostic, MessageType, ProgressToken, Range};

use super::apply::{self, Applied};
use super::commands::{EditResult, ExplainResult};
use super::edit_answer::{self, Selection, Turn};
use super::failure::Failure;
use super::from_proto;
use super::jobs::Ticket;
use super::jobs::or_cancel;
use super::model_call::call_model;
use super::progress::Reporter;
use super::session::Session;
use crate::assist::actions::{self, ActionSpec, Outcome};
use crate::assist::consent::{self, Consent};
use crate::assist::prompt::{self, PromptParts};
use crate::assist::target::Target;
use crate::assist::{chain, edit, redact, selection};
use crate::document::{MapError, MapOrSyncError, Snapshot, SyncStatus};

use crate::openai::{CreateResponse, Input, InputItem, OpenAiError, ResponseObject};
use crate::settings::Settings;
use crate::store::chains::{ChainEntry, Head};

/// How long a job waits for the editor's `didChange` that it knows is coming.
const VERSION_WAIT: Duration = Duration::from_secs(2);

/// Where the action's range was when its request arrived (taken in wire order): the
/// document version and the range as char offsets of that version. A job queued behind
/// others on the same file carries its range through their edits with this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub version: i32,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug)]
pub struct JobRequest {
    pub arrival: Option<Arrival>,
    pub uri: String,
    pub range: Range,
    pub action: String,
    pub version: Option<i32>,
    pub instruction: Option<String>,
    pub diagnostic: Option<Diagnostic>,
    pub confirmed: bool,
}

type Outcome_ = Result<Value, Failure>;

/// Registers the job (for `$/cancelRequest` and progress cancel), runs it on its own
/// task (a panic becomes an error response, not a dead server), ends the progress.
pub async fn run(
    session: Arc<Session>,
    client: Client,
    request_id: String,
    req: JobRequest,
    token: Option<ProgressToken>,
    ticket: Option<Ticket>,
) -> Outcome_ {
    let settings = session.settings();
    let spec = actions::lookup(&req.action, &settings.actions)
        .ok_or_else(|| Failure::BadArgs(format!("unknown action `{}`", req.action)))?;
    tracing::debug!(action = %spec.id, "job received");
    let mut guard = session.jobs.start(request_id);
    let cancel = guard.token.clone();
    let reporter = Reporter::start(
        &client,
        token,
        session.caps().work_done_progress,
        &progress_title(&session, &req, &spec),
    );
    if let Some(k) = reporter.token_key() {
        guard.set_progress_token(k);
    }
    let task = tokio::spawn(job(
        session.clone(),
        client.clone(),
        req,
        spec,
        cancel.clone(),
        reporter.clone(),
        ticket,
    ));
    let abort = task.abort_handle();
    let result = match task.await {
        Ok(r) => r,
        Err(e) if e.is_panic() => {
            tracing::error!("action job panicked");
            Err(Failure::Internal("request handler panicked".into()))
        }
        Err(_) => Err(Failure::Cancelled),
    };
    abort.abort();
    let end = match &result {
        Ok(_) => "done".to_owned(),
        Err(Failure::Cancelled) => "cancelled".to_owned(),
        Err(f) => f.message(),
    };
    reporter.end(&end).await;
    drop(guard);
    result
}

/// The menu's title for the request (see [`actions::menu_title`]): the fix's diagnostic
/// comes with the request; a `codex:` comment's instruction is read from the document as
/// it is now (the job reads it again from the version it works on).
fn progress_title(session: &Session, req: &JobRequest, spec: &ActionSpec) -> String {
    let diagnostic = req.diagnostic.as_ref().map(|d| d.message.as_str());
    let instruction = req.instruction.clone().or_else(|| {
        if spec.id != "instruct" {
            return None;
        }
        let snap = session.docs.snapshot(&req.uri)?;
        let (s, e) = from_proto::char_range(&snap.text, req.range, session.caps().encoding);
        let (first, last) = (snap.text.char_to_line(s), snap.text.char_to_line(e));
        selection::codex_comment_near(&snap.text, first, last).map(|(_, i)| i)
    });
    actions::menu_title(spec, diagnostic, instruction.as_deref())
}

/// The document once it has reached `version` (and the version an earlier job's
/// applied edit brings), waiting at most [`VERSION_WAIT`] for the editor's `didChange`.
async fn snapshot_at_least(
    session: &Session,
    uri: &str,
    version: Option<i32>,
    cancel: &CancellationToken,
) -> Result<Snapshot, Failure> {
    let deadline = tokio::time::Instant::now() + VERSION_WAIT;
    or_cancel(
        cancel,
        session.docs.snapshot_at_least(uri, version, deadline),
    )
    .await?
    .ok_or_else(|| {
        Failure::Refused(format!(
            "{uri} is not open in the editor; open it and try again"
        ))
    })
}

async fn job(
    session: Arc<Session>,
    client: Client,
    req: JobRequest,
    spec: ActionSpec,
    cancel: CancellationToken,
    reporter: Reporter,
    ticket: Option<Ticket>,
) -> Outcome_ {
    #[cfg(debug_assertions)]
    fault_hook(&spec);
    let (target, consent) = admit(&session, &client, &req, &spec).await?;
    // one job per file at a time, in arrival order, so each snapshot sees the
    // previous job's edit
    if let Some(t) = &ticket {
        or_cancel(&cancel, t.wait_turn()).await?;
    }
    let _turn = or_cancel(&cancel, session.jobs.lock_file(&target.chain_key)).await?;
    let (snap, s, e) = snapshot_range(&session, &req, &target, &cancel).await?;
    let settings = session.settings();
    let prep = prepare(snap, s, e, &req, &spec, &settings)?;
    let asked = ask(
        &session, &spec, &target, &prep, &settings, &cancel, &reporter,
    )
    .await?;
    if spec.outcome == Outcome::Answer {
        let mode = settings.chain_mode;
        let head = chain::next_head(
            asked.head.as_ref(),
            mode,
            &asked.response,
            asked.sent,
            false,
        );
        let (key, display) = (&target.chain_key, &target.display);
        return explain(&session, &client, key, display, asked.response, head).await;
    }
    let turn = Turn {
        session: &session,
        chain_key: &target.chain_key,
        mode: settings.chain_mode,
        cancel: &cancel,
        reporter: &reporter,
    };
    let (code, response_id, head) = read_code(&turn, &spec, &target, &prep, asked).await?;
    let ctx = apply::EditContext {
        session: &session,
        client: &client,
        uri: &req.uri,
        title: &spec.title,
        display: &target.display,
        sensitive: target.sensitive,
        consent,
        cancel: &cancel,
    };
    apply_code(&ctx, &target.chain_key, &prep, &code, response_id, head).await
}

/// a fault hook for the end-to-end test that proves a panicking job costs one
/// error response, not the server (debug builds only; release builds have no hook).
#[cfg(debug_assertions)]
fn fault_hook(spec: &ActionSpec) {
    if std::env::var_os("CODEX_LSP_TEST_PANIC_IN_JOB").is_some() && spec.id == "tests" {
        panic!("injected fault with a secret-looking payload sk-proj-NOTAKEY");
    }
}

/// Refusals decided before anything is sent or waited for: an excluded file, no key, a
/// protected file whose edit has no way to get consent. Returns the file and its
/// consent rule.
async fn admit(
    session: &Session,
    client: &Client,
    req: &JobRequest,
    spec: &ActionSpec,
) -> Result<(Target, Consent), Failure> {
    let target = session.target(&req.uri);
    if let Some(r) = &target.refusal {
        return Err(Failure::Refused(r.message(&target.display)));
    }
    if session.env.api_key.is_none() {
        return Err(Failure::Api(OpenAiError::MissingKey));
    }
    if let Some(notice) = session.key_source_notice() {
        client.show_message(MessageType::INFO, notice).await;
    }
    let consent = consent::for_action(
        spec.outcome == Outcome::Edit,
        target.sensitive.is_some(),
        session.caps().show_message_request,
        req.confirmed,
    );
    if consent == Consent::Missing {
        return Err(Failure::Refused(format!(
            "{} is a protected file ({}); this editor cannot ask for consent, so choose the \
             action titled “… (edits a protected file)” to allow the edit",
            target.display,
            target.sensitive.unwrap_or_default()
        )));
    }
    Ok((target, consent))
}

/// The document at the request's version (or later) and the action's range in it.
async fn snapshot_range(
    session: &Session,
    req: &JobRequest,
    target: &Target,
    cancel: &CancellationToken,
) -> Result<(Snapshot, usize, usize), Failure> {
    let snap = snapshot_at_least(session, &req.uri, req.version, cancel).await?;
    if let SyncStatus::Desynced(reason) = &snap.status {
        return Err(Failure::Refused(format!(
            "{} is out of sync with the editor ({reason}); reopen it and try again",
            target.display
        )));
    }
    let (snap, (s, e)) = current_range(session, req, snap)?;
    tracing::debug!("snapshot taken");
    Ok((snap, s, e))
}

/// What the request is built from, cut from one snapshot.
struct Prepared {
    snap: Snapshot,
    /// The selection, as char offsets of `snap`.
    start: usize,
    end: usize,
    selection: String,
    before: String,
    after: String,
    instruction: Option<String>,
    diagnostic: Option<String>,
    /// The text around what is sent, for the redactor, and where `before` starts in it.
    document: String,
    window_start: usize,
    /// The line break of the document.
    eol: &'static str,
}

impl Prepared {
    fn parts<'a>(&'a self, path: &'a str) -> PromptParts<'a> {
        PromptParts {
            path,
            language_id: &self.snap.language_id,
            before: &self.before,
            selection: &self.selection,
            after: &self.after,
            instruction: self.instruction.as_deref(),
            diagnostic: self.diagnostic.as_deref(),
            document: Some((&self.document, self.window_start)),
        }
    }
}

fn prepare(
    snap: Snapshot,
    s: usize,
    e: usize,
    req: &JobRequest,
    spec: &ActionSpec,
    settings: &Settings,
) -> Result<Prepared, Failure> {
    let sel = selection::resolve(&snap.text, s, e, &spec.id, req.instruction.clone())
        .map_err(Failure::Refused)?;
    let (s, e) = (sel.start, sel.end);
    let rope = &snap.text;
    let selection = rope.slice(s..e).to_string();
    let (before, after) = selection::surroundings(rope, s, e, settings.context_lines as usize);
    // the redactor sees the text around what is sent (wider than any secret) and cuts
    // what is sent out of it; not the whole document, which costs ~80 ms on 3 MB
    let win_start_byte = rope.char_to_byte(s).saturating_sub(before.len());
    let win_start = rope.byte_to_char(win_start_byte);
    let win_end = e.saturating_add(after.chars().count());
    let from = win_start.saturating_sub(redact::SECRET_MARGIN_CHARS);
    let to = win_end
        .saturating_add(redact::SECRET_MARGIN_CHARS)
        .min(rope.len_chars());
    let document = rope.slice(from..to).to_string();
    let window_start = win_start_byte.saturating_sub(rope.char_to_byte(from));
    // the document's first line break, found without copying the document
    let first_break: String = rope
        .chars()
        .skip_while(|c| *c != '\n' && *c != '\r')
        .take(2)
        .collect();
    Ok(Prepared {
        start: s,
        end: e,
        selection,
        before,
        after,
        instruction: sel.instruction,
        diagnostic: req.diagnostic.as_ref().map(|d| d.message.clone()),
        document,
        window_start,
        eol: edit::line_ending_of(&first_break),
        snap,
    })
}

/// The model's first answer, the request it answers, and the chain it continues.
struct Asked {
    request: CreateResponse,
    response: ResponseObject,
    head: Option<ChainEntry>,
    /// What this turn adds to the conversation, kept for replay mode.
    sent: Vec<InputItem>,
}

async fn ask(
    session: &Session,
    spec: &ActionSpec,
    target: &Target,
    prep: &Prepared,
    settings: &Settings,
    cancel: &CancellationToken,
    reporter: &Reporter,
) -> Result<Asked, Failure> {
    let parts = prep.parts(&target.display);
    let head = session.chains.get(&target.chain_key);
    let continuation = chain::continuation(head.as_ref(), settings.chain_mode);
    let mut request =
        prompt::build_request(spec, &parts, settings, &continuation, &session.redactor);
    let mut sent = continuation.answers.clone();
    if let Input::Items(items) = &request.input
        && let Some(user) = items.last()
    {
        sent.push(user.clone());
    }
    tracing::debug!(action = %spec.id, chars = prep.selection.len(), "request built");
    let key = &target.chain_key;
    let (response, fresh) = call_model(session, key, &mut request, cancel, reporter, true).await?;
    tracing::debug!(response = %response.id, "model answered");
    // a chain the service had lost was started afresh: only this turn's input counts
    let (head, sent) = if fresh {
        (None, sent.split_off(sent.len().saturating_sub(1)))
    } else {
        (head, sent)
    };
    Ok(Asked {
        request,
        response,
        head,
        sent,
    })
}

/// The model's code for the selection (after one corrective turn where needed), the
/// id of the response it came in, and the chain head that response makes.
async fn read_code(
    turn: &Turn<'_>,
    spec: &ActionSpec,
    target: &Target,
    prep: &Prepared,
    asked: Asked,
) -> Result<(String, String, Head), Failure> {
    let seen = prompt::seen_selection(&prep.parts(&target.display), &turn.session.redactor);
    let sel = Selection {
        seen: &seen,
        real: &prep.selection,
        path: &target.display,
        eol: prep.eol,
    };
    let (response, answer, sent) =
        edit_answer::replacement(turn, &asked.request, asked.response, asked.sent, &sel).await?;
    // counts only: what the user saved by a patch shows in the log
    tracing::info!(
        action = %spec.id,
        answer = answer.kind,
        hunks = answer.hunks,
        turns = answer.turns,
        output_chars = answer.output_chars,
        selection_chars = prep.selection.chars().count(),
        "answer read"
    );
    let head = chain::next_head(asked.head.as_ref(), turn.mode, &response, sent, true);
    Ok((answer.code, response.id, head))
}

/// Turns the code into minimal edits of the selection and sends them; the chain moves
/// only when the editor applied them.
async fn apply_code(
    ctx: &apply::EditContext<'_>,
    chain_key: &str,
    prep: &Prepared,
    code: &str,
    response_id: String,
    next_head: Head,
) -> Outcome_ {
    let (rope, s) = (&prep.snap.text, prep.start);
    let at_line_start = s
        .checked_sub(1)
        .and_then(|i| rope.get_char(i))
        .is_none_or(|c| c == '\n' || c == '\r');
    let redactor = &ctx.session.redactor;
    let plan = edit::plan_edit(&prep.selection, s, at_line_start, code, prep.eol, redactor);
    tracing::debug!(edits = plan.edits.len(), "edit planned");
    if plan.edits.is_empty() {
        let message =
            "The model returned the selected code unchanged; there is nothing to apply.".to_owned();
        return not_applied(ctx, MessageType::INFO, response_id, message).await;
    }
    match apply::apply(ctx, &prep.snap, s, prep.end, &plan.edits).await? {
        Applied::Yes { version } => {
            ctx.session.advance_chain(chain_key, next_head);
            let docs = &ctx.session.docs;
            docs.expect_version(ctx.uri, version.saturating_add(1));
            for w in &plan.warnings {
                let text = format!("Codex: {w}");
                ctx.client.show_message(MessageType::WARNING, text).await;
            }
            to_value(EditResult {
                applied: true,
                response_id: Some(response_id),
                message: (!plan.warnings.is_empty()).then(|| plan.warnings.join(" ")),
            })
        }
        Applied::No(message) => not_applied(ctx, MessageType::WARNING, response_id, message).await,
    }
}

/// Tells the user why nothing was applied, and answers so.
async fn not_applied(
    ctx: &apply::EditContext<'_>,
    kind: MessageType,
    response_id: String,
    message: String,
) -> Outcome_ {
    let text = format!("Codex: {message}");
    ctx.client.show_message(kind, text).await;
    to_value(EditResult {
        applied: false,
        response_id: Some(response_id),
        message: Some(message),
    })
}

/// The action's range in the current text. A request's range belongs to the version it
/// arrived at: edits since then (earlier jobs on this file, typing elsewhere) move it,
/// and only an edit of the range itself refuses the action.
fn current_range(
    session: &Session,
    req: &JobRequest,
    snap: Snapshot,
) -> Result<(Snapshot, (usize, usize)), Failure> {
    let changed_after_offer = || {
        Failure::DocumentChanged(
            "the document changed after this action was offered; nothing was sent — try again"
                .into(),
        )
    };
    if let Some(a) = req.arrival
        && req.version.is_none_or(|v| v == a.version)
    {
        return match session
            .docs
            .map_to_current(&req.uri, a.version, a.start, a.end)
        {
            Ok((current, s, e)) => Ok((current, (s, e))),
            Err(MapOrSyncError::Map(MapError::RangeEdited)) => Err(Failure::DocumentChanged(
                "the selected code was edited before this action ran; nothing was sent — try \
                 again"
                    .into(),
            )),
            Err(MapOrSyncError::Map(MapError::HistoryTooShort)) => Err(changed_after_offer()),
            Err(MapOrSyncError::Sync(e)) => Err(Failure::Refused(format!("{e}"))),
        };
    }
    match req.version {
        Some(v) if v < snap.version => Err(changed_after_offer()),
        Some(v) if v > snap.version => Err(Failure::Refused(format!(
            "the editor is at version {v} but codex-lsp has version {}; reopen the file",
            snap.version
        ))),
        _ => {
            let range = from_proto::char_range(&snap.text, req.range, session.caps().encoding);
            Ok((snap, range))
        }
    }
}

fn to_value<T: serde::Serialize>(v: T) -> Outcome_ {
    serde_json::to_value(v).map_err(|e| Failure::Internal(e.to_string()))
}

async fn explain(
    session: &Session,
    client: &Client,
    chain_key: &str,
    display: &str,
    response: ResponseObject,
    next_head: Head,
) -> Outcome_ {
    let text = response.output_text();
    if text.trim().is_empty() {
        return Err(Failure::NoCode("the model returned no explanation".into()));
    }
    session.advance_chain(chain_key, next_head);
    client.show_message(MessageType::INFO, text.clone()).await;
    if session.caps().show_document {
        apply::show_markdown(client, display, &text).await;
    }
    to_value(ExplainResult {
        response_id: response.id,
        text,
    })
}
