"""Payroll officers' worked examples for day resolution and TPP under the default policy.

November 2026 has 21 working days (2-6, 9-13, 16-20, 23-27, 30) and no national holiday.
Final = floor(base x (0.40 x (1 - min(sum %, 100 %)) + 0.60 x productivity)).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from hub.payroll.policy_file import DEFAULT_POLICY, load_policy, parse_policy
from hub.tpp.compute import compute_tpp, pp94_report
from hub.tpp.policy import WorkDay
from hub.tpp.resolve import Employee, Punch, resolve_day, resolve_month
from hub.tpp.simulate import parse_scenario, run, to_json

POLICY = load_policy()
tz = ZoneInfo(POLICY.timezone)
NOV = [date(2026, 11, d) for d in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27, 30)]


def at(day: date, hhmm: str) -> str:
    return f"{day.isoformat()}T{hhmm}"


def normal_day(day: date) -> list[str]:
    return [at(day, "07:25"), at(day, "16:35" if day.weekday() == 4 else "16:05")]


def scenario(month="2026-11", base=5_000_000, days=None, extra=(), skip=(), **kw) -> dict:
    """One employee; `days` default: present and on time on every working day of November 2026."""
    punches = []
    for day in NOV if days is None else days:
        if day not in skip:
            punches += normal_day(day)
    punches += list(extra)
    emp = {"nip": "198501012010011001", "tpp_base": base, **kw.pop("employee", {})}
    return {"month": month, "employees": [emp], "punches": [{"nip": emp["nip"], "at": p} for p in punches], **kw}


def simulate(data: dict) -> dict:
    scenario = parse_scenario(data)
    out = to_json(run(scenario, load_policy(scenario.policy)))
    return out["employees"][0]


def test_a_perfect_month_pays_the_whole_base():
    r = simulate(scenario())
    assert r["final_amount"] == 5_000_000 and r["deduction_percent"] == 0
    assert len(r["days"]) == 21 and set(r["days"].values()) == {"HADIR"}


def test_late_fifteen_minutes_is_tl1_half_percent():
    mon = date(2026, 11, 9)
    r = simulate(scenario(skip={mon}, extra=[at(mon, "07:45"), at(mon, "16:01")]))
    assert r["days"]["2026-11-09"] == "TL1"
    assert r["deductions"] == [{"date": "2026-11-09", "code": "TL1", "percent": 0.5}]
    assert r["final_amount"] == 4_990_000  # 5,000,000 x (0.4 x 0.995 + 0.6)


def test_check_in_more_than_30_minutes_early_does_not_count():
    tue = date(2026, 11, 10)
    # 06:55 is 35 min before 07:30: no check-in (Ambon SE 841.9/27/SE/2025) -> TL4 1.5 %.
    r = simulate(scenario(skip={tue}, extra=[at(tue, "06:55"), at(tue, "16:10")]))
    assert r["days"]["2026-11-10"] == "TL4"
    assert r["final_amount"] == 4_970_000
    # 07:00 is exactly 30 minutes before: it counts.
    r = simulate(scenario(skip={tue}, extra=[at(tue, "07:00"), at(tue, "16:10")]))
    assert r["days"]["2026-11-10"] == "HADIR"


def test_missing_check_out_is_psw4_and_leaving_early_is_banded():
    wed, thu, fri = date(2026, 11, 11), date(2026, 11, 12), date(2026, 11, 13)
    r = simulate(scenario(skip={wed, thu, fri}, extra=[
        at(wed, "07:20"),                       # no check-out -> PSW4 1.5
        at(thu, "07:50"), at(thu, "15:20"),     # 20 min late TL1 0.5, 40 min early PSW2 1.0
        at(fri, "07:29"), at(fri, "16:00"),     # Friday ends 16:30: 30 min early PSW1 0.5
    ]))
    assert [r["days"][d] for d in ("2026-11-11", "2026-11-12", "2026-11-13")] == ["PSW4", "TL1+PSW2", "PSW1"]
    assert r["deduction_percent"] == pytest.approx(3.5)
    assert r["final_amount"] == 4_930_000  # 5,000,000 x (0.4 x 0.965 + 0.6)


def test_a_day_without_any_punch_is_tk_three_percent():
    r = simulate(scenario(skip={date(2026, 11, 18)}))
    assert r["days"]["2026-11-18"] == "TK"
    assert r["final_amount"] == 4_940_000


def test_holidays_are_not_working_days():
    # December 2026: Christmas (Fri 25th) from the holidays package, plus a city cuti bersama on the 24th.
    dec = [date(2026, 12, d) for d in range(1, 32) if date(2026, 12, d).weekday() < 5]
    r = simulate(scenario(month="2026-12", days=dec, holidays=["2026-12-24"]))
    assert "2026-12-25" not in r["days"] and "2026-12-24" not in r["days"]
    assert len(r["days"]) == len(dec) - 2 and r["final_amount"] == 5_000_000


def test_ramadan_hours_apply_in_ramadan():
    # 2 March 2026 is in Ramadan: 08:00-15:00, so 07:55-15:05 is a full day, not a short one.
    mon = date(2026, 3, 2)
    r = simulate(scenario(month="2026-03", days=[], extra=[at(mon, "07:55"), at(mon, "15:05")]))
    assert r["days"]["2026-03-02"] == "HADIR"
    # After Ramadan (Monday 6 April 2026) the same times are 25 min late and 55 min early.
    apr = date(2026, 4, 6)
    r = simulate(scenario(month="2026-04", days=[], extra=[at(apr, "07:55"), at(apr, "15:05")]))
    assert r["days"]["2026-04-06"] == "TL1+PSW2"


def test_leave_inside_a_late_streak_is_not_deducted():
    week = NOV[5:10]  # Mon 9 .. Fri 13
    late = [p for d in (week[0], week[1], week[4]) for p in (at(d, "07:40"), at(d, "16:45"))]
    r = simulate(scenario(skip=set(week), extra=late,
                          leave=[{"nip": "198501012010011001", "from": "2026-11-11", "to": "2026-11-12",
                                  "type": "tahunan"}]))
    assert [r["days"][d.isoformat()] for d in week] == ["TL1", "TL1", "CUTI", "CUTI", "TL1"]
    assert r["deduction_percent"] == pytest.approx(1.5)
    assert r["final_amount"] == 4_970_000


def test_duty_order_days_are_dl_without_deduction():
    days = {date(2026, 11, 16), date(2026, 11, 17)}
    r = simulate(scenario(skip=days, duty_orders=[{"nip": "198501012010011001", "from": "2026-11-16",
                                                   "to": "2026-11-17"}]))
    assert r["days"]["2026-11-16"] == r["days"]["2026-11-17"] == "DL"
    assert r["final_amount"] == 5_000_000


def test_seven_tk_days_in_a_row_zero_the_month():
    r = simulate(scenario(skip=set(NOV[3:10])))  # Thu 5 .. Fri 13: 7 working days in a row
    assert r["zeroed"] and r["final_amount"] == 0
    assert r["deduction_percent"] == pytest.approx(21.0)
    r = simulate(scenario(skip=set(NOV[3:9])))  # 6 in a row: not zeroed
    assert not r["zeroed"] and r["final_amount"] == 4_640_000  # 0.4 x 0.82 + 0.6


def test_fourteen_tk_days_in_a_month_zero_it_even_without_a_streak():
    skip = set(NOV[0:6]) | set(NOV[7:13]) | set(NOV[14:16])  # 6 + 6 + 2 TK, never 7 in a row
    r = simulate(scenario(skip=skip))
    assert sum(v == "TK" for v in r["days"].values()) == 14
    assert r["zeroed"] and r["final_amount"] == 0


def test_month_boundary_and_a_mid_month_start():
    # Punches of 30 October do not leak into November; an employee who started on 16 November
    # has no days (and no TK) before it.
    r = simulate(scenario(days=NOV[10:], extra=normal_day(date(2026, 10, 30)),
                          employee={"start": "2026-11-16"}))
    assert min(r["days"]) == "2026-11-16" and len(r["days"]) == 11
    assert r["final_amount"] == 5_000_000


def test_overnight_shift_including_the_last_night_of_the_month():
    night = {name: WorkDay(start=time(22, 0), end=time(6, 0))
             for name in ("monday", "tuesday", "wednesday", "thursday", "friday")}
    emp = Employee("satpam-01", tpp_base=3_000_000, schedule=night)
    punches = []
    for d in NOV:
        checkin = time(22, 40) if d == date(2026, 11, 3) else time(21, 50)
        punches += [Punch(datetime.combine(d, checkin, tz)),
                    Punch(datetime.combine(d + timedelta(days=1), time(6, 5), tz))]
    days = resolve_month(POLICY, emp, "2026-11", punches)
    codes = {d.date: d.code for d in days}
    assert codes[date(2026, 11, 3)] == "TL2"  # 40 minutes late
    assert codes[date(2026, 11, 30)] == "HADIR"  # check-out at 06:05 on 1 December counts
    assert set(codes.values()) == {"HADIR", "TL2"}
    assert compute_tpp(POLICY, emp, "2026-11", days).final_amount == 2_988_000  # 3e6 x (0.4 x 0.99 + 0.6)


def test_productivity_and_rounding_down_to_whole_rupiah():
    r = simulate(scenario(base=4_321_987, employee={"productivity": 0.8}, skip={NOV[0]},
                          extra=[at(NOV[0], "07:31"), at(NOV[0], "16:00")]))
    # 4,321,987 x (0.4 x 0.995 + 0.6 x 0.8) = 3,794,704.586 -> 3,794,704
    assert r["final_amount"] == 3_794_704


def test_ignored_punches_are_explained():
    mon = NOV[0]
    punches = [Punch(datetime.combine(mon, time(6, 40), tz), ref="early"),
               Punch(datetime.combine(mon, time(7, 20), tz), valid=False, reason="di luar radius lokasi", ref="far"),
               Punch(datetime.combine(mon, time(7, 25), tz), ref="in"),
               Punch(datetime.combine(mon, time(16, 2), tz), ref="out")]
    day = resolve_day(POLICY, Employee("x"), mon, punches)
    assert day.code == "HADIR" and day.checkin.ref == "in" and day.checkout.ref == "out"
    reasons = dict(day.ignored)
    assert "before the start of work" in reasons["early"] and reasons["far"] == "di luar radius lokasi"


def test_same_month_twice_gives_identical_results():
    data = scenario(skip={NOV[4]}, extra=[at(NOV[4], "08:10")])
    assert simulate(data) == simulate(data)


def test_changing_the_policy_file_changes_the_deductions(tmp_path):
    text = DEFAULT_POLICY.read_text().replace('code = "TL1"\nfrom_min = 1\nto_min = 30\npercent = 0.5',
                                              'code = "TL1"\nfrom_min = 1\nto_min = 30\npercent = 2.0')
    assert text != DEFAULT_POLICY.read_text()
    custom = tmp_path / "kota.toml"
    custom.write_text(text)
    mon = NOV[0]
    data = scenario(skip={mon}, extra=[at(mon, "07:45"), at(mon, "16:01")])
    assert simulate(data)["final_amount"] == 4_990_000
    assert simulate({**data, "policy": str(custom)})["final_amount"] == 4_960_000  # 0.4 x 0.98 + 0.6


def test_a_broken_policy_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="gap or overlap"):
        parse_policy(DEFAULT_POLICY.read_text().replace("from_min = 31", "from_min = 35", 1))
    with pytest.raises(ValueError, match="must be 1"):
        parse_policy(DEFAULT_POLICY.read_text().replace("productivity_share = 0.60", "productivity_share = 0.7"))


def test_pp94_yearly_report():
    days = [resolve_day(POLICY, Employee("x"), d, []) for d in NOV[:5]]  # 5 TK in a row
    report = pp94_report(POLICY, "x", days)
    assert report.tk_days == 5 and report.action == "teguran tertulis"


def test_simulate_cli_prints_the_documented_json(tmp_path):
    f = tmp_path / "month.yaml"
    mon = NOV[0]
    f.write_text(yaml.safe_dump(scenario(skip={mon}, extra=[at(mon, "07:45"), at(mon, "16:01")])))
    out = subprocess.run([sys.executable, "-m", "hadir_ops.cli", "tpp", "simulate", str(f), "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    data = json.loads(out.stdout)
    emp = data["employees"][0]
    assert data["month"] == "2026-11" and emp["final_amount"] == 4_990_000 and emp["zeroed"] is False
    assert set(emp) == {"nip", "final_amount", "deduction_percent", "zeroed", "provisional", "days", "days_off",
                        "deductions"}
    assert emp["provisional"] is False and emp["days_off"] == {} and data["warnings"] == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("month: 2026-13\nemployees: []\n")
    out = subprocess.run([sys.executable, "-m", "hadir_ops.cli", "tpp", "simulate", str(bad), "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "month" in out.stderr and out.stdout == ""


# ----------------------------------------------------------------------------------- seconds convention
# Whole minutes of the exact difference, rounded down in the employee's favour, in both directions; window
# edges compared to the second (fractions of a second dropped).


def test_a_check_out_at_hh_mm_30_is_not_a_minute_early():
    thu = NOV[3]  # Thursday 5 November, ends 16:00
    r = simulate(scenario(skip={thu}, extra=[at(thu, "07:25"), at(thu, "15:59:30")]))
    assert r["days"][thu.isoformat()] == "HADIR" and r["final_amount"] == 5_000_000
    r = simulate(scenario(skip={thu}, extra=[at(thu, "07:25"), at(thu, "15:59:00")]))
    assert r["days"][thu.isoformat()] == "PSW1"  # a whole minute early
    # The case: 14:59:30 before a 15:00 end (Ramadan, Monday 2 March 2026) used to cost 0.5 %.
    mon = date(2026, 3, 2)
    r = simulate(scenario(month="2026-03", days=[], extra=[at(mon, "07:55"), at(mon, "14:59:30")]))
    assert r["days"]["2026-03-02"] == "HADIR"


def test_lateness_counts_whole_minutes_the_same_way():
    tue = NOV[1]
    r = simulate(scenario(skip={tue}, extra=[at(tue, "07:30:59"), at(tue, "16:05")]))
    assert r["days"][tue.isoformat()] == "HADIR"
    r = simulate(scenario(skip={tue}, extra=[at(tue, "07:31:00"), at(tue, "16:05")]))
    assert r["days"][tue.isoformat()] == "TL1"
    day = resolve_day(POLICY, Employee("x"), tue, [Punch(datetime(2026, 11, 3, 8, 0, 59, 999_000, tz)),
                                                   Punch(datetime.combine(tue, time(16, 5), tz))])
    assert day.late_min == 30 and day.code == "TL1"  # 30 min 59.999 s -> 30 whole minutes


def test_window_edges_are_compared_to_the_second():
    mon = NOV[0]
    out = Punch(datetime.combine(mon, time(16, 5), tz))
    # The check-in window opens at 07:00:00; 06:59:59.9 is before it (fractions are dropped, not rounded).
    early = resolve_day(POLICY, Employee("x"), mon, [Punch(datetime(2026, 11, 2, 6, 59, 59, 900_000, tz)), out])
    assert early.checkin is None and early.code == "TL4"
    edge = resolve_day(POLICY, Employee("x"), mon, [Punch(datetime(2026, 11, 2, 7, 0, 0, tzinfo=tz)), out])
    assert edge.checkin is not None and edge.code == "HADIR"
    # Check-in closes and check-out opens at the midpoint of 07:30-16:00, 11:45:00.
    before = resolve_day(POLICY, Employee("x"), mon, [Punch(datetime(2026, 11, 2, 11, 44, 59, tzinfo=tz)), out])
    at_mid = resolve_day(POLICY, Employee("x"), mon, [Punch(datetime(2026, 11, 2, 11, 45, 0, tzinfo=tz)), out])
    assert before.checkin is not None and before.late_min == 254 and before.code == "TL4"
    assert at_mid.checkin is None and at_mid.checkout.at.hour == 16  # the last punch of the window is check-out


def _month(employee: Employee, month: str):
    return compute_tpp(POLICY, employee, month, resolve_month(POLICY, employee, month, []))


def test_a_month_wholly_outside_the_service_pays_nothing_and_says_why():
    # Found by a fresh user: an employee starting on 1 November was shown a full, final TPP for October.
    new = Employee("199001012020011001", "Ani", 4_000_000, "DINKES", start=date(2026, 11, 1))
    october = _month(new, "2026-10")
    assert october.final_amount == 0 and october.zeroed
    assert "tidak dalam masa kerja" in october.zero_reason and "2026-11-01" in october.zero_reason
    retired = Employee("196001012000011001", "Budi", 4_000_000, "DINKES", end=date(2026, 9, 30))
    assert _month(retired, "2026-10").final_amount == 0
    # The first month of service is paid on the days served (none missed here: no working day punched is
    # TK, so only months with a day in service are compared).
    assert not _month(new, "2026-11").zero_reason.startswith("tidak dalam masa kerja")
