"""`hadir broker setup` lays out exactly what Mosquitto, as Debian runs it, starts from; the hub and a
device then talk through it with mTLS. The shipped config and ACL are what the command writes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers import event

from edge.outbox.store import Outbox
from edge.publish.link import DeviceLink
from hadir.mqtt import MqttSettings
from hadir.signing import load_private_key, public_key_b64, sign_event
from hadir_ops.broker_setup import ACL, render_config
from hadir_ops.provision import CertificateAuthority, provision_device
from hub.config import HubSettings
from hub.service import Hub
from testkit import localservices as services

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_the_shipped_broker_files_are_the_ones_the_command_writes():
    assert (REPO / "firmware_config" / "mosquitto" / "hadir.conf").read_text() == render_config()
    assert (REPO / "firmware_config" / "mosquitto" / "hadir.acl").read_text() == ACL
    settings = [line.split()[0] for line in render_config().splitlines() if line and not line.startswith("#")]
    assert "persistence_location" not in settings and "persistence" not in settings  # Debian's main file sets them


@pytest.fixture
def world():
    # A folder the broker's own user can traverse (pytest's tmp folders are root-only).
    root = Path(tempfile.mkdtemp(prefix="hadir-broker-"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _broker_setup(world: Path):
    """A city CA and `hadir broker setup` run as the docs say: (ca, port, hub port, mosquitto dir, hub dir)."""
    ca = CertificateAuthority.init(world / "ca")
    port, hub_port = services.free_port(), services.free_port()
    etc, hub_dir = world / "etc-mosquitto", world / "etc-hadir"
    out = subprocess.run([sys.executable, "-m", "hadir_ops.cli", "broker", "setup", "--host", "127.0.0.1",
                          "--ca-dir", str(world / "ca"), "--mosquitto-dir", str(etc), "--hub-dir", str(hub_dir),
                          "--port", str(port), "--hub-port", str(hub_port)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return ca, port, hub_port, etc, hub_dir


def test_mosquitto_starts_from_the_documented_layout_and_carries_hub_and_device(world):
    if not services.binary("mosquitto"):
        pytest.skip("SERVICE MISSING, test not run: mosquitto is not installed")
    _, port, hub_port, etc, hub_dir = _broker_setup(world)
    key_mode = (etc / "certs" / "broker.key").stat().st_mode & 0o777
    assert key_mode == 0o640 and {p.name for p in hub_dir.iterdir()} == {"ca.crt", "hadir-hub.crt", "hadir-hub.key"}
    broker = services.start_debian_mosquitto(etc, port, world)
    try:
        services.wait_port(hub_port, proc=broker.proc)
        hub_mqtt = MqttSettings(host="127.0.0.1", port=hub_port, protocol=5, ca_file=hub_dir / "ca.crt",
                                cert_file=hub_dir / "hadir-hub.crt", key_file=hub_dir / "hadir-hub.key")
        hub = Hub(HubSettings(data_dir=world / "hub", embedded_broker=False, mqtt=hub_mqtt)).start()
        try:
            bundle = provision_device(CertificateAuthority.open(world / "ca"), "pi-dinkes-01", world / "bundle",
                                      broker_port=port, hub_public_key=public_key_b64(hub.hub_key))
            hub.registry.register(bundle.device_id, bundle.public_key, box_key_b64=bundle.box_public_key)
            key = load_private_key(bundle.folder / "signing.key")
            outbox = Outbox(world / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
            for _ in range(5):
                outbox.append(lambda seq, prev: sign_event(event(bundle.device_id, seq, prev, None), key))
            device = MqttSettings(host="127.0.0.1", port=port, protocol=5, ca_file=bundle.folder / "ca.crt",
                                  cert_file=bundle.folder / "device.crt", key_file=bundle.folder / "device.key")
            link = DeviceLink(device, bundle.device_id, outbox, hub_key=hub.hub_public_key, signer=key).start()
            assert link.wait_drained(30)
            link.stop()
            assert len(hub.store.device_events(bundle.device_id)) == 5
        finally:
            hub.stop()
    finally:
        broker.stop()


def test_a_device_certificate_gets_nothing_on_the_hub_listener_and_only_its_own_topics(world):
    """On the layout `hadir broker setup` writes: a device certificate cannot connect to the hub's loopback
    listener (so it can neither take over a hub worker's client id nor act as the hub), the hub's certificate
    is refused on the devices' listener, and on its own listener a device reads no other device's events and
    cannot take over another client id."""
    if not services.binary("mosquitto"):
        pytest.skip("SERVICE MISSING, test not run: mosquitto is not installed")
    import threading

    from hadir.contract import Channel, topic
    from hadir.mqtt import connect, make_client

    ca, port, hub_port, etc, hub_dir = _broker_setup(world)
    broker = services.start_debian_mosquitto(etc, port, world)
    clients = []

    def attach(settings: MqttSettings, client_id: str):
        client = make_client(settings, client_id, clean=True)
        clients.append(client)
        connect(client, settings, clean=True, timeout=5)
        return client

    try:
        services.wait_port(hub_port, proc=broker.proc)
        hub_mqtt = MqttSettings(host="127.0.0.1", port=hub_port, protocol=5, ca_file=hub_dir / "ca.crt",
                                cert_file=hub_dir / "hadir-hub.crt", key_file=hub_dir / "hadir-hub.key")
        hub = Hub(HubSettings(data_dir=world / "hub", embedded_broker=False, mqtt=hub_mqtt)).start()
        try:
            bundles = {}
            for dev in ("pi-dinkes-01", "pi-dinkes-02"):
                bundles[dev] = provision_device(ca, dev, world / dev, broker_port=port,
                                                hub_public_key=public_key_b64(hub.hub_key))
                hub.registry.register(dev, bundles[dev].public_key, box_key_b64=bundles[dev].box_public_key)

            def device(dev: str, at_port: int) -> MqttSettings:
                folder = bundles[dev].folder
                return MqttSettings(host="127.0.0.1", port=at_port, protocol=5, ca_file=folder / "ca.crt",
                                    cert_file=folder / "device.crt", key_file=folder / "device.key")

            worker_id = hub.workers[0].name
            with pytest.raises(ConnectionError):  # a device certificate on the hub's listener, as a hub worker
                attach(device("pi-dinkes-01", hub_port), worker_id)
            with pytest.raises(ConnectionError):  # the hub's certificate on the devices' listener
                attach(hub_mqtt.model_copy(update={"port": port}), "hub-x-ingest-9")
            assert hub.workers[0].client.is_connected()

            # Device 1 on its own listener: asks for everyone's events and for device 2's client id.
            received, subscribed = [], threading.Event()
            spy = make_client(device("pi-dinkes-01", port), "pi-dinkes-02", clean=True)
            spy.on_message = lambda c, u, m: received.append(m.topic)
            spy.on_subscribe = lambda *a: subscribed.set()
            clients.append(spy)
            victim = attach(device("pi-dinkes-02", port), "pi-dinkes-02")
            connect(spy, device("pi-dinkes-01", port), clean=True, timeout=5)
            spy.subscribe("absensi/v1/+/up/#", qos=1)
            spy.subscribe(topic("pi-dinkes-02", Channel.ACK), qos=1)
            assert subscribed.wait(5)
            time.sleep(0.5)
            assert victim.is_connected(), "device 1 took over device 2's client id"
            key = load_private_key(bundles["pi-dinkes-02"].folder / "signing.key")
            outbox = Outbox(world / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
            for _ in range(3):
                outbox.append(lambda seq, prev: sign_event(event("pi-dinkes-02", seq, prev, None), key))
            victim.loop_stop()
            victim.disconnect()
            link = DeviceLink(device("pi-dinkes-02", port), "pi-dinkes-02", outbox, hub_key=hub.hub_public_key,
                              signer=key).start()
            assert link.wait_drained(30)
            link.stop()
            time.sleep(0.5)
            assert len(hub.store.device_events("pi-dinkes-02")) == 3
            assert received == [], f"device 1 read other devices' traffic: {received}"
        finally:
            hub.stop()
    finally:
        for client in clients:
            client.loop_stop()
            client.disconnect()
        broker.stop()
