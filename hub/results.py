"""Attendance results kept up to date as events arrive: the web app's board and month come from here,
not from raw events recomputed on every request.

One entry per (OPD, month) holds that OPD's staff, their punches (read from the store once through the
employee index, then one punch per stored event), each employee's resolved month and TPP, and the rendered
views. A stored event marks its employee's row dirty and the next read recomputes that row only (one
employee-month, about half a millisecond). Events reach the entries three ways: the hub's `on_stored`
hook (immediately), a poll of the store for events stored by other hub processes (every `poll_s`), and the
entry's own read of the store when it is built; keys de-duplicate the three. Any audited change of master
data (staff, leave, duty orders, sites, corrections, holidays) drops every entry. Results that depend on
the clock (today while it is under way) carry the next moment they can change and are recomputed then.

Rendered views (the JSON bytes a route returns, with an ETag) are kept per entry. Once a view has been asked
for, a background thread re-renders it as soon as an event or a change concerns it (and rebuilds a dropped
entry), for as long as someone asked for it in the last `keep_fresh_s`: the dashboards that all reload after
a check-in find the new view ready instead of each waiting for it. A request never gets a view older than what
the hub has stored: while an event waits to be rendered, `ready` says no and the request waits for the render
in progress (one render, however many requests).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time as monotonic_time
import weakref
from bisect import bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import select

from hub.attendance import Attendance
from hub.master import AuditLog, Employee, Opd
from hub.payroll.punches import punches_by_employee
from hub.registry import DeviceRegistry
from hub.store.base import StoredEvent
from hub.tpp.compute import TppResult, compute_tpp
from hub.tpp.policy import Policy
from hub.tpp.resolve import (
    DUTY,
    LEAVE,
    DayResult,
    Punch,
    month_days,
    resolve_month,
    shift_bounds,
    windows,
    workday_for,
)
from hub.tpp.resolve import Employee as RuleEmployee

log = logging.getLogger(__name__)

# Codes of a day still under way (the same names as the provisional rules of hub/tpp).
NOT_YET = "BELUM"  # the check-in window has not opened
AWAITING_CHECKIN = "BELUM_HADIR"  # no check-in yet, the check-in window is open
AWAITING_CHECKOUT = "BELUM_PULANG"  # no check-out yet, the check-out window is open

# Audited tables that never change attendance: a change there must not drop the results.
_NOT_ATTENDANCE = ("audit_log", "api_user", "user", "token", "session", "login", "password")


def _refresh_loop(ref: weakref.ref[LiveResults], wakeup: threading.Event) -> None:
    """The background thread of `LiveResults`: woken by every stored event, and every `poll_s / 2` otherwise;
    it ends when nobody asked for a view for `keep_fresh_s` (the next request starts it again)."""
    wait_s = 0.0
    while True:
        wakeup.wait(wait_s)
        wakeup.clear()
        results = ref()
        if results is None or not results.background:
            return
        try:
            kept = results.refresh_kept()
        except Exception:  # keep refreshing; a request renders for itself meanwhile
            log.exception("refreshing the kept views failed")
            kept = 1
        if not kept:
            results._refresher = None
            return
        wait_s = results.poll_s / 2
        del results


def as_of(policy: Policy, employee: RuleEmployee, day: DayResult, now: datetime) -> tuple[DayResult, bool]:
    """`day` (resolved as if complete) as it stands at `now`, and whether it may still change.

    Before the check-in window opens nothing has happened (BELUM); while it is open a day without any punch
    is BELUM_HADIR, not TK; while the check-out window is open a missing check-out is BELUM_PULANG, not PSW4.
    """
    workday = workday_for(policy, employee, day.date)
    if workday is None:
        return day, False
    opens, midpoint, closes = windows(policy, *shift_bounds(policy, workday, day.date))
    if now > closes:
        return day, False
    if now < opens:
        return replace(day, code=NOT_YET, deductions=(), checkin=None, checkout=None, note="belum terjadi"), True
    if day.code in (LEAVE, DUTY):
        return day, True
    if day.checkin is None and day.checkout is None:
        if now < midpoint:
            return replace(day, code=AWAITING_CHECKIN, deductions=(), note="belum presensi masuk"), True
        return day, True  # TK unless a punch still comes before the check-out window closes
    if day.checkout is None:
        kept = tuple(d for d in day.deductions if d.code != policy.missing.checkout_code
                     or not d.rule.startswith("missing.checkout_code"))
        code = "+".join([d.code for d in kept] + [AWAITING_CHECKOUT])
        return replace(day, code=code, deductions=kept), True
    return day, True


def day_edges(policy: Policy, employee: RuleEmployee, day: date) -> list[datetime]:
    """The moments of `day` at which its result can change without any new event."""
    workday = workday_for(policy, employee, day)
    if workday is None:
        return []
    return list(windows(policy, *shift_bounds(policy, workday, day)))


@dataclass
class Row:
    """One employee's month as of the entry's last computation."""

    employee: Employee
    tpp: TppResult
    provisional_days: frozenset[date] = frozenset()


@dataclass
class View:
    """A rendered view of an entry: the bytes a route returns (also gzipped, once, for browsers: the board's
    43 kB become about 2.3 kB), their ETag, and how to render it again."""

    version: int  # the entry's version it shows
    body: bytes
    gzipped: bytes
    etag: str
    render: Callable[[Entry, datetime], bytes]
    asked: float = 0.0  # monotonic time of the last request for it


@dataclass
class Entry:
    """The results of one OPD for one month (see the module docstring)."""

    opd: str
    month: str
    generation: int
    lo: datetime  # punches of [lo, hi) feed the month (a day either side for overnight shifts)
    hi: datetime
    lock: threading.Lock = field(default_factory=threading.Lock)
    built: bool = False
    staff: dict[str, Employee] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)  # registered to the OPD when the entry was built
    rules: dict[str, RuleEmployee] = field(default_factory=dict)
    places: dict | None = None
    excuses: dict = field(default_factory=dict)
    holidays: list[date] = field(default_factory=list)
    punches: dict[str, list[Punch]] = field(default_factory=dict)
    unknown: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, event key, device)
    seen_keys: set[str] = field(default_factory=set)
    pending: list[StoredEvent] = field(default_factory=list)
    rows: dict[str, Row] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    valid_until: datetime | None = None  # the clock makes the rows stale from then on
    computed_at: datetime | None = None
    version: int = 0  # bumped whenever a row or the unknown faces change
    views: dict[str, View] = field(default_factory=dict)
    fragments: dict[tuple, tuple] = field(default_factory=dict)  # encoded parts of views, per employee (views.py)
    edges: tuple[date, list[datetime]] | None = None  # a day and the moments its staff's codes can change
    ahead: dict[str, datetime] = field(default_factory=dict)  # per employee, the first punch stamped after `now`

    def covers(self, at: datetime) -> bool:
        return self.lo <= at < self.hi


class LiveResults:
    """Per-(OPD, month) results kept current; thread-safe (ingest threads feed it, API threads read it)."""

    def __init__(self, attendance: Attendance, registry: DeviceRegistry, *,
                 clock: Callable[[], datetime] | None = None, max_entries: int = 256, poll_s: float = 2.0,
                 keep_fresh_s: float = 120.0, background: bool = True):
        self.attendance, self.registry = attendance, registry
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.max_entries, self.poll_s, self.keep_fresh_s = max_entries, poll_s, keep_fresh_s
        self.background = background  # re-render asked-for views off the request path (see the module docstring)
        self._wakeup = threading.Event()
        self._refresher: threading.Thread | None = None
        self._dropped: list[tuple[str, str, str, View]] = []  # views of dropped entries, to render again
        self.renders = 0  # views rendered (for tests and the bench)
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self._generation = 0
        self._opd_of: dict[str, str] | None = None
        self._opd_names: dict[str, str] | None = None
        self._device_opd: dict[str, str | None] = {}
        self._device_opd_at = 0.0
        self._audit_cursor = self._last_audit_id()
        self._master_touched = False
        self._store_cursor = 0
        self._next_poll = 0.0
        self._poll_lock = threading.Lock()
        self.builds = 0  # entries built from the store (for tests and the bench)
        self.row_computations = 0
        if hasattr(attendance.store, "stored_since"):
            _, self._store_cursor = attendance.store.stored_since(0)
        # A change of master data in this process is seen at the next read, not after the next poll.
        self._mark = f"hadir_attendance_changed_{id(self)}"  # one per instance: each must see its commits
        orm_event.listen(attendance.master._sessions, "after_flush", self._flushed)
        orm_event.listen(attendance.master._sessions, "after_commit", self._committed)

    # ------------------------------------------------------------------------------------- feeding

    def on_stored(self, item: StoredEvent) -> None:
        """The hub stored `item` (called from an ingest thread): hand it to the entries it concerns."""
        self._route([item])
        self._wakeup.set()

    def _route(self, items: Iterable[StoredEvent]) -> None:
        by_opd: dict[str | None, list[StoredEvent]] = {}
        for item in items:
            ev = item.event
            opd = self._employee_opd(ev.employee_id) if ev.employee_id else self._opd_of_device(ev.device_id)
            if opd is not None:
                by_opd.setdefault(opd, []).append(item)
        if not by_opd:
            return
        with self._lock:
            for (opd, _), entry in self._entries.items():
                for item in by_opd.get(opd, ()):
                    if entry.covers(item.event.captured_at):
                        entry.pending.append(item)

    def _employee_opd(self, nip: str) -> str | None:
        mapping = self._opd_of
        if mapping is None:
            mapping = {e.nip: e.opd_code for e in self.attendance.master.employees()}
            self._opd_of = mapping
        return mapping.get(nip)

    def _opd_of_device(self, device_id: str) -> str | None:
        now = monotonic_time.monotonic()
        if device_id not in self._device_opd or now - self._device_opd_at > 60:
            self._device_opd = {d.device_id: d.opd for d in self.registry.all()}
            self._device_opd_at = now
        return self._device_opd.get(device_id)

    def _flushed(self, session: Any, _context: Any) -> None:
        changed = [*session.new, *session.dirty, *session.deleted]
        if any(not any(word in getattr(o, "__tablename__", "") for word in _NOT_ATTENDANCE) for o in changed):
            session.info[self._mark] = True

    def _committed(self, session: Any) -> None:
        if session.info.pop(self._mark, False):
            self._master_touched = True

    def _last_audit_id(self) -> int:
        with self.attendance.master.session() as s:
            return s.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1)) or 0

    def _poll(self, early_s: float = 0.0) -> None:
        """Master data changed (here or by another process: every change is audited) and events stored by
        another hub process: at most every `poll_s`, or at once after a change made in this process. The
        background thread polls `early_s` ahead of time, so requests seldom find a poll due."""
        now = monotonic_time.monotonic()
        if not self._master_touched and now < self._next_poll - early_s:
            return
        with self._poll_lock:
            if not self._master_touched and now < self._next_poll - early_s:
                return
            self._master_touched = False
            self._next_poll = now + self.poll_s
            with self.attendance.master.session() as s:
                rows = s.execute(select(AuditLog.id, AuditLog.entity, AuditLog.detail)
                                 .where(AuditLog.id > self._audit_cursor).order_by(AuditLog.id)).all()
            if rows:
                self._audit_cursor = rows[-1][0]
                changed = self._opds_changed([(entity, detail) for _, entity, detail in rows])
                if changed is not None:
                    self.invalidate(changed)
            since = getattr(self.attendance.store, "stored_since", None)
            if since is not None:
                items, self._store_cursor = since(self._store_cursor)
                self._route(items)

    def _opds_changed(self, changes: list[tuple[str, dict]]) -> set[str] | None:
        """The OPDs whose results audited changes (entity, detail) touch; an empty set for all of them, None
        for none. Leave, duty orders and corrections concern their employee's OPD, a site its OPD; anything
        else that is not about users (staff moving, holidays, OPDs) may concern every OPD."""
        opds: set[str] = set()
        for entity, detail in changes:
            if any(word in entity for word in _NOT_ATTENDANCE):
                continue
            detail = detail or {}
            if entity in ("leave", "duty_order", "correction") and detail.get("nip"):
                opd = self._employee_opd(detail["nip"])
            elif entity == "site":
                opd = detail.get("opd_code")
            else:
                opd = None
            if opd is None:
                return set()
            opds.add(opd)
        return opds or None

    def invalidate(self, opds: set[str] | None = None) -> None:
        """Drop the entries of `opds` (every entry when empty or None): the next read rebuilds what it needs."""
        with self._lock:
            dropped = [k for k in self._entries if not opds or k[0] in opds]
            if self.background and self._refresher is not None:  # it rebuilds the views being watched
                recent = monotonic_time.monotonic() - self.keep_fresh_s
                self._dropped += [(opd, month, name, view) for opd, month in dropped
                                  for name, view in self._entries[(opd, month)].views.items() if view.asked >= recent]
            if opds:
                for key in dropped:
                    del self._entries[key]
                return
            self._generation += 1
            self._entries.clear()
            self._opd_of = None
            self._opd_names = None

    def opd_name(self, code: str) -> str | None:
        """The name of OPD `code`, None if there is no such OPD (kept until master data changes)."""
        self._poll()
        return self.name_of(code)

    def name_of(self, code: str) -> str | None:
        """`opd_name` without looking for changes first (for renderers, which run under an entry's lock)."""
        names = self._opd_names
        if names is None:
            names = {o.code: o.name for o in self.attendance.master.list(Opd)}
            self._opd_names = names
        return names.get(code)

    # ------------------------------------------------------------------------------------- reading

    def entry(self, opd: str, month: str, now: datetime | None = None) -> Entry:
        """The current results of `opd` for `month` as of `now` (default: the clock). The caller reads the
        returned entry under `entry.lock` if it needs a consistent view (see `render`)."""
        now = now or self.clock()
        self._poll()
        key = (opd, month)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.generation != self._generation:
                tz = self.attendance.tz
                days = month_days(month)
                entry = Entry(opd, month, self._generation,
                              datetime.combine(days[0] - timedelta(days=1), time.min, tz),
                              datetime.combine(days[-1] + timedelta(days=2), time.min, tz))
                self._entries[key] = entry
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
        with entry.lock:
            if not entry.built:
                self._build(entry)
            self._apply_pending(entry)
            self._refresh(entry, now)
        return entry

    def render(self, opd: str, month: str, name: str, render: Callable[[Entry, datetime], bytes],
               now: datetime | None = None) -> View:
        """View `name` of the entry as of `now`: `render(entry, now)` once per entry version, kept, and from
        now on re-rendered in the background when something changes it (see the module docstring)."""
        now = now or self.clock()
        entry = self.entry(opd, month, now)
        with entry.lock:
            view = entry.views.get(name)
            if view is None or view.version != entry.version:
                view = self._render(entry, name, render, now)
            view.asked = monotonic_time.monotonic()
        self._start_refresher()
        return view

    def _render(self, entry: Entry, name: str, render: Callable[[Entry, datetime], bytes], now: datetime) -> View:
        """Render and keep view `name` of `entry` (the caller holds `entry.lock`)."""
        body = render(entry, now)
        old = entry.views.get(name)
        view = View(entry.version, body, gzip.compress(body, 6, mtime=0),
                    '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"', render, old.asked if old else 0.0)
        entry.views[name] = view
        self.renders += 1
        return view

    def ready(self, opd: str, month: str, name: str, now: datetime) -> View | None:
        """The kept view if nothing can have changed it (no event waiting, no master change or store poll due,
        no window edge passed), else None: a cheap check that never touches a database, so an async route
        can answer without leaving the event loop and hand everything else to a thread (`render`)."""
        if self._master_touched or monotonic_time.monotonic() >= self._next_poll:
            return None
        entry = self._entries.get((opd, month))
        if (entry is None or not entry.built or entry.generation != self._generation or entry.pending
                or entry.dirty or entry.computed_at is None or now < entry.computed_at
                or (entry.valid_until is not None and now >= entry.valid_until)):
            return None
        view = entry.views.get(name)
        if view is None or view.version != entry.version:
            return None
        view.asked = monotonic_time.monotonic()
        return view

    # ------------------------------------------------------------------------------- background

    def _start_refresher(self) -> None:
        if not self.background or self._refresher is not None:
            return
        with self._lock:
            if self._refresher is None:
                # The thread holds the results weakly: it ends when they are dropped (tests make many apps).
                self._refresher = threading.Thread(target=_refresh_loop, args=(weakref.ref(self), self._wakeup),
                                                   name="hadir-results", daemon=True)
                self._refresher.start()

    def close(self) -> None:
        """Stop the background thread (it also stops by itself once these results are dropped)."""
        self.background = False
        self._wakeup.set()

    def refresh_kept(self) -> int:
        """Bring every view asked for in the last `keep_fresh_s` up to date: poll, apply waiting events, follow
        the clock, re-render, rebuild dropped entries. Returns how many views are being kept fresh."""
        self._poll(early_s=self.poll_s / 2)
        now = self.clock()
        recent = monotonic_time.monotonic() - self.keep_fresh_s
        kept = 0
        with self._lock:
            entries = list(self._entries.values())
            dropped, self._dropped = self._dropped, []
        for entry in entries:
            asked = sum(1 for v in list(entry.views.values()) if v.asked >= recent)
            kept += asked
            if not asked:
                continue
            with entry.lock:
                if not entry.built:
                    continue  # a request is building it
                self._apply_pending(entry)
                self._refresh(entry, now)
                for name, view in list(entry.views.items()):
                    if view.asked >= recent and view.version != entry.version:
                        self._render(entry, name, view.render, now)
        for opd, month, name, view in dropped:
            if view.asked >= recent and self.opd_name(opd) is not None:
                self.render(opd, month, name, view.render, now).asked = view.asked
                kept += 1
        return kept

    def known_opd(self, code: str) -> bool | None:
        """Whether OPD `code` exists, from the kept names (None: not known without asking the database)."""
        names = self._opd_names
        if names is None or self._master_touched or monotonic_time.monotonic() >= self._next_poll:
            return None
        return code in names

    # ------------------------------------------------------------------------------------ building

    def _build(self, entry: Entry) -> None:
        att, master = self.attendance, self.attendance.master
        self.builds += 1
        staff = master.employees(entry.opd)
        entry.staff = {e.nip: e for e in staff}
        entry.rules = {e.nip: e.rule(att.policy.shifts) for e in staff}
        nips = set(entry.staff)
        places = att.places()
        entry.places = None if places is None else {n: places.get(n, []) for n in nips}
        entry.excuses = master.excuses_by_nip(nips)
        entry.holidays = master.holidays()
        entry.devices = {d.device_id for d in self.registry.all() if d.opd == entry.opd}
        items = att.store.events_of(nips, entry.devices, entry.lo, entry.hi)
        entry.punches = {n: [] for n in nips}
        self._add_events(entry, items)
        for c in master.corrections(entry.lo, entry.hi):
            if c.nip in nips:
                insort(entry.punches[c.nip], Punch(c.at, ref=f"correction:{c.id}"), key=lambda p: p.at)
        entry.dirty = set(nips)
        entry.built = True

    def _add_events(self, entry: Entry, items: Iterable[StoredEvent]) -> None:
        fresh = [i for i in items if i.key not in entry.seen_keys and entry.covers(i.event.captured_at)]
        if not fresh:
            return
        entry.seen_keys.update(i.key for i in fresh)
        for item in fresh:
            if item.event.employee_id is None:
                entry.unknown.append((item.event.captured_at, item.key, item.event.device_id))
                entry.version += 1
        employees = [i for i in fresh if i.event.employee_id in entry.staff]
        for nip, punches in punches_by_employee(employees, entry.places, self.attendance.tz).items():
            target = entry.punches.setdefault(nip, [])
            for p in punches:
                insort(target, p, key=lambda p: p.at)
            entry.dirty.add(nip)

    def _apply_pending(self, entry: Entry) -> None:
        with self._lock:
            pending, entry.pending = entry.pending, []
        self._add_events(entry, pending)

    def _refresh(self, entry: Entry, now: datetime) -> None:
        if entry.valid_until is not None and now >= entry.valid_until:
            entry.dirty = set(entry.staff)  # a window opened or closed: today's codes may differ
        if entry.computed_at is not None and now < entry.computed_at:
            entry.dirty = set(entry.staff)  # asked about an earlier moment (tests, a clock set back)
        if not entry.dirty:
            return
        policy = self.attendance.policy
        tz = self.attendance.tz
        today = now.astimezone(tz).date()
        days = month_days(entry.month)
        current = days[0] <= today <= days[-1]
        until = today if current else (days[0] - timedelta(days=1) if today < days[0] else None)
        for nip in entry.dirty:
            emp, rule = entry.staff[nip], entry.rules[nip]
            punches = entry.punches.get(nip, [])
            entry.ahead.pop(nip, None)
            if current:  # as of `now`: a punch stamped later (a device clock ahead) has not happened yet
                cut = bisect_right(punches, now, key=lambda p: p.at)
                if cut < len(punches):
                    entry.ahead[nip] = punches[cut].at  # it counts from then on: the row changes then
                punches = punches[:cut]
            resolved = resolve_month(policy, rule, entry.month, punches, entry.excuses.get(nip, []), entry.holidays,
                                     until=until)
            provisional: set[date] = set()
            if current and resolved and resolved[-1].date == today:
                last, still_open = as_of(policy, rule, resolved[-1], now)
                resolved[-1] = last
                if still_open:
                    provisional.add(today)
            tpp = compute_tpp(policy, rule, entry.month, resolved)
            entry.rows[nip] = Row(emp, tpp, frozenset(provisional))
            self.row_computations += 1
        entry.dirty = set()
        entry.version += 1
        entry.computed_at = now
        entry.valid_until = self._next_change(entry, now, current, days, today)

    def _next_change(self, entry: Entry, now: datetime, current: bool, days: list[date],
                     today: date) -> datetime | None:
        tz = self.attendance.tz
        if today > days[-1]:
            return None  # the month is over: only events or master data change it
        if today < days[0]:
            return datetime.combine(days[0], time.min, tz)
        edges = [datetime.combine(today + timedelta(days=1), time.min, tz)]
        if current:
            if entry.edges is None or entry.edges[0] != today:  # the same for every event of the day
                entry.edges = (today, sorted({e for rule in entry.rules.values()
                                              for e in day_edges(self.attendance.policy, rule, today)}))
            later = entry.edges[1][bisect_right(entry.edges[1], now):]
            edges += later[:1]
            edges += [min(entry.ahead.values()) - timedelta(seconds=1)] if entry.ahead else []
        # A second after the edge: the rules compare with <= / <.
        return min(edges) + timedelta(seconds=1)
