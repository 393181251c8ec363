"""A small city for the web app: two OPDs with named staff, a month of signed events up to a chosen moment,
leave, a duty order with a destination, a site, devices in several states, refused messages and users of
every role. Used by the browser tests and for trying the app by hand:

    python tests/webapp_city.py /tmp/hadir-demo   # then open http://127.0.0.1:8090/app/ (kadis-dinkes / rahasia-123)
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from hadir.contract import (
    GENESIS_HASH,
    AttendanceEvent,
    ClockSource,
    DeviceState,
    EventKind,
    GpsFix,
    Liveness,
    Telemetry,
)
from hadir.signing import new_key, public_key_b64, sign_event
from hadir.wit import WIT
from hub.ingest.quarantine import Quarantine
from hub.master import DutyOrder, Employee, Leave, MasterData, Opd, Site, User, hash_password
from hub.registry import DeviceRegistry
from hub.store.base import StoredEvent
from hub.store.sqlite_store import SqliteEventStore

PASSWORD = "rahasia-123"
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=WIT)  # a Tuesday, mid-morning
OFFICE = (-3.6954, 128.1814)  # Balai Kota Ambon, roughly
MASOHI = (-3.2985, 128.9589)
DINKES = ["Ani Lestari", "Budi Santoso", "Citra Wattimena", "Dedi Latuconsina", "Eka Pattinama", "Fajar Tuhumury",
          "Gita Manuputty", "Hendra Sahetapy", "Indah Pelupessy", "Joko Siahaya", "Kartini Leiwakabessy",
          "Lukas Matulessy"]
DISDIK = ["Maria Tahapary", "Nanda Rumahorbo", "Oktavianus Ririmasse"]


def nip_of(opd_index: int, i: int) -> str:
    return f"19{80 + i:02d}0{opd_index + 1}122010011{i:03d}"


@dataclass
class City:
    """What was seeded (names by NIP, devices, the signing key) so tests can add events the same way."""

    store: SqliteEventStore
    master: MasterData
    registry: DeviceRegistry
    quarantine: Quarantine
    now: datetime
    names: dict[str, str] = field(default_factory=dict)
    keys: dict = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)
    prev: dict[str, str] = field(default_factory=dict)

    def copy_to(self, dest: Path) -> City:
        """The same city in `dest` (its files copied): each test changes its own copy, seeding runs once."""
        src = Path(self.store.path).parent
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("events.sqlite", "master.sqlite", DeviceRegistry.FILE, "quarantine.sqlite"):
            with sqlite3.connect(src / name) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(src / name, dest / name)
        return City(SqliteEventStore(dest / "events.sqlite"), MasterData(f"sqlite:///{dest / 'master.sqlite'}"),
                    DeviceRegistry.in_dir(dest), Quarantine(dest / "quarantine.sqlite"), self.now, dict(self.names),
                    dict(self.keys), dict(self.seq), dict(self.prev))

    def nip(self, name: str) -> str:
        return next(n for n, v in self.names.items() if v == name)

    def event(self, device: str, nip: str | None, at: datetime, *, kind: EventKind | None = None,
              gps: GpsFix | None = None, liveness: bool = True) -> StoredEvent:
        """The next signed, chained event of `device` (not stored)."""
        seq = self.seq.get(device, 0) + 1
        ev = AttendanceEvent(
            key=f"{device}:{seq}", device_id=device, seq=seq,
            kind=kind or (EventKind.WALK_PAST if nip else EventKind.UNKNOWN_FACE), employee_id=nip,
            score=0.93 if nip else 0.41, margin=0.12, frames=5, quality=0.8,
            liveness=Liveness(method="face_mesh", passed=liveness, score=0.9 if liveness else 0.2),
            captured_at=at, clock_source=ClockSource.NTP, gps=gps, model_id="dlib_resnet_v1", gallery_version=3,
            prev_hash=self.prev.get(device, GENESIS_HASH))
        ev = sign_event(ev, self.keys[device])
        self.seq[device], self.prev[device] = seq, ev.event_hash()
        return StoredEvent(ev, at.astimezone(timezone.utc))


def _at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), WIT)


def seed(data_dir: Path, now: datetime = NOW) -> City:
    data_dir.mkdir(parents=True, exist_ok=True)
    master = MasterData(f"sqlite:///{data_dir / 'master.sqlite'}")
    city = City(SqliteEventStore(data_dir / "events.sqlite"), master, DeviceRegistry.in_dir(data_dir),
                Quarantine(data_dir / "quarantine.sqlite"), now)
    today = now.astimezone(WIT).date()
    first = today.replace(day=1)
    master.add("seed", Opd(code="DINKES", name="Dinas Kesehatan"))
    master.add("seed", Opd(code="DISDIK", name="Dinas Pendidikan"))
    for opd_index, (opd, names) in enumerate((("DINKES", DINKES), ("DISDIK", DISDIK))):
        for i, name in enumerate(names):
            nip = nip_of(opd_index, i)
            city.names[nip] = name
            master.add("seed", Employee(nip=nip, name=name, opd_code=opd, tpp_base=4_000_000 + 250_000 * i,
                                        start=first))
    master.add("seed", Site(opd_code="DINKES", name="Kantor Dinas Kesehatan", lat=OFFICE[0], lon=OFFICE[1],
                            radius_m=150))
    master.add("seed", Site(opd_code="DISDIK", name="Kantor Dinas Pendidikan", lat=-3.7000, lon=128.1700,
                            radius_m=150))
    gita, hendra = city.nip("Gita Manuputty"), city.nip("Hendra Sahetapy")
    master.add("seed", Leave(nip=gita, type="tahunan", start=today - timedelta(days=1), end=today + timedelta(days=1),
                             approver="Kepala Dinas", document="800/123/CUTI/2026"))
    master.add("seed", DutyOrder(number="094/ST/DINKES/XI/2026", nip=hendra, start=today, end=today + timedelta(days=1),
                                 destination="Puskesmas Masohi", lat=MASOHI[0], lon=MASOHI[1], radius_m=300))
    users = [("admin", "admin", None, None), ("kadis-dinkes", "opd", "DINKES", None),
             ("kadis-disdik", "opd", "DISDIK", None), ("bkpsdm", "payroll", None, None),
             ("ani", "employee", None, city.nip("Ani Lestari")), ("budi", "employee", None, city.nip("Budi Santoso"))]
    for username, role, opd, nip in users:
        master.add("seed", User(username=username, password_hash=hash_password(PASSWORD), role=role, opd_code=opd,
                                nip=nip))

    for device, opd, site in (("pi-dinkes-01", "DINKES", "Lobi Dinas Kesehatan"),
                              ("hp-dinkes-02", "DINKES", "Ponsel lapangan"),
                              ("pi-disdik-01", "DISDIK", "Lobi Dinas Pendidikan")):
        city.keys[device] = new_key()
        city.registry.register(device, public_key_b64(city.keys[device]), opd=opd, site=site,
                               at=now - timedelta(days=40))
    utc_now = now.astimezone(timezone.utc)
    city.registry.record_state(DeviceState(device_id="pi-dinkes-01", state="online", gallery_version=3), utc_now)
    city.registry.record_telemetry(Telemetry(device_id="pi-dinkes-01", at=utc_now, inference_ms=21.0, fps=12.0,
                                             outbox_depth=0, gps_state="fixed_site"), utc_now - timedelta(minutes=1))
    city.registry.record_state(DeviceState(device_id="hp-dinkes-02", state="online", gallery_version=2),
                               utc_now - timedelta(hours=3))
    city.registry.record_telemetry(Telemetry(device_id="hp-dinkes-02", at=utc_now, inference_ms=80.0, fps=5.0,
                                             outbox_depth=740, gps_state="3d"), utc_now - timedelta(hours=2))
    city.registry.record_state(DeviceState(device_id="pi-disdik-01", state="online", gallery_version=3), utc_now)
    city.registry.record_telemetry(Telemetry(device_id="pi-disdik-01", at=utc_now, inference_ms=20.0, fps=12.0,
                                             outbox_depth=0, gps_state="fixed_site"), utc_now - timedelta(seconds=30))

    rng = random.Random(14)
    items: list[StoredEvent] = []
    day = first
    while day < today:
        if day.weekday() < 5:
            for nip in city.names:
                device = "pi-dinkes-01" if nip in (nip_of(0, i) for i in range(len(DINKES))) else "pi-disdik-01"
                if rng.random() < 0.04:
                    continue  # absent
                late = rng.random() < 0.2
                minute = 50 if late else rng.randint(5, 29)
                items.append(city.event(device, nip, _at(day, 7, minute, rng.randint(0, 59))))
                if rng.random() > 0.05:
                    items.append(city.event(device, nip, _at(day, 16, rng.randint(0, 40) if day.weekday() < 4 else
                                                             rng.randint(30, 50))))
        day += timedelta(days=1)
    # This morning: most in on time, two late, one check-in refused (liveness failed), a stranger at the door,
    # a field check-in at the duty destination and one far from any site, and one who has not come yet.
    morning = [("Ani Lestari", 7, 21), ("Budi Santoso", 7, 48), ("Citra Wattimena", 7, 12), ("Dedi Latuconsina", 7, 25),
               ("Eka Pattinama", 8, 41), ("Indah Pelupessy", 7, 18), ("Kartini Leiwakabessy", 7, 29),
               ("Lukas Matulessy", 7, 3), ("Maria Tahapary", 7, 15), ("Nanda Rumahorbo", 7, 26)]
    for name, hh, mm in morning:
        device = "pi-disdik-01" if name in DISDIK else "pi-dinkes-01"
        items.append(city.event(device, city.nip(name), _at(today, hh, mm, 10)))
    items.append(city.event("pi-dinkes-01", city.nip("Fajar Tuhumury"), _at(today, 7, 22), liveness=False))
    items.append(city.event("pi-dinkes-01", None, _at(today, 7, 40)))
    fix = {"mode": 3, "hdop": 0.9, "sats_used": 9}
    items.append(city.event("hp-dinkes-02", hendra, _at(today, 8, 5), kind=EventKind.FIELD_CHECKIN,
                            gps=GpsFix(lat=MASOHI[0] + 0.0004, lon=MASOHI[1] - 0.0003, **fix)))
    items.append(city.event("hp-dinkes-02", city.nip("Joko Siahaya"), _at(today, 7, 35), kind=EventKind.FIELD_CHECKIN,
                            gps=GpsFix(lat=-3.6500, lon=128.2300, **fix)))
    city.store.put(items)
    city.quarantine.add("absensi/v1/pi-dinkes-01/up/event", b"{}", "bad_signature",
                        "signature of pi-dinkes-01:999 does not verify with the registered key",
                        _at(today, 7, 55).astimezone(timezone.utc))
    return city


def main() -> None:  # pragma: no cover - manual use
    import sys

    import uvicorn

    from hub.api.app import create_app
    from hub.ingest.metrics import IngestMetrics
    from hub.payroll.policy_file import load_policy

    city = seed(Path(sys.argv[1]))
    app = create_app(store=city.store, master=city.master, registry=city.registry, policy=load_policy(),
                     metrics=IngestMetrics(), secret=b"demo", quarantine=city.quarantine, clock=lambda: city.now)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]) if len(sys.argv) > 2 else 8090)


if __name__ == "__main__":  # pragma: no cover
    main()
