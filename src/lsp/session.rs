//! Everything the handlers share: documents, negotiated capabilities, settings,
//! workspace folders and running jobs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// Per-URI [`Session::target`] answers, kept only while the client watches
    /// `.codexignore` for us (see [`Session::set_watching`]).
    targets: Mutex<TargetCache>,
    /// Each workspace folder's exclusion rules, kept like `targets`.
    rules: crate::assist::exclude::RulesCache,
    /// The client reports `.codexignore` changes: it accepted our watcher, or it sends
    /// `workspace/didChangeWatchedFiles` unasked.
    watching: AtomicBool,
    /// How many times a target was resolved (filesystem work), for tests.
    resolutions: AtomicU64,
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
            targets: Mutex::default(),
            rules: crate::assist::exclude::RulesCache::default(),
            watching: AtomicBool::new(false),
            resolutions: AtomicU64::new(0),
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
        let rules_before = (s.exclude.clone(), s.allow_outside_workspace);
        let mut problems = s.apply_over(section, &self.env.settings);
        if (&s.exclude, s.allow_outside_workspace) != (&rules_before.0, rules_before.1) {
            self.invalidate_targets("settings");
        }
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
        self.invalidate_targets("workspace folders");
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
        let host = crate::openai::display_host(&base);
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

/// Resolved targets by URI. `generation` moves on every invalidation, so that a
/// resolution that raced one is not stored.
#[derive(Default)]
struct TargetCache {
    generation: u64,
    by_uri: HashMap<String, crate::assist::target::Target>,
    /// What code-action offers last relied on, and when (see [`Session::offer_target`]).
    offered: HashMap<String, (Instant, crate::assist::target::Target)>,
}

/// How long code-action offers may rely on one resolution when the client reports no
/// `.codexignore` changes: clients ask on every cursor move, and only the action itself
/// sends anything, so it alone must see a new rule at once.
const OFFER_REUSE: Duration = Duration::from_secs(2);

/// Beyond this many URIs the cache starts over (a bound, not an LRU).
const MAX_CACHED_TARGETS: usize = 4096;

fn insert_bounded<V>(map: &mut HashMap<String, V>, uri: &str, value: V) {
    if map.len() >= MAX_CACHED_TARGETS {
        map.clear();
    }
    map.insert(uri.to_owned(), value);
}

impl Session {
    /// Which file `uri` names and whether Codex may act on it.
    ///
    /// Resolving costs filesystem work (canonical paths, every `.codexignore` on the
    /// way, the `exclude` globs compiled), and VS Code asks for code actions on every
    /// cursor move; so while the client watches `.codexignore` for us the answer is
    /// kept per URI until the rules can have changed: the `exclude` or
    /// `allowOutsideWorkspace` setting, the workspace folders, or a `.codexignore`
    /// reported by `workspace/didChangeWatchedFiles`. A client that reports nothing
    /// gets a fresh resolution each time. Out of scope: a symlink on the path that
    /// changes after the first resolution is not noticed until the next invalidation.
    pub fn target(&self, uri: &str) -> crate::assist::target::Target {
        // the client watches its workspace folders only: a file outside them (single-
        // file mode, allowOutsideWorkspace) is resolved afresh every time
        let watching = self.watching.load(Ordering::SeqCst) && self.in_a_folder(uri);
        let generation = {
            let cache = sync::lock(&self.targets);
            if watching && let Some(t) = cache.by_uri.get(uri) {
                return t.clone();
            }
            cache.generation
        };
        let target = sync::blocking(|| self.resolve_target(uri, watching));
        if watching {
            let mut cache = sync::lock(&self.targets);
            if cache.generation == generation {
                insert_bounded(&mut cache.by_uri, uri, target.clone());
            }
        }
        target
    }

    /// [`Session::target`] for offering code actions: when the client does not watch
    /// `.codexignore` for us, a resolution younger than [`OFFER_REUSE`] is reused
    /// (an action offered on a file just excluded is refused when chosen, by the
    /// fresh resolution the action makes).
    pub fn offer_target(&self, uri: &str) -> crate::assist::target::Target {
        let generation = {
            let cache = sync::lock(&self.targets);
            if let Some((at, t)) = cache.offered.get(uri)
                && at.elapsed() < OFFER_REUSE
            {
                return t.clone();
            }
            cache.generation
        };
        let target = self.target(uri);
        let mut cache = sync::lock(&self.targets);
        if cache.generation == generation {
            insert_bounded(&mut cache.offered, uri, (Instant::now(), target.clone()));
        }
        target
    }

    /// Whether `uri` names a file under one of the workspace folders (by path
    /// components, without touching the filesystem).
    fn in_a_folder(&self, uri: &str) -> bool {
        let file = uri
            .parse::<tower_lsp_server::ls_types::Uri>()
            .ok()
            .and_then(|u| super::from_proto::uri_path(&u));
        file.is_some_and(|f| sync::read(&self.folders).iter().any(|d| f.starts_with(d)))
    }

    fn resolve_target(&self, uri: &str, cached_rules: bool) -> crate::assist::target::Target {
        self.resolutions.fetch_add(1, Ordering::Relaxed);
        let parsed: Option<tower_lsp_server::ls_types::Uri> = uri.parse().ok();
        let file = parsed
            .as_ref()
            .filter(|u| u.scheme().as_str().eq_ignore_ascii_case("file"))
            .and_then(super::from_proto::uri_path);
        let folders = self.folders();
        let s = self.settings_ref();
        crate::assist::target::resolve_with(
            file.as_deref(),
            uri,
            &folders,
            &s.exclude,
            s.allow_outside_workspace,
            cached_rules.then_some(&self.rules),
        )
    }

