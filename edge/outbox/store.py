"""The device's durable outbox: every event stays on disk until the hub says it stored exactly that event.

SQLite in WAL mode with synchronous=FULL, so a committed event survives a power cut. The sequence
number and the previous-event hash are assigned inside the same transaction that stores the event, so
the chain can never fork on the device, not even across a crash.

Each outbox file has its own random epoch, part of every sequence number it assigns (see
`hadir.contract.make_seq`): an outbox that was deleted, truncated, restored from an image or replaced
along with the device starts a new epoch, so its keys never collide with events the hub already holds.
An outbox that cannot be opened is moved aside (kept for forensics) and a new one is started: recording
never stops because of it, and `recovered` says what happened so the device reports it.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from edge.outbox.watermark import Mark, Watermark
from hadir.contract import (
    EPOCH_SHIFT,
    GENESIS_HASH,
    HASH_PREFIX_LEN,
    MAX_EPOCH,
    AttendanceEvent,
    make_seq,
    seq_epoch,
    seq_number,
)
from hadir.sqlite import connect

log = logging.getLogger(__name__)


class OutboxFull(RuntimeError):
    """The disk is nearly full: the agent must raise the alarm instead of silently dropping events."""


@dataclass(frozen=True)
class Pending:
    seq: int
    key: str
    payload: bytes
    attempts: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, payload BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL,
    last_hash TEXT NOT NULL, last_captured_at TEXT);
CREATE TABLE IF NOT EXISTS held (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, payload BLOB NOT NULL, created_at TEXT NOT NULL,
    hash TEXT, reason TEXT NOT NULL, held_at TEXT NOT NULL);
-- One per epoch this outbox started: the announcement the hub must acknowledge (see OutboxReport).
CREATE TABLE IF NOT EXISTS reports (
    epoch INTEGER PRIMARY KEY, prev_epoch INTEGER, body TEXT NOT NULL, created_at TEXT NOT NULL, acked_at TEXT);
CREATE TABLE IF NOT EXISTS acked (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, payload BLOB NOT NULL, created_at TEXT NOT NULL,
    hash TEXT, acked_at TEXT NOT NULL);
"""


def new_epoch() -> int:
    return secrets.randbelow(MAX_EPOCH) + 1


def _open_checked(path: Path) -> sqlite3.Connection:
    db = connect(path, synchronous="FULL")
    try:
        db.executescript(_SCHEMA)
        (result,) = db.execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {result}")
    except BaseException:
        db.close()
        raise
    return db


_SQLITE_HEADER = b"SQLite format 3\x00"


def _damage(path: Path) -> str | None:
    """Why an existing outbox file cannot be the device's outbox (None: it looks like one). SQLite would
    open an empty or headerless file as a new, empty database: the events it held would vanish unseen."""
    with open(path, "rb") as f:
        head = f.read(len(_SQLITE_HEADER))
    if not head:
        return "outbox file is empty (0 bytes)"
    if head != _SQLITE_HEADER:
        return "outbox file has no SQLite header"
    return None


