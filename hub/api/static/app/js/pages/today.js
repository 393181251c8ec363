// Hari ini: the OPD's board (counts, the list sortable, codes so far) and live check-ins by name.
import { api, expire } from "../api.js";
import { clear, h, notice } from "../dom.js";
import { witTime } from "../format.js";
import { codeBadge, legend } from "../legend.js";
import { follow } from "../live.js";

const COUNTS = [
  ["hadir", "Hadir"], ["terlambat", "Terlambat"], ["belum_hadir", "Belum hadir"], ["cuti", "Cuti"], ["dl", "DL"],
  ["tidak_dikenali", "Tidak dikenali"],
];
const SORTS = {
  nama: ["Nama", (a, b) => a.nama.localeCompare(b.nama, "id")],
  masuk: ["Jam masuk", (a, b) => (a.masuk || "99").localeCompare(b.masuk || "99")],
  pulang: ["Jam pulang", (a, b) => (a.pulang || "99").localeCompare(b.pulang || "99")],
  terlambat: ["Terlambat (menit)", (a, b) => b.terlambat_menit - a.terlambat_menit],
  kode: ["Kode", (a, b) => a.kode.localeCompare(b.kode)],
};
const COLUMNS = [["nama", "Pegawai"], ["masuk", "Masuk"], ["pulang", "Pulang"], ["kode", "Kode"], [null, "Keterangan"],
  [null, "Terakhir terlihat"]];

export function render(el, ctx) {
  const opd = ctx.opd;
  let data = null;
  let sort = ctx.params.get("urut") in SORTS ? ctx.params.get("urut") : "nama";
  let filter = null;
  const heading = h("div.page-head", {}, h("h1", { text: `Hari ini — ${ctx.opdName}` }));
  const status = h("div");
  const ramadan = h("div", { id: "ramadanWarning" });
  const cards = h("div.cards");
  const controls = h("div.controls");
  const table = h("div.board");
  const liveList = h("ol.live", { id: "liveList" });
  const liveState = h("span.live-state", { id: "liveState", text: "Menyambung…" });
  // The live panel comes first on a phone (a few lines), beside the list on a wide screen.
  clear(el, heading, ramadan, status, cards, h("div.board-layout", {},
    h("section.panel.live-panel", {}, h("h2", {}, "Presensi langsung ", liveState), liveList,
      h("p.muted.small.live-empty", { text: "Belum ada presensi baru sejak halaman ini dibuka. Nama dan jam (WIT) "
        + "tiap presensi yang disimpan hub muncul di sini." })),
    h("div.board-main", {}, controls, table)),
  legend(ctx.config));

  const search = h("input", { type: "search", placeholder: "Cari nama atau NIP", "aria-label": "Cari pegawai",
    on: { input: draw } });
  const sortSelect = h("select", { "aria-label": "Urutkan", on: { change: (e) => { sort = e.target.value; draw(); } } },
    Object.entries(SORTS).map(([k, [label]]) => h("option", { value: k, text: `Urutkan: ${label}`, selected: k === sort })));
  clear(controls, search, sortSelect);

  // The coming Ramadan without confirmed dates: say so until an admin confirms them (the windows change).
  async function loadRamadan() {
    try {
      const r = await api("/ramadan");
      clear(ramadan, r.peringatan ? notice("wait", r.peringatan) : null);
    } catch {
      clear(ramadan);
    }
  }

  async function load() {
    try {
      data = await api(`/view/today?opd=${encodeURIComponent(opd)}`);
      clear(status);
      draw();
    } catch (e) {
      clear(status, notice("error", e.message, e.detail));
    }
  }

  function draw() {
    if (!data) return;
    clear(heading, h("h1", { text: `Hari ini — ${data.opd.nama}` }),
      h("p.muted", { text: `${data.tanggal_panjang} · dihitung pukul ${data.dihitung_pada} WIT` }));
    clear(cards, COUNTS.map(([key, label]) => h("button.card", {
      type: "button", class: filter === key ? "active" : "", dataset: { count: key },
      on: { click: () => {
        if (key === "tidak_dikenali") { ctx.go("tinjau", {}); return; }
        filter = filter === key ? null : key; draw();
      } },
    }, h("strong", { text: String(data.jumlah[key]) }), h("span", { text: label }))));
    const q = search.value.trim().toLowerCase();
    const rows = data.pegawai
      .filter((p) => !filter || p.kategori === filter || (filter === "hadir" && p.kategori === "terlambat"))
      .filter((p) => !q || p.nama.toLowerCase().includes(q) || p.nip.includes(q))
      .sort(SORTS[sort][1]);
    const head = h("tr", {}, COLUMNS.map(([key, label]) => h("th", {},
      key ? h("button.sort", { type: "button", text: label + (key === sort ? " ▾" : ""),
        on: { click: () => { sort = key; sortSelect.value = key; draw(); } } }) : label)));
    const body = rows.map((p) => h("tr", { dataset: { nip: p.nip, kategori: p.kategori } },
      h("td.c-main", { dataset: { label: "Pegawai" } }, h("div", {}, h("span.name", { text: p.nama }),
        h("small.muted", { text: p.nip }))),
      h("td.c-t", { dataset: { label: "Masuk" }, text: p.masuk || "–" }),
      h("td.c-t", { dataset: { label: "Pulang" }, text: p.pulang || "–" }),
      h("td.c-code", { dataset: { label: "Kode" } }, codeBadge(p.kode, p.sementara)),
      h("td.c-note", { dataset: { label: "Keterangan" }, text: p.keterangan + (p.tidak_dihitung
        ? ` · ${p.tidak_dihitung} presensi tidak dihitung (lihat Perlu ditinjau)` : "") }),
      h("td.c-t", { dataset: { label: "Terakhir" }, text: p.terakhir_terlihat || "–" })));
    clear(table, rows.length ? h("table.list.compact", {}, h("thead", {}, head), h("tbody", {}, body))
      : notice("info", filter || q ? "Tidak ada pegawai yang cocok." : "Belum ada pegawai di OPD ini."));
  }

  let refreshTimer = null;
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(load, 800);
  }

  let loading = null;
  async function onEvent(ev) {
    if (!data && loading) await loading;  // names come from the board: wait for its first load
    const person = data?.pegawai.find((p) => p.nip === ev.nip);
    const flagged = ev.liveness === false || (ev.tanda && ev.tanda.length > 0);
    const item = h("li", { class: flagged ? "flagged" : "" },
      h("time", { text: witTime(ev.waktu) }), " ",
      h("strong", { text: person ? person.nama : `Pegawai NIP ${ev.nip}` }),
      h("span.muted", { text: ` · ${ev.perangkat}` }),
      flagged ? h("span.code.bad", { text: "perlu ditinjau" }) : null);
    liveList.prepend(item);
    while (liveList.children.length > 30) liveList.lastChild.remove();
    refreshSoon();
  }

  function onState(s) {
    liveState.className = "live-state " + (s.connected ? "on" : "off");
    liveState.textContent = s.connected ? "Tersambung" : s.retryIn
      ? `Terputus — menyambung ulang dalam ${s.retryIn} detik` : "Menyambung…";
  }

  loading = load();
  loadRamadan();
  const stop = follow(`/stream/checkins?opd=${encodeURIComponent(opd)}`,
    { onEvent, onState, onExpired: expire });
  // The codes change as the day's windows open and close even without new events.
  const every = setInterval(load, 60000);
  return () => { stop(); clearInterval(every); clearTimeout(refreshTimer); };
}
