"""Token checks kept in memory (hub.api.auth.TokenChecks): a dashboard's repeated requests do not each open a
database session, yet a logout, a disabled user or a changed role ends the token at the very next request when
made by this process, and within the check's time to live when made by another one."""

from __future__ import annotations

import time

import pytest
from api_setup import api_client, login

import hub.api.auth
from hub.api.auth import TOKEN_TTL_S, Principal, TokenChecks, issue_token
from hub.api.errors import ApiError
from hub.master import MasterData
from hub.users import revoke_token, set_disabled, set_role

SECRET = b"test-secret"


@pytest.fixture
def api(tmp_path):
    with api_client(tmp_path) as client:
        yield client


def token_of(api, user: str) -> str:
    return login(api, user)["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def database_reads(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = hub.api.auth.session_user
    monkeypatch.setattr(hub.api.auth, "session_user", lambda master, username, *a: calls.append(username)
                        or real(master, username, *a))
    return calls


def test_a_kept_check_answers_without_the_database(api, database_reads):
    checks = TokenChecks(api.master, SECRET)
    token = token_of(api, "kadis-dinkes")
    for _ in range(5):
        assert checks.check(token).opd_code == "DINKES"
    assert database_reads == ["kadis-dinkes"]
    time.sleep(checks.ttl_s)
    checks.check(token)
    assert database_reads == ["kadis-dinkes"] * 2  # asked again once the check is older than its time to live


def test_logout_ends_a_kept_token_at_the_next_check(api):
    checks = TokenChecks(api.master, SECRET, ttl_s=3600)
    token = token_of(api, "bpkad")
    p = checks.check(token)
    revoke_token(api.master, p.username, p.token_id, hub.api.auth.expires(p))
    with pytest.raises(ApiError) as refused:
        checks.check(token)
    assert refused.value.status == 401


def test_a_role_change_and_a_disabled_user_are_seen_at_the_next_check(api):
    checks = TokenChecks(api.master, SECRET, ttl_s=3600)
    token = token_of(api, "kadis-dinkes")
    assert checks.check(token).opd_code == "DINKES"
    set_role(api.master, "admin", "kadis-dinkes", "opd", opd_code="DISDIK")
    with pytest.raises(ApiError):
        checks.check(token)  # a role change raises the token epoch: the old token ends
    fresh = token_of(api, "kadis-dinkes")
    assert checks.check(fresh).opd_code == "DISDIK"
    set_disabled(api.master, "admin", "kadis-dinkes", True)
    with pytest.raises(ApiError):
        checks.check(fresh)


def test_a_change_made_by_another_process_is_seen_within_the_time_to_live(api, tmp_path):
    checks = TokenChecks(api.master, SECRET, ttl_s=0.3)
    token = token_of(api, "bpkad")
    checks.check(token)
    other = MasterData(f"sqlite:///{tmp_path / 'master.sqlite'}")  # its commits are not seen by this process
    set_disabled(other, "admin", "bpkad", True)
    time.sleep(0.3)
    with pytest.raises(ApiError):
        checks.check(token)


def test_an_expired_token_is_refused_even_while_its_check_is_kept(api):
    checks = TokenChecks(api.master, SECRET, ttl_s=3600)
    token = issue_token(SECRET, Principal("bpkad", "payroll"), now=time.time() - TOKEN_TTL_S + 2)
    p = checks.check(token)
    assert p.username == "bpkad"
    time.sleep(p.expires_at - time.time() + 0.05)
    with pytest.raises(ApiError):
        checks.check(token)


def test_a_refused_token_is_not_kept(api, database_reads):
    checks = TokenChecks(api.master, SECRET)
    token = token_of(api, "bpkad")
    set_disabled(api.master, "admin", "bpkad", True)
    for _ in range(2):
        with pytest.raises(ApiError):
            checks.check(token)
    assert database_reads == ["bpkad", "bpkad"]


def test_through_the_api_a_logged_out_token_stops_at_once_on_the_board(api):
    h = login(api, "kadis-dinkes")
    for _ in range(3):
        assert api.get("/view/today", headers=h).status_code == 200
    assert api.post("/auth/logout", headers=h).status_code == 204
    assert api.get("/view/today", headers=h).status_code == 401
    assert api.get("/view/month", headers=h).status_code == 401


def test_through_the_api_a_changed_role_stops_the_board_at_once(api):
    h, admin = login(api, "kadis-dinkes"), login(api, "admin")
    assert api.get("/view/today?opd=DINKES", headers=h).status_code == 200
    r = api.patch("/users/kadis-dinkes", headers=admin, json={"role": "opd", "opd_code": "DISDIK"})
    assert r.status_code == 200
    assert api.get("/view/today?opd=DINKES", headers=h).status_code == 401
    moved = login(api, "kadis-dinkes")
    assert api.get("/view/today?opd=DINKES", headers=moved).status_code == 403
    assert api.get("/view/today", headers=moved).json()["opd"]["kode"] == "DISDIK"
