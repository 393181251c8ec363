"""Authentication and per-device topic ACLs for the embedded amqtt broker (Mosquitto's job in production).

- The hub connects as user `hadir-hub` with a secret from its data folder and client ids `hub-...`.
- A device connects with its device id as user name *and* client id (so it cannot take over another
  device's session) and the broker password issued at provisioning (only a hash is kept, in the registry).
  A revoked device is refused at connect and its publishes are dropped from the moment of revocation.
- A device may publish only to its own `up/event|state|telemetry|report` (its last will only to its own
  `up/state`) and read only its own `down/*`; the hub reads every `up/*` and writes every `down/*`.
- Anonymous clients are refused; refusals are counted and logged aggregated (hub/broker.py, REFUSALS).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from hadir.contract import _DEVICE_ID_RE, TOPIC_ROOT, reserved_device_id
from hub.broker import REFUSALS
from hub.registry import DeviceRegistry

log = logging.getLogger(__name__)

HUB_USER = "hadir-hub"
HUB_CLIENT_PREFIX = "hub-"
_DEVICE_UP = ("up/event", "up/state", "up/telemetry", "up/report")
_DEVICE_DOWN = ("down/ack", "down/gallery", "down/assignments", "down/#")
_HUB_DOWN = ("down/ack", "down/gallery", "down/assignments")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes | bytearray) else str(value or "")


class _RegistryPlugin:
    """Shared by both plugins: one registry connection per plugin (amqtt runs them on one event loop)."""

    def _registry(self) -> DeviceRegistry:
        if getattr(self, "_reg", None) is None:
            self._reg = DeviceRegistry(self.config.registry_path)  # type: ignore[attr-defined]
        return self._reg


class HadirAuthPlugin(_RegistryPlugin, BaseAuthPlugin):
    @dataclass
    class Config:
        registry_path: str = ""
        hub_secret_hash: str = ""

    async def authenticate(self, *, session) -> bool:  # noqa: ANN001 - amqtt Session
        user, client_id = _text(session.username), _text(session.client_id)
        password = _text(session.password)
        if not user or not password:
            REFUSALS.refused("no credentials", f"client {client_id!r}")
            return False
        if user == HUB_USER:
            ok = client_id.startswith(HUB_CLIENT_PREFIX) and hmac.compare_digest(
                secret_hash(password), self.config.hub_secret_hash)
        else:
            ok = (bool(_DEVICE_ID_RE.match(user)) and not reserved_device_id(user) and client_id == user
                  and (not session.will_flag or _text(session.will_topic) == f"{TOPIC_ROOT}/{user}/up/state")
                  and self._registry().broker_secret_ok(user, password))
        if not ok:
            REFUSALS.refused("bad credentials", f"client {client_id!r}, user {user!r}")
        return ok


def _device_topic(topic: str) -> tuple[str, str] | None:
    """(device id, leaf) of an absensi topic, or None."""
    prefix = TOPIC_ROOT + "/"
    if not topic.startswith(prefix):
        return None
    device, _, leaf = topic[len(prefix):].partition("/")
    return device, leaf


class HadirTopicPlugin(_RegistryPlugin, BaseTopicPlugin):
    @dataclass
    class Config:
        registry_path: str = ""

    async def topic_filtering(self, *, session=None, topic: str | None = None,  # noqa: ANN001
                              action: Action | None = None) -> bool:
        if session is None or not topic:
            return False
        user = _text(session.username)
        if user == HUB_USER and topic.startswith("hadir/hub/"):
            return True  # the hub's presence claim (hub/presence.py)
        parts = _device_topic(topic)
        if parts is None:
            return False
        device, leaf = parts
        if user == HUB_USER:
            if action is Action.PUBLISH:
                return bool(_DEVICE_ID_RE.match(device)) and leaf in _HUB_DOWN
            if action is Action.SUBSCRIBE:
                return device == "+" and leaf in ("up/#", *_DEVICE_UP)
            return leaf in _DEVICE_UP  # receive
        if not user or device != user:
            return False
        if action is Action.PUBLISH:
            # Checked live: a device revoked while connected can no longer publish.
            return leaf in _DEVICE_UP and self._registry().active(user)
        return leaf in _DEVICE_DOWN  # subscribe and receive
