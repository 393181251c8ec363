"""Device and transport trust (issue 12): each finding of the attack on the broker, the outbox and the hub,
on the real brokers and stores where it happened. The outbox and broker faults are in test_faults.py."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from helpers import T0, chain, event, wait_for

from edge.outbox.store import Outbox
from edge.publish.link import DeviceLink
from hadir.contract import (
    MAX_SEQ,
    Ack,
    Channel,
    ContractError,
    GalleryUpdate,
    make_seq,
    parse,
    parse_event,
    seq_number,
    topic,
    utcnow,
)
from hadir.mqtt import MqttSettings, connect, make_client
from hadir.signing import new_key, public_key_b64, sign_event, sign_message
from hadir_ops import broker_setup
from hadir_ops.provision import CertificateAuthority, ProvisionError, provision_device
from hub.config import HubSettings, Influx
from hub.ingest.quarantine import Quarantine
from hub.ingest.worker import Inbound, Ingest
from hub.presence import DuplicateInstance
from hub.registry import DeviceRegistry, RegistryError
from hub.service import Hub
from hub.store.base import PutResult, StoredEvent
from hub.store.influx_store import InfluxEventStore
from hub.store.sqlite_store import SqliteEventStore
from testkit import localservices as services


@pytest.fixture
def influx_hub(tmp_path, mosquitto, influxdb):
    settings = HubSettings(data_dir=tmp_path / "hub", embedded_broker=False, workers=1,
                           mqtt=MqttSettings(port=mosquitto.port, protocol=5), store="influx",
                           influx=Influx(url=influxdb.extra["url"], database=f"t{time.monotonic_ns()}"))
    with Hub(settings) as hub:
        yield hub


def publisher(port: int) -> mqtt.Client:
    settings = MqttSettings(port=port, protocol=5)
    client = make_client(settings, f"raw-{time.monotonic_ns()}", clean=True)
    connect(client, settings, clean=True)
    return client


# ------------------------------------------------------------ (5) one bad event never fails a batch


def test_unstorable_and_malformed_events_are_quarantined_and_the_batch_is_stored(influx_hub, mosquitto, tmp_path):
    hub = influx_hub
    dev, key = "pi-batch-01", new_key()
    hub.registry.register(dev, public_key_b64(key))
    good = chain(dev, key, 10)
    year_2300 = event(dev, make_seq(7, 1), key=key, at=datetime(2300, 1, 1, tzinfo=timezone.utc))
    huge_seq = json.loads(event(dev, 11, good[-1].event_hash(), key).to_bytes())
    huge_seq.update(seq=2**63, key=f"{dev}:{2**63}")
    bool_int = json.loads(good[0].to_bytes())
    bool_int["gallery_version"] = True  # 1 in lax JSON: the signature would still verify
    no_version = json.loads(good[1].to_bytes())
    del no_version["schema_version"]
    acks: list[Ack] = []
    listener = publisher(mosquitto.port)
    listener.on_message = lambda c, u, m: acks.append(Ack.model_validate_json(m.payload))
    listener.subscribe(topic(dev, Channel.ACK), qos=1)
    time.sleep(0.3)
    hub.workers[0].batch_wait_s = 3.0  # everything below arrives as one batch
    raw = publisher(mosquitto.port)
    name = topic(dev, Channel.EVENT)
    for payload in [*(e.to_bytes() for e in good[:5]), year_2300.to_bytes(), json.dumps(huge_seq).encode(),
                    b"[" * 5000 + b"]" * 5000, json.dumps(bool_int).encode(), json.dumps(no_version).encode(),
                    *(e.to_bytes() for e in good[5:])]:
        raw.publish(name, payload, qos=1).wait_for_publish(5)
    raw.disconnect()
    raw.loop_stop()
    assert wait_for(lambda: sum(hub.metrics.rejected_counts().values()) >= 5 and hub.store.count() >= 10, 30)
    assert wait_for(lambda: any(a.rejected for a in acks), 10)
    listener.disconnect()
    listener.loop_stop()
    reasons = sorted(r for _, r, _, _ in hub.quarantine.entries())
    received = sum(hub.metrics.registry.get_sample_value("hadir_ingest_received_total", {"channel": c}) or 0
                   for c in ("event", "invalid"))  # 'invalid': refused before its channel was known
    assert hub.store.count() == 10 and received == 15  # all 15 handled: 10 stored, 5 quarantined
    assert reasons == ["invalid", "invalid", "malformed_json", "schema_version", "unstorable"]
    assert {k: v for a in acks for k, v in a.rejected.items()} == {year_2300.key: "unstorable"}


def test_a_store_error_on_one_event_is_isolated_by_splitting_the_batch(tmp_path):
    class Picky(SqliteEventStore):
        def put(self, items):  # noqa: ANN001, ANN202 - a store that cannot hold one particular event
            if any(i.event.employee_id == "BAD" for i in items):
                raise ValueError("value out of range for this store")
            return super().put(items)

    dev, key = "pi-split-01", new_key()
    registry = DeviceRegistry(tmp_path / "devices.sqlite")
    registry.register(dev, public_key_b64(key))
    ingest = Ingest(Picky(tmp_path / "events.sqlite"), registry, Quarantine(tmp_path / "q.sqlite"))
    events = chain(dev, key, 9)
    events[4] = sign_event(events[4].model_copy(update={"employee_id": "BAD", "sig": ""}), key)
    acks = ingest.process([Inbound(topic(dev, Channel.EVENT), e.to_bytes(), T0) for e in events])
    assert ingest.store.count() == 8
    assert acks[0].rejected == {events[4].key: "unstorable"} and len(acks[0].keys) == 8


# --------------------------------------------------------------------- (3) InfluxDB finds every fork


def test_influx_store_detects_a_fork_with_another_capture_time(influxdb):
    store = InfluxEventStore(influxdb.extra["url"], f"fork{time.monotonic_ns()}")
    key = new_key()
    first = event("pi-fork-01", 3, key=key, at=T0)
    second = event("pi-fork-01", 3, key=key, at=T0 + timedelta(hours=2))  # same key, another capture time
    assert store.put([StoredEvent(first, T0)]) == [PutResult.STORED]
    assert store.put([StoredEvent(second, T0)]) == [PutResult.FORK]
    assert store.put([StoredEvent(first, T0)]) == [PutResult.DUPLICATE]
    assert store.count() == 1 and store.hashes([first.key]) == {first.key: first.event_hash()}
    store.close()


# -------------------------------------------------------------------- (9) identity edges


def test_signature_covers_exactly_what_was_received():
    key = new_key()
    good = event("pi-exact-01", 1, key=key)
    base = json.loads(good.to_bytes())
    cases = {
        "bool for int": ({**base, "frames": True}, "invalid"),
        "float for int": ({**base, "frames": 4.0}, "invalid"),
        "string for int": ({**base, "frames": "4"}, "invalid"),
        "no schema_version": ({k: v for k, v in base.items() if k != "schema_version"}, "schema_version"),
        "bool schema_version": ({**base, "schema_version": True}, "schema_version"),
        "other time zone": ({**base, "captured_at": "2026-11-24T07:15:01+09:00"}, "not_canonical"),
        "float spelled longer": ({**base, "score": 0.950}, None),  # same JSON number: canonical
    }
    for label, (data, reason) in cases.items():
        payload = json.dumps(data).encode()
        if reason is None:
            assert parse_event(topic("pi-exact-01", Channel.EVENT), payload) == good, label
            continue
        with pytest.raises(ContractError) as info:
            parse(topic("pi-exact-01", Channel.EVENT), payload)
        assert info.value.reason == reason, label
    with pytest.raises(ContractError):
        parse(topic("pi-exact-01", Channel.EVENT), json.dumps({**base, "seq": MAX_SEQ + 1}).encode())


def test_chain_break_after_a_rejected_fork_in_the_same_batch_is_flagged(tmp_path):
    dev, key = "pi-chain-01", new_key()
    registry = DeviceRegistry(tmp_path / "devices.sqlite")
    registry.register(dev, public_key_b64(key))
    ingest = Ingest(SqliteEventStore(tmp_path / "events.sqlite"), registry, Quarantine(tmp_path / "q.sqlite"))
    genuine = chain(dev, key, 3)
    ingest.process([Inbound(topic(dev, Channel.EVENT), e.to_bytes(), T0) for e in genuine])
    fork = event(dev, 3, genuine[1].event_hash(), key, at=T0 + timedelta(hours=1))  # another seq 3
    after = event(dev, 4, fork.event_hash(), key)  # chains to the forked copy, not to the stored one
    acks = ingest.process([Inbound(topic(dev, Channel.EVENT), e.to_bytes(), T0) for e in (fork, after)])
    assert acks[0].rejected == {fork.key: "fork"}
    assert "chain_break" in ingest.store.get(after.key).flags


def test_hub_names_are_reserved_for_the_hub(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    for name in ("hadir-hub", "hub-1-ingest-1", "hadir-anything"):
        with pytest.raises(ProvisionError, match="reserved"):
            provision_device(ca, name, tmp_path / name)
        with pytest.raises(RegistryError, match="reserved"):
            DeviceRegistry(tmp_path / "devices.sqlite").register(name, public_key_b64(new_key()))


def shipped_mosquitto(ca: CertificateAuthority, workdir: Path) -> tuple[services.Service, int, int]:
    """Mosquitto with the conf.d file and ACL 'hadir broker setup' writes (broker_setup.lay_out), laid out
    under `workdir`: only the ports and the device listener's bind address changed."""
    device_port, hub_port = services.free_port(), services.free_port()
    laid = broker_setup.lay_out(ca, ("127.0.0.1",), mosquitto_dir=workdir, hub_dir=None, port=device_port,
                                hub_port=hub_port)
    text = laid.config.read_text()
    for old, new in ((f"listener {device_port}\n", f"listener {device_port} 127.0.0.1\n"),
                     (f"acl_file {workdir}/hadir.acl", f"acl_file {laid.acl}")):
        assert old in text, old
        text = text.replace(old, new)
    (workdir / "mosquitto.conf").write_text(text + "\nuser root\n")
    proc, files = services._spawn([services.binary("mosquitto"), "-c", str(workdir / "mosquitto.conf")],
                                  workdir, "mosquitto")
    services.wait_port(device_port, proc=proc)
    services.wait_port(hub_port, proc=proc)
    return services.Service("mosquitto", proc, device_port, workdir, {"files": files}), device_port, hub_port


