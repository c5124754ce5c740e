#!/usr/bin/env bash
# End-to-end test of the VS Code extension against a real VS Code workbench (code-server) in headless chromium.
#
#   CODEX_LSP_BIN=/path/to/codex-lsp editors/vscode/test/run.sh
#   (E2E_KEEP=1 keeps the temp dir: logs, profile, workspace)
#
# Needs what test/install.sh installs (same CODEX_VSCODE_TEST_HOME). Builds and packages the extension with
# `npm run package` (one esbuild bundle, no node_modules), installs that .vsix into a throwaway code-server
# profile, serves a fake Responses API (editors/testing/fake_responses.py), and drives the workbench with
# playwright-core (test/e2e.js). The last line is "N passed, N failed".
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EXT="$(cd "$HERE/.." && pwd)"
REPO="$(cd "$EXT/../.." && pwd)"
ROOT="${CODEX_VSCODE_TEST_HOME:-/opt/codex-vscode-test}"
CODE_SERVER="$ROOT/code-server/node_modules/.bin/code-server"
PLAYWRIGHT_CORE_DIR="$ROOT/playwright/node_modules/playwright-core"
TOTAL=9 # tests in e2e.js

t_start=$(date +%s)
log() { printf '[run %3ss] %s\n' "$(( $(date +%s) - t_start ))" "$*"; }
summary=""
finish() {
  # Print the closing line last, whatever happened.
  [ -n "$summary" ] || summary="0 passed, $TOTAL failed"
  echo "$summary"
}
die() { log "ERROR: $*"; finish; exit 1; }

[ -n "${CODEX_LSP_BIN:-}" ] || die "set CODEX_LSP_BIN to the codex-lsp binary"
[ -x "$CODEX_LSP_BIN" ] || die "CODEX_LSP_BIN=$CODEX_LSP_BIN is not an executable file"
CODEX_LSP_BIN="$(cd "$(dirname "$CODEX_LSP_BIN")" && pwd)/$(basename "$CODEX_LSP_BIN")"
[ -x "$CODE_SERVER" ] || die "code-server not found at $CODE_SERVER: run editors/vscode/test/install.sh"
[ -d "$PLAYWRIGHT_CORE_DIR" ] || die "playwright-core not found at $PLAYWRIGHT_CORE_DIR: run editors/vscode/test/install.sh"
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing: run editors/vscode/test/install.sh"
FAKE="$REPO/editors/testing/fake_responses.py"
[ -f "$FAKE" ] || die "$FAKE missing"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/codex-vscode-e2e.XXXXXX")"
ARTIFACTS="$(mktemp -d "${TMPDIR:-/tmp}/codex-vscode-e2e-artifacts.XXXXXX")"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  done
  if [ -n "${E2E_KEEP:-}" ]; then echo "[run] kept $TMP" >&2; else rm -rf "$TMP"; fi
  # Keep screenshots only when there are any.
  rmdir "$ARTIFACTS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build and package the extension ------------------------------------------------------------------------
cd "$EXT" || die "no $EXT"
t=$(date +%s)
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >"$TMP/npm-ci.log" 2>&1 || { cat "$TMP/npm-ci.log"; die "npm ci failed"; }
fi
VSIX="$TMP/codex-lsp.vsix"
# The package script runs vscode:prepublish first: tsc type-checks, esbuild bundles out/extension.js.
npm run --silent package -- -o "$VSIX" >"$TMP/vsce.log" 2>&1 || { cat "$TMP/vsce.log"; die "npm run package failed"; }
log "extension built and packaged in $(( $(date +%s) - t )) s: $(wc -c <"$VSIX") bytes"

# --- isolated code-server profile ----------------------------------------------------------------------------
export HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/home/.config" XDG_DATA_HOME="$TMP/home/.local/share" \
  XDG_STATE_HOME="$TMP/home/.local/state" XDG_CACHE_HOME="$TMP/home/.cache"
mkdir -p "$HOME" "$TMP/user/User" "$TMP/extensions"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" >"$TMP/code-server.yaml"
CS_ARGS=(--config "$TMP/code-server.yaml" --user-data-dir "$TMP/user" --extensions-dir "$TMP/extensions")

t=$(date +%s)
"$CODE_SERVER" "${CS_ARGS[@]}" --install-extension "$VSIX" >"$TMP/install-ext.log" 2>&1 \
  || { cat "$TMP/install-ext.log"; die "installing the .vsix failed"; }
ls "$TMP/extensions" | grep -q '^codex-lsp\.codex-lsp-' || { cat "$TMP/install-ext.log"; die "the extension is not in $TMP/extensions"; }
log "extension installed in $(( $(date +%s) - t )) s"

