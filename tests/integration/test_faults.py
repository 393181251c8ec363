"""Fault suite on real Mosquitto and InfluxDB: after each fault every event is stored exactly once and
each device's chain is intact. Each test prints what it did and the counts (shown in the summary)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from helpers import T0, event, wait_for

from edge.clock import ClockGuard
from edge.gallery_sync import gallery_from_update
from edge.outbox.store import Outbox, OutboxFull
from edge.publish.link import DeviceLink
from hadir.contract import Ack, Channel, ClockSource, seq_epoch, seq_number, topic, utcnow
from hadir.mqtt import MqttSettings, connect, make_client
from hadir.sealed import box_public_b64, new_box_key, seal_gallery
from hadir.signing import new_key, public_key_b64, save_private_key, sign_event, sign_message
from hub.audit import verify_chain
from hub.config import HubSettings, Influx
from hub.service import Hub
from testkit import localservices as services

HERE = Path(__file__).resolve().parent



@pytest.fixture
def hub_on(tmp_path, influxdb):
    """Start a hub (InfluxDB store, 2 workers) against a given broker port; stopped at teardown."""
    hubs = []

    def start(port: int, store: str = "influx") -> Hub:
        settings = HubSettings(data_dir=tmp_path / f"hub{len(hubs)}", embedded_broker=False, workers=2,
                               mqtt=MqttSettings(port=port, protocol=5), store=store,
                               influx=Influx(url=influxdb.extra["url"], database=f"f{time.monotonic_ns()}"))
        hub = Hub(settings).start()
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        hub.stop()


def assert_exactly_once(hub: Hub, device: str, expected: int, report) -> None:
    stored = hub.store.device_events(device)
    seqs = [seq_number(s.event.seq) for s in stored]
    chain = verify_chain(hub.store, hub.registry, device)
    report(f"sent {expected}, stored {len(stored)}, distinct {len(set(seqs))}, duplicates re-acked "
           f"{int(hub.metrics.duplicates._value.get())}, chain: {chain.summary()}")
    assert sorted(seqs) == list(range(1, expected + 1)), "lost or duplicated events"
    assert len({seq_epoch(s.event.seq) for s in stored}) == 1
    assert chain.intact, chain.summary()


def register(hub: Hub, device: str, tmp_path: Path):
    key = new_key()
    save_private_key(key, tmp_path / f"{device}.key")
    hub.registry.register(device, public_key_b64(key))
    return key


def test_sigkill_the_edge_agent_while_publishing(tmp_path, mosquitto, hub_on, fault_report):
    hub = hub_on(mosquitto.port)
    dev, total = "pi-kill-01", 400
    register(hub, dev, tmp_path)
    args = [sys.executable, str(HERE / "fault_device.py"), str(tmp_path / "outbox.sqlite"),
            str(tmp_path / f"{dev}.key"), dev, str(mosquitto.port), str(total),
            str(hub.settings.data_dir / "hub.pub"), "0.02"]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert wait_for(lambda: hub.store.count() >= 50, 30), "device never got going"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    at_kill = seq_number(Outbox(tmp_path / "outbox.sqlite").last_seq())
    second = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stdout + second.stderr
    assert wait_for(lambda: hub.store.count() >= total, 30)
    fault_report("SIGKILL edge agent", f"killed at seq {at_kill}, restarted, resumed from its outbox")
    assert_exactly_once(hub, dev, total, lambda s: fault_report("SIGKILL edge agent", s))


def test_sigkill_the_broker(tmp_path, mosquitto, hub_on, fault_report):
    hub = hub_on(mosquitto.port)
    dev, total = "pi-broker-01", 600
    key = register(hub, dev, tmp_path)
    outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    link = DeviceLink(MqttSettings(port=mosquitto.port, protocol=5), dev, outbox,
                      hub_key=hub.hub_public_key, resend_after_s=2.0).start()
    for i in range(total):
        outbox.append(lambda seq, prev: sign_event(event(dev, seq, prev, None), key))
        link.notify()
        if i == total // 2:
            mosquitto.kill(signal.SIGKILL)
            restarted = services.start_mosquitto(mosquitto.workdir, port=mosquitto.port)
            mosquitto.proc = restarted.proc  # the fixture stops the new process
    assert link.wait_drained(90), f"{outbox.depth()} never acknowledged"
    link.stop()
    fault_report("SIGKILL broker", f"broker killed after {total // 2} events and restarted on the same port")
    assert_exactly_once(hub, dev, total, lambda s: fault_report("SIGKILL broker", s))


def test_hub_down_for_a_long_backlog_then_restarted(tmp_path, mosquitto, hub_on, fault_report):
    dev, total = "pi-backlog-01", 20_000
    hub = hub_on(mosquitto.port, store="sqlite")
    key = register(hub, dev, tmp_path)
    hub.stop_workers()
    outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    for _ in range(total):
        outbox.append(lambda seq, prev: sign_event(event(dev, seq, prev, None), key))
    link = DeviceLink(MqttSettings(port=mosquitto.port, protocol=5), dev, outbox,
                      hub_key=hub.hub_public_key, resend_after_s=30.0).start()
    time.sleep(2)
    assert outbox.depth() == total and hub.store.count() == 0
    started = time.monotonic()
    hub.start_workers()
    assert link.wait_drained(240), f"{outbox.depth()} left"
    took = time.monotonic() - started
    link.stop()
    fault_report("hub down, backlog", f"{total} events waited on the device; hub restarted and drained "
                                      f"them in {took:.1f} s ({total / took:.0f} events/s)")
    assert_exactly_once(hub, dev, total, lambda s: fault_report("hub down, backlog", s))


def test_network_cut_between_device_and_broker(tmp_path, mosquitto, hub_on, fault_report):
    hub = hub_on(mosquitto.port)
    dev, total = "pi-net-01", 300
    key = register(hub, dev, tmp_path)
    proxy = services.TcpProxy(mosquitto.port)
    outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    settings = MqttSettings(port=proxy.port, protocol=5, keepalive_s=2)
    link = DeviceLink(settings, dev, outbox, hub_key=hub.hub_public_key, resend_after_s=2.0).start()
    cuts = 0
    for i in range(total):
        outbox.append(lambda seq, prev: sign_event(event(dev, seq, prev, None), key))
        link.notify()
        if i in (80, 200):
            proxy.cut()
            cuts += 1
            time.sleep(1.5)  # events keep being recorded while the link is down
        if i in (120, 240):
            proxy.restore()
        time.sleep(0.002)
    proxy.restore()
    assert link.wait_drained(90), f"{outbox.depth()} never acknowledged"
    link.stop()
    proxy.close()
    fault_report("network cut", f"link cut {cuts} times through a loopback proxy while recording")
    assert_exactly_once(hub, dev, total, lambda s: fault_report("network cut", s))


def test_outbox_disk_fills_up(tmp_path, mosquitto, hub_on, fault_report):
    """A real 8 MB tmpfs when we may mount one (root); otherwise the outbox's free-space floor is raised."""
    hub = hub_on(mosquitto.port)
    dev = "pi-disk-01"
    key = register(hub, dev, tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                             capture_output=True).returncode == 0
    try:
        outbox = Outbox(disk / "outbox.sqlite", min_free_mb=3 if mounted else 0,
                        alarm_free_mb=4 if mounted else 0)
        if not mounted:
            floor = outbox.free_mb() - 0.5
            outbox.min_free_mb, outbox.alarm_free_mb = floor, floor + 0.3
        recorded, alarm_at, full = 0, None, False
        while recorded < 100_000:
            if alarm_at is None and outbox.disk_alarm():
                alarm_at = recorded
            try:
                outbox.append(lambda seq, prev: sign_event(event(dev, seq, prev, None), key))
            except OutboxFull:
                full = True
                break
            recorded += 1
        assert full and alarm_at is not None and alarm_at < recorded, "no alarm before the disk filled"
        assert outbox.depth() == recorded  # nothing recorded was lost
        link = DeviceLink(MqttSettings(port=mosquitto.port, protocol=5), dev, outbox,
                          hub_key=hub.hub_public_key).start()
        assert link.wait_drained(90)
        link.stop()
        # Acknowledged events were deleted, so the device can record again.
        outbox.append(lambda seq, prev: sign_event(event(dev, seq, prev, None), key))
        outbox.close()
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)], check=False)
    fault_report("outbox disk full", f"{'tmpfs 8 MB' if mounted else 'free-space floor'}: alarm after "
                                     f"{alarm_at} events, full after {recorded}; refused the next one loudly")
    assert_exactly_once(hub, dev, recorded, lambda s: fault_report("outbox disk full", s))


