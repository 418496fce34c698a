#!/usr/bin/env bash
# Runs the seed's three-iteration pipeline with real Fireworks models, then scores it and writes the report.
# Resumable: run it again after an interruption and finished runs are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${FIREWORKS_API_KEY:?set FIREWORKS_API_KEY to your Fireworks AI key}"
export LITELLM_LOCAL_MODEL_COST_MAP=True
patchmix run scripts/seed/pipeline.yaml "$@"
patchmix evaluate runs/seed-verified --workers 2
patchmix report runs/seed-verified
