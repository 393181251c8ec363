"""TPP for one employee and month from resolved days: pure arithmetic with every step explained."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from hub.tpp.calendar import DayOff
from hub.tpp.policy import Policy
from hub.tpp.resolve import ABSENT, NOT_YET, DayResult, Deduction, Employee


@dataclass(frozen=True)
class TppResult:
    nip: str
    month: str
    base: int
    productivity: float
    days: tuple[DayResult, ...]
    deductions: tuple[Deduction, ...]
    deduction_percent: float  # sum of all deductions before the cap
    applied_percent: float  # after the month cap
    zeroed: bool
    zero_reason: str
    discipline_amount: Decimal
    productivity_amount: Decimal
    final_amount: int
    policy: str
    provisional: bool = False  # the month is not over: days to come are not resolved, today may change
    as_of: datetime | None = None  # the moment of the calculation, in the policy's time zone
    days_off: tuple[DayOff, ...] = ()  # the month's scheduled days that are off, with the list they come from

    @property
    def days_not_yet(self) -> int:
        """Working days that have not started yet (code BELUM)."""
        return sum(1 for d in self.days if d.code == NOT_YET)

    @property
    def tk_days(self) -> int:
        """TK days that have happened (a provisional TK of today is not counted)."""
        return sum(1 for d in self.days if d.code == ABSENT and not d.provisional)

    def explanation(self) -> list[str]:
        """What a payroll officer reads, in Bahasa Indonesia."""
        lines = [f"TPP dasar Rp {self.base:,}".replace(",", "."),
                 f"Kebijakan: {self.policy}"]
        if self.provisional:
            when = f" per {self.as_of:%d-%m-%Y %H:%M}" if self.as_of else ""
            lines.append(f"SEMENTARA{when}: bulan belum selesai; {self.days_not_yet} hari kerja belum terjadi dan "
                         f"hari yang masih berlangsung dapat berubah. Hasil akhir setelah bulan berakhir.")
        for off in self.days_off:
            lines.append(f"{off.date:%d-%m-%Y} libur ({off.explain()})")
        for d in self.deductions:
            lines.append(f"{d.date:%d-%m-%Y} {d.code}: potongan {d.percent:g}% ({d.rule})")
        lines.append(f"Jumlah potongan {self.deduction_percent:g}%, diterapkan {self.applied_percent:g}% "
                     f"dari komponen disiplin")
        if self.zeroed:
            lines.append(f"TPP tidak dibayarkan: {self.zero_reason}")
        lines.append(f"Komponen disiplin Rp {self.discipline_amount:,.2f}; komponen produktivitas "
                     f"Rp {self.productivity_amount:,.2f} (capaian {self.productivity:.0%})")
        lines.append(f"TPP diterima Rp {self.final_amount:,}".replace(",", "."))
        return lines


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


def longest_tk_streak(days: Sequence[DayResult]) -> int:
    """Longest run of TK over consecutive working days (weekends and holidays do not break it).
    Only days that have happened count: a provisional day neither extends nor breaks a run."""
    best = run = 0
    for day in (d for d in days if not d.provisional):
        run = run + 1 if day.code == ABSENT else 0
        best = max(best, run)
    return best


def _served_in(employee: Employee, month: str) -> bool:
    """Whether any day of `month` (YYYY-MM) lies within the employee's service."""
    first = date.fromisoformat(f"{month}-01")
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return not (employee.start and employee.start > last or employee.end and employee.end < first)


def compute_tpp(policy: Policy, employee: Employee, month: str, days: Sequence[DayResult],
                productivity: float = 1.0, as_of: datetime | None = None,
                days_off: Sequence[DayOff] = ()) -> TppResult:
    """TPP of one employee for a month from its resolved days (`resolve_month`).

    Deductions are those of the days so far (a provisional day contributes what has already happened);
    the zeroing rules count only days that have happened. Raises ValueError for productivity outside 0..1."""
    if not 0.0 <= productivity <= 1.0:
        raise ValueError(f"productivity must be between 0 and 1, got {productivity}")
    deductions = tuple(d for day in days for d in day.deductions)
    total = float(sum(_dec(d.percent) for d in deductions))
    applied = min(total, policy.pay.month_cap_percent)

    tk_days = sum(1 for d in days if d.code == ABSENT and not d.provisional)
    streak = longest_tk_streak(days)
    z = policy.zeroing
    reason = ""
    if z.consecutive_tk_days and streak >= z.consecutive_tk_days:
        reason = f"TK {streak} hari kerja berturut-turut (batas {z.consecutive_tk_days})"
    elif z.tk_days_in_month and tk_days >= z.tk_days_in_month:
        reason = f"TK {tk_days} hari kerja dalam sebulan (batas {z.tk_days_in_month})"

    if not reason and not _served_in(employee, month):
        # A month wholly before the start or after the end of service earns no TPP (nothing to deduct from
        # is not the same as nothing to pay for).
        served = f"{employee.start or '...'} s.d. {employee.end or '...'}"
        reason = f"tidak dalam masa kerja pada bulan ini (masa kerja {served})"

    base = Decimal(employee.tpp_base)
    discipline = base * _dec(policy.pay.discipline_share) * (1 - _dec(applied) / 100)
    productive = base * _dec(policy.pay.productivity_share) * _dec(productivity)
    rounding = ROUND_FLOOR if policy.pay.rounding == "floor" else ROUND_HALF_UP
    final = 0 if reason else int((discipline + productive).to_integral_value(rounding=rounding))
    return TppResult(
        nip=employee.nip, month=month, base=employee.tpp_base, productivity=productivity, days=tuple(days),
        deductions=deductions, deduction_percent=total, applied_percent=applied, zeroed=bool(reason),
        zero_reason=reason, discipline_amount=discipline, productivity_amount=productive, final_amount=final,
        policy=f"{policy.name} v{policy.version} (berlaku {policy.effective_from})",
        provisional=any(d.provisional for d in days), days_off=tuple(days_off),
        as_of=as_of.astimezone(ZoneInfo(policy.timezone)) if as_of is not None else None)


@dataclass(frozen=True)
class YearlyDiscipline:
    nip: str
    tk_days: int
    longest_streak: int
    action: str | None  # the PP 94/2021 step reached, None below the first


def pp94_report(policy: Policy, nip: str, year_days: Sequence[DayResult]) -> YearlyDiscipline:
    """Cumulative TK days in a year against PP 94/2021's thresholds (days that have happened only)."""
    tk = sum(1 for d in year_days if d.code == ABSENT and not d.provisional)
    streak = longest_tk_streak(year_days)
    rules = policy.discipline_pp94
    action = None
    for step in sorted(rules.thresholds, key=lambda t: t.days):
        if tk >= step.days:
            action = step.action
    if rules.consecutive_dismissal_days and streak >= rules.consecutive_dismissal_days:
        action = f"pemberhentian (TK {streak} hari berturut-turut)"
    return YearlyDiscipline(nip, tk, streak, action)
