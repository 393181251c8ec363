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
import time
from collections import Counter
from pathlib import Path

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # a connection that has not sent CONNECT by then is closed


class RefusedConnections:
    """Connections the embedded broker refused (bad or no credentials, no CONNECT in time), counted for the
    metrics and logged aggregated: the first at once, then at most one line per `every_s` saying how many,
    so a scanner or a misconfigured device cannot flood the log."""

    def __init__(self, every_s: float = 60.0):
        self.every_s = every_s
        self.total = 0
        self.by_reason: Counter[str] = Counter()
        self._unlogged = 0
        self._logged_at = -1e18
        self._lock = threading.Lock()

    def refused(self, reason: str, detail: str) -> None:
        with self._lock:
            self.total += 1
            self.by_reason[reason] += 1
            self._unlogged += 1
            now = time.monotonic()
            if now - self._logged_at < self.every_s:
                return
            n, self._unlogged, self._logged_at = self._unlogged, 0, now
        log.warning("broker: refused %d connection(s)%s; latest: %s (%s)", n,
                    f" in the last {self.every_s:.0f} s" if n > 1 else "", reason, detail)


REFUSALS = RefusedConnections()


class _DropRefusalNoise(logging.Filter):
    """amqtt logs every refused connection at warning; they are counted and logged aggregated instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("not authorized" in message or "connect timeout" in message)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _auth_first_broker():  # noqa: ANN202 - a Broker subclass, built lazily (amqtt is a hub-only dependency)
    """amqtt 0.12 deletes (clean session) or rewrites (will, credentials) the existing session of a client id
    *before* it authenticates the new connection: an anonymous client using the hub's or a device's client
    id would drop its subscriptions. This broker authenticates first and only then lets amqtt touch sessions."""
    from amqtt.broker import Broker
    from amqtt.contexts import Action
    from amqtt.errors import AMQTTError, MQTTError, NoDataError
    from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
    from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
    from amqtt.utils import gen_client_id

    class AuthFirstBroker(Broker):
        connect_timeout_s = CONNECT_TIMEOUT_S

        async def _initialize_client_session(self, reader, writer, remote_address, remote_port):  # noqa: ANN001, ANN202
            try:
                handler, session = await asyncio.wait_for(
                    BrokerProtocolHandler.init_from_connect(reader, writer, self.plugins_manager),
                    self.connect_timeout_s)
            except TimeoutError:
                # An idle connection would otherwise hold a socket (and a file descriptor) forever.
                REFUSALS.refused("connect timeout", f"no CONNECT from {remote_address} in {self.connect_timeout_s} s")
                await writer.close()
                raise AMQTTError(f"connect timeout: {remote_address}") from None
            except (AMQTTError, MQTTError, NoDataError) as exc:
                raise AMQTTError(exc) from exc
            if not await self._authenticate(session, None):
                await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
                await writer.close()
                raise AMQTTError(f"not authorized: client {session.client_id!r} from {remote_address}")
            # From here on as amqtt does it (amqtt/broker.py, _initialize_client_session).
            if session.clean_session:
                if session.client_id:
                    await self._delete_session(session.client_id)
                else:
                    session.client_id = gen_client_id()
                session.parent = 0
            elif session.client_id in self._sessions:
                existing, _ = self._sessions[session.client_id]
                for attr in ("will_flag", "will_message", "will_topic", "will_qos", "keep_alive", "username",
                             "password"):
                    setattr(existing, attr, getattr(session, attr))
                session = existing
                session.parent = 1
            else:
                session.parent = 0
            delay = self.config.get("timeout-disconnect-delay", 0)
            if session.keep_alive > 0 and isinstance(delay, int):
                session.keep_alive += delay
            return handler, session

        async def _publish_retained_messages_for_subscription(self, subscription, session):  # noqa: ANN001, ANN202
            # amqtt replays retained messages matching *every* client's subscription to a connecting client,
            # without the read ACL: only the client's own subscriptions, each message checked as a delivery.
            topic_filter, qos = subscription
            handler = self._get_handler(session)
            own = any(s.client_id == session.client_id for s, _ in self._subscriptions.get(topic_filter, []))
            if handler is None or not own:
                return
            tasks = []
            for name, retained in list(self._retained_messages.items()):
                if self._matches(name, topic_filter) and await self._topic_filtering(session, name, Action.RECEIVE):
                    tasks.append(asyncio.ensure_future(handler.mqtt_publish(
                        retained.topic, retained.data, min(qos, retained.qos or qos), retain=True)))
            if tasks:
                await asyncio.wait(tasks)

    return AuthFirstBroker


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
                 allow_lan: bool = False, connect_timeout_s: float = CONNECT_TIMEOUT_S):
        if not _loopback(host) and not allow_lan:
            raise RuntimeError(f"the embedded broker has no TLS: refusing to listen on {host}; bind 127.0.0.1, "
                               "use Mosquitto with mTLS, or set embedded_broker_lan = true for a closed network")
        from hub.broker_auth import secret_hash

        self.registry_path, self.hub_secret_hash = str(registry_path), secret_hash(hub_secret)
        self.host, self.port = host, port or free_port(host)
        self.connect_timeout_s = connect_timeout_s
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
        Broker = _auth_first_broker()  # noqa: N806

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger("amqtt.broker").addFilter(_DropRefusalNoise())
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
            self._broker.connect_timeout_s = self.connect_timeout_s
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
