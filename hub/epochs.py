"""Each device's outbox epochs, as the hub knows them: announced by the device (OutboxReport) or seen in events.

A device announces every epoch it starts, with the range of sequence numbers it lost when its outbox was
damaged, deleted, rolled back or restored (edge/outbox/watermark.py). The hub keeps those reports here
(in the registry's file, so backups carry them), counts what it really lacks of each range, and flags an
epoch that appears in events without an announcement: a device whose outbox and watermark were both
replaced may have lost events nobody reported. Shown in the review list, the metrics and `verify-chain`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hadir.contract import OutboxReport, seq_number
from hadir.sqlite import connect
from hub.store.base import EventStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_epochs (
    device_id TEXT NOT NULL, epoch INTEGER NOT NULL, first_seen_at TEXT, first_seq INTEGER,
    reported_at TEXT, reason TEXT, lost_epoch INTEGER, lost_from INTEGER, lost_to INTEGER, lost_missing INTEGER,
    detail TEXT, PRIMARY KEY (device_id, epoch));
"""
# Added after the first release: when an officer checked an epoch's problem (the alert stops; audits still show it).
_LATER_COLUMNS = [("reviewed_at", "TEXT"), ("reviewed_by", "TEXT")]
# Ranges longer than this are not checked key by key (a watermark says what was issued, not what was sent).
MAX_CHECKED_RANGE = 50_000

REASONS_ID = {
    "outbox_missing": "berkas outbox perangkat hilang",
    "outbox_damaged": "berkas outbox perangkat rusak",
    "outbox_rolled_back": "outbox perangkat kembali ke keadaan lama (jurnal hilang setelah mati mendadak)",
    "outbox_restored": "outbox perangkat dipulihkan dari salinan lama",
    "new_outbox": "perangkat memulai outbox baru tanpa catatan outbox sebelumnya (diganti atau dihapus total)",
}


@dataclass(frozen=True)
class EpochRecord:
    device_id: str
    epoch: int
    first_seen_at: str | None
    first_seq: int | None
    reported_at: str | None
    reason: str | None
    lost_epoch: int | None
    lost_from: int | None
    lost_to: int | None
    lost_missing: int | None  # of the reported range, how many the hub does not hold (None: not counted)
    detail: str | None
    reviewed_at: str | None = None
    reviewed_by: str | None = None

    @property
    def announced(self) -> bool:
        return self.reported_at is not None

    @property
    def lost_range(self) -> str:
        if self.lost_from is None or self.lost_to is None:
            return "unknown range" if self.reason in ("outbox_damaged",) else ""
        return f"epoch {self.lost_epoch} seq {seq_number(self.lost_from)}..{seq_number(self.lost_to)}"

    def problem(self) -> str | None:
        """English, for logs and the audit; None when the epoch is unremarkable."""
        if not self.announced:
            return f"unannounced epoch change: epoch {self.epoch} appeared in events without the device reporting it"
        if self.reason == "new_outbox":
            return (f"epoch {self.epoch}: the device started a new outbox with no record of its previous one "
                    "(replaced or wiped); events it had not delivered are lost unreported")
        if self.reason in REASONS_ID:
            missing = "" if self.lost_missing is None else f", {self.lost_missing} of them not at the hub"
            return f"gap reported by device ({self.reason}): {self.lost_range or 'range unknown'}{missing}"
        return None


_COLUMNS = ("device_id, epoch, first_seen_at, first_seq, reported_at, reason, lost_epoch, lost_from, lost_to, "
            "lost_missing, detail, reviewed_at, reviewed_by")


