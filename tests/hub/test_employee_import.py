"""Employee import from SIASN-style sheets: what is created, changed, transferred, retired or refused."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest
from openpyxl import Workbook

from hub.employee_import import ImportError_, apply_plan, import_file, read_rows
from hub.master import AuditLog, Employee, MasterData, Opd

NIP_A, NIP_B, NIP_C = "199001012015031001", "198502022010012002", "197003031995031003"
TODAY = date(2026, 12, 1)


@pytest.fixture
def master(tmp_path):
    m = MasterData(f"sqlite:///{tmp_path / 'master.sqlite'}")
    m.add("t", Opd(code="DINKES", name="Dinas Kesehatan"))
    m.add("t", Opd(code="BKPSDM", name="Badan Kepegawaian dan Pengembangan SDM"))
    m.add("t", Employee(nip=NIP_B, name="Siti", opd_code="DINKES", status="PNS", tpp_base=4_000_000))
    return m


def _xlsx(path, rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["NIP", "Nama", "Unit Kerja", "Jabatan", "Golongan", "Status Pegawai", "Basis TPP", "TMT Pensiun"])
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def test_xlsx_plan_lists_new_transferred_and_retired_then_apply_writes_and_audits(master, tmp_path):
    _xlsx(tmp_path / "siasn.xlsx", [
        [NIP_A, "Budi", "Dinas Kesehatan", "Perawat", "III/a", "PNS", 4500000, None],
        [NIP_B, "Siti", "BKPSDM", "Analis SDM", "III/c", "PNS", 4000000, None],  # moved to BKPSDM
        [NIP_C, "Yohanis", "DINKES", "Dokter", "IV/a", "PNS", 6000000, "01-11-2026"],  # retired
    ])
    master.add("t", Employee(nip=NIP_C, name="Yohanis", opd_code="DINKES", status="PNS", tpp_base=6_000_000,
                             position="Dokter", grade="IV/a"))
    plan = import_file(master, tmp_path / "siasn.xlsx", TODAY)
    actions = {c.nip: c.action for c in plan.changes}
    assert actions == {NIP_A: "create", NIP_B: "transfer", NIP_C: "retire"} and not plan.errors
    assert master.employee(NIP_A) is None  # a plan writes nothing
    assert apply_plan(master, "t", plan) == 3
    assert master.employee(NIP_B).opd_code == "BKPSDM" and master.employee(NIP_C).end == date(2026, 11, 1)
    assert master.employee(NIP_A).grade == "III/a" and master.employee(NIP_A).tpp_base == 4_500_000
    assert {a.entity_id for a in master.list(AuditLog, entity="employee", action="update")} == {NIP_B, NIP_C}
    # Importing the same file again changes nothing.
    again = import_file(master, tmp_path / "siasn.xlsx", TODAY)
    assert again.changes == [] and again.unchanged == 3


def test_excel_csv_with_semicolons_and_windows_1252_is_read(master, tmp_path):
    text = f"NIP;Nama;Unit Kerja;Status\n'{NIP_A};Ruth Pattinasarany Ä;DINKES;PPPK\n"
    (tmp_path / "nip.csv").write_bytes(text.encode("cp1252"))
    plan = import_file(master, tmp_path / "nip.csv", TODAY)
    assert not plan.errors and plan.changes[0].fields["name"] == (None, "Ruth Pattinasarany Ä")
    assert plan.changes[0].fields["status"] == (None, "PPPK")


def test_each_bad_row_is_refused_with_its_line_and_the_good_ones_still_planned(master, tmp_path):
    text = "\n".join([
        "sep=,", "NIP,Nama,OPD,Status,TPP",
        f"{NIP_A},Budi,DINKES,PNS,Rp 4.500.000",
        "1.99001E+17,Excel Number,DINKES,PNS,1",
        f"{NIP_C},,DINKES,PNS,1",
        f"{NIP_C},Yohanis,DINAS ENTAH,PNS,1",
        f"{NIP_C},Yohanis,DINKES,Honorer,1",
        f"{NIP_A},Budi lagi,DINKES,PNS,1",
    ])
    (tmp_path / "staff.csv").write_text(text, encoding="utf-8-sig")
    plan = import_file(master, tmp_path / "staff.csv", TODAY)
    assert [c.nip for c in plan.changes] == [NIP_A] and plan.changes[0].fields["tpp_base"] == (None, 4_500_000)
    messages = {e.line: e.message for e in plan.errors}
    assert set(messages) == {4, 5, 6, 7, 8}
    assert "stored as a number" in messages[4] and "Nama is empty" in messages[5]
    assert "DINAS ENTAH" in messages[6] and "Honorer" in messages[7] and "appears again" in messages[8]


def test_unreadable_files_are_refused_with_the_file_named():
    with pytest.raises(ImportError_, match="pegawai.pdf"):
        read_rows(b"%PDF", "pegawai.pdf")
    with pytest.raises(ImportError_, match="no column for nip"):
        read_rows(b"Nama;Unit\nBudi;X\n", "x.csv")
    with pytest.raises(ImportError_, match="rusak.xlsx"):
        read_rows(b"PK\x03\x04 not really", "rusak.xlsx")


def test_cli_dry_run_writes_nothing_and_apply_reports_refused_rows(master, tmp_path):
    data = tmp_path / "hub"
    m = MasterData(f"sqlite:///{data / 'master.sqlite'}")
    m.add("t", Opd(code="DINKES", name="Dinas Kesehatan"))
    sheet = _xlsx(tmp_path / "s.xlsx", [[NIP_A, "Budi", "DINKES", "Perawat", "III/a", "PNS", 1, None],
                                        ["123", "Pendek", "DINKES", None, None, "PNS", 1, None]])
    env = {"HADIR_HUB_DATA_DIR": str(data), "PATH": ""}
    dry = subprocess.run([sys.executable, "-m", "hub.cli", "import-employees", str(sheet), "--dry-run"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert dry.returncode == 1 and "Dry run" in dry.stdout and "18 digits" in dry.stdout
    assert m.employee(NIP_A) is None
    real = subprocess.run([sys.executable, "-m", "hub.cli", "import-employees", str(sheet)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert real.returncode == 1 and "1 employees written" in real.stdout
    assert m.employee(NIP_A).name == "Budi"
