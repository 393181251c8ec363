"""Spreadsheet exports for the payroll office: XLSX first, CSV that opens right in Excel set to Indonesian.

Neither format lets a value become a formula: a text starting with = + - @ (or a tab, CR or LF, or their
full-width forms) is a live formula in Excel and LibreOffice. In XLSX such text is stored as a string
cell with Excel's quote prefix (shown unchanged, never evaluated, not even after editing); in CSV it
gets a leading apostrophe. The NIP (18 digits) stays text in both: as a number Excel would show
1,98703E+17 and drop the last digits.

CSV for Excel with Indonesian regional settings: UTF-8 with a BOM (names keep their letters), `;` as the
separator (the Indonesian list separator; `,` is the decimal mark there), decimals written with `,`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
TEXT_COLUMNS = {"NIP"}


def is_formula_like(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START)


def _csv_cell(value: object, as_text: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Ya" if value else "Tidak"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".").replace(".", ",")
    text = str(value)
    if as_text and text.isdigit():
        return f'="{text}"'  # Excel's way to keep digits as text on opening a CSV
    return "'" + text if is_formula_like(text) else text


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """CSV bytes for Excel in Indonesian settings (BOM, `;`, decimal comma), formulas neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow([_csv_cell(h, False) for h in headers])
    text_cols = {i for i, h in enumerate(headers) if h in TEXT_COLUMNS}
    for row in rows:
        writer.writerow([_csv_cell(v, i in text_cols) for i, v in enumerate(row)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _xml_safe(text: str) -> str:
    """Control characters cannot be stored in XLSX (XML): shown as U+FFFD rather than failing the export."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)


def to_xlsx(sheets: dict[str, tuple[Sequence[str], Sequence[Sequence[object]]]]) -> bytes:
    """An XLSX workbook, one sheet per entry (name cut to Excel's 31 characters); text never a formula."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for name, (headers, rows) in sheets.items():
        ws = wb.create_sheet(name[:31])
        text_cols = {i for i, h in enumerate(headers) if h in TEXT_COLUMNS}
        for r, row in enumerate([list(headers), *rows], start=1):
            for c, value in enumerate(row):
                cell = ws.cell(row=r, column=c + 1)
                if isinstance(value, str):
                    cell.value = value = _xml_safe(value)
                    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
                    if is_formula_like(value):
                        cell.quotePrefix = True
                else:
                    cell.value = value
                if c in text_cols:
                    cell.number_format = "@"
        for c, header in enumerate(headers, start=1):
            ws.column_dimensions[get_column_letter(c)].width = max(12, len(header) + 2)
        for c in text_cols:
            ws.column_dimensions[get_column_letter(c + 1)].width = 22
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
