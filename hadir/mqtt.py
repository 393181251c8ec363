"""MQTT connection settings and client construction shared by the edge agent and the hub.

Production devices speak MQTT 5 to Mosquitto (reason codes, session expiry); the embedded amqtt broker
only speaks 3.1.1, so the protocol is a setting and the code works on both.
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, Field, field_validator


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 1883
    protocol: Literal[5, 311] = 5
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600  # MQTT 5: keep the session across a long outage
    # A device out of signal retries with back-off between these bounds, forever (see connect_in_background).
    reconnect_min_s: int = Field(1, ge=1)
    reconnect_max_s: int = Field(60, ge=1)
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None  # set these three for mTLS (CN of the cert = device id)
    cert_file: Path | None = None
    key_file: Path | None = None

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_from_text(cls, value: object) -> object:
        # Environment variables arrive as text: HADIR_HUB_MQTT__PROTOCOL=311 must mean 311.
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    @classmethod
    def from_url(cls, url: str, **extra: object) -> MqttSettings:
        """`mqtt://host:port` (protocol 5) or `mqtt311://host:port`."""
        scheme, _, rest = url.partition("://")
        if not rest or scheme not in ("mqtt", "mqtt5", "mqtt311"):
            raise ValueError(f"broker URL {url!r} must look like mqtt://host:port or mqtt311://host:port")
        host, _, port = rest.rstrip("/").rpartition(":")
        return cls(host=host or rest, port=int(port) if port.isdigit() else 1883,
                   protocol=311 if scheme == "mqtt311" else 5, **extra)


def make_client(settings: MqttSettings, client_id: str, *, clean: bool = False) -> mqtt.Client:
    protocol = mqtt.MQTTv5 if settings.protocol == 5 else mqtt.MQTTv311
    kwargs = {} if protocol == mqtt.MQTTv5 else {"clean_session": clean}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kwargs)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if settings.ca_file:
        client.tls_set(ca_certs=str(settings.ca_file),
                       certfile=str(settings.cert_file) if settings.cert_file else None,
                       keyfile=str(settings.key_file) if settings.key_file else None,
                       cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    return client


def _connect_async(client: mqtt.Client, settings: MqttSettings, clean: bool) -> None:
    if settings.protocol == 5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = settings.session_expiry_s
        client.connect_async(settings.host, settings.port, settings.keepalive_s, clean_start=clean,
                             properties=props)
    else:
        client.connect_async(settings.host, settings.port, settings.keepalive_s)


def connect_in_background(client: mqtt.Client, settings: MqttSettings, *, clean: bool = False) -> None:
    """Start connecting without waiting: paho's network thread retries (first connection included) with
    back-off between `reconnect_min_s` and `reconnect_max_s`, so a device that starts out of signal still
    runs, records into its outbox, and connects whenever the broker becomes reachable."""
    client.reconnect_delay_set(min_delay=settings.reconnect_min_s,
                               max_delay=max(settings.reconnect_min_s, settings.reconnect_max_s))
    _connect_async(client, settings, clean)
    client.loop_start()


def connect(client: mqtt.Client, settings: MqttSettings, *, clean: bool = False, timeout: float = 10.0) -> None:
    """Connect and wait for CONNACK; a TLS or auth failure raises ConnectionError instead of hanging."""
    done = threading.Event()
    result: dict[str, object] = {}

    def on_connect(c, userdata, flags, reason_code, properties):  # noqa: ANN001
        result["rc"] = reason_code
        done.set()

    previous = client.on_connect
    client.on_connect = on_connect
    _connect_async(client, settings, clean)
    client.loop_start()
    ok = done.wait(timeout)
    client.on_connect = previous
    if not ok:
        client.loop_stop()
        raise ConnectionError(f"no CONNACK from {settings.host}:{settings.port} within {timeout:.0f} s: "
                              "broker down, wrong port, or TLS certificate refused")
    rc = result["rc"]
    if getattr(rc, "is_failure", False):
        client.loop_stop()
        raise ConnectionError(f"broker {settings.host}:{settings.port} refused the connection: {rc}")
    if previous:
        previous(client, None, None, rc, None)
