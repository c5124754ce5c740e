//! The `LanguageServer` implementation: thin handlers that parse, call the domain, and
//! convert. Text sync and `workspace/executeCommand` are handled in `dispatch`.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CodeActionParams, CodeActionResponse, ConfigurationItem, DidChangeConfigurationParams,
    DidChangeWatchedFilesRegistrationOptions, DidChangeWorkspaceFoldersParams,
    DidSaveTextDocumentParams, FileSystemWatcher, GlobPattern, InitializeParams, InitializeResult,
    InitializedParams, MessageType, Registration, ServerInfo, WorkspaceFolder,
};
use tower_lsp_server::{Client, LanguageServer};

use super::capabilities::{ClientCaps, server_capabilities};
use super::code_action;
use super::from_proto;
use super::session::Session;
use crate::assist::exclude::IGNORE_FILE;
use crate::settings::{Settings, SettingsProblem};
use crate::sync;

pub struct Backend {
    client: Client,
    session: Arc<Session>,
    /// Problems found in `initializationOptions`, shown once the client can hear them.
    startup_problems: std::sync::Mutex<Vec<SettingsProblem>>,
}

impl Backend {
    pub fn new(client: Client, session: Arc<Session>) -> Self {
        Self {
            client,
            session,
            startup_problems: std::sync::Mutex::default(),
        }
    }

    async fn report(&self, problems: Vec<SettingsProblem>) {
        for p in problems {
            tracing::warn!("{}", p.message());
            if p.is_user_facing() {
                self.client
                    .show_message(MessageType::WARNING, p.message())
                    .await;
            }
        }
    }

    /// Pulls the `codex` section where the client supports `workspace/configuration`.
    async fn pull_settings(&self) {
        let item = ConfigurationItem {
            scope_uri: None,
            section: Some("codex".into()),
        };
        match self.client.configuration(vec![item]).await {
            Ok(values) => {
                if let Some(section) = values.first().and_then(Settings::section) {
                    let problems = self.session.update_settings(section);
                    self.report(problems).await;
                }
            }
            Err(e) => tracing::debug!("workspace/configuration failed: {e}"),
        }
    }
}

impl Backend {
    /// Asks the client to report `.codexignore` changes, so resolved targets can be
    /// kept until one changes (see `Session::target`).
    fn watch_ignore_files(&self) {
        let options = DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![FileSystemWatcher {
                glob_pattern: GlobPattern::String(format!("**/{IGNORE_FILE}")),
                kind: None,
            }],
        };
        let registration = Registration {
            id: "codex-lsp/codexignore".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(options).ok(),
        };
        let session = self.session.clone();
        tokio::task::spawn_blocking(move || session.redactor.warm());
        let (session, client) = (self.session.clone(), self.client.clone());
        tokio::spawn(async move {
            match client.register_capability(vec![registration]).await {
                Ok(()) => session.set_watching(),
                Err(e) => tracing::debug!("watching .codexignore not registered: {e}"),
            }
        });
    }
}

fn folder_paths(folders: &[WorkspaceFolder]) -> Vec<PathBuf> {
    folders
        .iter()
        .filter_map(|f| from_proto::uri_path(&f.uri))
        .collect()
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let caps = ClientCaps::resolve(&params.capabilities);
        self.session.set_caps(caps);
        #[allow(deprecated)] // rootUri is what older clients (Neovim 0.7, eglot) send
        let folders = match (&params.workspace_folders, &params.root_uri) {
            (Some(f), _) if !f.is_empty() => folder_paths(f),
            (_, Some(root)) => from_proto::uri_path(root).into_iter().collect(),
            _ => Vec::new(),
        };
        self.session.set_folders(folders);
        if let Some(section) = params
            .initialization_options
            .as_ref()
            .and_then(Settings::section)
        {
            let problems = self.session.update_settings(section);
            *sync::lock(&self.startup_problems) = problems;
        }
        self.session.mark_initialized();
        tracing::info!(encoding = caps.encoding.as_str(), "initialized");
        Ok(InitializeResult {
            capabilities: server_capabilities(caps.encoding),
            server_info: Some(ServerInfo {
                name: "codex-lsp".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let problems = std::mem::take(&mut *sync::lock(&self.startup_problems));
        self.report(problems).await;
        if self.session.caps().watched_files_dynamic {
            self.watch_ignore_files();
        }
        if self.session.caps().configuration {
            self.pull_settings().await;
        }
        // Build the HTTP client now (loading the system's TLS roots takes milliseconds),
        // off the request path, so the first action does not pay for it.
        // An unusable base URL (a malformed CODEX_LSP_BASE_URL, plain http:// to another
        // host) is said now, not only when the first action fails.
        let session = self.session.clone();
        tokio::task::spawn_blocking(move || session.redactor.warm());
        let (session, client) = (self.session.clone(), self.client.clone());
        tokio::spawn(async move {
            let built = tokio::task::spawn_blocking(move || session.responses_client()).await;
            if let Ok(Ok(model_client)) = &built {
                model_client.warm().await;
            }
            if let Ok(Err(e)) = built {
                tracing::warn!("the model client is not usable: {}", e.user_message());
                client
                    .show_message(
                        MessageType::WARNING,
                        format!("codex-lsp: {}", e.user_message()),
                    )
                    .await;
            }
        });
    }

    async fn shutdown(&self) -> Result<()> {
        self.session.request_shutdown();
        Ok(())
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        let nested = params.settings.get("codex").is_some_and(Value::is_object);
        let flat = params.settings.as_object().is_some_and(|o| !o.is_empty());
        if nested || (flat && !self.session.caps().configuration) {
            if let Some(section) = Settings::section(&params.settings) {
                let problems = self.session.update_settings(section);
                self.report(problems).await;
            }
        } else if self.session.caps().configuration {
            // `{settings: null}` (or another server's section): the signal to pull
            self.pull_settings().await;
        }
    }

    /// Not asked for (no `save` in `textDocumentSync`), but Emacs eglot sends it anyway;
    /// the framework's default logs a warning for each save. Nothing to do: documents
    /// are kept from `didOpen`/`didChange`.
    async fn did_save(&self, _: DidSaveTextDocumentParams) {}

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        let mut folders = self.session.folders();
        let removed = folder_paths(&params.event.removed);
        folders.retain(|f| !removed.contains(f));
        folders.extend(folder_paths(&params.event.added));
        self.session.set_folders(folders);
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        code_action::code_actions(&self.session, params).await
    }
}