def test_a_device_certificate_cannot_take_over_another_devices_session(tmp_path):
    if not services.binary("mosquitto"):
        pytest.skip("SERVICE MISSING, test not run: mosquitto is not installed")
    ca = CertificateAuthority.init(tmp_path / "ca")
    broker, device_port, hub_port = shipped_mosquitto(ca, tmp_path / "broker")
    # The hub's certificate from the hub-only CA, the one the hub's listener trusts (as 'hadir broker setup').
    hub_cert, hub_key = broker_setup.hub_ca_of(ca).issue("hadir-hub", tmp_path / "hub-tls")
    hub_mqtt = MqttSettings(port=hub_port, protocol=5, ca_file=ca.cert_path, cert_file=hub_cert, key_file=hub_key)
    try:
        with Hub(HubSettings(data_dir=tmp_path / "hub", embedded_broker=False, mqtt=hub_mqtt, workers=2)) as hub:
            bundles = {}
            for dev in ("pi-a-01", "pi-b-02"):
                bundles[dev] = provision_device(ca, dev, tmp_path / dev, broker_port=device_port,
                                                hub_public_key=public_key_b64(hub.hub_public_key))
                hub.registry.register(dev, bundles[dev].public_key)

            def tls(dev: str) -> MqttSettings:
                f = bundles[dev].folder
                return MqttSettings(port=device_port, protocol=5, ca_file=f / "ca.crt", cert_file=f / "device.crt",
                                    key_file=f / "device.key")

            key_b = new_key()
            hub.registry.register("pi-b-02", public_key_b64(key_b))
            outbox = Outbox(tmp_path / "b.sqlite", min_free_mb=1, alarm_free_mb=2)
            link_b = DeviceLink(tls("pi-b-02"), "pi-b-02", outbox, hub_key=hub.hub_public_key).start()
            intruder = make_client(tls("pi-a-01"), "pi-b-02")  # A's certificate, B's client id
            connect(intruder, tls("pi-a-01"))
            time.sleep(1.0)
            still_connected = link_b.connected.is_set() and link_b.client.is_connected()
            for _ in range(10):
                outbox.append(lambda seq, prev: sign_event(event("pi-b-02", seq, prev, None), key_b))
            link_b.notify()
            drained = link_b.wait_drained(20)
            intruder.disconnect()
            intruder.loop_stop()
            link_b.stop()
            assert still_connected and drained and hub.store.count() == 10  # two hub workers on their listener
    finally:
        broker.stop()


