//! `textDocument/codeAction`: answers at once, never touches the network. Every action
//! carries a `codex.runAction` command with `{uri, range, action, version}`.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CodeActionOrCommand, CodeActionParams, CodeActionResponse, CodeActionTriggerKind, Diagnostic,
    Range,
};

use super::commands::RunActionArgs;
use super::failure::request_failed;
use super::from_proto;
use super::session::Session;
use super::to_proto;
use crate::assist::actions::{self, ActionSpec};
use crate::assist::{consent, selection};
use crate::document::SyncStatus;
use crate::settings::UserAction;
use ropey::Rope;

fn overlaps(a: &Range, b: &Range) -> bool {
    let key = |p: &tower_lsp_server::ls_types::Position| (p.line, p.character);
    key(&a.start) <= key(&b.end) && key(&b.start) <= key(&a.end)
}

struct Builder<'a> {
    uri: &'a str,
    range: Range,
    version: i32,
    protected: bool,
    can_ask: bool,
}

impl Builder<'_> {
    fn action(
        &self,
        spec: &ActionSpec,
        title: String,
        diagnostic: Option<&Diagnostic>,
    ) -> CodeActionOrCommand {
        let is_edit = spec.outcome == actions::Outcome::Edit;
        let confirmed = consent::offer_confirmed(is_edit, self.protected, self.can_ask);
        let args = RunActionArgs {
            uri: self.uri.to_owned(),
            range: self.range,
            action: spec.id.clone(),
            version: Some(self.version),
            diagnostic: diagnostic.and_then(|d| serde_json::to_value(d).ok()),
            confirmed: confirmed.then_some(true),
        };
        let mut title = title;
        if confirmed {
            title.push_str(" (edits a protected file)");
        }
        to_proto::run_action(title, spec.kind(), diagnostic, &args)
    }
}

pub async fn code_actions(
    session: &Session,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let uri = params.text_document.uri.as_str();
    let Some(snap) = session.docs.snapshot(uri) else {
        return Ok(None);
    };
    // The user was shown a warning once, when it went out of sync. VS Code asks for
    // code actions on every cursor move: offer none then; a menu the user opened gets
    // the reason as its error, and neither shows the warning again.
    if let SyncStatus::Desynced(reason) = &snap.status {
        if params.context.trigger_kind == Some(CodeActionTriggerKind::AUTOMATIC) {
            return Ok(Some(Vec::new()));
        }
        return Err(request_failed(format!(
            "Codex: {uri} is out of sync with the editor ({reason}); reopen it to use Codex actions"
        )));
    }
    let target = session.offer_target(uri);
    if target.refusal.is_some() {
        return Ok(Some(Vec::new()));
    }
    // a menu the user opened (not one asked for on a cursor move): an action may
    // follow, so a connection the service closed while idle is reopened meanwhile
    if params.context.trigger_kind != Some(CodeActionTriggerKind::AUTOMATIC) {
        session.warm_connection_if_idle();
    }
    let settings = session.settings();
    let caps = session.caps();
    let b = Builder {
        uri,
        range: params.range,
        version: snap.version,
        protected: target.sensitive.is_some(),
        can_ask: caps.show_message_request,
    };
    let mut out = fixes(&b, &params);
    let (s, e) = from_proto::char_range(&snap.text, params.range, caps.encoding);
    let automatic = params.context.trigger_kind == Some(CodeActionTriggerKind::AUTOMATIC);
    out.extend(on_selection(
        &b,
        &snap.text,
        (s, e),
        automatic,
        &settings.actions,
    ));
    Ok(Some(out))
}

/// A `fix` for each diagnostic the range touches.
fn fixes(b: &Builder<'_>, params: &CodeActionParams) -> Vec<CodeActionOrCommand> {
    let Some(spec) = actions::lookup("fix", &[]) else {
        return Vec::new();
    };
    params
        .context
        .diagnostics
        .iter()
        .filter(|d| overlaps(&d.range, &params.range))
        .map(|d| {
            b.action(
                &spec,
                actions::menu_title(&spec, Some(&d.message), None),
                Some(d),
            )
        })
        .collect()
}

/// The selection actions (built in and the user's), and `instruct` where a `codex:`
/// comment is near the selection `(s, e)`.
fn on_selection(
    b: &Builder<'_>,
    text: &Rope,
    (s, e): (usize, usize),
    automatic: bool,
    user_actions: &[UserAction],
) -> Vec<CodeActionOrCommand> {
    let mut out = Vec::new();
    // An empty selection offers the selection actions only when the user asked for the
    // menu; VS Code asks automatically on every cursor move.
    if s < e || !automatic {
        for id in actions::selection_action_ids(user_actions) {
            if let Some(spec) = actions::lookup(&id, user_actions) {
                out.push(b.action(&spec, spec.title.clone(), None));
            }
        }
    }
    let (first, last) = (text.char_to_line(s), text.char_to_line(e));
    if let Some((_, instruction)) = selection::codex_comment_near(text, first, last)
        && let Some(spec) = actions::lookup("instruct", &[])
    {
        let title = actions::menu_title(&spec, None, Some(&instruction));
        out.push(b.action(&spec, title, None));
    }
    out
}