class EpochLedger:
    def __init__(self, path: Path | str):
        self._lock = threading.Lock()
        self._db = connect(path, synchronous="FULL")
        self._db.executescript(_SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(device_epochs)")}
        for name, kind in _LATER_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE device_epochs ADD COLUMN {name} {kind}")
        self._seen: set[tuple[str, int]] = set()

    def record_report(self, report: OutboxReport, at: datetime, store: EventStore | None = None) -> EpochRecord:
        """Keep a device's (verified) report; counts what the hub lacks of its lost range. Idempotent: the first
        report of an epoch stands (`has_report` tells a first report from a repeat)."""
        missing = count_missing(store, report) if store is not None else None
        with self._lock:
            self._db.execute(
                "INSERT INTO device_epochs (device_id, epoch, reported_at, reason, lost_epoch, lost_from, lost_to, "
                "lost_missing, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(device_id, epoch) DO UPDATE SET "
                # The first report of an epoch stands: a later one (a resend, or another claim for the same
                # epoch) can neither erase a reported loss nor change it. Only a row that so far knew the epoch
                # from its events takes the report.
                "reported_at = COALESCE(reported_at, excluded.reported_at), "
                "reason = CASE WHEN reported_at IS NULL THEN excluded.reason ELSE reason END, "
                "lost_epoch = CASE WHEN reported_at IS NULL THEN excluded.lost_epoch ELSE lost_epoch END, "
                "lost_from = CASE WHEN reported_at IS NULL THEN excluded.lost_from ELSE lost_from END, "
                "lost_to = CASE WHEN reported_at IS NULL THEN excluded.lost_to ELSE lost_to END, "
                "lost_missing = CASE WHEN reported_at IS NULL THEN excluded.lost_missing ELSE lost_missing END, "
                "detail = CASE WHEN reported_at IS NULL THEN excluded.detail ELSE detail END",
                (report.device_id, report.epoch, at.isoformat(), report.reason, report.lost_epoch, report.lost_from,
                 report.lost_to, missing, report.detail))
            self._seen.add((report.device_id, report.epoch))
        return self.get(report.device_id, report.epoch)

    def has_report(self, device_id: str, epoch: int) -> bool:
        record = self.get(device_id, epoch)
        return record is not None and record.reported_at is not None

    def seen(self, device_id: str, epoch: int, seq: int, at: datetime) -> EpochRecord | None:
        """An event of this epoch was stored. The epoch's record the first time this process sees it (for the
        unannounced check), else None: one set lookup per event."""
        if (device_id, epoch) in self._seen:
            return None
        with self._lock:
            self._db.execute("INSERT INTO device_epochs (device_id, epoch, first_seen_at, first_seq) "
                             "VALUES (?, ?, ?, ?) ON CONFLICT(device_id, epoch) DO UPDATE SET "
                             "first_seen_at = COALESCE(first_seen_at, "
                             "excluded.first_seen_at), first_seq = MIN(COALESCE(first_seq, excluded.first_seq), "
                             "excluded.first_seq)", (device_id, epoch, at.isoformat(), seq))
            self._seen.add((device_id, epoch))
        return self.get(device_id, epoch)

    def get(self, device_id: str, epoch: int) -> EpochRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM device_epochs WHERE device_id = ? AND epoch = ?",
                                   (device_id, epoch)).fetchone()
        return EpochRecord(*row) if row else None

    def records(self, device_id: str | None = None) -> list[EpochRecord]:
        """Every known epoch (of one device), oldest sighting or report first."""
        where, args = ("WHERE device_id = ?", (device_id,)) if device_id else ("", ())
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM device_epochs {where} ORDER BY device_id, MIN("
                                    "COALESCE(first_seen_at, reported_at), COALESCE(reported_at, first_seen_at))",
                                    args).fetchall()
        return [EpochRecord(*r) for r in rows]

    def problems(self, device_id: str | None = None) -> list[EpochRecord]:
        """Reported losses, fresh outboxes after earlier ones and unannounced epoch changes. A device's first
        epoch is never a change (devices from before reports existed announce none)."""
        out, firsts = [], set()
        for rec in self.records(device_id):
            first = rec.device_id not in firsts
            firsts.add(rec.device_id)
            if first and (not rec.announced or rec.reason == "new_outbox"):
                continue
            if rec.problem() is not None:
                out.append(rec)
        return out

    def unannounced(self) -> int:
        """Unannounced epoch changes nobody has reviewed yet (what the alert counts)."""
        return sum(not r.announced and r.reviewed_at is None for r in self.problems())

    def mark_reviewed(self, device_id: str, epoch: int, by: str, at: datetime) -> bool:
        """An officer checked this epoch's problem (the device, what it lost): the alert stops counting it.
        The audit and the review list still show it. False if the epoch is unknown."""
        with self._lock:
            return self._db.execute("UPDATE device_epochs SET reviewed_at = ?, reviewed_by = ? WHERE device_id = ? "
                                    "AND epoch = ?", (at.isoformat(), by, device_id, epoch)).rowcount == 1


def count_missing(store: EventStore, report: OutboxReport) -> int | None:
    """How many sequence numbers of the report's lost range the store does not hold (None: no range, or too
    long to check key by key)."""
    if report.lost_from is None or report.lost_to is None or report.lost_count > MAX_CHECKED_RANGE:
        return None
    keys = [f"{report.device_id}:{s}" for s in range(report.lost_from, report.lost_to + 1)]
    held = 0
    for start in range(0, len(keys), 5000):
        held += len(store.hashes(keys[start:start + 5000]))
    return len(keys) - held
