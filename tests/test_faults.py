"""Fault suite on real Mosquitto and InfluxDB: after each fault every event is stored exactly once and
each device's chain is intact. Each test prints what it did and the counts (shown in the summary)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import event

from edge.clock import ClockGuard
from edge.outbox.store import Outbox, OutboxFull
from edge.publish.link import DeviceLink
from hadir import localservices as services
from hadir.contract import ClockSource, seq_epoch, seq_number, utcnow
from hadir.mqtt import MqttSettings
from hadir.signing import new_key, public_key_b64, save_private_key, sign_event
from hub.audit import verify_chain
from hub.config import HubSettings, Influx
from hub.service import Hub

HERE = Path(__file__).resolve().parent


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


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
    assert wait_until(lambda: hub.store.count() >= 50, 30), "device never got going"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    at_kill = seq_number(Outbox(tmp_path / "outbox.sqlite").last_seq())
    second = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stdout + second.stderr
    assert wait_until(lambda: hub.store.count() >= total, 30)
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
