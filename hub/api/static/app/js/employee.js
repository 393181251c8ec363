// One employee's month: a calendar of codes, the days with times, the deductions with their rule, the TPP.
import { h } from "./dom.js";
import { dateLabel, percent, rupiah } from "./format.js";
import { SHORT_NOTE, codeBadge, codeTone, shortCode } from "./legend.js";

const WEEK = ["Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"];

export function calendar(data) {
  const codes = Object.fromEntries(data.hari.map((d) => [d.tanggal, d]));
  const first = data.tanggal[0].tanggal;
  const [y, m] = first.split("-").map(Number);
  const offset = (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7;  // Monday first
  const cells = [...WEEK.map((d) => h("div.cal-head", { text: d }))];
  for (let i = 0; i < offset; i++) cells.push(h("div.cal-empty"));
  for (const t of data.tanggal) {
    const day = codes[t.tanggal];
    const n = Number(t.tanggal.slice(8));
    cells.push(h("div.cal-day", { class: day ? "" : t.nanti ? "future" : "off", dataset: { date: t.tanggal },
      title: day ? `${dateLabel(t.tanggal)}: ${day.keterangan}` : t.nanti ? "belum terjadi" : "bukan hari kerja" },
    h("span.cal-n", { text: String(n) }), day ? h(`span.code.${codeTone(day.kode)}`, { text: shortCode(day.kode)
      + (day.sementara ? "*" : "") }) : h("span.muted", { text: t.nanti ? "" : "–" })));
  }
  return h("div", {}, h("div.calendar", { role: "grid", "aria-label": `Kalender ${data.nama_bulan}` }, cells),
    h("p.muted.small", { text: `Di kalender: ${SHORT_NOTE}.` }));
}

/** A month after today (WIT): said plainly, with nothing that looks like a result. */
export function notStarted(data) {
  return h("div.notice.info", { id: "notStarted", role: "status" }, h("strong", { text: "Bulan ini belum dimulai" }),
    h("p", { text: `${data.nama_bulan} dimulai ${dateLabel(data.tanggal[0].tanggal)}. Belum ada kode presensi, `
      + "potongan, maupun TPP untuk bulan ini." }));
}

export function employeeDetail(data, { title } = {}) {
  if (data.belum_dimulai) {
    return h("section.employee", { dataset: { nip: data.nip } },
      h("h2", { text: title || `${data.nama} — ${data.nama_bulan}` }),
      h("p.muted", { text: `NIP ${data.nip} · ${data.opd.nama}` }), notStarted(data));
  }
  const summary = h("div.tpp", {},
    h("div", {}, h("span.muted", { text: "TPP diterima" + (data.sementara ? " (sementara)" : "") }),
      h("strong.big", { text: rupiah(data.tpp_diterima) })),
    h("div", {}, h("span.muted", { text: "TPP dasar" }), h("strong", { text: rupiah(data.tpp_dasar) })),
    h("div", {}, h("span.muted", { text: "Potongan" }),
      h("strong", { text: `${percent(data.potongan_persen)} (diterapkan ${percent(data.potongan_diterapkan_persen)})` })),
    h("div", {}, h("span.muted", { text: "Hari TK" }), h("strong", { text: String(data.hari_tk) })));
  const days = h("table.list.compact.days", {},
    h("thead", {}, h("tr", {}, ["Tanggal", "Kode", "Masuk", "Pulang", "Keterangan"].map((t) => h("th", { text: t })))),
    h("tbody", {}, data.hari.map((d) => h("tr", { dataset: { date: d.tanggal } },
      h("td.c-main", { dataset: { label: "Tanggal" }, text: dateLabel(d.tanggal) }),
      h("td.c-code", { dataset: { label: "Kode" } }, codeBadge(d.kode, d.sementara)),
      h("td.c-t", { dataset: { label: "Masuk" }, text: d.masuk || "–" }),
      h("td.c-t", { dataset: { label: "Pulang" }, text: d.pulang || "–" }),
      h("td.c-note", { dataset: { label: "Keterangan" }, text: d.keterangan })))));
  const deductions = data.potongan.length
    ? h("table.list.deductions", {},
      h("thead", {}, h("tr", {}, ["Tanggal", "Kode", "Potongan", "Aturan"].map((t) => h("th", { text: t })))),
      h("tbody", {}, data.potongan.map((x) => h("tr", {},
        h("td", { dataset: { label: "Tanggal" }, text: dateLabel(x.tanggal) }),
        h("td", { dataset: { label: "Kode" } }, codeBadge(x.kode)),
        h("td", { dataset: { label: "Potongan" }, text: percent(x.persen) }),
        h("td", { dataset: { label: "Aturan" }, text: x.aturan })))))
    : h("p.muted", { text: "Tidak ada potongan." });
  return h("section.employee", { dataset: { nip: data.nip } },
    h("h2", { text: title || `${data.nama} — ${data.nama_bulan}` }),
    h("p.muted", { text: `NIP ${data.nip} · ${data.opd.nama}` }),
    data.sementara ? h("p.notice.wait", { text: `SEMENTARA per ${data.dihitung_pada} WIT: bulan belum selesai. `
      + "Hari yang belum terjadi belum dihitung; kode bertanda * dapat berubah." }) : null,
    summary,
    data.tidak_dibayar ? h("p.notice.error", { text: `TPP tidak dibayarkan: ${data.alasan}` }) : null,
    calendar(data),
    h("h3", { text: "Hari kerja" }), days,
    h("h3", { text: "Potongan" }), deductions,
    h("details.explain", { open: true }, h("summary", { text: "Penjelasan perhitungan TPP" }),
      h("ol", {}, data.penjelasan.map((line) => h("li", { text: line })))));
}
