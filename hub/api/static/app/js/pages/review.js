// Perlu ditinjau: what the hub did not count on a day, and why, with a way to raise a correction.
import { api } from "../api.js";
import { clear, h, notice } from "../dom.js";

const KINDS = { presensi: ["Presensi tidak dihitung", "warn"], tidak_dikenali: ["Wajah tidak dikenali", "bad"],
  ditolak: ["Ditolak hub", "bad"], hilang: ["Data perangkat hilang", "bad"] };

export function render(el, ctx) {
  const opd = ctx.opd;
  const day = ctx.params.get("tanggal");
  const head = h("div.page-head");
  const list = h("div");
  clear(el, head, list);
  const canCorrect = ["admin", "opd"].includes(ctx.config.pengguna.peran);

  async function load() {
    try {
      const data = await api(`/review?opd=${encodeURIComponent(opd)}${day ? `&date=${day}` : ""}`);
      draw(data);
    } catch (e) {
      clear(list, notice("error", e.message, e.detail));
    }
  }

  function draw(data) {
    clear(head, h("h1", { text: `Perlu ditinjau — ${ctx.opdName}` }),
      h("div.controls", {}, h("label", {}, "Tanggal ",
        h("input", { type: "date", value: data.tanggal, "aria-label": "Tanggal",
          on: { change: (e) => e.target.value && ctx.go("tinjau", { tanggal: e.target.value }) } }))),
      h("p.muted", { text: `${data.tanggal_panjang}: presensi yang tidak dihitung hub dan alasannya. Bila seorang `
        + "pegawai sebenarnya hadir, ajukan koreksi agar tidak tercatat TK." }));
    if (!data.butir.length) {
      clear(list, notice("ok", "Tidak ada yang perlu ditinjau untuk tanggal ini."));
      return;
    }
    clear(list, h("table.list.review", {},
      h("thead", {}, h("tr", {}, ["Jam (WIT)", "Jenis", "Pegawai", "Perangkat", "Alasan", ""].map((t) => h("th", { text: t })))),
      h("tbody", {}, data.butir.map((b) => h("tr", { dataset: { jenis: b.jenis } },
        // A punch after midnight can belong to the previous day's check-out window: say its date then.
        h("td", { dataset: { label: "Jam (WIT)" }, text: b.hari && b.hari !== data.tanggal
          ? `${b.hari.split("-").reverse().join("-")} ${b.waktu}` : b.waktu }),
        h("td", { dataset: { label: "Jenis" } }, h(`span.code.${KINDS[b.jenis]?.[1] || "warn"}`,
          { text: KINDS[b.jenis]?.[0] || b.jenis })),
        h("td", { dataset: { label: "Pegawai" } }, b.nama ? h("div", {}, h("span.name", { text: b.nama }), h("small.muted", { text: b.nip }))
          : h("span.muted", { text: "tidak diketahui" })),
        h("td", { dataset: { label: "Perangkat" }, text: b.perangkat || "–" }),
        h("td", { dataset: { label: "Alasan" }, text: b.alasan, title: b.detail || undefined }),
        h("td", {}, canCorrect && b.nip ? h("button", { type: "button", text: "Ajukan koreksi",
          on: { click: () => ctx.go("pengajuan", { form: "koreksi", nip: b.nip, tanggal: b.hari || data.tanggal,
            jam: b.waktu.slice(0, 5) }) } }) : null))))));
  }

  load();
  return null;
}
