"""`hadir demo`: the whole flow for real on one machine.

Enrol four employees from shipped photos, render walk-past clips (other photos of the same people and
one stranger), run the edge agent on them with the real models, publish over real MQTT to the hub,
which verifies, stores and acknowledges; then resolve the day and compute TPP from the stored events.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edge.agent import EdgeAgent
from edge.capture.opencv_source import OpenCvSource
from edge.decide.visits import DecisionPolicy, VisitDecider
from edge.enrol import enrol
from edge.gps.reader import FixedSite
from edge.infer.liveness import PlanarityCheck
from edge.infer.pipeline import FacePipeline
from edge.outbox.store import Outbox
from edge.publish.link import DeviceLink
from hadir.contract import ClockSource, EventKind
from hadir.mqtt import MqttSettings
from hadir.signing import new_key, public_key_b64
from hadir.wit import WIT
from hub.config import HubSettings, Influx
from hub.payroll.policy_file import load_policy
from hub.payroll.punches import punches_by_employee
from hub.service import Hub
from hub.tpp.compute import compute_tpp
from hub.tpp.resolve import Employee, holiday_set, is_working_day, resolve_month
from testkit.walkpast import Scene, Visit, render

FACES = Path(__file__).with_name("demo_faces")
DEVICE = "pi-demo-balaikota-01"
OPD = "Dinas Komunikasi dan Informatika"
# Balai Kota Ambon, Jl. Sultan Hasanuddin (approximate): the terminal's fixed site.
SITE = (-3.6954, 128.1814)


@dataclass(frozen=True)
class DemoPerson:
    folder: str
    nip: str | None  # None: never enrolled (the stranger)
    name: str
    tpp_base: int


PEOPLE = [
    DemoPerson("person01", "198703122010011001", "Pegawai Demo A", 4_500_000),
    DemoPerson("person05", "199002052015032002", "Pegawai Demo B", 3_800_000),
    DemoPerson("person06", "198811202014021003", "Pegawai Demo C", 3_800_000),
    DemoPerson("person08", "199305172019031004", "Pegawai Demo D", 3_200_000),
    DemoPerson("person10", None, "(orang tidak dikenal)", 0),
]

# (person folder, local WIT time of the visit): A on time, B 11 min late and leaves 40 min early,
# C 65 min late with no check-out, the stranger passes, D never comes.
SCHEDULE = [("person01", "07:12"), ("person05", "07:41"), ("person10", "07:50"), ("person06", "08:35"),
            ("person01", "16:05"), ("person05", "15:20")]


def photos(folder: str) -> list[Path]:
    return sorted((FACES / folder).glob("*.jpg"))


def demo_day(today: date, policy_name: str = "default") -> date:
    """Today in WIT if it is a working day, else the last working day before it."""
    policy = load_policy(policy_name)
    probe = Employee("demo")
    day = today
    while not is_working_day(policy, probe, day, holiday_set(policy, {day.year})):
        day -= timedelta(days=1)
    return day


def run_demo(workdir: Path | None = None, broker: str | None = None, influx: str | None = None,
             console: Console | None = None) -> dict[str, object]:
    console = console or Console()
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    work = Path(workdir or tempfile.mkdtemp(prefix="hadir-demo-"))
    day = demo_day(datetime.now(WIT).date())
    console.rule("[bold]Hadir demo")
    console.print(f"Work folder {work}; simulated day {day:%A %d %B %Y} (WIT). The clips' timeline sets "
                  "the capture times (clock source 'replay'), which this demo hub is told to trust.")

    # 1. Enrolment: two photos of each employee -> gallery (the same model the terminal runs).
    pipeline = FacePipeline(detector="short", threads=2, mesh=True)
    enrolled = {p.nip: photos(p.folder)[:2] for p in PEOPLE if p.nip}
    gallery, report = enrol(pipeline, enrolled)
    refused = [r for r in report if not r.accepted]
    console.print(f"Enrolled {len(gallery)} templates of {len(enrolled)} employees "
                  f"({len(refused)} photos refused) with model {gallery.model_id}.")

    # 2. Walk-past clips from *other* photos of the same people, plus one stranger.
    by_folder = {p.folder: p for p in PEOPLE}
    clips = []
    for n, (folder, hhmm) in enumerate(SCHEDULE):
        path = render(Scene(visits=[Visit(photos(folder)[2:], gap_after=10)], seed=n),
                      work / "clips" / f"{n:02d}-{folder}.avi", pipeline.detectors[0])
        at = datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), WIT)
        clips.append((path, at, by_folder[folder]))
    console.print(f"Rendered {len(clips)} walk-past clips ({', '.join(h for _, h in SCHEDULE)} WIT).")

    # 3. Hub: broker (embedded amqtt unless --broker), store (SQLite unless --influx), ingest worker.
    hub_settings = HubSettings(
        data_dir=work / "hub", embedded_broker=broker is None, trust_replay_clock=True,
        mqtt=MqttSettings.from_url(broker) if broker else MqttSettings(port=0, protocol=311),
        store="influx" if influx else "sqlite", influx=Influx(url=influx) if influx else Influx())
    with Hub(hub_settings) as hub:
        key = new_key()
        hub.registry.register(DEVICE, public_key_b64(key), opd=OPD, site="Balai Kota Ambon")
        console.print(f"Hub up: broker {hub.mqtt.host}:{hub.mqtt.port} (MQTT "
                      f"{'5' if hub.mqtt.protocol == 5 else '3.1.1'}), store {hub_settings.store}; "
                      f"device {DEVICE} registered.")

        # 4. The terminal: agent -> durable outbox -> MQTT link.
        outbox = Outbox(work / "edge" / "outbox.sqlite", min_free_mb=1, alarm_free_mb=5)
        link = DeviceLink(hub.device_mqtt(DEVICE), DEVICE, outbox, hub_key=hub.hub_public_key, signer=key,
                          model_id=gallery.model_id, gallery_version=gallery.version).start()
        decider = VisitDecider(gallery, DecisionPolicy(liveness_frames=6), pipeline.model_id)
        agent = EdgeAgent(DEVICE, pipeline, decider, outbox, key, kind=EventKind.WALK_PAST,
                          clock_source=ClockSource.REPLAY, gps=FixedSite(*SITE), on_event=lambda e: link.notify(),
                          liveness=PlanarityCheck())
        expected = {}
        for path, at, person in clips:
            for event in agent.run(OpenCvSource(str(path), start_at=at).frames()):
                expected[event.key] = person
        drained = link.wait_drained(30)
        link.stop()
        outbox.close()
        if not drained:
            raise RuntimeError("the hub did not acknowledge every event within 30 s")

        # 5. What the hub stored, and the day it resolves to.
        start = datetime.combine(day, datetime.min.time(), WIT)
        stored = hub.store.between(start, start + timedelta(days=1))
        names = {p.nip: p.name for p in PEOPLE if p.nip}
        table = Table(title=f"Events stored by the hub ({len(stored)})")
        for col in ("event key", "time (WIT)", "decision", "score", "margin", "frames", "liveness", "walked past"):
            table.add_column(col)
        recognised = []
        for item in sorted(stored, key=lambda s: s.event.captured_at):
            ev = item.event
            who = names.get(ev.employee_id or "", "TIDAK DIKENAL (unknown)")
            recognised.append({"key": ev.key, "employee_id": ev.employee_id, "truth": expected[ev.key].nip})
            table.add_row(ev.key, f"{ev.captured_at.astimezone(WIT):%H:%M:%S}",
                          f"{who} {ev.employee_id or ''}".strip(), f"{ev.score:.3f}", f"{ev.margin:.3f}",
                          str(ev.frames), f"{ev.liveness.method} {'ok' if ev.liveness.passed else 'GAGAL'}",
                          expected[ev.key].name)
        console.print(table)

        policy = load_policy(hub_settings.policy)
        punches = punches_by_employee(stored)
        month = f"{day:%Y-%m}"
        att = Table(title=f"Kehadiran {day:%d-%m-%Y} and TPP {month} so far (service started {day})")
        for col in ("NIP", "nama", "masuk", "pulang", "kode", "potongan", "TPP (Rp)", "dari event"):
            att.add_column(col)
        tpp = {}
        for person in PEOPLE:
            if not person.nip:
                continue
            employee = Employee(person.nip, person.name, person.tpp_base, opd=OPD, start=day)
            days = resolve_month(policy, employee, month, punches.get(person.nip, []), until=day)
            result = compute_tpp(policy, employee, month, days)
            today = days[-1]
            refs = ", ".join(p.ref for p in (today.checkin, today.checkout) if p and p.ref) or "-"
            att.add_row(person.nip, person.name,
                        f"{today.checkin.at.astimezone(WIT):%H:%M}" if today.checkin else "-",
                        f"{today.checkout.at.astimezone(WIT):%H:%M}" if today.checkout else "-",
                        today.code, f"{result.deduction_percent:g}%", f"{result.final_amount:,}".replace(",", "."),
                        refs)
            tpp[person.nip] = {"code": today.code, "final_amount": result.final_amount,
                               "deduction_percent": result.deduction_percent}
        console.print(att)
        rejected = hub.metrics.rejected_counts()
    elapsed = time.monotonic() - started
    correct = sum(r["employee_id"] == r["truth"] for r in recognised)
    console.print(f"{correct}/{len(recognised)} decisions match who really walked past; "
                  f"one event per visit ({len(recognised)} events for {len(SCHEDULE)} visits); "
                  f"rejected by the hub: {rejected or 'none'}; {elapsed:.1f} s.")
    return {"events": recognised, "tpp": tpp, "day": day.isoformat(), "seconds": elapsed,
            "correct": correct, "visits": len(SCHEDULE)}
