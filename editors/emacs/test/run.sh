#!/usr/bin/env bash
# End-to-end test of codex-lsp in Emacs (eglot) against a real codex-lsp and a fake model
# service (editors/testing/fake_responses.py).
#
#   CODEX_LSP_BIN=/path/to/codex-lsp editors/emacs/test/run.sh
#
# Runs test/codex-lsp-test.el (ERT) in `emacs --batch`, twice:
#   1. plain eglot, without editors/emacs/codex-lsp.el (tests named codex-lsp-test-plain-*);
#   2. with codex-lsp.el loaded (every other test).
# Each test starts its own fake service and server (see the test file). Needs what
# test/install.sh installs. Overrides: EMACS (the binary), CODEX_TEST_TIMEOUT (seconds per
# wait, default 15), CODEX_TEST_KEEP=1 (keep the temp dir: workspaces, server logs,
# requests). Prints PASS/FAIL per test and ends with "N passed, M failed".
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EL=$(dirname "$HERE")
REPO=$(cd "$EL/../.." && pwd)
FAKE="$REPO/editors/testing/fake_responses.py"
TESTS="$HERE/codex-lsp-test.el"
EMACS=${EMACS:-emacs}

PASSED=0
FAILED=0
finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

if [ -z "${CODEX_LSP_BIN:-}" ]; then
  echo "run.sh: set CODEX_LSP_BIN to the codex-lsp binary" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$CODEX_LSP_BIN")" && pwd)/$(basename "$CODEX_LSP_BIN")
if [ ! -x "$BIN" ]; then
  echo "run.sh: $BIN is not executable" >&2
  exit 2
fi
# the test names, for counting a run that died before ERT's summary
plain_tests=$(grep -c '^(ert-deftest codex-lsp-test-plain-' "$TESTS")
helper_tests=$(($(grep -c '^(ert-deftest ' "$TESTS") - plain_tests))
if ! command -v "$EMACS" >/dev/null; then
  echo "run.sh: no $EMACS (run editors/emacs/test/install.sh)" >&2
  FAILED=$((plain_tests + helper_tests))
  finish
  exit
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/codex-emacs-e2e.XXXXXX")
cleanup() {
  if [ "${CODEX_TEST_KEEP:-0}" = 1 ]; then
    [ -n "${SUMMARY_DONE:-}" ] || echo "kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$TMP/home" "$TMP/xdg/config" "$TMP/xdg/data" "$TMP/xdg/state" "$TMP/xdg/cache"

echo "== $("$EMACS" --version | head -n1), $("$BIN" --version)"

# run_ert LABEL HELPER SELECTOR EXPECTED: one Emacs; adds its results to PASSED/FAILED
run_ert() {
  local label=$1 helper=$2 selector=$3 expected=$4 t0 rc out summary ran ok bad
  out="$TMP/$label.out"
  t0=$(date +%s%N)
  # Debian's site-start puts elpa-eglot on the load-path: no -Q
  env HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/xdg/config" XDG_DATA_HOME="$TMP/xdg/data" \
    XDG_STATE_HOME="$TMP/xdg/state" XDG_CACHE_HOME="$TMP/xdg/cache" \
    CODEX_LSP_API_KEY="sk-test-emacs-e2e" OPENAI_API_KEY= CODEX_LSP_BASE_URL="http://127.0.0.1:9/v1" \
    CODEX_LSP_BIN="$BIN" CODEX_TEST_FAKE="$FAKE" CODEX_TEST_EL="$EL" CODEX_TEST_TMP="$TMP" \
    CODEX_TEST_HELPER="$helper" \
    timeout -k 5 100 "$EMACS" --batch -l ert -l "$TESTS" \
    --eval "(ert-run-tests-batch-and-exit (quote $selector))" </dev/null >"$out" 2>&1
  rc=$?
  echo "   $label: emacs exited $rc after $((($(date +%s%N) - t0) / 1000000)) ms"
  sed -n 's/^ *passed  *[0-9]*\/[0-9]*  *\([^ ]*\).*/PASS \1/p; s/^ *FAILED  *[0-9]*\/[0-9]*  *\([^ ]*\).*/FAIL \1/p' "$out"
  summary=$(grep -E '^Ran [0-9]+ tests?, [0-9]+ results? as expected' "$out" | tail -n1)
  if [ -n "$summary" ]; then
    ran=$(sed -E 's/^Ran ([0-9]+).*/\1/' <<<"$summary")
    ok=$(sed -E 's/^Ran [0-9]+ tests?, ([0-9]+).*/\1/' <<<"$summary")
    bad=$((ran - ok))
  else
    ok=0
    bad=$expected
    echo "FAIL $label: no ERT summary (emacs exited $rc)"
  fi
  if [ "$ok" -lt "$expected" ] && [ "$bad" -eq 0 ]; then
    bad=$((expected - ok)) # tests that did not run
  fi
  PASSED=$((PASSED + ok))
  FAILED=$((FAILED + bad))
  if [ "$bad" -ne 0 ] || [ "$rc" -ne 0 ]; then
    [ "$bad" -ne 0 ] || FAILED=$((FAILED + 1))
    echo "   --- $label output ($out)"
    grep -v '^Loading ' "$out" | tail -n 80 | sed 's/^/   | /'
    CODEX_TEST_KEEP=1
  fi
}

START=$(date +%s%N)
run_ert plain 0 '"^codex-lsp-test-plain-"' "$plain_tests"
run_ert codex-lsp.el 1 '(not "^codex-lsp-test-plain-")' "$helper_tests"
echo "($((($(date +%s%N) - START) / 1000000)) ms)"
[ "${CODEX_TEST_KEEP:-0}" = 1 ] && echo "logs kept in $TMP"
SUMMARY_DONE=1
finish
