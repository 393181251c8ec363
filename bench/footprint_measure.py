"""The measurements behind bench/footprint.py, each on the real code path (see that file for the whole run).

- `wire`: one device (the edge's own DeviceLink and Outbox) through a byte-counting proxy to Mosquitto,
  with a hub (in-process) storing and acknowledging: connect, events, telemetry, a gallery push, keepalive.
- `hub_load`: `hadir-hub run` as its own process over mTLS Mosquitto and a store; CPU of the hub, the broker
  and InfluxDB per event from /proc, and the stores' bytes on disk per event.
- `master_size`, `outbox_size`, `terminal`: master data for N employees, the device outbox offline, and
  the terminal pipeline's time per camera frame.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.gps.reader import FixedSite  # noqa: E402
from edge.outbox.store import Outbox  # noqa: E402
from edge.publish.link import DeviceLink  # noqa: E402
from hadir.contract import (  # noqa: E402
    AttendanceEvent,
    ClockSource,
    EventKind,
    GpsFix,
    Liveness,
    Telemetry,
    utcnow,
)
from hadir.mqtt import MqttSettings, connect, make_client  # noqa: E402
from hadir.signing import new_key, public_key_b64, sign_event  # noqa: E402
from hadir_ops.provision import CertificateAuthority, provision_device  # noqa: E402
from testkit import localservices  # noqa: E402
from testkit.wire import CountingProxy, Counts  # noqa: E402

ACL = ROOT / "firmware_config" / "mosquitto" / "hadir.acl"
AMBON = (-3.6954, 128.1814)
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------ the city's PKI


@dataclass
class Pki:
    ca: CertificateAuthority
    folder: Path
    hub_cert: Path
    hub_key: Path

    @classmethod
    def make(cls, folder: Path) -> Pki:
        ca = CertificateAuthority.init(folder / "ca")
        cert, key = ca.issue("hadir-hub", folder / "hub-tls")
        return cls(ca, folder, cert, key)

    def broker_config(self, broker_dir: Path) -> str:
        """mTLS listener settings as production has them (firmware_config/mosquitto/hadir.conf)."""
        cert, key = self.ca.issue("broker", broker_dir, server=True, hosts=("127.0.0.1", "localhost"))
        shutil.copy(ACL, broker_dir / "hadir.acl")
        return "\n".join([f"cafile {self.ca.cert_path}", f"certfile {cert}", f"keyfile {key}",
                          f"crlfile {self.ca.crl_path}", "require_certificate true", "use_identity_as_username true",
                          f"acl_file {broker_dir / 'hadir.acl'}", ""])

    def hub_mqtt(self, port: int) -> MqttSettings:
        return MqttSettings(host="127.0.0.1", port=port, protocol=5, ca_file=self.ca.cert_path,
                            cert_file=self.hub_cert, key_file=self.hub_key)

    hub_public: str | None = None  # the hub's public key (base64) that goes into each bundle

    def provision(self, device_id: str) -> tuple[Path, str, object]:
        """A device bundle made by the project's own provisioning: (folder, public signing key, private key)."""
        from hadir.signing import load_private_key

        bundle = provision_device(self.ca, device_id, self.folder / "devices" / device_id,
                                  hub_public_key=self.hub_public)
        BOX_KEYS[device_id] = bundle.box_public_key
        return bundle.folder, bundle.public_key, load_private_key(bundle.folder / "signing.key")


BOX_KEYS: dict[str, str] = {}  # device -> its X25519 gallery key (base64), registered at the hub


def device_mqtt(bundle: Path, port: int, tls: bool, **extra: object) -> MqttSettings:
    """A device's MQTT settings: its certificate and key for mTLS, or plain MQTT for the comparison."""
    certs = ({"ca_file": bundle / "ca.crt", "cert_file": bundle / "device.crt", "key_file": bundle / "device.key"}
             if tls else {})
    return MqttSettings(host="127.0.0.1", port=port, protocol=5, **certs, **extra)


