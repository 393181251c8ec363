"""Count what a device puts on the wire: a loopback TCP proxy between a client and its broker.

Bytes are counted exactly at the TCP payload level (MQTT packets, inside TLS records when TLS is on).
TCP segments come from the kernel (TCP_INFO on the client-facing socket), so IP/TCP headers can be
estimated; on a real link the segment count also depends on the path MTU, which loopback does not have.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass

# struct tcp_info (linux/tcp.h): tcpi_segs_out, tcpi_segs_in follow the u64 byte counters (Linux >= 4.2).
_SEGS_OFFSET = 136


def tcp_segments(sock: socket.socket) -> tuple[int, int]:
    """(segments sent, segments received) on this socket, ACK-only segments included; (0, 0) if unknown."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except OSError:
        return 0, 0
    if len(info) < _SEGS_OFFSET + 8:
        return 0, 0
    return struct.unpack_from("II", info, _SEGS_OFFSET)


@dataclass(frozen=True)
class Counts:
    up: int = 0  # client -> broker, bytes
    down: int = 0  # broker -> client, bytes
    segs_up: int = 0  # TCP segments the client sent (data and ACKs)
    segs_down: int = 0  # TCP segments the client received

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.up - other.up, self.down - other.down, self.segs_up - other.segs_up,
                      self.segs_down - other.segs_down)

    @property
    def total(self) -> int:
        return self.up + self.down

    def wire_estimate(self, header_bytes: int = 52, mss: int = 1400) -> int:
        """Bytes an IP link carries: payload plus a header per segment (IPv4 20 + TCP 20 + timestamps 12).
        Loopback sends big payloads in few segments; a real link needs at least one per `mss` bytes."""
        segs = max(self.segs_up, -(-self.up // mss)) + max(self.segs_down, -(-self.down // mss))
        return self.total + header_bytes * segs


class CountingProxy:
    """127.0.0.1:`port` -> 127.0.0.1:`target_port`, counting every byte in each direction."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._lock = threading.Lock()
        self._up = self._down = 0
        self._closed_segs = (0, 0)
        self._clients: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def counts(self) -> Counts:
        with self._lock:
            out_, in_ = self._closed_segs
            for c in self._clients:
                o, i = tcp_segments(c)
                out_, in_ = out_ + o, in_ + i
            # The proxy's client socket sends what the client receives, and receives what it sends.
            return Counts(self._up, self._down, in_, out_)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._clients.append(client)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    if up:
                        self._up += len(data)
                    else:
                        self._down += len(data)
                dst.sendall(data)
        except OSError:
            pass
        client = src if up else dst
        with self._lock:
            if client in self._clients:
                o, i = tcp_segments(client)
                self._closed_segs = (self._closed_segs[0] + o, self._closed_segs[1] + i)
                self._clients.remove(client)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(2)
