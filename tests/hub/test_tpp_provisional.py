"""Worked examples for a month still under way: what has not happened is not resolved, nor zeroed.

The moment of the request (`now`, `as_of` in a scenario) is plain data: no clock is read.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from hub.payroll.policy_file import load_policy
from hub.tpp.compute import compute_tpp, pp94_report
from hub.tpp.resolve import (
    AWAITING_CHECKIN,
    AWAITING_CHECKOUT,
    NOT_YET,
    Employee,
    Excuse,
    Punch,
    describe,
    resolve_day,
    resolve_month,
)
from hub.tpp.simulate import parse_scenario, run, to_json

POLICY = load_policy()
WIT = ZoneInfo("Asia/Jayapura")
NIP = "198501012010011001"
NOV = [date(2026, 11, d) for d in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27, 30)]


def wit(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), WIT)


def on_time(day: date) -> list[Punch]:
    return [Punch(wit(day, "07:25")), Punch(wit(day, "16:35" if day.weekday() == 4 else "16:05"))]


def test_a_mid_month_request_leaves_the_rest_of_the_month_unresolved():
    # Wednesday 18 November 2026, 10:00 WIT: on time every day so far, 15 minutes late this morning.
    now = wit(date(2026, 11, 18), "10:00")
    punches = [p for d in NOV if d < date(2026, 11, 18) for p in on_time(d)] + [Punch(wit(date(2026, 11, 18), "07:45"))]
    emp = Employee(NIP, tpp_base=5_000_000)
    days = resolve_month(POLICY, emp, "2026-11", punches, now=now)
    codes = {d.date: d.code for d in days}
    assert {codes[d] for d in NOV if d < date(2026, 11, 18)} == {"HADIR"}
    assert codes[date(2026, 11, 18)] == "TL1+" + AWAITING_CHECKOUT  # not TL1+PSW4: the day is not over
    assert [d for d in NOV if codes[d] == NOT_YET] == NOV[13:]  # 19 .. 30 November: not yet happened
    result = compute_tpp(POLICY, emp, "2026-11", days, as_of=now)
    assert result.provisional and result.days_not_yet == 8 and not result.zeroed
    assert result.final_amount == 4_990_000  # only the TL1 that has happened: 5e6 x (0.4 x 0.995 + 0.6)
    assert result.explanation()[2].startswith("SEMENTARA per 18-11-2026 10:00")
    # The same month once it is over: final, and the missing check-out of the 18th is PSW4.
    final = compute_tpp(POLICY, emp, "2026-11", resolve_month(POLICY, emp, "2026-11", punches))
    assert not final.provisional and {d.code for d in final.days if d.date > date(2026, 11, 18)} == {"TK"}


def test_on_the_first_of_the_month_nobody_is_zeroed_for_days_to_come():
    # The reported bug: on 1 December the days not yet happened counted as 19 TK days and zeroed everyone.
    now = wit(date(2026, 12, 1), "09:17")
    here, away = Employee("hadir", tpp_base=5_000_000), Employee("belum", tpp_base=5_000_000)
    days = resolve_month(POLICY, here, "2026-12", [Punch(wit(date(2026, 12, 1), "07:25"))], now=now)
    assert days[0].code == AWAITING_CHECKOUT and days[0].provisional
    assert {d.code for d in days[1:]} == {NOT_YET} and len(days) == 21  # 24 (cuti bersama), 25 Dec are off
    r = compute_tpp(POLICY, here, "2026-12", days, as_of=now)
    assert (r.final_amount, r.zeroed, r.tk_days, r.deduction_percent) == (5_000_000, False, 0, 0)
    absent = resolve_month(POLICY, away, "2026-12", [], now=now)
    assert absent[0].code == AWAITING_CHECKIN and absent[0].deductions == ()  # "belum hadir", not TK
    assert compute_tpp(POLICY, away, "2026-12", absent, as_of=now).final_amount == 5_000_000


def test_zeroing_applies_to_what_has_happened():
    # No punch at all in November, asked on Wednesday 18 November at 10:00: 12 working days have passed
    # without a punch (7 in a row already), so the month is zeroed even though it is not over.
    emp = Employee(NIP, tpp_base=5_000_000)
    days = resolve_month(POLICY, emp, "2026-11", [], now=wit(date(2026, 11, 18), "10:00"))
    r = compute_tpp(POLICY, emp, "2026-11", days)
    assert r.tk_days == 12 and r.zeroed and r.final_amount == 0 and r.provisional
    # Six days gone, asked on the morning of the seventh: not zeroed yet.
    days = resolve_month(POLICY, emp, "2026-11", [], now=wit(date(2026, 11, 10), "09:00"))
    r = compute_tpp(POLICY, emp, "2026-11", days)
    assert r.tk_days == 6 and not r.zeroed and days[6].code == AWAITING_CHECKIN


def test_todays_codes_are_provisional_until_the_check_out_window_closes():
    thu = date(2026, 11, 19)  # 07:30-16:00; check-in window 07:00-11:45, check-out window 11:45-20:00
    emp = Employee(NIP)
    morning = [Punch(wit(thu, "07:25"), ref="in")]

    def day(now: str, punches=morning):
        return resolve_day(POLICY, emp, thu, punches, now=wit(thu, now))

    assert day("06:59:59").code == NOT_YET
    assert day("07:10", []).code == AWAITING_CHECKIN and describe(day("07:10", [])) == "belum hadir"
    assert day("11:44:59", []).code == AWAITING_CHECKIN
    after = day("11:45", [])  # the check-in window has closed without a punch: TK, until the day is over
    assert after.code == "TK" and after.provisional
    assert day("16:30").code == AWAITING_CHECKOUT and describe(day("16:30")) == "belum pulang"
    assert day("20:00:00").code == AWAITING_CHECKOUT and day("20:00:00").provisional  # the edge still counts
    closed = day("20:00:01")
    assert closed.code == "PSW4" and not closed.provisional
    # A check-out already made counts as it stands, provisionally: leaving at 15:00 is 60 minutes early so far.
    left = day("17:00", morning + [Punch(wit(thu, "15:00"), ref="out")])
    assert left.code == "PSW2" and left.provisional and describe(left) == "pulang cepat 60 menit"


def test_punches_after_the_moment_of_the_request_are_not_used():
    thu = date(2026, 11, 19)
    punches = [Punch(wit(thu, "07:25"), ref="in"), Punch(wit(thu, "16:05"), ref="out")]
    day = resolve_day(POLICY, Employee(NIP), thu, punches, now=wit(thu, "12:00"))
    assert day.code == AWAITING_CHECKOUT and day.checkout is None
    assert dict(day.ignored)["out"].startswith("after the moment of this calculation")


def test_planned_leave_in_the_future_is_not_resolved_yet():
    emp = Employee(NIP)
    leave = [Excuse("leave", date(2026, 11, 25), date(2026, 11, 26), "tahunan")]
    now = wit(date(2026, 11, 25), "08:00")
    days = {d.date: d.code for d in resolve_month(POLICY, emp, "2026-11", [], leave, now=now)}
    assert days[date(2026, 11, 25)] == "CUTI" and days[date(2026, 11, 26)] == NOT_YET


def test_pp94_counts_only_days_that_have_happened():
    emp = Employee(NIP)
    days = resolve_month(POLICY, emp, "2026-11", [], now=wit(date(2026, 11, 4), "12:00"))
    # 2 and 3 November gone without a punch; the 4th is a provisional TK (window closed at 11:45).
    assert [d.code for d in days[:3]] == ["TK", "TK", "TK"] and days[2].provisional
    report = pp94_report(POLICY, NIP, days)
    assert report.tk_days == 2 and report.action is None  # the first step (oral warning) is at 3


def test_simulate_a_month_still_under_way():
    punches = [{"nip": NIP, "at": f"2026-11-{d.day:02d}T07:25"} for d in NOV[:12]]
    punches += [{"nip": NIP, "at": f"2026-11-{d.day:02d}T{'16:35' if d.weekday() == 4 else '16:05'}"} for d in NOV[:12]]
    scenario = parse_scenario({"month": "2026-11", "as_of": "2026-11-18T10:00",
                               "employees": [{"nip": NIP, "tpp_base": 5_000_000}], "punches": punches})
    emp = to_json(run(scenario, POLICY))["employees"][0]
    assert emp["provisional"] is True and emp["zeroed"] is False and emp["final_amount"] == 5_000_000
    assert emp["days"]["2026-11-18"] == AWAITING_CHECKIN and emp["days"]["2026-11-30"] == NOT_YET


def test_todays_leave_and_duty_order_show_before_work_starts_but_later_days_stay_not_yet():
    # Found by a fresh user: at 06:45 the board counted staff on approved leave among "belum hadir".
    tue, wed = date(2026, 11, 24), date(2026, 11, 25)
    emp = Employee(NIP)
    leave = [Excuse("leave", tue, wed, "tahunan")]
    early = wit(tue, "06:45")
    assert resolve_day(POLICY, emp, tue, [], leave, now=early).code == "CUTI"
    assert resolve_day(POLICY, emp, tue, [], [Excuse("duty", tue, tue, "094/ST")], now=early).code == "DL"
    assert resolve_day(POLICY, emp, wed, [], leave, now=early).code == NOT_YET  # tomorrow has not happened
    assert resolve_day(POLICY, emp, tue, [], [], now=early).code == NOT_YET