def start_brokers(work: Path, pki: Pki) -> tuple[localservices.Service, localservices.Service]:
    """(plain Mosquitto, mTLS Mosquitto with the shipped ACL), both on loopback."""
    plain = localservices.start_mosquitto(work / "mosquitto-plain")
    tls_dir = work / "mosquitto-tls"
    tls_dir.mkdir(parents=True)
    tls = localservices.start_mosquitto(tls_dir, extra_config=pki.broker_config(tls_dir))
    return plain, tls


# ------------------------------------------------------------------------------------------------ events

NIPS = [f"19{random.Random(n).randrange(10**15, 10**16)}" for n in range(500)]  # 18 digits, like a NIP


def event_builder(device_id: str, key, field: bool, rng: random.Random, unknown_every: int = 20):
    """What the agent records: a walk-past at a fixed site, or a field check-in with a GPS fix."""
    count = [0]

    def build(seq: int, prev_hash: str) -> AttendanceEvent:
        count[0] += 1
        unknown = count[0] % unknown_every == 0
        now = utcnow()
        if field:
            gps = GpsFix(lat=round(AMBON[0] + rng.uniform(-0.05, 0.05), 7),
                         lon=round(AMBON[1] + rng.uniform(-0.05, 0.05), 7), mode=3, hdop=round(rng.uniform(0.6, 2), 1),
                         eph_m=round(rng.uniform(2, 12), 1), sats_used=rng.randrange(6, 14), gps_time=now)
        else:
            gps = FixedSite(*AMBON).current()
        kind = EventKind.UNKNOWN_FACE if unknown else (EventKind.FIELD_CHECKIN if field else EventKind.WALK_PAST)
        ev = AttendanceEvent(
            key=f"{device_id}:{seq}", device_id=device_id, seq=seq, kind=kind,
            employee_id=None if unknown else rng.choice(NIPS), score=round(rng.uniform(0.9, 0.99), 4),
            margin=round(rng.uniform(0.01, 0.2), 4), frames=rng.randrange(3, 30),
            quality=round(rng.uniform(0.5, 1.0), 4),
            liveness=Liveness(method="planarity", passed=True, score=round(rng.uniform(0.5, 1), 4)),
            captured_at=now, clock_source=ClockSource.GPS if field else ClockSource.NTP, gps=gps,
            model_id="dlib_resnet_v1", gallery_version=3, prev_hash=prev_hash)
        return sign_event(ev, key)

    return build


def telemetry(device_id: str, field: bool) -> Telemetry:
    return Telemetry(device_id=device_id, at=utcnow(), inference_ms=38.21, fps=14.93, outbox_depth=0,
                     outbox_free_mb=10234.5, temperature_c=52.3, gps_state="3d" if field else "fixed_site")