def _move_aside(path: Path, *, stray_only: bool = False) -> Path:
    """Rename the outbox and its -wal/-shm to `<name>.corrupt-<time>` (kept for forensics). `stray_only`:
    only a -wal/-shm whose database is gone."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("-wal", "-shm") if stray_only else ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            src.rename(Path(str(aside) + suffix))
    return aside


class Outbox:
    def __init__(self, path: Path, *, min_free_mb: float = 50.0, alarm_free_mb: float = 200.0,
                 keep_acked_days: float = 7.0):
        """`keep_acked_days`: acknowledged events are kept this long (while the disk has room) so a hub
        restored from an older backup can ask for them again."""
        self.path = Path(path)
        self.min_free_mb, self.alarm_free_mb = min_free_mb, alarm_free_mb
        self.keep_acked_days = keep_acked_days
        self._lock = threading.Lock()
        self.recovered: str | None = None  # set when a broken or lost outbox was found at open
        self.watermark = Watermark(self.path.with_name(self.path.name + ".hwm"))
        existed = self.path.exists()
        damage = _damage(self.path) if existed else None
        if not existed:
            _move_aside(self.path, stray_only=True)  # a -wal without its database must not be replayed into a new one
        if damage is None:
            try:
                self._db = _open_checked(self.path)
            except sqlite3.DatabaseError as exc:
                damage = f"outbox unreadable ({exc})"
        if damage is not None:
            aside = _move_aside(self.path)
            self.recovered = f"{damage}; moved to {aside.name}, new outbox started"
            log.critical("OUTBOX CORRUPT: %s", self.recovered)
            self._db = _open_checked(self.path)
        # Truncate the WAL after checkpoints, so deleting acknowledged events gives the space back.
        self._db.execute("PRAGMA journal_size_limit=1048576")
        # When each event was last sent: kept in memory only (after a restart everything is resent
        # anyway), so publishing never writes to a disk that may be nearly full.
        self._sent: dict[int, tuple[int, float]] = {}
        self._scan_from = -1  # every event at or below this seq has been sent (see pending)
        self._migrate()
        self._check_against_watermark(existed, damage)

    def _migrate(self) -> None:
        """Columns added after the first release (an outbox written by an older agent)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(chain)")}
        if "last_captured_at" not in columns:
            self._db.execute("ALTER TABLE chain ADD COLUMN last_captured_at TEXT")
        if "acked_through" not in columns:
            self._db.execute("ALTER TABLE chain ADD COLUMN acked_through INTEGER NOT NULL DEFAULT 0")
        if "hash" not in {row[1] for row in self._db.execute("PRAGMA table_info(events)")}:
            self._db.execute("ALTER TABLE events ADD COLUMN hash TEXT")

    def _check_against_watermark(self, existed: bool, damage: str | None) -> None:
        """Compare the outbox with the watermark; if events the device issued are gone, start a new epoch and
        record a report of the range (sent to the hub, signed, until it acknowledges it)."""
        mark, wm_state = self.watermark.mark, self.watermark.state
        lost = None if mark is None or seq_number(mark.issued) == 0 else (
            seq_epoch(mark.issued), min(mark.unacked_from, mark.issued), mark.issued)
        row = self._db.execute("SELECT last_seq FROM chain").fetchone()
        if row is None:
            # A new outbox, or one whose chain row is gone: a fresh epoch, never an old one's numbers.
            if damage is None and existed and self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]:
                damage = "outbox had events but no chain state"
                self.recovered = f"{damage}; new epoch started"
                log.critical("OUTBOX INCONSISTENT: %s", self.recovered)
            if damage is not None:
                reason, detail = "outbox_damaged", damage
            elif mark is not None:
                reason, detail = "outbox_missing", "the outbox file was gone at start (deleted or replaced)"
            else:
                reason, detail, lost = "new_outbox", "", None
            if damage is not None and wm_state != "ok":
                detail += f"; watermark {wm_state}: the range of lost events is unknown"
            self._start_epoch(reason, detail, lost)
            if reason != "new_outbox":
                self._say_lost(reason, detail, lost)
            return
        last_seq = row[0]
        if mark is None:
            # An outbox from an agent before watermarks, or the watermark file was lost: nothing to compare.
            if wm_state == "damaged":
                log.error("outbox watermark %s unreadable: rewritten from the outbox", self.watermark.path)
            self.watermark.write(Mark(last_seq, self._unacked_from(last_seq) or last_seq + 1))
            return
        if seq_epoch(mark.issued) == seq_epoch(last_seq):
            if mark.issued <= last_seq:
                if mark.issued < last_seq:  # an older agent's events after the mark: bring it up to date
                    self.watermark.write(Mark(last_seq, self._unacked_from(last_seq) or last_seq + 1))
                return
            lost = (seq_epoch(last_seq), max(last_seq + 1, lost[1]), mark.issued)
            reason, detail = "outbox_rolled_back", (f"outbox ends at number {seq_number(last_seq)} but "
                                                    f"{seq_number(mark.issued)} was issued (its WAL was lost or it "
                                                    "was restored from a copy)")
        elif self._db.execute("SELECT 1 FROM reports WHERE epoch = ? AND prev_epoch = ?",
                              (seq_epoch(last_seq), seq_epoch(mark.issued))).fetchone():
            # Stopped between starting this epoch and updating the watermark: nothing lost.
            self.watermark.write(Mark(last_seq, self._unacked_from(last_seq) or last_seq + 1))
            return
        else:
            reason, detail = "outbox_restored", (f"outbox is of epoch {seq_epoch(last_seq)} but the device had issued "
                                                 f"up to seq {mark.issued} of epoch {seq_epoch(mark.issued)}")
        # Its own unsent events stay and are sent; new ones go under a new epoch, never reusing numbers.
        self._start_epoch(reason, detail, lost)
        self._say_lost(reason, detail, lost)

    def _say_lost(self, reason: str, detail: str, lost: tuple[int, int, int] | None) -> None:
        span = (f"seq {seq_number(lost[1])}..{seq_number(lost[2])} of epoch {lost[0]}" if lost else "unknown range")
        message = f"{reason}: {detail}; events possibly lost on the device: {span} (reported to the hub)"
        self.recovered = message if self.recovered is None else (f"{self.recovered}; {span} possibly lost "
                                                                 "(reported to the hub)")
        log.critical("OUTBOX LOSS: %s", message)

    def _unacked_from(self, seq: int) -> int | None:
        """The oldest event of `seq`'s epoch still waiting for (or refused by) the hub."""
        lo, hi = make_seq(seq_epoch(seq), 1), make_seq(seq_epoch(seq), 2**EPOCH_SHIFT - 1)
        found = [r[0] for t in ("events", "held")
                 for r in self._db.execute(f"SELECT MIN(seq) FROM {t} WHERE seq BETWEEN ? AND ?", (lo, hi))
                 if r[0] is not None]
        return min(found, default=None)

    def _start_epoch(self, reason: str, detail: str, lost: tuple[int, int, int] | None,
                     *, in_transaction: bool = False) -> int:
        """A new epoch for the events recorded from now on, and its report; returns the last seq before its
        first event. Committed before the watermark moves to it (see the check at open)."""
        row = self._db.execute("SELECT last_seq FROM chain").fetchone()
        # The epoch the watermark names: what the check at the next open compares with (see there).
        mark = self.watermark.mark
        prev_epoch = seq_epoch(mark.issued) if mark is not None else (seq_epoch(row[0]) if row else None)
        epoch = new_epoch()
        start = make_seq(epoch, 1) - 1
        body = {"epoch": epoch, "reason": reason, "at": datetime.now(timezone.utc).isoformat(), "detail": detail[:300]}
        if lost is not None:
            body.update(lost_epoch=lost[0], lost_from=lost[1], lost_to=lost[2])
        if not in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("INSERT INTO chain (id, last_seq, last_hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE "
                             "SET last_seq = excluded.last_seq, last_hash = excluded.last_hash", (start, GENESIS_HASH))
            self._db.execute("INSERT INTO reports (epoch, prev_epoch, body, created_at) VALUES (?, ?, ?, ?)",
                             (epoch, prev_epoch, json.dumps(body), body["at"]))
            if not in_transaction:
                self._db.execute("COMMIT")
        except BaseException:
            if not in_transaction:
                self._db.execute("ROLLBACK")
            raise
        if not in_transaction:
            self.watermark.write(Mark(start, start + 1))
        return start

    # -- space ----------------------------------------------------------------------------------------
    def free_mb(self) -> float:
        return shutil.disk_usage(self.path.parent).free / 1e6

    def disk_alarm(self) -> str | None:
        free = self.free_mb()
        if free < self.alarm_free_mb:
            return (f"outbox disk nearly full: {free:.0f} MB free at {self.path.parent}; "
                    f"{self.depth()} events waiting for the hub. Restore the network or free space.")
        return None

    # -- recording ------------------------------------------------------------------------------------
    def _next(self) -> tuple[int, str]:
        last_seq, last_hash = self._db.execute("SELECT last_seq, last_hash FROM chain").fetchone()
        if seq_number(last_seq) == 2**EPOCH_SHIFT - 1:  # 4 billion events in one epoch: start another
            return self._start_epoch("epoch_full", "", None, in_transaction=True) + 1, GENESIS_HASH
        return last_seq + 1, last_hash

    def _mark(self, issued: int) -> None:
        """Durably note that `issued` is recorded, right after its commit. (Before the commit, a kill between
        the two would report a loss and start a new epoch for an event that was never recorded; after it, a
        kill in between that also loses the WAL misses only that one event.)"""
        try:
            self.watermark.write(Mark(issued, self._unacked_from(issued) or issued))
        except OSError as exc:  # the event is recorded; the next one writes the mark again
            log.critical("outbox watermark %s not written: %s", self.watermark.path, exc)

    def _insert(self, event: AttendanceEvent) -> None:
        if event.seq <= self._scan_from:  # a new epoch may number below older ones: scan from it
            self._scan_from = event.seq - 1
        self._db.execute("INSERT INTO events (seq, key, payload, created_at, hash) VALUES (?, ?, ?, ?, ?)",
                         (event.seq, event.key, event.to_bytes(), event.captured_at.isoformat(), event.event_hash()))
        self._db.execute("UPDATE chain SET last_seq = ?, last_hash = ?, last_captured_at = ?",
                         (event.seq, event.event_hash(), event.captured_at.isoformat()))

    def append(self, build: Callable[[int, str], AttendanceEvent]) -> AttendanceEvent:
        """Store a new event; `build(seq, prev_hash)` makes the signed event for the next sequence."""
        if self.free_mb() < self.min_free_mb:
            raise OutboxFull(f"only {self.free_mb():.0f} MB free at {self.path.parent}; event not recorded")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq, prev = self._next()
                event = build(seq, prev)
                if event.seq != seq or event.prev_hash != prev:
                    raise ValueError("event built with the wrong sequence or previous hash")
                self._insert(event)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._mark(seq)
        return event

    def epoch(self) -> int:
        with self._lock:
            return seq_epoch(self._db.execute("SELECT last_seq FROM chain").fetchone()[0])

    def reissue(self, keys: Iterable[str], resign: Callable[[AttendanceEvent], AttendanceEvent]) -> list[str]:
        """The hub holds other events under these keys (a restored outbox image reused them): start a new
        epoch and record the same events again under new keys, re-signed. Returns the new keys."""
        keys = set(keys)
        new_keys: list[str] = []
        with self._lock:
            rows = self._db.execute("SELECT seq, key, payload FROM events ORDER BY seq").fetchall()
            rows = [r for r in rows if r[1] in keys]
            if not rows:
                return []
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq, prev = self._start_epoch("reissue", f"{len(rows)} events recorded again under new keys: "
                                              "the hub held other events under theirs", None,
                                              in_transaction=True) + 1, GENESIS_HASH
                for old_seq, _key, payload in rows:
                    old = AttendanceEvent.model_validate_json(payload)
                    event = resign(old.model_copy(update={"seq": seq, "key": f"{old.device_id}:{seq}",
                                                          "prev_hash": prev, "sig": ""}))
                    self._db.execute("DELETE FROM events WHERE seq = ?", (old_seq,))
                    self._insert(event)
                    self._sent.pop(old_seq, None)
                    new_keys.append(event.key)
                    seq, prev = seq + 1, event.event_hash()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._mark(seq - 1)
        log.warning("re-recorded %d events under a new outbox epoch: the hub held other events under their keys",
                    len(new_keys))
        return new_keys

    # -- sending --------------------------------------------------------------------------------------
    def pending(self, limit: int = 500, resend_after_s: float | None = None, now: float = 0.0
                ) -> list[Pending]:
        """Events not yet acknowledged, oldest first (optionally only those not sent recently).

        With `resend_after_s` this costs what is due, not the whole backlog: resends come from the
        in-memory send times, new events from a scan that starts after the rows known to be sent."""
        if resend_after_s is None:
            return self._scan(-1, limit, None)[0]
        cutoff = now - resend_after_s
        with self._lock:
            due = sorted(seq for seq, (_, last) in self._sent.items() if last <= cutoff)[:limit]
            rows = []
            for start in range(0, len(due), 500):
                chunk = due[start:start + 500]
                rows += self._db.execute(f"SELECT seq, key, payload FROM events WHERE seq IN "
                                         f"({','.join('?' * len(chunk))})", chunk).fetchall()
            out = [Pending(seq, key, payload, self._sent[seq][0]) for seq, key, payload in rows]
            scan_from = self._scan_from
        fresh, floor = self._scan(scan_from, limit - len(out), cutoff, skip_sent=True)
        with self._lock:
            self._scan_from = max(self._scan_from, floor) if self._scan_from == scan_from else self._scan_from
        return sorted(out + fresh, key=lambda p: p.seq)

    def _scan(self, after: int, limit: int, cutoff: float | None, skip_sent: bool = False
              ) -> tuple[list[Pending], int]:
        """Rows after `after` in sequence order; with skip_sent, only never-sent ones. Returns them and the
        highest seq below which every row has been sent (where the next scan may start)."""
        out: list[Pending] = []
        floor, gap = after, False
        while len(out) < limit:
            with self._lock:
                rows = self._db.execute("SELECT seq, key, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                                        (after, max(limit, 500))).fetchall()
                sent = {seq: self._sent.get(seq) for seq, _, _ in rows}
            if not rows:
                break
            for seq, key, payload in rows:
                record = sent[seq]
                if skip_sent and record is not None:
                    if not gap:
                        floor = seq
                    continue
                gap = True
                out.append(Pending(seq, key, payload, record[0] if record else 0))
                if len(out) == limit:
                    break
            after = rows[-1][0]
        return out, floor

    def mark_sent(self, seqs: Iterable[int], at: float) -> None:
        with self._lock:
            for s in seqs:
                self._sent[s] = (self._sent.get(s, (0, 0.0))[0] + 1, at)

    def reset_sent(self) -> None:
        with self._lock:
            self._sent.clear()
            self._scan_from = -1

    def acknowledge(self, stored: Iterable[tuple[str, str]]) -> int:
        """The hub stored these: (key, first 16 hex of the stored event's hash) pairs. They leave the sending
        queue (kept a while in `acked` if the disk has room, see keep_acked_days). An event whose hash
        differs is kept: the hub stored something else under that key."""
        keep = self.keep_acked_days > 0 and self.free_mb() > self.alarm_free_mb
        now = datetime.now(timezone.utc)
        n, top = 0, 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for key, digest in stored:
                    row = self._db.execute("SELECT seq, hash FROM events WHERE key = ?", (key,)).fetchone()
                    if row is None:
                        continue
                    seq, full = row
                    if full is not None and full[:HASH_PREFIX_LEN] != digest:
                        log.error("hub acknowledged %s with another content hash: kept", key)
                        continue
                    if keep:
                        self._db.execute("INSERT OR REPLACE INTO acked (seq, key, payload, created_at, hash, acked_at) "
                                         "SELECT seq, key, payload, created_at, hash, ? FROM events WHERE seq = ?",
                                         (now.isoformat(), seq))
                    self._db.execute("DELETE FROM events WHERE seq = ?", (seq,))
                    self._sent.pop(seq, None)
                    n, top = n + 1, max(top, seq)
                if top:
                    self._db.execute("UPDATE chain SET acked_through = ?", (top,))
                cutoff = (now - timedelta(days=self.keep_acked_days)).isoformat()
                self._db.execute("DELETE FROM acked WHERE acked_at < ?" if keep else "DELETE FROM acked",
                                 (cutoff,) if keep else ())
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n

    def acked_through(self) -> int:
        """The sequence number of the newest event the hub acknowledged (0: none yet)."""
        with self._lock:
            return self._db.execute("SELECT acked_through FROM chain").fetchone()[0]

    def release_acked(self) -> int:
        """The hub lost events it had acknowledged (restored from a backup): send the kept ones again."""
        return self._requeue("acked")

    def _requeue(self, table: Literal["acked", "held"]) -> int:
        """Move every event of `table` back into the sending queue."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            n = self._db.execute("INSERT OR IGNORE INTO events (seq, key, payload, created_at, hash) "
                                 f"SELECT seq, key, payload, created_at, hash FROM {table}").rowcount
            self._db.execute(f"DELETE FROM {table}")
            self._db.execute("COMMIT")
            self._scan_from = -1
        return n

    def hold(self, rejected: dict[str, str]) -> int:
        """The hub refused these events: keep them aside (never deleted, not resent on a timer) with the
        reason, until `release_held` (the hub asks for a resend, or after re-registration)."""
        n = 0
        now = datetime.now(timezone.utc).isoformat()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for key, reason in rejected.items():
                    moved = self._db.execute(
                        "INSERT OR IGNORE INTO held (seq, key, payload, created_at, hash, reason, held_at) "
                        "SELECT seq, key, payload, created_at, hash, ?, ? FROM events WHERE key = ?",
                        (reason[:200], now, key)).rowcount
                    if moved:
                        seq = self._db.execute("SELECT seq FROM held WHERE key = ?", (key,)).fetchone()[0]
                        self._db.execute("DELETE FROM events WHERE seq = ?", (seq,))
                        self._sent.pop(seq, None)
                    n += moved
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n

    def digest(self, key: str) -> str | None:
        """The hash prefix (as in acks) of the pending event with this key, or None."""
        with self._lock:
            row = self._db.execute("SELECT hash FROM events WHERE key = ?", (key,)).fetchone()
        return row[0][:HASH_PREFIX_LEN] if row and row[0] else None

    def held(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, reason FROM held ORDER BY seq").fetchall())

    def release_held(self) -> int:
        """Put held events back in the sending queue."""
        return self._requeue("held")

    # -- epoch reports ----------------------------------------------------------------------------------
    def pending_reports(self) -> list[dict]:
        """Announcements of epochs this outbox started (with any loss found) that the hub has not yet
        acknowledged, oldest first: OutboxReport fields without device_id, key and sig."""
        with self._lock:
            rows = self._db.execute("SELECT body FROM reports WHERE acked_at IS NULL ORDER BY created_at").fetchall()
        return [json.loads(r[0]) for r in rows]

    def report_acknowledged(self, epoch: int) -> bool:
        """The hub recorded the report of `epoch` (kept, marked acknowledged). False if none was pending."""
        with self._lock:
            return self._db.execute("UPDATE reports SET acked_at = ? WHERE epoch = ? AND acked_at IS NULL",
                                    (datetime.now(timezone.utc).isoformat(), epoch)).rowcount == 1

    # -- state ----------------------------------------------------------------------------------------
    def depth(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def holds(self, key: str) -> bool:
        """Whether the event `key` still waits for the hub's acknowledgement."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM events WHERE key = ?", (key,)).fetchone() is not None

    def last_seq(self) -> int:
        with self._lock:
            return self._db.execute("SELECT last_seq FROM chain").fetchone()[0]

    def last_captured_at(self) -> datetime | None:
        """Capture time of the newest event ever recorded (survives acknowledgement and restarts)."""
        with self._lock:
            row = self._db.execute("SELECT last_captured_at FROM chain").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self.watermark.close()
