//! Everything the handlers share: documents, negotiated capabilities, settings,
//! workspace folders and running jobs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use std::sync::Mutex;
use std::time::Duration;

use super::capabilities::ClientCaps;
use super::jobs::Jobs;
use crate::assist::redact::Redactor;
use crate::document::DocumentStore;
use crate::openai::{ApiKey, ClientConfig, KeySource, OpenAiError, ResponsesClient};
use crate::settings::{Settings, SettingsProblem};
use crate::store::chains::{ChainStore, Head};
use crate::sync;

/// What the process was started with (the environment, read once in `main`).
#[derive(Clone, Debug)]
pub struct ServerEnv {
    /// Defaults from environment variables.
    pub settings: Settings,
    /// Where chains persist.
    pub chain_file: PathBuf,
    /// The Bearer key and the variable it came from (environment only, never settings).
    pub api_key: Option<(ApiKey, KeySource)>,
    /// Bound between two streamed events.
    pub idle_timeout: Duration,
}

impl ServerEnv {
    /// The Responses client configuration for `settings` and this environment's key.
    pub fn client_config(&self, settings: &Settings) -> ClientConfig {
        let mut cfg = ClientConfig::new(
            settings.base_url.clone(),
            self.api_key.as_ref().map(|(k, _)| k.clone()),
        );
        cfg.timeout = Duration::from_secs(settings.timeout_secs);
        cfg.max_retries = settings.max_retries;
        cfg.idle_timeout = self.idle_timeout;
        cfg
    }

    /// Reads the process environment (`lookup` is `std::env::var` in production).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String> + Copy) -> Self {
        let chain_file = ChainStore::default_path()
            .unwrap_or_else(|| std::env::temp_dir().join("codex-lsp").join("chains.json"));
        let idle = lookup("CODEX_LSP_STREAM_IDLE_SECS")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(60);
        Self {
            settings: Settings::from_env(lookup),
            chain_file,
            api_key: crate::openai::api_key_from(lookup),
            idle_timeout: Duration::from_secs(idle),
        }
    }
}

pub struct Session {
    pub docs: DocumentStore,
    pub jobs: Jobs,
    pub env: ServerEnv,
    /// Read directly (memory only); moved through [`Session::advance_chain`] and
    /// [`Session::reset_chain`], which keep its file I/O off the runtime's workers.
    pub chains: Arc<ChainStore>,
    pub redactor: Redactor,
    http: Mutex<Option<(ClientConfigKey, ResponsesClient)>>,
    caps: RwLock<ClientCaps>,
    settings: RwLock<Settings>,
    folders: RwLock<Vec<PathBuf>>,
    initialized: AtomicBool,
    shutdown_requested: AtomicBool,
    /// Set once the user was told that the key comes from OPENAI_API_KEY.
    key_source_told: AtomicBool,
}

fn read<T: Clone>(l: &RwLock<T>) -> T {
    sync::read(l).clone()
}

impl Session {
    pub fn new(env: ServerEnv) -> Self {
        Self {
            docs: DocumentStore::new(),
            jobs: Jobs::default(),
            chains: Arc::new(ChainStore::open(env.chain_file.clone())),
            redactor: Redactor::new(),
            http: Mutex::default(),
            caps: RwLock::default(),
            settings: RwLock::new(env.settings.clone()),
            folders: RwLock::default(),
            initialized: AtomicBool::new(false),
            shutdown_requested: AtomicBool::new(false),
            key_source_told: AtomicBool::new(false),
            env,
        }
    }

    pub fn caps(&self) -> ClientCaps {
        read(&self.caps)
    }

    pub fn set_caps(&self, caps: ClientCaps) {
        *sync::write(&self.caps) = caps;
    }

    pub fn settings(&self) -> Settings {
        read(&self.settings)
    }

    pub fn settings_ref(&self) -> RwLockReadGuard<'_, Settings> {
        sync::read(&self.settings)
    }

    /// Applies a settings section key by key; returns what was wrong.
    pub fn update_settings(
        &self,
        section: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<SettingsProblem> {
        let mut s = sync::write(&self.settings);
        let before = s.log_file.clone();
        let mut problems = s.apply_over(section, &self.env.settings);
        if s.log_file != before {
            if let Err(message) = crate::logging::set_file(s.log_file.as_deref()) {
                s.log_file = before;
                problems.push(SettingsProblem::BadValue {
                    key: "logFile".into(),
                    message,
                });
            } else {
                tracing::info!(file = ?s.log_file, "log file changed");
            }
        }
        problems
    }

    pub fn folders(&self) -> Vec<PathBuf> {
        read(&self.folders)
    }

    pub fn set_folders(&self, folders: Vec<PathBuf>) {
        *sync::write(&self.folders) = folders;
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
    /// Once per session, before the first request that sends a key taken from
    /// OPENAI_API_KEY (a key meant for OpenAI, sent to whatever baseUrl says): where
    /// it came from and which host receives it.
    pub fn key_source_notice(&self) -> Option<String> {
        let (_, source) = self.env.api_key.as_ref()?;
        if *source != KeySource::OpenAiApiKey || self.key_source_told.swap(true, Ordering::SeqCst) {
            return None;
        }
        let base = self.settings_ref().base_url.clone();
        let host = host_of(&base);
        Some(format!(
            "Codex: using the API key from OPENAI_API_KEY (CODEX_LSP_API_KEY is not set); \
             requests go to {host}. Set baseUrl to send them elsewhere."
        ))
    }

    /// Makes `head` the head of `key`'s chain: in memory at once (the next job reads
    /// it), on disk from a blocking thread that nobody waits for (an fsync is not the
    /// user's to wait on).
    pub fn advance_chain(&self, key: &str, head: Head) {
        self.chains.record_advance(key, head);
        self.flush_chains();
    }

    /// Forgets `key`'s chain, like [`Session::advance_chain`].
    pub fn reset_chain(&self, key: &str) {
        self.chains.record_reset(key);
        self.flush_chains();
    }

    fn flush_chains(&self) {
        let chains = self.chains.clone();
        // Detached: flushes run one at a time, and `serve` flushes once more at exit.
        drop(tokio::task::spawn_blocking(move || chains.flush()));
    }
}

impl Session {
    /// Which file `uri` names and whether Codex may act on it.
    pub fn target(&self, uri: &str) -> crate::assist::target::Target {
        let parsed: Option<tower_lsp_server::ls_types::Uri> = uri.parse().ok();
        let file = parsed
            .as_ref()
            .filter(|u| u.scheme().as_str().eq_ignore_ascii_case("file"))
            .and_then(super::from_proto::uri_path);
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

/// What a `ResponsesClient` depends on; a settings change rebuilds it.
type ClientConfigKey = (String, u64, u32);

impl Session {
    /// The HTTP client for the current settings, built once and reused (connection
    /// pooling; building one loads the TLS roots).
    pub fn responses_client(&self) -> Result<ResponsesClient, OpenAiError> {
        let s = self.settings();
        let key: ClientConfigKey = (s.base_url.clone(), s.timeout_secs, s.max_retries);
        let mut slot = sync::lock(&self.http);
        if let Some((k, c)) = slot.as_ref()
            && *k == key
        {
            return Ok(c.clone());
        }
        let client = ResponsesClient::new(self.env.client_config(&s))?;
        *slot = Some((key, client.clone()));
        Ok(client)
    }
}

/// The host part of a base URL, for messages (no credentials, no path).
fn host_of(base: &str) -> String {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_owned()
}