# --------------------------------------------------------------------- (1) the device's own parsing


def test_junk_and_forgeries_on_the_downlink_never_stop_the_device(tmp_path, mosquitto):
    """The test broker has no ACL, like an attacker who got past it: the device must defend itself."""
    settings = HubSettings(data_dir=tmp_path / "hub", embedded_broker=False,
                           mqtt=MqttSettings(port=mosquitto.port, protocol=5))
    with Hub(settings) as hub:
        dev, key = "pi-junk-01", new_key()
        hub.registry.register(dev, public_key_b64(key))
        outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
        galleries = []
        link = DeviceLink(MqttSettings(port=mosquitto.port, protocol=5), dev, outbox, hub_key=hub.hub_public_key,
                          on_gallery=lambda u: galleries.append(u) or True).start()
        assert wait_for(lambda: link.connected.is_set(), 10)
        time.sleep(0.3)  # its subscriptions are in place before the junk goes out (nothing is retained)
        raw = publisher(mosquitto.port)
        forged_gallery = GalleryUpdate(device_id=dev, version=2**52, model_id="dlib_resnet_v1", dim=4, count=0,
                                       epk_b64="", nonce_b64="", ciphertext_b64="")
        junk = [b"[" * 8000 + b"]" * 8000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b"\xff\xfe", b"{}" * 9000,
                forged_gallery.to_bytes(), sign_message(forged_gallery, new_key()).to_bytes()]
        for channel in (Channel.ACK, Channel.GALLERY):
            for payload in junk:
                raw.publish(topic(dev, channel), payload, qos=1).wait_for_publish(5)
        assert wait_for(lambda: link.ignored >= 2 * len(junk), 10), link.ignored
        for _ in range(5):
            outbox.append(lambda seq, prev: sign_event(event(dev, seq, prev, None), key))
        link.notify()
        assert link.wait_drained(20)  # the network thread is alive and genuine acks still work
        link.stop()
        raw.disconnect()
        raw.loop_stop()
        assert galleries == [] and hub.store.count() == 5


