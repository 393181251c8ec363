"""The benchmark scripts run on a folder of the documented shape and print their JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_recognition_bench_on_any_folder_of_that_shape(tmp_path, faces):
    dataset = tmp_path / "ds"
    for person in ("person01", "person05", "person06", "person08", "person10"):
        (dataset / person).mkdir(parents=True)
        for photo in sorted((faces / person).glob("*.jpg")):
            (dataset / person / photo.name).write_bytes(photo.read_bytes())
    (dataset / "empty-person").mkdir()
    (dataset / "person01" / "broken.jpg").write_bytes(b"not a jpeg")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "recognition.py"), "--dataset", str(dataset)],
                         capture_output=True, text=True, timeout=300, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("auc", "eer", "tar_at_far_1pct", "tar_at_far_0_1pct", "threshold_far_1pct", "rank1",
                "fnir_at_fpir_1pct", "ms_per_face", "faces_detected", "images"):
        assert key in summary
    assert summary["images"] == 20 and summary["faces_detected"] == 19
    assert summary["auc"] > 0.95 and summary["rank1"] == 1.0


def test_calibrate_writes_data_driven_thresholds_into_the_config(tmp_path, faces):
    config = tmp_path / "edge.toml"
    config.write_text('device_id = "pi-x-01"\n\n[recognition]\n# kept\nthreads = 1\n')
    out = subprocess.run([sys.executable, "-m", "edge.cli", "calibrate", str(faces), "--far", "0.01",
                          "--config", str(config)], capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    text = config.read_text()
    assert f"accept = {result['accept']}" in text and "# kept" in text and "threads = 1" in text
    assert result["far"] <= 0.01 and 0.5 < result["accept"] < 1.0 and result["unknown_below"] <= result["accept"]


def test_verify_bench_compares_both_libraries():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "verify.py"), "--events", "200"],
                         capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["events"] == 200 and result["us_per_verify_cryptography"] > 0 and result["us_per_verify_pynacl"] > 0
