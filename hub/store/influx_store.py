"""Raw events in InfluxDB through its v1 HTTP API (/write line protocol, /query InfluxQL).

The v1 API is served by InfluxDB 1.x, by 2.x (v1 compatibility endpoints) and by 3.x, so this thin
client covers all three. Tags are low-cardinality only (device, kind); everything else is a field.
A point's timestamp is derived from the event itself (capture time in ms plus the sequence number in
the sub-millisecond digits), so writing the same event twice overwrites it instead of duplicating it.

Which keys are stored, and with which content hash, is kept in a second measurement, `event_key`, whose
point time is derived from the key alone: a second version of an event with another capture time is
found by key (a fork), never stored beside the first. Lookups there are exact-time, never scans.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import datetime, timezone

import httpx

from hadir.contract import DEVICE_ID_PATTERN
from hub.store.base import Expired, PutResult, StoredEvent, StoreUnavailable

MEASUREMENT = "attendance_event"
KEY_INDEX = "event_key"
# InfluxDB's time range is int64 nanoseconds minus two values at each end (1677-09-21 .. 2262-04-11).
_MIN_NS, _MAX_NS = -(2**63) + 2, 2**63 - 2
_KEY_RE = re.compile(DEVICE_ID_PATTERN[:-1] + r":\d+$")


class InfluxError(RuntimeError):
    pass


def point_time_ns(item: StoredEvent) -> int:
    ms = int(item.event.captured_at.timestamp() * 1000)
    return ms * 1_000_000 + item.event.seq % 1_000_000


def key_time_ns(key: str) -> int:
    """The index point's time: a hash of the key, spread over 0 .. 2**62 ns (1970 .. 2116)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 2**62


def _str_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def line(item: StoredEvent) -> str:
    ev = item.event
    fields = {
        "key": _str_field(ev.key), "seq": f"{ev.seq}i", "score": repr(float(ev.score)),
        "employee_id": _str_field(ev.employee_id or ""), "hash": _str_field(item.hash),
        "liveness_passed": "true" if ev.liveness.passed else "false",
        "liveness_result": _str_field(ev.liveness.outcome or "none"),
        "received_at": _str_field(item.received_at.isoformat()), "flags": _str_field(",".join(item.flags)),
        "doc": _str_field(json.dumps(ev.model_dump(mode="json"), separators=(",", ":"))),
    }
    if ev.gps:
        fields["lat"], fields["lon"] = repr(ev.gps.lat), repr(ev.gps.lon)
    body = ",".join(f"{k}={v}" for k, v in fields.items())
    return f"{MEASUREMENT},device_id={ev.device_id},kind={ev.kind.value} {body} {point_time_ns(item)}"


def index_line(item: StoredEvent) -> str:
    ev = item.event
    return (f"{KEY_INDEX},device_id={ev.device_id} key={_str_field(ev.key)},hash={_str_field(item.hash)} "
            f"{key_time_ns(ev.key)}")


