//! Everything the handlers share: documents, negotiated capabilities, settings,
//! workspace folders and running jobs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard};

use super::capabilities::ClientCaps;
use super::jobs::Jobs;
use crate::document::DocumentStore;
use crate::settings::{Settings, SettingsProblem};

/// What the process was started with (the environment, read once in `main`).
#[derive(Clone, Debug, Default)]
pub struct ServerEnv {
    /// Defaults from environment variables.
    pub settings: Settings,
    /// Where chains persist; `None` keeps them in memory only.
    pub chain_file: Option<PathBuf>,
}

pub struct Session {
    pub docs: DocumentStore,
    pub jobs: Jobs,
    pub env: ServerEnv,
    caps: RwLock<ClientCaps>,
    settings: RwLock<Settings>,
    folders: RwLock<Vec<PathBuf>>,
    initialized: AtomicBool,
    shutdown_requested: AtomicBool,
}

fn read<T: Clone>(l: &RwLock<T>) -> T {
    l.read().unwrap_or_else(|p| p.into_inner()).clone()
}

impl Session {
    pub fn new(env: ServerEnv) -> Self {
        Self {
            docs: DocumentStore::new(),
            jobs: Jobs::default(),
            caps: RwLock::default(),
            settings: RwLock::new(env.settings.clone()),
            folders: RwLock::default(),
            initialized: AtomicBool::new(false),
            shutdown_requested: AtomicBool::new(false),
            env,
        }
    }

    pub fn caps(&self) -> ClientCaps {
        read(&self.caps)
    }

    pub fn set_caps(&self, caps: ClientCaps) {
        *self.caps.write().unwrap_or_else(|p| p.into_inner()) = caps;
    }

    pub fn settings(&self) -> Settings {
        read(&self.settings)
    }

    pub fn settings_ref(&self) -> RwLockReadGuard<'_, Settings> {
        self.settings.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies a settings section key by key; returns what was wrong.
    pub fn update_settings(
        &self,
        section: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<SettingsProblem> {
        let mut s = self.settings.write().unwrap_or_else(|p| p.into_inner());
        s.apply(section)
    }

    pub fn folders(&self) -> Vec<PathBuf> {
        read(&self.folders)
    }

    pub fn set_folders(&self, folders: Vec<PathBuf>) {
        *self.folders.write().unwrap_or_else(|p| p.into_inner()) = folders;
    }

    pub fn mark_initialized(&self) {
        self.initialized.store(true, Ordering::SeqCst);
    }

    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::SeqCst)
    }

    pub fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Ordering::SeqCst);
        self.jobs.cancel_all();
    }

    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Ordering::SeqCst)
    }
}

impl Session {
    /// Which file `uri` names and whether Codex may act on it.
    pub fn target(&self, uri: &str) -> crate::assist::target::Target {
        let parsed: Option<tower_lsp_server::ls_types::Uri> = uri.parse().ok();
        let file = parsed
            .as_ref()
            .filter(|u| u.scheme().as_str().eq_ignore_ascii_case("file"))
            .and_then(super::server::uri_path);
        let s = self.settings_ref();
        crate::assist::target::resolve(
            file.as_deref(),
            uri,
            &self.folders(),
            &s.exclude,
            s.allow_outside_workspace,
        )
    }
}
