"""Exports cannot carry formulas, and the CSV opens right in Excel with Indonesian regional settings."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from api_setup import api_client, login
from openpyxl import load_workbook

from hub.exports import to_csv, to_xlsx

EVIL = ["=HYPERLINK(\"http://x\",\"klik\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR", "\uff1d1+1"]
NIP = "198703122010011001"


@pytest.fixture
def api(tmp_path):
    with api_client(tmp_path) as client:
        yield client


def test_csv_for_indonesian_excel():
    data = to_csv(["NIP", "Nama", "Potongan (%)", "TPP (Rp)"],
                  [[NIP, "Ani Latuconsina", 3.5, 4_825_000], [NIP, "Bu Ê", 0.0, 0]])
    assert data.startswith("\ufeff".encode())  # UTF-8 BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["NIP", "Nama", "Potongan (%)", "TPP (Rp)"]
    assert rows[1] == [f'="{NIP}"', "Ani Latuconsina", "3,5", "4825000"]  # NIP as text, decimal comma
    assert rows[2][1] == "Bu Ê" and rows[2][2] == "0"


def test_csv_neutralises_formulas():
    data = to_csv(["NIP", "Nama"], [[NIP, name] for name in EVIL])
    cells = [row[1] for row in csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";")][1:]
    assert cells == ["'" + name for name in EVIL]


def test_xlsx_stores_formula_like_text_as_text():
    data = to_xlsx({"DINKES": (["NIP", "Nama", "TPP (Rp)"], [[NIP, name, 1000] for name in EVIL])})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # not one formula in the file
    ws = load_workbook(io.BytesIO(data))["DINKES"]
    for r, name in enumerate(EVIL, start=2):
        nip, cell, amount = ws.cell(r, 1), ws.cell(r, 2), ws.cell(r, 3)
        assert cell.data_type == "s" and cell.quotePrefix
        assert cell.value == name.replace("\r", "\n")  # XML turns a lone CR into LF
        assert nip.value == NIP and nip.data_type == "s" and nip.number_format == "@"
        assert amount.value == 1000 and amount.data_type == "n"


def test_xlsx_survives_control_characters():
    # Found by schemathesis: a name with a control character made the XLSX export fail with a 500.
    data = to_xlsx({"X": (["NIP", "Nama"], [[NIP, "Ani\x01\x1fLatu"]])})
    assert load_workbook(io.BytesIO(data))["X"]["B2"].value == "Ani\ufffd\ufffdLatu"


def test_the_exports_of_the_api_use_them(api):
    h = login(api, "admin")
    assert api.patch("/employees/198703122010011001", headers=h, json={"name": "=1+1"}).status_code == 200
    h = login(api, "bpkad")
    r = api.get("/export/tpp.csv", headers=h, params={"month": "2026-11", "opd": "DINKES"})
    assert r.content.startswith("\ufeff".encode()) and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1][:2] == [f'="{NIP}"', "'=1+1"]
    x = api.get("/export/tpp.xlsx", headers=h, params={"month": "2026-11", "opd": "DINKES"})
    ws = load_workbook(io.BytesIO(x.content))["DINKES"]
    assert ws["B2"].value == "=1+1" and ws["B2"].data_type == "s" and ws["A2"].value == NIP
