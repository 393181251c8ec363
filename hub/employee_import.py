"""Employee import from a BKN/SIASN-style export (CSV or XLSX): read, plan (dry run), apply with audit.

The city's staff list comes out of SIASN as a spreadsheet: NIP, name, unit (OPD), position, rank/grade,
status and, added by the payroll office, the TPP base. Excel saves CSV with `;` in Indonesian regional
settings and often as Windows-1252, and turns an 18-digit NIP typed as a number into 1.99002E+17: each
of these is read correctly or refused with the file and line named. Rows are never deleted: an employee
who left is marked by a retirement/stop date (`end`), so past months keep their attendance.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hub.master import Employee, MasterData, Opd

# Column headers as SIASN and payroll sheets spell them (compared lower-case, spaces/punctuation ignored).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "nip": ("nip", "nipbaru", "nip18"),
    "name": ("nama", "name", "namalengkap", "namapegawai"),
    "opd": ("opd", "kodeopd", "unitkerja", "unitorganisasi", "satuankerja", "unor", "unorinduk", "perangkatdaerah"),
    "position": ("jabatan", "namajabatan", "position"),
    "grade": ("golongan", "golonganruang", "pangkatgolongan", "pangkat", "gol", "grade"),
    "status": ("status", "statuspegawai", "jenispegawai", "kedudukanhukum"),
    "tpp_base": ("tpp", "basistpp", "pagutpp", "tppbase", "nilaitpp"),
    "end": ("tmtpensiun", "tanggalpensiun", "tanggalberhenti", "tmtberhenti", "end"),
    "start": ("tmtcpns", "tmtpppk", "tanggalmulai", "start"),
    "shift": ("shift", "jadwal"),
}
REQUIRED = ("nip", "name", "opd")
STATUSES = {"PNS": "PNS", "CPNS": "CPNS", "PPPK": "PPPK", "P3K": "PPPK"}
FIELDS = ("name", "opd_code", "position", "grade", "status", "tpp_base", "start", "end", "shift")


class ImportError_(ValueError):
    """The file as a whole cannot be read (encoding, no header, missing columns); the message says what to do."""


@dataclass(frozen=True)
class RowError:
    line: int  # line in the file (header = 1), or spreadsheet row
    nip: str
    message: str


@dataclass
class Change:
    """One employee to create or update; `fields` maps each changed field to (old, new)."""

    action: str  # "create", "update", "transfer", "retire"
    nip: str
    fields: dict[str, tuple[Any, Any]]
    line: int


@dataclass
class ImportPlan:
    changes: list[Change] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    unchanged: int = 0
    rows: int = 0

    def summary(self) -> dict[str, int]:
        counts = {"rows": self.rows, "unchanged": self.unchanged, "errors": len(self.errors)}
        for c in self.changes:
            counts[c.action] = counts.get(c.action, 0) + 1
        return counts


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _columns(headers: list[str], source: str) -> dict[str, int]:
    by_key = {_key(h): i for i, h in enumerate(headers) if h}
    out = {}
    for name, aliases in HEADER_ALIASES.items():
        for alias in aliases:
            if alias in by_key:
                out[name] = by_key[alias]
                break
    missing = [c for c in REQUIRED if c not in out]
    if missing:
        raise ImportError_(f"{source}: no column for {', '.join(missing)} in the header "
                           f"({', '.join(h for h in headers if h)}); expected e.g. NIP; Nama; Unit Kerja")
    return out


def _decode(data: bytes, source: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:  # Excel "CSV" on Windows in Indonesia: Windows-1252
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ImportError_(f"{source}: not UTF-8 or Windows-1252 text (byte {exc.start}); save it from Excel as "
                           "'CSV UTF-8' or as .xlsx") from None


def read_rows(data: bytes, filename: str) -> list[tuple[int, dict[str, Any]]]:
    """(line, {column: raw value}) per data row of a .csv or .xlsx file; ImportError_ when unreadable."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        return _xlsx_rows(data, filename)
    if not filename.lower().endswith((".csv", ".txt")):
        raise ImportError_(f"{filename}: give a .csv or .xlsx file (SIASN export)")
    text = _decode(data, filename)
    lines = text.splitlines()
    if lines and lines[0].lower().startswith("sep="):  # Excel's explicit separator line
        delimiter, lines = lines[0][4:5] or ",", lines[1:]
    else:
        head = lines[0] if lines else ""
        delimiter = ";" if head.count(";") > head.count(",") else ("\t" if "\t" in head else ",")
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    rows = list(reader)
    if not rows:
        raise ImportError_(f"{filename}: the file is empty")
    offset = 2 if text.splitlines()[:1] and text.splitlines()[0].lower().startswith("sep=") else 1
    cols = _columns([h.strip() for h in rows[0]], filename)
    out = []
    for n, row in enumerate(rows[1:], start=offset + 1):
        if not any(cell.strip() for cell in row):
            continue
        out.append((n, {name: (row[i].strip() if i < len(row) else "") for name, i in cols.items()}))
    return out


