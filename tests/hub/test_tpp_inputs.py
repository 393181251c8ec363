"""`hadir tpp simulate` refuses what it cannot count, naming the field; errors to stderr, --json stays clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.payroll.policy_file import load_policy
from hub.payroll.scenario_file import simulate_file
from hub.tpp.simulate import ScenarioError, parse_scenario, run, to_json

A, B = "198501012010011001", "199002052015032002"
POLICY = load_policy()


def base(**kw) -> dict:
    return {"month": "2026-11", "employees": [{"nip": A, "tpp_base": 5_000_000}], **kw}


def problems(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        run(parse_scenario(data), POLICY)
    return info.value.problems


def cli(tmp_path, text: str, *args: str) -> subprocess.CompletedProcess:
    f = tmp_path / "scenario.yaml"
    f.write_text(text)
    return subprocess.run([sys.executable, "-m", "hadir_ops.cli", "tpp", "simulate", str(f), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("data", "expected"), [
    (base(punches=[{"nip": B, "at": "2026-11-02T07:25"}]), f"punches[0].nip: {B} is not in employees"),
    (base(leave=[{"nip": B, "from": "2026-11-02", "to": "2026-11-02", "type": "sakit"}]),
     f"leave[0].nip: {B} is not in employees"),
    (base(leave=[{"nip": A, "from": "2026-11-12", "to": "2026-11-11", "type": "sakit"}]),
     "leave[0].to: 2026-11-11 is before from 2026-11-12"),
    (base(duty_orders=[{"nip": A, "from": "2026-11-17", "to": "2026-11-16"}]),
     "duty_orders[0].to: 2026-11-16 is before"),
    ({**base(), "employees": [{"nip": A, "tpp_base": 1}, {"nip": A, "tpp_base": 2}]},
     f"employees[1].nip: duplicate NIP {A}"),
    (base(punches=[{"nip": A, "at": "2026-11-09"}]), "punches[0].at: needs a time"),
    (base(leave=[{"nip": A, "from": "2026-11-11", "to": "2026-11-12"}]), "leave[0].type: Field required"),
    (base(leave=[{"nip": A, "from": "2026-11-11", "to": "2026-11-12", "type": "liburan"}]),
     "leave[0].type: 'liburan' is not a leave type of the policy"),
    (base(holidays=["2026-02-30"]), "holidays[0]: Input should be a valid date"),
    ({**base(), "employees": [{"nip": A, "tpp_base": 1, "shift": "sore"}]},
     "employees[0].shift: 'sore' is not a shift"),
    (base(as_of="2026-11-18"), "as_of: needs a time"),
    ({**base(), "employees": [{"nip": A, "tpp_base": 1, "start": "2026-11-10", "end": "2026-11-09"}]},
     "employees[0].end: 2026-11-09 is before start"),
    ({"month": "2026-13", "employees": [{"nip": A, "tpp_base": 1}]}, "month: String should match pattern"),
])
def test_each_refusal_names_the_field(data, expected):
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_all_problems_are_reported_at_once():
    found = problems(base(punches=[{"nip": B, "at": "2026-11-02T07:25"}, {"nip": A, "at": "2026-11-09"}],
                          holidays=["2026-02-30"]))
    assert len(found) == 2 and found[0].startswith("holidays[0]") and found[1].startswith("punches[1].at")
    # The cross-references are checked once the fields are well formed.
    found = problems(base(punches=[{"nip": B, "at": "2026-11-02T07:25"}]))
    assert found == [f"punches[0].nip: {B} is not in employees"]


def test_an_employee_may_carry_a_shift():
    punches = [{"nip": A, "at": "2026-11-02T21:55"}, {"nip": A, "at": "2026-11-03T06:05"}]
    data = {**base(punches=punches), "employees": [{"nip": A, "tpp_base": 3_000_000, "shift": "malam"}]}
    emp = to_json(run(parse_scenario(data), POLICY))["employees"][0]
    assert emp["days"]["2026-11-02"] == "HADIR" and emp["days"]["2026-11-03"] == "TK"


def test_punches_outside_the_month_are_counted_and_ignored_but_an_overnight_check_out_is_used():
    punches = [{"nip": A, "at": "2026-10-30T07:25"}, {"nip": A, "at": "2026-12-01T07:25"},
               {"nip": A, "at": "2026-11-30T21:55"}, {"nip": A, "at": "2026-12-01T06:05"}]
    data = {**base(punches=punches), "employees": [{"nip": A, "tpp_base": 3_000_000, "shift": "malam"}]}
    sim = run(parse_scenario(data), POLICY)
    assert sim.warnings == ["punches: 2 punch(es) outside 2026-11 were ignored"]
    assert to_json(sim)["employees"][0]["days"]["2026-11-30"] == "HADIR"


def test_the_cli_sends_refusals_to_stderr_and_exits_non_zero(tmp_path):
    # Unquoted YAML dates: a day that does not exist and a punch without a time are named, not crashed on.
    out = cli(tmp_path, f"month: 2026-11\nemployees: [{{nip: '{A}', tpp_base: 1}}]\nholidays: [2026-02-30]\n"
                        f"punches: [{{nip: '{A}', at: 2026-11-09}}]\n", "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert "holidays[0]" in out.stderr and "2026-02-30" in out.stderr and "punches[0].at: needs a time" in out.stderr


def test_the_cli_warns_on_stderr_and_keeps_json_parseable(tmp_path):
    out = cli(tmp_path, f"month: 2026-11\nemployees: [{{nip: '{A}', tpp_base: 5000000}}]\n"
                        f"punches: [{{nip: '{A}', at: '2026-10-30T07:25'}}]\n", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["warnings"] == ["punches: 1 punch(es) outside 2026-11 were ignored"]
    assert "1 punch(es) outside 2026-11 were ignored" in out.stderr


def test_a_missing_policy_file_is_named(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(f"month: 2026-11\npolicy: kota.toml\nemployees: [{{nip: '{A}', tpp_base: 1}}]\n")
    with pytest.raises(ScenarioError, match=r"^policy: policy file .*kota.toml not found"):
        simulate_file(f)


def test_the_documented_example_runs(tmp_path):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "tpp.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    out = cli(tmp_path, example, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    ani, budi = data["employees"]
    assert ani["days"]["2026-11-09"] == "TL1" and ani["days"]["2026-11-11"] == "CUTI" and ani["provisional"]
    # Budi works nights (22:00-06:00): at 10:00 on the 18th that night has not started, and the night of the
    # 17th is still provisional until its check-out window closes at 10:00:00.
    assert budi["days"]["2026-11-18"] == "BELUM" and budi["days"]["2026-11-17"] == "TK"
