#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then runs the key-free demo: the three-iteration pipeline on the
# bundled tasks with scripted models, scored by the official harness, summarised in runs/demo/report/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LITELLM_LOCAL_MODEL_COST_MAP=True
"${PATCHMIX_VENV:-.venv}/bin/patchmix" demo "$@"
