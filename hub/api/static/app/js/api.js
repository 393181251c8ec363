// The hub's own API (same origin) with the bearer token of this browser tab; errors in Bahasa Indonesia.

const KEY = "hadir_token";
let token = sessionStorage.getItem(KEY);
let onExpired = () => {};

export function loggedIn() { return Boolean(token); }
export function bearer() { return token; }
export function whenExpired(fn) { onExpired = fn; }

const FIELDS = {
  nip: "NIP pegawai", start: "tanggal mulai", end: "tanggal selesai", type: "jenis cuti",
  number: "nomor surat tugas", destination: "tujuan", lat: "lintang", lon: "bujur", radius_m: "radius",
  at: "waktu presensi", reason: "alasan", approved_by: "disetujui oleh", month: "bulan", opd: "OPD",
  date: "tanggal", username: "nama pengguna", password: "kata sandi", approver: "penyetuju",
  document: "nomor dokumen", note: "catatan",
};

// The API's own sentences (hub/api/schemas.py validators, route checks) in Bahasa Indonesia.
const DETAILS = [
  [/is before start/, "sebelum tanggal mulai"],  // on `end`: "2026-11-23 is before start 2026-11-24"
  [/longer than a year/, "rentang lebih dari setahun"],
  [/not in the policy/, "jenis cuti tidak dikenal kebijakan TPP"],
  [/at least (\d+) characters?/, "minimal $1 karakter"],
  [/at most (\d+) characters?/, "maksimal $1 karakter"],
  [/give a time zone/, "waktu harus disertai zona (WIT)"],
  [/in the future/, "waktu di masa depan"],
  [/choose an OPD/, "pilih OPD lebih dulu"],
  [/a date as YYYY-MM-DD/, "format tanggal salah"],
  [/month must be in|day is out of range/, "tanggal itu tidak ada di kalender"],
  [/year out of range/, "tahun harus antara 1900 dan 2099"],
  [/a time as ISO 8601/, "format waktu salah"],
  [/on or after start/, "harus sama dengan atau sesudah tanggal mulai"],
];

const number = (n) => Number(n).toLocaleString("id-ID");

// Pydantic's error types (the API's `errors[].type`) with their limits, in Bahasa Indonesia.
const TYPES = {
  missing: () => "wajib diisi",
  string_too_short: (l) => (l.min_length > 1 ? `minimal ${number(l.min_length)} karakter` : "wajib diisi"),
  string_too_long: (l) => `maksimal ${number(l.max_length)} karakter`,
  too_short: (l) => `minimal ${number(l.min_length)} butir`,
  too_long: (l) => `maksimal ${number(l.max_length)} butir`,
  string_pattern_mismatch: () => "hanya huruf, angka, titik, garis bawah (_) atau tanda hubung (-)",
  greater_than_equal: (l) => `minimal ${number(l.ge)}`,
  greater_than: (l) => `harus lebih dari ${number(l.gt)}`,
  less_than_equal: (l) => `maksimal ${number(l.le)}`,
  less_than: (l) => `harus kurang dari ${number(l.lt)}`,
  int_type: () => "harus bilangan bulat", int_parsing: () => "harus bilangan bulat",
  int_from_float: () => "harus bilangan bulat",
  float_type: () => "harus angka", float_parsing: () => "harus angka", finite_number: () => "harus angka",
  string_type: () => "harus berupa teks", bool_type: () => "harus ya atau tidak",
  literal_error: () => "pilihan tidak dikenal", enum: () => "pilihan tidak dikenal",
  date_type: () => "format tanggal salah", date_parsing: () => "format tanggal salah",
  date_from_datetime_parsing: () => "format tanggal salah", datetime_type: () => "format waktu salah",
  datetime_parsing: () => "format waktu salah", time_parsing: () => "format jam salah",
  extra_forbidden: () => "isian ini tidak dikenal hub",
};

/** One API error sentence (English, for IT staff) in Bahasa Indonesia; a generic hint when unknown. */
export function detailWords(message) {
  const known = DETAILS.find(([re]) => re.test(message || ""));
  return known ? message.match(known[0])[0].replace(known[0], known[1]) : "periksa kembali isian";
}

/** The name of a field as an officer knows it. */
export function fieldName(field) {
  return field ? FIELDS[field.split(".").pop()] || field : null;
}

/** Every field's error of a refused request: [{field, name, text}] in Bahasa Indonesia. */
export function fieldErrors(error = {}) {
  const listed = Array.isArray(error.errors) ? error.errors : null;
  if (!listed) return error.field ? [{ field: error.field, name: fieldName(error.field), text: detailWords(error.message) }] : [];
  return listed.map((e) => {
    const words = TYPES[e.type];
    return { field: e.field, name: fieldName(e.field), text: words ? words(e.limits || {}) : detailWords(e.message) };
  });
}

