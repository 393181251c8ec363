"""The hub API over seeded data in $HADIR_FUZZ_DIR, for schemathesis (`uvicorn --factory fuzz_app:create`)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from edge.infer.pipeline import FacePipeline
from hub.api.app import create_app
from hub.enrolment import Enrolment, template_key
from hub.ingest.metrics import IngestMetrics
from hub.master import Employee, MasterData, Opd
from hub.payroll.policy_file import load_policy
from hub.registry import DeviceRegistry
from hub.store.sqlite_store import SqliteEventStore
from hub.users import create_user

PASSWORD = "fuzz-kata-sandi-7"
USERS = {"admin": ("admin", None), "kadis": ("opd", "DINKES")}


def seed(folder: Path) -> None:
    master = MasterData(f"sqlite:///{folder / 'master.sqlite'}")
    master.add("setup", Opd(code="DINKES", name="Dinas Kesehatan"))
    master.add("setup", Opd(code="DISDIK", name="Dinas Pendidikan"))
    master.add("setup", Employee(nip="198703122010011001", name="Ani", opd_code="DINKES", tpp_base=5_000_000,
                                 start=date(2026, 11, 1)))
    master.add("setup", Employee(nip="198811202014021003", name="Citra", opd_code="DISDIK", tpp_base=5_000_000))
    for name, (role, opd) in USERS.items():
        create_user(master, "setup", name, PASSWORD, role, opd)


def create():  # noqa: ANN201 - the FastAPI app
    folder = Path(os.environ["HADIR_FUZZ_DIR"])
    master = MasterData(f"sqlite:///{folder / 'master.sqlite'}")
    enrolment: list[Enrolment] = []

    def lazy_enrolment() -> Enrolment:
        if not enrolment:
            enrolment.append(Enrolment(master, template_key(folder / "templates.key"), FacePipeline(threads=1)))
        return enrolment[0]

    return create_app(store=SqliteEventStore(folder / "events.sqlite"), master=master,
                      registry=DeviceRegistry(folder / "devices.sqlite"), policy=load_policy(),
                      metrics=IngestMetrics(), secret=b"fuzz-secret", enrolment=lazy_enrolment,
                      max_body_bytes=2_000_000)