def test_device_clock_jumps(tmp_path, mosquitto, hub_on, fault_report):
    hub = hub_on(mosquitto.port)
    dev = "pi-clock-01"
    key = register(hub, dev, tmp_path)
    outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    now = utcnow()
    # Normal, then the clock jumps 3 h ahead, then back to 2 days ago (a Pi after a power cut, no RTC).
    times = [now + timedelta(seconds=i) for i in range(10)] + \
            [now + timedelta(hours=3, seconds=i) for i in range(10)] + \
            [now - timedelta(days=2, seconds=-i) for i in range(10)]
    guard = ClockGuard(ClockSource.NTP, synchronised=lambda: None)  # as the agent stamps its events
    for at in times:
        src = guard.source_for(at)
        outbox.append(lambda seq, prev, at=at, src=src: sign_event(event(dev, seq, prev, None, at=at, clock=src), key))
    link = DeviceLink(MqttSettings(port=mosquitto.port, protocol=5), dev, outbox,
                      hub_key=hub.hub_public_key).start()
    assert link.wait_drained(60)
    link.stop()
    stored = {s.event.seq: s for s in hub.store.device_events(dev)}
    ahead = [seq_number(seq) for seq, s in stored.items() if "clock_ahead" in s.flags]
    unset = [seq_number(seq) for seq, s in stored.items() if "clock_unset" in s.flags]
    assert ahead == list(range(11, 21)) and unset == list(range(21, 31))
    assert not stored[min(stored)].flags
    fault_report("clock jump", "10 events 3 h ahead flagged clock_ahead by the hub; 10 stamped after the clock "
                               "fell 2 days back sent as clock_source=none by the device, flagged clock_unset; "
                               "neither counts for attendance")
    assert_exactly_once(hub, dev, 30, lambda s: fault_report("clock jump", s))


