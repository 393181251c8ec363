// The web app: login, the menu each role sees, the OPD picker and a page per menu entry (#/name?query).
import { api, loggedIn, login, logout, whenExpired } from "./api.js";
import { $, clear, h, notice } from "./dom.js";
import * as devices from "./pages/devices.js";
import * as me from "./pages/me.js";
import * as month from "./pages/month.js";
import * as requests from "./pages/requests.js";
import * as review from "./pages/review.js";
import * as today from "./pages/today.js";

const OFFICERS = ["admin", "opd", "payroll", "auditor"];
const PAGES = [
  { name: "hari-ini", title: "Hari ini", roles: OFFICERS, module: today },
  { name: "bulan", title: "Bulan ini / rekap", roles: OFFICERS, module: month },
  { name: "tinjau", title: "Perlu ditinjau", roles: OFFICERS, module: review },
  { name: "pengajuan", title: "Cuti, surat tugas, koreksi", roles: ["admin", "opd"], module: requests },
  { name: "perangkat", title: "Perangkat", roles: OFFICERS, module: devices },
  { name: "saya", title: "Kehadiran saya", roles: ["employee"], module: me },
];
const ROLE_NAMES = { admin: "Admin kota", opd: "OPD", payroll: "BKPSDM", auditor: "Inspektorat", employee: "Pegawai" };

let config = null;
let cleanup = null;

function pagesFor(role) { return PAGES.filter((p) => p.roles.includes(role)); }

function route() {
  const [name, query] = location.hash.replace(/^#\/?/, "").split("?");
  return { name, params: new URLSearchParams(query || "") };
}

export function go(name, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const target = `#/${name}${q.toString() ? "?" + q : ""}`;
  if (location.hash === target) show(); else location.hash = target;
}

function currentOpd() {
  if (!config) return null;
  if (config.pengguna.peran === "opd") return config.pengguna.opd;
  const saved = sessionStorage.getItem("hadir_opd");
  return config.opd.some((o) => o.kode === saved) ? saved : config.opd[0]?.kode || null;
}

function opdName(code) { return config.opd.find((o) => o.kode === code)?.nama || code; }

function showLogin(message) {
  config = null;
  if (cleanup) { cleanup(); cleanup = null; }
  $("top").hidden = true; $("tabs").hidden = true;
  clear($("page"));
  $("loginView").hidden = false;
  $("loginError").textContent = message || "";
  $("user").focus();
}

async function boot() {
  try {
    config = await api("/app/config");
  } catch (e) {
    if (e.status !== 401) showLogin(e.message);
    return;
  }
  $("loginView").hidden = true;
  $("top").hidden = false; $("tabs").hidden = false;
  const u = config.pengguna;
  $("who").textContent = `${u.nama || u.nama_pengguna} · ${ROLE_NAMES[u.peran] || u.peran}`
    + (u.peran === "opd" ? ` ${u.opd}` : "");
  const pick = $("opdSelect");
  clear(pick, config.opd.map((o) => h("option", { value: o.kode, text: `${o.nama} (${o.kode})` })));
  $("opdPick").hidden = !(u.peran !== "opd" && u.peran !== "employee" && config.opd.length > 0);
  pick.value = currentOpd() || "";
  clear($("tabs"), pagesFor(u.peran).map((p) => h("a", { href: `#/${p.name}`, dataset: { page: p.name },
    text: p.title })));
  const first = pagesFor(u.peran)[0].name;
  if (!pagesFor(u.peran).some((p) => p.name === route().name)) history.replaceState(null, "", `#/${first}`);
  show();
}

function show() {
  if (!config) return;
  const { name, params } = route();
  const page = pagesFor(config.pengguna.peran).find((p) => p.name === name);
  if (cleanup) { cleanup(); cleanup = null; }
  for (const a of $("tabs").children) a.classList.toggle("active", a.dataset.page === name);
  const el = clear($("page"));
  if (!page) {
    el.append(notice("error", "Halaman tidak ditemukan atau bukan untuk peran Anda."));
    return;
  }
  document.title = `${page.title} — Hadir`;
  const opd = currentOpd();
  if (page.name !== "saya" && !opd) {
    el.append(notice("info", "Belum ada OPD yang dapat Anda lihat."));
    return;
  }
  cleanup = page.module.render(el, { config, opd, opdName: opdName(opd), params, go }) || null;
}

function start() {
  whenExpired(() => showLogin("Sesi Anda berakhir. Silakan masuk lagi."));
  $("loginForm").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("loginError").textContent = "";
    const button = ev.submitter || $("loginForm").querySelector("button");
    button.disabled = true;
    try {
      await login($("user").value.trim(), $("pass").value);
      $("pass").value = "";
      await boot();
    } catch (e) {
      $("loginError").textContent = e.message;
      $("loginError").title = e.detail || "";
    } finally {
      button.disabled = false;
    }
  });
  $("logout").addEventListener("click", async () => { await logout(); history.replaceState(null, "", "#/"); showLogin(); });
  $("opdSelect").addEventListener("change", (ev) => { sessionStorage.setItem("hadir_opd", ev.target.value); show(); });
  window.addEventListener("hashchange", show);
  if (loggedIn()) boot(); else showLogin();
}

start();
