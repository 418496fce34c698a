#!/usr/bin/env bash
# Makes a virtual environment with a working pip, with the distribution's own python3 (Debian and Ubuntu
# refuse `pip install` into the system Python, or ship no pip at all). Sourced by setup.sh; also usable alone:
#   bash scripts/python-env.sh DIR        (exits 0 once DIR/bin/python has a working pip)
# Installs Debian's venv support (python3-venv) only when the Python lacks it.

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_python_env() {
  local dir=$1 py
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -m pip --version >/dev/null 2>&1; then
    return 0
  fi
  if ! py=$(command -v python3); then
    echo "setup: installing python3 and its venv support (apt)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3 python3-venv >/dev/null
    py=$(command -v python3)
  fi
  if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    local version
    version=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    echo "setup: installing Python's venv support (apt: python3-venv / python$version-venv)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "python$version-venv" >/dev/null 2>&1 \
      || DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf "$dir"
  "$py" -m venv "$dir"
  "$dir/bin/python" -m pip --version >/dev/null 2>&1 \
    || { echo "setup: the virtual environment $dir has no working pip" >&2; return 1; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ensure_python_env "${1:?usage: python-env.sh DIR}"
  echo "python environment ready: $1 ($("$1/bin/python" --version))"
fi
