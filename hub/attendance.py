"""Glue between the stores and the pure rules: events + master data -> days and TPP for the API.

Every call takes `now`, the moment of the request (the API's injectable clock): days that have not happened
are not resolved and a month still under way is provisional.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hadir.geo import Place
from hub.master import DutyOrder, MasterData, Site
from hub.payroll.punches import punches_by_employee
from hub.store.base import EventStore
from hub.tpp.calendar import DayOff, days_off
from hub.tpp.compute import TppResult, compute_tpp, pp94_report
from hub.tpp.policy import Policy
from hub.tpp.ramadan import RamadanStatus, ramadan_status
from hub.tpp.resolve import (
    NOT_YET,
    DayResult,
    Punch,
    describe,
    employed,
    is_working_day,
    month_days,
    month_days_off,
    resolve_day,
    resolve_month,
    workday_for,
)


def _board_words(day: DayResult | None, off: DayOff | None) -> str:
    if day is None:
        return f"libur ({off.explain()})" if off else "bukan hari kerja"
    return "belum hadir" if day.code == NOT_YET else describe(day)  # today, before the check-in window opens


@dataclass
class Attendance:
    store: EventStore
    master: MasterData
    policy: Policy

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.policy.timezone)

    def rules(self) -> Policy:
        """The policy with the Ramadan dates admins confirmed in master data."""
        return self.policy.with_ramadan(self.master.ramadan())

    def ramadan(self, today: date) -> RamadanStatus:
        """The coming Ramadan: expected dates and whether they are confirmed (policy or master data)."""
        return ramadan_status(today, self.rules().ramadan)

    def places(self) -> dict[str, list[Place]] | None:
        """Where each employee may check in: the sites of their OPD and their duty-order destinations.
        None (no geofence) while the city has not entered any site."""
        sites = self.master.list(Site)
        if not sites:
            return None
        by_opd: dict[str, list[Place]] = {}
        for s in sites:
            by_opd.setdefault(s.opd_code, []).append(Place(s.lat, s.lon, s.radius_m, s.name))
        out = {e.nip: list(by_opd.get(e.opd_code, [])) for e in self.master.employees()}
        for d in self.master.list(DutyOrder):
            if d.lat is not None and d.lon is not None:
                out.setdefault(d.nip, []).append(Place(d.lat, d.lon, d.radius_m, d.number, d.start, d.end))
        return out

    def _punches(self, start: date, end: date) -> dict:
        # A margin of a day either side: overnight shifts and late check-outs cross midnight.
        lo = datetime.combine(start - timedelta(days=1), time.min, self.tz)
        hi = datetime.combine(end + timedelta(days=2), time.min, self.tz)
        punches = punches_by_employee(self.store.between(lo, hi), self.places(), self.tz)
        for c in self.master.corrections(lo, hi):
            punches.setdefault(c.nip, []).append(Punch(c.at, ref=f"correction:{c.id}"))
        for items in punches.values():
            items.sort(key=lambda p: p.at)
        return punches

    def pp94(self, year: int, opd_code: str | None, now: datetime) -> list[dict]:
        """PP 94/2021: cumulative TK days of the year so far per employee, and the step reached."""
        today = now.astimezone(self.tz).date()
        months = [f"{year}-{m:02d}" for m in range(1, 13) if date(year, m, 1) <= today]
        by_nip: dict[str, list] = {}
        for month in months:
            for r in self.month(month, now, opd_code):
                by_nip.setdefault(r.nip, []).extend(r.days)
        out = []
        for nip, days in by_nip.items():
            report = pp94_report(self.policy, nip, days)
            out.append({"nip": nip, "tahun": year, "hari_tk": report.tk_days, "tk_berturut_terpanjang":
                        report.longest_streak, "tingkat_pp94": report.action,
                        "sementara": year == today.year})
        return out

    def month(self, month: str, now: datetime, opd_code: str | None = None, nip: str | None = None,
              productivity: dict[str, float] | None = None) -> list[TppResult]:
        """TPP of every employee in scope for `month` as of `now` (provisional while the month is under way)."""
        policy = self.rules()
        days = month_days(month)
        punches = self._punches(days[0], days[-1])
        city = self.master.holidays()
        staff = [e for e in self.master.employees(opd_code) if not nip or e.nip == nip]
        excuses = self.master.excuses_by_nip({e.nip for e in staff})
        out = []
        for emp in staff:
            rule = emp.rule(policy.shifts)
            resolved = resolve_month(policy, rule, month, punches.get(emp.nip, []), excuses.get(emp.nip, []),
                                     city, now=now)
            out.append(compute_tpp(policy, rule, month, resolved, (productivity or {}).get(emp.nip, 1.0), now,
                                   month_days_off(policy, rule, month, city)))
        return out

    def days(self, start: date, end: date, now: datetime, opd_code: str | None = None, nip: str | None = None
             ) -> list[tuple[str, DayResult | DayOff]]:
        """Each employee's working days in [start, end] as of `now`, and the scheduled days that are off
        (with the list they come from), in date order per employee."""
        policy = self.rules()
        punches = self._punches(start, end)
        hols = days_off(policy, {start.year, end.year}, self.master.holidays())
        staff = [e for e in self.master.employees(opd_code) if not nip or e.nip == nip]
        by_nip = self.master.excuses_by_nip({e.nip for e in staff})
        out: list[tuple[str, DayResult | DayOff]] = []
        for emp in staff:
            rule, excuses = emp.rule(policy.shifts), by_nip.get(emp.nip, [])
            day = start
            while day <= end:
                if is_working_day(policy, rule, day, hols):
                    out.append((emp.nip, resolve_day(policy, rule, day, punches.get(emp.nip, []), excuses, now)))
                elif day in hols and employed(rule, day) and workday_for(policy, rule, day) is not None:
                    out.append((emp.nip, hols[day]))
                day += timedelta(days=1)
        return out

    def today(self, opd_code: str | None, now: datetime) -> list[dict]:
        """The live board: who has checked in, when, and the code so far (provisional until the check-out
        window closes: "belum hadir" / "belum pulang" rather than TK / PSW4)."""
        today = now.astimezone(self.tz).date()
        resolved = self.days(today, today, now, opd_code)
        results = {nip: d for nip, d in resolved if isinstance(d, DayResult)}
        offs = {nip: d for nip, d in resolved if isinstance(d, DayOff)}
        start = datetime.combine(today, time.min, self.tz)
        seen: dict[str, tuple[datetime, str]] = {}
        for item in self.store.between(start, min(start + timedelta(days=1), now + timedelta(seconds=1))):
            ev = item.event
            if ev.employee_id and (ev.employee_id not in seen or ev.captured_at > seen[ev.employee_id][0]):
                seen[ev.employee_id] = (ev.captured_at, ev.key)
        board = []
        for emp in self.master.employees(opd_code):
            day = results.get(emp.nip)
            last = seen.get(emp.nip)
            off = offs.get(emp.nip)
            board.append({
                "nip": emp.nip, "nama": emp.name, "opd": emp.opd_code,
                "hari_kerja": day is not None,
                "masuk": day.checkin.at.astimezone(self.tz).strftime("%H:%M") if day and day.checkin else None,
                "pulang": day.checkout.at.astimezone(self.tz).strftime("%H:%M") if day and day.checkout else None,
                "terlambat_menit": day.late_min if day else 0,
                "kode": day.code if day else "LIBUR",
                "keterangan": _board_words(day, off),
                "sementara": day.provisional if day else False,
                "event": day.checkin.ref if day and day.checkin else None,
                # Latest recognition today, whether or not it falls in a check-in/out window.
                "terakhir_terlihat": last[0].astimezone(self.tz).strftime("%H:%M") if last else None,
                "event_terakhir": last[1] if last else None,
            })
        return board
