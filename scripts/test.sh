#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh) and runs the whole test suite, Docker tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LITELLM_LOCAL_MODEL_COST_MAP=True
"${PATCHMIX_VENV:-.venv}/bin/python" -m pytest -q "$@"
