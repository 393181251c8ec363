// The hub's own API (same origin) with the bearer token of this browser tab; errors in Bahasa Indonesia.

const KEY = "hadir_token";
let token = sessionStorage.getItem(KEY);
let onExpired = () => {};

export function loggedIn() { return Boolean(token); }
export function bearer() { return token; }
export function whenExpired(fn) { onExpired = fn; }

const FIELDS = {
  nip: "pegawai (NIP)", start: "tanggal mulai", end: "tanggal selesai", type: "jenis cuti",
  number: "nomor surat tugas", destination: "tujuan", lat: "lintang", lon: "bujur", radius_m: "radius",
  at: "waktu presensi", reason: "alasan", approved_by: "disetujui oleh", month: "bulan", opd: "OPD",
  date: "tanggal", username: "nama pengguna", password: "kata sandi", approver: "penyetuju",
  document: "nomor dokumen", note: "catatan",
};

const DETAILS = [
  [/is before start/, "sebelum tanggal mulai"],  // on `end`: "2026-11-23 is before start 2026-11-24"
  [/longer than a year/, "rentang lebih dari setahun"],
  [/not in the policy/, "jenis cuti tidak dikenal kebijakan TPP"],
  [/at least (\d+) characters?/, "minimal $1 karakter"],
  [/give a time zone/, "waktu harus disertai zona (WIT)"],
  [/in the future/, "waktu di masa depan"],
  [/choose an OPD/, "pilih OPD lebih dulu"],
];

export class ApiError extends Error {
  constructor(status, message, detail, field) {
    super(message);
    this.status = status; this.detail = detail || ""; this.field = field || null;
  }
}

/** What an officer reads for an API error (the English detail stays in `detail` for IT staff). */
export function bahasa(status, error = {}) {
  const detail = error.message || "";
  const field = error.field ? FIELDS[error.field.split(".").pop()] || error.field : null;
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
      const known = DETAILS.find(([re]) => re.test(detail));
      const what = known ? detail.match(known[0])[0].replace(known[0], known[1]) : "periksa kembali isian";
      return `Isian tidak valid${field ? ` (${field})` : ""}: ${what}.`;
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
    throw new ApiError(r.status, bahasa(r.status, error), error.message, error.field);
  }
  if (raw) return r;
  return r.status === 204 ? null : r.json();
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
      : r.status === 422 ? "Isi nama pengguna dan kata sandi." : bahasa(r.status, error);
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
