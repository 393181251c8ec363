"""API latency under concurrent clients on loopback: today's board and a month's TPP table for an OPD.

    python bench/api.py [--employees 6000] [--opd 40] [--clients 8] [--requests 160]

Seeds master data (employees across OPDs) and a month of stored events for one OPD, serves the real
app with uvicorn on 127.0.0.1, and sends a bounded number of requests from concurrent clients. Baseline in
the same run: GET /health (framework + loopback floor). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hadir.contract import GENESIS_HASH, AttendanceEvent, ClockSource, EventKind, Liveness  # noqa: E402
from hadir.wit import WIT  # noqa: E402
from hub.api.app import create_app  # noqa: E402
from hub.api.auth import Principal, issue_token  # noqa: E402
from hub.ingest.metrics import IngestMetrics  # noqa: E402
from hub.master import Employee, MasterData, Opd  # noqa: E402
from hub.payroll.policy_file import load_policy  # noqa: E402
from hub.registry import DeviceRegistry  # noqa: E402
from hub.store.base import StoredEvent  # noqa: E402
from hub.store.sqlite_store import SqliteEventStore  # noqa: E402
from testkit.localservices import free_port  # noqa: E402


def seed(work: Path, employees: int, opds: int, today: date) -> tuple:
    master = MasterData(f"sqlite:///{work / 'master.sqlite'}")
    with master.session() as s:
        for o in range(opds):
            s.add(Opd(code=f"OPD{o:02d}", name=f"OPD {o}"))
    with master.session() as s:
        for i in range(employees):
            s.add(Employee(nip=f"{198000000000000000 + i}", name=f"Pegawai {i}", opd_code=f"OPD{i % opds:02d}",
                           tpp_base=5_000_000, start=today.replace(day=1)))
    store = SqliteEventStore(work / "events.sqlite")
    rng = random.Random(3)
    items, prev, seq = [], GENESIS_HASH, 0
    day = today.replace(day=1)
    while day <= today:
        if day.weekday() < 5:
            for i in range(0, employees, opds):  # everyone in OPD00
                for hhmm in ((7, 20 + rng.randint(0, 25)), (16, rng.randint(0, 40))):
                    seq += 1
                    at = datetime.combine(day, dtime(*hhmm), WIT)
                    ev = AttendanceEvent(key=f"pi-bench-01:{seq}", device_id="pi-bench-01", seq=seq,
                                         kind=EventKind.WALK_PAST, employee_id=f"{198000000000000000 + i}",
                                         score=0.95, margin=0.05, frames=4, quality=0.8,
                                         liveness=Liveness(method="none", passed=True, score=0.0), captured_at=at,
                                         clock_source=ClockSource.NTP, model_id="dlib_resnet_v1", gallery_version=1,
                                         prev_hash=prev)
                    prev = ev.event_hash()
                    items.append(StoredEvent(ev, at))
        day += timedelta(days=1)
    store.put(items)
    return master, store, len(items)


def hammer(base: str, path: str, headers: dict, clients: int, total: int) -> list[float]:
    """`clients` threads, each with its own keep-alive connection, share `total` requests."""
    local = threading.local()

    def one(_: int) -> float:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=60)
        started = time.perf_counter()
        r = local.client.get(path, headers=headers)
        r.raise_for_status()
        return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(total)))


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description="API latency under concurrent clients.")
    ap.add_argument("--employees", type=int, default=6000)
    ap.add_argument("--opd", type=int, default=40)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=160, help="per endpoint (bounded)")
    args = ap.parse_args()
    import uvicorn

    today = datetime.now(WIT).date()
    work = Path(tempfile.mkdtemp(prefix="hadir-bench-api-"))
    master, store, events = seed(work, args.employees, args.opd, today)
    app = create_app(store=store, master=master, registry=DeviceRegistry.in_dir(work),
                     policy=load_policy(), metrics=IngestMetrics(), secret=b"bench")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {issue_token(b'bench', Principal('bpkad', 'payroll'))}"}
    print(f"{args.employees} employees in {args.opd} OPDs; {events} events stored for OPD00 this month; "
          f"{args.clients} concurrent clients, {args.requests} requests per endpoint")
    out = {}
    month = today.strftime("%Y-%m")
    for name, path in (("health", "/health"), ("board", "/board/today?opd=OPD00"),
                       ("tpp", f"/tpp?opd=OPD00&month={month}")):
        single = hammer(base, path, headers, 1, 10)  # one client alone: the cost of one request
        started = time.perf_counter()
        lat = hammer(base, path, headers, args.clients, args.requests)
        wall = time.perf_counter() - started
        out[name] = {"p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "mean_ms": statistics.fmean(lat),
                     "rps": args.requests / wall, "single_client_p50_ms": pct(single, 0.5)}
        print(f"  GET {path}: alone p50 {out[name]['single_client_p50_ms']:.1f} ms; {args.clients} clients p50 "
              f"{out[name]['p50_ms']:.1f} ms, p99 {out[name]['p99_ms']:.1f} ms, {out[name]['rps']:.1f} req/s",
              flush=True)
    server.should_exit = True
    thread.join(10)
    print(json.dumps({"employees": args.employees, "opd": args.opd, "events": events, "clients": args.clients,
                      "requests_per_endpoint": args.requests, **{f"{k}_{m}": v[m] for k, v in out.items() for m in v},
                      "board_vs_health_p50": out["board"]["p50_ms"] / out["health"]["p50_ms"]}))


if __name__ == "__main__":
    main()
