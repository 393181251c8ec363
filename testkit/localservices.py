"""Start real Mosquitto, InfluxDB and gpsd on 127.0.0.1 with temporary configs and free ports (tests, bench).

Each service is a child process in its own session; `stop()` ends it by PID (TERM, then KILL).
gpsd is fed by `NmeaServer`, a small TCP server of ours that streams generated NMEA sentences.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import reduce
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def version_of(binary: str, *args: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
    if not path:
        return "not installed"
    try:
        out = subprocess.run([path, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin"):
        if os.path.exists(f"{d}/{name}"):
            return f"{d}/{name}"
    return None


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    port: int
    workdir: Path
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)

    def stop(self) -> None:
        terminate(self.proc, 5)
        for fh in self.extra.get("files", []):
            fh.close()


def terminate(proc: subprocess.Popen, wait_s: float = 30.0) -> int | None:
    """SIGTERM, as systemd stops a unit; SIGKILL if it has not exited after `wait_s`. Its exit status."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
    return proc.returncode


def _spawn(args: list[str], workdir: Path, name: str) -> tuple[subprocess.Popen, list]:
    log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in Service.stop
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=workdir)
    return proc, [log]


# --------------------------------------------------------------------------------------------- mosquitto


def mosquitto_config(workdir: Path, port: int, extra: str = "", autosave_changes: int = 100) -> Path:
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {workdir}/",
        "autosave_on_changes true",
        # With autosave_on_changes this is a count of changes: saving after every single change costs
        # most of the broker's throughput; the device outbox, not the broker, guarantees delivery.
        f"autosave_interval {autosave_changes}",
        "max_queued_messages 200000",
        "max_inflight_messages 100",
        f"log_dest file {workdir}/mosquitto-broker.log",
    ]
    if os.geteuid() == 0:
        lines.append("user root")  # as root it would drop to 'mosquitto' and lose access to the temp dir
    path = workdir / "mosquitto.conf"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def start_mosquitto(workdir: Path, port: int | None = None, extra_config: str = "",
                    autosave_changes: int = 100) -> Service:
    exe = binary("mosquitto")
    if not exe:
        raise FileNotFoundError("mosquitto is not installed: apt-get install mosquitto mosquitto-clients")
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = mosquitto_config(workdir, port, extra_config, autosave_changes)
    proc, files = _spawn([exe, "-c", str(conf)], workdir, "mosquitto")
    wait_port(port, proc=proc)
    return Service("mosquitto", proc, port, workdir, {"files": files, "config": conf})


def start_debian_mosquitto(mosquitto_dir: Path, port: int, workdir: Path) -> Service:
    """Mosquitto as the Debian package runs it: its main mosquitto.conf (persistence, pid and log files,
    `include_dir conf.d`) around what `hadir broker setup` wrote into `mosquitto_dir`, listening on `port`.

    Started as root it drops to user `mosquitto`, as on a server: `workdir` is made traversable and
    writable for it (pytest's temporary folders are root-only) and must hold nothing secret.
    """
    exe = binary("mosquitto")
    if not exe:
        raise FileNotFoundError("mosquitto is not installed: apt-get install mosquitto mosquitto-clients")
    lib = workdir / "var-lib-mosquitto"
    lib.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(lib, user="mosquitto")
    main = mosquitto_dir / "mosquitto.conf"
    main.write_text(f"pid_file {workdir}/mosquitto.pid\npersistence true\npersistence_location {lib}/\n"
                    f"log_dest file {workdir}/mosquitto.log\ninclude_dir {mosquitto_dir}/conf.d\n")
    os.chmod(workdir, 0o777)  # the log and pid files are written by the broker's own user
    proc, files = _spawn([exe, "-c", str(main)], workdir, "mosquitto-stderr")  # errors before its log opens
    try:
        wait_port(port, proc=proc)
    except (RuntimeError, TimeoutError) as exc:
        Service("mosquitto", proc, port, workdir, {"files": files}).stop()
        said = "".join(p.read_text()[-2000:] for p in (workdir / "mosquitto-stderr.log", workdir / "mosquitto.log")
                       if p.exists())
        raise RuntimeError(f"{exc}; Mosquitto said: {said or '(nothing)'}") from None
    return Service("mosquitto", proc, port, workdir, {"files": files, "config": main, "db": lib / "mosquitto.db"})


# ---------------------------------------------------------------------------------------------- influxdb


