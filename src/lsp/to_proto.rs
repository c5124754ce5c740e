//! Domain -> LSP conversions, in one place.

use std::collections::HashMap;

use ropey::Rope;
use tower_lsp_server::ls_types::{self as lsp};

use super::commands::{RUN_ACTION, RunActionArgs};
use crate::document::{PositionEncoding, encoding};

pub fn position(rope: &Rope, offset: usize, enc: PositionEncoding) -> lsp::Position {
    let p = encoding::char_to_position(rope, offset, enc);
    lsp::Position::new(p.line, p.character)
}

pub fn range(rope: &Rope, start: usize, end: usize, enc: PositionEncoding) -> lsp::Range {
    lsp::Range::new(position(rope, start, enc), position(rope, end, enc))
}

/// A code action whose command is `codex.runAction` with `args`, serialised from the one
/// argument type (so the menu and the command agree on field names).
pub fn run_action(
    title: String,
    kind: String,
    diagnostic: Option<&lsp::Diagnostic>,
    args: &RunActionArgs,
) -> lsp::CodeActionOrCommand {
    lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
        title: title.clone(),
        kind: Some(lsp::CodeActionKind::from(kind)),
        diagnostics: diagnostic.map(|d| vec![d.clone()]),
        command: Some(lsp::Command {
            title,
            command: RUN_ACTION.into(),
            arguments: serde_json::to_value(args).ok().map(|v| vec![v]),
        }),
        ..Default::default()
    })
}

/// The annotation id edits to a protected file carry, so the editor asks before applying.
const PROTECTED_ANNOTATION: &str = "codex-protected";

/// One document's edits as a workspace edit: versioned `documentChanges` where the
/// client supports them (annotated as needing confirmation when `protected` names why
/// the file is protected), plain `changes` otherwise.
pub fn workspace_edit(
    uri: lsp::Uri,
    version: i32,
    edits: Vec<lsp::TextEdit>,
    versioned: bool,
    protected: Option<&str>,
) -> lsp::WorkspaceEdit {
    if !versioned {
        // the client cannot check a version: the caller checked it, just now
        return lsp::WorkspaceEdit {
            changes: Some(HashMap::from([(uri, edits)])),
            ..Default::default()
        };
    }
    let edits = edits
        .into_iter()
        .map(|e| match protected {
            Some(_) => lsp::OneOf::Right(lsp::AnnotatedTextEdit {
                text_edit: e,
                annotation_id: PROTECTED_ANNOTATION.into(),
            }),
            None => lsp::OneOf::Left(e),
        })
        .collect();
    lsp::WorkspaceEdit {
        document_changes: Some(lsp::DocumentChanges::Edits(vec![lsp::TextDocumentEdit {
            text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                uri,
                version: Some(version),
            },
            edits,
        }])),
        change_annotations: protected.map(|reason| {
            HashMap::from([(
                PROTECTED_ANNOTATION.to_owned(),
                lsp::ChangeAnnotation {
                    label: format!("Codex edits a protected file ({reason})"),
                    needs_confirmation: Some(true),
                    description: None,
                },
            )])
        }),
        ..Default::default()
    }
}

pub fn progress(token: lsp::ProgressToken, value: lsp::WorkDoneProgress) -> lsp::ProgressParams {
    lsp::ProgressParams {
        token,
        value: lsp::ProgressParamsValue::WorkDone(value),
    }
}

/// A cancellable `begin`.
pub fn progress_begin(title: String, message: &str) -> lsp::WorkDoneProgress {
    lsp::WorkDoneProgress::Begin(lsp::WorkDoneProgressBegin {
        title,
        cancellable: Some(true),
        message: Some(message.to_owned()),
        percentage: None,
    })
}

pub fn progress_report(message: String) -> lsp::WorkDoneProgress {
    lsp::WorkDoneProgress::Report(lsp::WorkDoneProgressReport {
        message: Some(message),
        ..Default::default()
    })
}

pub fn progress_end(message: &str) -> lsp::WorkDoneProgress {
    lsp::WorkDoneProgress::End(lsp::WorkDoneProgressEnd {
        message: Some(message.to_owned()),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn wire<T: serde::Serialize>(v: T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    fn range_0_1() -> lsp::Range {
        lsp::Range::new(lsp::Position::new(0, 0), lsp::Position::new(0, 1))
    }

    #[test]
    fn run_action_carries_the_typed_arguments() {
        let args = RunActionArgs {
            uri: "file:///a.rs".into(),
            range: range_0_1(),
            action: "fix".into(),
            version: Some(3),
            diagnostic: Some(json!({"message": "boom"})),
            confirmed: None,
        };
        let lsp::CodeActionOrCommand::CodeAction(a) =
            run_action("Fix".into(), "quickfix.codex".into(), None, &args)
        else {
            panic!("not a code action");
        };
        assert_eq!(a.kind.unwrap().as_str(), "quickfix.codex");
        let cmd = a.command.unwrap();
        assert_eq!(cmd.command, RUN_ACTION);
        let sent = &cmd.arguments.unwrap()[0];
        assert_eq!(
            sent,
            &json!({
                "uri": "file:///a.rs",
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
                "action": "fix", "version": 3, "diagnostic": {"message": "boom"},
            })
        );
        let back: RunActionArgs = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(back, args);
    }

    #[test]
    fn workspace_edit_versioned_plain_and_protected() {
        let uri: lsp::Uri = "file:///a.rs".parse().unwrap();
        let edits = vec![lsp::TextEdit::new(range_0_1(), "x".into())];
        let plain = wire(workspace_edit(uri.clone(), 4, edits.clone(), false, None));
        assert_eq!(plain["changes"]["file:///a.rs"][0]["newText"], "x");
        assert!(plain.get("documentChanges").is_none());

        let versioned = wire(workspace_edit(uri.clone(), 4, edits.clone(), true, None));
        let doc = &versioned["documentChanges"][0];
        assert_eq!(doc["textDocument"]["version"], 4);
        assert!(doc["edits"][0].get("annotationId").is_none());
        assert!(versioned.get("changeAnnotations").is_none());

        let protected = wire(workspace_edit(uri, 4, edits, true, Some("make recipes")));
        let doc = &protected["documentChanges"][0];
        assert_eq!(doc["edits"][0]["annotationId"], PROTECTED_ANNOTATION);
        let note = &protected["changeAnnotations"][PROTECTED_ANNOTATION];
        assert_eq!(note["needsConfirmation"], true);
        assert_eq!(note["label"], "Codex edits a protected file (make recipes)");
    }

    #[test]
    fn progress_values_on_the_wire() {
        let token = lsp::ProgressToken::String("t".into());
        let begin = wire(progress(
            token.clone(),
            progress_begin("Fix".into(), "asking"),
        ));
        assert_eq!(
            begin,
            json!({"token": "t", "value": {"kind": "begin", "title": "Fix", "cancellable": true, "message": "asking"}})
        );
        assert_eq!(
            wire(progress_report("half".into())),
            json!({"kind": "report", "message": "half"})
        );
        assert_eq!(
            wire(progress_end("done")),
            json!({"kind": "end", "message": "done"})
        );
    }
}