# ------------------------------------------------------------------------ trust faults (issue 12)


def _link(hub: Hub, port: int, dev: str, outbox: Outbox, key=None, **kw) -> DeviceLink:
    return DeviceLink(MqttSettings(port=port, protocol=5), dev, outbox, hub_key=hub.hub_public_key, signer=key,
                      resend_after_s=2.0, **kw)


def _record(outbox: Outbox, dev: str, key, n: int, day: int = 0) -> None:
    for _ in range(n):
        outbox.append(lambda seq, prev: sign_event(event(dev, seq, prev, None,
                                                         at=T0 + timedelta(days=day, seconds=seq_number(seq))), key))


def _deliver(hub: Hub, port: int, dev: str, outbox: Outbox, key) -> bool:
    """Connect the device, wait until the hub has acknowledged everything, disconnect."""
    link = _link(hub, port, dev, outbox, key).start()
    try:
        return link.wait_drained(30)
    finally:
        link.stop()


def _captured(hub: Hub, dev: str) -> list:
    return sorted(s.event.captured_at for s in hub.store.device_events(dev))


def _delivered_and_closed(hub: Hub, port: int, dev: str, tmp_path: Path, n: int):
    """A registered device whose outbox recorded and delivered `n` events, then closed: (key, outbox path)."""
    key = register(hub, dev, tmp_path)
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path, min_free_mb=1, alarm_free_mb=2)
    _record(outbox, dev, key, n)
    assert _deliver(hub, port, dev, outbox, key)
    outbox.close()
    return key, path


def test_outbox_deleted_new_events_never_collide(tmp_path, mosquitto, hub_on, fault_report):
    hub = hub_on(mosquitto.port)
    dev = "pi-deleted-01"
    key, path = _delivered_and_closed(hub, mosquitto.port, dev, tmp_path, 15)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    outbox = Outbox(path, min_free_mb=1, alarm_free_mb=2)  # as after the file was deleted
    _record(outbox, dev, key, 15, day=1)
    assert _deliver(hub, mosquitto.port, dev, outbox, key), f"{outbox.depth()} never acknowledged"
    stored = hub.store.device_events(dev)
    epochs = {seq_epoch(s.event.seq) for s in stored}
    forks = hub.metrics.rejected_counts().get("fork", 0)
    fault_report("outbox deleted", f"15 events before, outbox file deleted, 15 after: stored {len(stored)}, "
                                   f"{len(epochs)} epochs, forks {forks}, held on device {len(outbox.held())}")
    assert len(stored) == 30 and len(epochs) == 2 and forks == 0 and not outbox.held()
    assert verify_chain(hub.store, hub.registry, dev).intact