def _xlsx_rows(data: bytes, filename: str) -> list[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # openpyxl raises several kinds for a damaged or non-XLSX file
        raise ImportError_(f"{filename}: not a readable .xlsx workbook ({exc.__class__.__name__})") from None
    rows = list(sheet.iter_rows(values_only=True))
    if not rows:
        raise ImportError_(f"{filename}: the first sheet is empty")
    cols = _columns([str(h).strip() if h is not None else "" for h in rows[0]], filename)
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(v not in (None, "") for v in row):
            continue
        out.append((n, {name: (row[i] if i < len(row) else None) for name, i in cols.items()}))
    return out


def _nip(raw: Any) -> str:
    if isinstance(raw, float) or (isinstance(raw, str) and re.fullmatch(r"\d(\.\d+)?[eE]\+\d+", raw.strip())):
        raise ValueError(f"NIP {raw} was stored as a number and lost its digits; format the NIP column as Text "
                         "in Excel and export again")
    nip = re.sub(r"\s", "", str(raw if raw is not None else "")).lstrip("'")
    if isinstance(raw, int):
        nip = str(raw)
    if not re.fullmatch(r"\d{18}", nip):
        raise ValueError(f"NIP {nip or '(empty)'} must be 18 digits")
    return nip


def _date(raw: Any, column: str) -> date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{column} {text!r} is not a date (use DD-MM-YYYY or YYYY-MM-DD)")


def _int(raw: Any, column: str) -> int | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, int | float):
        return int(raw)
    digits = re.sub(r"[.\s]|Rp|,00$", "", str(raw))  # "Rp 4.500.000" / "4.500.000,00"
    if not digits.isdigit():
        raise ValueError(f"{column} {raw!r} is not an amount in rupiah")
    return int(digits)


def parse_row(values: dict[str, Any], opds: dict[str, str]) -> dict[str, Any]:
    """One sheet row -> Employee fields; ValueError naming the column when a value is unusable.

    `opds` maps both OPD codes and lower-cased OPD names to codes, so SIASN's unit names resolve.
    """
    row: dict[str, Any] = {"nip": _nip(values.get("nip"))}
    name = str(values.get("name") or "").strip()
    if not name:
        raise ValueError("Nama is empty")
    row["name"] = name
    unit = str(values.get("opd") or "").strip()
    code = opds.get(unit) or opds.get(unit.lower())
    if code is None:
        raise ValueError(f"Unit Kerja/OPD {unit or '(empty)'!r} is not an OPD in the master data (add it first)")
    row["opd_code"] = code
    for column in ("position", "grade", "shift"):
        if column in values and values[column] not in (None, ""):
            row[column] = str(values[column]).strip()
    if values.get("status") not in (None, ""):
        status = STATUSES.get(str(values["status"]).strip().upper())
        if status is None:
            raise ValueError(f"Status {values['status']!r} is not PNS, CPNS or PPPK")
        row["status"] = status
    if (tpp := _int(values.get("tpp_base"), "TPP")) is not None:
        row["tpp_base"] = tpp
    for column in ("start", "end"):
        if (d := _date(values.get(column), column)) is not None:
            row[column] = d
    return row


def plan_import(rows: Iterable[tuple[int, dict[str, Any]]], current: dict[str, Employee],
                opds: dict[str, str], today: date) -> ImportPlan:
    """Compare the sheet with the master data: what would be created, updated, transferred or retired."""
    plan = ImportPlan()
    seen: dict[str, int] = {}
    for line, values in rows:
        plan.rows += 1
        raw_nip = str(values.get("nip") or "")
        try:
            row = parse_row(values, opds)
        except ValueError as exc:
            plan.errors.append(RowError(line, raw_nip, str(exc)))
            continue
        nip = row["nip"]
        if nip in seen:
            plan.errors.append(RowError(line, nip, f"NIP {nip} appears again (first on line {seen[nip]})"))
            continue
        seen[nip] = line
        old = current.get(nip)
        if old is None:
            plan.changes.append(Change("create", nip, {k: (None, v) for k, v in row.items() if k != "nip"}, line))
            continue
        diff = {k: (getattr(old, k), v) for k, v in row.items() if k != "nip" and getattr(old, k) != v}
        if not diff:
            plan.unchanged += 1
            continue
        action = "update"
        if "opd_code" in diff:
            action = "transfer"
        if "end" in diff and row["end"] is not None and row["end"] <= today:
            action = "retire"
        plan.changes.append(Change(action, nip, diff, line))
    return plan


def opd_lookup(master: MasterData) -> dict[str, str]:
    """OPD code -> code and lower-cased name -> code, for resolving the sheet's unit column."""
    out: dict[str, str] = {}
    for opd in master.list(Opd):
        out[opd.code] = opd.code
        out[opd.name.lower()] = opd.code
    return out


def apply_plan(master: MasterData, actor: str, plan: ImportPlan,
               progress: Callable[[], None] | None = None) -> int:
    """Write the planned changes, each audited as one create/update; returns how many were written."""
    written = 0
    for change in plan.changes:
        new = {k: v[1] for k, v in change.fields.items()}
        if change.action == "create":
            master.add(actor, Employee(nip=change.nip, **new))
        else:
            master.update(actor, Employee, change.nip, new)
        written += 1
        if progress:
            progress()
    return written


def import_file(master: MasterData, path: Path, today: date) -> ImportPlan:
    """Read and plan one file against the current master data (nothing written)."""
    rows = read_rows(path.read_bytes(), path.name)
    current = {e.nip: e for e in master.employees()}
    return plan_import(rows, current, opd_lookup(master), today)
