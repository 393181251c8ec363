"""The web app's results kept current (hub.results): the same answers as recomputing from raw events, one
employee's row recomputed per new event, master-data changes and the clock taken into account."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from webapp_city import NOW, seed

from hadir.wit import WIT
from hub.api import views
from hub.attendance import Attendance
from hub.master import Leave
from hub.payroll.policy_file import load_policy
from hub.results import AWAITING_CHECKIN, AWAITING_CHECKOUT, NOT_YET, LiveResults
from hub.users import create_user

TODAY = NOW.date()


class Clock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seed(tmp_path_factory.mktemp("city"))


@pytest.fixture
def city(seeded, tmp_path):
    c = seeded.copy_to(tmp_path)
    yield c
    c.store.close()


def live(city, at: datetime, **kw) -> tuple[LiveResults, Clock]:
    clock = Clock(at)
    att = Attendance(city.store, city.master, load_policy())
    return LiveResults(att, city.registry, clock=clock, **{"background": False, **kw}), clock


def at(hh: int, mm: int, day: date = TODAY) -> datetime:
    return datetime.combine(day, datetime.min.time(), WIT).replace(hour=hh, minute=mm)


def codes(results: LiveResults, nip: str, day: date = TODAY, opd: str = "DINKES") -> str:
    entry = results.entry(opd, day.strftime("%Y-%m"))
    return next(d.code for d in entry.rows[nip].tpp.days if d.date == day)


def test_a_past_month_is_exactly_what_recomputing_from_raw_events_gives(city):
    later = datetime(2026, 12, 2, 9, 0, tzinfo=WIT)
    results, _ = live(city, later)
    entry = results.entry("DINKES", "2026-11")
    fresh = {r.nip: r for r in Attendance(city.store, city.master, load_policy()).month("2026-11", later, "DINKES")}
    assert set(entry.rows) == set(fresh) and len(fresh) == 12
    for nip, row in entry.rows.items():
        assert row.tpp.final_amount == fresh[nip].final_amount
        assert [(d.date, d.code, d.percent) for d in row.tpp.days] == [(d.date, d.code, d.percent)
                                                                      for d in fresh[nip].days]
        assert not row.provisional_days
    assert {d.code for r in entry.rows.values() for d in r.tpp.days} >= {"HADIR", "TK", "CUTI", "DL"}


def test_the_current_month_agrees_with_raw_events_up_to_yesterday_and_stops_at_today(city):
    results, _ = live(city, NOW)
    entry = results.entry("DINKES", "2026-11")
    yesterday = TODAY - timedelta(days=1)
    fresh = Attendance(city.store, city.master, load_policy()).days(date(2026, 11, 1), yesterday, NOW, "DINKES")
    mine = [(nip, d.date, d.code) for nip, row in entry.rows.items() for d in row.tpp.days if d.date <= yesterday]
    assert sorted(mine) == sorted((nip, d.date, d.code) for nip, d in fresh)
    for row in entry.rows.values():
        assert row.tpp.days[-1].date == TODAY  # nothing after today is resolved (no TK for days to come)
        assert row.provisional_days == {TODAY}


def test_a_new_event_recomputes_only_its_employees_row(city):
    results, _ = live(city, NOW)
    budi = city.nip("Budi Santoso")
    results.entry("DINKES", "2026-11")
    builds, rows = results.builds, results.row_computations
    item = city.event("pi-dinkes-01", city.nip("Joko Siahaya"), at(9, 50))
    city.store.put([item])
    results.on_stored(item)
    assert codes(results, city.nip("Joko Siahaya")) == f"TL4+{AWAITING_CHECKOUT}"  # 140 min late
    assert results.builds == builds and results.row_computations == rows + 1
    assert codes(results, budi) == f"TL1+{AWAITING_CHECKOUT}"
    assert results.row_computations == rows + 1  # nothing new, nothing recomputed


def test_the_same_event_from_the_hook_the_poll_and_the_store_counts_once(city):
    results, _ = live(city, NOW, poll_s=0.0)
    joko = city.nip("Joko Siahaya")
    item = city.event("pi-dinkes-01", joko, at(7, 40))
    city.store.put([item])
    results.on_stored(item)  # also seen by the poll of the store, and by a fresh build below
    entry = results.entry("DINKES", "2026-11")
    assert sum(1 for p in entry.punches[joko] if p.ref == item.key) == 1
    results.invalidate()
    entry = results.entry("DINKES", "2026-11")
    assert sum(1 for p in entry.punches[joko] if p.ref == item.key) == 1


def test_events_stored_by_another_hub_process_arrive_through_the_poll(city):
    results, _ = live(city, NOW, poll_s=0.0)
    joko = city.nip("Joko Siahaya")
    assert codes(results, joko) == AWAITING_CHECKIN
    city.store.put([city.event("pi-dinkes-01", joko, at(7, 31))])  # no on_stored: another process stored it
    assert codes(results, joko) == f"TL1+{AWAITING_CHECKOUT}"


def test_unknown_faces_at_the_opds_devices_are_counted(city):
    results, _ = live(city, NOW)
    entry = results.entry("DINKES", "2026-11")
    before = len(entry.unknown)
    item = city.event("pi-dinkes-01", None, at(9, 0))
    city.store.put([item])
    results.on_stored(item)
    assert len(results.entry("DINKES", "2026-11").unknown) == before + 1
    assert len(results.entry("DISDIK", "2026-11").unknown) == 0


def test_a_change_of_master_data_is_seen_at_the_next_read_but_a_user_change_is_not_a_rebuild(city):
    results, _ = live(city, NOW)
    budi = city.nip("Budi Santoso")
    assert codes(results, budi) == f"TL1+{AWAITING_CHECKOUT}"
    builds = results.builds
    create_user(city.master, "admin", "citra", "rahasia-123", "employee", nip=city.nip("Citra Wattimena"))
    assert codes(results, budi) == f"TL1+{AWAITING_CHECKOUT}" and results.builds == builds
    city.master.add("kadis", Leave(nip=budi, type="sakit", start=TODAY, end=TODAY))
    assert codes(results, budi) == "CUTI" and results.builds == builds + 1


def test_a_change_made_by_another_process_is_seen_after_the_poll(city, tmp_path):
    from hub.master import MasterData

    results, _ = live(city, NOW, poll_s=0.0)
    budi = city.nip("Budi Santoso")
    assert codes(results, budi) == f"TL1+{AWAITING_CHECKOUT}"
    other = MasterData(f"sqlite:///{tmp_path / 'master.sqlite'}")  # e.g. the hadir-hub command line
    other.add("cli", Leave(nip=budi, type="tahunan", start=TODAY, end=TODAY))
    assert codes(results, budi) == "CUTI"


def test_codes_follow_the_clock_through_the_day_without_new_events(city):
    results, clock = live(city, at(6, 50))
    joko, budi = city.nip("Joko Siahaya"), city.nip("Budi Santoso")
    assert codes(results, joko) == NOT_YET and codes(results, budi) == NOT_YET
    clock.at = at(7, 40)
    assert codes(results, joko) == AWAITING_CHECKIN
    clock.at = at(12, 0)  # past the midpoint: no check-in is TK unless a punch comes by the close
    assert codes(results, joko) == "TK" and codes(results, budi) == f"TL1+{AWAITING_CHECKOUT}"
    entry = results.entry("DINKES", "2026-11")
    assert TODAY in entry.rows[joko].provisional_days
    clock.at = at(20, 1)  # the check-out window has closed: final codes
    assert codes(results, budi) == "TL1+PSW4"
    assert TODAY not in results.entry("DINKES", "2026-11").rows[budi].provisional_days


def test_a_punch_stamped_after_now_has_not_happened_yet(city):
    results, _ = live(city, NOW)
    joko = city.nip("Joko Siahaya")
    item = city.event("pi-dinkes-01", joko, NOW + timedelta(minutes=20))
    city.store.put([item])
    results.on_stored(item)
    assert codes(results, joko) == AWAITING_CHECKIN  # 10:30: his 10:50 punch has not happened yet
    assert results.entry("DINKES", "2026-11").valid_until <= NOW + timedelta(hours=2)


def test_the_rendered_view_is_kept_until_something_changes(city):
    results, _ = live(city, NOW)
    calls = []

    def render(entry, _now):
        calls.append(entry.version)
        return str(entry.version).encode()

    first = results.render("DINKES", "2026-11", "v", render)
    assert results.render("DINKES", "2026-11", "v", render) is first and len(calls) == 1
    item = city.event("pi-dinkes-01", city.nip("Joko Siahaya"), at(9, 0))
    city.store.put([item])
    results.on_stored(item)
    second = results.render("DINKES", "2026-11", "v", render)
    assert second.body != first.body and second.etag != first.etag and len(calls) == 2


def test_entries_beyond_the_limit_are_dropped_oldest_first(city):
    results, _ = live(city, NOW, max_entries=2)
    for month in ("2026-09", "2026-10", "2026-11"):
        results.entry("DINKES", month)
    assert list(results._entries) == [("DINKES", "2026-10"), ("DINKES", "2026-11")]


def test_stored_since_returns_what_came_after_the_cursor(city):
    _, cursor = city.store.stored_since(0)
    assert cursor > 0 and city.store.stored_since(cursor) == ([], cursor)
    item = city.event("pi-dinkes-01", None, datetime.now(timezone.utc))
    city.store.put([item])
    items, new = city.store.stored_since(cursor)
    assert [i.key for i in items] == [item.key] and new == cursor + 1


def test_leave_for_one_employee_rebuilds_only_that_opd(city):
    results, _ = live(city, NOW)
    budi = city.nip("Budi Santoso")
    results.entry("DINKES", "2026-11")
    results.entry("DISDIK", "2026-11")
    builds = results.builds
    city.master.add("kadis", Leave(nip=budi, type="sakit", start=TODAY, end=TODAY))
    assert codes(results, budi) == "CUTI" and results.builds == builds + 1
    results.entry("DISDIK", "2026-11")
    assert results.builds == builds + 1  # DISDIK's results were kept
    from hub.master import Holiday

    city.master.add("admin", Holiday(day=TODAY, name="Hari libur kota"))  # every OPD
    results.entry("DISDIK", "2026-11")
    assert results.builds == builds + 2


def wait_for(condition, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (value := condition()) is not None:
            return value
        time.sleep(0.01)
    raise AssertionError("not within the time limit")


def joko_code(entry, _now) -> bytes:
    joko = next(nip for nip, e in entry.staff.items() if e.name == "Joko Siahaya")
    return codes_of(entry, joko).encode()


def codes_of(entry, nip: str) -> str:
    return next(d.code for d in entry.rows[nip].tpp.days if d.date == TODAY)


def test_the_next_request_after_an_event_sees_it_never_the_view_before(city):
    results, _ = live(city, NOW)  # no background thread: the request itself renders
    first = results.render("DINKES", "2026-11", "joko", joko_code)
    assert first.body == AWAITING_CHECKIN.encode() and results.ready("DINKES", "2026-11", "joko", NOW) is first
    item = city.event("pi-dinkes-01", city.nip("Joko Siahaya"), at(9, 50))
    city.store.put([item])
    results.on_stored(item)
    assert results.ready("DINKES", "2026-11", "joko", NOW) is None  # the kept bytes are not served any more
    assert results.render("DINKES", "2026-11", "joko", joko_code).body == f"TL4+{AWAITING_CHECKOUT}".encode()


def test_an_asked_for_view_is_rendered_again_in_the_background_after_an_event(city):
    results, _ = live(city, NOW, background=True)
    rendered_by: list[str] = []

    def render(entry, now):
        rendered_by.append(threading.current_thread().name)
        return joko_code(entry, now)

    try:
        results.render("DINKES", "2026-11", "joko", render)
        item = city.event("pi-dinkes-01", city.nip("Joko Siahaya"), at(9, 50))
        city.store.put([item])
        results.on_stored(item)
        view = wait_for(lambda: results.ready("DINKES", "2026-11", "joko", NOW))
        assert view.body == f"TL4+{AWAITING_CHECKOUT}".encode()
        assert rendered_by == [threading.current_thread().name, "hadir-results"]  # not by a request
    finally:
        results.close()


def test_a_view_dropped_by_a_change_of_master_data_is_rebuilt_in_the_background(city):
    results, _ = live(city, NOW, background=True)
    joko = city.nip("Joko Siahaya")
    try:
        results.render("DINKES", "2026-11", "joko", joko_code)
        builds = results.builds
        city.master.add("kadis", Leave(nip=joko, type="sakit", start=TODAY, end=TODAY))
        results.on_stored(city.event("pi-disdik-01", None, at(9, 0)))  # any wake-up; the poll would do it too
        view = wait_for(lambda: results.ready("DINKES", "2026-11", "joko", NOW))
        assert view.body == b"CUTI" and results.builds == builds + 1
    finally:
        results.close()


def test_views_nobody_asked_for_lately_are_not_kept_fresh_and_the_thread_ends(city):
    results, _ = live(city, NOW, background=True, keep_fresh_s=0.2)
    try:
        results.render("DINKES", "2026-11", "joko", joko_code)
        thread = results._refresher
        assert thread is not None and thread.is_alive()
        thread.join(5)
        assert not thread.is_alive() and results._refresher is None
        renders = results.renders
        item = city.event("pi-dinkes-01", city.nip("Joko Siahaya"), at(9, 50))
        city.store.put([item])
        results.on_stored(item)
        time.sleep(0.2)
        assert results.renders == renders  # rendered again only when someone asks
        assert results.render("DINKES", "2026-11", "joko", joko_code).body == f"TL4+{AWAITING_CHECKOUT}".encode()
    finally:
        results.close()


def test_views_encoded_line_by_line_equal_a_render_from_scratch_after_events_and_as_the_clock_moves(city):
    results, clock = live(city, NOW)
    joko, budi = city.nip("Joko Siahaya"), city.nip("Budi Santoso")

    def both(entry, now):
        return views.board(entry, TODAY, now, WIT, "Dinas Kesehatan") + b"\n" + views.month_table(
            entry, now, WIT, "Dinas Kesehatan")

    def from_scratch() -> bytes:
        entry = results.entry("DINKES", "2026-11")
        with entry.lock:
            kept, entry.fragments = entry.fragments, {}
            try:
                return both(entry, clock.at)
            finally:
                entry.fragments = kept

    first = results.render("DINKES", "2026-11", "both", both).body
    assert first == from_scratch()
    for item in (city.event("pi-dinkes-01", joko, at(9, 50)), city.event("pi-dinkes-01", budi, at(10, 45))):
        city.store.put([item])  # Budi's second punch is stamped 15 minutes after now (a clock ahead)
        results.on_stored(item)
    second = results.render("DINKES", "2026-11", "both", both).body
    assert second != first and second == from_scratch()
    clock.at = NOW + timedelta(minutes=20)  # Budi's 10:45 punch has happened now: his line changes
    third = results.render("DINKES", "2026-11", "both", both).body
    assert third == from_scratch() and b'"terakhir_terlihat":"10:45"' in third
    assert b'"terakhir_terlihat":"10:45"' not in second
