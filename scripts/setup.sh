#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for patchmix (idempotent: safe to run again):
# Docker engine and debootstrap, a running dockerd, a virtual environment .venv/ with patchmix installed in it
# (and llama-cpp-python's server with a small model, for the local-server tests: scripts/local-server.sh),
# and the bundled tasks' images. Afterwards: `source .venv/bin/activate` puts `patchmix` on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh   # as_root, ensure_python_env
source scripts/local-server.sh  # ensure_local_server
VENV=${PATCHMIX_VENV:-.venv}

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  echo "setup: installing docker.io and debootstrap"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq docker.io debootstrap >/dev/null
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (the tests open the run browser's pages in it, headless)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi

if ! command -v docker-registry >/dev/null 2>&1; then
  echo "setup: installing docker-registry (the image-pull tests run a registry on 127.0.0.1)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq docker-registry >/dev/null
fi

if ! command -v podman >/dev/null 2>&1; then
  echo "setup: installing podman (a test runs the agent's container through Podman's Docker-compatible socket)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq podman >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd (log: /tmp/patchmix-dockerd.log)"
  as_root sh -c 'nohup dockerd > /tmp/patchmix-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /tmp/patchmix-dockerd.log" >&2; exit 1; }
fi

echo "setup: installing patchmix and its dependencies into $VENV"
ensure_python_env "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,ray]"
ensure_local_server "$VENV"    # llama-cpp-python's server and a small model, for the local-server tests

echo "setup: building the base image and the bundled tasks' images, Go, Rust and JavaScript ones included (first time: a few minutes)"
LITELLM_LOCAL_MODEL_COST_MAP=True "$VENV/bin/patchmix" build-images
