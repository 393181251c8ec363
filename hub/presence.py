"""One running hub per instance name: a retained presence message on the broker.

Two hub processes with the same `instance` would share MQTT client ids and silently kick each other off
the broker, each losing its in-flight batch over and over. At start the hub reads `hadir/hub/<instance>`:
if another run says it is running, this one refuses to start; otherwise it claims the name (retained,
with a last will that releases it if the process dies). A claim by another run seen later is logged
loudly (a second hub started against a broker that had lost the retained claim).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading

import paho.mqtt.client as mqtt

from hadir.contract import utcnow
from hadir.mqtt import MqttSettings, connect, make_client

log = logging.getLogger(__name__)


class DuplicateInstance(RuntimeError):
    pass


class HubPresence:
    def __init__(self, settings: MqttSettings, instance: str):
        self.settings, self.instance = settings, instance
        self.run_id = secrets.token_hex(6)
        self.topic = f"hadir/hub/{instance}"
        self.conflicts = 0
        self._seen: dict | None = None
        self._got = threading.Event()
        self.client = make_client(settings, f"hub-{instance}-presence-{self.run_id}", clean=True)
        self.client.will_set(self.topic, self._claim("stopped"), qos=1, retain=True)
        self.client.on_message = self._on_message

    def _claim(self, state: str) -> bytes:
        return json.dumps({"state": state, "run": self.run_id, "at": utcnow().isoformat()}).encode()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic != self.topic:
            return
        try:
            data = json.loads(message.payload[:1024]) if message.payload else {}
        except (ValueError, RecursionError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        if self._seen is None:
            self._seen = data
            self._got.set()
        elif data.get("state") == "running" and data.get("run") != self.run_id:
            self.conflicts += 1
            log.critical("ANOTHER HUB is running with instance name %r (run %s): give each hub process its own "
                         "HADIR_HUB_INSTANCE, or they take each other's MQTT sessions", self.instance, data.get("run"))

    def start(self, wait_s: float = 1.0) -> HubPresence:
        connect(self.client, self.settings, clean=True)
        self.client.subscribe(self.topic, qos=1)
        self._got.wait(wait_s)  # a retained claim arrives at once; none means the name is free
        seen = self._seen or {}
        if seen.get("state") == "running" and seen.get("run") != self.run_id:
            self.client.disconnect()
            self.client.loop_stop()
            raise DuplicateInstance(
                f"a hub with instance name {self.instance!r} is already running (run {seen.get('run')}, since "
                f"{seen.get('at')}); set a distinct HADIR_HUB_INSTANCE for each hub process. If that hub died "
                "without a clean stop, the broker releases the name within 1.5 x keepalive.")
        if self._seen is None:
            self._seen = {}
        self.client.publish(self.topic, self._claim("running"), qos=1, retain=True).wait_for_publish(5)
        return self

    def stop(self) -> None:
        if self.client.is_connected():
            self.client.publish(self.topic, self._claim("stopped"), qos=1, retain=True).wait_for_publish(5)
            self.client.disconnect()
        self.client.loop_stop()
