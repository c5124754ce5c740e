#!/usr/bin/env bash
# Installs what the Emacs (eglot) end-to-end test drives. Idempotent; needs root (apt).
#   Emacs 28.2 : Debian 12 apt `emacs-nox`
#   eglot 1.9  : Debian 12 apt `elpa-eglot` (Emacs 29 and later have eglot built in; then
#                only emacs-nox is installed)
# Only Debian apt is used.
set -euo pipefail

apt_install() {
  # another apt may hold the lock on a shared machine: wait for it instead of failing
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "$@"
}

has_eglot() {
  emacs --batch --eval '(progn (require (quote eglot)) (princ "ok"))' 2>/dev/null | grep -q '^ok$'
}

if ! command -v emacs >/dev/null || ! has_eglot; then
  pkgs=(emacs-nox)
  # Emacs 29+ ships eglot; Debian 12's Emacs 28 needs the elpa package
  if ! apt-cache show emacs-nox 2>/dev/null | grep -q '^Version: 1:\(29\|[3-9][0-9]\)'; then
    pkgs+=(elpa-eglot)
  fi
  if ! apt_install "${pkgs[@]}"; then
    apt-get update -o DPkg::Lock::Timeout=300
    apt_install "${pkgs[@]}"
  fi
fi

emacs --version | head -n1
emacs --batch --eval '(princ (format "eglot: %s\n" (locate-library "eglot")))' 2>/dev/null
has_eglot