# ------------------------------------------------------------------------------ (8) ghost presence


def test_retained_state_replay_is_not_a_sign_of_life_and_a_lost_broker_means_unknown(tmp_path, mosquitto):
    settings = HubSettings(data_dir=tmp_path / "hub", embedded_broker=False,
                           mqtt=MqttSettings(port=mosquitto.port, protocol=5))
    with Hub(settings) as hub:
        dev, key = "pi-ghost-01", new_key()
        hub.registry.register(dev, public_key_b64(key))
        outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
        link = DeviceLink(MqttSettings(port=mosquitto.port, protocol=5), dev, outbox,
                          hub_key=hub.hub_public_key).start()
        assert wait_for(lambda: hub.registry.all()[0].state == "online", 10)
        link.client.loop_stop()  # the device goes silent without a word (its socket stays open)
        three_days_ago = (utcnow() - timedelta(days=3)).isoformat()
        hub.registry._db.execute("UPDATE devices SET last_seen = ?", (three_days_ago,))
        hub.stop_workers()
        hub.start_workers()  # the broker replays the retained 'online' to the restarted hub
        time.sleep(1.5)
        replayed = hub.registry.all()[0]
        assert replayed.last_seen == three_days_ago, "a retained replay made a silent device look fresh"
        mosquitto.kill()  # the broker dies: nobody can be known to be online
        assert wait_for(lambda: hub.registry.all()[0].state != "online" and hub.metrics.online._value.get() == 0, 10)
        assert hub.registry.online_count() == 0
        link.client.disconnect()


def test_event_traffic_counts_as_seen(tmp_path):
    dev, key = "pi-seen-01", new_key()
    registry = DeviceRegistry(tmp_path / "devices.sqlite")
    registry.register(dev, public_key_b64(key))
    ingest = Ingest(SqliteEventStore(tmp_path / "events.sqlite"), registry, Quarantine(tmp_path / "q.sqlite"))
    ingest.process([Inbound(topic(dev, Channel.EVENT), e.to_bytes(), T0) for e in chain(dev, key, 2)])
    seen = datetime.fromisoformat(registry.all()[0].last_seen)
    assert abs((seen - utcnow()).total_seconds()) < 60
    assert seq_number(make_seq(5, 1)) == 1