def wait_for(predicate, timeout: float, step: float = 0.0005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def quiet(proxy: CountingProxy, settle: float = 0.3, timeout: float = 5.0) -> Counts:
    """The counts once nothing has moved for `settle` seconds (trailing PUBACKs included)."""
    last, since, deadline = proxy.counts(), time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = proxy.counts()
        if (now.up, now.down) != (last.up, last.down):
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle:
            break
    return proxy.counts()


# --------------------------------------------------------------------------------------------- the wire


def populate_gallery(hub, opd: str, employees: int, templates_each: int, rng: np.random.Generator) -> int:
    """Employees of one OPD with encrypted templates of the hub's embedder; returns the template count."""
    from hub.enrolment import Template
    from hub.master import Employee, Opd

    enrolment = hub.enrolment  # loads the embedder, as the hub does for a push
    dim, model = enrolment.pipeline.embedder.dim, enrolment.pipeline.model_id
    with hub.master.session() as s:
        s.add(Opd(code=opd, name=f"OPD {opd}"))
        s.flush()
        for n in range(employees):
            nip = f"19{n:016d}"
            s.add(Employee(nip=nip, name=f"Pegawai {n}", opd_code=opd, tpp_base=5_000_000))
            for _ in range(templates_each):
                v = rng.standard_normal(dim).astype("<f4")
                v /= np.linalg.norm(v)
                s.add(Template(nip=nip, model_id=model, vector=enrolment.fernet.encrypt(v.tobytes()), quality=0.9,
                               source="foto.jpg", created_at=datetime.now(timezone.utc)))
    enrolment.bump_version()
    return employees * templates_each


def wire(work: Path, pki: Pki, broker: localservices.Service, tls: bool, events: int, telemetry_msgs: int,
         gallery_employees: int, templates_each: int, keepalive_probe_s: float) -> dict:
    """Bytes on the wire for an office terminal and a field device, each through its own counting proxy."""
    from hub.config import HubSettings, Retention
    from hub.service import Hub

    label = "tls" if tls else "plain"
    mqtt = pki.hub_mqtt(broker.port) if tls else MqttSettings(port=broker.port, protocol=5)
    hub = Hub(HubSettings(data_dir=work / f"hub-wire-{label}", embedded_broker=False, mqtt=mqtt,
                          retention=Retention(enabled=False)))
    templates = populate_gallery(hub, "OPD01", gallery_employees, templates_each, np.random.default_rng(1))
    out: dict[str, dict] = {}
    devices = {"office": f"pi-opd01-{label}-01", "field": f"hh-kec01-{label}-01"}
    links, proxies, outboxes, keys, galleries = {}, {}, {}, {}, {}
    bundles = {}
    pki.hub_public = public_key_b64(hub.hub_public_key)
    for role, device_id in devices.items():
        bundles[role], public, keys[role] = pki.provision(device_id)
        hub.registry.register(device_id, public, box_key_b64=BOX_KEYS[device_id], opd="OPD01")
    hub.start()
    try:
        for role, device_id in devices.items():
            proxy = CountingProxy(broker.port)
            settings = device_mqtt(bundles[role], proxy.port, tls)
            outbox = Outbox(work / f"outbox-{device_id}.sqlite", min_free_mb=1, alarm_free_mb=2)
            got = threading.Event()
            galleries[role] = got
            # A device in service already runs the current gallery: connecting must not fetch it again.
            link = DeviceLink(settings, device_id, outbox, hub_key=hub.hub_public_key, signer=keys[role],
                              model_id="dlib_resnet_v1", gallery_version=hub.enrolment.version(),
                              on_gallery=lambda update, got=got: got.set() or True)
            before = proxy.counts()
            link.start()
            link.connected.wait(10)
            connected = quiet(proxy)
            build = event_builder(device_id, keys[role], role == "field", random.Random(7))
            for n in range(events):
                outbox.append(build)
                link.notify()
                if not wait_for(lambda n=n, link=link: link.acked >= n + 1, 20):
                    raise RuntimeError(f"{device_id}: event {n + 1} not acknowledged within 20 s")
            after_events = quiet(proxy)
            for _ in range(telemetry_msgs):
                link.publish_telemetry(telemetry(device_id, role == "field"))
                time.sleep(0.002)
            after_telemetry = quiet(proxy)
            links[role], proxies[role], outboxes[role] = link, proxy, outbox
            out[role] = {"connect": connected - before, "events": after_events - connected,
                         "telemetry": after_telemetry - after_events}
        # One gallery push reaches both devices (each gets its OPD's gallery).
        marks = {role: proxies[role].counts() for role in devices}
        hub.push_galleries()
        for role in devices:
            if not galleries[role].wait(60):
                raise RuntimeError(f"{devices[role]}: no gallery within 60 s")
            out[role]["gallery"] = quiet(proxies[role]) - marks[role]
        for role in devices:
            mark = proxies[role].counts()
            links[role].stop(clean=True)
            out[role]["disconnect"] = quiet(proxies[role]) - mark
            outboxes[role].close()
        out["keepalive"] = keepalive(bundles["office"], broker.port, devices["office"], tls, keepalive_probe_s)
    finally:
        for proxy in proxies.values():
            proxy.close()
        hub.stop()
    result: dict = {"gallery_templates": templates}
    for role in devices:
        o = out[role]
        result[role] = {"bytes_per_event_up": o["events"].up / events,
                        "bytes_per_event_down": o["events"].down / events}
        # Each item twice: MQTT (+TLS) bytes exactly, and with IP/TCP headers estimated ("wire_").
        for name, counts, n in (("event", o["events"], events), ("telemetry", o["telemetry"], telemetry_msgs),
                                ("connect", o["connect"], 1), ("disconnect", o["disconnect"], 1),
                                ("gallery_push", o["gallery"], 1), ("ping", out["keepalive"][0],
                                                                    out["keepalive"][1])):
            result[role][f"bytes_per_{name}"] = counts.total / max(n, 1)
            result[role][f"wire_bytes_per_{name}"] = counts.wire_estimate() / max(n, 1)
    return result


def keepalive(bundle: Path, port: int, device_id: str, tls: bool, seconds: float) -> tuple[Counts, int]:
    """Keepalive exchanges (PINGREQ + PINGRESP) of an idle connection with a 1 s keepalive: (counts, how many)."""
    proxy = CountingProxy(port)
    settings = device_mqtt(bundle, proxy.port, tls, keepalive_s=1)
    client = make_client(settings, f"{device_id}-ka")
    pings = [0]
    client.on_log = lambda c, u, level, buf: pings.__setitem__(0, pings[0] + ("PINGREQ" in buf))
    connect(client, settings, clean=True)
    start = quiet(proxy, settle=0.2)
    pings[0] = 0
    time.sleep(seconds)
    end = quiet(proxy, settle=0.2, timeout=1.5)
    n = pings[0]
    client.disconnect()
    client.loop_stop()
    proxy.close()
    return end - start, n


# ---------------------------------------------------------------------------------------- the hub's load


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def sqlite_bytes(path: Path) -> int:
    """The file's size with its WAL folded in (what it keeps, not what it is still writing)."""
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path.stat().st_size


def empty_sqlite_bytes(work: Path) -> dict[str, int]:
    """Each hub SQLite file freshly created, to subtract from the measured ones."""
    from hub.ingest.gps_checks import GpsHistory
    from hub.ingest.quarantine import Quarantine
    from hub.store.sqlite_store import SqliteEventStore

    d = work / "empty"
    SqliteEventStore(d / "events.sqlite").close()
    Quarantine(d / "quarantine.sqlite")
    GpsHistory(d / "gps.sqlite")
    return {name: sqlite_bytes(d / name) for name in ("events.sqlite", "quarantine.sqlite", "gps.sqlite")}


def hub_load(work: Path, pki: Pki, broker: localservices.Service, store: str, events: int, devices: int,
             influx: localservices.Service | None, idle_s: float) -> dict:
    """Events through `hadir-hub run` (a process of its own): CPU per event and bytes stored per event."""
    from hadir.signing import load_public_key
    from hub.registry import DeviceRegistry
    from hub.service import hub_public_key_path

    data = work / f"hub-load-{store}"
    data.mkdir(parents=True, exist_ok=True)
    database = f"footprint{time.time_ns()}"
    registry = DeviceRegistry.in_dir(data)
    hub_pub_path = hub_public_key_path(data)  # made now, as the hub's first start would: bundles carry it
    hub_public = load_public_key(hub_pub_path)
    pki.hub_public = public_key_b64(hub_public)
    fleet = []
    for n in range(devices):
        field = n % 4 == 3  # one device in four is a field device
        device_id = f"{'hh' if field else 'pi'}-load-{store}-{n:02d}"
        bundle, public, key = pki.provision(device_id)
        registry.register(device_id, public, box_key_b64=BOX_KEYS[device_id], opd="OPD01")
        fleet.append((device_id, device_mqtt(bundle, broker.port, True), key, field))
    rogue_id = f"pi-rogue-{store}-01"
    bundle, rogue_public, _ = pki.provision(rogue_id)
    rogue_settings = device_mqtt(bundle, broker.port, True)
    registry.register(rogue_id, rogue_public, box_key_b64=BOX_KEYS[rogue_id])
    # A config file, as production has (firmware_config/hub.example.toml).
    config = data.parent / f"hub-{store}.toml"
    config.write_text(f"""data_dir = "{data}"
embedded_broker = false
store = "{store}"

[mqtt]
host = "127.0.0.1"
port = {broker.port}
protocol = 5
ca_file = "{pki.ca.cert_path}"
cert_file = "{pki.hub_cert}"
key_file = "{pki.hub_key}"

[influx]
url = "{influx.extra["url"] if influx else "http://127.0.0.1:1"}"
database = "{database}"

[retention]
enabled = false
""")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The hub logs every batch: its output goes to a file, never a pipe that could fill and block it.
    log_path = data.parent / f"hub-{store}.log"
    log_file = log_path.open("w")
    hub = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--no-api", "--config", str(config)], env=env,
                           stdout=log_file, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    links = []
    try:
        if not wait_for(lambda: "Hub running" in log_path.read_text() or hub.poll() is not None, 60, step=0.1) \
                or hub.poll() is not None:
            raise RuntimeError(f"the hub did not start: {log_path.read_text()[-2000:]}")
        time.sleep(1.0)
        idle0 = cpu_seconds(hub.pid)
        time.sleep(idle_s)
        idle_rate = (cpu_seconds(hub.pid) - idle0) / idle_s
        for device_id, settings, key, field in fleet:
            outbox = Outbox(data.parent / f"outbox-{device_id}.sqlite", min_free_mb=1, alarm_free_mb=2)
            link = DeviceLink(settings, device_id, outbox, hub_key=hub_public, signer=key,
                              model_id="dlib_resnet_v1").start()
            links.append((link, outbox, event_builder(device_id, key, field, random.Random(device_id))))
        pids = {"hub": hub.pid, "broker": broker.pid, **({"influxdb": influx.pid} if influx else {})}
        cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
        started = time.perf_counter()
        # One event at a time, each acknowledged before the next: the way a city's events trickle in
        # (6,000 people over a morning is about 3 a second), so no batching flatters the hub.
        for n in range(events):
            link, outbox, build = links[n % len(links)]
            target = link.acked + 1
            outbox.append(build)
            link.notify()
            if not wait_for(lambda link=link, target=target: link.acked >= target, 20):
                raise RuntimeError(f"event {n + 1} not acknowledged within 20 s")
        took = time.perf_counter() - started
        cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
        # Refused messages: events signed with a key the hub does not know, quarantined with their payload.
        refused = max(10, events // 100)
        rogue_box = Outbox(data.parent / f"outbox-{rogue_id}.sqlite", min_free_mb=1, alarm_free_mb=2)
        rogue = DeviceLink(rogue_settings, rogue_id, rogue_box, hub_key=hub_public).start()
        rogue_build = event_builder(rogue_id, new_key(), False, random.Random(3))
        for _ in range(refused):
            rogue_box.append(rogue_build)
        rogue.notify()
        if not rogue.wait_drained(30) or len(rogue.rejected) != refused:
            raise RuntimeError(f"refused events not answered: {len(rogue.rejected)} of {refused}")
        links.append((rogue, rogue_box, None))
    finally:
        for link, outbox, _ in links:
            link.stop(clean=True)
            outbox.close()
        localservices.terminate(hub, 30)
        log_file.close()
    field_events = sum(1 for n in range(events) if fleet[n % len(fleet)][3])
    empty = empty_sqlite_bytes(work)
    result = {
        "events": events, "seconds": took, "events_per_s": events / took,
        "hub_cpu_s_per_1000": max(0.0, cpu["hub"] - idle_rate * took) / events * 1000,
        "hub_cpu_s_per_1000_with_idle": cpu["hub"] / events * 1000,
        "hub_idle_cpu_s_per_day": idle_rate * 86400,
        "broker_cpu_s_per_1000": cpu["broker"] / events * 1000,
        "quarantine_bytes_per_message": (sqlite_bytes(data / "quarantine.sqlite") - empty["quarantine.sqlite"])
        / refused,
        "gps_bytes_per_field_event": (sqlite_bytes(data / "gps.sqlite") - empty["gps.sqlite"]) / max(field_events, 1),
    }
    if store == "sqlite":
        result["store_bytes_per_event"] = (sqlite_bytes(data / "events.sqlite") - empty["events.sqlite"]) / events
    else:
        result["influx_cpu_s_per_1000"] = cpu["influxdb"] / events * 1000
        tsm, fixed = influx_bytes(influx, database)
        result["store_bytes_per_event"] = tsm / events
        result["influx_other_bytes"] = fixed  # per series and per database, not per event
    return result


def influx_bytes(influx: localservices.Service, database: str, timeout: float = 60.0) -> tuple[int, int]:
    """(bytes of the compressed TSM data files, bytes of everything else: series file, index, WAL left over)
    for the database, once InfluxDB has written its cache to TSM files and they have stopped changing."""
    data, wal = influx.workdir / "data" / database, influx.workdir / "wal" / database
    deadline, last, stable_since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        tsm = sorted((p.name, p.stat().st_size) for p in data.rglob("*.tsm"))
        if tsm != last:
            last, stable_since = tsm, time.monotonic()
        elif tsm and folder_bytes(wal) < 64 * 1024 and time.monotonic() - stable_since > 3:
            break
        time.sleep(0.5)
    tsm_bytes = sum(p.stat().st_size for p in data.rglob("*.tsm"))
    on_disk = sum(p.stat().st_blocks * 512 for p in (*data.rglob("*"), *wal.rglob("*")) if p.is_file())
    return tsm_bytes, max(0, on_disk - tsm_bytes)


INFLUX_SNAPSHOT = ('  cache-snapshot-write-cold-duration = "1s"\n'
                   '  compact-full-write-cold-duration = "2s"\n')


# ------------------------------------------------------------------------------------- master data, outbox


def master_size(work: Path, employees: int, offices: int, templates_each: int, dim: int,
                changes: int) -> dict:
    """Master data as the hub keeps it for `employees` people (templates encrypted, every change audited),
    then `changes` leave records with their audit rows, for the yearly growth."""
    from cryptography.fernet import Fernet

    import hub.enrolment  # noqa: F401 - the template table
    from hub.enrolment import Template
    from hub.master import AuditLog, Employee, Leave, MasterData, Opd, User, hash_password

    path = work / "master.sqlite"
    master = MasterData(f"sqlite:///{path}")
    fernet, rng, now = Fernet(Fernet.generate_key()), np.random.default_rng(2), datetime.now(timezone.utc)
    with master.session() as s:
        for o in range(offices):
            s.add(Opd(code=f"OPD{o:02d}", name=f"Dinas {o:02d} Kota Ambon"))
        s.add(User(username="admin", password_hash=hash_password("x" * 12), role="admin"))
    with master.session() as s:
        for n in range(employees):
            nip, opd = f"19{n:016d}", f"OPD{n % offices:02d}"
            s.add(Employee(nip=nip, name=f"Pegawai Nomor {n}", opd_code=opd, status="PNS", tpp_base=4_500_000,
                           start=date(2015, 1, 1)))
            s.add(AuditLog(at=now, actor="admin", action="create", entity="employee", entity_id=nip,
                           detail={"nip": nip, "name": f"Pegawai Nomor {n}", "opd_code": opd, "status": "PNS",
                                   "tpp_base": 4_500_000, "start": "2015-01-01"}))
            for t in range(templates_each):
                vector = rng.standard_normal(dim).astype("<f4")
                s.add(Template(nip=nip, model_id="dlib_resnet_v1", vector=fernet.encrypt(vector.tobytes()),
                               quality=0.87, source=f"{nip}_{t}.jpg", created_at=now))
                s.add(AuditLog(at=now, actor="admin", action="create", entity="template", entity_id=nip,
                               detail={"photo": f"{nip}_{t}.jpg", "model_id": "dlib_resnet_v1"}))
    master.engine.dispose()
    static = sqlite_bytes(path)
    master = MasterData(f"sqlite:///{path}")
    with master.session() as s:
        for n in range(changes):
            nip = f"19{n % employees:016d}"
            s.add(Leave(nip=nip, type="cuti_tahunan", start=date(2026, 3, 2), end=date(2026, 3, 4),
                        approver="Kepala Dinas", document=f"800/{n}/CUTI/2026"))
            s.add(AuditLog(at=now, actor="opd-dinas", action="create", entity="leave", entity_id=str(n),
                           detail={"nip": nip, "type": "cuti_tahunan", "start": "2026-03-02", "end": "2026-03-04",
                                   "approver": "Kepala Dinas", "document": f"800/{n}/CUTI/2026"}))
    master.engine.dispose()
    return {"bytes": static, "bytes_per_employee": static / max(employees, 1),
            "bytes_per_change": (sqlite_bytes(path) - static) / max(changes, 1)}


def outbox_size(work: Path, events: int) -> dict:
    """Bytes the device outbox keeps per event while the hub is out of reach (office and field events)."""
    out = {}
    for role, field in (("office", False), ("field", True)):
        path = work / f"offline-{role}.sqlite"
        box = Outbox(path, min_free_mb=1, alarm_free_mb=2)
        box.close()
        empty = sqlite_bytes(path)
        box = Outbox(path, min_free_mb=1, alarm_free_mb=2)
        build = event_builder(f"pi-offline-{role}", new_key(), field, random.Random(5))
        for _ in range(events):
            box.append(build)
        box.close()
        out[role] = (sqlite_bytes(path) - empty) / events
    return out


# ------------------------------------------------------------------------------------------ the terminal


def terminal(faces: Path, camera_fps: float, frames_per_visit: int, threads: int) -> dict:
    """The terminal pipeline (as configured by default: short detector, liveness mesh) on a walk-past video,
    timed the way bench/edge_pipeline.py does it: milliseconds per frame and CPU seconds per frame."""
    sys.path.insert(0, str(ROOT / "bench"))
    from edge_pipeline import PEOPLE, load_frames, tracked  # noqa: PLC0415 - the same measurement, reused

    from edge.enrol import enrol
    from edge.infer.pipeline import FacePipeline
    from testkit.walkpast import Scene, Visit, render

    pipeline = FacePipeline(threads=threads, mesh=True)
    gallery, _ = enrol(pipeline, {p: sorted((faces / p).glob("*.jpg"))[:2] for p in PEOPLE})
    visits = [Visit(sorted((faces / p).glob("*.jpg"))[2:], frames=frames_per_visit, gap_after=frames_per_visit // 2)
              for p in PEOPLE]
    video = render(Scene(width=640, height=480, fps=camera_fps, visits=visits),
                   Path(tempfile.mkdtemp(prefix="hadir-footprint-video-")) / "walk.avi", pipeline.detectors[0])
    frames = sum(v.frames + v.gap_after for v in visits)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    ms, _, decisions = tracked(pipeline, gallery, load_frames(video))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    budget = 1000 / camera_fps
    return {"ms_per_frame": ms, "cpu_ms_per_frame": cpu_s * 1000 / frames, "frame_budget_ms": budget,
            "share_of_frame_budget": ms / budget, "camera_fps": camera_fps, "threads": threads, "frames": frames,
            "decisions": decisions, "visits": len(visits)}