export class ApiError extends Error {
  constructor(status, message, detail, field, fields) {
    super(message);
    this.status = status; this.detail = detail || ""; this.field = field || null; this.fields = fields || [];
  }
}

/** What an officer reads for an API error (the English detail stays in `detail` for IT staff). */
export function bahasa(status, error = {}) {
  const detail = error.message || "";
  const field = fieldName(error.field);
  switch (status) {
    case 0: return "Tidak dapat menghubungi server hub. Periksa jaringan lalu coba lagi.";
    case 401: return "Sesi Anda berakhir. Silakan masuk lagi.";
    case 403:
      if (/requester/.test(detail)) return "Koreksi harus disetujui oleh pengguna lain, bukan oleh pengajunya.";
      return "Anda tidak berhak melihat atau mengubah data ini.";
    case 404: return "Data tidak ditemukan" + (field ? ` (${field}).` : ".");
    case 409:
      if (/closed/.test(detail)) return "Bulan tersebut sudah ditutup oleh BKPSDM; perubahan tidak dapat disimpan.";
      if (/pending|decided|already/.test(detail) && /correction/.test(detail)) return "Koreksi ini sudah diputuskan.";
      return "Data sudah ada atau bertentangan dengan data lain.";
    case 413: return "Data yang dikirim terlalu besar.";
    case 422: {
      const all = fieldErrors(error);
      if (all.length > 1) return `Isian tidak valid: ${all.length} isian perlu diperbaiki.`;
      const one = all[0];
      if (one) return `Isian tidak valid${one.name ? ` (${one.name})` : ""}: ${one.text}.`;
      return `Isian tidak valid: ${detailWords(detail)}.`;
    }
    case 429: return "Terlalu banyak percobaan. Tunggu sebentar lalu coba lagi.";
    default: return status >= 500 ? "Server hub sedang bermasalah. Coba lagi sebentar lagi."
      : `Permintaan gagal (kode ${status}).`;
  }
}

export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, bahasa(0), String(e));
  }
  if (r.status === 401) {
    forget();
    onExpired();
  }
  if (!r.ok) {
    let error = {};
    try { error = (await r.json()).error || {}; } catch { /* not JSON */ }
    throw new ApiError(r.status, bahasa(r.status, error), error.message, error.field,
      r.status === 422 ? fieldErrors(error) : []);
  }
  if (raw) return r;
  return r.status === 204 ? null : r.json();
}

/** How long a refused login must wait, from the API's Retry-After (seconds) or its message ("in N minutes"). */
export function waitWords(retryAfter, message = "") {
  const seconds = Number(retryAfter);
  let minutes = Number.isFinite(seconds) && retryAfter !== null && retryAfter !== "" ? Math.ceil(seconds / 60) : null;
  if (minutes === null) {
    const m = /in (\d+) minutes?/.exec(message);
    minutes = m ? Number(m[1]) : null;
  }
  const when = minutes === null ? "coba lagi nanti" : `coba lagi dalam ${Math.max(1, minutes)} menit`;
  return `Terlalu banyak percobaan masuk yang gagal: ${when}. Bila lupa kata sandi, minta admin kota mengaturnya ulang.`;
}

export async function login(username, password) {
  let r;
  try {
    r = await fetch("/auth/token", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }) });
  } catch (e) {
    throw new ApiError(0, bahasa(0), String(e));
  }
  if (!r.ok) {
    let error = {};
    try { error = (await r.json()).error || {}; } catch { /* not JSON */ }
    const message = r.status === 401 ? "Nama pengguna atau kata sandi salah."
      : r.status === 422 ? "Isi nama pengguna dan kata sandi."
        : r.status === 429 ? waitWords(r.headers.get("Retry-After"), error.message) : bahasa(r.status, error);
    throw new ApiError(r.status, message, error.message);
  }
  token = (await r.json()).access_token;
  sessionStorage.setItem(KEY, token);
}

/** The token was refused (e.g. by the live stream): forget it and show the login. */
export function expire() {
  forget();
  onExpired();
}

function forget() {
  token = null;
  sessionStorage.removeItem(KEY);
}

export async function logout() {
  // Hubs that can end a token on the server do so; the tab forgets it either way.
  try { await fetch("/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } }); } catch { /* offline */ }
  forget();
}

/** Download an export with the token (a plain link cannot send it). */
export async function download(path, filename) {
  const r = await api(path, { raw: true });
  const blob = await r.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url; a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