@pytest.mark.parametrize("embedded", [True, False])
def test_a_second_hub_with_the_same_instance_name_is_refused(tmp_path, embedded, request):
    if embedded:
        first = Hub(HubSettings(data_dir=tmp_path / "a", mqtt=MqttSettings(port=0, protocol=311))).start()
        mqtt_settings = first.mqtt
    else:
        port = request.getfixturevalue("mosquitto").port
        mqtt_settings = MqttSettings(port=port, protocol=5)
        first = Hub(HubSettings(data_dir=tmp_path / "a", embedded_broker=False, mqtt=mqtt_settings)).start()
    second_settings = HubSettings(data_dir=tmp_path / "b", embedded_broker=False, mqtt=mqtt_settings)
    try:
        with pytest.raises(DuplicateInstance, match="already running"):
            Hub(second_settings).start()
        other = Hub(second_settings.model_copy(update={"instance": "2"})).start()  # a distinct name is fine
        other.stop()
    finally:
        first.stop() if not embedded else None
    if not embedded:
        Hub(second_settings).start().stop()  # the name is free once the first hub stopped
    else:
        first.stop()


@pytest.mark.parametrize("claimed_s_ago", [600, 0])
def test_a_stale_running_claim_left_by_a_power_cut_does_not_stop_the_hub(tmp_path, mosquitto, claimed_s_ago):
    """Hub and broker killed together: the broker's persisted claim still says "running" and no last will
    came. Found by a fresh attacker: the hub then refused to start, for ever. A claim nobody refreshes is
    taken over (at once when old, after a heartbeat and a half when recent)."""
    from datetime import timedelta

    mqtt_settings = MqttSettings(port=mosquitto.port, protocol=5)
    ghost = make_client(mqtt_settings, "ghost-hub", clean=True)
    connect(ghost, mqtt_settings, clean=True)
    at = (utcnow() - timedelta(seconds=claimed_s_ago)).isoformat()
    claim = json.dumps({"state": "running", "run": "deadbeef0000", "at": at}).encode()
    ghost.publish("hadir/hub/1", claim, qos=1, retain=True).wait_for_publish(5)
    ghost.disconnect()
    ghost.loop_stop()
    hub = Hub(HubSettings(data_dir=tmp_path / "a", embedded_broker=False, mqtt=mqtt_settings)).start()
    try:
        assert hub.presence.took_over["run"] == "deadbeef0000"
    finally:
        hub.stop()


# ------------------------------------------------------------------- (10) restore from an older backup


def test_hub_restored_from_an_older_backup_gets_the_lost_events_again(tmp_path, mosquitto):
    settings = HubSettings(data_dir=tmp_path / "hub", embedded_broker=False,
                           mqtt=MqttSettings(port=mosquitto.port, protocol=5))
    dev, key = "pi-restore-01", new_key()
    hub = Hub(settings).start()
    hub.registry.register(dev, public_key_b64(key))
    outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    link = DeviceLink(MqttSettings(port=mosquitto.port, protocol=5), dev, outbox, hub_key=hub.hub_public_key).start()

    def record(n: int) -> None:
        for _ in range(n):
            outbox.append(lambda seq, prev: sign_event(event(dev, seq, prev, None), key))
        link.notify()
        assert link.wait_drained(20)

    record(10)
    backup = tmp_path / "backup-events.sqlite"
    with sqlite3.connect(backup) as dst:  # the nightly backup (SQLite online backup API)
        hub.store._db.backup(dst)
    record(15)
    assert hub.store.count() == 25 and outbox.depth() == 0
    hub.stop()
    shutil.copy(backup, settings.data_dir / "events.sqlite")  # restored: 15 acknowledged events are gone
    for suffix in ("-wal", "-shm"):
        (settings.data_dir / f"events.sqlite{suffix}").unlink(missing_ok=True)
    hub = Hub(settings).start()
    try:
        assert wait_for(lambda: hub.store.count() == 25, 30), hub.store.count()
        assert hub.metrics.resend_requests._value.get() == 1
        assert link.wait_drained(10)
    finally:
        link.stop()
        hub.stop()


# ------------------------------------------------------------- (7) copied coordinates vs receiver precision


