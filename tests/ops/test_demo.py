"""`hadir demo` end to end: embedded defaults, and against real Mosquitto and InfluxDB."""

from __future__ import annotations

import subprocess
import sys

from rich.console import Console

from hadir_ops.demo import run_demo


def check(summary):
    assert summary["visits"] == 6 and len(summary["events"]) == 6
    assert summary["correct"] == 6, summary["events"]
    assert sum(e["employee_id"] is None for e in summary["events"]) == 1  # the stranger
    tpp = summary["tpp"]
    assert tpp["198703122010011001"]["code"] == "HADIR"
    assert tpp["199002052015032002"]["code"] == "TL1+PSW2"
    assert tpp["198811202014021003"]["code"] == "TL3+PSW4"
    assert tpp["199305172019031004"]["code"] == "TK"
    assert tpp["199002052015032002"]["final_amount"] == 3_777_200  # 3.8M x (0.4 x 0.985 + 0.6)


def test_demo_on_embedded_defaults(tmp_path):
    check(run_demo(tmp_path, console=Console(file=open("/dev/null", "w"))))  # noqa: SIM115


def test_demo_against_real_mosquitto_and_influxdb(tmp_path, mosquitto, influxdb):
    summary = run_demo(tmp_path, broker=f"mqtt://127.0.0.1:{mosquitto.port}", influx=influxdb.extra["url"],
                       console=Console(file=open("/dev/null", "w")))  # noqa: SIM115
    check(summary)


def test_clis_explain_themselves():
    for module, words in (("hadir_ops.cli", "demo"), ("edge.cli", "enrol"), ("hub.cli", "run")):
        out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True,
                             timeout=60, check=True)
        assert words in out.stdout
