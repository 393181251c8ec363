"""The embedded MQTT broker (amqtt, MQTT 3.1.1 only) for a one-office install or the demo.

Production uses Mosquitto (MQTT 5, mTLS, per-device ACLs; see firmware_config/mosquitto). Here every
client must authenticate (hub secret, or a device's broker password) and is confined to its own topics
(hub/broker_auth.py), but there is no TLS: the broker refuses to listen beyond loopback unless the
operator says the terminal network is closed (`allow_lan`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from pathlib import Path

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmbeddedBroker:
    """Runs amqtt in a thread of its own with its own event loop."""

    def __init__(self, registry_path: Path, hub_secret: str, host: str = "127.0.0.1", port: int = 0, *,
                 allow_lan: bool = False):
        if not _loopback(host) and not allow_lan:
            raise RuntimeError(f"the embedded broker has no TLS: refusing to listen on {host}; bind 127.0.0.1, "
                               "use Mosquitto with mTLS, or set embedded_broker_lan = true for a closed network")
        from hub.broker_auth import secret_hash

        self.registry_path, self.hub_secret_hash = str(registry_path), secret_hash(hub_secret)
        self.host, self.port = host, port or free_port(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"embedded broker did not start on {self.host}:{self.port} in {timeout} s")
        if self._error:
            raise RuntimeError(f"embedded broker failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        from amqtt.broker import Broker

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "hub.broker_auth.HadirAuthPlugin": {"registry_path": self.registry_path,
                                                    "hub_secret_hash": self.hub_secret_hash},
                "hub.broker_auth.HadirTopicPlugin": {"registry_path": self.registry_path},
            },
        }
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._broker = Broker(config, loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def stop(self) -> None:
        if self._loop is None or self._broker is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            fut.result(10)
        except Exception as exc:  # shutting down anyway
            log.debug("embedded broker shutdown: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