def _nmea_4(value: float) -> float:
    """What a receiver reporting 4-decimal NMEA minutes gives (gpsd converts it back to degrees)."""
    sign, value = (-1 if value < 0 else 1), abs(value)
    deg = int(value)
    return sign * (deg + round((value - deg) * 60, 4) / 60)


def test_copied_coordinate_flag_depends_on_receiver_precision_and_scatter(tmp_path):
    import random

    from hadir.contract import EventKind, GpsFix
    from hub.ingest.gps_checks import GpsHistory

    rng = random.Random(7)
    history = GpsHistory(tmp_path / "gps.sqlite")
    office = (-3.6954, 128.1814)
    per_metre = 1 / 111_320
    flagged = repeats = total = 0
    seen: set[tuple[int, int]] = set()
    for day in range(20):
        for person in range(40):
            lat = _nmea_4(office[0] + rng.gauss(0, 2.5) * per_metre)
            lon = _nmea_4(office[1] + rng.gauss(0, 2.5) * per_metre)
            gps = GpsFix(lat=lat, lon=lon, mode=3, hdop=1.0, sats_used=9)
            ev = event(f"hp-staff-{person:02d}", day + 1, employee="1987001", gps=gps,
                       at=T0 + timedelta(days=day, minutes=person)).model_copy(update={"kind": EventKind.FIELD_CHECKIN})
            cell = (round(lat * 1e7), round(lon * 1e7))
            repeats += cell in seen
            seen.add(cell)
            flagged += "gps_duplicate_coordinates" in history.check(ev)
            total += 1
    # Genuine fixes on a 0.19 m grid with 2.5 m scatter repeat exactly all the time (what the old rule flagged)...
    assert repeats / total > 0.10
    # ... so a repeat proves nothing there: (almost) none is flagged now.
    assert flagged / total < 0.01, f"{flagged}/{total} genuine check-ins flagged"
    # A full-precision coordinate copied from another phone is still caught, even at the busy office.
    precise = GpsFix(lat=-3.69541234, lon=128.18143217, mode=3, hdop=1.0, sats_used=9)
    history.check(event("hp-staff-00", 500, employee="1987001", gps=precise))
    copied = history.check(event("hp-spoof-99", 1, employee="1987002", gps=precise))
    assert copied == ["gps_duplicate_coordinates"]
    # And a coarse-grid copy far from any crowd is too: few fixes there, a repeat is improbable.
    lone = GpsFix(lat=_nmea_4(-3.612345), lon=_nmea_4(128.301234), mode=3, hdop=1.0, sats_used=9)
    history.check(event("hp-staff-01", 600, employee="1987001", gps=lone))
    assert history.check(event("hp-spoof-98", 1, employee="1987003", gps=lone)) == ["gps_duplicate_coordinates"]


# --------------------------------------------------------------------------- (6) past-dated events


def test_past_dated_events_are_flagged_and_do_not_count_unless_approved(tmp_path):
    from hub.payroll.punches import punches_by_employee

    dev, key = "pi-late-01", new_key()
    registry = DeviceRegistry(tmp_path / "devices.sqlite")
    registry.register(dev, public_key_b64(key))
    ingest = Ingest(SqliteEventStore(tmp_path / "events.sqlite"), registry, Quarantine(tmp_path / "q.sqlite"))
    received = datetime(2026, 11, 10, 2, 0, tzinfo=timezone.utc)  # 10 Nov, 11:00 WIT: October has closed
    captured = {"12 months": received - timedelta(days=365), "4 months": received - timedelta(days=122),
                "October, after it closed": datetime(2026, 10, 30, 0, 0, tzinfo=timezone.utc),
                "this month": received - timedelta(days=3)}
    prev, events = "0" * 64, []
    for n, at in enumerate(captured.values(), start=1):
        ev = event(dev, n, prev, key, at=at)
        events.append(ev)
        prev = ev.event_hash()
    ingest.process([Inbound(topic(dev, Channel.EVENT), e.to_bytes(), received) for e in events])
    flags = {label: ingest.store.get(e.key).flags for label, e in zip(captured, events, strict=True)}
    assert [label for label, f in flags.items() if "past_dated" in f] == list(captured)[:3]
    punches = punches_by_employee(ingest.store.device_events(dev))["1987001"]
    assert [p.valid for p in punches] == [False, False, False, True]
    assert "koreksi" in punches[0].reason  # counts only through an approved correction


