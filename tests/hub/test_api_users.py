"""Access can be taken away: user management (API and `hadir-hub`), tokens checked against the current
user on every request, logout, live streams that end with their token, login throttling and lockout,
argon2id with transparent rehash, a password policy; every change audited."""

from __future__ import annotations

import hashlib
import logging
import os
import threading

import pytest
from api_setup import PASSWORD, api_client, login
from typer.testing import CliRunner

import hub.users
from hub.cli import app as cli
from hub.master import AuditLog, Employee, MasterData, Opd, User
from hub.users import LOCK_AFTER

NEW = "kopi-pala-banda-7"


@pytest.fixture
def api(tmp_path):
    with api_client(tmp_path) as client:
        yield client


def test_admin_manages_users_and_every_change_is_audited(api):
    h = login(api, "admin")
    assert {u["username"] for u in api.get("/users", headers=h).json()} >= {"admin", "kadis-dinkes", "ani"}
    r = api.post("/users", headers=h, json={"username": "sekdis", "password": NEW, "role": "opd", "opd_code": "DINKES"})
    assert r.status_code == 201 and r.json() == {"username": "sekdis", "role": "opd", "opd_code": "DINKES",
                                                 "nip": None, "disabled": False, "locked_until": None}
    assert "password" not in r.text and "argon2" not in r.text
    assert api.post("/users", headers=h, json={"username": "sekdis", "password": NEW, "role": "auditor"}
                    ).status_code == 409
    assert api.patch("/users/sekdis", headers=h, json={"disabled": True}).json()["disabled"] is True
    assert api.patch("/users/sekdis", headers=h, json={"disabled": False}).json()["disabled"] is False
    assert api.patch("/users/sekdis", headers=h, json={"role": "auditor"}).json()["role"] == "auditor"
    assert api.post("/users/sekdis/password", headers=h, json={"new_password": "pala-cengkih-42"}).status_code == 200
    assert api.delete("/users/sekdis", headers=h).status_code == 204
    assert api.delete("/users/sekdis", headers=h).status_code == 404
    actions = [r.action for r in api.master.list(AuditLog, entity="api_user", entity_id="sekdis")]
    assert actions == ["create", "disable", "enable", "role", "reset_password", "delete"]
    details = [r.detail for r in api.master.list(AuditLog, entity="api_user")]
    assert not any("password_hash" in d for d in details)


@pytest.mark.parametrize("password", ["password", "12345678", "rahasia123", "Password2024", "aaaaaaaaaaaa",
                                      "short-1", "sekdis-rahasia-9"])
