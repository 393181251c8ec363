// Cuti, surat tugas, koreksi: record leave and duty orders (destination on a map) and request a correction.
// How corrections are approved depends on the hub (a name typed in, or a second user's approval), as told by
// /app/config; closed months are refused by the API and said so here.
import { api } from "../api.js";
import { clear, field, h, notice } from "../dom.js";
import { dateLabel, witDateTime } from "../format.js";
import { makeMap, pointPicker } from "../map.js";

/** A policy's leave type as words (alasan_penting -> alasan penting). */
const leaveWords = (type) => type.replace(/_/g, " ");

const FORMS = [["cuti", "Cuti"], ["tugas", "Surat tugas"], ["koreksi", "Koreksi presensi"]];

export function render(el, ctx) {
  const opd = ctx.opd;
  const which = FORMS.some(([k]) => k === ctx.params.get("form")) ? ctx.params.get("form") : "cuti";
  const flow = ctx.config.koreksi;
  const status = h("div", { id: "formStatus" });
  const formBox = h("div");
  const listBox = h("div");
  clear(el, h("h1", { text: `Cuti, surat tugas, koreksi — ${ctx.opdName}` }),
    h("div.subtabs", { role: "tablist" }, FORMS.map(([k, label]) => h("button", { type: "button", role: "tab",
      class: k === which ? "active" : "", "aria-selected": String(k === which), text: label,
      on: { click: () => ctx.go("pengajuan", { form: k }) } }))),
    status, formBox, listBox);
  let staff = [];
  let map = null;

  const say = (kind, text, title) => clear(status, notice(kind, text, title));
  const nameOf = (nip) => staff.find((e) => e.nip === nip)?.name || nip;

  function staffSelect(selected) {
    return h("select", { name: "nip", required: true },
      h("option", { value: "", text: "— pilih pegawai —" }),
      staff.map((e) => h("option", { value: e.nip, text: `${e.name} (${e.nip})`, selected: e.nip === selected })));
  }

  async function submit(form, path, body, done) {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    clearFieldErrors(form);
    try {
      await api(path, { method: "POST", body });
      say("ok", done);
      form.reset();
      loadList();
    } catch (e) {
      if (e.fields.length > 1) {
        clear(status, h("div.notice.error", { role: "alert", title: e.detail },
          h("strong", { text: e.message }), h("ul", {}, e.fields.map((f) => h("li", { text: `${f.name || "isian"}: ${f.text}` })))));
      } else say("error", e.message, e.detail);
      showFieldErrors(form, e.fields);
    } finally {
      button.disabled = false;
    }
  }

  // The API names its fields; the correction form asks for its time as a day and an hour.
  const INPUT_OF = { at: "time" };

  function clearFieldErrors(form) {
    for (const el of form.querySelectorAll(".field-error")) el.remove();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  /** Each field's error under its own input (every one of them, not only the first). */
  function showFieldErrors(form, fields) {
    for (const f of fields) {
      const name = (f.field || "").split(".").pop();
      const input = form.querySelector(`[name='${INPUT_OF[name] || name}']`);
      if (!input) continue;
      input.setAttribute("aria-invalid", "true");
      const label = input.closest(".field") || input.parentElement;
      label.append(h("small.field-error", { dataset: { field: name }, text: f.text }));
    }
  }

  function leaveForm() {
    const form = h("form.form", { id: "leaveForm" },
      field("Pegawai", staffSelect()),
      field("Jenis cuti", h("select", { name: "type", required: true },
        ctx.config.jenis_cuti.map((t) => h("option", { value: t, text: leaveWords(t) })))),
      h("div.row", {}, field("Mulai", h("input", { type: "date", name: "start", required: true })),
        field("Selesai", h("input", { type: "date", name: "end", required: true }))),
      field("Disetujui oleh", h("input", { name: "approver", maxLength: 100 })),
      field("Nomor surat cuti", h("input", { name: "document", maxLength: 200 })),
      h("button.primary", { type: "submit", text: "Simpan cuti" }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      submit(form, "/leave", { nip: f.get("nip"), type: f.get("type"), start: f.get("start"), end: f.get("end"),
        approver: f.get("approver") || "", document: f.get("document") || "" }, `Cuti ${nameOf(f.get("nip"))} tersimpan.`);
    });
    return form;
  }

  function dutyForm() {
    const lat = h("input", { type: "number", name: "lat", step: "any", min: -90, max: 90, inputMode: "decimal" });
    const lon = h("input", { type: "number", name: "lon", step: "any", min: -180, max: 180, inputMode: "decimal" });
    const mapBox = h("div.map.small-map", { id: "dutyMap", role: "region", "aria-label": "Peta tujuan surat tugas" });
    const form = h("form.form", { id: "dutyForm" },
      field("Pegawai", staffSelect()),
      field("Nomor surat tugas", h("input", { name: "number", required: true, maxLength: 100 })),
      h("div.row", {}, field("Mulai", h("input", { type: "date", name: "start", required: true })),
        field("Selesai", h("input", { type: "date", name: "end", required: true }))),
      field("Tujuan", h("input", { name: "destination", maxLength: 200 })),
      h("p.muted.small", { text: "Ketuk peta untuk menandai tujuan, atau isi lintang dan bujur. Presensi lapangan di "
        + "dalam radius tujuan pada tanggal surat tugas dihitung." }),
      mapBox,
      h("div.row", {}, field("Lintang", lat), field("Bujur", lon),
        field("Radius (m)", h("input", { type: "number", name: "radius_m", value: "200", min: 1, max: 100000 }))),
      h("button.primary", { type: "submit", text: "Simpan surat tugas" }));
    setTimeout(() => {
      map = makeMap(mapBox, ctx.config);
      if (!map) return;
      const set = pointPicker(map, (a, b) => { lat.value = a; lon.value = b; });
      const sync = () => { if (lat.value && lon.value) set(Number(lat.value), Number(lon.value)); };
      lat.addEventListener("change", sync); lon.addEventListener("change", sync);
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      const num = (k) => (f.get(k) === "" || f.get(k) === null ? null : Number(f.get(k)));
      submit(form, "/duty-orders", { nip: f.get("nip"), number: f.get("number"), start: f.get("start"), end: f.get("end"),
        destination: f.get("destination") || "", lat: num("lat"), lon: num("lon"), radius_m: num("radius_m") || 200 },
      `Surat tugas ${f.get("number")} untuk ${nameOf(f.get("nip"))} tersimpan.`);
    });
    return form;
  }

  function correctionForm() {
    const p = ctx.params;
    const form = h("form.form", { id: "correctionForm" },
      flow.persetujuan_kedua ? h("p.notice.info", { text: "Koreksi baru dihitung setelah disetujui oleh pengguna lain "
        + "(bukan pengaju). Bulan yang sudah ditutup BKPSDM tidak dapat dikoreksi." }) : null,
      field("Pegawai", staffSelect(p.get("nip"))),
      h("div.row", {}, field("Tanggal", h("input", { type: "date", name: "day", required: true, value: p.get("tanggal") || "" })),
        field("Jam (WIT)", h("input", { type: "time", name: "time", required: true, value: p.get("jam") || "" }))),
      field("Alasan dan bukti", h("textarea", { name: "reason", required: true, minLength: 5, maxLength: 300, rows: 3,
        placeholder: "mis. terminal mati karena listrik padam; daftar hadir manual ditandatangani kepala bidang" })),
      flow.butuh_nama_penyetuju ? field("Disetujui oleh", h("input", { name: "approved_by", required: true, maxLength: 100 })) : null,
      h("button.primary", { type: "submit", text: flow.persetujuan_kedua ? "Ajukan koreksi" : "Simpan koreksi" }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      const body = { nip: f.get("nip"), at: `${f.get("day")}T${f.get("time")}:00+09:00`, reason: f.get("reason") };
      if (flow.butuh_nama_penyetuju) body.approved_by = f.get("approved_by");
      submit(form, "/corrections", body, flow.persetujuan_kedua
        ? `Koreksi untuk ${nameOf(f.get("nip"))} diajukan; menunggu persetujuan.` : `Koreksi untuk ${nameOf(f.get("nip"))} tersimpan.`);
    });
    return form;
  }

  async function decide(id, approve) {
    try {
      await api(`/corrections/${id}/${approve ? "approve" : "reject"}`, { method: "POST" });
      say("ok", approve ? "Koreksi disetujui." : "Koreksi ditolak.");
      loadList();
    } catch (e) {
      say("error", e.message, e.detail);
    }
  }

  async function loadList() {
    const q = `?opd=${encodeURIComponent(opd)}`;
    try {
      if (which === "cuti") {
        const rows = await api(`/leave${q}`);
        clear(listBox, h("h2", { text: "Cuti tercatat" }), table(["Pegawai", "Jenis", "Mulai", "Selesai", "Disetujui oleh"],
          rows.map((x) => [nameOf(x.nip), leaveWords(x.type), dateLabel(x.start), dateLabel(x.end), x.approver || "–"])));
      } else if (which === "tugas") {
        const rows = await api(`/duty-orders${q}`);
        clear(listBox, h("h2", { text: "Surat tugas tercatat" }), table(["Pegawai", "Nomor", "Tujuan", "Mulai", "Selesai", "Koordinat"],
          rows.map((x) => [nameOf(x.nip), x.number, x.destination || "–", dateLabel(x.start), dateLabel(x.end),
            x.lat !== undefined && x.lat !== null ? `${x.lat}, ${x.lon} (${x.radius_m} m)` : "–"])));
      } else {
        const rows = await api(`/corrections${q}`);
        clear(listBox, h("h2", { text: "Koreksi" }), table(["Pegawai", "Waktu (WIT)", "Alasan", "Status", ""],
          rows.map((x) => [nameOf(x.nip), witDateTime(x.at),
            x.reason, statusText(x),
            flow.persetujuan_kedua && x.status === "pending" ? h("span.actions", {},
              h("button", { type: "button", text: "Setujui", on: { click: () => decide(x.id, true) } }),
              h("button", { type: "button", text: "Tolak", on: { click: () => decide(x.id, false) } })) : ""])));
      }
    } catch (e) {
      clear(listBox, notice("error", e.message, e.detail));
    }
  }

  function statusText(x) {
    if (!x.status) return x.approved_by ? `disetujui ${x.approved_by}` : "tercatat";
    return { pending: "menunggu persetujuan", approved: `disetujui ${x.approved_by || ""}`.trim(),
      rejected: "ditolak" }[x.status] || x.status;
  }

  function table(headers, rows) {
    if (!rows.length) return h("p.muted", { text: "Belum ada." });
    return h("table.list", {}, h("thead", {}, h("tr", {}, headers.map((t) => h("th", { text: t })))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { dataset: { label: headers[i] } }, c))))));
  }

  (async () => {
    try {
      staff = (await api(`/employees?opd=${encodeURIComponent(opd)}&size=500`)).items;
    } catch (e) {
      say("error", e.message, e.detail);
    }
    clear(formBox, which === "cuti" ? leaveForm() : which === "tugas" ? dutyForm() : correctionForm());
    loadList();
  })();
  return () => { if (map) map.remove(); };
}