def test_an_event_of_a_month_the_payroll_office_closed_is_past_dated_whatever_its_age():
    from hub.ingest.verify import VerifyPolicy, past_dated

    received = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)  # before the close day: age rules pass
    captured = datetime(2026, 10, 30, 0, 0, tzinfo=timezone.utc)
    assert not past_dated(captured, received, VerifyPolicy())
    assert past_dated(captured, received, VerifyPolicy(month_closed=lambda m: m == "2026-10"))
    assert not past_dated(received, received, VerifyPolicy(month_closed=lambda m: m == "2026-10"))


def test_the_hub_reads_closed_months_from_the_master_data(tmp_path):
    from hub.master import ClosedMonth

    hub = Hub(HubSettings(data_dir=tmp_path / "hub", embedded_broker=False))
    assert not hub._month_closed("2026-10")
    hub.master.add("payroll", ClosedMonth(month="2026-10", closed_by="payroll", closed_at=utcnow()))
    hub._closed_cache = None
    assert hub._month_closed("2026-10") and not hub._month_closed("2026-11")
    hub.store.close()


def test_every_acknowledgement_fits_the_contract_size_limit():
    from hadir.contract import MAX_PAYLOAD_BYTES
    from hub.ingest.worker import _acks

    device = "p" + "x" * 62  # the longest device id
    stored = [(f"{device}:{MAX_SEQ - i}", "0123456789abcdef") for i in range(1200)]
    rejected = {f"{device}:{MAX_SEQ - 5000 - i}": ("unstorable", "0123456789abcdef") for i in range(300)}
    acks = [sign_message(a, new_key()) for a in _acks(device, stored, rejected, resend=True)]
    assert max(len(a.to_bytes()) for a in acks) <= MAX_PAYLOAD_BYTES
    assert sum(len(a.keys) for a in acks) == 1200 and sum(len(a.rejected) for a in acks) == 300
    for a in acks:
        parse(topic(device, Channel.ACK), a.to_bytes(), "down")  # what the device accepts


def test_provisioning_for_the_embedded_broker_from_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from edge.config import EdgeSettings
    from hadir.settings import load_settings
    from hadir.signing import load_private_key, load_public_key
    from hadir_ops.cli import app

    CertificateAuthority.init(tmp_path / "ca")
    with Hub(HubSettings(data_dir=tmp_path / "hub", mqtt=MqttSettings(port=0, protocol=311))) as hub:
        run = CliRunner().invoke
        refused = run(app, ["device", "provision", "hadir-hub", "--out", str(tmp_path / "x"), "--ca-dir",
                            str(tmp_path / "ca"), "--hub-data", str(tmp_path / "hub"), "--all-opd"])
        assert refused.exit_code == 2 and "reserved" in refused.output
        no_hub_key = run(app, ["device", "provision", "pi-cli-01", "--out", str(tmp_path / "y"), "--ca-dir",
                               str(tmp_path / "ca"), "--all-opd"])
        assert no_hub_key.exit_code == 2 and "--hub-key" in no_hub_key.output
        ok = run(app, ["device", "provision", "pi-cli-01", "--out", str(tmp_path / "bundle"), "--ca-dir",
                       str(tmp_path / "ca"), "--hub-data", str(tmp_path / "hub"), "--embedded-broker",
                       "--broker", f"127.0.0.1:{hub.broker.port}", "--all-opd"])
        assert ok.exit_code == 0, ok.output
        bundle = tmp_path / "bundle"
        settings = load_settings(EdgeSettings, bundle / "edge.toml")
        assert settings.mqtt.username == "pi-cli-01" and settings.mqtt.password and settings.mqtt.protocol == 311
        assert (bundle / "hub.pub").read_text().strip() == public_key_b64(hub.hub_public_key)
        key = load_private_key(bundle / "signing.key")
        outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
        for _ in range(5):
            outbox.append(lambda seq, prev: sign_event(event("pi-cli-01", seq, prev, None), key))
        link = DeviceLink(settings.mqtt, "pi-cli-01", outbox, hub_key=load_public_key(bundle / "hub.pub")).start()
        assert link.wait_drained(20)
        link.stop()
        assert len(hub.store.device_events("pi-cli-01")) == 5 and hub.registry.box_key("pi-cli-01") is not None
