"""Removing an employee erases their face everywhere (audited); corrections need a second person and stay
out of closed months and the future."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from api_setup import A, B, api_client, login
from cryptography.fernet import Fernet

from hub.master import AuditLog, Employee, Template


@pytest.fixture
def api(tmp_path):
    pushes = []
    with api_client(tmp_path, push_galleries=lambda: pushes.append(1) or 2) as client:
        client.pushes = pushes
        yield client


def add_templates(master, nip: str, n: int = 2) -> None:
    key = Fernet(Fernet.generate_key())
    with master.session() as s:
        for i in range(n):
            s.add(Template(nip=nip, model_id="m", vector=key.encrypt(b"\0" * 16), quality=0.9, source=f"f{i}.jpg",
                           created_at=datetime.now(timezone.utc)))


def templates_of(master, nip: str) -> int:
    with master.session() as s:
        return s.query(Template).filter(Template.nip == nip).count()


def test_removing_an_employee_erases_their_face_and_a_new_one_inherits_nothing(api):
    add_templates(api.master, B)
    h = login(api, "admin")
    assert api.delete(f"/employees/{B}", headers=h).status_code == 204
    assert templates_of(api.master, B) == 0 and api.pushes == [1]  # devices get the gallery without the face
    entries = [(r.action, r.entity) for r in api.master.list(AuditLog, entity_id=B) if r.actor == "admin"]
    assert entries == [("delete", "template"), ("delete", "employee")]
    assert api.master.list(AuditLog, entity="template", entity_id=B)[-1].detail == {
        "templates": 2, "reason": "employee removed"}
    # Someone new with the same NIP starts with no face at all.
    r = api.post("/employees", headers=h, json={"nip": B, "name": "Orang Baru", "opd_code": "DINKES",
                                                "tpp_base": 1})
    assert r.status_code == 201 and templates_of(api.master, B) == 0
    assert api.delete(f"/employees/{B}/biometrics", headers=h).status_code == 503  # enrolment not configured here


def test_a_refused_removal_keeps_everything(api):
    add_templates(api.master, B)
    h = login(api, "admin")
    assert api.post("/leave", headers=h, json={"nip": B, "start": "2026-11-25", "end": "2026-11-25",
                                               "type": "sakit"}).status_code == 201
    assert api.delete(f"/employees/{B}", headers=h).status_code == 409
    assert templates_of(api.master, B) == 2 and api.master.employee(B) is not None and api.pushes == []


def test_the_migration_removes_faces_left_by_earlier_removals(tmp_path):
    from sqlalchemy import create_engine, text

    from hub.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    upgrade(url, "0001")
    with create_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO opd VALUES ('X', 'x')"))
        conn.execute(text("INSERT INTO employee (nip, name, opd_code, status, tpp_base) VALUES ('1', 'a', 'X', "
                          "'PNS', 1)"))
        for nip in ("1", "2"):
            conn.execute(text("INSERT INTO template (nip, model_id, vector, quality, source, created_at) VALUES "
                              f"('{nip}', 'm', x'00', 1.0, 'f', '2026-01-01')"))
        conn.execute(text("INSERT INTO correction (nip, at, approved_by, reason) VALUES ('1', '2026-01-05 00:00:00', "
                          "'Kepala Dinas', 'lama')"))
    upgrade(url)
    with create_engine(url).begin() as conn:
        assert [r[0] for r in conn.execute(text("SELECT nip FROM template"))] == ["1"]
        assert list(conn.execute(text("SELECT status, approved_by FROM correction"))) == [("approved", "Kepala Dinas")]


def request(api, user: str, nip: str, at: str, reason: str = "terminal mati listrik"):
    return api.post("/corrections", headers=login(api, user), json={"nip": nip, "at": at, "reason": reason})


def test_a_correction_needs_a_second_person_with_the_right_role(api):
    r = request(api, "kadis-dinkes", B, "2026-11-24T07:25:00+09:00")
    cid = r.json()["id"]
    own = api.post(f"/corrections/{cid}/approve", headers=login(api, "kadis-dinkes"))
    assert own.status_code == 403 and "other than its requester" in own.json()["error"]["message"]
    assert api.post(f"/corrections/{cid}/approve", headers=login(api, "bpkad")).status_code == 403  # payroll
    assert api.post(f"/corrections/{cid}/approve", headers=login(api, "ani")).status_code == 403
    # An OPD user of another OPD cannot even see it.
    api.master.add("setup", Employee(nip="9", name="x", opd_code="DISDIK", tpp_base=1))
    from hub.users import create_user

    create_user(api.master, "setup", "kadis-disdik", "kapal-layar-88", "opd", "DISDIK")
    other = api.post(f"/corrections/{cid}/approve", headers=login(api, "kadis-disdik", "kapal-layar-88"))
    assert other.status_code == 404
    ok = api.post(f"/corrections/{cid}/approve", headers=login(api, "admin"), json={"note": "sesuai laporan"})
    assert ok.json()["status"] == "approved" and ok.json()["approved_by"] == "admin"
    again = api.post(f"/corrections/{cid}/reject", headers=login(api, "admin"))
    assert again.status_code == 409
    log = [(e.actor, e.action) for e in api.master.list(AuditLog, entity="correction")]
    assert log == [("kadis-dinkes", "request"), ("admin", "approve")]
    assert api.master.list(AuditLog, entity="correction")[-1].detail["note"] == "sesuai laporan"
    # Free text cannot name an approver any more.
    r = api.post("/corrections", headers=login(api, "admin"), json={
        "nip": B, "at": "2026-11-24T07:25:00+09:00", "reason": "uji", "approved_by": "Kepala Dinas"})
    assert r.status_code == 422


def test_a_rejected_correction_counts_for_nothing(api):
    cid = request(api, "admin", A, "2026-11-25T07:25:00+09:00").json()["id"]
    assert api.post(f"/corrections/{cid}/reject", headers=login(api, "kadis-dinkes")).json()["status"] == "rejected"
    day = api.get("/attendance", headers=login(api, "admin"),
                  params={"nip": A, "start": "2026-11-25", "end": "2026-11-25"}).json()[0]
    assert day["masuk"] is None


def test_future_corrections_are_refused(api):
    soon = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    for at in (soon, "2099-01-05T07:30:00+09:00"):
        r = request(api, "kadis-dinkes", B, at)
        assert r.status_code == 422 and r.json()["error"]["field"] == "at", r.text


def test_a_closed_month_is_locked_until_reopened_with_a_reason(api):
    payroll = login(api, "bpkad")
    assert api.post("/months/2026-11/close", headers=login(api, "kadis-dinkes")).status_code == 403
    pending = request(api, "kadis-dinkes", B, "2026-11-20T07:25:00+09:00").json()["id"]
    assert api.post("/months/2026-11/close", headers=payroll).status_code == 201
    assert api.post("/months/2026-11/close", headers=payroll).status_code == 409
    this_month = datetime.now(timezone(timedelta(hours=9))).strftime("%Y-%m")
    assert api.post(f"/months/{this_month}/close", headers=payroll).status_code == 422  # not ended yet
    # The payroll office closed November: the 2 November TK cannot become HADIR any more.
    r = request(api, "kadis-dinkes", B, "2026-11-02T07:25:00+09:00")
    assert r.status_code == 409 and "closed" in r.json()["error"]["message"]
    assert api.post(f"/corrections/{pending}/approve", headers=login(api, "admin")).status_code == 409
    leave = api.post("/leave", headers=login(api, "kadis-dinkes"), json={"nip": B, "start": "2026-10-30",
                                                                         "end": "2026-11-02", "type": "sakit"})
    assert leave.status_code == 409
    assert api.get("/months/closed", headers=payroll).json()[0]["month"] == "2026-11"
    assert api.post("/months/2026-11/reopen", headers=payroll, json={"reason": "ok"}).status_code == 422
    assert api.post("/months/2026-11/reopen", headers=payroll, json={"reason": "salah hitung SPT"}).status_code == 200
    assert request(api, "kadis-dinkes", B, "2026-11-02T07:25:00+09:00").status_code == 201
    entries = [(e.actor, e.action, e.detail.get("reason")) for e in api.master.list(AuditLog, entity="closed_month")]
    assert entries == [("bpkad", "close", None), ("bpkad", "reopen", "salah hitung SPT")]
