"""Web app latency under concurrent clients on loopback: today's board and the month table of one OPD of 150
in a city of 6,000, against GET /health and GET /app (a redirect: the framework's floor) in the same run.

    python bench/api.py [--employees 6000] [--opds 40] [--clients 50,200] [--seconds 6] [--events-per-s 2]
                        [--data DIR]   # seed once into DIR and reuse it on the next runs
                        [--no-raw]     # skip the 20-40 s recomputation from raw events

Seeds master data and a month of events for the whole city (two per employee per working day up to the
moment `--now`, a Tuesday late in a month), then serves the real app under uvicorn in a separate process
(`--serve`), where a thread stores new events for the OPD at `--events-per-s` and hands them to the app's
results as the hub would (so the kept board and month keep being updated during the measurement).

The load comes from this process: asyncio clients, one keep-alive connection each, raw HTTP/1.1.
- closed loop: each client sends its next request as soon as the previous answer arrives (saturation);
- paced: each client sends one request a second (a dashboard refreshing every second), `--clients` at once.
The board and the month are asked twice: as a bare client (no gzip, no cache: the whole body every time) and
as a browser asks (gzip, and If-None-Match with the ETag it holds).
Each phase runs `--seconds`; besides latency it reports the server process's CPU time per request (from
/proc), which does not depend on what else the machine runs, the load generator's own CPU, and the server's
garbage collections in the phase (full ones and the longest pause; the server freezes what exists at start,
as `hadir-hub run` does). Also printed: the first (cold) request of the OPD's month, the time to recompute
the same month from raw events in-process (what every request cost before), and the load average. Last
line: JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hadir.contract import GENESIS_HASH, AttendanceEvent, ClockSource, EventKind, Liveness  # noqa: E402
from hadir.wit import WIT  # noqa: E402
from hub.api.auth import Principal, issue_token  # noqa: E402
from hub.master import Employee, MasterData, Opd, User  # noqa: E402
from hub.store.base import StoredEvent  # noqa: E402
from hub.store.sqlite_store import SqliteEventStore  # noqa: E402
from testkit.localservices import free_port  # noqa: E402

SECRET = b"bench"
NIP0 = 198000000000000000


def nip(i: int) -> str:
    return str(NIP0 + i)


def make_event(device: str, seq: int, employee: str, at: datetime) -> StoredEvent:
    ev = AttendanceEvent(key=f"{device}:{seq}", device_id=device, seq=seq, kind=EventKind.WALK_PAST,
                         employee_id=employee, score=0.95, margin=0.05, frames=4, quality=0.8,
                         liveness=Liveness(method="none", passed=True, score=0.0), captured_at=at,
                         clock_source=ClockSource.NTP, model_id="dlib_resnet_v1", gallery_version=1,
                         prev_hash=GENESIS_HASH)
    return StoredEvent(ev, at)


def seed(work: Path, employees: int, opds: int, now: datetime) -> int:
    """Master data and the month's events so far for everyone; OPD00 holds employees 0, opds, 2*opds, ..."""
    master = MasterData(f"sqlite:///{work / 'master.sqlite'}")
    today = now.date()
    with master.session() as s:
        for o in range(opds):
            s.add(Opd(code=f"OPD{o:02d}", name=f"OPD {o}"))
    with master.session() as s:
        for i in range(employees):
            s.add(Employee(nip=nip(i), name=f"Pegawai {i}", opd_code=f"OPD{i % opds:02d}", tpp_base=5_000_000,
                           start=today.replace(day=1)))
    master.add("bench", User(username="bkpsdm", password_hash="-", role="payroll"))  # tokens name a real user
    store = SqliteEventStore(work / "events.sqlite")
    rng = random.Random(3)
    seqs: dict[str, int] = {}
    batch, total = [], 0
    day = today.replace(day=1)
    while day <= today:
        if day.weekday() < 5:
            moments = [(7, 20, 25), (16, 0, 40)] if day < today else [(7, 20, 25)]
            for i in range(employees):
                device = f"pi-opd{i % opds:02d}-{(i // opds) % 4}"  # four terminals per OPD
                for hh, lo, spread in moments:
                    at = datetime.combine(day, dtime(hh, lo + rng.randint(0, spread), rng.randint(0, 59)), WIT)
                    if at > now:
                        continue
                    seqs[device] = seqs.get(device, 0) + 1
                    batch.append(make_event(device, seqs[device], nip(i), at))
            if len(batch) > 20_000:
                store.put(batch)
                total += len(batch)
                batch = []
        day += timedelta(days=1)
    store.put(batch)
    total += len(batch)
    store.close()
    (work / "seqs.json").write_text(json.dumps(seqs))
    return total