python3 - "$TMP/user/User/settings.json" "$CODEX_LSP_BIN" <<'EOF'
import json, os, sys
settings = {
    "security.workspace.trust.enabled": False,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "extensions.ignoreRecommendations": True,
    "update.mode": "none",
    "files.hotExit": "off",
    "chat.disableAIFeatures": True,
    "editor.formatOnSave": False,
    "files.insertFinalNewline": False,
    "files.trimTrailingWhitespace": False,
    "codex.serverPath": sys.argv[2],
    "codex.reasoningEffort": "low",  # e2e.js checks that it reaches the request
    "codex.trace.server": os.environ.get("E2E_TRACE", "messages"),
}
open(sys.argv[1], "w").write(json.dumps(settings, indent=2))
EOF

# --- workspace -----------------------------------------------------------------------------------------------
WS="$TMP/workspace"
mkdir -p "$WS/src"
cat >"$WS/src/calc.py" <<'EOF'
def add(a, b):
    return a+b


def greet(name):
    return "hi " + name
EOF

# --- fake Responses API --------------------------------------------------------------------------------------
cat >"$TMP/replies.json" <<'EOF'
[
  {"code": "def add(a: int, b: int) -> int:\n    return a + b\n"},
  {"code": "def greet(name: str) -> str:\n    return f\"hi {name}\"\n"},
  {"text": "greet builds a greeting for name."},
  {"status": 429, "message": "Rate limit reached for requests. Please try again in 30s.", "errorCode": "rate_limit_exceeded"}
]
EOF
setsid python3 "$FAKE" --port-file "$TMP/fake.port" --replies "$TMP/replies.json" --log "$TMP/fake.jsonl" \
  >"$TMP/fake.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$TMP/fake.port" ] && break; sleep 0.1; done
[ -s "$TMP/fake.port" ] || { cat "$TMP/fake.out"; die "the fake Responses server did not start"; }
FAKE_PORT="$(cat "$TMP/fake.port")"
log "fake Responses API on 127.0.0.1:$FAKE_PORT"

# --- code-server ---------------------------------------------------------------------------------------------
# The extension host, and the codex-lsp it starts, inherit this environment.
CODEX_LSP_BASE_URL="http://127.0.0.1:$FAKE_PORT/v1" \
CODEX_LSP_API_KEY="sk-test-e2e-0123456789" \
CODEX_LSP_LOG="${CODEX_LSP_LOG:-codex_lsp=debug,info}" \
CODEX_LSP_LOG_FILE="$TMP/codex-lsp.log" \
  setsid "$CODE_SERVER" "${CS_ARGS[@]}" --disable-telemetry --disable-update-check --disable-workspace-trust \
    --disable-getting-started-override "$WS" >"$TMP/code-server.log" 2>&1 &
pids+=($!)
ok=""
for _ in $(seq 300); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then ok=1; break; fi
  kill -0 "${pids[-1]}" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ok" ] || { cat "$TMP/code-server.log"; die "code-server did not come up on 127.0.0.1:$PORT"; }
log "code-server on 127.0.0.1:$PORT"

# --- drive it ------------------------------------------------------------------------------------------------
t=$(date +%s)
PLAYWRIGHT_CORE_DIR="$PLAYWRIGHT_CORE_DIR" E2E_URL="http://127.0.0.1:$PORT" E2E_WORKSPACE="$WS" E2E_FILE="src/calc.py" \
E2E_FAKE_LOG="$TMP/fake.jsonl" E2E_ARTIFACTS="$ARTIFACTS" E2E_SUMMARY="$TMP/summary" \
E2E_VSIX="$VSIX" E2E_EXTENSIONS="$TMP/extensions" \
  timeout 300 node "$HERE/e2e.js"
rc=$?
log "browser part took $(( $(date +%s) - t )) s (exit $rc)"
[ -s "$TMP/summary" ] && summary="$(cat "$TMP/summary")"

if [ "$rc" -ne 0 ]; then
  log "--- codex-lsp log (tail) ---"
  tail -n 80 "$TMP/codex-lsp.log" 2>/dev/null
  log "--- Codex output channel / extension host log (tail) ---"
  find "$TMP/user/logs" -name '*Codex*' -o -name 'exthost.log' 2>/dev/null | while read -r f; do echo "== $f"; tail -n 60 "$f"; done
  log "--- fake Responses requests ---"
  cat "$TMP/fake.jsonl" 2>/dev/null | cut -c1-400
  log "screenshots in $ARTIFACTS"
  case "$summary" in "$TOTAL passed, 0 failed" | "") summary="0 passed, $TOTAL failed" ;; esac
fi
log "total $(( $(date +%s) - t_start )) s"
finish
[ "$rc" -eq 0 ]
