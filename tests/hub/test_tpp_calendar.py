"""Worked examples for the working calendar: cuti bersama, the city's own list, Ramadan by year."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.payroll.policy_file import DEFAULT_POLICY, load_policy, parse_policy
from hub.tpp.calendar import CITY, COLLECTIVE_LEAVE, NATIONAL, CityDay, days_off
from hub.tpp.compute import compute_tpp
from hub.tpp.policy import Ramadan
from hub.tpp.ramadan import check_confirmation, expected_ramadan, ramadan_status
from hub.tpp.resolve import Employee, Punch, month_days, month_days_off, resolve_month, workday_for

POLICY = load_policy()
WIT = ZoneInfo("Asia/Jayapura")
EMP = Employee("198501012010011001", tpp_base=5_000_000)


def on_time_every_working_day(month: str, policy=POLICY) -> list[Punch]:
    """Five minutes early in and five minutes late out on every working day (national and cuti bersama lists),
    by whatever schedule applies that day."""
    punches = []
    offs = days_off(policy, {int(month[:4])})
    for day in month_days(month):
        work = workday_for(policy, EMP, day)
        if work is not None and day not in offs:
            start = datetime.combine(day, work.start, WIT)
            end = datetime.combine(day, work.end, WIT)
            punches += [Punch(start - timedelta(minutes=5)), Punch(end + timedelta(minutes=5))]
    return punches


def test_cuti_bersama_of_march_2026_are_days_off_and_say_so():
    offs = days_off(POLICY, {2026})
    # SKB 2026: cuti bersama Nyepi (18 March) and Idul Fitri (20, 23, 24 March); Nyepi itself (19 March) and
    # Idul Fitri (21-22 March) are public holidays.
    assert [(d.day, offs[d].source) for d in sorted(offs) if d.month == 3] == [
        (18, COLLECTIVE_LEAVE), (19, NATIONAL), (20, COLLECTIVE_LEAVE), (21, NATIONAL), (22, NATIONAL),
        (23, COLLECTIVE_LEAVE), (24, COLLECTIVE_LEAVE)]
    assert offs[date(2026, 3, 20)].explain() == "cuti bersama: Cuti Bersama Hari Raya Idul Fitri"
    # Present on every scheduled weekday: the four cuti bersama are not working days, the month pays in full.
    punches = on_time_every_working_day("2026-03")
    days = resolve_month(POLICY, EMP, "2026-03", punches)
    result = compute_tpp(POLICY, EMP, "2026-03", days, days_off=month_days_off(POLICY, EMP, "2026-03"))
    assert len(days) == 17 and {d.code for d in days} == {"HADIR"} and result.final_amount == 5_000_000
    assert "20-03-2026 libur (cuti bersama: Cuti Bersama Hari Raya Idul Fitri)" in result.explanation()
    assert [o.date.day for o in result.days_off] == [18, 19, 20, 23, 24]
    # Without the cuti bersama list (as before): four TK days, 12 % of the discipline share.
    without = POLICY.model_copy(update={"holidays": POLICY.holidays.model_copy(update={"cuti_bersama": False})})
    days = resolve_month(without, EMP, "2026-03", punches)
    assert [d.date.day for d in days if d.code == "TK"] == [18, 20, 23, 24]
    assert compute_tpp(without, EMP, "2026-03", days).final_amount == 4_760_000  # 5e6 x (0.4 x 0.88 + 0.6)


def test_the_city_adds_days_and_works_a_cuti_bersama():
    city = [CityDay(date(2026, 12, 28), "HUT Kota (contoh)"), CityDay(date(2026, 12, 24), "pelayanan buka", works=True)]
    offs = days_off(POLICY, {2026}, city)
    assert offs[date(2026, 12, 28)].source == CITY and date(2026, 12, 24) not in offs
    assert offs[date(2026, 12, 25)].source == NATIONAL  # Christmas stays
    days = {d.date: d.code for d in resolve_month(POLICY, EMP, "2026-12", [], extra_holidays=city)}
    assert days[date(2026, 12, 24)] == "TK" and date(2026, 12, 28) not in days
    # A city day that is also on the national list is named by the national list.
    assert days_off(POLICY, {2026}, [CityDay(date(2026, 12, 25), "Natal")])[date(2026, 12, 25)].source == NATIONAL


def test_ramadan_1447_follows_the_government_dates():
    # 1 Ramadan 1447 H was Thursday 19 February 2026 by the isbat; the Umm al-Qura calendar says the 18th.
    assert expected_ramadan(1447).start == date(2026, 2, 18)
    r1447 = next(r for r in POLICY.ramadan if r.hijri_year == 1447)
    assert (r1447.from_, r1447.to) == (date(2026, 2, 19), date(2026, 3, 20))
    wed, thu = date(2026, 2, 18), date(2026, 2, 19)
    punches = [Punch(datetime.combine(d, datetime.strptime(t, "%H:%M").time(), WIT))
               for d in (wed, thu) for t in ("07:55", "15:05")]
    days = {d.date: d.code for d in resolve_month(POLICY, EMP, "2026-02", punches) if d.date in (wed, thu)}
    assert days == {wed: "TL1+PSW2", thu: "HADIR"}  # Wednesday still had ordinary hours (07:30-16:00)


def test_the_coming_ramadan_warns_until_an_admin_confirms_it():
    status = ramadan_status(date(2026, 12, 1), POLICY.ramadan)
    assert status.expected.hijri_year == 1448 and status.confirmed is None
    assert status.expected.start == date(2027, 2, 8) and "1448 H belum dikonfirmasi" in status.warning
    # Meanwhile Ramadan hours are not guessed: a weekday of the expected Ramadan keeps the ordinary schedule.
    assert workday_for(POLICY, EMP, date(2027, 2, 10)).start.hour == 7
    confirmed = POLICY.with_ramadan([Ramadan(from_=date(2027, 2, 9), to=date(2027, 3, 10), hijri_year=1448,
                                             source="contoh konfirmasi admin")])
    status = ramadan_status(date(2026, 12, 1), confirmed.ramadan)
    assert status.confirmed is not None and status.warning is None
    assert workday_for(confirmed, EMP, date(2027, 2, 10)).start.hour == 8
    assert workday_for(confirmed, EMP, date(2027, 2, 8)).start.hour == 7
    # During a confirmed Ramadan the status is that Ramadan; the day after it, the next one.
    assert ramadan_status(date(2026, 3, 20), POLICY.ramadan).confirmed.hijri_year == 1447
    assert ramadan_status(date(2026, 3, 21), POLICY.ramadan).expected.hijri_year == 1448


def test_a_confirmation_that_cannot_be_right_is_refused():
    check_confirmation(1448, date(2027, 2, 9), date(2027, 3, 10))  # 30 days, a day after the calendar
    for start, end, field in ((date(2027, 2, 9), date(2027, 2, 1), "end"), (date(2027, 2, 9), date(2027, 3, 12), "end"),
                              (date(2027, 2, 20), date(2027, 3, 20), "start")):
        with pytest.raises(ValueError, match=f"^{field}:"):
            check_confirmation(1448, start, end)
    with pytest.raises(ValueError, match="^hijri_year:"):
        check_confirmation(1600, date(2027, 2, 9), date(2027, 3, 10))


def test_a_policy_with_its_own_hours_per_ramadan_block_still_reads():
    text = DEFAULT_POLICY.read_text().replace(
        'source = "sidang isbat Kemenag 17 Feb 2026 dan 19 Mar 2026"',
        'source = "x"\n[ramadan.schedule.monday]\nstart = "09:00"\nend = "15:00"')
    policy = parse_policy(text)
    assert workday_for(policy, EMP, date(2026, 3, 2)).start.hour == 9  # Monday in 1447's own hours
    assert workday_for(policy, EMP, date(2026, 3, 3)) is None  # that block lists Mondays only
    with pytest.raises(ValueError, match="ramadan_schedule"):
        parse_policy(DEFAULT_POLICY.read_text().replace("[ramadan_schedule.", "[shifts.ramadan_lama."))
