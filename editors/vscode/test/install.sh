#!/usr/bin/env bash
# Install what the VS Code end-to-end test needs (idempotent):
#   - Debian packages: chromium, ripgrep and the build tools code-server's native modules need
#   - code-server (pinned; the full VS Code workbench) from npm, into $CODEX_VSCODE_TEST_HOME/code-server
#   - playwright-core (pinned; drives Debian's chromium, downloads no browser) into $CODEX_VSCODE_TEST_HOME/playwright
# Only Debian apt and the npm registry are used.
set -euo pipefail

CODE_SERVER_VERSION=4.100.3        # VS Code 1.100.3; the last code-server line that runs on node 20
PLAYWRIGHT_CORE_VERSION=1.65.1
ROOT="${CODEX_VSCODE_TEST_HOME:-/opt/codex-vscode-test}"
CS="$ROOT/code-server"
PW="$ROOT/playwright"

log() { printf '[install] %s\n' "$*"; }
t0=$(date +%s)

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" != 20 ]; then
  echo "install.sh: code-server $CODE_SERVER_VERSION needs node 20 (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# --- Debian packages ---------------------------------------------------------
pkgs=(build-essential pkg-config python3 libkrb5-dev libxkbfile-dev libsecret-1-dev libx11-dev ripgrep chromium curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi
t1=$(date +%s)

# --- code-server -------------------------------------------------------------
have_cs=$(node -p "try{require('$CS/node_modules/code-server/package.json').version}catch(e){''}" 2>/dev/null || true)
if [ "$have_cs" != "$CODE_SERVER_VERSION" ]; then
  log "npm install code-server@$CODE_SERVER_VERSION into $CS"
  mkdir -p "$CS"
  # @vscode/ripgrep's postinstall downloads rg from GitHub; seed its cache (in os.tmpdir()) with Debian's rg.
  # 4.100.3 ships @vscode/ripgrep 1.15.11, which looks for ripgrep v13.0.0-10.
  tmp="${TMPDIR:-/tmp}"
  rgcache="$tmp/vscode-ripgrep-cache-1.15.11"
  mkdir -p "$rgcache"
  tar -czf "$rgcache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C /usr/bin rg
  # unsafe_perm: the postinstall refuses to run as root otherwise; yes: node-pty runs `npx node-gyp`
  # without a TTY; nodedir: use Debian's node headers instead of downloading them.
  npm_config_nodedir=/usr npm_config_unsafe_perm=true npm_config_yes=true \
    npm install --prefix "$CS" --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION"
  "$CS/node_modules/.bin/code-server" --version >/dev/null
else
  log "code-server $CODE_SERVER_VERSION present"
fi
t2=$(date +%s)

# --- playwright-core ---------------------------------------------------------
have_pw=$(node -p "try{require('$PW/node_modules/playwright-core/package.json').version}catch(e){''}" 2>/dev/null || true)
if [ "$have_pw" != "$PLAYWRIGHT_CORE_VERSION" ]; then
  log "npm install playwright-core@$PLAYWRIGHT_CORE_VERSION into $PW"
  mkdir -p "$PW"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    npm install --prefix "$PW" --no-audit --no-fund --loglevel=error "playwright-core@$PLAYWRIGHT_CORE_VERSION"
else
  log "playwright-core $PLAYWRIGHT_CORE_VERSION present"
fi
t3=$(date +%s)

log "code-server: $("$CS/node_modules/.bin/code-server" --version | head -1)"
log "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
log "times: apt $((t1-t0)) s, code-server $((t2-t1)) s, playwright-core $((t3-t2)) s, total $((t3-t0)) s"
