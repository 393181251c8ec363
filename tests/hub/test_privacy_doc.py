"""docs/privacy.md states the retention periods the code enforces: a changed default must change the DPIA."""

from __future__ import annotations

from pathlib import Path

from hub.config import Retention

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"


def lines_naming(setting: str) -> list[str]:
    return [line for line in DOC.read_text().splitlines() if f"`retention.{setting}" in line]


def test_every_period_is_documented_with_its_default():
    defaults = Retention()
    for name in ("events_days", "quarantine_days", "gps_history_days", "logs_days", "templates_after_leaving_days"):
        lines = lines_naming(name)
        assert lines, f"docs/privacy.md does not name retention.{name}"
        value = getattr(defaults, name)
        assert all(f"**{value} days" in line for line in lines), f"retention.{name} = {value} is not what the DPIA says"


def test_the_daily_run_and_the_events_minimum_are_documented():
    assert any(f"({Retention().run_at} WIT)" in line for line in lines_naming("run_at"))
    minimum = Retention.model_fields["events_days"].metadata[0].ge
    assert any(f"at least {minimum}" in line for line in lines_naming("events_days"))