def start_influxdb(workdir: Path, data_config: str = "") -> Service:
    """`data_config`: extra lines for the [data] section (e.g. how soon the cache is written to TSM files)."""
    import httpx  # the hub's HTTP client: only the InfluxDB launcher needs it (edge-only installs lack it)

    exe = binary("influxd")
    if not exe:
        raise FileNotFoundError("influxd is not installed: apt-get install influxdb")
    workdir.mkdir(parents=True, exist_ok=True)
    port, rpc = free_port(), free_port()
    conf = workdir / "influxdb.conf"
    conf.write_text(f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{workdir}/meta"
[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  query-log-enabled = false
{data_config}
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = true
  log-enabled = false
  pprof-enabled = false
""")
    proc, files = _spawn([exe, "run", "-config", str(conf), "-pidfile", str(workdir / "influxd.pid")],
                         workdir, "influxd")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"influxd exited with {proc.returncode}; see {workdir}/influxd.log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=0.5).status_code == 204:
                break
        time.sleep(0.05)
    else:
        raise TimeoutError("influxd did not answer /ping within 30 s")
    return Service("influxdb", proc, port, workdir, {"files": files, "url": f"http://127.0.0.1:{port}"})


# ---------------------------------------------------------------------------------------- NMEA and gpsd


def _checksum(body: str) -> str:
    return f"{reduce(lambda a, c: a ^ ord(c), body, 0):02X}"


def _sentence(body: str) -> bytes:
    return f"${body}*{_checksum(body)}\r\n".encode()


def _dm(value: float, lat: bool) -> tuple[str, str]:
    hemi = ("N" if value >= 0 else "S") if lat else ("E" if value >= 0 else "W")
    value = abs(value)
    deg = int(value)
    minutes = (value - deg) * 60
    return (f"{deg:02d}{minutes:07.4f}" if lat else f"{deg:03d}{minutes:07.4f}"), hemi


def nmea_block(lat: float, lon: float, when: datetime, sats: int = 8, hdop: float = 0.9,
               fix: bool = True, gsv: bool = True) -> bytes:
    """GGA + GSA (exactly 12 satellite fields, or gpsd ignores it) + GSV + RMC for one epoch. `gsv=False`:
    a receiver that sends no satellites-in-view sentences (gpsd then sends no SKY report)."""
    hms = when.strftime("%H%M%S.00")
    la, ns = _dm(lat, True)
    lo, ew = _dm(lon, False)
    used = [f"{i + 1:02d}" for i in range(sats if fix else 0)][:12]
    used += [""] * (12 - len(used))
    gga = f"GPGGA,{hms},{la},{ns},{lo},{ew},{1 if fix else 0},{sats if fix else 0:02d},{hdop:.1f},12.0,M,0.0,M,,"
    gsa = f"GPGSA,A,{3 if fix else 1},{','.join(used)},1.5,{hdop:.1f},1.1"
    gsv_lines = []
    in_view = max(sats, 4)
    pages = (in_view + 3) // 4
    for page in range(pages):
        sv = [f"{n + 1:02d},{30 + 5 * n},{(40 * n) % 360:03d},{40 if fix else 0}"
              for n in range(page * 4, min(in_view, page * 4 + 4))]
        gsv_lines.append(f"GPGSV,{pages},{page + 1},{in_view:02d}," + ",".join(sv))
    rmc = f"GPRMC,{hms},{'A' if fix else 'V'},{la},{ns},{lo},{ew},0.0,0.0,{when:%d%m%y},,,A"
    return b"".join(_sentence(s) for s in (gga, gsa, *(gsv_lines if gsv else []), rmc))


class NmeaServer:
    """Streams NMEA for a position (changeable while running) to every client, 5 epochs a second."""

    def __init__(self, lat: float, lon: float, sats: int = 8, hdop: float = 0.9, gsv: bool = True):
        self.lat, self.lon, self.sats, self.hdop, self.fix, self.gsv = lat, lon, sats, hdop, True, gsv
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._feed, args=(conn,), daemon=True).start()

    def _feed(self, conn: socket.socket) -> None:
        with conn:
            while not self._stop.is_set():
                try:
                    conn.sendall(nmea_block(self.lat, self.lon, datetime.now(timezone.utc), self.sats,
                                            self.hdop, self.fix, self.gsv))
                except OSError:
                    return
                time.sleep(0.2)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def start_gpsd(workdir: Path, nmea: NmeaServer) -> Service:
    exe = binary("gpsd")
    if not exe:
        raise FileNotFoundError("gpsd is not installed: apt-get install gpsd")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    ctl = workdir / "gpsd.sock"
    proc, files = _spawn([exe, "-N", "-n", "-S", str(port), "-F", str(ctl), f"tcp://127.0.0.1:{nmea.port}"],
                         workdir, "gpsd")
    wait_port(port, proc=proc)
    return Service("gpsd", proc, port, workdir, {"files": files, "nmea": nmea})


# ------------------------------------------------------------------------------------------- TCP proxy


class TcpProxy:
    """A loopback TCP proxy we control: `cut()` drops every connection and refuses new ones until
    `restore()`, like a network link going down between a device and the broker."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.up = True
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()

    def cut(self) -> None:
        self.up = False
        with self._lock:
            for s in self._conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
            self._conns.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self.sock.close()