# ------------------------------------------------------------------------------------------- server side


def record_gc_pauses(path: Path) -> None:
    """Every garbage collection of this process that took 1 ms or more, or of the oldest generation, written
    to `path` twice a second as [[monotonic end, generation, ms], ...] (the load generator reads it per phase:
    CLOCK_MONOTONIC is the same in both processes)."""
    pauses: list[list[float]] = []
    started = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        if ms >= 1.0 or info["generation"] == 2:
            pauses.append([time.monotonic(), info["generation"], round(ms, 2)])

    def write() -> None:
        while True:
            time.sleep(0.5)
            path.with_suffix(".tmp").write_text(json.dumps(pauses[-5000:]))
            path.with_suffix(".tmp").replace(path)

    gc.callbacks.append(callback)
    threading.Thread(target=write, daemon=True).start()


def gc_pauses(path: Path, start: float, end: float) -> dict:
    """The server's collections between `start` and `end` (monotonic): how many of the oldest generation and
    the longest pause."""
    try:
        pauses = [p for p in json.loads(path.read_text()) if start <= p[0] <= end]
    except (OSError, ValueError):
        return {}
    return {"gc_gen2": sum(1 for p in pauses if p[1] == 2), "gc_max_ms": max((p[2] for p in pauses), default=0.0)}


def serve(work: Path, port: int, now: datetime, opds: int, events_per_s: float, http: str) -> None:
    """The app over the seeded files, under uvicorn; a thread adds events for OPD00 as the hub would."""
    import uvicorn

    record_gc_pauses(work / "gc-pauses.json")

    from hub.api.app import create_app, settle_memory
    from hub.ingest.metrics import IngestMetrics
    from hub.payroll.policy_file import load_policy
    from hub.registry import DeviceRegistry

    store = SqliteEventStore(work / "events.sqlite")
    master = MasterData(f"sqlite:///{work / 'master.sqlite'}")
    app = create_app(store=store, master=master, registry=DeviceRegistry.in_dir(work), policy=load_policy(),
                     metrics=IngestMetrics(), secret=SECRET, clock=lambda: now)
    staff = [e.nip for e in master.employees("OPD00")]
    seqs = json.loads((work / "seqs.json").read_text())

    def feed() -> None:
        rng, device = random.Random(5), f"pi-live-{os.getpid()}"  # a new device each run (a reused city)
        seq = seqs.get(device, 0)
        while events_per_s > 0:
            time.sleep(1 / events_per_s)
            seq += 1
            item = make_event(device, seq, rng.choice(staff), now - timedelta(seconds=rng.randint(1, 3600)))
            store.put([item])
            app.state.broadcaster.publish(item)
            app.state.results.on_stored(item)

    threading.Thread(target=feed, daemon=True).start()
    settle_memory()  # as `hadir-hub run` does once the hub has started
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, timeout_keep_alive=60,
                http=http)


# ------------------------------------------------------------------------------------------- client side


