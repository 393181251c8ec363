"""A hub-only and an edge-only install each work on their own: CLI, migrations and their unit tests.

Each test makes a fresh virtual environment and installs one extra from this checkout (pip's cache keeps
it quick after the first run), so a dependency that only the other side installs is caught here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import fresh_venv

ROOT = Path(__file__).resolve().parent.parent
# A fresh venv each: pip's cache makes it quick, but a cold cache needs more than the default 300 s.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]
# pytest (and hypothesis for the property tests) only to run the tests below; nothing else of [dev].
TEST_TOOLS = ("pytest", "hypothesis")


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)


def test_hub_only_install_runs_its_cli_migrations_and_tests(tmp_path, hub_venv):
    venv = hub_venv
    py = str(venv / "bin" / "python")
    assert _run([py, "-c", "import fastapi, cv2, amqtt"]).returncode == 0
    help_ = _run([str(venv / "bin" / "hadir-hub"), "run", "--help"])
    assert help_.returncode == 0 and "--config" in help_.stdout, help_.stderr
    data = tmp_path / "hubdata"
    migrate = _run([str(venv / "bin" / "hadir-hub"), "migrate"], env={"HADIR_HUB_DATA_DIR": str(data), "PATH": ""})
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert (data / "master.sqlite").is_file()
    tests = _run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/hub/test_tpp.py",
                  "tests/hub/test_ingest.py", "tests/test_architecture.py"], cwd=ROOT)
    assert tests.returncode == 0, tests.stdout[-3000:]


def test_edge_only_install_runs_its_cli_and_tests_without_the_hub_libraries(tmp_path):
    venv = fresh_venv(tmp_path / "venv-edge", "edge", *TEST_TOOLS)
    py = str(venv / "bin" / "python")
    assert _run([py, "-c", "import fastapi"]).returncode != 0  # the device does not carry the hub's web stack
    help_ = _run([str(venv / "bin" / "hadir-edge"), "recognize", "--help"])
    assert help_.returncode == 0 and "--gallery" in help_.stdout, help_.stderr
    tests = _run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/edge/test_capture.py",
                  "tests/edge/test_recognition.py", "tests/hadir/test_contract.py"], cwd=ROOT)
    assert tests.returncode == 0, tests.stdout[-3000:]