def test_weak_passwords_are_refused(api, password):
    r = api.post("/users", headers=login(api, "admin"), json={"username": "sekdis", "password": password,
                                                               "role": "payroll"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "password", (password, r.text)


def test_scope_of_a_new_user_must_exist(api):
    h = login(api, "admin")
    r = api.post("/users", headers=h, json={"username": "x1", "password": NEW, "role": "employee",
                                            "nip": "199912312020121999"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "nip"
    r = api.post("/users", headers=h, json={"username": "x2", "password": NEW, "role": "opd", "opd_code": "NOPE"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "opd_code"
    assert api.post("/users", headers=h, json={"username": "x3", "password": NEW, "role": "opd"}).status_code == 422


@pytest.mark.parametrize("change", ["delete", "disable", "reset", "role"])
def test_a_token_ends_when_its_user_changes(api, change):
    token = login(api, "kadis-dinkes")
    assert api.get("/employees", headers=token).status_code == 200
    admin = login(api, "admin")
    r = {"delete": lambda: api.delete("/users/kadis-dinkes", headers=admin),
         "disable": lambda: api.patch("/users/kadis-dinkes", headers=admin, json={"disabled": True}),
         "reset": lambda: api.post("/users/kadis-dinkes/password", headers=admin, json={"new_password": NEW}),
         "role": lambda: api.patch("/users/kadis-dinkes", headers=admin, json={"role": "opd", "opd_code": "DISDIK"}),
         }[change]()
    assert r.status_code in (200, 204), r.text
    refused = api.get("/employees", headers=token)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"


def test_logout_ends_that_token_only_and_own_password_change_ends_all(api):
    first, second = login(api, "bpkad"), login(api, "bpkad")
    assert api.post("/auth/logout", headers=first).status_code == 204
    assert api.get("/employees", headers=first).status_code == 401
    assert api.get("/employees", headers=second).status_code == 200
    wrong = api.post("/auth/password", headers=second, json={"old_password": "salah-sekali", "new_password": NEW})
    assert wrong.status_code == 422
    weak = api.post("/auth/password", headers=second, json={"old_password": PASSWORD, "new_password": "12345678"})
    assert weak.status_code == 422 and weak.json()["error"]["field"] == "new_password"
    assert api.post("/auth/password", headers=second, json={"old_password": PASSWORD, "new_password": NEW}
                    ).status_code == 204
    assert api.get("/employees", headers=second).status_code == 401
    assert api.post("/auth/token", json={"username": "bpkad", "password": NEW}).status_code == 200
    actions = [r.action for r in api.master.list(AuditLog, actor="bpkad")]
    assert actions == ["logout", "password"]


def test_the_last_admin_stays(api):
    h = login(api, "admin")
    for r in (api.patch("/users/admin", headers=h, json={"disabled": True}), api.delete("/users/admin", headers=h),
              api.patch("/users/admin", headers=h, json={"role": "auditor"})):
        assert r.status_code == 409, r.text


def test_a_live_stream_ends_when_its_user_is_removed(api):
    api.app.state.stream_recheck_s = 0.1
    h = login(api, "kadis-dinkes")
    removed = threading.Event()

    def remove_when_listening():
        for _ in range(300):
            if api.broadcaster._subscribers:
                hub.users.delete_user(api.master, "admin", "kadis-dinkes")
                removed.set()
                return
            threading.Event().wait(0.01)

    threading.Thread(target=remove_when_listening, daemon=True).start()
    with api.stream("GET", "/stream/checkins", headers=h) as r:
        lines = list(r.iter_lines())  # returns only because the server ends the stream
    assert removed.is_set() and "event: end" in lines
    assert not api.broadcaster._subscribers


def test_repeated_failures_lock_the_account_with_log_lines(api, caplog):
    caplog.set_level(logging.WARNING, logger="hub.auth")
    for _ in range(LOCK_AFTER):
        assert api.post("/auth/token", json={"username": "bpkad", "password": "tebak-tebak"}).status_code == 401
    locked = api.post("/auth/token", json={"username": "bpkad", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 60
    assert "failed login for 'bpkad'" in caplog.text.replace("login failed for", "failed login for")
    assert api.master.user("bpkad").locked_until is not None
    assert [r.action for r in api.master.list(AuditLog, entity="api_user", entity_id="bpkad")][-1] == "lock"
    # An unknown name answers alike after as many failures: no telling which accounts exist.
    for _ in range(LOCK_AFTER):
        assert api.post("/auth/token", json={"username": "hantu", "password": "tebak-tebak"}).status_code == 401
    assert api.post("/auth/token", json={"username": "hantu", "password": "tebak-tebak"}).status_code == 429
    # The admin lifts the lockout with a reset.
    h = login(api, "admin")
    assert api.post("/users/bpkad/password", headers=h, json={"new_password": NEW}).json()["locked_until"] is None
    assert api.post("/auth/token", json={"username": "bpkad", "password": NEW}).status_code == 200


def test_many_failures_from_one_address_are_throttled(api):
    throttle = api.app.state.login_throttle
    for i in range(throttle.per_client):
        assert api.post("/auth/token", json={"username": f"nama{i}", "password": "tebak-tebak"}).status_code == 401
    r = api.post("/auth/token", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_unknown_users_cost_a_hash_check_like_known_ones(api, monkeypatch):
    calls = []
    real = hub.users.check_password
    monkeypatch.setattr(hub.users, "check_password", lambda pw, stored: calls.append(stored) or real(pw, stored))
    api.post("/auth/token", json={"username": "tidak-ada", "password": "tebak-tebak"})
    api.post("/auth/token", json={"username": "bpkad", "password": "tebak-tebak"})
    assert len(calls) == 2 and all(c.startswith("$argon2id$") for c in calls)


def test_old_scrypt_hashes_still_log_in_and_are_upgraded_to_argon2id(api):
    salt = os.urandom(16)
    old = f"scrypt${salt.hex()}${hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1).hex()}"
    api.master.add("setup", User(username="lama", password_hash=old, role="auditor"))
    assert api.post("/auth/token", json={"username": "lama", "password": "salah-sandi-1"}).status_code == 401
    assert api.master.user("lama").password_hash == old
    assert api.post("/auth/token", json={"username": "lama", "password": PASSWORD}).status_code == 200
    assert api.master.user("lama").password_hash.startswith("$argon2id$")
    assert api.post("/auth/token", json={"username": "lama", "password": PASSWORD}).status_code == 200


def test_token_errors_say_nothing_of_python(api):
    for token in ("forged.token", "a.b.c", "%%%.###", "eyJ1IjoxfQ.AAAA", ""):
        r = api.get("/employees", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        message = r.json()["error"]["message"]
        assert message.startswith("invalid or expired token") or message.startswith("send 'Authorization"), message
        assert "padding" not in message and "Error" not in message


def test_hadir_hub_user_commands(tmp_path):
    env = {"HADIR_HUB_DATA_DIR": str(tmp_path)}
    master = MasterData(f"sqlite:///{tmp_path / 'master.sqlite'}")
    master.add("setup", Opd(code="DINKES", name="Dinas Kesehatan"))
    master.add("setup", Employee(nip="198703122010011001", name="Ani", opd_code="DINKES", tpp_base=1))
    run = CliRunner().invoke

    def ok(*args, input=None):
        r = run(cli, list(args), env=env, input=input)
        assert r.exit_code == 0, r.output
        return r.output

    ok("add-user", "root", "--role", "admin", input=f"{NEW}\n{NEW}\n")
    weak = run(cli, ["add-user", "x", "--role", "admin"], env=env, input="12345678\n12345678\n")
    assert weak.exit_code == 2 and "password" in weak.output
    ghost = run(cli, ["add-user", "ghost", "--role", "employee", "--nip", "199912312020121999"], env=env,
                input=f"{NEW}\n{NEW}\n")
    assert ghost.exit_code == 2 and "no employee" in ghost.output
    ok("add-user", "ani", "--role", "employee", "--nip", "198703122010011001", input=f"{NEW}\n{NEW}\n")
    ok("disable-user", "ani")
    assert "disabled" in ok("list-users")
    ok("enable-user", "ani")
    ok("reset-password", "ani", input="pala-cengkih-42\npala-cengkih-42\n")
    ok("set-role", "ani", "--role", "opd", "--opd", "DINKES")
    ok("delete-user", "ani")
    assert run(cli, ["delete-user", "root"], env=env).exit_code == 2  # the last admin stays
    assert [r.action for r in master.list(AuditLog, entity="api_user", entity_id="ani")] == [
        "create", "disable", "enable", "reset_password", "role", "delete"]
