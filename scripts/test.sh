#!/usr/bin/env bash
# Set up and run the whole test suite: lint, unit tests, and integration tests against real
# Mosquitto, InfluxDB and gpsd that the tests start on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
HADIR_SERVICES=yes bash scripts/setup.sh dev
echo "== versions"
.venv/bin/python --version
for b in mosquitto influxd gpsd chromium chromedriver; do printf '%s: ' "$b"; command -v "$b" || ls "/usr/sbin/$b" 2>/dev/null || echo "MISSING"; done
echo "== ruff"
.venv/bin/ruff check .
echo "== pytest"
exec .venv/bin/python -m pytest -ra "$@"
