"""bench/footprint.py runs at a tiny size through the real path and its JSON holds figures that make sense."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testkit import localservices as services

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration  # starts its own Mosquitto (plain and mTLS) and InfluxDB


def test_footprint_at_a_tiny_size(tmp_path):
    for binary in ("mosquitto", "influxd"):
        if not services.binary(binary):
            pytest.skip(f"SERVICE MISSING, test not run: {binary} is not installed")
    args = ["--employees", "60", "--offices", "2", "--field-teams", "1", "--sample-events", "40",
            "--load-devices", "4", "--wire-events", "8", "--wire-telemetry", "4", "--keepalive-probe-s", "2.5",
            "--idle-s", "1", "--outbox-events", "20", "--master-changes", "20", "--frames-per-visit", "10"]
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "footprint.py"), *args], capture_output=True,
                         text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert "extrapolated linearly" in r["method"] and r["assumptions"]["employees"] == 60

    per_event = r["bytes_per_event"]
    assert 300 < per_event["plain"] < per_event["tls"] < per_event["tls_wire_estimate"]
    tls, plain = r["bytes_per_message_tls"], r["bytes_per_message_plain"]
    # The TLS handshake carries the certificates (both connects also carry the gallery the hub sends on connect).
    assert tls["connect"] - plain["connect"] > 2048
    assert tls["ping"] > plain["ping"] >= 4  # PINGREQ + PINGRESP are 2 bytes each before TLS
    # A push carries every template of the OPD (30 people x 3) as base64 float32 vectors of 128 dimensions.
    assert r["gallery_templates_per_push"] == 90 and tls["gallery_push"] > 90 * 128 * 4 * 4 / 3
    assert all(r["device_mb_per_month_tls_wire"][role] > 0 for role in ("office", "field"))

    assert all(r["hub_cpu_s_per_1000_events"][s] > 0 for s in ("sqlite", "influx"))
    assert r["store_bytes_per_event"]["sqlite"] > 0 and r["store_bytes_per_event"]["influx"] > 0
    assert r["quarantine_bytes_per_message"] > 0 and r["master_bytes_per_employee"] > 0
    assert r["outbox_mb_per_day_offline"]["office"] > 0
    assert r["terminal"]["share_of_frame_budget"] > 0 and r["terminal"]["decisions"] >= 1
