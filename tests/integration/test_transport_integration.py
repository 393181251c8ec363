"""Edge outbox -> MQTT -> hub ingest -> store, for real, against both brokers and both stores."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest
from helpers import event

from edge.outbox.store import Outbox
from edge.publish.link import DeviceLink
from hadir.contract import Channel, seq_number, topic
from hadir.mqtt import MqttSettings, connect
from hadir.signing import new_key, public_key_b64, sign_event
from hub.config import HubSettings, Influx
from hub.service import Hub

DEV = "pi-int-01"


@pytest.fixture(params=["amqtt", "mosquitto"])
def broker_settings(request, tmp_path):
    """(hub settings overrides, device MQTT settings) for each broker."""
    if request.param == "amqtt":
        yield {"embedded_broker": True, "mqtt": MqttSettings(port=0, protocol=311)}
    else:
        svc = request.getfixturevalue("mosquitto")
        yield {"embedded_broker": False, "mqtt": MqttSettings(port=svc.port, protocol=5), "workers": 2}


@pytest.fixture(params=["sqlite", "influx"])
def store_settings(request):
    if request.param == "sqlite":
        return {"store": "sqlite"}
    influx = request.getfixturevalue("influxdb")
    db = f"t{time.monotonic_ns()}"
    return {"store": "influx", "influx": Influx(url=influx.extra["url"], database=db)}


@pytest.fixture
def hub(tmp_path, broker_settings, store_settings):
    settings = HubSettings(data_dir=tmp_path / "hub", **broker_settings, **store_settings)
    with Hub(settings) as running:
        yield running


def device(hub, tmp_path, key, device_id=DEV, protocol=None):
    mqtt_settings = hub.device_mqtt(device_id)
    if protocol is not None:
        mqtt_settings = mqtt_settings.model_copy(update={"protocol": protocol})
    outbox = Outbox(tmp_path / f"{device_id}-outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    return outbox, DeviceLink(mqtt_settings, device_id, outbox, hub_key=hub.hub_public_key, signer=key,
                              resend_after_s=2.0)


def raw_client(hub, device_id=DEV):
    """A bare MQTT client with the device's own broker credentials (a compromised device, say)."""
    settings = hub.device_mqtt(device_id)
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id,
                      protocol=mqtt.MQTTv5 if settings.protocol == 5 else mqtt.MQTTv311)
    if settings.username:
        raw.username_pw_set(settings.username, settings.password)
    connect(raw, settings)
    return raw


def fill(outbox, key, n, device_id=DEV):
    for _ in range(n):
        outbox.append(lambda seq, prev: sign_event(event(device_id, seq, prev, None), key))


def test_every_event_is_stored_exactly_once_and_acknowledged(hub, tmp_path):
    key = new_key()
    hub.registry.register(DEV, public_key_b64(key))
    outbox, link = device(hub, tmp_path, key)
    fill(outbox, key, 300)
    link.start()
    assert link.wait_drained(60), f"{outbox.depth()} events never acknowledged"
    assert hub.metrics.online._value.get() == 1  # the birth message was seen
    link.stop()
    stored = hub.store.device_events(DEV)
    print(f"\nbroker={'embedded amqtt' if hub.broker else 'mosquitto'} store={hub.settings.store}: "
          f"sent 300, stored {len(stored)}, acks {link.acked}")
    assert [seq_number(s.event.seq) for s in stored] == list(range(1, 301))
    assert hub.store.count() == 300
    # The chain the hub holds is intact end to end.
    for a, b in zip(stored, stored[1:], strict=False):
        assert b.event.prev_hash == a.hash
    assert hub.metrics.stored._value.get() == 300


def test_bad_messages_through_the_broker_are_refused_and_counted_and_good_ones_survive(hub, tmp_path):
    key = new_key()
    hub.registry.register(DEV, public_key_b64(key))
    outbox, link = device(hub, tmp_path, key)
    fill(outbox, key, 20)
    forged = event(DEV, 999, key=new_key())
    raw = raw_client(hub)
    bad = [
        (topic(DEV, Channel.EVENT), b"{oops"),
        (topic(DEV, Channel.EVENT), json.dumps({"schema_version": 7}).encode()),
        (topic(DEV, Channel.EVENT), b"{}" + b" " * 17000),
        (topic(DEV, Channel.EVENT), event("pi-other-02", 1, key=key).to_bytes()),
        (topic(DEV, Channel.EVENT), forged.to_bytes()),
    ]
    for name, payload in bad:
        raw.publish(name, payload, qos=1).wait_for_publish(5)
    raw.loop_stop()
    raw.disconnect()
    link.start()
    assert link.wait_drained(60)
    deadline = time.monotonic() + 10
    while sum(hub.metrics.rejected_counts().values()) < len(bad) and time.monotonic() < deadline:
        time.sleep(0.05)
    link.stop()
    assert hub.metrics.rejected_counts() == {"malformed_json": 1, "schema_version": 1, "oversize": 1,
                                             "device_mismatch": 1, "bad_signature": 1}
    assert len(hub.quarantine.entries()) == len(bad)
    assert len(hub.store.device_events(DEV)) == 20
    # A replay of an already stored event through the broker: recognised as a duplicate, not stored again.
    replayed = hub.store.device_events(DEV)[4].event
    before = hub.metrics.duplicates._value.get()
    raw = raw_client(hub)
    raw.publish(topic(DEV, Channel.EVENT), replayed.to_bytes(), qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 10
    while hub.metrics.duplicates._value.get() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    raw.loop_stop()
    raw.disconnect()
    assert hub.metrics.duplicates._value.get() == before + 1 and hub.store.count() == 20


def test_device_survives_a_hub_outage_and_resends_the_backlog(hub, tmp_path):
    key = new_key()
    hub.registry.register(DEV, public_key_b64(key))
    hub.stop_workers()
    outbox, link = device(hub, tmp_path, key)
    link.start()
    fill(outbox, key, 200)
    link.notify()
    time.sleep(1.0)
    assert outbox.depth() == 200  # nobody acknowledged: everything is still on the device
    hub.start_workers()  # greets the device, which resends its backlog at once
    assert link.wait_drained(60), f"{outbox.depth()} left"
    link.stop()
    assert hub.store.count() == 200
