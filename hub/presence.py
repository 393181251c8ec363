"""One running hub per instance name: a retained presence message on the broker.

Two hub processes with the same `instance` would share MQTT client ids and silently kick each other off
the broker, each losing its in-flight batch over and over. At start the hub reads `hadir/hub/<instance>`:
if another run says it is running, this one refuses to start; otherwise it claims the name (retained,
with a last will that releases it if the process dies). A claim by another run seen later is logged
loudly (a second hub started against a broker that had lost the retained claim).

A running hub refreshes its claim every `heartbeat_s`. A power cut of a one-box install kills the hub and
the broker together: the broker's persisted copy still says "running" and no last will is ever sent. So a
"running" claim counts only while it is being refreshed: one older than three heartbeats, or one that is
not refreshed while this hub waits a heartbeat and a half, is stale and is taken over, with a warning.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from datetime import datetime

import paho.mqtt.client as mqtt

from hadir.contract import utcnow
from hadir.mqtt import MqttSettings, connect, make_client

log = logging.getLogger(__name__)


class DuplicateInstance(RuntimeError):
    pass


class HubPresence:
    def __init__(self, settings: MqttSettings, instance: str, heartbeat_s: float = 5.0):
        self.settings, self.instance, self.heartbeat_s = settings, instance, heartbeat_s
        self.run_id = secrets.token_hex(6)
        self.took_over: dict | None = None  # the stale claim this run replaced, if any
        self._refreshed = threading.Event()  # another run's claim was refreshed while we watched
        self._stopping = threading.Event()
        self._beat: threading.Thread | None = None
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
        elif data.get("state") == "running" and data.get("run") != self.run_id and self._beat is None:
            self._refreshed.set()  # still deciding: the other run is alive
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
            if self._alive(seen):
                self.client.disconnect()
                self.client.loop_stop()
                raise DuplicateInstance(
                    f"a hub with instance name {self.instance!r} is already running (run {seen.get('run')}, "
                    f"claim refreshed at {seen.get('at')}); set a distinct HADIR_HUB_INSTANCE for each hub "
                    "process. If that hub is gone, its claim goes stale within "
                    f"{3 * self.heartbeat_s:.0f} s and this hub can start.")
            self.took_over = seen
            log.warning("hub instance %r: the claim of run %s (last refreshed %s) is stale, no hub refreshes it "
                        "(a power cut or a kill of hub and broker together): taking the name over",
                        self.instance, seen.get("run"), seen.get("at"))
        if self._seen is None:
            self._seen = {}
        self.client.publish(self.topic, self._claim("running"), qos=1, retain=True).wait_for_publish(5)
        self._beat = threading.Thread(target=self._heartbeat, name=f"presence-{self.instance}", daemon=True)
        self._beat.start()
        return self

    def _alive(self, claim: dict) -> bool:
        """Whether another run's "running" claim is being refreshed (see the module docstring)."""
        try:
            at = datetime.fromisoformat(str(claim.get("at")))
            age = (utcnow() - at).total_seconds()
        except (TypeError, ValueError):
            age = float("inf")
        if age > 3 * self.heartbeat_s:
            return False
        return self._refreshed.wait(1.5 * self.heartbeat_s)

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self.heartbeat_s):
            if self.client.is_connected():
                self.client.publish(self.topic, self._claim("running"), qos=1, retain=True)

    def stop(self) -> None:
        self._stopping.set()
        if self._beat is not None:
            self._beat.join(5)
        if self.client.is_connected():
            self.client.publish(self.topic, self._claim("stopped"), qos=1, retain=True).wait_for_publish(5)
            self.client.disconnect()
        self.client.loop_stop()
