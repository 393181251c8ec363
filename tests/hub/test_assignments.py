"""The hub's assignments downlink: per device, its OPD's sites, staff and current duty orders, signed,
sent again only when something changed (or the day did)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hadir.contract import Assignments, parse
from hadir.signing import new_key, public_key_b64, verify_message
from hub.assignments import HORIZON_DAYS, AssignmentPublisher, assignments_for
from hub.master import DutyOrder, Employee, MasterData, Opd, Site
from hub.registry import DeviceRegistry
from hub.service import HUB_PUBLIC_FILE, hub_public_key_path

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)  # 10:00 WIT, 24 Nov
TODAY = date(2026, 11, 24)


def city(tmp_path) -> tuple[MasterData, DeviceRegistry]:
    master = MasterData(f"sqlite:///{tmp_path / 'master.sqlite'}")
    for code in ("KEC-SIRIMAU", "DINKES"):
        master.add("setup", Opd(code=code, name=code))
    master.add("setup", Site(opd_code="KEC-SIRIMAU", name="Kantor Camat Sirimau", lat=-3.69, lon=128.19, radius_m=100))
    master.add("setup", Site(opd_code="DINKES", name="Dinkes", lat=-3.70, lon=128.18, radius_m=100))
    master.add("setup", Employee(nip="199001", name="Maria Latuheru", opd_code="KEC-SIRIMAU"))
    master.add("setup", Employee(nip="199002", name="Yusuf Tuasikal", opd_code="DINKES"))
    orders = [("ST-1", "199001", TODAY, TODAY, "Pasar Mardika"),  # today
              ("ST-2", "199001", TODAY - timedelta(days=9), TODAY - timedelta(days=1), "ended"),
              ("ST-3", "199001", TODAY + timedelta(days=HORIZON_DAYS + 1), TODAY + timedelta(days=30), "far"),
              ("ST-4", "199002", TODAY, TODAY, "another OPD")]
    for number, nip, start, end, where in orders:
        master.add("setup", DutyOrder(number=number, nip=nip, start=start, end=end, destination=where,
                                      lat=-3.6954, lon=128.1814, radius_m=150))
    registry = DeviceRegistry(tmp_path / "devices.sqlite")
    registry.register("pi-sirimau-01", public_key_b64(new_key()), opd="KEC-SIRIMAU")
    return master, registry


def test_a_device_gets_its_opds_sites_staff_and_current_duty_orders(tmp_path):
    master, _ = city(tmp_path)
    a = assignments_for(master, "pi-sirimau-01", "KEC-SIRIMAU", TODAY, NOW)
    assert [s.name for s in a.sites] == ["Kantor Camat Sirimau"]
    assert [(p.nip, p.name) for p in a.people] == [("199001", "Maria Latuheru")]
    assert [d.number for d in a.duty_orders] == ["ST-1"]  # not ended, not beyond the horizon, not another OPD
    assert a.duty_orders[0].destination == "Pasar Mardika" and a.duty_orders[0].radius_m == 150


def test_assignments_are_signed_and_sent_again_only_when_they_change(tmp_path):
    master, registry = city(tmp_path)
    key = new_key()
    sent: list[tuple[str, bytes]] = []
    publisher = AssignmentPublisher(master, registry, key, lambda name, payload: sent.append((name, payload)))
    assert publisher.publish_changed(NOW) == 1
    name, payload = sent[0]
    _, _, msg = parse(name, payload, "down")
    assert isinstance(msg, Assignments) and msg.device_id == "pi-sirimau-01"
    assert verify_message(msg, key.public_key()) and not verify_message(msg, new_key().public_key())
    assert publisher.publish_changed(NOW + timedelta(minutes=1)) == 0  # nothing changed
    master.add("admin", DutyOrder(number="ST-5", nip="199001", start=TODAY, end=TODAY + timedelta(days=2),
                                  destination="Puskesmas Rijali", lat=-3.69, lon=128.18, radius_m=120))
    assert publisher.publish_changed(NOW + timedelta(minutes=2)) == 1
    assert publisher.publish_changed(NOW + timedelta(days=1)) == 1  # a new day: the device learns the date moved
    registry.revoke("pi-sirimau-01", NOW)
    master.add("admin", Site(opd_code="KEC-SIRIMAU", name="Pos", lat=-3.6, lon=128.1, radius_m=50))
    assert publisher.publish_changed(NOW + timedelta(days=1, minutes=1)) == 0  # a revoked device gets nothing


def test_the_hub_key_is_made_once_and_its_public_half_is_beside_it(tmp_path):
    path = hub_public_key_path(tmp_path)
    assert path.name == HUB_PUBLIC_FILE and path.read_text().strip()
    assert hub_public_key_path(tmp_path).read_text() == path.read_text()
