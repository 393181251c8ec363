"""schemathesis against the API's own OpenAPI: no server error for any generated request (bounded)."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from edge.infer.pipeline import FacePipeline
from hub.api.app import create_app
from hub.api.auth import Principal, issue_token
from hub.enrolment import Enrolment, template_key
from hub.ingest.metrics import IngestMetrics
from hub.master import Employee, MasterData, Opd
from hub.payroll.policy_file import load_policy
from hub.registry import DeviceRegistry
from hub.store.sqlite_store import SqliteEventStore

_dir = Path(tempfile.mkdtemp(prefix="hadir-fuzz-"))
_master = MasterData(f"sqlite:///{_dir / 'master.sqlite'}")
_master.add("setup", Opd(code="DINKES", name="Dinas Kesehatan"))
_master.add("setup", Employee(nip="198703122010011001", name="Ani", opd_code="DINKES", tpp_base=5_000_000,
                              start=date(2026, 11, 1)))
SECRET = b"fuzz-secret"
_enrolment: list[Enrolment] = []


def enrolment() -> Enrolment:
    if not _enrolment:
        _enrolment.append(Enrolment(_master, template_key(_dir / "templates.key"), FacePipeline()))
    return _enrolment[0]


APP = create_app(store=SqliteEventStore(_dir / "events.sqlite"), master=_master,
                 registry=DeviceRegistry.in_dir(_dir), policy=load_policy(), metrics=IngestMetrics(),
                 secret=SECRET, enrolment=enrolment)
HEADERS = [{"Authorization": f"Bearer {issue_token(SECRET, p)}"}
           for p in (Principal("admin", "admin"), Principal("kadis", "opd", "DINKES"))]

# The live stream never ends by design (it is tested in test_api.py); everything else is fuzzed.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/stream/checkins")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    for headers in HEADERS:
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
        if response.status_code >= 400:
            assert "error" in response.json() and "message" in response.json()["error"]
