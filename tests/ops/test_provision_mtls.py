"""Provisioning takes a device from nothing to publishing through mTLS to a real Mosquitto with the
shipped ACL; other CAs, missing certificates, other devices' topics and revoked devices are refused."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from helpers import event

from edge.outbox.store import Outbox
from edge.publish.link import DeviceLink
from hadir.contract import Channel, topic
from hadir.mqtt import MqttSettings, connect, make_client
from hadir.signing import load_private_key, sign_event
from hadir_ops.provision import CertificateAuthority, provision_device
from hub.config import HubSettings
from hub.service import Hub
from testkit import localservices as services

ACL = Path(__file__).resolve().parents[2] / "firmware_config" / "mosquitto" / "hadir.acl"


def tls_listener(ca: CertificateAuthority, broker_dir: Path) -> str:
    cert, key = ca.issue("broker", broker_dir, server=True, hosts=("127.0.0.1", "localhost"))
    shutil.copy(ACL, broker_dir / "hadir.acl")
    return "\n".join([f"cafile {ca.cert_path}", f"certfile {cert}", f"keyfile {key}", f"crlfile {ca.crl_path}",
                      "require_certificate true", "use_identity_as_username true",
                      f"acl_file {broker_dir / 'hadir.acl'}", ""])


def device_settings(bundle_dir: Path, port: int) -> MqttSettings:
    return MqttSettings(host="127.0.0.1", port=port, protocol=5, ca_file=bundle_dir / "ca.crt",
                        cert_file=bundle_dir / "device.crt", key_file=bundle_dir / "device.key")


@pytest.fixture
def city(tmp_path):
    if not services.binary("mosquitto"):
        pytest.skip("SERVICE MISSING, test not run: mosquitto is not installed")
    ca = CertificateAuthority.init(tmp_path / "ca")
    broker_dir = tmp_path / "broker"
    extra = tls_listener(ca, broker_dir)
    broker = services.start_mosquitto(broker_dir, extra_config=extra)
    hub_cert, hub_key = ca.issue("hadir-hub", tmp_path / "hub-tls")
    hub_mqtt = MqttSettings(host="127.0.0.1", port=broker.port, protocol=5, ca_file=ca.cert_path,
                            cert_file=hub_cert, key_file=hub_key)
    hub = Hub(HubSettings(data_dir=tmp_path / "hub", embedded_broker=False, mqtt=hub_mqtt)).start()
    yield ca, broker, hub, extra
    hub.stop()
    broker.stop()


def test_new_device_publishes_through_mtls_and_is_acknowledged(city, tmp_path):
    ca, broker, hub, _ = city
    bundle = provision_device(ca, "pi-dinkes-01", tmp_path / "bundle", broker_port=broker.port)
    hub.registry.register(bundle.device_id, bundle.public_key)
    assert (bundle.folder / "edge.toml").read_text().count("pi-dinkes-01") >= 2
    key = load_private_key(bundle.folder / "signing.key")
    outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    for _ in range(25):
        outbox.append(lambda seq, prev: sign_event(event(bundle.device_id, seq, prev, None), key))
    link = DeviceLink(device_settings(bundle.folder, broker.port), bundle.device_id, outbox,
                      hub_key=hub.hub_public_key).start()
    assert link.wait_drained(30)
    link.stop()
    assert len(hub.store.device_events(bundle.device_id)) == 25


def _try_connect(settings: MqttSettings, client_id: str) -> None:
    client = make_client(settings, client_id)
    try:
        connect(client, settings, timeout=3)
    finally:
        client.loop_stop()


def test_certificate_from_another_ca_and_no_certificate_are_refused(city, tmp_path):
    ca, broker, _, _ = city
    rogue = CertificateAuthority.init(tmp_path / "rogue-ca")
    bundle = provision_device(rogue, "pi-rogue-01", tmp_path / "rogue", broker_port=broker.port)
    settings = device_settings(bundle.folder, broker.port).model_copy(update={"ca_file": ca.cert_path})
    with pytest.raises(ConnectionError):
        _try_connect(settings, "pi-rogue-01")
    with pytest.raises(ConnectionError):
        _try_connect(MqttSettings(port=broker.port, protocol=5, ca_file=ca.cert_path), "pi-nocert-01")


def test_device_cannot_publish_on_another_devices_topic(city, tmp_path):
    ca, broker, hub, _ = city
    bundle = provision_device(ca, "pi-a-01", tmp_path / "a", broker_port=broker.port)
    settings = device_settings(bundle.folder, broker.port)
    client = make_client(settings, "pi-a-01")
    codes, done = [], threading.Event()

    def on_publish(c, userdata, mid, reason_code, properties):  # noqa: ANN001
        codes.append(reason_code.value)
        done.set()

    client.on_publish = on_publish
    connect(client, settings)
    ev = event("pi-b-02", 1)
    client.publish(topic("pi-b-02", Channel.EVENT), ev.to_bytes(), qos=1)
    assert done.wait(5)
    client.disconnect()
    client.loop_stop()
    assert codes == [135]  # MQTT 5 "Not authorized": the broker ACL refused it
    assert hub.store.count() == 0


def test_revoked_device_is_refused_after_the_broker_reloads_the_crl(city, tmp_path):
    ca, broker, hub, extra = city
    bundle = provision_device(ca, "pi-lost-01", tmp_path / "lost", broker_port=broker.port)
    settings = device_settings(bundle.folder, broker.port)
    _try_connect(settings, "pi-lost-01")  # works before revocation
    ca.revoke("pi-lost-01")
    os.kill(broker.pid, signal.SIGHUP)  # `systemctl reload mosquitto`: rereads the CRL, no restart
    time.sleep(0.5)
    assert broker.alive()
    with pytest.raises(ConnectionError):
        _try_connect(settings, "pi-lost-01")
    _try_connect(device_settings(provision_device(ca, "pi-kept-01", tmp_path / "kept", broker_port=broker.port)
                                 .folder, broker.port), "pi-kept-01")  # others still connect


def test_stolen_certificate_does_not_let_a_device_sign_for_another(city, tmp_path):
    """Device A holding device B's certificate can reach B's topic, but cannot sign as B: refused."""
    ca, broker, hub, _ = city
    bundle_b = provision_device(ca, "pi-b-02", tmp_path / "b", broker_port=broker.port)
    hub.registry.register("pi-b-02", bundle_b.public_key)
    key_a = load_private_key(provision_device(ca, "pi-a-01", tmp_path / "a", broker_port=broker.port).folder
                             / "signing.key")
    outbox = Outbox(tmp_path / "stolen.sqlite", min_free_mb=1, alarm_free_mb=2)
    outbox.append(lambda seq, prev: sign_event(event("pi-b-02", seq, prev, None), key_a))
    link = DeviceLink(device_settings(bundle_b.folder, broker.port), "pi-b-02", outbox,
                      hub_key=hub.hub_public_key).start()
    assert link.wait_drained(20)  # the hub answered: refused, so the device holds it aside (never deleted)
    link.stop()
    assert list(link.rejected.values()) == ["bad_signature"] and list(outbox.held().values()) == ["bad_signature"]
    assert hub.store.count() == 0 and hub.metrics.rejected_counts() == {"bad_signature": 1}
