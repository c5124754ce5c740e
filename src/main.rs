//! The `codex-lsp` command: serve LSP over stdio, `--version`, `--help`, `doctor`.
//! Nothing but LSP frames ever goes to stdout while serving.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use codex_lsp::logging;
use codex_lsp::lsp::{self, ServerEnv};
use tracing_subscriber::EnvFilter;

const HELP: &str = "\
codex-lsp — a language server that puts a coding model in your editor

USAGE:
    codex-lsp [--stdio]     serve LSP over stdin/stdout (the default; editors start it)
    codex-lsp doctor        print the effective settings and check the service
    codex-lsp --version     print the version
    codex-lsp help, --help  print this help

ENVIRONMENT:
    CODEX_LSP_API_KEY, then OPENAI_API_KEY
                           the Bearer key (never a setting)
    CODEX_LSP_BASE_URL     default of `baseUrl` (https://geekapis.com/v1)
    CODEX_LSP_MODEL        default of `model` (gpt-5.3-codex-official)
    CODEX_LSP_LOG_FILE     write logs to this file (stderr then gets warnings only)
    CODEX_LSP_LOG          log filter (RUST_LOG syntax), default info
    CODEX_LSP_STREAM_IDLE_SECS
                           a streamed answer silent this long times out (default 60)
    XDG_STATE_HOME         conversations (chains) are kept in
                           $XDG_STATE_HOME/codex-lsp/chains.json (~/.local/state/…)
    HTTPS_PROXY, ALL_PROXY, NO_PROXY
                           proxy for the model service (NO_PROXY: hosts to reach directly;
                           loopback addresses never use a proxy)

Settings (baseUrl, model, reasoningEffort, …) come from the editor; see docs/protocol.md.
";

/// Said on stderr when a person starts the server on a terminal.
const ON_A_TERMINAL: &str = "\
codex-lsp: this is a language server: it speaks LSP (JSON-RPC) on stdin/stdout and is
started by your editor. Run `codex-lsp --help` for usage, `codex-lsp doctor` to check
the settings and the model service. Waiting for LSP messages (Ctrl-D to quit).
";

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// Logs go to stderr and the log file (see `codex_lsp::logging`), never stdout.
fn init_logging(log_file: Option<&str>) {
    let filter =
        EnvFilter::try_from_env("CODEX_LSP_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // The framework logs every LSP message verbatim at trace level, and a message can
    // carry a key someone put in their settings: capped here, whatever the filter says.
    let filter = match "tower_lsp_server::codec=debug".parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    };
    let opened = logging::set_file(log_file);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(logging::Targets)
        .init();
    if let Err(e) = opened {
        tracing::warn!(
            variable = "CODEX_LSP_LOG_FILE",
            "{e}; logging to stderr only"
        );
    }
}

fn write_out(text: &str) -> ExitCode {
    // Only outside LSP mode: --help, --version and doctor talk to a person.
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// `codex-lsp doctor`: the effective settings and one tiny request.
fn doctor() -> ExitCode {
    let env = ServerEnv::from_env(env_var);
    let s = &env.settings;
    // one quick attempt: doctor is a check, not a workload
    let mut cfg = env.client_config(s);
    cfg.timeout = cfg.timeout.min(std::time::Duration::from_secs(30));
    cfg.max_retries = 0;
    let mut report = format!(
        "codex-lsp {}\nsettings (from the environment; editors may override them):\n  reasoningEffort: {}\n  stream: {}\n  timeoutSecs: {}\n  maxRetries: {}\n  chains: {}\n",
        env!("CARGO_PKG_VERSION"),
        s.reasoning_effort.as_deref().unwrap_or("off"),
        s.stream,
        s.timeout_secs,
        s.max_retries,
        env.chain_file.display()
    );
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::FAILURE;
    };
    let request = codex_lsp::assist::prompt::doctor_request(s);
    let ok = runtime.block_on(codex_lsp::openai::doctor(
        cfg,
        &request,
        env.api_key.as_ref().map(|(_, src)| *src),
        &mut report,
    ));
    let code = write_out(&report);
    if ok { code } else { ExitCode::FAILURE }
}

fn main() -> ExitCode {
    codex_lsp::memory::tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("--stdio") => {
            if std::io::stdin().is_terminal() {
                let _ = std::io::stderr().write_all(ON_A_TERMINAL.as_bytes());
            }
        }
        Some("--version" | "-V") => {
            return write_out(&format!("codex-lsp {}\n", env!("CARGO_PKG_VERSION")));
        }
        Some("--help" | "-h" | "help") => return write_out(HELP),
        Some("doctor") => return doctor(),
        Some(other) => {
            let _ = std::io::stderr()
                .write_all(format!("codex-lsp: unknown argument `{other}`\n\n{HELP}").as_bytes());
            return ExitCode::from(2);
        }
    }
    // the environment is read once, for logging and the server alike
    let env = ServerEnv::from_env(env_var);
    init_logging(env.settings.log_file.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(lsp::serve(tokio::io::stdin(), tokio::io::stdout(), env));
    // Blocking stdin reads would keep the runtime from shutting down; don't wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
