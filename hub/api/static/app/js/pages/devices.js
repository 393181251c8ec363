// Perangkat: the OPD's devices (honest online state, last seen, outbox, gallery, GPS, alerts) and a map of
// its sites, today's duty-order destinations and today's field check-ins.
import { api } from "../api.js";
import { clear, h, notice } from "../dom.js";
import { fit, makeMap, popup } from "../map.js";

// The device's GPS state (hadir.contract Telemetry.gps_state) in plain words.
const GPS = { absent: "Tanpa GPS", no_fix: "Belum dapat posisi", "2d": "GPS 2D (kurang akurat)", "3d": "GPS 3D",
  fixed_site: "Lokasi tetap" };

/** "12 menit lalu", "2 jam lalu", "3 hari lalu" (as the hub's alerts say it). */
function ago(minutes) {
  if (minutes < 60) return `${minutes} menit lalu`;
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)} jam lalu`;
  return `${Math.floor(minutes / (24 * 60))} hari lalu`;
}

export function render(el, ctx) {
  const opd = ctx.opd;
  const alerts = h("div");
  const list = h("div");
  const mapBox = h("div.map", { id: "map", role: "region", "aria-label": "Peta lokasi dan presensi lapangan" });
  const mapNote = h("p.muted.small");
  const coords = h("div");
  clear(el, h("h1", { text: `Perangkat — ${ctx.opdName}` }), alerts, list,
    h("h2", { text: "Peta lokasi dan presensi lapangan hari ini" }), mapNote, mapBox, coords);
  let map = null;

  async function load() {
    let data;
    try {
      data = await api(`/view/devices?opd=${encodeURIComponent(opd)}`);
    } catch (e) {
      clear(alerts, notice("error", e.message, e.detail));
      return;
    }
    const warnings = data.perangkat.flatMap((d) => d.peringatan.map((w) => `${d.perangkat}: ${w}`));
    clear(alerts, warnings.length
      ? h("div.notice.error", { role: "alert", id: "deviceAlerts" }, h("strong", { text: `${warnings.length} peringatan` }),
        h("ul", {}, warnings.map((w) => h("li", { text: w }))))
      : notice("ok", "Semua perangkat terhubung, tanpa peringatan."));
    clear(list, data.perangkat.length ? h("table.list.devices", {},
      h("thead", {}, h("tr", {}, ["Perangkat", "Status", "Terakhir terlihat", "Antrean", "Versi galeri", "GPS",
        "Presensi terakhir"].map((t) => h("th", { text: t })))),
      h("tbody", {}, data.perangkat.map((d) => h("tr", { dataset: { device: d.perangkat } },
        h("td", { dataset: { label: "Perangkat" } }, h("div", {}, h("span.name", { text: d.perangkat }),
          h("small.muted", { text: d.lokasi || "" }))),
        h("td", { dataset: { label: "Status" } }, h(`span.code.${d.online && !d.dicabut ? "ok" : "bad"}`,
          { text: d.dicabut ? "Dicabut" : d.online ? "Daring" : "Luring",
            title: d.dicabut ? "perangkat dicabut: presensinya tidak diterima" : d.online
              ? "terhubung ke hub" : "tidak terhubung ke hub" })),
        h("td", { dataset: { label: "Terakhir terlihat" }, text: d.terakhir_terlihat
          ? `${d.terakhir_terlihat} WIT${d.diam_menit !== null && d.diam_menit >= 1 ? ` (${ago(d.diam_menit)})` : ""}`
          : "belum pernah" }),
        h("td", { dataset: { label: "Antrean" }, text: d.antrean === null || d.antrean === undefined ? "–"
          : d.antrean === 0 ? "kosong" : `${d.antrean} belum terkirim` }),
        h("td", { dataset: { label: "Versi galeri" }, text: d.versi_galeri ?? "–" }),
        h("td", { dataset: { label: "GPS" }, text: GPS[d.gps] || d.gps || "–" }),
        h("td", { dataset: { label: "Presensi terakhir" }, text: d.event_terakhir ? `${d.event_terakhir} WIT` : "–" })))))
      : notice("info", "Belum ada perangkat terdaftar untuk OPD ini."));
    drawMap(data);
  }

  function drawMap(data) {
    const L = window.L;
    mapNote.textContent = ctx.config.peta.ubin ? "Biru: lokasi kantor dan radiusnya; jingga: tujuan surat tugas; "
      + "hijau: presensi lapangan yang dihitung; merah: yang tidak dihitung."
      : "Peta dasar belum disetel oleh TI kota: ditampilkan sebagai koordinat saja. "
      + "Biru: lokasi kantor; jingga: tujuan surat tugas; hijau/merah: presensi lapangan dihitung/tidak.";
    // The setting's name is for IT staff: in the tooltip, not in the sentence officers read.
    mapNote.title = ctx.config.peta.ubin ? "" : "pengaturan hub: map.tiles_url";
    if (!map) map = makeMap(mapBox, ctx.config);
    if (!map) return;
    const points = [];
    for (const s of data.lokasi) {
      L.circle([s.lat, s.lon], { radius: s.radius_m, color: "#1d4ed8" }).bindPopup(popup(s.nama, `radius ${s.radius_m} m`)).addTo(map);
      points.push([s.lat, s.lon]);
    }
    for (const d of data.surat_tugas) {
      L.circle([d.lat, d.lon], { radius: d.radius_m, color: "#b45309", dashArray: "4 4" })
        .bindPopup(popup(`Surat tugas ${d.nomor}`, d.nama, d.tujuan)).addTo(map);
      points.push([d.lat, d.lon]);
    }
    for (const f of data.presensi_lapangan) {
      L.circleMarker([f.lat, f.lon], { radius: 7, color: f.dihitung ? "#15803d" : "#b91c1c", fillOpacity: 0.7 })
        .bindPopup(popup(f.nama || f.nip, `${f.waktu} WIT · ${f.perangkat}`, f.dihitung ? "dihitung" : `tidak dihitung: ${f.alasan || "alasan tidak tercatat"}`))
        .addTo(map);
      points.push([f.lat, f.lon]);
    }
    fit(map, points);
    clear(coords, data.presensi_lapangan.length ? h("table.list.coords", {},
      h("thead", {}, h("tr", {}, ["Jam (WIT)", "Pegawai", "Lintang", "Bujur", "Dihitung"].map((t) => h("th", { text: t })))),
      h("tbody", {}, data.presensi_lapangan.map((f) => h("tr", {},
        h("td", { dataset: { label: "Jam (WIT)" }, text: f.waktu }),
        h("td", { dataset: { label: "Pegawai" }, text: f.nama || f.nip }),
        h("td", { dataset: { label: "Lintang" }, text: f.lat.toFixed(6) }),
        h("td", { dataset: { label: "Bujur" }, text: f.lon.toFixed(6) }),
        h("td", { dataset: { label: "Dihitung" }, text: f.dihitung ? "ya" : `tidak: ${f.alasan || "alasan tidak tercatat"}` })))))
      : h("p.muted", { text: "Belum ada presensi lapangan hari ini." }));
  }

  load();
  return () => { if (map) map.remove(); };
}