    /// Forgets every resolved target: the rules they were judged by may have changed.
    pub fn invalidate_targets(&self, why: &str) {
        let mut cache = sync::lock(&self.targets);
        cache.generation += 1;
        cache.by_uri.clear();
        cache.offered.clear();
        self.rules.clear();
        tracing::debug!(why, "exclusion rules invalidated");
    }

    /// From now on the client reports `.codexignore` changes, so targets may be kept.
    pub fn set_watching(&self) {
        if !self.watching.swap(true, Ordering::SeqCst) {
            // anything resolved before may predate a change nobody reported
            self.invalidate_targets("now watching .codexignore");
        }
    }

    /// How many targets were resolved (rather than answered from the cache).
    #[cfg(test)]
    pub fn target_resolutions(&self) -> u64 {
        self.resolutions.load(Ordering::Relaxed)
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

    /// Reopens the connection to the model service in the background if it may have
    /// gone idle (see [`ResponsesClient::warm_if_idle`]); only with a client already
    /// built, which `initialized` does.
    pub fn warm_connection_if_idle(&self) {
        let client = sync::lock(&self.http).as_ref().map(|(_, c)| c.clone());
        if let Some(client) = client {
            tokio::spawn(async move { client.warm_if_idle().await });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session(dir: &std::path::Path) -> Session {
        Session::new(ServerEnv {
            settings: Settings::from_env(|_| None),
            chain_file: dir.join("chains.json"),
            api_key: None,
            idle_timeout: Duration::from_secs(60),
        })
    }

    fn file_uri(p: &std::path::Path) -> String {
        format!("file://{}", p.display())
    }

    /// Seven directories deep, like the measurement in issue 13.
    fn workspace() -> (tempfile::TempDir, PathBuf, String) {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        let deep = ws.join("a/b/c/d/e/f/g");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(ws.join(".codexignore"), "*.sql\n").unwrap();
        std::fs::write(deep.join("lib.rs"), "fn f() {}\n").unwrap();
        let uri = file_uri(&deep.join("lib.rs"));
        (dir, ws, uri)
    }

    #[test]
    fn a_watched_target_is_resolved_once_until_the_rules_change() {
        let (dir, ws, uri) = workspace();
        let s = session(dir.path());
        s.set_folders(vec![ws.clone()]);
        s.set_watching();
        let first = s.target(&uri);
        assert_eq!(first.refusal, None, "{first:?}");
        assert_eq!(first.display, "a/b/c/d/e/f/g/lib.rs");
        for _ in 0..100 {
            assert_eq!(s.target(&uri), first);
        }
        assert_eq!(
            s.target_resolutions(),
            1,
            "no filesystem work after the first"
        );

        // a .codexignore change, reported by the client
        std::fs::write(ws.join("a/.codexignore"), "b/c/\n").unwrap();
        s.invalidate_targets("test");
        assert!(matches!(
            s.target(&uri).refusal,
            Some(crate::assist::target::Refusal::Excluded(_))
        ));
        assert_eq!(s.target_resolutions(), 2);
        std::fs::remove_file(ws.join("a/.codexignore")).unwrap();
        s.invalidate_targets("test");
        assert_eq!(s.target(&uri).refusal, None);
        s.target(&uri);
        assert_eq!(s.target_resolutions(), 3);

        // the exclude setting
        let section = json!({"exclude": ["**/g/**"]});
        s.update_settings(section.as_object().unwrap());
        assert!(s.target(&uri).refusal.is_some());
        assert_eq!(s.target_resolutions(), 4);
        // an unrelated setting keeps the cache
        let section = json!({"exclude": ["**/g/**"], "timeoutSecs": 30});
        s.update_settings(section.as_object().unwrap());
        assert!(s.target(&uri).refusal.is_some());
        assert_eq!(s.target_resolutions(), 4);

        // allowOutsideWorkspace and the workspace folders
        let elsewhere = tempfile::tempdir().unwrap();
        let out = file_uri(&elsewhere.path().join("x.rs"));
        assert!(s.target(&out).refusal.is_some());
        let section = json!({"exclude": ["**/g/**"], "allowOutsideWorkspace": true});
        s.update_settings(section.as_object().unwrap());
        assert_eq!(s.target(&out).refusal, None);
        s.set_folders(vec![ws, elsewhere.path().to_path_buf()]);
        assert_eq!(s.target(&out).display, "x.rs");
    }

    #[test]
    fn without_a_watcher_every_target_is_resolved_afresh() {
        let (dir, ws, uri) = workspace();
        let s = session(dir.path());
        s.set_folders(vec![ws.clone()]);
        assert_eq!(s.target(&uri).refusal, None);
        std::fs::write(ws.join(".codexignore"), "lib.rs\n").unwrap();
        assert!(s.target(&uri).refusal.is_some());
        assert_eq!(s.target_resolutions(), 2);
    }

    #[test]
    fn without_a_watcher_offers_reuse_a_young_resolution_and_actions_do_not() {
        let (dir, ws, uri) = workspace();
        let s = session(dir.path());
        s.set_folders(vec![ws.clone()]);
        assert_eq!(s.offer_target(&uri).refusal, None);
        for _ in 0..10 {
            assert_eq!(s.offer_target(&uri).refusal, None);
        }
        assert_eq!(s.target_resolutions(), 1, "offers within 2 s share one");
        std::fs::write(ws.join(".codexignore"), "lib.rs\n").unwrap();
        // the action itself sees the new rule at once
        assert!(s.target(&uri).refusal.is_some());
        assert_eq!(s.target_resolutions(), 2);
        // and a settings change drops what offers relied on
        let section = json!({"exclude": ["nothing"]});
        s.update_settings(section.as_object().unwrap());
        assert!(s.offer_target(&uri).refusal.is_some());
    }
}
