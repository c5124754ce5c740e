//! Client capabilities resolved once into booleans (handlers never dig through
//! `ClientCapabilities`), and the capabilities this server advertises.

use serde_json::Value;
use tower_lsp_server::ls_types::{
    ClientCapabilities, CodeActionKind, CodeActionOptions, CodeActionProviderCapability,
    ExecuteCommandOptions, PositionEncodingKind, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, WorkDoneProgressOptions,
};

use super::commands::ALL_COMMANDS;
use crate::document::PositionEncoding;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCaps {
    pub encoding: PositionEncoding,
    pub work_done_progress: bool,
    /// `workspace.workspaceEdit.documentChanges`: versioned edits. Neovim applies them
    /// without advertising it, but a compliant server sends it `changes`.
    pub document_changes: bool,
    /// `window.showMessage`: the client can answer `window/showMessageRequest`.
    pub show_message_request: bool,
    pub show_document: bool,
    /// `workspace.configuration`: settings can be pulled.
    pub configuration: bool,
    pub change_annotations: bool,
    /// `workspace.didChangeWatchedFiles.dynamicRegistration`: the server may ask the
    /// client to watch `.codexignore` files for it.
    pub watched_files_dynamic: bool,
}

impl ClientCaps {
    pub fn resolve(caps: &ClientCapabilities) -> Self {
        let v = serde_json::to_value(caps).unwrap_or(Value::Null);
        let flag = |p: &str| v.pointer(p).and_then(Value::as_bool).unwrap_or(false);
        let offered: Vec<&str> = v
            .pointer("/general/positionEncodings")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        Self {
            encoding: PositionEncoding::negotiate(offered),
            work_done_progress: flag("/window/workDoneProgress"),
            document_changes: flag("/workspace/workspaceEdit/documentChanges"),
            show_message_request: v
                .pointer("/window/showMessage")
                .is_some_and(Value::is_object),
            show_document: flag("/window/showDocument/support"),
            configuration: flag("/workspace/configuration"),
            change_annotations: v
                .pointer("/workspace/workspaceEdit/changeAnnotationSupport")
                .is_some_and(Value::is_object),
            watched_files_dynamic: flag("/workspace/didChangeWatchedFiles/dynamicRegistration"),
        }
    }
}

pub fn server_capabilities(enc: PositionEncoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::new(enc.as_str())),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                ..Default::default()
            },
        )),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![
                CodeActionKind::new("quickfix.codex"),
                CodeActionKind::new("refactor.rewrite.codex"),
            ]),
            work_done_progress_options: WorkDoneProgressOptions::default(),
            resolve_provider: Some(false),
        })),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: ALL_COMMANDS.iter().map(|c| (*c).to_owned()).collect(),
            work_done_progress_options: WorkDoneProgressOptions {
                work_done_progress: Some(true),
            },
        }),
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caps(v: Value) -> ClientCaps {
        ClientCaps::resolve(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn vscode_like_client() {
        let c = caps(json!({
            "window": {"workDoneProgress": true, "showMessage": {}, "showDocument": {"support": true}},
            "workspace": {"configuration": true, "workspaceEdit": {"documentChanges": true, "changeAnnotationSupport": {}},
                          "didChangeWatchedFiles": {"dynamicRegistration": true}},
            "general": {"positionEncodings": ["utf-16"]}
        }));
        assert_eq!(c.encoding, PositionEncoding::Utf16);
        assert!(c.work_done_progress && c.document_changes && c.show_message_request);
        assert!(c.show_document && c.configuration && c.change_annotations);
        assert!(c.watched_files_dynamic);
    }

    #[test]
    fn helix_like_client_cannot_answer_questions() {
        let c = caps(json!({
            "general": {"positionEncodings": ["utf-8", "utf-32", "utf-16"]},
            "workspace": {"workspaceEdit": {"documentChanges": true}}
        }));
        assert_eq!(c.encoding, PositionEncoding::Utf8);
        assert!(!c.show_message_request && !c.work_done_progress && !c.change_annotations);
        assert!(!c.watched_files_dynamic);
    }

    #[test]
    fn nothing_offered_means_utf16_and_plain_changes() {
        let c = caps(json!({}));
        assert_eq!(c, ClientCaps::default());
    }
}