def test_outbox_truncated_is_moved_aside_and_recording_continues(tmp_path, mosquitto, hub_on, fault_report):
    hub = hub_on(mosquitto.port)
    dev = "pi-trunc-01"
    key, path = _delivered_and_closed(hub, mosquitto.port, dev, tmp_path, 40)
    with open(path, "r+b") as fh:  # a power cut mid-write, a full SD card: half the file is gone
        fh.truncate(path.stat().st_size // 2)
    outbox = Outbox(path, min_free_mb=1, alarm_free_mb=2)
    assert outbox.recovered and "moved to" in outbox.recovered
    aside = [p for p in tmp_path.glob("outbox.sqlite.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]
    _record(outbox, dev, key, 40, day=1)
    link = _link(hub, mosquitto.port, dev, outbox, key).start()
    assert link.wait_drained(30), f"{outbox.depth()} never acknowledged"
    assert wait_for(lambda: hub.registry.all()[0].alarm, 10), "the device never reported the moved outbox"
    alarm = hub.registry.all()[0].alarm
    link.stop()
    stored = hub.store.device_events(dev)
    fault_report("outbox truncated", f"40 stored, file truncated to half: opened anyway ({outbox.recovered!r}); "
                                     f"40 more recorded and stored; hub has {len(stored)}, device alarm at hub: "
                                     f"{alarm!r}")
    assert len(aside) == 1 and len(stored) == 80 and "outbox" in alarm
    assert hub.metrics.rejected_counts().get("fork", 0) == 0


def test_replacement_device_from_an_old_outbox_image_loses_nothing(tmp_path, mosquitto, hub_on, fault_report):
    """The old device's outbox image (taken after 10 events) boots on replacement hardware with the same
    bundle, while the hub already holds 40 events of that epoch: the 15 new events reuse keys 11..25."""
    hub = hub_on(mosquitto.port)
    dev = "pi-replaced-01"
    key = register(hub, dev, tmp_path)
    path = tmp_path / "old" / "outbox.sqlite"
    outbox = Outbox(path, min_free_mb=1, alarm_free_mb=2)
    _record(outbox, dev, key, 10)
    link = _link(hub, mosquitto.port, dev, outbox, key).start()
    assert link.wait_drained(30)
    image = tmp_path / "image"
    image.mkdir()
    with outbox._lock:  # a consistent image: checkpoint the WAL, then copy
        outbox._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy(path, image / "outbox.sqlite")
    _record(outbox, dev, key, 30)
    link.notify()
    assert link.wait_drained(30)
    link.stop()
    outbox.close()
    replacement = Outbox(image / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    _record(replacement, dev, key, 15, day=3)
    link = _link(hub, mosquitto.port, dev, replacement, key).start()
    assert link.wait_drained(30), f"{replacement.depth()} never acknowledged"
    link.stop()
    new = [s for s in hub.store.device_events(dev) if s.event.captured_at >= T0 + timedelta(days=3)]
    forks = hub.metrics.rejected_counts().get("fork", 0)
    fault_report("replacement device", f"old image reused keys: {forks} forks refused by the hub, "
                                       f"{len(link.reissued)} re-recorded under a new epoch; stored "
                                       f"{len(new)}/15 new events, held {len(replacement.held())}")
    assert len(new) == 15 and forks == 15 and len(link.reissued) == 15 and not replacement.held()
    assert hub.store.count() == 55


def test_forged_ack_deletes_nothing(tmp_path, mosquitto, hub_on, fault_report):
    hub = hub_on(mosquitto.port)
    dev = "pi-forged-01"
    key = register(hub, dev, tmp_path)
    hub.stop_workers()
    outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    _record(outbox, dev, key, 20)
    link = _link(hub, mosquitto.port, dev, outbox, key).start()
    assert wait_for(lambda: link.connected.is_set(), 10)
    pending = outbox.pending(100)
    digests = [hashlib.sha256(json.dumps({k: v for k, v in json.loads(p.payload).items() if k != "sig"},
                                         sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
               for p in pending]
    attacker = make_client(MqttSettings(port=mosquitto.port, protocol=5), "attacker", clean=True)
    connect(attacker, MqttSettings(port=mosquitto.port, protocol=5), clean=True)
    forged = Ack(device_id=dev, keys=[p.key for p in pending], digests=digests, stored_at=utcnow())
    for ack in (forged, sign_message(forged, new_key()),  # unsigned, then signed by another key
                forged.model_copy(update={"rejected": {p.key: "fork" for p in pending}, "keys": [], "digests": []})):
        attacker.publish(topic(dev, Channel.ACK), ack.to_bytes(), qos=1).wait_for_publish(5)
    assert wait_for(lambda: link.ignored >= 3, 10)
    depth_after_forgery = outbox.depth()
    hub.start_workers()
    assert link.wait_drained(30)
    link.stop()
    attacker.disconnect()
    attacker.loop_stop()
    fault_report("forged ack", f"3 forged acks for 20 unstored events (unsigned, wrong key, forged rejection): "
                               f"device ignored {link.ignored}, kept {depth_after_forgery}; hub then stored "
                               f"{hub.store.count()}")
    assert depth_after_forgery == 20 and not outbox.held()
    assert_exactly_once(hub, dev, 20, lambda s: fault_report("forged ack", s))


def test_revocation_and_new_key_take_effect_in_the_running_hub(tmp_path, mosquitto, hub_on, fault_report):
    hub = hub_on(mosquitto.port)
    dev = "pi-revoked-01"
    key = register(hub, dev, tmp_path)
    outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    _record(outbox, dev, key, 10)
    link = _link(hub, mosquitto.port, dev, outbox, key).start()
    assert link.wait_drained(30)
    registry_file = hub.settings.data_dir / "devices.sqlite"

    def in_another_process(code: str) -> None:
        subprocess.run([sys.executable, "-c", "import sys, datetime\nfrom hub.registry import DeviceRegistry\n"
                        f"r = DeviceRegistry({str(registry_file)!r})\n" + code], check=True, timeout=60)

    in_another_process(f"r.revoke({dev!r}, datetime.datetime.now(datetime.timezone.utc))")
    revoked_at = time.monotonic()
    _record(outbox, dev, key, 10, day=1)
    link.notify()
    assert wait_for(lambda: hub.metrics.rejected_counts().get("unknown_device", 0) >= 10, 20)
    refused_after = time.monotonic() - revoked_at
    stored_while_revoked = hub.store.count() - 10
    assert outbox.depth() == 10  # not stored, so not deleted: kept for when the device is trusted again
    # Re-provisioned with a new signing key, registered by the CLI while the hub runs.
    new = new_key()
    in_another_process(f"r.register({dev!r}, {public_key_b64(new)!r})")
    link.stop()
    fresh = Outbox(tmp_path / "outbox-new.sqlite", min_free_mb=1, alarm_free_mb=2)
    _record(fresh, dev, new, 10, day=2)
    link2 = _link(hub, mosquitto.port, dev, fresh, new).start()
    assert link2.wait_drained(30), f"{fresh.depth()} never acknowledged"
    link2.stop()
    fault_report("revocation while running", f"revoked by another process: next 10 events refused within "
                                             f"{refused_after:.1f} s ({stored_while_revoked} stored), kept on "
                                             f"the device; re-registered with a new key: 10/10 stored")
    assert stored_while_revoked == 0 and hub.store.count() == 20 and not fresh.held()


def test_anonymous_and_foreign_clients_on_the_embedded_broker(tmp_path, fault_report):
    """The default install (embedded amqtt): nobody without credentials gets in, and a device's credentials
    reach only its own topics."""
    settings = HubSettings(data_dir=tmp_path / "hub", mqtt=MqttSettings(port=0, protocol=311))
    with Hub(settings) as hub:
        a, b = "pi-anon-a1", "pi-anon-b2"
        key_a, key_b = register(hub, a, tmp_path), new_key()
        box_b = new_box_key()
        hub.registry.register(b, public_key_b64(key_b), box_key_b64=box_public_b64(box_b))
        outbox_b = Outbox(tmp_path / "b.sqlite", min_free_mb=1, alarm_free_mb=2)
        galleries = []
        link_b = DeviceLink(hub.device_mqtt(b), b, outbox_b, hub_key=hub.hub_public_key, signer=key_b,
                            on_gallery=lambda u: galleries.append(gallery_from_update(u, box_b)) or True).start()
        refused = []
        for label, creds, client_id in (("anonymous", None, "sniffer"),
                                        ("wrong password", (a, "guess"), a),
                                        ("A's password as the hub's client id", None, "hub-1-ingest-1"),
                                        ("A's password as B's client id", None, b)):
            s = hub.device_mqtt(a)
            s = s.model_copy(update={"username": creds[0] if creds else (None if label == "anonymous" else a),
                                     "password": creds[1] if creds else (None if label == "anonymous" else
                                                                         s.password)})
            try:
                c = make_client(s, client_id, clean=True)
                connect(c, s, clean=True, timeout=5)
                c.disconnect()
                c.loop_stop()
            except ConnectionError:
                refused.append(label)
        # A, properly authenticated, tries to read and write beyond its own topics.
        seen, granted = [], []
        spy = make_client(hub.device_mqtt(a), a, clean=True)
        spy.on_message = lambda c, u, m: seen.append(m.topic)
        spy.on_subscribe = lambda c, u, mid, codes, props: granted.extend(int(getattr(x, "value", x)) for x in codes)
        connect(spy, hub.device_mqtt(a), clean=True)
        for f in ("#", "absensi/v1/+/up/#", f"absensi/v1/{b}/down/#", f"absensi/v1/{a}/down/#"):
            spy.subscribe(f, qos=1)
        assert wait_for(lambda: len(granted) == 4, 5)
        forged_b = event(b, 1, key=key_a)
        spy.publish(topic(b, Channel.EVENT), forged_b.to_bytes(), qos=1).wait_for_publish(5)
        spy.publish(topic(a, Channel.ACK), b'{"schema_version":1}', qos=1).wait_for_publish(5)
        spy.publish(topic(a, Channel.EVENT), b"[" * 8000 + b"]" * 8000, qos=1).wait_for_publish(5)  # nesting bomb
        # B works meanwhile: events stored, a gallery sealed for B arrives and opens.
        _record(outbox_b, b, key_b, 5)
        link_b.notify()
        assert link_b.wait_drained(20)
        update = sign_message(seal_gallery(b, 7, "dlib_resnet_v1", ["199001012020011001"],
                                           np.ones((1, 4), "<f4").tobytes(), 4, box_b.public_key()), hub.hub_key)
        hub.workers[0].client.publish(topic(b, Channel.GALLERY), update.to_bytes(), qos=1)
        assert wait_for(lambda: galleries, 10)
        assert wait_for(lambda: hub.metrics.rejected_counts().get("malformed_json"), 10)
        time.sleep(0.5)
        spy.disconnect()
        spy.loop_stop()
        link_b.stop()
        leaked = [t for t in seen if f"/{b}/" in t or "/up/" in t]
        fault_report("anonymous client, embedded broker",
                     f"refused at connect: {', '.join(refused)}; A's subscriptions granted {granted} (128 = "
                     f"refused); A saw {len(leaked)} of B's or uplink messages; forged event on B's topic stored: "
                     f"{hub.store.get(forged_b.key) is not None}; nesting bomb quarantined: "
                     f"{hub.metrics.rejected_counts().get('malformed_json', 0)}; B stored "
                     f"{len(hub.store.device_events(b))}/5 and opened its sealed gallery")
        assert len(refused) == 4
        assert granted[:3] == [128, 128, 128] and granted[3] != 128
        assert leaked == [] and hub.store.get(forged_b.key) is None
        assert len(hub.store.device_events(b)) == 5 and galleries[0].ids == ["199001012020011001"]
        assert b"199001012020011001" not in update.to_bytes()  # the NIP never travels in the clear


def test_forged_copies_of_pending_events_do_not_make_the_device_drop_them(tmp_path, mosquitto, hub_on,
                                                                         fault_report):
    """On a broker without ACL (the test Mosquitto), an attacker publishes bad-signature copies of a
    device's pending keys; the hub refuses them, naming the refused copy, and the device keeps its own."""
    hub = hub_on(mosquitto.port)
    dev, key = "pi-copied-01", new_key()
    outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    _record(outbox, dev, key, 10)
    link = DeviceLink(MqttSettings(port=mosquitto.port, protocol=5), dev, outbox, hub_key=hub.hub_public_key,
                      signer=key, resend_after_s=600).start()
    # Not registered yet: the hub keeps nothing, acknowledges nothing; the device waits to resend.
    assert wait_for(lambda: hub.metrics.rejected_counts().get("unknown_device", 0) >= 10, 20)
    hub.registry.register(dev, public_key_b64(key))
    attacker = make_client(MqttSettings(port=mosquitto.port, protocol=5), "attacker", clean=True)
    connect(attacker, MqttSettings(port=mosquitto.port, protocol=5), clean=True)
    thief = new_key()
    for p in outbox.pending(100):
        genuine = json.loads(p.payload)
        forged = sign_event(event(dev, genuine["seq"], genuine["prev_hash"], None, employee="1999999"), thief)
        attacker.publish(topic(dev, Channel.EVENT), forged.to_bytes(), qos=1).wait_for_publish(5)
    assert wait_for(lambda: hub.metrics.rejected_counts().get("bad_signature", 0) >= 10, 20)
    time.sleep(1.0)  # the refusals reach the device
    kept = outbox.depth()
    outbox.reset_sent()
    link.notify()
    assert link.wait_drained(30)
    link.stop()
    attacker.disconnect()
    attacker.loop_stop()
    fault_report("forged copies", f"10 bad-signature copies of pending keys refused by the hub; device kept "
                                  f"{kept}/10 (refusals named another copy), then all stored")
    assert kept == 10 and not outbox.held() and len(hub.store.device_events(dev)) == 10
    assert all(s.event.employee_id == "1987001" for s in hub.store.device_events(dev))


def _loss_setup(hub: Hub, port: int, dev: str, tmp_path: Path, delivered: int, undelivered: int):
    """A device that delivered `delivered` events (checkpointed into the outbox file), then recorded
    `undelivered` more that sit only in the outbox's WAL (the hub is unreachable)."""
    key = register(hub, dev, tmp_path)
    path = tmp_path / dev / "outbox.sqlite"
    outbox = Outbox(path, min_free_mb=1, alarm_free_mb=2)
    _record(outbox, dev, key, delivered)
    assert _deliver(hub, port, dev, outbox, key)
    with outbox._lock:
        outbox._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _record(outbox, dev, key, undelivered, day=1)
    return key, path, outbox


def _after_loss(hub: Hub, port: int, dev: str, path: Path, key, fault_report, name: str, lost: int):
    """Reopen the damaged outbox, record 5 more, connect: the device reports the loss and the hub shows it."""
    outbox = Outbox(path, min_free_mb=1, alarm_free_mb=2)
    assert outbox.recovered and "reported to the hub" in outbox.recovered
    _record(outbox, dev, key, 5, day=2)
    link = _link(hub, port, dev, outbox, key).start()
    assert link.wait_drained(30), f"{outbox.depth()} never acknowledged"
    assert wait_for(lambda: not outbox.pending_reports(), 15), "the hub never acknowledged the loss report"
    link.stop()
    (problem,) = hub.registry.epochs.problems(dev)
    chain = verify_chain(hub.store, hub.registry, dev)
    gauge = hub.metrics.device_lost.labels(dev)._value.get()
    fault_report(name, f"{lost} unsent events gone with the outbox: device said {outbox.recovered!r}; hub: "
                       f"{problem.problem()}; metric hadir_device_events_lost={gauge:.0f}; audit: {chain.summary()}")
    assert problem.lost_missing == lost and gauge == lost
    from hub.review import device_losses

    (shown,) = device_losses(hub.registry.epochs, {dev}, utcnow() - timedelta(hours=1), utcnow())
    assert shown.kind == "hilang" and f"{lost} event tidak sampai ke hub" in shown.reason, shown
    assert not chain.intact and chain.status == "gap reported by device" and "gap reported by device" in chain.summary()
    assert f"{lost} events not at the hub" in chain.summary()
    return outbox


def test_zero_byte_outbox_reports_its_unsent_events(tmp_path, mosquitto, hub_on, fault_report):
    hub = hub_on(mosquitto.port)
    dev = "pi-zerobyte-01"
    key, path, outbox = _loss_setup(hub, mosquitto.port, dev, tmp_path, 10, 7)
    outbox.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"")  # a 0-byte outbox: SQLite would open it as a new, empty database
    outbox = _after_loss(hub, mosquitto.port, dev, path, key, fault_report, "0-byte outbox", 7)
    assert "empty (0 bytes)" in outbox.recovered
    assert len(list(path.parent.glob("outbox.sqlite.corrupt-*"))) == 1  # moved aside, not overwritten
    assert hub.store.count() == 15


def test_lost_wal_after_a_kill_reports_the_committed_events(tmp_path, mosquitto, hub_on, fault_report):
    """A device process records 6 events (committed to the outbox's WAL, not yet checkpointed into the file)
    and is SIGKILLed; the WAL is then lost (e.g. an SD card that did not keep it): the 6 are gone."""
    hub = hub_on(mosquitto.port)
    dev = "pi-walgone-01"
    key, path, outbox = _loss_setup(hub, mosquitto.port, dev, tmp_path, 12, 0)
    old_epoch = outbox.epoch()
    outbox.close()
    script = (f"import sys, time; sys.path.insert(0, {str(HERE.parent)!r})\n"
              "from helpers import event\nfrom edge.outbox.store import Outbox\n"
              "from hadir.signing import load_private_key, sign_event\n"
              f"key = load_private_key(__import__('pathlib').Path({str(tmp_path / f'{dev}.key')!r}))\n"
              f"box = Outbox(__import__('pathlib').Path({str(path)!r}), min_free_mb=1, alarm_free_mb=2)\n"
              f"for _ in range(6): box.append(lambda seq, prev: sign_event(event({dev!r}, seq, prev, None), key))\n"
              "print('recorded', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "recorded"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    wal = Path(str(path) + "-wal")
    assert wal.stat().st_size > 0  # the 6 events are there, and only there
    wal.unlink()
    Path(str(path) + "-shm").unlink(missing_ok=True)
    outbox = _after_loss(hub, mosquitto.port, dev, path, key, fault_report, "WAL lost after SIGKILL", 6)
    assert "outbox_rolled_back" in outbox.recovered and outbox.epoch() != old_epoch
    assert hub.store.count() == 17 and hub.metrics.rejected_counts().get("fork", 0) == 0


def test_unannounced_epoch_change_is_flagged(tmp_path, mosquitto, hub_on, fault_report):
    """A device whose outbox and watermark both vanished, and which cannot report (no signing key on its
    link, like an older agent): the hub flags the new epoch it never announced."""
    hub = hub_on(mosquitto.port)
    dev = "pi-silent-01"
    key, path = _delivered_and_closed(hub, mosquitto.port, dev, tmp_path, 5)
    for p in tmp_path.glob("outbox.sqlite*"):
        p.unlink()
    outbox = Outbox(path, min_free_mb=1, alarm_free_mb=2)
    _record(outbox, dev, key, 5, day=1)
    link = _link(hub, mosquitto.port, dev, outbox, None).start()  # no key: cannot sign its epoch report
    assert link.wait_drained(30)
    link.stop()
    chain = verify_chain(hub.store, hub.registry, dev)
    gauge = hub.metrics.unannounced_epochs._value.get()
    fault_report("unannounced epoch", f"outbox + watermark deleted, report never sent: hub metric "
                                      f"hadir_device_epochs_unannounced={gauge:.0f}; audit: {chain.summary()}")
    assert gauge == 1 and chain.status == "unannounced epoch change" and not chain.intact
    # An officer checks the device: the alert's gauge goes back to 0 (after a restart too); the audit keeps it.
    (problem,) = hub.registry.epochs.problems(dev)
    assert hub.registry.epochs.mark_reviewed(dev, problem.epoch, "test", utcnow())
    restarted = Hub(hub.settings)
    try:
        assert restarted.metrics.unannounced_epochs._value.get() == 0
    finally:
        restarted.store.close()
    assert verify_chain(hub.store, hub.registry, dev).status == "unannounced epoch change"
    # The same with the report sent: the device admits it started afresh, which is shown too.
    link = _link(hub, mosquitto.port, dev, outbox, key).start()
    assert wait_for(lambda: not outbox.pending_reports(), 15)
    link.stop()
    chain = verify_chain(hub.store, hub.registry, dev)
    assert hub.metrics.unannounced_epochs._value.get() == 0
    assert chain.status == "gap reported by device" and "new_outbox" in chain.summary()


def test_embedded_broker_aggregates_refusals_and_closes_idle_connections(tmp_path, fault_report, caplog,
                                                                         monkeypatch):
    """25 unauthenticated connects make at most a couple of log lines, all counted in the metric; a socket
    that never sends CONNECT is closed after the connect timeout instead of being held forever."""
    import logging
    import socket

    from hub.broker import REFUSALS, EmbeddedBroker

    settings = HubSettings(data_dir=tmp_path / "hub", mqtt=MqttSettings(port=0, protocol=311))
    with Hub(settings) as hub:
        before = REFUSALS.total
        monkeypatch.setattr(REFUSALS, "_logged_at", -1e18)  # as after a quiet minute: the next refusal is logged
        caplog.set_level(logging.WARNING)
        caplog.clear()
        for n in range(25):
            s = MqttSettings(port=hub.broker.port, protocol=311, username=f"pi-scan-{n:02d}", password="guess")
            client = make_client(s, f"pi-scan-{n:02d}", clean=True)
            with pytest.raises(ConnectionError):
                connect(client, s, clean=True, timeout=5)
            client.loop_stop()
        lines = [r for r in caplog.records if "refused" in r.getMessage() or "not authorized" in r.getMessage()]
        scraped = [s for m in hub.metrics.registry.collect() for s in m.samples
                   if s.name == "hadir_broker_refused_connections"]
        fault_report("broker refusal flood", f"25 bad logins: {len(lines)} log lines, metric "
                                             f"hadir_broker_refused_connections={scraped[0].value:.0f}")
        assert REFUSALS.total - before == 25 and scraped[0].value >= 25
        assert 1 <= len(lines) <= 2, [r.getMessage() for r in lines]
    broker = EmbeddedBroker(tmp_path / "hub" / "devices.sqlite", "secret", connect_timeout_s=1.0).start()
    try:
        idle = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
        started = time.monotonic()
        assert idle.recv(1) == b""  # the broker closed it
        waited = time.monotonic() - started
        idle.close()
        fault_report("idle connection", f"no CONNECT sent: closed by the broker after {waited:.1f} s")
        assert 0.5 <= waited < 4
    finally:
        broker.stop()
