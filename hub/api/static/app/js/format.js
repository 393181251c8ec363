// Times are shown in WIT (Asia/Jayapura) whatever the browser's own clock and zone say.

export const TZ = "Asia/Jayapura";
export const DAYS = ["Minggu", "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu"];
export const MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
  "Oktober", "November", "Desember"];

const parts = new Intl.DateTimeFormat("en-GB", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  second: "2-digit", hourCycle: "h23",
});

function witParts(date) {
  const out = {};
  for (const p of parts.formatToParts(date)) out[p.type] = p.value;
  return out;
}

/** "07:45" in WIT for an ISO time (any zone). */
export function witTime(iso, seconds = false) {
  const p = witParts(new Date(iso));
  return seconds ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
}

/** "Senin, 23 November 2026 07:30" in WIT for a stored instant (UTC; a time without a zone is UTC). */
export function witDateTime(iso) {
  const at = new Date(iso.endsWith("Z") || /[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z");
  return `${dateLabel(witDate(at))} ${witTime(at)}`;
}

/** Today's date in WIT as YYYY-MM-DD (the hub's notion of today, not the browser's). */
export function witDate(date = new Date()) {
  const p = witParts(date);
  return `${p.year}-${p.month}-${p.day}`;
}

export function monthLabel(month) {
  const [y, m] = month.split("-").map(Number);
  return `${MONTHS[m - 1]} ${y}`;
}

export function dateLabel(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const day = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return `${DAYS[day]}, ${d} ${MONTHS[m - 1]} ${y}`;
}

export function shortDate(iso) {
  const [, m, d] = iso.split("-").map(Number);
  return `${d} ${MONTHS[m - 1].slice(0, 3)}`;
}

export function rupiah(n) {
  return "Rp " + Math.round(n).toLocaleString("id-ID");
}

export function percent(n) {
  return `${Number(n).toLocaleString("id-ID", { maximumFractionDigits: 2 })}%`;
}

export function shiftMonth(month, delta) {
  const [y, m] = month.split("-").map(Number);
  const d = new Date(Date.UTC(y, m - 1 + delta, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}
