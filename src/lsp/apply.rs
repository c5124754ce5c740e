//! Sending the edit: ask for consent on protected files, move the edit to where the
//! selection is now (or refuse if the selection itself was edited), and send one
//! versioned `workspace/applyEdit` touching only the selected range.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::request::{ApplyWorkspaceEdit, ShowDocument};
use tower_lsp_server::ls_types::{
    ApplyWorkspaceEditParams, MessageActionItem, MessageType, ShowDocumentParams, TextEdit, Uri,
    WorkspaceEdit,
};

use super::failure::Failure;
use super::jobs::or_cancel;
use super::session::Session;
use super::to_proto;
use crate::assist::consent::Consent;
use crate::assist::diff::CharEdit;
use crate::assist::edit::{ConsentDiff, consent_diff};
use crate::document::{MapError, MapOrSyncError, Snapshot};

pub struct EditContext<'a> {
    pub session: &'a Session,
    pub client: &'a Client,
    pub uri: &'a str,
    pub title: &'a str,
    pub display: &'a str,
    pub sensitive: Option<&'static str>,
    /// How the user consents to an edit here (decided before the model was asked).
    pub consent: Consent,
    pub cancel: &'a CancellationToken,
}

pub enum Applied {
    /// Applied on top of this document version.
    Yes { version: i32 },
    /// Not applied; the reason, for the user.
    No(String),
}

const APPLY: &str = "Apply";

/// Asks before editing a protected file; any answer but "Apply" (dismissed, an error
/// reply, a client that cannot answer) means no. The question shows every changed
/// line; a diff too long for a message is opened as a document first and the question
/// asks about that, and where it cannot be opened nothing is applied.
async fn consent(
    ctx: &EditContext<'_>,
    reason: &str,
    n: usize,
    diff: &ConsentDiff,
) -> Result<Result<bool, String>, Failure> {
    let shown = match &diff.short {
        Some(short) => short.clone(),
        None => {
            let opened = ctx.session.caps().show_document
                && show_file(ctx.client, "consent", ctx.display, "diff", &diff.full).await;
            if !opened {
                return Ok(Err(format!(
                    "not applied: the change to {} is too long to show in a question and \
                     this editor cannot open it as a document",
                    ctx.display
                )));
            }
            "The full change is open in a new document (codex-lsp consent diff); read it \
             before you answer."
                .to_owned()
        }
    };
    let message = format!(
        "Codex wants to change {} ({n} edit{}) in {}, a protected file ({reason}). Apply this edit?\n{shown}",
        if n == 1 {
            "one place"
        } else {
            "several places"
        },
        if n == 1 { "" } else { "s" },
        ctx.display
    );
    let actions = vec![
        MessageActionItem {
            title: APPLY.into(),
            properties: HashMap::new(),
        },
        MessageActionItem {
            title: "Don't apply".into(),
            properties: HashMap::new(),
        },
    ];
    let answer = or_cancel(
        ctx.cancel,
        ctx.client
            .show_message_request(MessageType::WARNING, message, Some(actions)),
    )
    .await?;
    Ok(Ok(matches!(answer, Ok(Some(item)) if item.title == APPLY)))
}

/// The line diff of the whole lines the edits touch, before and after.
fn diff_of(snap: &Snapshot, edits: &[CharEdit]) -> ConsentDiff {
    let text = &snap.text;
    let len = text.len_chars();
    let (Some(first), Some(last)) = (edits.first(), edits.last()) else {
        return consent_diff("", "");
    };
    let start = text.line_to_char(text.char_to_line(first.start.min(len)));
    let end_line = text.char_to_line(last.end.min(len));
    let end = if end_line + 1 < text.len_lines() {
        text.line_to_char(end_line + 1)
    } else {
        len
    };
    let old = text.slice(start..end).to_string();
    let mut new = String::with_capacity(old.len());
    let mut at = start;
    for e in edits {
        let (s, t) = (e.start.clamp(at, end), e.end.clamp(at, end));
        new.push_str(&text.slice(at..s).to_string());
        new.push_str(&e.text);
        at = t;
    }
    new.push_str(&text.slice(at..end).to_string());
    consent_diff(&old, &new)
}

