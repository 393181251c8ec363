"""The benchmark scripts run on a folder of the documented shape and print their JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


def test_calibrate_uses_the_configured_embedder(tmp_path, faces):
    """faceres scores live on another scale than dlib's: its thresholds must come from faceres templates."""
    config = tmp_path / "edge.toml"
    config.write_text('device_id = "pi-x-01"\n\n[recognition]\nembedder = "faceres"\nthreads = 1\n')
    out = subprocess.run([sys.executable, "-m", "edge.cli", "calibrate", str(faces), "--config", str(config)],
                         capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "faceres" in out.stderr
    assert result["accept"] < 0.85  # dlib's accept is above 0.9: these are faceres thresholds
    assert f"accept = {result['accept']}" in config.read_text()


def test_an_embedder_the_manifest_does_not_ship_is_refused_with_the_known_ones(tmp_path):
    config = tmp_path / "edge.toml"
    config.write_text('[recognition]\nembedder = "arcface_r100"\n')
    out = subprocess.run([sys.executable, "-m", "edge.cli", "enrol", str(tmp_path), "--config", str(config)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "arcface_r100" in out.stderr and "dlib_resnet_v1" in out.stderr


def test_api_bench_serves_the_app_in_another_process_and_prints_its_figures(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "api.py"), "--employees", "80", "--opds", "4",
                          "--clients", "3", "--seconds", "0.5", "--data", str(tmp_path / "city")],
                         capture_output=True, text=True, timeout=300, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["opd_staff"] == 20 and summary["events"] > 0 and summary["raw_month_ms"] > 0
    for name in ("floor", "health", "board", "month"):
        for mode in ("closed", "paced"):
            figures = summary[f"{name}_3_{mode}"]
            assert figures["requests"] > 0 and figures["p99_ms"] >= figures["p50_ms"] > 0
    assert summary["board_3_closed"]["bytes"] > 1000 and summary["month_3_closed"]["bytes"] > 1000


def test_verify_bench_compares_both_libraries():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "verify.py"), "--events", "200"],
                         capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["events"] == 200 and result["us_per_verify_cryptography"] > 0 and result["us_per_verify_pynacl"] > 0
