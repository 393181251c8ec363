"""What the web app shows, in Bahasa Indonesia: the board of today, the month table, one employee's month,
the legend of codes. Built from `hub.results` entries and rendered to JSON bytes once per change."""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from hub.results import AWAITING_CHECKIN, AWAITING_CHECKOUT, NOT_YET, Entry, Row
from hub.tpp.compute import TppResult
from hub.tpp.policy import Band, Policy
from hub.tpp.resolve import ABSENT, DUTY, LEAVE, PRESENT, DayResult, Punch, month_days

DAY_NAMES = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTH_NAMES = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
               "November", "Desember")


def long_date(d: date) -> str:
    return f"{DAY_NAMES[d.weekday()]}, {d.day} {MONTH_NAMES[d.month - 1]} {d.year}"


def month_name(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{MONTH_NAMES[mon - 1]} {year}"


def dumps(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------------------------- words

_RULES = [
    (re.compile(r"late (\d+) min \(band (\w+)\)"), r"terlambat \1 menit (kelompok \2)"),
    (re.compile(r"left (\d+) min early \(band (\w+)\)"), r"pulang \1 menit lebih awal (kelompok \2)"),
    (re.compile(r"missing\.checkin_code: no check-in"), "tidak presensi masuk"),
    (re.compile(r"missing\.checkout_code: no check-out"), "tidak presensi pulang"),
    (re.compile(r"absence\.tk_percent: no valid punch, no excuse"),
     "tidak ada presensi yang sah, tanpa cuti atau surat tugas"),
    (re.compile(r", day cap ([\d.]+) %"), lambda m: f", dibatasi {pct(float(m[1]))} per hari"),
    (re.compile(r"\b(cuti|surat perintah tugas) (\w+)"), lambda m: f"{m[1]} {leave_words(m[2])}"),
    (re.compile(r"\(berlaku (\d{4})-(\d\d)-(\d\d)\)"), r"(berlaku \3-\2-\1)"),  # dates as in every other line
]


_RUPIAH = re.compile(r"Rp (\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d\d))?(?!\d|[.,]\d)")  # not "Rp 4.250.000" (done)
_DECIMAL_PERCENT = re.compile(r"(\d+)\.(\d+)%")


def rupiah(amount: float | int) -> str:
    """Whole rupiah the Indonesian way, as everywhere in the app: Rp 1.234.567."""
    whole = int(Decimal(str(amount)).quantize(Decimal(1), ROUND_HALF_UP))
    return f"Rp {whole:,}".replace(",", ".")


def leave_words(name: str) -> str:
    """A policy's leave type as words: alasan_penting -> alasan penting."""
    return name.replace("_", " ")


def indonesian_numbers(text: str) -> str:
    """Rp 1,657,500.00 -> Rp 1.657.500 (whole rupiah, the app's one format) and 0.5% -> 0,5% (lines worded
    with English separators)."""
    text = _RUPIAH.sub(lambda m: rupiah(Decimal(m[1].replace(",", "") + (f".{m[2]}" if m[2] else ""))), text)
    return _DECIMAL_PERCENT.sub(r"\1,\2%", text)


def rule_words(text: str) -> str:
    """A deduction's rule (as hub/tpp words it, with the policy key) in Bahasa Indonesia, without the key."""
    for pattern, words in _RULES:
        text = pattern.sub(words, text)
    return text


def pct(value: float) -> str:
    """A percentage the Indonesian way: 0,5%."""
    return f"{value:g}".replace(".", ",") + "%"


def _band_range(b: Band) -> str:
    return f"{b.from_min} menit atau lebih" if b.to_min is None else f"{b.from_min}–{b.to_min} menit"


def legend(policy: Policy) -> list[dict]:
    """Every code the app shows, with its meaning and deduction under this policy."""
    out = [{"kode": PRESENT, "arti": "Hadir: presensi masuk dan pulang dalam jam kerja, tanpa potongan"}]
    for b in policy.late:
        extra = " atau tidak presensi masuk" if b.code == policy.missing.checkin_code else ""
        out.append({"kode": b.code, "arti": f"Terlambat {_band_range(b)}{extra}: potongan {pct(b.percent)}"})
    for b in policy.early:
        extra = " atau tidak presensi pulang" if b.code == policy.missing.checkout_code else ""
        out.append({"kode": b.code,
                    "arti": f"Pulang sebelum waktunya {_band_range(b)}{extra}: potongan {pct(b.percent)}"})
    out += [
        {"kode": ABSENT, "arti": f"Tanpa keterangan: tidak ada presensi yang sah dan tidak ada cuti atau surat tugas: "
                                 f"potongan {pct(policy.absence.tk_percent)}"},
        {"kode": LEAVE, "arti": "Cuti (" + ", ".join(f"{leave_words(k)} {pct(v)}"
                                                 for k, v in policy.leave.percent.items()) + ")"},
        {"kode": DUTY,
         "arti": f"Dinas luar dengan surat perintah tugas: potongan {pct(policy.leave.duty_order_percent)}"},
        {"kode": NOT_YET, "arti": "Hari kerja belum dimulai (jendela presensi masuk belum dibuka)"},
        {"kode": AWAITING_CHECKIN, "arti": "Belum presensi masuk; jendela presensi masuk masih terbuka"},
        {"kode": AWAITING_CHECKOUT, "arti": "Belum presensi pulang; jendela presensi pulang masih terbuka"},
        {"kode": "LIBUR", "arti": "Bukan hari kerja (akhir pekan, hari libur, cuti bersama, di luar masa kerja)"},
        {"kode": "+", "arti": "Kode digabung bila ada lebih dari satu, misalnya TL3+PSW4 = terlambat "
                              f"{_band_range(policy.late[2]) if len(policy.late) > 2 else ''} dan tidak presensi "
                              "pulang; potongannya dijumlahkan"},
        {"kode": "*", "arti": "Sementara: hari masih berlangsung, kode dapat berubah sampai jendela presensi pulang "
                              "ditutup"},
    ]
    return out


def describe(day: DayResult, provisional: bool) -> str:
    """One day's code in words, e.g. "terlambat 23 menit, belum presensi pulang"."""
    parts = []
    for code in day.code.split("+"):
        if code == PRESENT:
            parts.append("hadir tepat waktu")
        elif code.startswith("TL"):
            parts.append(f"terlambat {day.late_min} menit" if day.checkin else "tidak presensi masuk")
        elif code.startswith("PSW"):
            parts.append(f"pulang {day.early_min} menit lebih awal" if day.checkout else "tidak presensi pulang")
        elif code == ABSENT:
            parts.append("belum ada presensi yang sah" if provisional else "tanpa keterangan")
        elif code == LEAVE:
            parts.append(leave_words(day.note or "cuti"))
        elif code == DUTY:
            order = day.note.removeprefix("surat perintah tugas").strip() or "surat tugas"
            parts.append(f"dinas luar ({order})")
        elif code == NOT_YET:
            parts.append("jam kerja belum dimulai")
        elif code == AWAITING_CHECKIN:
            parts.append("belum presensi masuk")
        elif code == AWAITING_CHECKOUT:
            parts.append("belum presensi pulang")
        else:
            parts.append(code)
    return ", ".join(parts)


def category(day: DayResult | None) -> str:
    """Which count of the board a person falls in: hadir, terlambat, belum_hadir, cuti, dl or libur."""
    if day is None:
        return "libur"
    if day.code == LEAVE:
        return "cuti"
    if day.code == DUTY:
        return "dl"
    if day.checkin is None and day.checkout is None:
        return "belum_hadir"
    return "terlambat" if day.late_min > 0 or day.checkin is None else "hadir"


# ---------------------------------------------------------------------------------------------- views


def _hhmm(at: datetime | None, tz: ZoneInfo) -> str | None:
    return at.astimezone(tz).strftime("%H:%M") if at else None


def _at(punch: Punch) -> datetime:
    return punch.at


def day_of(row: Row, day: date) -> DayResult | None:
    for d in reversed(row.tpp.days):
        if d.date == day:
            return d
    return None


def _with_list(head: dict, key: str, items: list[bytes]) -> bytes:
    """`dumps(head)` with `key` (its last key, an empty list) holding the already encoded `items`."""
    body = dumps(head)
    if not body.endswith(f'"{key}":[]}}'.encode()):
        raise ValueError(f"{key} must be the last key")
    return body[:-2] + b",".join(items) + b"]}"


def _board_line(entry: Entry, nip: str, row: Row, day: date, seen: list[Punch], tz: ZoneInfo) -> tuple[str, bytes]:
    d = day_of(row, day)
    provisional = day in row.provisional_days
    kind = category(d)
    return kind, dumps({
        "nip": nip, "nama": row.employee.name, "kode": d.code if d else "LIBUR", "sementara": provisional,
        "keterangan": describe(d, provisional) if d else "bukan hari kerja", "kategori": kind,
        "masuk": _hhmm(d.checkin.at if d and d.checkin else None, tz),
        "pulang": _hhmm(d.checkout.at if d and d.checkout else None, tz),
        "terlambat_menit": d.late_min if d else 0, "pulang_cepat_menit": d.early_min if d else 0,
        "terakhir_terlihat": _hhmm(seen[-1].at, tz) if seen else None,
        "tidak_dihitung": sum(1 for p in seen if not p.valid),
    })


def board(entry: Entry, day: date, now: datetime, tz: ZoneInfo, opd_name: str) -> bytes:
    """Today's board of the OPD: counts and one line per employee. Each line is encoded once and kept in the
    entry until its employee's row or punches of the day change (an event re-encodes one line, not 150)."""
    counts = dict.fromkeys(("hadir", "terlambat", "belum_hadir", "cuti", "dl", "libur"), 0)
    lines = []
    start = datetime.combine(day, time.min, tz)
    end = min(start + timedelta(days=1), now + timedelta(microseconds=1))
    for nip, row in sorted(entry.rows.items(), key=lambda kv: kv[1].employee.name):
        punches = entry.punches.get(nip, [])  # sorted by time
        kept = entry.fragments.get(("board", day, nip))
        # The line holds while the row and the punches are the same ones and `end` has not passed the next punch
        # (one stamped later than now by a device clock ahead).
        if kept is not None and kept[0] is row and kept[1] == len(punches) and (kept[2] is None or end <= kept[2]):
            kind, line = kept[3]
        else:
            lo, hi = bisect_left(punches, start, key=_at), bisect_left(punches, end, key=_at)
            kind, line = _board_line(entry, nip, row, day, punches[lo:hi], tz)
            entry.fragments[("board", day, nip)] = (row, len(punches), punches[hi].at if hi < len(punches) else None,
                                                    (kind, line))
        counts[kind] += 1
        lines.append(line)
    unknown = sum(1 for at, _, _ in entry.unknown if at.astimezone(tz).date() == day)
    # "hadir" counts everyone present, on time or not; "terlambat" is the part of them that came late.
    present = counts["hadir"] + counts["terlambat"]
    return _with_list({
        "tanggal": day.isoformat(), "tanggal_panjang": long_date(day), "opd": {"kode": entry.opd, "nama": opd_name},
        "dihitung_pada": now.astimezone(tz).strftime("%H:%M"),
        "jumlah": {"pegawai": len(lines), "hadir": present, "terlambat": counts["terlambat"],
                   "belum_hadir": counts["belum_hadir"], "cuti": counts["cuti"], "dl": counts["dl"],
                   "libur": counts["libur"], "tidak_dikenali": unknown},
        "pegawai": [],
    }, "pegawai", lines)


def _tpp_summary(tpp: TppResult) -> dict:
    return {"tpp_dasar": tpp.base, "potongan_persen": round(tpp.deduction_percent, 4),
            "potongan_diterapkan_persen": round(tpp.applied_percent, 4), "tpp_diterima": tpp.final_amount,
            "tidak_dibayar": tpp.zeroed, "alasan": tpp.zero_reason,
            "hari_tk": sum(1 for d in tpp.days if d.code == ABSENT)}


def month_table(entry: Entry, now: datetime, tz: ZoneInfo, opd_name: str) -> bytes:
    """The OPD's month: per employee the code of each working day, the deductions' total and the TPP."""
    today = now.astimezone(tz).date()
    days = month_days(entry.month)
    ongoing = days[0] <= today <= days[-1]
    rows = []
    for nip, row in sorted(entry.rows.items(), key=lambda kv: kv[1].employee.name):
        kept = entry.fragments.get(("month", nip))  # encoded once per row, as the board's lines
        if kept is None or kept[0] is not row:
            kept = (row, dumps({"nip": nip, "nama": row.employee.name,
                                "hari": {d.date.isoformat(): d.code for d in row.tpp.days},
                                "hari_sementara": sorted(d.isoformat() for d in row.provisional_days),
                                **_tpp_summary(row.tpp)}))
            entry.fragments[("month", nip)] = kept
        rows.append(kept[1])
    return _with_list({
        "bulan": entry.month, "nama_bulan": month_name(entry.month), "opd": {"kode": entry.opd, "nama": opd_name},
        "sementara": ongoing or today < days[0], "belum_dimulai": today < days[0], "hari_ini": today.isoformat(),
        "dihitung_pada": now.astimezone(tz).strftime("%d-%m-%Y %H:%M"),
        "tanggal": [{"tanggal": d.isoformat(), "hari": DAY_NAMES[d.weekday()][:3], "nanti": d > today} for d in days],
        "pegawai": [],
    }, "pegawai", rows)


def employee_month(entry: Entry, nip: str, now: datetime, tz: ZoneInfo, opd_name: str) -> dict:
    """One employee's month: every day with its times and reasons, the deductions and the TPP explained."""
    row = entry.rows[nip]
    today = now.astimezone(tz).date()
    days = month_days(entry.month)
    ongoing = days[0] <= today <= days[-1] or today < days[0]
    tpp = row.tpp
    explanation = [indonesian_numbers(rule_words(line)) for line in tpp.explanation()]
    if ongoing:
        explanation.insert(1, f"SEMENTARA per {now.astimezone(tz):%d-%m-%Y %H:%M} WIT: bulan belum selesai; hari "
                              "yang belum terjadi belum dihitung dan hari ini dapat berubah.")
    return {
        "nip": nip, "nama": row.employee.name, "opd": {"kode": entry.opd, "nama": opd_name}, "bulan": entry.month,
        "nama_bulan": month_name(entry.month), "sementara": ongoing, "belum_dimulai": today < days[0],
        "hari_ini": today.isoformat(),
        "dihitung_pada": now.astimezone(tz).strftime("%d-%m-%Y %H:%M"),
        "tanggal": [{"tanggal": d.isoformat(), "hari": DAY_NAMES[d.weekday()][:3], "nanti": d > today} for d in days],
        "hari": [{"tanggal": d.date.isoformat(), "hari": DAY_NAMES[d.date.weekday()], "kode": d.code,
                  "sementara": d.date in row.provisional_days,
                  "keterangan": describe(d, d.date in row.provisional_days),
                  "masuk": _hhmm(d.checkin.at if d.checkin else None, tz),
                  "pulang": _hhmm(d.checkout.at if d.checkout else None, tz),
                  "terlambat_menit": d.late_min, "pulang_cepat_menit": d.early_min,
                  "potongan": [{"kode": x.code, "persen": x.percent, "aturan": rule_words(x.rule)}
                               for x in d.deductions]}
                 for d in tpp.days],
        "potongan": [{"tanggal": x.date.isoformat(), "kode": x.code, "persen": x.percent, "aturan": rule_words(x.rule)}
                     for x in tpp.deductions],
        **_tpp_summary(tpp), "penjelasan": explanation, "kebijakan": tpp.policy,
    }
