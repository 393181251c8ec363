"""The touch page's web server: stdlib HTTP on 127.0.0.1 only, so the device needs no web framework.

Only the browser on the device itself can reach it. Requests whose Host header is not the loopback
address are refused, so a web page elsewhere cannot drive the device through DNS rebinding.
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from edge.field.station import FieldStation

log = logging.getLogger(__name__)
HOST = "127.0.0.1"


def page() -> bytes:
    return resources.files("edge.field").joinpath("static/index.html").read_bytes()


class FieldServer:
    def __init__(self, station: FieldStation, port: int):
        self.station = station
        allowed: set[str] = set()  # filled once the port is bound (port 0: any free one)
        index = page()

        class Handler(BaseHTTPRequestHandler):
            server_version = "hadir-field"

            def log_message(self, fmt: str, *args: object) -> None:  # quiet: the page polls every second
                log.debug(fmt, *args)

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _json(self, obj: object, status: int = 200) -> None:
                self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8")

            def _local(self) -> bool:
                if self.headers.get("Host") in allowed:
                    return True
                self._send(HTTPStatus.FORBIDDEN, b"forbidden", "text/plain")
                return False

            def do_GET(self) -> None:  # noqa: N802
                if not self._local():
                    return
                path = self.path.split("?", 1)[0]
                if path in ("/", "/index.html"):
                    self._send(200, index, "text/html; charset=utf-8")
                elif path == "/api/status":
                    self._json(station.status())
                elif path == "/api/preview.jpg":
                    jpeg = station.preview_jpeg()
                    if jpeg is None:
                        self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"no frame yet", "text/plain")
                    else:
                        self._send(200, jpeg, "image/jpeg")
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

            def do_POST(self) -> None:  # noqa: N802
                if not self._local():
                    return
                if self.path == "/api/checkin":
                    started = station.start_checkin()
                    self._json({"started": started}, 200 if started else HTTPStatus.CONFLICT)
                elif self.path == "/api/cancel":
                    station.cancel()
                    self._json({"cancelled": True})
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

        self.httpd = ThreadingHTTPServer((HOST, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        allowed.update({f"{HOST}:{self.port}", f"localhost:{self.port}"})
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="field-page", daemon=True)

    def start(self) -> FieldServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