class Conn:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads Content-Length bodies. With `revalidate`
    it behaves like a browser: it takes gzip and sends the ETag it last got as If-None-Match (its HTTP cache
    revalidating; a 304 has no body)."""

    def __init__(self, port: int, token: str, revalidate: bool = False):
        self.port, self.token, self.revalidate = port, token, revalidate
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0
        self.etag: str | None = None
        self.not_modified = 0

    async def get(self, path: str) -> int:
        try:
            return await self._get(path)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()  # the server closed an idle keep-alive connection: once more on a new one
            self.reconnects += 1
            return await self._get(path)

    async def _get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        cached = "Accept-Encoding: gzip, deflate, br\r\n" if self.revalidate else ""
        cached += f"If-None-Match: {self.etag}\r\n" if self.revalidate and self.etag else ""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n"
                          f"{cached}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif line.lower().startswith(b"etag:"):
                self.etag = line.split(b":", 1)[1].strip().decode()
        await self.reader.readexactly(length)
        if status == 304:
            self.not_modified += 1
        elif status not in (200, 307):
            raise RuntimeError(f"GET {path}: {status}")
        return length

    def close(self) -> None:
        if self.writer:
            self.writer.close()
        self.reader = self.writer = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): the server's cost, whatever else runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def phase(port: int, token: str, path: str, clients: int, seconds: float, paced: bool, pid: int,
                revalidate: bool = False, gc_file: Path | None = None) -> dict:
    """`clients` connections on `path` for `seconds`; closed loop, or one request a second each (paced)."""
    conns = [Conn(port, token, revalidate) for _ in range(clients)]
    for c in conns:  # connect first: the phase measures requests, not TCP handshakes
        await c.get("/health")
    latencies: list[float] = []
    size = 0
    stop = time.perf_counter() + seconds

    async def run(c: Conn, offset: float) -> None:
        nonlocal size
        if paced:
            await asyncio.sleep(offset)  # spread the clients over the second
        nxt = time.perf_counter()
        while time.perf_counter() < stop:
            started = time.perf_counter()
            size = max(size, await c.get(path))
            latencies.append((time.perf_counter() - started) * 1000)
            if paced:
                nxt += 1.0
                await asyncio.sleep(max(0.0, nxt - time.perf_counter()))

    started, cpu, since, mine = time.perf_counter(), cpu_seconds(pid), time.monotonic(), time.process_time()
    await asyncio.gather(*(run(c, i / clients) for i, c in enumerate(conns)))
    wall, cpu, until = time.perf_counter() - started, cpu_seconds(pid) - cpu, time.monotonic()
    mine = time.process_time() - mine
    for c in conns:
        c.close()
    s = sorted(latencies)
    out = {"requests": len(s), "p50_ms": s[len(s) // 2], "p99_ms": s[min(len(s) - 1, int(len(s) * 0.99))],
           "rps": len(s) / wall, "bytes": size, "reconnects": sum(c.reconnects for c in conns),
           "server_cpu_ms_per_request": cpu * 1000 / max(1, len(s)), "server_cores": cpu / wall,
           "client_cores": mine / wall,  # the load generator shares the machine's cores with the server
           "not_modified": sum(c.not_modified for c in conns)}
    if gc_file is not None:
        await asyncio.sleep(0.6)  # the server writes its pauses twice a second
        out.update(gc_pauses(gc_file, since, until))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="Web app latency under concurrent clients.")
    ap.add_argument("--employees", type=int, default=6000)
    ap.add_argument("--opds", type=int, default=40)
    ap.add_argument("--clients", default="50,200")
    ap.add_argument("--seconds", type=float, default=6.0, help="per phase (bounded)")
    ap.add_argument("--events-per-s", type=float, default=2.0, help="new events for the OPD during the run")
    ap.add_argument("--now", default="2026-11-24T10:30:00+09:00", help="the app's clock (a day late in a month)")
    ap.add_argument("--data", help="seed into (or reuse the city already seeded in) this folder")
    ap.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"],
                    help="uvicorn's HTTP parser (auto: httptools when installed)")
    ap.add_argument("--no-raw", action="store_true", help="skip recomputing the month from raw events (20 s)")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    now = datetime.fromisoformat(args.now)
    if args.serve:
        serve(Path(args.serve), args.port, now, args.opds, args.events_per_s, args.http)
        return

    work = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="hadir-bench-api-"))
    marker = work / "seeded.json"
    shape = {"employees": args.employees, "opds": args.opds, "now": args.now}
    if marker.exists() and json.loads(marker.read_text())["shape"] == shape:
        events = json.loads(marker.read_text())["events"]
        print(f"reusing the city seeded in {work}: {events} events", flush=True)
    else:
        work.mkdir(parents=True, exist_ok=True)
        for name in ("events.sqlite", "master.sqlite"):
            for f in work.glob(name + "*"):
                f.unlink()
        started = time.perf_counter()
        events = seed(work, args.employees, args.opds, now)
        marker.write_text(json.dumps({"shape": shape, "events": events}))
        print(f"seeded {args.employees} employees in {args.opds} OPDs, {events} events up to {now:%Y-%m-%d %H:%M} "
              f"WIT in {time.perf_counter() - started:.1f} s", flush=True)

    from hub.attendance import Attendance
    from hub.payroll.policy_file import load_policy

    store = SqliteEventStore(work / "events.sqlite")
    master = MasterData(f"sqlite:///{work / 'master.sqlite'}")
    raw_month_s = float("nan")
    if not args.no_raw:
        started = time.perf_counter()
        Attendance(store, master, load_policy()).month(now.strftime("%Y-%m"), now, "OPD00")
        raw_month_s = time.perf_counter() - started
        print(f"OPD00 month recomputed from raw events (the old /tpp per request): {raw_month_s * 1000:.0f} ms",
              flush=True)
    store.close()

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(work), "--port", str(port), "--now", args.now,
                               "--opds", str(args.opds), "--events-per-s", str(args.events_per_s),
                               "--http", args.http],
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    token = issue_token(SECRET, Principal("bkpsdm", "payroll"))
    month = now.strftime("%Y-%m")
    # Two baselines: /health (it counts the stored events), and /app (a redirect: framework and loopback only).
    paths = {"floor": "/app", "health": "/health", "board": "/view/today?opd=OPD00",
             "month": f"/view/month?opd=OPD00&month={month}"}
    # The same two views asked as a browser asks: it takes gzip, and its HTTP cache revalidates what it holds
    # with the ETag (an unchanged view costs a 304 without a body).
    revalidating = {"board_browser": paths["board"], "month_browser": paths["month"]}
    out: dict = {"load_average_at_start": os.getloadavg()[0], "cpus": os.cpu_count(),
                 "employees": args.employees, "opds": args.opds, "opd_staff": len(range(0, args.employees, args.opds)),
                 "events": events, "events_per_s": args.events_per_s, "raw_month_ms": raw_month_s * 1000}
    try:
        async def run() -> None:
            deadline = time.monotonic() + 60
            while True:
                try:
                    await Conn(port, token).get("/health")
                    break
                except (OSError, asyncio.IncompleteReadError):
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the server did not start") from None
                    await asyncio.sleep(0.2)
            for name in ("board", "month"):
                c = Conn(port, token)
                t0 = time.perf_counter()
                size = await c.get(paths[name])
                out[f"{name}_cold_ms"] = (time.perf_counter() - t0) * 1000
                c.close()
                print(f"first GET {paths[name]} (builds the OPD's month from the store): "
                      f"{out[f'{name}_cold_ms']:.0f} ms, {size / 1000:.0f} kB", flush=True)
            for clients in (int(x) for x in args.clients.split(",")):
                for paced in (False, True):
                    for name, path in [*paths.items(), *revalidating.items()]:
                        r = await phase(port, token, path, clients, args.seconds, paced, server.pid,
                                        revalidate=name in revalidating, gc_file=work / "gc-pauses.json")
                        mode = "paced 1/s" if paced else "closed loop"
                        key = f"{name}_{clients}_{'paced' if paced else 'closed'}"
                        out[key] = {k: round(v, 2) for k, v in r.items()}
                        cached = (f" as a browser (gzip, {r['bytes'] / 1000:.1f} kB; If-None-Match: "
                                  f"{r['not_modified']} were 304)" if name in revalidating else "")
                        print(f"  {clients:4d} clients {mode:11s} GET {path}{cached}: p50 {r['p50_ms']:.1f} ms, "
                              f"p99 {r['p99_ms']:.1f} ms, {r['rps']:.0f} req/s, server "
                              f"{r['server_cpu_ms_per_request']:.2f} CPU-ms/request on {r['server_cores']:.2f} cores "
                              f"(client {r['client_cores']:.2f}); "
                              f"gc: {r.get('gc_gen2', '?')} full, longest {r.get('gc_max_ms', '?')} ms", flush=True)

        asyncio.run(run())
    finally:
        server.terminate()
        server.wait(10)
    out["load_average_at_end"] = os.getloadavg()[0]
    print(f"load average (1 min) {out['load_average_at_start']:.1f} at start, {out['load_average_at_end']:.1f} at the "
          f"end, on {out['cpus']} CPUs", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
