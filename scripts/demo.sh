#!/usr/bin/env bash
# Set up and run the end-to-end demo on embedded defaults (no external services).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh edge,hub
exec .venv/bin/hadir demo "$@"
