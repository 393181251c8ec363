"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import hub.enrolment  # noqa: F401 - template tables
from hub.master import Base, Employee, MasterData, Opd
from hub.migrate import upgrade


def test_upgrade_creates_the_models_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'master.sqlite'}"
    upgrade(url)
    engine = create_engine(url)
    assert {"employee", "opd", "leave", "duty_order", "correction", "template", "audit_log"} <= set(
        inspect(engine).get_table_names())
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ: write a migration ({diff})"
    master = MasterData(url)
    master.add("test", Opd(code="X", name="x"))
    master.add("test", Employee(nip="1", name="y", opd_code="X", tpp_base=1, shift="malam"))
    assert master.employees()[0].shift == "malam"


def test_upgrading_a_database_with_city_holidays_keeps_them_as_additions(tmp_path):
    from datetime import date

    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'master.sqlite'}"
    upgrade(url, "0001")
    with create_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO holiday (day, name) VALUES ('2026-12-28', 'HUT Kota')"))
    upgrade(url)
    master = MasterData(url)
    [row] = master.holidays()
    assert (row.date, row.name, row.works) == (date(2026, 12, 28), "HUT Kota", False)
    assert master.ramadan() == []
