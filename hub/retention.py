"""Retention: delete what is past its period (HubSettings.retention), and audit every run.

What goes, and when (docs/privacy.md is the reader's version of this list):
- attendance events captured *and* received before the events cutoff, as a prefix of each device's chain:
  the last deleted event becomes the device's chain anchor, so verification links the first kept event to
  it (hub/audit.py). An old event that follows a kept one in its chain (a device clock that went back)
  waits until the chain before it goes, and the report counts it as kept for the chain;
- refused messages in quarantine received before the quarantine cutoff;
- GPS fixes (kept for the copied-coordinates check) captured before the GPS cutoff;
- master-data audit-log rows older than the logs cutoff (the row of this run is written after);
- every face template of an employee whose end date is more than `templates_after_leaving_days` ago, and
  of a NIP no longer in the master data at all; devices get the smaller gallery at the next push (the hub
  service pushes at once).

Every period ends at midnight WIT, so a dry run and the real run on the same day agree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import delete, func, select

from hadir.wit import WIT
from hub.config import Retention
from hub.ingest.gps_checks import GpsHistory
from hub.ingest.quarantine import Quarantine
from hub.master import AuditLog, Base, Employee, MasterData
from hub.registry import DeviceRegistry
from hub.store.base import EventStore

log = logging.getLogger(__name__)
ACTOR = "retention"


@dataclass(frozen=True)
class Cutoffs:
    """Everything before these instants (UTC) is past its period; leavers are those whose end date is before
    `left_before`."""

    events: datetime
    quarantine: datetime
    gps: datetime
    logs: datetime
    left_before: date

    @classmethod
    def at(cls, periods: Retention, now: datetime) -> Cutoffs:
        today = now.astimezone(WIT).date()

        def midnight(days: int) -> datetime:
            return datetime.combine(today - timedelta(days=days), time(0), WIT).astimezone(timezone.utc)

        return cls(midnight(periods.events_days), midnight(periods.quarantine_days),
                   midnight(periods.gps_history_days), midnight(periods.logs_days),
                   today - timedelta(days=periods.templates_after_leaving_days))


@dataclass(frozen=True)
class DeviceCut:
    device_id: str
    events: int  # deleted (or, in a dry run, to delete)
    through_seq: int
    last_hash: str  # hash of the last deleted event: the device's new chain anchor
    kept_for_chain: int = 0


@dataclass
class RetentionReport:
    at: datetime
    dry_run: bool
    cutoffs: Cutoffs
    devices: list[DeviceCut] = field(default_factory=list)
    kept_for_chain: dict[str, int] = field(default_factory=dict)
    quarantine: int = 0
    gps_fixes: int = 0
    logs: int = 0
    templates: dict[str, int] = field(default_factory=dict)  # NIP -> templates
    gallery_version: int | None = None  # the new version when templates went

    @property
    def events(self) -> int:
        return sum(d.events for d in self.devices)

    def detail(self) -> dict:
        """What the audit row keeps: counts, cutoffs and each device's cut (seq and hash), never personal data
        beyond the NIPs whose templates were deleted."""
        c = self.cutoffs
        return {
            "cutoffs": {"events": c.events.isoformat(), "quarantine": c.quarantine.isoformat(),
                        "gps": c.gps.isoformat(), "logs": c.logs.isoformat(), "left_before": c.left_before.isoformat()},
            "events": self.events, "quarantine": self.quarantine, "gps_fixes": self.gps_fixes, "logs": self.logs,
            "devices": {d.device_id: {"events": d.events, "through_seq": d.through_seq, "last_hash": d.last_hash}
                        for d in self.devices},
            "kept_for_chain": self.kept_for_chain, "templates": self.templates,
            "gallery_version": self.gallery_version,
        }


def _db_time(master: MasterData, value: datetime) -> datetime:
    # SQLite keeps no zone (SQLAlchemy writes UTC wall time there); PostgreSQL compares zone-aware values.
    utc = value.astimezone(timezone.utc)
    return utc.replace(tzinfo=None) if master.engine.dialect.name == "sqlite" else utc


@dataclass
class RetentionJob:
    periods: Retention
    store: EventStore
    registry: DeviceRegistry
    quarantine: Quarantine
    gps: GpsHistory
    master: MasterData

    def run(self, now: datetime | None = None, *, dry_run: bool = False) -> RetentionReport:
        """Delete (or, with dry_run, only count) what is past its period; audit the run unless dry."""
        now = now or datetime.now(timezone.utc)
        report = RetentionReport(now, dry_run, Cutoffs.at(self.periods, now))
        self._events(report)
        c = report.cutoffs
        report.quarantine = self.quarantine.older_than(c.quarantine, delete=not dry_run)
        report.gps_fixes = self.gps.older_than(c.gps, delete=not dry_run)
        self._templates(report)
        with self.master.session() as s:
            old = AuditLog.at < _db_time(self.master, c.logs)
            if dry_run:
                report.logs = s.scalar(select(func.count()).select_from(AuditLog).where(old)) or 0
            else:
                report.logs = s.execute(delete(AuditLog).where(old)).rowcount
                s.add(AuditLog(at=now, actor=ACTOR, action="delete", entity="retention_run",
                               entity_id=now.isoformat()[:64], detail=report.detail()))
        return report

    def _events(self, report: RetentionReport) -> None:
        for device in self.store.devices():
            expired = self.store.expired(device, report.cutoffs.events)
            first_kept = expired.first_kept_seq
            prefix = [c for c in expired.candidates if first_kept is None or c[0] < first_kept]
            kept = len(expired.candidates) - len(prefix)
            if kept:
                report.kept_for_chain[device] = kept
            if not prefix:
                continue
            seq, digest = prefix[-1]
            if not report.dry_run:
                # Anchor first: a crash between the two leaves an anchor that verification ignores while the
                # events are still there, never deleted events without their anchor.
                self.registry.set_chain_anchor(device, seq, digest, report.at)
                deleted = self.store.delete_through(device, seq)
            else:
                deleted = len(prefix)
            report.devices.append(DeviceCut(device, deleted, seq, digest, kept))

    def _templates(self, report: RetentionReport) -> None:
        from hub.enrolment import Template, bump_gallery_version  # the template model lives with enrolment
        # A master database made before any enrolment (and not migrated) has no template table yet.
        Base.metadata.create_all(self.master.engine, tables=[Template.__table__])
        with self.master.session() as s:
            counts = dict(s.execute(select(Template.nip, func.count()).group_by(Template.nip)).all())
            left = set(s.scalars(select(Employee.nip).where(Employee.end.is_not(None),
                                                            Employee.end < report.cutoffs.left_before)))
            # Templates of a NIP no longer in the master data (the employee was removed) serve nothing either.
            removed = set(counts) - set(s.scalars(select(Employee.nip)))
            for nip in sorted((left | removed) & set(counts)):
                report.templates[nip] = counts[nip]
                if not report.dry_run:
                    s.execute(delete(Template).where(Template.nip == nip))
                    why = "employee left" if nip in left else "employee removed from the master data"
                    s.add(AuditLog(at=report.at, actor=ACTOR, action="delete", entity="template", entity_id=nip,
                                   detail={"templates": counts[nip], "reason": f"retention: {why}"}))
        if report.templates and not report.dry_run:
            report.gallery_version = bump_gallery_version(self.master)


def seconds_until(run_at: str, now: datetime) -> float:
    """Seconds from `now` to the next `run_at` (HH:MM, WIT)."""
    hour, minute = (int(x) for x in run_at.split(":"))
    local = now.astimezone(WIT)
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return (target - local).total_seconds()


class DailyRetention:
    """Runs `job` every day at `run_at` (WIT) on a thread of the hub service until stopped."""

    def __init__(self, job: Callable[[], RetentionReport], run_at: str):
        self.job, self.run_at = job, run_at
        self.last: RetentionReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DailyRetention:
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(seconds_until(self.run_at, datetime.now(timezone.utc))):
            try:
                self.last = r = self.job()
            except Exception:
                # Nothing half-done is hidden: each step commits on its own and the next day's run retries.
                log.exception("retention run failed; it runs again tomorrow at %s WIT", self.run_at)
                continue
            log.info("retention: deleted %d events, %d quarantined messages, %d GPS fixes, %d audit-log rows, "
                     "templates of %d people who left", r.events, r.quarantine, r.gps_fixes, r.logs, len(r.templates))

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