pub async fn apply(
    ctx: &EditContext<'_>,
    snap: &Snapshot,
    sel_start: usize,
    sel_end: usize,
    edits: &[CharEdit],
) -> Result<Applied, Failure> {
    if let (Some(reason), Consent::Ask) = (ctx.sensitive, ctx.consent) {
        match consent(ctx, reason, edits.len(), &diff_of(snap, edits)).await? {
            Ok(true) => {}
            Ok(false) => {
                return Ok(Applied::No(format!(
                    "not applied: you declined the edit to {}",
                    ctx.display
                )));
            }
            Err(why) => return Ok(Applied::No(why)),
        }
    }
    // the user may have typed while the model (or the question) was pending
    let (current, new_start) = rebase(ctx, snap, sel_start, sel_end)?;
    let caps = ctx.session.caps();
    let shift = |o: usize| (o + new_start).saturating_sub(sel_start);
    let text_edits: Vec<TextEdit> = edits
        .iter()
        .map(|e| {
            let r = to_proto::range(&current.text, shift(e.start), shift(e.end), caps.encoding);
            TextEdit::new(r, e.text.clone())
        })
        .collect();
    let uri: Uri = ctx
        .uri
        .parse()
        .map_err(|_| Failure::Internal(format!("cannot parse the URI {}", ctx.uri)))?;
    // annotated edits make the editor ask again, where it can
    let protected = ctx.sensitive.filter(|_| caps.change_annotations);
    let versioned = caps.document_changes;
    let edit = to_proto::workspace_edit(uri, current.version, text_edits, versioned, protected);
    Ok(send(ctx, edit, current.version).await)
}

/// The document as it is now and where the selection starts in it; refused when the
/// selection itself was edited since `snap`.
fn rebase(
    ctx: &EditContext<'_>,
    snap: &Snapshot,
    sel_start: usize,
    sel_end: usize,
) -> Result<(Snapshot, usize), Failure> {
    let docs = &ctx.session.docs;
    match docs.map_to_current(ctx.uri, snap.version, sel_start, sel_end) {
        Ok((current, new_start, _)) => Ok((current, new_start)),
        Err(MapOrSyncError::Map(MapError::RangeEdited)) => Err(Failure::DocumentChanged(
            "the selected code was edited while the model was working; nothing was changed".into(),
        )),
        Err(MapOrSyncError::Map(e)) => Err(Failure::DocumentChanged(format!(
            "{e}; nothing was changed"
        ))),
        Err(MapOrSyncError::Sync(e)) => Err(Failure::Refused(format!("{e}; nothing was changed"))),
    }
}

/// Sends the edit, made against document `version`, and reads the editor's answer.
async fn send(ctx: &EditContext<'_>, edit: WorkspaceEdit, version: i32) -> Applied {
    let params = ApplyWorkspaceEditParams {
        label: Some(ctx.title.to_owned()),
        edit,
    };
    // Not cancellable: once the edit is sent the editor may apply it, so its outcome,
    // not a late cancel, is the answer (and moves the chain).
    let reply = ctx.client.send_request::<ApplyWorkspaceEdit>(params).await;
    match reply {
        Ok(r) if r.applied => Applied::Yes { version },
        Ok(r) => Applied::No(format!(
            "the editor did not apply the edit{}",
            r.failure_reason
                .map(|f| format!(": {f}"))
                .unwrap_or_default()
        )),
        Err(e) => Applied::No(format!(
            "the editor did not apply the edit (it answered: {})",
            e.message
        )),
    }
}

/// Opens an explanation as a Markdown document (a file in the cache directory).
pub async fn show_markdown(client: &Client, display: &str, text: &str) {
    show_file(
        client,
        "explain",
        display,
        "md",
        &format!("# {display}\n\n{text}\n"),
    )
    .await;
}

/// Writes `content` to `<cache>/codex-lsp/<kind>/<display, sanitised>.<ext>` and asks
/// the editor to show it; true when the editor said it did.
async fn show_file(client: &Client, kind: &str, display: &str, ext: &str, content: &str) -> bool {
    // the user's cache directory ($XDG_CACHE_HOME/codex-lsp on Linux), found by the same
    // crate that finds the chains' state directory
    let dir = directories::ProjectDirs::from("", "", "codex-lsp")
        .map(|d| d.cache_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("codex-lsp"))
        .join(kind);
    let name: String = display
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{name}.{ext}"));
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, content));
    if let Err(e) = written {
        tracing::warn!("cannot write the {kind} document: {e}");
        return false;
    }
    let Some(uri) = Uri::from_file_path(&path) else {
        return false;
    };
    let params = ShowDocumentParams {
        uri,
        external: Some(false),
        // not stealing focus: Neovim would replace the window the user is in
        take_focus: Some(false),
        selection: None,
    };
    match client.send_request::<ShowDocument>(params).await {
        Ok(r) => r.success,
        Err(e) => {
            tracing::debug!("window/showDocument failed: {e}");
            false
        }
    }
}
