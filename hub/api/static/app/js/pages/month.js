// Bulan ini / rekap: the OPD's month as a grid of codes per employee, TPP per employee, exports, and one
// employee's month in detail (deductions with rule and date, TPP explained).
import { api, download } from "../api.js";
import { clear, h, notice } from "../dom.js";
import { dateLabel, monthLabel, percent, rupiah, shiftMonth } from "../format.js";
import { employeeDetail, notStarted } from "../employee.js";
import { SHORT_NOTE, codeLabel, codeTone, legend, shortCode } from "../legend.js";

const EXPORTERS = ["admin", "payroll", "auditor", "opd"];

export function render(el, ctx) {
  const opd = ctx.opd;
  let month = ctx.params.get("bulan");
  const nip = ctx.params.get("pegawai");
  const status = h("div");
  const head = h("div.page-head");
  const grid = h("div.grid-wrap");
  const caption = h("p.muted.small");
  const detail = h("div", { id: "detail" });
  const search = h("input", { type: "search", placeholder: "Cari nama atau NIP", "aria-label": "Cari pegawai" });
  clear(el, head, status, grid, caption, detail, legend(ctx.config));
  let data = null;

  function nav(delta) { ctx.go("bulan", { bulan: shiftMonth(data.bulan, delta) }); }

  async function load() {
    try {
      data = await api(`/view/month?opd=${encodeURIComponent(opd)}${month ? `&month=${month}` : ""}`);
      month = data.bulan;
      draw();
      if (nip) openDetail(nip);
    } catch (e) {
      clear(status, notice("error", e.message, e.detail));
    }
  }

  async function exportAs(kind) {
    const name = `rekap-tpp-${data.bulan}-${opd}.${kind}`;
    try {
      await download(`/export/tpp.${kind}?month=${data.bulan}&opd=${encodeURIComponent(opd)}`, name);
      clear(status, notice("ok", `Berkas ${name} diunduh.`));
    } catch (e) {
      clear(status, notice("error", e.message, e.detail));
    }
  }

  function draw() {
    const picker = h("input", { type: "month", value: data.bulan, "aria-label": "Pilih bulan",
      on: { change: (e) => e.target.value && ctx.go("bulan", { bulan: e.target.value }) } });
    clear(head, h("h1", { text: `Rekap ${data.nama_bulan} — ${data.opd.nama}` }),
      h("div.controls", {},
        h("button", { type: "button", text: "‹ Sebelumnya", on: { click: () => nav(-1) } }), picker,
        h("button", { type: "button", text: "Berikutnya ›", on: { click: () => nav(1) } }),
        EXPORTERS.includes(ctx.config.pengguna.peran) && !data.belum_dimulai ? [
          h("button.primary", { type: "button", id: "exportXlsx", text: "Unduh XLSX", on: { click: () => exportAs("xlsx") } }),
          h("button", { type: "button", id: "exportCsv", text: "Unduh CSV", on: { click: () => exportAs("csv") } }),
        ] : null, search));
    search.oninput = drawGrid;
    if (data.belum_dimulai) {
      // Nothing has happened yet: no codes, no deductions, no TPP to show (not even a provisional one).
      search.hidden = true;
      clear(status, notStarted(data));
      clear(grid); clear(caption);
      return;
    }
    if (data.sementara) {
      clear(status, h("p.notice.wait", { id: "provisional", text: `SEMENTARA: ${monthLabel(data.bulan)} belum selesai `
        + `(dihitung ${data.dihitung_pada} WIT). Hari yang belum terjadi belum dihitung; kode bertanda * dapat berubah; `
        + "TPP final setelah bulan berakhir." }));
    } else clear(status);
    drawGrid();
  }

  function drawGrid() {
    if (data.belum_dimulai) return;
    const q = search.value.trim().toLowerCase();
    const rows = data.pegawai.filter((p) => !q || p.nama.toLowerCase().includes(q) || p.nip.includes(q));
    const headRow = h("tr", {}, h("th.sticky", { text: "Pegawai" }),
      data.tanggal.map((t) => h("th.day", { title: dateLabel(t.tanggal), dataset: { date: t.tanggal } }, h("span", { text: String(Number(t.tanggal.slice(8))) }),
        h("small", { text: t.hari }))),
      h("th", { text: "TK" }), h("th", { text: "Potongan" }), h("th", { text: "TPP diterima" }));
    const body = rows.map((p) => h("tr", { dataset: { nip: p.nip }, tabIndex: 0, class: p.nip === nip ? "selected" : "",
      on: { click: () => ctx.go("bulan", { bulan: data.bulan, pegawai: p.nip }),
        keydown: (e) => e.key === "Enter" && ctx.go("bulan", { bulan: data.bulan, pegawai: p.nip }) } },
    h("th.sticky", { scope: "row" }, h("span.name", { text: p.nama }), h("small.muted", { text: p.nip })),
    data.tanggal.map((t) => {
      const code = p.hari[t.tanggal];
      const provisional = p.hari_sementara.includes(t.tanggal);
      if (!code) return h("td.cell", { class: t.nanti ? "future" : "off", text: t.nanti ? "" : "–" });
      return h("td.cell", { class: codeTone(code), title: `${dateLabel(t.tanggal)}: ${codeLabel(code)}${provisional ? " (sementara)" : ""}`,
        text: shortCode(code) + (provisional ? "*" : "") });
    }),
    h("td", { text: String(p.hari_tk) }),
    h("td", { text: percent(p.potongan_diterapkan_persen) }),
    h("td.money", { text: rupiah(p.tpp_diterima) + (p.tidak_dibayar ? " (tidak dibayar)" : "") })));
    clear(grid, rows.length ? h("table.month", {}, h("thead", {}, headRow), h("tbody", {}, body))
      : notice("info", "Tidak ada pegawai yang cocok."));
    clear(caption, `Di tabel: ${SHORT_NOTE}. Pilih satu pegawai untuk rincian potongan dan penjelasan TPP.`);
    // A month under way opens on today's column (on a phone only a few days fit).
    const today = grid.querySelector(`th.day[data-date='${data.hari_ini}']`);
    const sticky = grid.querySelector("th.sticky");
    if (today && sticky) grid.scrollLeft = Math.max(0, today.offsetLeft + 2 * today.offsetWidth - grid.clientWidth);
  }

  async function openDetail(which) {
    try {
      const d = await api(`/view/employee/${encodeURIComponent(which)}?month=${data.bulan}`);
      clear(detail, employeeDetail(d));
      detail.scrollIntoView({ block: "start" });
    } catch (e) {
      clear(detail, notice("error", e.message, e.detail));
    }
  }

  load();
  return null;
}
