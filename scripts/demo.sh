#!/usr/bin/env bash
# Set up and run the end-to-end demo on embedded defaults (no external services).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh edge,hub
# The demo renders walk-past clips with the repository's test kit (testkit/), so it runs from the checkout.
exec .venv/bin/python -m hadir_ops.cli demo "$@"