def _rfc3339(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class InfluxEventStore:
    def __init__(self, url: str, database: str = "hadir", username: str = "hadir", password: str = "hadir",
                 timeout: float = 10.0):
        self.url, self.database = url.rstrip("/"), database
        self.auth = (username, password)
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self._put_lock = threading.Lock()
        self._bootstrap(username, password)

    def _bootstrap(self, username: str, password: str) -> None:
        """Create the admin (InfluxDB 1.x accepts the first CREATE USER without credentials) and the DB."""
        try:
            self.http.get("/ping").raise_for_status()
        except httpx.HTTPError as exc:
            raise InfluxError(f"InfluxDB at {self.url} is not reachable: {exc}") from None
        create = f"CREATE USER \"{username}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES"
        # In the form body, not the URL: URLs end up in access logs (InfluxDB's own, proxies, httpx's).
        first = self.http.post("/query", data={"q": create})
        if first.status_code not in (200, 401, 403):
            raise InfluxError(f"creating the admin user failed: {first.status_code} {first.text}")
        self.query(f'CREATE DATABASE "{self.database}"')

    def _post(self, path: str, **kwargs) -> httpx.Response:  # noqa: ANN003
        try:
            resp = self.http.post(path, auth=self.auth, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"InfluxDB at {self.url}: {exc}") from None
        if resp.status_code >= 500 or resp.status_code in (401, 403, 429):
            raise StoreUnavailable(f"InfluxDB at {self.url} answered {resp.status_code}: {resp.text[:200]}")
        return resp

    def query(self, q: str) -> list[dict]:
        resp = self._post("/query", params={"q": q, "db": self.database, "epoch": "ns"})
        if resp.status_code != 200:
            raise InfluxError(f"InfluxQL failed ({resp.status_code}): {resp.text[:300]}")
        results = resp.json().get("results", [])
        for r in results:
            if "error" in r:
                raise InfluxError(f"InfluxQL error: {r['error']}")
        return results

    def write_lines(self, lines: list[str]) -> None:
        resp = self._post("/write", params={"db": self.database, "precision": "ns"},
                          content="\n".join(lines).encode())
        if resp.status_code != 204:
            raise InfluxError(f"write failed ({resp.status_code}): {resp.text[:300]}")

    def hashes(self, keys: list[str]) -> dict[str, str]:
        """Stored keys -> content hashes, by exact index point (one statement per key, batched)."""
        statements = []
        for key in keys:
            if _KEY_RE.match(key):
                statements.append(f"SELECT \"key\", \"hash\" FROM {KEY_INDEX} WHERE "
                                  f"device_id = '{key.rpartition(':')[0]}' AND time = {key_time_ns(key)}")
        found = self._run_hash_queries(statements)
        wanted = set(keys)
        return {k: h for k, h in found.items() if k in wanted}

    def _run_hash_queries(self, statements: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in range(0, len(statements), 200):
            for result in self.query(";".join(statements[chunk:chunk + 200])):
                for series in result.get("series", []):
                    cols = series["columns"]
                    for row in series["values"]:
                        rec = dict(zip(cols, row, strict=True))
                        found[rec["key"]] = rec["hash"]
        return found

    def put(self, items: list[StoredEvent]) -> list[PutResult]:
        # Serialised in this process: two workers given copies of one event must not both see it as new.
        # (Two hub processes can still race; a same-content event then overwrites its own point.)
        with self._put_lock:
            return self._put(items)

    def _put(self, items: list[StoredEvent]) -> list[PutResult]:
        existing = self.hashes([i.key for i in items])
        results, new_items, batch_keys = [], [], {}
        for item in items:
            known = existing.get(item.key) or batch_keys.get(item.key)
            if known is not None:
                results.append(PutResult.DUPLICATE if known == item.hash else PutResult.FORK)
                continue
            if not _MIN_NS <= point_time_ns(item) <= _MAX_NS:
                results.append(PutResult.UNSTORABLE)  # InfluxDB cannot hold this capture time
                continue
            batch_keys[item.key] = item.hash
            new_items.append(item)
            results.append(PutResult.STORED)
        # Events first, their index after: an indexed key is always a stored event (never the reverse
        # order, or a failed write could make the device delete an event that is not stored).
        for start in range(0, len(new_items), 5000):
            self.write_lines([line(i) for i in new_items[start:start + 5000]])
        for start in range(0, len(new_items), 5000):
            self.write_lines([index_line(i) for i in new_items[start:start + 5000]])
        return results

    def _select(self, where: str) -> list[StoredEvent]:
        out = []
        for result in self.query(f"SELECT doc, received_at, flags FROM {MEASUREMENT} WHERE {where}"):
            for series in result.get("series", []):
                cols = series["columns"]
                for row in series["values"]:
                    rec = dict(zip(cols, row, strict=True))
                    out.append(StoredEvent.from_json(json.dumps({
                        "event": json.loads(rec["doc"]), "received_at": rec["received_at"],
                        "flags": [f for f in rec["flags"].split(",") if f]})))
        return out

    def get(self, key: str) -> StoredEvent | None:
        if not _KEY_RE.match(key):
            return None  # never interpolate anything but a well-formed key into InfluxQL
        device = key.rpartition(":")[0]
        found = self._select(f"device_id = '{device}' AND \"key\" = '{key}'")
        return found[0] if found else None

    def between(self, start: datetime, end: datetime) -> list[StoredEvent]:
        return self._select(f"time >= '{_rfc3339(start)}' AND time < '{_rfc3339(end)}'")

    def device_events(self, device_id: str, start: datetime | None = None,
                      end: datetime | None = None) -> list[StoredEvent]:
        if not re.match(DEVICE_ID_PATTERN, device_id):
            return []
        where = f"device_id = '{device_id}'"
        if start:
            where += f" AND time >= '{_rfc3339(start)}'"
        if end:
            where += f" AND time < '{_rfc3339(end)}'"
        return sorted(self._select(where), key=lambda s: s.event.seq)

    def events_of(self, employee_ids: set[str], device_ids: set[str], start: datetime,
                  end: datetime) -> list[StoredEvent]:
        """Events in [start, end) of these employees, and the unknown faces seen by these devices."""
        return [i for i in self.between(start, end)
                if (i.event.employee_id in employee_ids if i.event.employee_id else i.event.device_id in device_ids)]

    def count(self) -> int:
        total = 0
        for result in self.query(f'SELECT COUNT("seq") FROM {MEASUREMENT}'):
            for series in result.get("series", []):
                total += int(series["values"][0][1])
        return total

    def _rows(self, q: str) -> list[dict]:
        out = []
        for result in self.query(q):
            for series in result.get("series", []):
                out += [dict(zip(series["columns"], row, strict=True)) for row in series["values"]]
        return out

    def devices(self) -> list[str]:
        rows = self._rows(f'SHOW TAG VALUES FROM {MEASUREMENT} WITH KEY = "device_id"')
        return sorted(r["value"] for r in rows)

    def expired(self, device_id: str, cutoff: datetime) -> Expired:
        if not re.match(DEVICE_ID_PATTERN, device_id):
            return Expired([], None)
        # A point's time is its capture time (ms) plus < 1 ms of sequence: `time < cutoff` is exactly
        # "captured before the cutoff" for the whole-second cutoffs the retention job uses.
        where, t = f"device_id = '{device_id}'", _rfc3339(cutoff)
        candidates, kept = [], []
        for r in self._rows(f'SELECT "seq", "hash", "received_at" FROM {MEASUREMENT} WHERE {where} AND time < \'{t}\''):
            received = datetime.fromisoformat(r["received_at"])
            (candidates if received < cutoff else kept).append((int(r["seq"]), r["hash"]))
        later = self._rows(f'SELECT MIN("seq") FROM {MEASUREMENT} WHERE {where} AND time >= \'{t}\'')
        kept_seqs = [s for s, _ in kept] + [int(r["min"]) for r in later if r.get("min") is not None]
        return Expired(sorted(candidates), min(kept_seqs) if kept_seqs else None)

    def delete_through(self, device_id: str, seq: int) -> int:
        if not re.match(DEVICE_ID_PATTERN, device_id):
            return 0
        where = f"device_id = '{device_id}'"
        rows = self._rows(f'SELECT "seq" FROM {MEASUREMENT} WHERE {where} AND "seq" <= {seq}')
        times = [int(r["time"]) for r in rows]
        if not times:
            return 0
        last = max(times)
        # InfluxQL deletes by tag and time only. One range delete when no later event of the chain lies
        # inside the range (the usual case); point by point when a device clock went backwards.
        inside = self._rows(f'SELECT COUNT("seq") FROM {MEASUREMENT} WHERE {where} AND "seq" > {seq} '
                            f"AND time <= {last}")
        if not inside or not inside[0].get("count"):
            self.query(f"DELETE FROM {MEASUREMENT} WHERE {where} AND time <= {last}")
        else:
            statements = [f"DELETE FROM {MEASUREMENT} WHERE {where} AND time = {t}" for t in times]
            for start in range(0, len(statements), 200):
                self.query(";".join(statements[start:start + 200]))
        return len(times)

    def close(self) -> None:
        self.http.close()
