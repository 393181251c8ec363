"""Shared fixtures: real services on loopback, the face pipeline, the shipped demo photos."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from testkit import localservices as services  # noqa: E402

FACES = Path(__file__).resolve().parent.parent / "hadir_ops" / "demo_faces"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"mosquitto: {services.version_of('mosquitto', '-h')}",
        f"influxd: {services.version_of('influxd', 'version')}",
        f"gpsd: {services.version_of('gpsd', '-V')}",
    ]


SERVICE_FIXTURES = {"mosquitto", "influxdb", "gpsd"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`integration`: tests under tests/integration/ and every test that starts a real service.

    The fast lane is `pytest -m "not integration"`; CI runs everything.
    """
    for item in items:
        if "integration" in item.path.parts or SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def _start(factory, *args):
    try:
        return factory(*args)
    except FileNotFoundError as exc:
        pytest.skip(f"SERVICE MISSING, test not run: {exc}")


@pytest.fixture
def mosquitto(tmp_path):
    svc = _start(services.start_mosquitto, tmp_path / "mosquitto")
    yield svc
    svc.stop()
    assert not svc.alive()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory):
    svc = _start(services.start_influxdb, tmp_path_factory.mktemp("influxdb"))
    yield svc
    svc.stop()
    assert not svc.alive()


@pytest.fixture(scope="session")
def gpsd(tmp_path_factory):
    # Balai Kota Ambon, roughly.
    nmea = services.NmeaServer(lat=-3.6954, lon=128.1814)
    svc = _start(services.start_gpsd, tmp_path_factory.mktemp("gpsd"), nmea)
    yield svc
    svc.stop()
    nmea.close()
    assert not svc.alive()


@pytest.fixture(scope="session")
def pipeline():
    from edge.infer.pipeline import FacePipeline

    return FacePipeline(threads=2)  # the shipped detector ("auto": multi-scale)


@pytest.fixture(scope="session")
def faces() -> Path:
    return FACES


@pytest.fixture(scope="session")
def demo_gallery(pipeline):
    from edge.enrol import enrol

    people = {p: sorted((FACES / p).glob("*.jpg"))[:2] for p in ("person01", "person05", "person06", "person08")}
    gallery, _ = enrol(pipeline, people)
    return gallery


@pytest.fixture(scope="session")
def hub_venv(tmp_path_factory) -> Path:
    """A fresh venv with only the hub extra (+ pytest, hypothesis to run hub tests in it), shared by the
    hub-only install test and the deployment drill: built once per run."""
    from helpers import fresh_venv

    return fresh_venv(tmp_path_factory.mktemp("hub-venv") / "venv", "hub", "pytest", "hypothesis")


_FAULT_LINES: list[str] = []


@pytest.fixture
def fault_report():
    """Record a line for the end-of-run summary ('what each fault did, and the counts')."""
    return lambda name, text: _FAULT_LINES.append(f"{name}: {text}")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _FAULT_LINES:
        terminalreporter.section("fault suite")
        for line in _FAULT_LINES:
            terminalreporter.write_line(line)
