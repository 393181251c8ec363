#!/usr/bin/env bash
# Set up Hadir in ./.venv. Usage: scripts/setup.sh [extras]   (default extras: edge,hub)
# As root it installs the Debian packages it needs; otherwise it says which ones to install.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-edge,hub}"
services="${HADIR_SERVICES:-}"   # "yes": also Mosquitto, InfluxDB, gpsd and headless Chromium (for the tests)

need_pkgs=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need_pkgs+=(python3-venv python3-pip)
if [ "$services" = "yes" ]; then
  for pair in mosquitto:mosquitto mosquitto_pub:mosquitto-clients influxd:influxdb influx:influxdb-client gpsd:gpsd \
              chromium:chromium chromedriver:chromium-driver; do
    bin="${pair%%:*}"; pkg="${pair##*:}"
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need_pkgs+=("$pkg")
  done
  # Chromium's Indonesian locale: the web app's date and time inputs then read 24/11/2026 and 07.22.
  [ -e /usr/lib/chromium/locales/id.pak ] || need_pkgs+=(chromium-l10n)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "== installing Debian packages: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    echo "Missing Debian packages: ${need_pkgs[*]}" >&2
    echo "Install them first:  sudo apt-get install --no-install-recommends ${need_pkgs[*]}" >&2
    echo "(or run this script as root and it installs them)" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
echo "== installing hadir[$extras] into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[$extras]"
