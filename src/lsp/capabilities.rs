//! Client capabilities resolved once into booleans (handlers never dig through
//! `ClientCapabilities`), and the capabilities this server advertises.

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
    /// Reads the fields through their types, so a misspelt capability does not compile.
    pub fn resolve(caps: &ClientCapabilities) -> Self {
        let window = caps.window.as_ref();
        let workspace = caps.workspace.as_ref();
        let edit = workspace.and_then(|w| w.workspace_edit.as_ref());
        let offered = caps
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_deref())
            .unwrap_or_default();
        Self {
            encoding: PositionEncoding::negotiate(offered.iter().map(|e| e.as_str())),
            work_done_progress: window.and_then(|w| w.work_done_progress) == Some(true),
            document_changes: edit.and_then(|e| e.document_changes) == Some(true),
            show_message_request: window.is_some_and(|w| w.show_message.is_some()),
            show_document: window
                .and_then(|w| w.show_document.as_ref())
                .is_some_and(|d| d.support),
            configuration: workspace.and_then(|w| w.configuration) == Some(true),
            change_annotations: edit.is_some_and(|e| e.change_annotation_support.is_some()),
            watched_files_dynamic: workspace
                .and_then(|w| w.did_change_watched_files.as_ref())
                .and_then(|d| d.dynamic_registration)
                == Some(true),
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
    use serde_json::{Value, json};

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
    fn each_flag_is_read_from_its_own_field() {
        let cases = [
            (
                json!({"window": {"workDoneProgress": true}}),
                "work_done_progress",
            ),
            (
                json!({"workspace": {"workspaceEdit": {"documentChanges": true}}}),
                "document_changes",
            ),
            (
                json!({"window": {"showMessage": {}}}),
                "show_message_request",
            ),
            (
                json!({"window": {"showDocument": {"support": true}}}),
                "show_document",
            ),
            (
                json!({"workspace": {"configuration": true}}),
                "configuration",
            ),
            (
                json!({"workspace": {"workspaceEdit": {"changeAnnotationSupport": {}}}}),
                "change_annotations",
            ),
        ];
        for (v, name) in cases {
            let c = caps(v);
            let set = [
                ("work_done_progress", c.work_done_progress),
                ("document_changes", c.document_changes),
                ("show_message_request", c.show_message_request),
                ("show_document", c.show_document),
                ("configuration", c.configuration),
                ("change_annotations", c.change_annotations),
            ];
            for (flag, on) in set {
                assert_eq!(on, flag == name, "{name} set {flag}");
            }
        }
        let c = caps(
            json!({"window": {"showDocument": {"support": false}, "workDoneProgress": false}}),
        );
        assert!(!c.show_document && !c.work_done_progress);
    }

    #[test]
    fn nothing_offered_means_utf16_and_plain_changes() {
        let c = caps(json!({}));
        assert_eq!(c, ClientCaps::default());
    }
}
